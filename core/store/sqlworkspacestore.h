#pragma once

#include "store/sqldatabase.h"
#include "store/workspacestore.h"

namespace Lockstep::Store
{
    // WorkspaceStore on the run store's SqlDatabase: table workspace_agents
    // and the columns runs.workspace_id, runs.workspace_agent_id.
    class SqlWorkspaceStore final : public WorkspaceStore
    {
    public:
        // `db` must outlive the store (SqlRunStore owns both).
        explicit SqlWorkspaceStore(SqlDatabase &db);

        StoreResult<WorkspaceAgent> registerWorkspaceAgent(const QString &workspaceId, const QString &agentId,
                                                           const QString &host, int port,
                                                           const QByteArray &secret = {}) override;
        StoreResult<StopWorkspaceResult> stopWorkspace(const QString &workspaceId,
                                                       const std::optional<QString> &agentId) override;
        StoreResult<std::optional<WorkspaceAgent>> workspaceState(const QString &workspaceId) override;
        StoreResult<std::optional<RunWorkspace>> runWorkspace(const QString &workflowId) override;
        StoreResult<bool> setRunWorkspace(const QString &workflowId, const RunWorkspace &binding) override;

    private:
        SqlDatabase &m_db;
    };
}  // namespace Lockstep::Store
