#include "sqlrunstore.h"

#include <QJsonDocument>
#include <QSqlDriver>
#include <QSqlError>

#include "common/logging.h"
#include "store/sqlworkspacestore.h"

namespace Lockstep::Store
{
    namespace
    {
        const QString RunColumns = QStringLiteral(
            "id, status, goal, flow, created_at, last_activity_at, completed_at, fence, last_seq, reason");
        constexpr int MaxListLimit = 1000;
        // PostgreSQL LISTEN/NOTIFY channel; the payload is the workflow ID.
        const QString ChangesChannel = QStringLiteral("lockstep_runs");

        QVariant statusValue(const RunStatus status)
        {
            return QVariant(toString(status));
        }

        SqlFragment allOf(const QList<SqlFragment> &parts)
        {
            SqlFragment out;
            QStringList sql;
            for (const SqlFragment &part : parts)
            {
                sql.append(u'(' + part.sql + u')');
                out.binds += part.binds;
            }
            out.sql = sql.join(QStringLiteral(" AND "));
            return out;
        }

        // SPEC "Resumable" — the one place the predicate is spelled out: a
        // resumable status, or `running` whose last activity is older than
        // the stale limit (an orphan). The status classes come from runstatus.h.
        SqlFragment resumablePredicate(const qint64 staleBeforeMs)
        {
            SqlFragment out;
            QStringList names;
            for (const RunStatus status : AllRunStatuses)
            {
                if (!isResumableStatus(status))
                    continue;
                const QString name = QStringLiteral("resumable_%1").arg(names.size());
                names.append(u':' + name);
                out.binds.append({name, statusValue(status)});
            }
            out.sql = QStringLiteral("status IN (%1) OR (status = :stale_status AND last_activity_at < :stale_before)")
                          .arg(names.join(QStringLiteral(", ")));
            out.binds.append({QStringLiteral("stale_status"), statusValue(RunStatus::Running)});
            out.binds.append({QStringLiteral("stale_before"), staleBeforeMs});
            return out;
        }

        // SPEC "Cancellable": anything not final.
        SqlFragment cancellablePredicate()
        {
            SqlFragment out;
            QStringList names;
            for (const RunStatus status : AllRunStatuses)
            {
                if (isCancellable(status))
                    continue;
                const QString name = QStringLiteral("final_%1").arg(names.size());
                names.append(u':' + name);
                out.binds.append({name, statusValue(status)});
            }
            out.sql = QStringLiteral("status NOT IN (%1)").arg(names.join(QStringLiteral(", ")));
            return out;
        }

        std::optional<StoreError> checkWorkflowId(const QString &workflowId)
        {
            return checkKey(workflowId, QStringLiteral("workflow ID"));
        }

        StoreResult<RunStatus> statusFrom(const QVariant &value)
        {
            const QString name = value.toString();
            const std::optional<RunStatus> status = runStatusFromString(name);
            if (!status)
                return unexpected(StoreError{QStringLiteral("the store holds an unknown status \"%1\"").arg(name)});
            return *status;
        }

        // A row of RunColumns.
        StoreResult<Run> runFrom(const QSqlRecord &record)
        {
            StoreResult<RunStatus> status = statusFrom(record.value(1));
            if (!status)
                return unexpected(std::move(status).error());
            Run run;
            run.workflowId = record.value(0).toString();
            run.status = *status;
            run.goal = record.value(2).toString();
            run.flow = record.value(3).toString();
            run.createdAt = fromEpochMs(record.value(4));
            run.lastActivityAt = fromEpochMs(record.value(5));
            if (!record.value(6).isNull())
                run.completedAt = fromEpochMs(record.value(6));
            run.fence = record.value(7).toLongLong();
            run.lastSeq = record.value(8).toLongLong();
            run.reason = record.value(9).toString();
            return run;
        }
    }  // namespace

