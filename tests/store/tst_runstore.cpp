#include <atomic>
#include <latch>
#include <thread>
#include <vector>

#include <QFile>
#include <QJsonObject>
#include <QSet>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QTest>

#include "store/migrations.h"
#include "store/runstore.h"
#include "store/storespec.h"
#include "temppostgres.h"

using namespace std::chrono_literals;
using namespace Lockstep;
using namespace Lockstep::Store;

namespace
{
    constexpr qint64 StartMs = 1'700'000'000'000;
    constexpr auto StaleAfter = 1000ms;

    template <typename T>
    QByteArray describe(const StoreResult<T> &result)
    {
        return result ? QByteArray() : result.error().message.toUtf8();
    }

    QString outcomeName(const ResumeOutcome outcome)
    {
        switch (outcome)
        {
        case ResumeOutcome::Resumed: return QStringLiteral("resumed");
        case ResumeOutcome::NotResumable: return QStringLiteral("not_resumable");
        case ResumeOutcome::NotFound: return QStringLiteral("not_found");
        }
        return {};
    }

    QString outcomeName(const CancelOutcome outcome)
    {
        switch (outcome)
        {
        case CancelOutcome::Cancelled: return QStringLiteral("cancelled");
        case CancelOutcome::Noop: return QStringLiteral("noop");
        case CancelOutcome::NotFound: return QStringLiteral("not_found");
        }
        return {};
    }

    QString statusName(const std::optional<RunStatus> &status)
    {
        return status ? toString(*status) : QStringLiteral("(none)");
    }

    QJsonObject chatEntry(const QString &messageId, const QString &content)
    {
        return {{QStringLiteral("message_id"), messageId},
                {QStringLiteral("message_type"), QStringLiteral("agent")},
                {QStringLiteral("content"), content},
                {QStringLiteral("status"), QStringLiteral("success")}};
    }

    // A plain QtSql connection to the test database, to look behind the store.
    class RawConnection
    {
    public:
        explicit RawConnection(const QString &storeSpec)
            : m_name(QStringLiteral("raw-%1").arg(++s_counter))
        {
            const auto spec = parseStoreSpec(storeSpec);
            if (!spec)
                return;
            if (spec->kind == StoreSpec::Kind::Sqlite)
            {
                m_db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), m_name);
                m_db.setDatabaseName(spec->sqlitePath);
            }
            else
            {
                m_db = QSqlDatabase::addDatabase(QStringLiteral("QPSQL"), m_name);
                m_db.setHostName(spec->host);
                m_db.setPort(spec->port);
                m_db.setUserName(spec->user);
                m_db.setDatabaseName(spec->databaseName);
            }
            m_db.open();
        }
        ~RawConnection()
        {
            m_db.close();
            m_db = QSqlDatabase();
            QSqlDatabase::removeDatabase(m_name);
        }

        // The first column of the first row, or an invalid QVariant with the error in `error`.
        QVariant scalar(const QString &sql, QString *error = nullptr)
        {
            QSqlQuery query(m_db);
            if (!query.exec(sql) || !query.next())
            {
                if (error)
                    *error = query.lastError().text();
                return {};
            }
            return query.value(0);
        }
        bool exec(const QString &sql)
        {
            QSqlQuery query(m_db);
            return query.exec(sql);
        }

    private:
        static inline int s_counter = 0;
        QString m_name;
        QSqlDatabase m_db;
    };
}  // namespace

