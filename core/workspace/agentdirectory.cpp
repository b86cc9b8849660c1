#include "agentdirectory.h"

#include "store/runstore.h"

namespace Lockstep::Workspace
{
    StoreAgentDirectory::StoreAgentDirectory(Store::RunStore &store)
        : m_store(store)
    {
    }

    Result<std::optional<AgentAddress>, DirectoryError> StoreAgentDirectory::lookupCurrentAgent(const QString &workspaceId)
    {
        auto state = m_store.workspaceState(workspaceId);
        if (!state)
            return unexpected(DirectoryError{state.error().message});
        // Never registered, or stopped (the latest build has no agent).
        if (!state.value() || state.value()->agentId.isEmpty())
            return std::optional<AgentAddress>{};
        const Store::WorkspaceAgent &agent = *state.value();
        AgentAddress address{.agentId = agent.agentId, .host = QHostAddress(agent.host), .port = 0};
        if (address.host.isNull() || (agent.port <= 0) || (agent.port > 65535))
            return unexpected(DirectoryError{QStringLiteral("the store holds an unusable address for agent %1 of workspace %2")
                                                 .arg(agent.agentId, workspaceId)});
        address.port = static_cast<std::uint16_t>(agent.port);
        return std::optional<AgentAddress>(address);
    }
} // namespace Lockstep::Workspace
