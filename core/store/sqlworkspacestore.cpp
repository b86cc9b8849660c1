#include "sqlworkspacestore.h"

namespace Lockstep::Store
{
    namespace
    {
        const QString WorkspaceColumns =
            QStringLiteral("workspace_id, build, agent_id, host, port, updated_at, agent_secret");

        // A row of WorkspaceColumns.
        WorkspaceAgent workspaceFrom(const QSqlRecord &record)
        {
            return WorkspaceAgent{
                .workspaceId = record.value(0).toString(),
                .build = record.value(1).toLongLong(),
                .agentId = record.value(2).isNull() ? QString() : record.value(2).toString(),
                .host = record.value(3).toString(),
                .port = record.value(4).toInt(),
                .updatedAt = fromEpochMs(record.value(5)),
                .secret = record.value(6).toString().toUtf8(),
            };
        }
    }  // namespace

    SqlWorkspaceStore::SqlWorkspaceStore(SqlDatabase &db)
        : m_db(db)
    {}

    StoreResult<WorkspaceAgent> SqlWorkspaceStore::registerWorkspaceAgent(const QString &workspaceId,
                                                                          const QString &agentId, const QString &host,
                                                                          const int port, const QByteArray &secret)
    {
        if (const auto bad = checkKey(workspaceId, QStringLiteral("workspace ID")))
            return unexpected(*bad);
        if (const auto bad = checkKey(agentId, QStringLiteral("agent ID")))
            return unexpected(*bad);
        if ((port < 1) || (port > 65535))
            return unexpected(StoreError{QStringLiteral("the agent's port %1 is out of range").arg(port)});
        if (const auto connected = m_db.ensureConnected(); !connected)
            return unexpected(connected.error());

        const QString what = QStringLiteral("registering agent \"%1\" of workspace \"%2\"").arg(agentId, workspaceId);
        SqlDatabase::WriteScope scope(m_db, false);
        if (const auto begun = scope.begin(what); !begun)
            return unexpected(begun.error());
        // One statement: a new agent (or one after a stop, agent_id NULL) is a
        // new build; the same agent again only refreshes its row.
        const auto rows = m_db.exec(
            QStringLiteral(
                "INSERT INTO workspace_agents (workspace_id, build, agent_id, host, port, updated_at, agent_secret)"
                " VALUES (:workspace_id, 1, :agent_id, :host, :port, :now, :secret)"
                " ON CONFLICT (workspace_id) DO UPDATE SET"
                " build = CASE WHEN workspace_agents.agent_id = excluded.agent_id"
                "  THEN workspace_agents.build ELSE workspace_agents.build + 1 END,"
                " agent_id = excluded.agent_id, host = excluded.host, port = excluded.port,"
                " updated_at = excluded.updated_at, agent_secret = excluded.agent_secret RETURNING ") +
                WorkspaceColumns,
            {{QStringLiteral("workspace_id"), workspaceId},
             {QStringLiteral("agent_id"), agentId},
             {QStringLiteral("host"), sqlText(host)},
             {QStringLiteral("port"), port},
             {QStringLiteral("now"), m_db.now()},
             {QStringLiteral("secret"), sqlText(QString::fromUtf8(secret))}},
            what);
        if (!rows)
            return unexpected(rows.error());
        if (rows->isEmpty())
            return unexpected(m_db.plainError(QStringLiteral("%1 failed: no row came back").arg(what)));
        const WorkspaceAgent written = workspaceFrom(rows->first());
        if (const auto committed = scope.commit(what); !committed)
            return unexpected(committed.error());
        return written;
    }