    SqlRunStore::SqlRunStore(std::unique_ptr<SqlDatabase> db, StoreOptions options)
        : m_db(std::move(db))
        , m_workspaces(std::make_unique<SqlWorkspaceStore>(*m_db))
        , m_options(std::move(options))
    {
        m_db->setOnConnected([this](const bool reconnected) { onConnected(reconnected); });
    }

    SqlRunStore::~SqlRunStore() = default;

    StoreResult<std::unique_ptr<RunStore>> SqlRunStore::open(const StoreSpec &spec, const StoreOptions &options)
    {
        if (options.staleAfter.count() <= 0)
            return unexpected(StoreError{QStringLiteral("the stale-after duration must be positive")});
        auto db = SqlDatabase::open(spec, options.nowMs);
        if (!db)
            return unexpected(db.error());
        std::unique_ptr<SqlRunStore> store(new SqlRunStore(std::move(*db), options));
        qCInfo(lcStore).noquote() << "store open:" << spec.redacted()
                                  << (options.casGuards ? "" : "(CAS guards OFF: --no-cas-guards)")
                                  << (options.fencing ? "" : "(fencing OFF: --no-fencing)");
        return std::unique_ptr<RunStore>(std::move(store));
    }

    WorkspaceStore &SqlRunStore::workspaces()
    {
        return *m_workspaces;
    }

    void SqlRunStore::onConnected(const bool reconnected)
    {
        subscribeToChanges();
        // Notifications sent while we were away are gone: any run may have
        // changed. Told from the event loop, never inside a store call.
        if (reconnected && m_changed)
        {
            QMetaObject::invokeMethod(
                m_db->openDriver(), [changed = m_changed] { changed(QString()); }, Qt::QueuedConnection);
        }
    }

    bool SqlRunStore::watchChanges(std::function<void(const QString &workflowId)> changed)
    {
        if (m_db->isSqlite())
            return false;
        m_changed = std::move(changed);
        subscribeToChanges();
        return true;
    }

    void SqlRunStore::subscribeToChanges()
    {
        QSqlDriver *driver = m_db->openDriver();
        if (!m_changed || m_db->isSqlite() || !driver)
            return;
        if (driver->subscribedToNotifications().contains(ChangesChannel))
            return;
        if (!driver->subscribeToNotification(ChangesChannel))
        {
            qCWarning(lcStore).noquote() << "cannot LISTEN for run changes:" << driver->lastError().text();
            return;
        }
        // Our own writes are announced to us as well: the executions here tell
        // their feeds directly, so only other processes' writes matter.
        QObject::connect(driver, &QSqlDriver::notification, driver,
                         [changed = m_changed](const QString &, const QSqlDriver::NotificationSource source,
                                               const QVariant &payload) {
                             if (source == QSqlDriver::OtherSource)
                                 changed(payload.toString());
                         });
    }

    void SqlRunStore::announce(const QString &workflowId)
    {
        if (m_db->isSqlite())
            return;
        const auto sent = m_db->exec(QStringLiteral("SELECT pg_notify(:channel, :id)"),
                                     {{QStringLiteral("channel"), ChangesChannel}, {QStringLiteral("id"), workflowId}},
                                     QStringLiteral("announcing a change of \"%1\"").arg(workflowId));
        if (!sent)
            qCDebug(lcStore).noquote() << sent.error().message;
    }

    SqlFragment SqlRunStore::guarded(const SqlFragment &fragment) const
    {
        if (!m_options.casGuards)
            return {QStringLiteral("1=1"), {}};
        return fragment;
    }

    SqlFragment SqlRunStore::fenceAtMost(const qint64 fence) const
    {
        if (!m_options.fencing)
            return {QStringLiteral("1=1"), {}};
        return {QStringLiteral("fence <= :guard_fence"), {{QStringLiteral("guard_fence"), fence}}};
    }

