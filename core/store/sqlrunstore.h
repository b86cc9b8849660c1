#pragma once

#include <functional>
#include <memory>

#include <QList>
#include <QSqlRecord>

#include "store/runstore.h"
#include "store/sqldatabase.h"
#include "store/storespec.h"

namespace Lockstep::Store
{
    class SqlWorkspaceStore;

    // RunStore on Qt Sql: QSQLITE or QPSQL. One code path; the dialects differ
    // only in connection setup, how a write transaction starts and how
    // migrations are serialised between processes (SqlDatabase).
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

        WorkspaceStore &workspaces() override;

    private:
        SqlRunStore(std::unique_ptr<SqlDatabase> db, StoreOptions options);

        // The CAS guards: `fragment` when guards are on, "1=1" otherwise
        // (--no-cas-guards keeps the same queries, minus the predicates).
        SqlFragment guarded(const SqlFragment &fragment) const;
        // SPEC: every write of a run checks the fence ("1=1" with --no-fencing
        // or --no-cas-guards).
        SqlFragment fenceAtMost(qint64 fence) const;
        // Writes of the executor: only while the run is `running` under our fence.
        SqlFragment executingPredicate(qint64 fence) const;
        // Every guarded write of a run, spelled once:
        //   UPDATE runs SET <set> WHERE id = :id AND (<guard>) RETURNING <returning>
        // with `guard` passed through guarded(). No row back: the guard missed
        // (or there is no such run). Runs inside the caller's WriteScope.
        StoreResult<QList<QSqlRecord>> updateGuarded(const QString &workflowId, const SqlFragment &set,
                                                     const SqlFragment &guard, const QString &returning,
                                                     const QString &what);

        // PostgreSQL: LISTEN on this connection when someone watches changes
        // (again after every reconnection).
        void onConnected(bool reconnected);
        void subscribeToChanges();
        // PostgreSQL: tells every listening replica that this run changed
        // (after the write committed; best effort: a lost notification is
        // caught up by the next one, the watcher refreshes from the store).
        void announce(const QString &workflowId);

        std::unique_ptr<SqlDatabase> m_db;  // first: the workspace store uses it
        std::unique_ptr<SqlWorkspaceStore> m_workspaces;
        StoreOptions m_options;
        std::function<void(const QString &)> m_changed;  // watchChanges()
    };
}  // namespace Lockstep::Store
