#pragma once

#include <chrono>
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
    // A run (one workflow) as stored.
    struct Run
    {
        QString workflowId;
        RunStatus status = RunStatus::Created;
        QString goal;                 // the latest user message
        QString flow;                 // flow name (file name in the flows folder)
        QDateTime createdAt;          // UTC
        QDateTime lastActivityAt;     // UTC; the executor touches it at every heartbeat/step
        std::optional<QDateTime> completedAt;
        qint64 fence = 0;             // fencing token of the latest writer
        qint64 lastSeq = 0;           // highest chat-log sequence number of the run
        QString reason;               // why the run is in its status (failure text, cancel reason)
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
        QString message;              // readable, no secrets (connection strings are redacted)
    };

    template <typename T>
    using StoreResult = Result<T, StoreError>;

    enum class ResumeOutcome
    {
        Resumed,                      // the CAS matched: the run is now `running` with our fence
        NotResumable,                 // the run exists but is not resumable: see `status`
        NotFound,
    };
    struct ResumeResult
    {
        ResumeOutcome outcome = ResumeOutcome::NotFound;
        std::optional<RunStatus> status;  // current status after the attempt (set unless NotFound)
        std::optional<Run> run;           // the updated run when Resumed
    };

    enum class CancelOutcome
    {
        Cancelled,                    // was not final, now `stopped`
        Noop,                         // already final: nothing changed (idempotent)
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
        // updates, no status or fence predicates.
        bool casGuards = true;
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

        virtual QString kind() const = 0;   // "sqlite" | "postgresql" (for /healthz)

        // New run in `created` status with the given fence. Fails if the ID exists.
        virtual StoreResult<Run> createRun(const QString &workflowId, const QString &goal,
                                           const QString &flow, qint64 fence) = 0;
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
        virtual StoreResult<bool> transition(const QString &workflowId, qint64 fence,
                                             RunStatus to, const QString &reason) = 0;
        // Touch last_activity_at of a running run (guarded like transition).
        virtual StoreResult<bool> touch(const QString &workflowId, qint64 fence) = 0;
        // Insert or replace (by message_id) a chat-log entry of a running run,
        // guarded like transition; returns the entry's new seq, or nullopt on a guard miss.
        virtual StoreResult<std::optional<qint64>> appendEntry(const QString &workflowId, qint64 fence,
                                                               const QJsonObject &entry) = 0;
        // Entries with seq > afterSeq, ascending (the latest version of each message).
        virtual StoreResult<QList<StoredEntry>> entriesSince(const QString &workflowId, qint64 afterSeq) = 0;
    };
} // namespace Lockstep::Store