    SqlFragment SqlRunStore::executingPredicate(const qint64 fence) const
    {
        return allOf({{QStringLiteral("status = :executing_status"),
                       {{QStringLiteral("executing_status"), statusValue(RunStatus::Running)}}},
                      fenceAtMost(fence)});
    }

    StoreResult<QList<QSqlRecord>> SqlRunStore::updateGuarded(const QString &workflowId, const SqlFragment &set,
                                                              const SqlFragment &guard, const QString &returning,
                                                              const QString &what)
    {
        const SqlFragment where = guarded(guard);
        SqlBinds binds = set.binds;
        binds.append({QStringLiteral("id"), workflowId});
        binds += where.binds;
        return m_db->exec(QStringLiteral("UPDATE runs SET ") + set.sql + QStringLiteral(" WHERE id = :id AND (") +
                              where.sql + QStringLiteral(") RETURNING ") + returning,
                          binds, what);
    }

    QString SqlRunStore::kind() const
    {
        return m_db->kind();
    }

    StoreResult<Ok> SqlRunStore::ping()
    {
        if (const auto connected = m_db->ensureConnected(); !connected)
            return connected;
        const auto result = m_db->execDirect(QStringLiteral("SELECT 1"), QStringLiteral("store ping"));
        if (!result)
            return unexpected(result.error());
        return Ok{};
    }

    StoreResult<int> SqlRunStore::schemaVersion()
    {
        if (const auto connected = m_db->ensureConnected(); !connected)
            return unexpected(connected.error());
        const auto rows = m_db->exec(QStringLiteral("SELECT COALESCE(MAX(version), 0) FROM schema_version"), {},
                                     QStringLiteral("reading the schema version"));
        if (!rows)
            return unexpected(rows.error());
        return rows->isEmpty() ? 0 : rows->first().value(0).toInt();
    }

    StoreResult<qint64> SqlRunStore::nextFence(const qint64 above)
    {
        if (const auto connected = m_db->ensureConnected(); !connected)
            return unexpected(connected.error());
        const QString what = QStringLiteral("taking a fence");
        SqlDatabase::WriteScope scope(*m_db, false);
        if (const auto begun = scope.begin(what); !begun)
            return unexpected(begun.error());
        // SQLite's two-argument MAX is PostgreSQL's GREATEST.
        const QString larger = m_db->isSqlite() ? QStringLiteral("MAX") : QStringLiteral("GREATEST");
        const auto rows = m_db->exec(
            QStringLiteral("UPDATE fence_counter SET value = %1(value, :above) + 1"
                           " WHERE id = :counter_id RETURNING value")
                .arg(larger),
            {{QStringLiteral("above"), std::max<qint64>(above, 0)}, {QStringLiteral("counter_id"), 1}}, what);
        if (!rows)
            return unexpected(rows.error());
        if (rows->isEmpty())
            return unexpected(
                m_db->plainError(QStringLiteral("%1 failed: the fence_counter row is missing").arg(what)));
        const qint64 fence = rows->first().value(0).toLongLong();
        if (const auto committed = scope.commit(what); !committed)
            return unexpected(committed.error());
        return fence;
    }

