#pragma once

#include <optional>

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

    // The directory the gateway keeps in its run store (table workspace_agents,
    // written by agent registration and by stopping a workspace).
    class StoreAgentDirectory final : public AgentDirectory
    {
    public:
        // `store` must outlive the directory and be used on the same thread.
        explicit StoreAgentDirectory(Store::RunStore &store);

        Result<std::optional<AgentAddress>, DirectoryError> lookupCurrentAgent(const QString &workspaceId) override;

    private:
        Store::RunStore &m_store;
    };
} // namespace Lockstep::Workspace