    StoreResult<StopWorkspaceResult> SqlWorkspaceStore::stopWorkspace(const QString &workspaceId,
                                                                      const std::optional<QString> &agentId)
    {
        if (const auto bad = checkKey(workspaceId, QStringLiteral("workspace ID")))
            return unexpected(*bad);
        if (agentId)
        {
            if (const auto bad = checkKey(*agentId, QStringLiteral("agent ID")))
                return unexpected(*bad);
        }
        if (const auto connected = m_db.ensureConnected(); !connected)
            return unexpected(connected.error());

        const QString what = QStringLiteral("stopping workspace \"%1\"").arg(workspaceId);
        SqlBinds binds = {{QStringLiteral("now"), m_db.now()}, {QStringLiteral("workspace_id"), workspaceId}};
        QString sql =
            QStringLiteral("UPDATE workspace_agents SET agent_id = NULL, host = '', port = 0, agent_secret = '',"
                           " build = build + 1, updated_at = :now"
                           " WHERE workspace_id = :workspace_id AND agent_id IS NOT NULL");
        if (agentId)
        {
            sql += QStringLiteral(" AND agent_id = :agent_id");
            binds.append({QStringLiteral("agent_id"), *agentId});
        }
        sql += QStringLiteral(" RETURNING ") + WorkspaceColumns;

        SqlDatabase::WriteScope scope(m_db, false);
        if (const auto begun = scope.begin(what); !begun)
            return unexpected(begun.error());
        const auto rows = m_db.exec(sql, binds, what);
        if (!rows)
            return unexpected(rows.error());
        StopWorkspaceResult result;
        if (!rows->isEmpty())
        {
            result.stopped = true;
            result.workspace = workspaceFrom(rows->first());
        }
        if (const auto committed = scope.commit(what); !committed)
            return unexpected(committed.error());
        if (result.stopped)
            return result;
        // Nothing changed: say what the workspace is.
        auto state = workspaceState(workspaceId);
        if (!state)
            return unexpected(state.error());
        result.workspace = state.value();
        return result;
    }

    StoreResult<std::optional<WorkspaceAgent>> SqlWorkspaceStore::workspaceState(const QString &workspaceId)
    {
        if (const auto bad = checkKey(workspaceId, QStringLiteral("workspace ID")))
            return unexpected(*bad);
        if (const auto connected = m_db.ensureConnected(); !connected)
            return unexpected(connected.error());
        const auto rows = m_db.exec(QStringLiteral("SELECT ") + WorkspaceColumns +
                                        QStringLiteral(" FROM workspace_agents WHERE workspace_id = :workspace_id"),
                                    {{QStringLiteral("workspace_id"), workspaceId}},
                                    QStringLiteral("reading workspace \"%1\"").arg(workspaceId));
        if (!rows)
            return unexpected(rows.error());
        if (rows->isEmpty())
            return std::optional<WorkspaceAgent>();
        return std::optional<WorkspaceAgent>(workspaceFrom(rows->first()));
    }

    // ---- the workspace binding of a run ----

    StoreResult<std::optional<RunWorkspace>> SqlWorkspaceStore::runWorkspace(const QString &workflowId)
    {
        if (const auto bad = checkKey(workflowId, QStringLiteral("workflow ID")))
            return unexpected(*bad);
        if (const auto connected = m_db.ensureConnected(); !connected)
            return unexpected(connected.error());
        const auto rows = m_db.exec(QStringLiteral("SELECT workspace_id, workspace_agent_id FROM runs WHERE id = :id"),
                                    {{QStringLiteral("id"), workflowId}},
                                    QStringLiteral("reading the workspace of workflow \"%1\"").arg(workflowId));
        if (!rows)
            return unexpected(rows.error());
        if (rows->isEmpty() || rows->first().value(0).isNull())
            return std::optional<RunWorkspace>();
        const QSqlRecord &record = rows->first();
        return std::optional<RunWorkspace>(RunWorkspace{
            .workspaceId = record.value(0).toString(),
            .agentId = record.value(1).isNull() ? QString() : record.value(1).toString(),
        });
    }

    StoreResult<bool> SqlWorkspaceStore::setRunWorkspace(const QString &workflowId, const RunWorkspace &binding)
    {
        if (const auto bad = checkKey(workflowId, QStringLiteral("workflow ID")))
            return unexpected(*bad);
        if (const auto bad = checkKey(binding.workspaceId, QStringLiteral("workspace ID")))
            return unexpected(*bad);
        if (const auto connected = m_db.ensureConnected(); !connected)
            return unexpected(connected.error());
        const QString what = QStringLiteral("remembering the workspace of workflow \"%1\"").arg(workflowId);
        SqlDatabase::WriteScope scope(m_db, false);
        if (const auto begun = scope.begin(what); !begun)
            return unexpected(begun.error());
        const auto rows =
            m_db.exec(QStringLiteral("UPDATE runs SET workspace_id = :workspace_id, workspace_agent_id = :agent_id"
                                     " WHERE id = :id RETURNING id"),
                      {{QStringLiteral("workspace_id"), binding.workspaceId},
                       {QStringLiteral("agent_id"), binding.agentId.isEmpty() ? QVariant() : QVariant(binding.agentId)},
                       {QStringLiteral("id"), workflowId}},
                      what);
        if (!rows)
            return unexpected(rows.error());
        if (const auto committed = scope.commit(what); !committed)
            return unexpected(committed.error());
        return !rows->isEmpty();
    }
}  // namespace Lockstep::Store