    StoreResult<Run> SqlRunStore::createRun(const QString &workflowId, const QString &goal, const QString &flow,
                                            const qint64 fence)
    {
        if (const auto bad = checkWorkflowId(workflowId))
            return unexpected(*bad);
        if (const auto connected = m_db->ensureConnected(); !connected)
            return unexpected(connected.error());

        const QString what = QStringLiteral("creating workflow \"%1\"").arg(workflowId);
        const qint64 t = m_db->now();
        SqlDatabase::WriteScope scope(*m_db, false);
        if (const auto begun = scope.begin(what); !begun)
            return unexpected(begun.error());
        const auto rows = m_db->exec(
            QStringLiteral(
                "INSERT INTO runs (id, status, goal, flow, created_at, last_activity_at, completed_at,"
                " fence, last_seq, reason)"
                " VALUES (:id, :status, :goal, :flow, :created_at, :last_activity_at, NULL, :fence, 0, :reason)"
                " ON CONFLICT (id) DO NOTHING RETURNING ") +
                RunColumns,
            {{QStringLiteral("id"), workflowId},
             {QStringLiteral("status"), statusValue(RunStatus::Created)},
             {QStringLiteral("goal"), sqlText(goal)},
             {QStringLiteral("flow"), sqlText(flow)},
             {QStringLiteral("created_at"), t},
             {QStringLiteral("last_activity_at"), t},
             {QStringLiteral("fence"), fence},
             {QStringLiteral("reason"), sqlText(QString())}},
            what);
        if (!rows)
            return unexpected(rows.error());
        if (rows->isEmpty())
            return unexpected(StoreError{QStringLiteral("%1 failed: the workflow already exists").arg(what),
                                         StoreError::Kind::Exists});
        StoreResult<Run> run = runFrom(rows->first());
        if (!run)
            return run;
        announce(workflowId);
        if (const auto committed = scope.commit(what); !committed)
            return unexpected(committed.error());
        return run;
    }

    StoreResult<std::optional<Run>> SqlRunStore::getRun(const QString &workflowId)
    {
        if (const auto bad = checkWorkflowId(workflowId))
            return unexpected(*bad);
        if (const auto connected = m_db->ensureConnected(); !connected)
            return unexpected(connected.error());

        const auto rows =
            m_db->exec(QStringLiteral("SELECT ") + RunColumns + QStringLiteral(" FROM runs WHERE id = :id"),
                       {{QStringLiteral("id"), workflowId}}, QStringLiteral("reading workflow \"%1\"").arg(workflowId));
        if (!rows)
            return unexpected(rows.error());
        if (rows->isEmpty())
            return std::optional<Run>();
        StoreResult<Run> run = runFrom(rows->first());
        if (!run)
            return unexpected(std::move(run).error());
        return std::optional<Run>(std::move(run).value());
    }

    StoreResult<QList<Run>> SqlRunStore::listRuns(const std::optional<RunStatus> status, const int limit)
    {
        if ((limit < 1) || (limit > MaxListLimit))
            return unexpected(invalidInput(QStringLiteral("the list limit must be within 1..%1").arg(MaxListLimit)));
        if (const auto connected = m_db->ensureConnected(); !connected)
            return unexpected(connected.error());

        SqlBinds binds = {{QStringLiteral("limit"), limit}};
        QString where;
        if (status)
        {
            where = QStringLiteral(" WHERE status = :status");
            binds.append({QStringLiteral("status"), statusValue(*status)});
        }
        const auto rows = m_db->exec(QStringLiteral("SELECT ") + RunColumns + QStringLiteral(" FROM runs") + where +
                                         QStringLiteral(" ORDER BY last_activity_at DESC, id LIMIT :limit"),
                                     binds, QStringLiteral("listing workflows"));
        if (!rows)
            return unexpected(rows.error());
        QList<Run> runs;
        runs.reserve(rows->size());
        for (const QSqlRecord &record : *rows)
        {
            StoreResult<Run> run = runFrom(record);
            if (!run)
                return unexpected(std::move(run).error());
            runs.append(std::move(run).value());
        }
        return runs;
    }

