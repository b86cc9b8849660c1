#pragma once

#include <chrono>
#include <optional>

#include <QDateTime>

#include <QString>

#include "common/result.h"
#include "workspace/agentaddress.h"

namespace Lockstep::Store
{
    class RunStore;
}

namespace Lockstep::Workspace
{
    struct DirectoryError
    {
        QString message;
    };

    // Which agent a workspace's latest build runs. The dialer asks it only when
    // a dial is slow or failed (lazy validation), never on the happy path.
    // Synchronous and thread-affine, like the run store behind it.
    class AgentDirectory
    {
    public:
        virtual ~AgentDirectory() = default;

        // The agent of the workspace's latest build; nullopt: no running agent
        // (the workspace is stopped, or was never started). An error proves
        // nothing about the agent (the store may be down).
        virtual Result<std::optional<AgentAddress>, DirectoryError> lookupCurrentAgent(const QString &workspaceId) = 0;
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
        // `store` must outlive the directory and be used on the same thread.
        explicit StoreAgentDirectory(Store::RunStore &store, std::chrono::milliseconds expiry = std::chrono::milliseconds(65000));

        Result<std::optional<AgentAddress>, DirectoryError> lookupCurrentAgent(const QString &workspaceId) override;

    private:
        Store::RunStore &m_store;
        std::chrono::milliseconds m_expiry;
    };
} // namespace Lockstep::Workspace
