#pragma once

#include <memory>
#include <unordered_map>

#include <QList>
#include <QPair>
#include <QSqlDatabase>
#include <QSqlQuery>
#include <QSqlRecord>
#include <QVariant>

#include "runstore.h"
#include "storespec.h"

class QSqlError;

namespace Lockstep::Store
{
    // Named values for a statement's :placeholders. Each placeholder occurs
    // once in a statement (QSQLITE's handling of repeated names is fragile).
    using SqlBinds = QList<QPair<QString, QVariant>>;

    // A piece of a WHERE clause with the values it binds.
    struct SqlFragment
    {
        QString sql;
        SqlBinds binds;
    };

    // RunStore on Qt Sql: QSQLITE or QPSQL. One code path; the dialects differ
    // only in connection setup, how a write transaction starts and how
    // migrations are serialised between processes.
    class SqlRunStore final : public RunStore
    {
    public:
        static StoreResult<std::unique_ptr<RunStore>> open(const StoreSpec &spec, const StoreOptions &options);
        ~SqlRunStore() override;

        SqlRunStore(const SqlRunStore &) = delete;
        SqlRunStore &operator=(const SqlRunStore &) = delete;

        QString kind() const override;
        StoreResult<Ok> ping() override;
        StoreResult<int> schemaVersion() override;
        StoreResult<qint64> nextFence(qint64 above) override;

        StoreResult<Run> createRun(const QString &workflowId, const QString &goal, const QString &flow,
                                   qint64 fence) override;
        StoreResult<std::optional<Run>> getRun(const QString &workflowId) override;
        StoreResult<QList<Run>> listRuns(std::optional<RunStatus> status, int limit) override;

        StoreResult<ResumeResult> resume(const QString &workflowId, qint64 fence,
                                         const std::optional<QString> &newGoal) override;
        StoreResult<CancelResult> cancel(const QString &workflowId, const QString &reason) override;

        StoreResult<bool> transition(const QString &workflowId, qint64 fence, RunStatus to,
                                     const QString &reason) override;
        StoreResult<bool> touch(const QString &workflowId, qint64 fence) override;
        StoreResult<std::optional<qint64>> appendEntry(const QString &workflowId, qint64 fence,
                                                       const QJsonObject &entry) override;
        StoreResult<QList<StoredEntry>> entriesSince(const QString &workflowId, qint64 afterSeq) override;
        bool watchChanges(std::function<void(const QString &workflowId)> changed) override;

        StoreResult<WorkspaceAgent> registerWorkspaceAgent(const QString &workspaceId, const QString &agentId,
                                                           const QString &host, int port,
                                                           const QByteArray &secret = {}) override;
        StoreResult<StopWorkspaceResult> stopWorkspace(const QString &workspaceId,
                                                       const std::optional<QString> &agentId) override;
        StoreResult<std::optional<WorkspaceAgent>> workspaceState(const QString &workspaceId) override;
        StoreResult<std::optional<RunWorkspace>> runWorkspace(const QString &workflowId) override;
        StoreResult<bool> setRunWorkspace(const QString &workflowId, const RunWorkspace &binding) override;

    private:
        class WriteScope;

        SqlRunStore(StoreSpec spec, StoreOptions options);

        bool isSqlite() const;
        qint64 now() const;

        StoreResult<Ok> connect();
        // A new uniquely named QSqlDatabase (not yet open) / its removal.
        void createConnection();
        void dropConnection();
        // Reconnects when the previous call failed and the connection no longer answers.
        StoreResult<Ok> ensureConnected();
        StoreResult<Ok> migrate();

        // Runs a (cached) prepared statement; returns all rows it produced and
        // leaves the statement reset, so no read or write lock outlives the call.
        StoreResult<QList<QSqlRecord>> exec(const QString &sql, const SqlBinds &binds, const QString &what);
        // Runs a statement that cannot be prepared (BEGIN, COMMIT, SET, PRAGMA).
        StoreResult<QList<QSqlRecord>> execDirect(const QString &sql, const QString &what);

        // The CAS guards: `fragment` when guards are on, "1=1" otherwise
        // (--no-cas-guards keeps the same queries, minus the predicates).
        SqlFragment guarded(const SqlFragment &fragment) const;
        // SPEC: every write of a run checks the fence ("1=1" with --no-fencing
        // or --no-cas-guards).
        SqlFragment fenceAtMost(qint64 fence) const;
        // Writes of the executor: only while the run is `running` under our fence.
        SqlFragment executingPredicate(qint64 fence) const;

        // PostgreSQL: LISTEN on this connection when someone watches changes.
        void subscribeToChanges();
        // PostgreSQL: tells every listening replica that this run changed
        // (after the write committed; best effort: a lost notification is
        // caught up by the next one, the watcher refreshes from the store).
        void announce(const QString &workflowId);

        StoreError sqlError(const QString &what, const QSqlError &error) const;
        StoreError plainError(const QString &message) const;

        StoreSpec m_spec;
        StoreOptions m_options;
        QString m_connectionName;
        QSqlDatabase m_db;
        std::unordered_map<QString, std::unique_ptr<QSqlQuery>> m_prepared;  // by SQL text; cleared on reconnect
        bool m_suspect = false;                          // a call failed: check the connection first
        bool m_lost = false;                             // reported lost, not yet back
        std::function<void(const QString &)> m_changed;  // watchChanges()
    };
}  // namespace Lockstep::Store