    StoreResult<ResumeResult> SqlRunStore::resume(const QString &workflowId, const qint64 fence,
                                                  const std::optional<QString> &newGoal)
    {
        if (const auto bad = checkWorkflowId(workflowId))
            return unexpected(*bad);
        if (const auto connected = m_db->ensureConnected(); !connected)
            return unexpected(connected.error());

        const QString what = QStringLiteral("resuming workflow \"%1\"").arg(workflowId);
        const qint64 t = m_db->now();
        SqlFragment set{QStringLiteral("status = :to_status, last_activity_at = :now, fence = :new_fence,"
                                       " completed_at = NULL, reason = :reason"),
                        {{QStringLiteral("to_status"), statusValue(RunStatus::Running)},
                         {QStringLiteral("now"), t},
                         {QStringLiteral("new_fence"), fence},
                         {QStringLiteral("reason"), sqlText(QString())}}};
        if (newGoal)
        {
            set.sql += QStringLiteral(", goal = :goal");
            set.binds.append({QStringLiteral("goal"), sqlText(*newGoal)});
        }

        SqlDatabase::WriteScope scope(*m_db, false);
        if (const auto begun = scope.begin(what); !begun)
            return unexpected(begun.error());
        // The CAS: one conditional UPDATE; under READ COMMITTED a concurrent
        // resumer waits for the row lock and re-checks the predicate on the
        // winner's row, so exactly one matches.
        const auto rows = updateGuarded(
            workflowId, set, allOf({resumablePredicate(t - m_options.staleAfter.count()), fenceAtMost(fence)}),
            RunColumns, what);
        if (!rows)
            return unexpected(rows.error());

        ResumeResult result;
        if (!rows->isEmpty())
        {
            StoreResult<Run> run = runFrom(rows->first());
            if (!run)
                return unexpected(std::move(run).error());
            result.outcome = ResumeOutcome::Resumed;
            result.status = run->status;
            result.fence = run->fence;
            result.run = std::move(run).value();
            announce(workflowId);
        }
        else
        {
            const auto probe = m_db->exec(QStringLiteral("SELECT status, fence FROM runs WHERE id = :id"),
                                          {{QStringLiteral("id"), workflowId}}, what);
            if (!probe)
                return unexpected(probe.error());
            if (probe->isEmpty())
            {
                result.outcome = ResumeOutcome::NotFound;
            }
            else
            {
                StoreResult<RunStatus> status = statusFrom(probe->first().value(0));
                if (!status)
                    return unexpected(std::move(status).error());
                result.outcome = ResumeOutcome::NotResumable;
                result.status = *status;
                result.fence = probe->first().value(1).toLongLong();
            }
        }
        if (const auto committed = scope.commit(what); !committed)
            return unexpected(committed.error());
        return result;
    }

    StoreResult<CancelResult> SqlRunStore::cancel(const QString &workflowId, const QString &reason)
    {
        if (const auto bad = checkWorkflowId(workflowId))
            return unexpected(*bad);
        if (const auto connected = m_db->ensureConnected(); !connected)
            return unexpected(connected.error());

        const QString what = QStringLiteral("cancelling workflow \"%1\"").arg(workflowId);
        const qint64 t = m_db->now();
        const SqlFragment set{QStringLiteral("status = :to_status, reason = :reason,"
                                             " completed_at = :completed_at, last_activity_at = :now"),
                              {{QStringLiteral("to_status"), statusValue(RunStatus::Stopped)},
                               {QStringLiteral("reason"), sqlText(reason)},
                               {QStringLiteral("completed_at"), t},
                               {QStringLiteral("now"), t}}};

        SqlDatabase::WriteScope scope(*m_db, false);
        if (const auto begun = scope.begin(what); !begun)
            return unexpected(begun.error());
        const auto rows = updateGuarded(workflowId, set, cancellablePredicate(), QStringLiteral("status"), what);
        if (!rows)
            return unexpected(rows.error());

        // A miss is a no-op on a final run (or an unknown ID): probe which.
        const bool cancelled = !rows->isEmpty();
        auto statusRows = rows;
        if (!cancelled)
            statusRows = m_db->exec(QStringLiteral("SELECT status FROM runs WHERE id = :id"),
                                    {{QStringLiteral("id"), workflowId}}, what);
        if (!statusRows)
            return unexpected(statusRows.error());

        CancelResult result;
        if (!statusRows->isEmpty())
        {
            StoreResult<RunStatus> status = statusFrom(statusRows->first().value(0));
            if (!status)
                return unexpected(std::move(status).error());
            result.outcome = cancelled ? CancelOutcome::Cancelled : CancelOutcome::Noop;
            result.status = *status;
        }
        if (cancelled)
            announce(workflowId);
        if (const auto committed = scope.commit(what); !committed)
            return unexpected(committed.error());
        return result;
    }

