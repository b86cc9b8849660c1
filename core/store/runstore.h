#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>

#include <QDateTime>
#include <QJsonObject>
#include <QList>
#include <QString>

#include "common/result.h"
#include "protocol/runstatus.h"

namespace Lockstep::Store
{
    class WorkspaceStore;

    // A run (one workflow) as stored.
    struct Run
    {
        QString workflowId;
        RunStatus status = RunStatus::Created;
        QString goal;              // the latest user message
        QString flow;              // flow name (file name in the flows folder)
        QDateTime createdAt;       // UTC
        QDateTime lastActivityAt;  // UTC; the executor touches it at every heartbeat/step
        std::optional<QDateTime> completedAt;
        qint64 fence = 0;    // fencing token of the latest writer
        qint64 lastSeq = 0;  // highest chat-log sequence number of the run
        QString reason;      // why the run is in its status (failure text, cancel reason)
    };

    // One ui_chat_log entry as stored. `entry` is the SPEC's JSON object
    // (message_id, message_type, ...). A changed entry (same message_id) gets
    // a new seq, so "everything after seq N" is always the delta a client needs.
    struct StoredEntry
    {
        qint64 seq = 0;
        QJsonObject entry;
    };

    struct StoreError
    {
        enum class Kind
        {
            Failed,        // the database failed or is unreachable (HTTP 503, close 1011)
            InvalidInput,  // the caller's values cannot be stored (HTTP 400, close 4400)
            Exists,        // createRun: the workflow ID is taken
        };

        // Readable, safe to show a client: no SQL text, no secrets. The
        // database's own words go to the gateway log only.
        QString message;
        Kind kind = Kind::Failed;
        // The problem alone, short enough for a websocket close reason
        // ("the database is unreachable"); empty: use `message`.
        QString cause;

        QString shortText() const
        {
            return cause.isEmpty() ? message : cause;
        }
    };

    template <typename T>
    using StoreResult = Result<T, StoreError>;

    enum class ResumeOutcome
    {
        Resumed,       // the CAS matched: the run is now `running` with our fence
        NotResumable,  // the run exists but is not resumable: see `status`
        NotFound,
    };
    struct ResumeResult
    {
        ResumeOutcome outcome = ResumeOutcome::NotFound;
        std::optional<RunStatus> status;  // current status after the attempt (set unless NotFound)
        std::optional<Run> run;           // the updated run when Resumed
        std::optional<qint64> fence;      // stored fence after the attempt (set unless NotFound)
    };

    enum class CancelOutcome
    {
        Cancelled,  // was not final, now `stopped`
        Noop,       // already final: nothing changed (idempotent)
        NotFound,
    };
    struct CancelResult
    {
        CancelOutcome outcome = CancelOutcome::NotFound;
        std::optional<RunStatus> status;  // status after the attempt (set unless NotFound)
    };

    struct StoreOptions
    {
        // A `running` run whose last_activity_at is older than this is an orphan
        // and resumable (SPEC: --stale-after).
        std::chrono::milliseconds staleAfter{90000};
        // false reproduces the original bug for QA (--no-cas-guards): unconditional
        // updates, no status or fence predicates on any write.
        bool casGuards = true;
        // false drops only the fence predicates (--no-fencing); the status
        // predicates stay while casGuards is on.
        bool fencing = true;
        // The clock (UTC epoch milliseconds) used for every timestamp and for
        // the staleness comparison, which happens in SQL against this bound
        // value, never against the database's clock. Empty: the system clock.
        // Tests inject their own.
        std::function<qint64()> nowMs;
    };

    // The run store: SQLite (embedded) or PostgreSQL (replicas). Calls are
    // synchronous and thread-affine: one RunStore instance per thread
    // (each owns its own named database connection).
    class RunStore
    {
    public:
        virtual ~RunStore() = default;

        // spec: "sqlite:/path/to/file.db" or "postgresql://user@host:port/db[?...]".
        // Applies the versioned schema migrations before returning.
        static StoreResult<std::unique_ptr<RunStore>> open(const QString &spec, const StoreOptions &options = {});

        // The newest schema version this build knows (the migrations list).
        static int latestSchemaVersion();

        virtual QString kind() const = 0;  // "sqlite" | "postgresql" (for /healthz)
        // A cheap round trip (SELECT 1); reconnects first if a previous call lost the connection.
        virtual StoreResult<Ok> ping() = 0;
        // The schema version recorded in schema_version.
        virtual StoreResult<int> schemaVersion() = 0;
        // A strictly increasing number persisted in the store (fence_counter),
        // above `above` as well: the fence of a drive that runs without a lock
        // (--no-lock-concurrent-flows, or fail-open while the lock store is down).
        virtual StoreResult<qint64> nextFence(qint64 above) = 0;

        // New run in `created` status with the given fence (0: no writer has
        // held it yet). Fails with Kind::Exists if the ID is taken.
        virtual StoreResult<Run> createRun(const QString &workflowId, const QString &goal, const QString &flow,
                                           qint64 fence) = 0;
        virtual StoreResult<std::optional<Run>> getRun(const QString &workflowId) = 0;
        // Newest activity first; limit 1..1000.
        virtual StoreResult<QList<Run>> listRuns(std::optional<RunStatus> status, int limit) = 0;

        // CAS resume: one conditional UPDATE on the resumable predicate (resumable
        // status, or `running` and stale) AND fence <= :fence, setting status
        // `running`, last_activity_at = now, fence = :fence and, if newGoal is set,
        // goal = newGoal. On a miss, probes the status.
        virtual StoreResult<ResumeResult> resume(const QString &workflowId, qint64 fence,
                                                 const std::optional<QString> &newGoal) = 0;
        // CAS cancel: matches only non-final runs; sets `stopped` with the reason.
        virtual StoreResult<CancelResult> cancel(const QString &workflowId, const QString &reason) = 0;

        // Guarded transition of an executing run: matches only status `running`
        // AND fence <= :fence. Used for finish, fail, pause and the waits
        // (input_required, ...). false: the guard missed (cancelled elsewhere,
        // or a newer fence took over) and the caller must stop writing.
        virtual StoreResult<bool> transition(const QString &workflowId, qint64 fence, RunStatus to,
                                             const QString &reason) = 0;
        // Touch last_activity_at of a running run (guarded like transition).
        virtual StoreResult<bool> touch(const QString &workflowId, qint64 fence) = 0;
        // Insert or replace (by message_id) a chat-log entry of a running run,
        // guarded like transition; returns the entry's new seq, or nullopt on a guard miss.
        virtual StoreResult<std::optional<qint64>> appendEntry(const QString &workflowId, qint64 fence,
                                                               const QJsonObject &entry) = 0;
        // Entries with seq > afterSeq, ascending (the latest version of each message).
        virtual StoreResult<QList<StoredEntry>> entriesSince(const QString &workflowId, qint64 afterSeq) = 0;

        // Writes of other processes as they commit (PostgreSQL LISTEN/NOTIFY),
        // delivered on this thread's event loop: changed(workflowId) for a run
        // whose status or chat log changed; changed({}) after a reconnect (any
        // run may have changed meanwhile). false: this store cannot (SQLite):
        // poll instead. The callback must outlive the store's use.
        virtual bool watchChanges(std::function<void(const QString &workflowId)> changed);

        // The workspaces' tables of the same database, on the same connection
        // (agent registrations, the runs' workspace bindings).
        virtual WorkspaceStore &workspaces() = 0;
    };
}  // namespace Lockstep::Store
