#pragma once

#include <chrono>
#include <functional>
#include <optional>

#include <QDateTime>

#include <QString>

#include "agent/agentaddress.h"
#include "common/result.h"
#include "store/workspacestore.h"

class QObject;

namespace Lockstep::Store
{
    class StoreWorker;
}

namespace Lockstep::Workspace
{
    struct DirectoryError
    {
        QString message;
    };

    // Which agent a workspace's latest build runs. The dialer asks it only when
    // a dial is slow or failed (lazy validation), never on the happy path.
    class AgentDirectory
    {
    public:
        // The agent of the workspace's latest build; nullopt: no running agent
        // (the workspace is stopped, or was never started). An error proves
        // nothing about the agent (the store may be down).
        using Lookup = Result<std::optional<AgentAddress>, DirectoryError>;
        using LookupDone = std::function<void(const Lookup &lookup)>;

        virtual ~AgentDirectory() = default;

        // Answers through `done`, later, on the caller's thread, while `context` exists.
        virtual void lookupCurrentAgent(const QString &workspaceId, QObject *context, LookupDone done) = 0;
    };

    // Whether a registration last renewed at `updatedAt` (UTC) has expired
    // at `now`: older than `expiry` (two missed renewals and a margin).
    bool registrationExpired(const QDateTime &updatedAt, std::chrono::milliseconds expiry, const QDateTime &now);

    // The directory the gateway keeps in its run store (table workspace_agents,
    // written by agent registration and by stopping a workspace). A
    // registration not renewed within `expiry` (updated_at) has expired: the
    // agent crashed or hangs (a SIGKILLed agent never deregisters), and the
    // workspace counts as having no running agent, so a dial to it fails at
    // once instead of waiting for the dial timeout.
    class StoreAgentDirectory final : public AgentDirectory
    {
    public:
        // `store` must outlive the directory.
        explicit StoreAgentDirectory(Store::StoreWorker &store,
                                     std::chrono::milliseconds expiry = std::chrono::milliseconds(65000));

        void lookupCurrentAgent(const QString &workspaceId, QObject *context, LookupDone done) override;

    private:
        static Lookup currentAgent(const QString &workspaceId,
                                   const Store::StoreResult<std::optional<Store::WorkspaceAgent>> &state,
                                   std::chrono::milliseconds expiry);

        Store::StoreWorker &m_store;
        std::chrono::milliseconds m_expiry;
    };
}  // namespace Lockstep::Workspace