    StoreResult<bool> SqlRunStore::transition(const QString &workflowId, const qint64 fence, const RunStatus to,
                                              const QString &reason)
    {
        if (const auto bad = checkWorkflowId(workflowId))
            return unexpected(*bad);
        if ((to == RunStatus::Created) || (to == RunStatus::Running))
        {
            return unexpected(StoreError{
                QStringLiteral("a run cannot transition to \"%1\" (use createRun/resume)").arg(toString(to))});
        }
        if (const auto connected = m_db->ensureConnected(); !connected)
            return unexpected(connected.error());

        const QString what = QStringLiteral("moving workflow \"%1\" to %2").arg(workflowId, toString(to));
        const qint64 t = m_db->now();
        SqlFragment set{QStringLiteral("status = :to_status, reason = :reason,"
                                       " last_activity_at = :now, fence = :new_fence, completed_at = "),
                        {{QStringLiteral("to_status"), statusValue(to)},
                         {QStringLiteral("reason"), sqlText(reason)},
                         {QStringLiteral("now"), t},
                         {QStringLiteral("new_fence"), fence}}};
        if (isFinal(to))
        {
            set.sql += QStringLiteral(":completed_at");
            set.binds.append({QStringLiteral("completed_at"), t});
        }
        else
        {
            set.sql += QStringLiteral("NULL");
        }

        SqlDatabase::WriteScope scope(*m_db, false);
        if (const auto begun = scope.begin(what); !begun)
            return unexpected(begun.error());
        const auto rows = updateGuarded(workflowId, set, executingPredicate(fence), QStringLiteral("id"), what);
        if (!rows)
            return unexpected(rows.error());
        if (!rows->isEmpty())
            announce(workflowId);
        if (const auto committed = scope.commit(what); !committed)
            return unexpected(committed.error());
        return !rows->isEmpty();
    }

    StoreResult<bool> SqlRunStore::touch(const QString &workflowId, const qint64 fence)
    {
        if (const auto bad = checkWorkflowId(workflowId))
            return unexpected(*bad);
        if (const auto connected = m_db->ensureConnected(); !connected)
            return unexpected(connected.error());

        const QString what = QStringLiteral("touching workflow \"%1\"").arg(workflowId);
        const SqlFragment set{QStringLiteral("last_activity_at = :now, fence = :new_fence"),
                              {{QStringLiteral("now"), m_db->now()}, {QStringLiteral("new_fence"), fence}}};

        SqlDatabase::WriteScope scope(*m_db, false);
        if (const auto begun = scope.begin(what); !begun)
            return unexpected(begun.error());
        const auto rows = updateGuarded(workflowId, set, executingPredicate(fence), QStringLiteral("id"), what);
        if (!rows)
            return unexpected(rows.error());
        if (const auto committed = scope.commit(what); !committed)
            return unexpected(committed.error());
        return !rows->isEmpty();
    }

