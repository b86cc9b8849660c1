#include "agentdirectory.h"

#include "agent/workspacelog.h"
#include "store/runstore.h"
#include "store/storeworker.h"
#include "store/workspacestore.h"

namespace Lockstep::Workspace
{
    bool registrationExpired(const QDateTime &updatedAt, const std::chrono::milliseconds expiry, const QDateTime &now)
    {
        return updatedAt.isValid() && (updatedAt.msecsTo(now) > expiry.count());
    }

    StoreAgentDirectory::StoreAgentDirectory(Store::StoreWorker &store, const std::chrono::milliseconds expiry)
        : m_store(store)
        , m_expiry(expiry)
    {}

    void StoreAgentDirectory::lookupCurrentAgent(const QString &workspaceId, QObject *context, LookupDone done)
    {
        m_store.call(
            context, [workspaceId](Store::RunStore &store) { return store.workspaces().workspaceState(workspaceId); },
            [workspaceId, expiry = m_expiry,
             done = std::move(done)](const Store::StoreResult<std::optional<Store::WorkspaceAgent>> &state) {
                done(currentAgent(workspaceId, state, expiry));
            });
    }

    AgentDirectory::Lookup
    StoreAgentDirectory::currentAgent(const QString &workspaceId,
                                      const Store::StoreResult<std::optional<Store::WorkspaceAgent>> &state,
                                      const std::chrono::milliseconds expiry)
    {
        if (!state)
            return unexpected(DirectoryError{state.error().message});
        // Never registered, or stopped (the latest build has no agent).
        if (!state.value() || state.value()->agentId.isEmpty())
            return std::optional<AgentAddress>{};
        const Store::WorkspaceAgent &agent = *state.value();
        if (registrationExpired(agent.updatedAt, expiry, QDateTime::currentDateTimeUtc()))
        {
            qCInfo(lcWorkspace).noquote()
                << "the registration of agent" << agent.agentId << "of workspace" << workspaceId
                << "has expired (last renewed" << agent.updatedAt.toString(Qt::ISODateWithMs) << ')';
            return std::optional<AgentAddress>{};
        }
        AgentAddress address{
            .agentId = agent.agentId, .host = QHostAddress(agent.host), .port = 0, .secret = agent.secret};
        if (address.host.isNull() || (agent.port <= 0) || (agent.port > 65535))
            return unexpected(
                DirectoryError{QStringLiteral("the store holds an unusable address for agent %1 of workspace %2")
                                   .arg(agent.agentId, workspaceId)});
        address.port = static_cast<std::uint16_t>(agent.port);
        return std::optional<AgentAddress>(address);
    }
}  // namespace Lockstep::Workspace