// Opens a store or fails the test with the store's message.
#define OPEN_STORE(var, spec, opts)                                                                                    \
    auto var##Opened = RunStore::open((spec), (opts));                                                                 \
    QVERIFY2(var##Opened.hasValue(), describe(var##Opened).constData());                                               \
    std::unique_ptr<RunStore> var = std::move(var##Opened).value()

// Evaluates a store call, fails the test on a StoreError, else binds the value.
#define TRY_STORE(var, expr)                                                                                           \
    auto var##Result = (expr);                                                                                         \
    QVERIFY2(var##Result.hasValue(), describe(var##Result).constData());                                               \
    auto var = std::move(var##Result).value()

// Every test function runs on SQLite and on PostgreSQL (initTestCase_data),
// each on a fresh database; one PostgreSQL cluster serves the whole executable.
class TestRunStore : public QObject
{
    Q_OBJECT

public:
    StoreOptions options(const bool casGuards = true) const
    {
        StoreOptions result;
        result.staleAfter = StaleAfter;
        result.casGuards = casGuards;
        result.nowMs = [clock = m_clockMs.get()] { return clock->load(); };
        return result;
    }

    bool isPostgres() const
    {
        return m_spec.startsWith(QStringLiteral("postgresql://"));
    }

    // Puts `id` in the state named in the status table ("running-stale" is a
    // running run whose last activity is older than staleAfter). The run's fence is 2.
    QString prepareRun(RunStore &store, const QString &id, const QString &state)
    {
        const auto created = store.createRun(id, QStringLiteral("goal"), QStringLiteral("hello"), 1);
        if (!created)
            return created.error().message;
        if (state == u"created")
            return {};
        const auto resumed = store.resume(id, 2, std::nullopt);
        if (!resumed || (resumed->outcome != ResumeOutcome::Resumed))
            return QStringLiteral("could not resume to set up: %1").arg(QString::fromUtf8(describe(resumed)));
        if (state == u"running")
            return {};
        if (state == u"running-stale")
        {
            m_clockMs->fetch_add(StaleAfter.count() + 1);
            return {};
        }
        if (state == u"stopped")
        {
            const auto cancelled = store.cancel(id, QStringLiteral("set-up"));
            return (cancelled && (cancelled->outcome == CancelOutcome::Cancelled)) ? QString()
                                                                                   : QStringLiteral("cancel failed");
        }
        const std::optional<RunStatus> target = runStatusFromString(state);
        if (!target)
            return QStringLiteral("unknown state %1").arg(state);
        const auto moved = store.transition(id, 2, *target, QStringLiteral("set-up"));
        if (!moved || !*moved)
            return QStringLiteral("transition to %1 failed: %2").arg(state, QString::fromUtf8(describe(moved)));
        return {};
    }

private slots:
    void initTestCase_data()
    {
        QTest::addColumn<QString>("backend");
        QTest::newRow("sqlite") << QStringLiteral("sqlite");
        QTest::newRow("postgresql") << QStringLiteral("postgresql");
    }

    void initTestCase()
    {
        QVERIFY(m_sqliteDir.isValid());
        m_postgres = std::make_unique<Test::TempPostgres>();
        QVERIFY2(m_postgres->start(), qPrintable(m_postgres->errorString()));
    }

    void init()
    {
        QFETCH_GLOBAL(QString, backend);
        m_clockMs->store(StartMs);
        if (backend == u"sqlite")
        {
            m_spec = QStringLiteral("sqlite:") + m_sqliteDir.filePath(QStringLiteral("test-%1.db").arg(++m_counter));
            return;
        }
        QVERIFY2(m_postgres->isRunning() || m_postgres->start(), qPrintable(m_postgres->errorString()));
        const std::optional<QString> spec = m_postgres->createDatabase();
        QVERIFY2(spec, qPrintable(m_postgres->errorString()));
        m_spec = *spec;
    }

    void statusTable_data()
    {
        QTest::addColumn<QString>("state");
        QTest::addColumn<QString>("operation");
        QTest::addColumn<QString>("expectedOutcome");
        QTest::addColumn<QString>("expectedStatus");

        struct Row
        {
            const char *state;
            const char *resumeOutcome;
            const char *resumeStatus;
            const char *cancelOutcome;
            const char *cancelStatus;
        };
        // SPEC "Statuses and transitions": resumable = created, paused, failed,
        // the three waits, or running and stale; cancellable = not final.
        const Row rows[] = {
            {"created", "resumed", "running", "cancelled", "stopped"},
            {"running", "not_resumable", "running", "cancelled", "stopped"},
            {"running-stale", "resumed", "running", "cancelled", "stopped"},
            {"paused", "resumed", "running", "cancelled", "stopped"},
            {"finished", "not_resumable", "finished", "noop", "finished"},
            {"failed", "resumed", "running", "cancelled", "stopped"},
            {"stopped", "not_resumable", "stopped", "noop", "stopped"},
            {"input_required", "resumed", "running", "cancelled", "stopped"},
            {"plan_approval_required", "resumed", "running", "cancelled", "stopped"},
            {"tool_call_approval_required", "resumed", "running", "cancelled", "stopped"},
        };
        for (const Row &row : rows)
        {
            QTest::addRow("%s/resume", row.state)
                << QString::fromLatin1(row.state) << QStringLiteral("resume") << QString::fromLatin1(row.resumeOutcome)
                << QString::fromLatin1(row.resumeStatus);
            QTest::addRow("%s/cancel", row.state)
                << QString::fromLatin1(row.state) << QStringLiteral("cancel") << QString::fromLatin1(row.cancelOutcome)
                << QString::fromLatin1(row.cancelStatus);
        }
    }

    void statusTable()
    {
        QFETCH(QString, state);
        QFETCH(QString, operation);
        QFETCH(QString, expectedOutcome);
        QFETCH(QString, expectedStatus);

        OPEN_STORE(store, m_spec, options());
        const QString id = QStringLiteral("wf-table");
        const QString setUp = prepareRun(*store, id, state);
        QVERIFY2(setUp.isEmpty(), qPrintable(setUp));
        TRY_STORE(before, store->getRun(id));
        QVERIFY(before);

        if (operation == u"resume")
        {
            TRY_STORE(result, store->resume(id, 10, QStringLiteral("next message")));
            QCOMPARE(outcomeName(result.outcome), expectedOutcome);
            QCOMPARE(statusName(result.status), expectedStatus);
            TRY_STORE(after, store->getRun(id));
            QVERIFY(after);
            QCOMPARE(toString(after->status), expectedStatus);
            if (result.outcome == ResumeOutcome::Resumed)
            {
                QVERIFY(result.run);
                QCOMPARE(result.run->fence, qint64(10));
                QCOMPARE(after->fence, qint64(10));
                QCOMPARE(after->goal, QStringLiteral("next message"));
                QCOMPARE(after->lastActivityAt.toMSecsSinceEpoch(), m_clockMs->load());
                QVERIFY(!after->completedAt);
            }
            else
            {
                // A miss changes nothing.
                QVERIFY(!result.run);
                QCOMPARE(result.fence, std::optional<qint64>(before->fence));
                QCOMPARE(after->fence, before->fence);
                QCOMPARE(after->goal, before->goal);
                QCOMPARE(after->lastActivityAt, before->lastActivityAt);
            }
        }
        else
        {
            TRY_STORE(result, store->cancel(id, QStringLiteral("user pressed stop")));
            QCOMPARE(outcomeName(result.outcome), expectedOutcome);
            QCOMPARE(statusName(result.status), expectedStatus);
            TRY_STORE(after, store->getRun(id));
            QVERIFY(after);
            QCOMPARE(toString(after->status), expectedStatus);
            if (result.outcome == CancelOutcome::Cancelled)
            {
                QCOMPARE(after->reason, QStringLiteral("user pressed stop"));
                QVERIFY(after->completedAt);
            }
            else
            {
                QCOMPARE(after->reason, before->reason);
                QCOMPARE(after->completedAt, before->completedAt);
            }
        }
    }

    void staleBoundary()
    {
        OPEN_STORE(store, m_spec, options());
        const QString id = QStringLiteral("wf-stale");
        QVERIFY(prepareRun(*store, id, QStringLiteral("running")).isEmpty());

        // "older than --stale-after": exactly staleAfter is not yet stale.
        m_clockMs->fetch_add(StaleAfter.count());
        TRY_STORE(early, store->resume(id, 3, std::nullopt));
        QCOMPARE(outcomeName(early.outcome), QStringLiteral("not_resumable"));
        QCOMPARE(statusName(early.status), QStringLiteral("running"));

        // A touch by the holder keeps it fresh.
        TRY_STORE(touched, store->touch(id, 2));
        QVERIFY(touched);
        m_clockMs->fetch_add(StaleAfter.count());
        TRY_STORE(stillFresh, store->resume(id, 3, std::nullopt));
        QCOMPARE(outcomeName(stillFresh.outcome), QStringLiteral("not_resumable"));

        m_clockMs->fetch_add(1);
        TRY_STORE(orphan, store->resume(id, 3, std::nullopt));
        QCOMPARE(outcomeName(orphan.outcome), QStringLiteral("resumed"));
        QCOMPARE(orphan.run->fence, qint64(3));

        // The old holder lost the run: its writes are refused now.
        TRY_STORE(oldTouch, store->touch(id, 2));
        QVERIFY(!oldTouch);
    }

    void finishedRunCannotBeResumed()
    {
        OPEN_STORE(store, m_spec, options());
        const QString id = QStringLiteral("wf-done");
        QVERIFY(prepareRun(*store, id, QStringLiteral("finished")).isEmpty());
        TRY_STORE(run, store->getRun(id));
        QVERIFY(run && run->completedAt);
        const QDateTime completedAt = *run->completedAt;
        QCOMPARE(completedAt.toMSecsSinceEpoch(), StartMs);

        // Not with a newer fence, not later, not twice.
        m_clockMs->fetch_add(3600'000);
        for (const qint64 fence : {qint64(3), qint64(1000)})
        {
            TRY_STORE(result, store->resume(id, fence, QStringLiteral("again")));
            QCOMPARE(outcomeName(result.outcome), QStringLiteral("not_resumable"));
            QCOMPARE(statusName(result.status), QStringLiteral("finished"));
        }
        TRY_STORE(after, store->getRun(id));
        QCOMPARE(toString(after->status), toString(RunStatus::Finished));
        QCOMPARE(after->goal, QStringLiteral("goal"));
        QVERIFY(after->completedAt);
        QCOMPARE(*after->completedAt, completedAt);
    }

    void cancelTwiceAndUnknown()
    {
        OPEN_STORE(store, m_spec, options());
        const QString id = QStringLiteral("wf-cancel");
        QVERIFY(prepareRun(*store, id, QStringLiteral("running")).isEmpty());

        TRY_STORE(first, store->cancel(id, QStringLiteral("first")));
        QCOMPARE(outcomeName(first.outcome), QStringLiteral("cancelled"));
        QCOMPARE(statusName(first.status), QStringLiteral("stopped"));
        TRY_STORE(second, store->cancel(id, QStringLiteral("second")));
        QCOMPARE(outcomeName(second.outcome), QStringLiteral("noop"));
        QCOMPARE(statusName(second.status), QStringLiteral("stopped"));
        TRY_STORE(run, store->getRun(id));
        QCOMPARE(run->reason, QStringLiteral("first"));

        TRY_STORE(unknownCancel, store->cancel(QStringLiteral("no-such-run"), QString()));
        QCOMPARE(outcomeName(unknownCancel.outcome), QStringLiteral("not_found"));
        QVERIFY(!unknownCancel.status);
        TRY_STORE(unknownResume, store->resume(QStringLiteral("no-such-run"), 5, std::nullopt));
        QCOMPARE(outcomeName(unknownResume.outcome), QStringLiteral("not_found"));
        QVERIFY(!unknownResume.status);
        QVERIFY(!unknownResume.run);
        TRY_STORE(unknownGet, store->getRun(QStringLiteral("no-such-run")));
        QVERIFY(!unknownGet);
        TRY_STORE(unknownTransition,
                  store->transition(QStringLiteral("no-such-run"), 5, RunStatus::Finished, QString()));
        QVERIFY(!unknownTransition);
    }

    void fenceGuards()
    {
        OPEN_STORE(store, m_spec, options());
        const QString id = QStringLiteral("wf-fence");
        TRY_STORE(created, store->createRun(id, QStringLiteral("g"), QStringLiteral("hello"), 5));
        QCOMPARE(created.fence, qint64(5));

        // A resumer holding an older fence is refused even on a resumable run.
        TRY_STORE(stale, store->resume(id, 4, std::nullopt));
        QCOMPARE(outcomeName(stale.outcome), QStringLiteral("not_resumable"));
        QCOMPARE(statusName(stale.status), QStringLiteral("created"));
        QCOMPARE(stale.fence, std::optional<qint64>(5));

        TRY_STORE(resumed, store->resume(id, 5, std::nullopt));
        QCOMPARE(outcomeName(resumed.outcome), QStringLiteral("resumed"));

        // Writes with a lower fence are refused and change nothing.
        TRY_STORE(lowTransition, store->transition(id, 4, RunStatus::Finished, QStringLiteral("late")));
        QVERIFY(!lowTransition);
        TRY_STORE(lowTouch, store->touch(id, 4));
        QVERIFY(!lowTouch);
        TRY_STORE(lowAppend, store->appendEntry(id, 4, chatEntry(QStringLiteral("m1"), QStringLiteral("late"))));
        QVERIFY(!lowAppend);
        TRY_STORE(noEntries, store->entriesSince(id, 0));
        QVERIFY(noEntries.isEmpty());
        TRY_STORE(unchanged, store->getRun(id));
        QCOMPARE(toString(unchanged->status), toString(RunStatus::Running));
        QCOMPARE(unchanged->fence, qint64(5));
        QCOMPARE(unchanged->lastSeq, qint64(0));

        // A newer fence (a later lock holder) may write and is stored.
        TRY_STORE(append, store->appendEntry(id, 6, chatEntry(QStringLiteral("m1"), QStringLiteral("hi"))));
        QCOMPARE(append, std::optional<qint64>(1));
        TRY_STORE(newer, store->transition(id, 7, RunStatus::InputRequired, QString()));
        QVERIFY(newer);
        TRY_STORE(run, store->getRun(id));
        QCOMPARE(run->fence, qint64(7));
        QCOMPARE(toString(run->status), toString(RunStatus::InputRequired));

        // ... and from now on fence 6 is too old, also for resume.
        TRY_STORE(old, store->resume(id, 6, std::nullopt));
        QCOMPARE(outcomeName(old.outcome), QStringLiteral("not_resumable"));
        QCOMPARE(statusName(old.status), QStringLiteral("input_required"));
        QCOMPARE(old.fence, std::optional<qint64>(7));
    }

    void noCasGuardsReproducesTheBug()
    {
        // With guards: the second of two resumes loses.
        {
            OPEN_STORE(a, m_spec, options(true));
            OPEN_STORE(b, m_spec, options(true));
            QVERIFY(prepareRun(*a, QStringLiteral("guarded"), QStringLiteral("input_required")).isEmpty());
            TRY_STORE(first, a->resume(QStringLiteral("guarded"), 3, std::nullopt));
            TRY_STORE(second, b->resume(QStringLiteral("guarded"), 4, std::nullopt));
            QCOMPARE(outcomeName(first.outcome), QStringLiteral("resumed"));
            QCOMPARE(outcomeName(second.outcome), QStringLiteral("not_resumable"));
        }

        // --no-cas-guards: both "succeed" — two executions of one workflow.
        OPEN_STORE(a, m_spec, options(false));
        OPEN_STORE(b, m_spec, options(false));
        const QString id = QStringLiteral("unguarded");
        QVERIFY(prepareRun(*a, id, QStringLiteral("input_required")).isEmpty());
        TRY_STORE(first, a->resume(id, 3, std::nullopt));
        TRY_STORE(second, b->resume(id, 4, std::nullopt));
        QCOMPARE(outcomeName(first.outcome), QStringLiteral("resumed"));
        QCOMPARE(outcomeName(second.outcome), QStringLiteral("resumed"));

        // The older holder's writes go through too, and its fence overwrites the newer one.
        TRY_STORE(lateAppend, a->appendEntry(id, 3, chatEntry(QStringLiteral("m"), QStringLiteral("x"))));
        QVERIFY(lateAppend);
        TRY_STORE(lateTransition, a->transition(id, 3, RunStatus::Finished, QString()));
        QVERIFY(lateTransition);
        TRY_STORE(run, a->getRun(id));
        QCOMPARE(run->fence, qint64(3));

        // A finished run is resumed and cancelled again; unknown IDs are still not found.
        TRY_STORE(resumeFinished, b->resume(id, 1, std::nullopt));
        QCOMPARE(outcomeName(resumeFinished.outcome), QStringLiteral("resumed"));
        TRY_STORE(transitionAgain, b->transition(id, 1, RunStatus::Finished, QString()));
        QVERIFY(transitionAgain);
        TRY_STORE(cancelFinished, b->cancel(id, QString()));
        QCOMPARE(outcomeName(cancelFinished.outcome), QStringLiteral("cancelled"));
        TRY_STORE(unknown, b->resume(QStringLiteral("nope"), 1, std::nullopt));
        QCOMPARE(outcomeName(unknown.outcome), QStringLiteral("not_found"));
        TRY_STORE(unknownCancel, b->cancel(QStringLiteral("nope"), QString()));
        QCOMPARE(outcomeName(unknownCancel.outcome), QStringLiteral("not_found"));
    }

    void transitionOnCancelledRun()
    {
        OPEN_STORE(executor, m_spec, options());
        OPEN_STORE(http, m_spec, options());
        const QString id = QStringLiteral("wf-cancelled");
        QVERIFY(prepareRun(*executor, id, QStringLiteral("running")).isEmpty());
        TRY_STORE(cancelled, http->cancel(id, QStringLiteral("stop")));
        QCOMPARE(outcomeName(cancelled.outcome), QStringLiteral("cancelled"));

        // The executor's next writes miss: it must stop.
        TRY_STORE(finished, executor->transition(id, 2, RunStatus::Finished, QString()));
        QVERIFY(!finished);
        TRY_STORE(touched, executor->touch(id, 2));
        QVERIFY(!touched);
        TRY_STORE(appended, executor->appendEntry(id, 2, chatEntry(QStringLiteral("m"), QStringLiteral("late"))));
        QVERIFY(!appended);
        TRY_STORE(run, executor->getRun(id));
        QCOMPARE(toString(run->status), toString(RunStatus::Stopped));
        QCOMPARE(run->reason, QStringLiteral("stop"));
        QCOMPARE(run->lastSeq, qint64(0));
    }

    void transitionTargets()
    {
        OPEN_STORE(store, m_spec, options());
        const QString id = QStringLiteral("wf-targets");
        QVERIFY(prepareRun(*store, id, QStringLiteral("running")).isEmpty());
        QVERIFY(!store->transition(id, 2, RunStatus::Running, QString()));
        QVERIFY(!store->transition(id, 2, RunStatus::Created, QString()));

        // Waits and pauses leave completed_at empty; finals set it.
        TRY_STORE(paused, store->transition(id, 2, RunStatus::Paused, QStringLiteral("socket closed")));
        QVERIFY(paused);
        TRY_STORE(run, store->getRun(id));
        QCOMPARE(toString(run->status), toString(RunStatus::Paused));
        QCOMPARE(run->reason, QStringLiteral("socket closed"));
        QVERIFY(!run->completedAt);
        // paused is not running: the executor's guard misses until a resume.
        TRY_STORE(again, store->transition(id, 2, RunStatus::Failed, QString()));
        QVERIFY(!again);
        TRY_STORE(resumed, store->resume(id, 3, std::nullopt));
        QCOMPARE(outcomeName(resumed.outcome), QStringLiteral("resumed"));
        TRY_STORE(failed, store->transition(id, 3, RunStatus::Failed, QStringLiteral("tool crashed")));
        QVERIFY(failed);
        TRY_STORE(failedRun, store->getRun(id));
        QVERIFY(!failedRun->completedAt);
        QCOMPARE(failedRun->reason, QStringLiteral("tool crashed"));
    }

    void chatLogSequence()
    {
        OPEN_STORE(store, m_spec, options());
        const QString id = QStringLiteral("wf-chat");
        QVERIFY(prepareRun(*store, id, QStringLiteral("running")).isEmpty());

        QList<qint64> seqs;
        for (const char *message : {"m1", "m2", "m3"})
        {
            TRY_STORE(seq, store->appendEntry(id, 2, chatEntry(QString::fromLatin1(message), QStringLiteral("v1"))));
            QVERIFY(seq);
            seqs.append(*seq);
        }
        // m2 changes (a tool call got its result): it moves to the end with a new seq.
        TRY_STORE(replaced, store->appendEntry(id, 2, chatEntry(QStringLiteral("m2"), QStringLiteral("v2"))));
        QVERIFY(replaced);
        seqs.append(*replaced);
        QCOMPARE(seqs, (QList<qint64>{1, 2, 3, 4}));

        TRY_STORE(all, store->entriesSince(id, 0));
        QCOMPARE(all.size(), 3);
        QCOMPARE(all.at(0).seq, qint64(1));
        QCOMPARE(all.at(0).entry.value(QStringLiteral("message_id")).toString(), QStringLiteral("m1"));
        QCOMPARE(all.at(1).seq, qint64(3));
        QCOMPARE(all.at(1).entry.value(QStringLiteral("message_id")).toString(), QStringLiteral("m3"));
        QCOMPARE(all.at(2).seq, qint64(4));
        QCOMPARE(all.at(2).entry, chatEntry(QStringLiteral("m2"), QStringLiteral("v2")));

        TRY_STORE(delta, store->entriesSince(id, 3));
        QCOMPARE(delta.size(), 1);
        QCOMPARE(delta.at(0).entry.value(QStringLiteral("content")).toString(), QStringLiteral("v2"));
        TRY_STORE(none, store->entriesSince(id, 4));
        QVERIFY(none.isEmpty());
        TRY_STORE(run, store->getRun(id));
        QCOMPARE(run->lastSeq, qint64(4));

        // Entries without a message_id are refused before they reach the database.
        QVERIFY(!store->appendEntry(id, 2, QJsonObject{{QStringLiteral("content"), QStringLiteral("x")}}));
        QVERIFY(!store->appendEntry(id, 2, QJsonObject{{QStringLiteral("message_id"), 7}}));
        TRY_STORE(after, store->getRun(id));
        QCOMPARE(after->lastSeq, qint64(4));
    }

    void concurrentAppendsHaveNoGaps()
    {
        const QString id = QStringLiteral("wf-appends");
        {
            OPEN_STORE(store, m_spec, options());
            QVERIFY(prepareRun(*store, id, QStringLiteral("running")).isEmpty());
        }
        constexpr int Threads = 8;
        constexpr int PerThread = 20;
        std::latch ready(Threads);
        std::vector<std::vector<qint64>> seqs(Threads);
        std::vector<QString> errors(Threads);
        std::vector<std::thread> threads;
        const StoreOptions opts = options();
        for (int t = 0; t < Threads; ++t)
        {
            threads.emplace_back([&, t] {
                auto store = RunStore::open(m_spec, opts);
                ready.arrive_and_wait();
                if (!store)
                {
                    errors[t] = store.error().message;
                    return;
                }
                for (int i = 0; i < PerThread; ++i)
                {
                    const auto seq =
                        (*store)->appendEntry(id, 2, chatEntry(QStringLiteral("t%1-m%2").arg(t).arg(i), QString()));
                    if (!seq || !*seq)
                    {
                        errors[t] = seq ? QStringLiteral("guard missed") : seq.error().message;
                        return;
                    }
                    seqs[t].push_back(**seq);
                }
            });
        }
        for (std::thread &thread : threads)
            thread.join();

        QSet<qint64> all;
        for (int t = 0; t < Threads; ++t)
        {
            QVERIFY2(errors[t].isEmpty(), qPrintable(errors[t]));
            // Strictly increasing per writer ...
            for (size_t i = 1; i < seqs[t].size(); ++i)
                QVERIFY(seqs[t][i] > seqs[t][i - 1]);
            for (const qint64 seq : seqs[t])
                all.insert(seq);
        }
        // ... and together exactly 1..N: no duplicates, no gaps.
        QCOMPARE(all.size(), Threads * PerThread);
        for (qint64 seq = 1; seq <= Threads * PerThread; ++seq)
            QVERIFY(all.contains(seq));
    }

    void injectionLookingIdsAreHarmless()
    {
        OPEN_STORE(store, m_spec, options());
        QVERIFY(prepareRun(*store, QStringLiteral("bystander"), QStringLiteral("created")).isEmpty());
        const QStringList ids = {
            QStringLiteral("'; DROP TABLE runs; --"),
            QStringLiteral("x' OR '1'='1"),
            QStringLiteral("Robert\"); DROP TABLE chat_entries;--"),
            QStringLiteral(":fence"),
            QStringLiteral("?"),
            QStringLiteral("$1"),
            QStringLiteral("back\\slash\\'"),
            QStringLiteral("%_%"),
            QStringLiteral("日本語-ワークフロー"),
        };
        for (const QString &id : ids)
        {
            TRY_STORE(created, store->createRun(id, id, id, 1));
            QCOMPARE(created.workflowId, id);
            TRY_STORE(fetched, store->getRun(id));
            QVERIFY2(fetched, qPrintable(id));
            QCOMPARE(fetched->workflowId, id);
            QCOMPARE(fetched->goal, id);
            QCOMPARE(fetched->flow, id);
            TRY_STORE(resumed, store->resume(id, 2, id));
            QCOMPARE(outcomeName(resumed.outcome), QStringLiteral("resumed"));
            TRY_STORE(seq, store->appendEntry(id, 2, chatEntry(id, id)));
            QCOMPARE(seq, std::optional<qint64>(1));
            TRY_STORE(entries, store->entriesSince(id, 0));
            QCOMPARE(entries.size(), 1);
            QCOMPARE(entries.at(0).entry.value(QStringLiteral("message_id")).toString(), id);
            TRY_STORE(cancelled, store->cancel(id, id));
            QCOMPARE(outcomeName(cancelled.outcome), QStringLiteral("cancelled"));
        }

        // The tables are still there and nothing else was touched.
        TRY_STORE(runs, store->listRuns(std::nullopt, 100));
        QCOMPARE(runs.size(), ids.size() + 1);
        TRY_STORE(bystander, store->getRun(QStringLiteral("bystander")));
        QVERIFY(bystander);
        QCOMPARE(toString(bystander->status), toString(RunStatus::Created));
        QCOMPARE(bystander->fence, qint64(1));
        TRY_STORE(stopped, store->listRuns(RunStatus::Stopped, 100));
        QCOMPARE(stopped.size(), ids.size());
        QSet<QString> stoppedIds;
        for (const Run &run : stopped)
            stoppedIds.insert(run.workflowId);
        QCOMPARE(stoppedIds, QSet<QString>(ids.cbegin(), ids.cend()));
    }

    void badIdsAreRefused()
    {
        OPEN_STORE(store, m_spec, options());
        QVERIFY(!store->createRun(QString(), QString(), QString(), 1));
        QVERIFY(!store->createRun(QString(300, u'x'), QString(), QString(), 1));
        QVERIFY(!store->createRun(QString::fromUtf16(u"nul\0byte", 8), QString(), QString(), 1));
        QVERIFY(!store->resume(QString(), 1, std::nullopt));
        QVERIFY(!store->cancel(QStringLiteral("line\nbreak"), QString()));
        // A duplicate ID is an error, not an overwrite.
        QVERIFY(prepareRun(*store, QStringLiteral("dup"), QStringLiteral("running")).isEmpty());
        const auto duplicate = store->createRun(QStringLiteral("dup"), QStringLiteral("other"), QString(), 9);
        QVERIFY(!duplicate);
        QVERIFY2(duplicate.error().message.contains(QStringLiteral("already exists")),
                 qPrintable(duplicate.error().message));
        TRY_STORE(run, store->getRun(QStringLiteral("dup")));
        QCOMPARE(toString(run->status), toString(RunStatus::Running));
        QCOMPARE(run->goal, QStringLiteral("goal"));
    }

    void concurrentResumers()
    {
        // 50 resumers, each with its own connection, released together: exactly
        // one wins; the others see the winner's `running`. Three rounds.
        constexpr int Clients = 50;
        const QString id = QStringLiteral("wf-race");
        OPEN_STORE(owner, m_spec, options());
        QVERIFY(prepareRun(*owner, id, QStringLiteral("input_required")).isEmpty());

        const StoreOptions opts = options();
        std::vector<QString> errors(Clients);
        std::atomic<qint64> nextFence{100};

        constexpr int Rounds = 3;
        std::vector<std::unique_ptr<std::latch>> starts;
        std::vector<std::unique_ptr<std::latch>> ends;
        for (int r = 0; r < Rounds; ++r)
        {
            starts.push_back(std::make_unique<std::latch>(Clients + 1));
            ends.push_back(std::make_unique<std::latch>(Clients + 1));
        }
        std::vector<std::vector<std::optional<ResumeResult>>> perRound(
            Rounds, std::vector<std::optional<ResumeResult>>(Clients));

        std::vector<std::thread> threads;
        for (int c = 0; c < Clients; ++c)
        {
            threads.emplace_back([&, c] {
                auto store = RunStore::open(m_spec, opts);
                if (!store)
                    errors[c] = store.error().message;
                for (int r = 0; r < Rounds; ++r)
                {
                    starts[r]->arrive_and_wait();
                    if (store)
                    {
                        const auto result = (*store)->resume(id, nextFence.fetch_add(1), std::nullopt);
                        if (result)
                            perRound[r][c] = *result;
                        else
                            errors[c] = result.error().message;
                    }
                    ends[r]->arrive_and_wait();
                }
            });
        }

        QString failure;
        for (int r = 0; r < Rounds && failure.isEmpty(); ++r)
        {
            starts[r]->arrive_and_wait();
            ends[r]->arrive_and_wait();
            int wins = 0;
            qint64 winnerFence = 0;
            for (int c = 0; c < Clients; ++c)
            {
                if (!errors[c].isEmpty())
                {
                    failure = QStringLiteral("client %1: %2").arg(c).arg(errors[c]);
                    break;
                }
                const auto &result = perRound[r][c];
                if (!result)
                {
                    failure = QStringLiteral("client %1 has no result").arg(c);
                    break;
                }
                if (result->outcome == ResumeOutcome::Resumed)
                {
                    ++wins;
                    winnerFence = result->run->fence;
                }
                else if ((result->outcome != ResumeOutcome::NotResumable) || (result->status != RunStatus::Running))
                {
                    failure = QStringLiteral("round %1 client %2: %3 (%4)")
                                  .arg(r)
                                  .arg(c)
                                  .arg(outcomeName(result->outcome), statusName(result->status));
                    break;
                }
            }
            if (failure.isEmpty() && (wins != 1))
                failure = QStringLiteral("round %1: %2 winners").arg(r).arg(wins);
            // Next round: the winner ends its turn.
            if (failure.isEmpty())
            {
                const auto moved = owner->transition(id, winnerFence, RunStatus::InputRequired, QString());
                if (!moved || !*moved)
                    failure = QStringLiteral("the winner (fence %1) could not end its turn").arg(winnerFence);
            }
        }
        // Release the threads of rounds not played, then join.
        for (int r = 0; r < Rounds; ++r)
        {
            if (starts[r]->try_wait())
                continue;
            starts[r]->count_down();
            ends[r]->count_down();
        }
        for (std::thread &thread : threads)
            thread.join();
        QVERIFY2(failure.isEmpty(), qPrintable(failure));
    }

    void listRuns()
    {
        OPEN_STORE(store, m_spec, options());
        for (int i = 0; i < 5; ++i)
        {
            QVERIFY(store->createRun(QStringLiteral("run-%1").arg(i), QString(), QStringLiteral("hello"), 1));
            m_clockMs->fetch_add(10);
        }
        QVERIFY(store->resume(QStringLiteral("run-1"), 2, std::nullopt));

        TRY_STORE(all, store->listRuns(std::nullopt, 1000));
        QStringList order;
        for (const Run &run : all)
            order.append(run.workflowId);
        QCOMPARE(order, (QStringList{QStringLiteral("run-1"), QStringLiteral("run-4"), QStringLiteral("run-3"),
                                     QStringLiteral("run-2"), QStringLiteral("run-0")}));
        TRY_STORE(limited, store->listRuns(std::nullopt, 2));
        QCOMPARE(limited.size(), 2);
        TRY_STORE(running, store->listRuns(RunStatus::Running, 10));
        QCOMPARE(running.size(), 1);
        QCOMPARE(running.first().workflowId, QStringLiteral("run-1"));
        TRY_STORE(created, store->listRuns(RunStatus::Created, 10));
        QCOMPARE(created.size(), 4);
        QVERIFY(created.first().goal.isEmpty());
        QVERIFY(!store->listRuns(std::nullopt, 0));
        QVERIFY(!store->listRuns(std::nullopt, 1001));
    }

    void fencesFromTheStore()
    {
        OPEN_STORE(a, m_spec, options());
        OPEN_STORE(b, m_spec, options());
        qint64 last = 0;
        for (int i = 0; i < 10; ++i)
        {
            TRY_STORE(fence, ((i % 2) ? a : b)->nextFence(0));
            QVERIFY(fence > last);
            last = fence;
        }
        QCOMPARE(last, qint64(10));
        // Persisted: a new instance continues.
        OPEN_STORE(c, m_spec, options());
        TRY_STORE(next, c->nextFence(0));
        QCOMPARE(next, qint64(11));
    }

    // A drive without a lock takes its fence from the counter, above the run's
    // own fence (which may have come from a lock store).
    void nextFenceAboveAFloor()
    {
        OPEN_STORE(store, m_spec, options());
        TRY_STORE(first, store->nextFence(0));
        TRY_STORE(raised, store->nextFence(first + 1000));
        QCOMPARE(raised, first + 1001);
        TRY_STORE(next, store->nextFence(5));
        QCOMPARE(next, raised + 1);
        TRY_STORE(negative, store->nextFence(-7));
        QCOMPARE(negative, next + 1);
    }

    // PostgreSQL cannot keep a NUL in text and SQLite can: both refuse it as
    // bad input, and nothing is written.
    void nulInTextIsInvalidInput()
    {
        OPEN_STORE(store, m_spec, options());
        const QString nul = QStringLiteral("a") + QChar(u'\0') + QStringLiteral("b");
        const auto created = store->createRun(QStringLiteral("wf-nul"), nul, QStringLiteral("hello"), 1);
        QVERIFY(!created);
        QCOMPARE(int(created.error().kind), int(StoreError::Kind::InvalidInput));
        QVERIFY2(created.error().message.contains(u"NUL"), qPrintable(created.error().message));
        QVERIFY2(!created.error().message.contains(u"INSERT"), qPrintable(created.error().message));
        TRY_STORE(absent, store->getRun(QStringLiteral("wf-nul")));
        QVERIFY(!absent);

        QVERIFY(prepareRun(*store, QStringLiteral("wf-nul2"), QStringLiteral("input_required")).isEmpty());
        const auto resumed = store->resume(QStringLiteral("wf-nul2"), 5, nul);
        QVERIFY(!resumed);
        QCOMPARE(int(resumed.error().kind), int(StoreError::Kind::InvalidInput));
        const auto cancelled = store->cancel(QStringLiteral("wf-nul2"), nul);
        QVERIFY(!cancelled);
        QCOMPARE(int(cancelled.error().kind), int(StoreError::Kind::InvalidInput));
        TRY_STORE(run, store->getRun(QStringLiteral("wf-nul2")));
        QVERIFY(run);
        QCOMPARE(toString(run->status), QStringLiteral("input_required"));
        QCOMPARE(run->fence, qint64(2));

        // A taken ID is its own kind, not a database failure.
        const auto duplicate =
            store->createRun(QStringLiteral("wf-nul2"), QStringLiteral("x"), QStringLiteral("hello"), 1);
        QVERIFY(!duplicate);
        QCOMPARE(int(duplicate.error().kind), int(StoreError::Kind::Exists));
    }

    // --no-fencing: writes ignore the fence, the status guards stay.
    void fencingOffKeepsStatusGuards()
    {
        StoreOptions unfenced = options();
        unfenced.fencing = false;
        OPEN_STORE(store, m_spec, unfenced);
        QVERIFY(prepareRun(*store, QStringLiteral("wf-unfenced"), QStringLiteral("running")).isEmpty());  // fence 2
        TRY_STORE(appended, store->appendEntry(QStringLiteral("wf-unfenced"), 1,
                                               chatEntry(QStringLiteral("m1"), QStringLiteral("old writer"))));
        QVERIFY(appended.has_value());
        TRY_STORE(moved, store->transition(QStringLiteral("wf-unfenced"), 1, RunStatus::InputRequired,
                                           QStringLiteral("turn")));
        QVERIFY(moved);
        // The status guard still holds: not running any more, so no write.
        TRY_STORE(late, store->appendEntry(QStringLiteral("wf-unfenced"), 1,
                                           chatEntry(QStringLiteral("m2"), QStringLiteral("too late"))));
        QVERIFY(!late.has_value());
        // And a resume of a running run still misses.
        TRY_STORE(resumed, store->resume(QStringLiteral("wf-unfenced"), 1, std::nullopt));
        QCOMPARE(outcomeName(resumed.outcome), QStringLiteral("resumed"));
        TRY_STORE(again, store->resume(QStringLiteral("wf-unfenced"), 7, std::nullopt));
        QCOMPARE(outcomeName(again.outcome), QStringLiteral("not_resumable"));

        // With fencing on, the same lower-fence write misses.
        OPEN_STORE(fenced, m_spec, options());
        QVERIFY(prepareRun(*fenced, QStringLiteral("wf-fenced"), QStringLiteral("running")).isEmpty());
        TRY_STORE(refused, fenced->appendEntry(QStringLiteral("wf-fenced"), 1,
                                               chatEntry(QStringLiteral("m1"), QStringLiteral("old writer"))));
        QVERIFY(!refused.has_value());
    }

    void migrationsAreIdempotent()
    {
        {
            OPEN_STORE(first, m_spec, options());
            TRY_STORE(version, first->schemaVersion());
            QCOMPARE(version, RunStore::latestSchemaVersion());
            QVERIFY(prepareRun(*first, QStringLiteral("kept"), QStringLiteral("paused")).isEmpty());
        }
        OPEN_STORE(second, m_spec, options());
        TRY_STORE(version, second->schemaVersion());
        QCOMPARE(version, RunStore::latestSchemaVersion());
        TRY_STORE(kept, second->getRun(QStringLiteral("kept")));
        QVERIFY(kept);
        QCOMPARE(toString(kept->status), toString(RunStatus::Paused));

        RawConnection raw(m_spec);
        QString error;
        QCOMPARE(raw.scalar(QStringLiteral("SELECT COUNT(*) FROM schema_version"), &error).toInt(),
                 int(migrations().size()));
        QVERIFY2(error.isEmpty(), qPrintable(error));
        QCOMPARE(raw.scalar(QStringLiteral("SELECT MAX(version) FROM schema_version")).toInt(),
                 RunStore::latestSchemaVersion());
        QCOMPARE(raw.scalar(QStringLiteral("SELECT COUNT(*) FROM fence_counter")).toInt(), 1);
    }

    void concurrentOpensOfAFreshDatabase()
    {
        // Two gateways starting against one empty database must not break
        // the schema (advisory lock on PostgreSQL, BEGIN IMMEDIATE on SQLite).
        constexpr int Openers = 8;
        std::latch go(Openers);
        std::vector<QString> errors(Openers);
        std::vector<std::thread> threads;
        const StoreOptions opts = options();
        for (int i = 0; i < Openers; ++i)
        {
            threads.emplace_back([&, i] {
                go.arrive_and_wait();
                const auto store = RunStore::open(m_spec, opts);
                if (!store)
                    errors[i] = store.error().message;
            });
        }
        for (std::thread &thread : threads)
            thread.join();
        for (const QString &error : errors)
            QVERIFY2(error.isEmpty(), qPrintable(error));

        RawConnection raw(m_spec);
        QCOMPARE(raw.scalar(QStringLiteral("SELECT COUNT(*) FROM schema_version")).toInt(), int(migrations().size()));
        QCOMPARE(raw.scalar(QStringLiteral("SELECT COUNT(*) FROM fence_counter")).toInt(), 1);
    }

    void newerSchemaIsRefused()
    {
        {
            OPEN_STORE(store, m_spec, options());
        }
        {
            RawConnection raw(m_spec);
            QVERIFY(raw.exec(QStringLiteral("INSERT INTO schema_version (version, description, applied_at)"
                                            " VALUES (999, 'from the future', 0)")));
        }
        const auto opened = RunStore::open(m_spec, options());
        QVERIFY(!opened);
        QVERIFY2(opened.error().message.contains(QStringLiteral("999")), qPrintable(opened.error().message));
    }

    void openFailuresAreErrors()
    {
        QFETCH_GLOBAL(QString, backend);
        QStringList specs;
        if (backend == u"sqlite")
        {
            // A directory where the file should be; a file that is not a database.
            specs.append(QStringLiteral("sqlite:") + m_sqliteDir.path());
            const QString garbage = m_sqliteDir.filePath(QStringLiteral("garbage-%1.db").arg(m_counter));
            QFile file(garbage);
            QVERIFY(file.open(QIODevice::WriteOnly));
            file.write(QByteArray(8192, 'x'));
            file.close();
            specs.append(QStringLiteral("sqlite:") + garbage);
        }
        else
        {
            // Nobody listens on that port; an unknown database; a bad parameter.
            QTcpServer probe;
            QVERIFY(probe.listen(QHostAddress::LocalHost, 0));
            const quint16 closedPort = probe.serverPort();
            probe.close();
            specs.append(
                QStringLiteral("postgresql://postgres:s3cr%3Ft@127.0.0.1:%1/x?connect_timeout=2").arg(closedPort));
            specs.append(
                QStringLiteral("postgresql://postgres:s3cr%3Ft@127.0.0.1:%1/no_such_db").arg(m_postgres->port()));
            specs.append(QStringLiteral("postgresql://postgres:s3cr%3Ft@127.0.0.1:%1/x?sslmode=require&bogus=1")
                             .arg(m_postgres->port()));
        }
        for (const QString &spec : std::as_const(specs))
        {
            const auto opened = RunStore::open(spec, options());
            QVERIFY2(!opened, qPrintable(spec));
            const QString message = opened.error().message;
            QVERIFY2(!message.isEmpty(), qPrintable(spec));
            QVERIFY2(!message.contains(QStringLiteral("s3cr")), qPrintable(message));
        }
        QVERIFY(!RunStore::open(QStringLiteral("mysql://x"), options()));
        StoreOptions zeroStale = options();
        zeroStale.staleAfter = 0ms;
        QVERIFY(!RunStore::open(m_spec, zeroStale));
    }

    void databaseGoesAway()
    {
        if (!isPostgres())
            QSKIP("SQLite is embedded: it cannot go away under an open connection");

        OPEN_STORE(store, m_spec, options());
        const QString id = QStringLiteral("wf-away");
        QVERIFY(prepareRun(*store, id, QStringLiteral("running")).isEmpty());

        QVERIFY(m_postgres->stop());
        // Every call answers with an error; none crashes or hangs.
        const auto resumed = store->resume(id, 3, std::nullopt);
        QVERIFY(!resumed);
        QVERIFY(!resumed.error().message.isEmpty());
        // What a client may read: the class of the problem, no SQL.
        QCOMPARE(int(resumed.error().kind), int(StoreError::Kind::Failed));
        QVERIFY2(resumed.error().message.contains(u"unreachable"), qPrintable(resumed.error().message));
        QVERIFY2(!resumed.error().message.contains(u"UPDATE", Qt::CaseInsensitive),
                 qPrintable(resumed.error().message));
        QCOMPARE(resumed.error().shortText(), QStringLiteral("the database is unreachable"));
        QVERIFY(!store->cancel(id, QString()));
        QVERIFY(!store->transition(id, 2, RunStatus::Finished, QString()));
        QVERIFY(!store->appendEntry(id, 2, chatEntry(QStringLiteral("m"), QString())));
        QVERIFY(!store->getRun(id));
        QVERIFY(!store->listRuns(std::nullopt, 10));
        QVERIFY(!store->ping());
        QVERIFY(!RunStore::open(m_spec, options()));

        // When the database is back, the same instance reconnects.
        QVERIFY2(m_postgres->start(), qPrintable(m_postgres->errorString()));
        TRY_STORE(pinged, store->ping());
        Q_UNUSED(pinged);
        TRY_STORE(run, store->getRun(id));
        QVERIFY(run);
        QCOMPARE(toString(run->status), toString(RunStatus::Running));
        TRY_STORE(touched, store->touch(id, 2));
        QVERIFY(touched);
        // Statements prepared on the lost connection are prepared afresh.
        TRY_STORE(createdAfter, store->createRun(QStringLiteral("wf-after"), QString(), QString(), 1));
        Q_UNUSED(createdAfter);
        TRY_STORE(resumedAfter, store->resume(QStringLiteral("wf-after"), 4, std::nullopt));
        QCOMPARE(outcomeName(resumedAfter.outcome), QStringLiteral("resumed"));
    }

private:
    std::unique_ptr<Test::TempPostgres> m_postgres;
    QTemporaryDir m_sqliteDir;
    QString m_spec;
    int m_counter = 0;
    // The injected clock (shared with store threads; outlives every store).
    std::shared_ptr<std::atomic<qint64>> m_clockMs = std::make_shared<std::atomic<qint64>>(StartMs);
};

QTEST_GUILESS_MAIN(TestRunStore)
#include "tst_runstore.moc"