    StoreResult<std::optional<qint64>> SqlRunStore::appendEntry(const QString &workflowId, const qint64 fence,
                                                                const QJsonObject &entry)
    {
        if (const auto bad = checkWorkflowId(workflowId))
            return unexpected(*bad);
        const QJsonValue messageId = entry.value(QStringLiteral("message_id"));
        if (!messageId.isString() || messageId.toString().isEmpty())
            return unexpected(invalidInput(QStringLiteral("a chat-log entry needs a non-empty string \"message_id\"")));
        const QJsonValue messageType = entry.value(QStringLiteral("message_type"));
        if (!messageType.isUndefined() && !messageType.isString())
            return unexpected(invalidInput(QStringLiteral("the chat-log entry's \"message_type\" must be a string")));
        if (const auto connected = m_db->ensureConnected(); !connected)
            return unexpected(connected.error());

        const QString what = QStringLiteral("appending to the chat log of workflow \"%1\"").arg(workflowId);
        const qint64 t = m_db->now();
        const SqlFragment set{QStringLiteral("last_seq = last_seq + 1, last_activity_at = :now, fence = :new_fence"),
                              {{QStringLiteral("now"), t}, {QStringLiteral("new_fence"), fence}}};

        // The guard check and the seq bump are one statement, and the entry
        // is written in the same transaction: no writer can slip in between.
        SqlDatabase::WriteScope scope(*m_db, true);
        if (const auto begun = scope.begin(what); !begun)
            return unexpected(begun.error());
        const auto bumped = updateGuarded(workflowId, set, executingPredicate(fence), QStringLiteral("last_seq"), what);
        if (!bumped)
            return unexpected(bumped.error());
        if (bumped->isEmpty())
            return std::optional<qint64>();  // the scope rolls back
        const qint64 seq = bumped->first().value(0).toLongLong();

        const auto upserted = m_db->exec(
            QStringLiteral("INSERT INTO chat_entries (workflow_id, message_id, seq, message_type, entry, updated_at)"
                           " VALUES (:id, :message_id, :seq, :message_type, :entry, :updated_at)"
                           " ON CONFLICT (workflow_id, message_id) DO UPDATE SET seq = excluded.seq,"
                           " message_type = excluded.message_type, entry = excluded.entry,"
                           " updated_at = excluded.updated_at"),
            {{QStringLiteral("id"), workflowId},
             {QStringLiteral("message_id"), messageId.toString()},
             {QStringLiteral("seq"), seq},
             {QStringLiteral("message_type"), sqlText(messageType.toString())},
             {QStringLiteral("entry"), QString::fromUtf8(QJsonDocument(entry).toJson(QJsonDocument::Compact))},
             {QStringLiteral("updated_at"), t}},
            what);
        if (!upserted)
            return unexpected(upserted.error());
        announce(workflowId);
        if (const auto committed = scope.commit(what); !committed)
            return unexpected(committed.error());
        return std::optional<qint64>(seq);
    }

    StoreResult<QList<StoredEntry>> SqlRunStore::entriesSince(const QString &workflowId, const qint64 afterSeq)
    {
        if (const auto bad = checkWorkflowId(workflowId))
            return unexpected(*bad);
        if (const auto connected = m_db->ensureConnected(); !connected)
            return unexpected(connected.error());

        const QString what = QStringLiteral("reading the chat log of workflow \"%1\"").arg(workflowId);
        const auto rows =
            m_db->exec(QStringLiteral("SELECT seq, entry FROM chat_entries"
                                      " WHERE workflow_id = :id AND seq > :after_seq ORDER BY seq"),
                       {{QStringLiteral("id"), workflowId}, {QStringLiteral("after_seq"), afterSeq}}, what);
        if (!rows)
            return unexpected(rows.error());
        QList<StoredEntry> entries;
        entries.reserve(rows->size());
        for (const QSqlRecord &record : *rows)
        {
            QJsonParseError parseError;
            const QJsonDocument document = QJsonDocument::fromJson(record.value(1).toString().toUtf8(), &parseError);
            if (!document.isObject())
            {
                return unexpected(m_db->plainError(QStringLiteral("%1 failed: entry %2 is not a JSON object (%3)")
                                                       .arg(what)
                                                       .arg(record.value(0).toLongLong())
                                                       .arg(parseError.errorString())));
            }
            entries.append({.seq = record.value(0).toLongLong(), .entry = document.object()});
        }
        return entries;
    }

}  // namespace Lockstep::Store
