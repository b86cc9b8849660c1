#pragma once

#include <optional>

#include <QByteArray>
#include <QDateTime>
#include <QString>

#include "store/runstore.h"

namespace Lockstep::Store
{
    // A workspace's latest build as the gateway knows it (table
    // workspace_agents, written by agent registration and by stopping the
    // workspace). agentId empty: the latest build has no running agent.
    struct WorkspaceAgent
    {
        QString workspaceId;
        qint64 build = 0;  // grows with every new agent and every stop
        QString agentId;
        QString host;  // IP address the agent listens on
        int port = 0;
        QDateTime updatedAt;  // UTC
        QByteArray secret;    // the agent's secret (empty: none registered)
    };

    // The workspace binding a run remembers (runs.workspace_id,
    // runs.workspace_agent_id); agentId empty: no agent used yet.
    struct RunWorkspace
    {
        QString workspaceId;
        QString agentId;
    };

    struct StopWorkspaceResult
    {
        bool stopped = false;                     // false: already stopped, unknown, or another agent is current
        std::optional<WorkspaceAgent> workspace;  // the row after the call (nullopt: never registered)
    };

    // The workspaces' part of the store (SPEC fix 4): which agent each
    // workspace's latest build runs, and the workspace binding of each run.
    // It lives in the run store's database and is reached through
    // RunStore::workspaces(): same connection, same thread.
    class WorkspaceStore
    {
    public:
        virtual ~WorkspaceStore() = default;

        // The workspace's latest build runs `agentId` at host:port. A new agent
        // ID (or a registration after a stop) starts a new build; the same
        // agent re-registering only refreshes the address and updated_at.
        // `secret`: the agent's own credential, presented when dialing it.
        virtual StoreResult<WorkspaceAgent> registerWorkspaceAgent(const QString &workspaceId, const QString &agentId,
                                                                   const QString &host, int port,
                                                                   const QByteArray &secret = {}) = 0;
        // Stops the workspace: its latest build has no agent (a new build
        // without one). With `agentId`, only while that agent is the current one.
        virtual StoreResult<StopWorkspaceResult> stopWorkspace(const QString &workspaceId,
                                                               const std::optional<QString> &agentId) = 0;
        // The workspace's row; nullopt: it never registered an agent.
        virtual StoreResult<std::optional<WorkspaceAgent>> workspaceState(const QString &workspaceId) = 0;
        // The run's workspace binding; nullopt: none stored (or no such run).
        virtual StoreResult<std::optional<RunWorkspace>> runWorkspace(const QString &workflowId) = 0;
        // Remembers the run's workspace binding. Not fenced: it is a hint for
        // the next turn (the dial validates it), not run state. false: no such run.
        virtual StoreResult<bool> setRunWorkspace(const QString &workflowId, const RunWorkspace &binding) = 0;
    };
}  // namespace Lockstep::Store
