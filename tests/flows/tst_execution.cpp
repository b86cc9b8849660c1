#include <atomic>
#include <memory>

#include <QJsonArray>
#include <QJsonDocument>
#include <QSet>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>

#include "flows/execution.h"
#include "flows/flowlibrary.h"
#include "protocol/chatlog.h"
#include "store/runstore.h"
#include "store/storeworker.h"

using namespace Lockstep;
using namespace Lockstep::Flows;
using Lockstep::Store::RunStore;
using Lockstep::Store::StoredEntry;

namespace
{
    constexpr int Timeout = 20000;  // generous: behaviour, not time

    // What one execution signalled, and whether every entry was already in
    // the store when its signal arrived.
    struct Recorder
    {
        QList<StoredEntry> entries;
        QList<std::pair<RunStatus, QString>> statuses;
        int finishedCount = 0;
        std::optional<StopCause> cause;
        std::optional<RunStatus> finalStatus;
        QStringList problems;  // checks that failed inside slots
        bool signalAfterFinished = false;

        void attach(Execution &execution, RunStore &store)
        {
            QObject::connect(&execution, &Execution::entryPersisted, &execution,
                             [this, &store, &execution](const QString &id, const StoredEntry &entry) {
                                 if (id != execution.workflowId())
                                     problems.append(QStringLiteral("entryPersisted for another workflow"));
                                 if (finishedCount > 0)
                                     signalAfterFinished = true;
                                 // Persisted before signalled: the store already holds this seq with this content.
                                 const auto stored = store.entriesSince(id, entry.seq - 1);
                                 if (!stored || stored->isEmpty() || stored->first().seq != entry.seq ||
                                     stored->first().entry != entry.entry)
                                     problems.append(QStringLiteral("entry seq ") + QString::number(entry.seq) +
                                                     QStringLiteral(" signalled before it was stored"));
                                 entries.append(entry);
                             });
            QObject::connect(&execution, &Execution::statusChanged, &execution,
                             [this, &store](const QString &id, RunStatus status, const QString &reason) {
                                 if (finishedCount > 0)
                                     signalAfterFinished = true;
                                 const auto run = store.getRun(id);
                                 if (!run || !run.value() || run.value()->status != status)
                                     problems.append(QStringLiteral("status ") + toString(status) +
                                                     QStringLiteral(" signalled before it was stored"));
                                 statuses.append({status, reason});
                             });
            QObject::connect(&execution, &Execution::finished, &execution,
                             [this](const QString &, StopCause stopCause, RunStatus status) {
                                 ++finishedCount;
                                 cause = stopCause;
                                 finalStatus = status;
                             });
        }

        QStringList ids() const
        {
            QStringList list;
            for (const StoredEntry &entry : entries)
                list.append(entry.entry.value(QStringLiteral("message_id")).toString());
            return list;
        }
    };

    QString field(const StoredEntry &entry, const QString &name)
    {
        return entry.entry.value(name).toString();
    }

    QString toolResponse(const StoredEntry &entry)
    {
        return entry.entry.value(QStringLiteral("tool_info"))
            .toObject()
            .value(QStringLiteral("tool_response"))
            .toString();
    }

    // Wraps the real SQLite store and makes one kind of call fail from some
    // point on: the only way to see the executor fail safe on a store error.
    class FaultInjectingStore final : public RunStore
    {
    public:
        explicit FaultInjectingStore(RunStore &real)
            : m_real(real)
        {}

        int failAppendAfter = -1;  // appendEntry calls that succeed before the failures start; -1: never fail
        int appendCalls = 0;

        QString kind() const override
        {
            return m_real.kind();
        }
        Store::StoreResult<Ok> ping() override
        {
            return m_real.ping();
        }
        Store::StoreResult<int> schemaVersion() override
        {
            return m_real.schemaVersion();
        }
        Store::StoreResult<qint64> nextFence(qint64 above) override
        {
            return m_real.nextFence(above);
        }
        Store::StoreResult<Store::Run> createRun(const QString &id, const QString &goal, const QString &flow,
                                                 qint64 fence) override
        {
            return m_real.createRun(id, goal, flow, fence);
        }
        Store::StoreResult<std::optional<Store::Run>> getRun(const QString &id) override
        {
            return m_real.getRun(id);
        }
        Store::StoreResult<QList<Store::Run>> listRuns(std::optional<RunStatus> status, int limit) override
        {
            return m_real.listRuns(status, limit);
        }
        Store::StoreResult<Store::ResumeResult> resume(const QString &id, qint64 fence,
                                                       const std::optional<QString> &goal) override
        {
            return m_real.resume(id, fence, goal);
        }
        Store::StoreResult<Store::CancelResult> cancel(const QString &id, const QString &reason) override
        {
            return m_real.cancel(id, reason);
        }
        Store::StoreResult<bool> transition(const QString &id, qint64 fence, RunStatus to,
                                            const QString &reason) override
        {
            return m_real.transition(id, fence, to, reason);
        }
        Store::StoreResult<bool> touch(const QString &id, qint64 fence) override
        {
            return m_real.touch(id, fence);
        }
        Store::StoreResult<std::optional<qint64>> appendEntry(const QString &id, qint64 fence,
                                                              const QJsonObject &entry) override
        {
            if (failAppendAfter >= 0 && appendCalls++ >= failAppendAfter)
                return unexpected(Store::StoreError{QStringLiteral("disk I/O error (injected)")});
            return m_real.appendEntry(id, fence, entry);
        }
        Store::StoreResult<QList<StoredEntry>> entriesSince(const QString &id, qint64 afterSeq) override
        {
            return m_real.entriesSince(id, afterSeq);
        }
        Store::WorkspaceStore &workspaces() override
        {
            return m_real.workspaces();
        }

    private:
        RunStore &m_real;
    };
}  // namespace

class TestExecution : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<RunStore> m_store;
    std::unique_ptr<Lockstep::Store::StoreWorker> m_worker;  // in place, over m_store
    FlowLibrary m_library;
    std::atomic<qint64> m_clockMs{0};  // 0: system clock

    QString dbSpec() const
    {
        return QStringLiteral("sqlite:") + m_dir->filePath(QStringLiteral("runs.db"));
    }

    // A second connection to the same database: "another replica".
    std::unique_ptr<RunStore> openOther(std::chrono::milliseconds staleAfter = std::chrono::milliseconds{90000})
    {
        auto other = RunStore::open(dbSpec(), Store::StoreOptions{.staleAfter = staleAfter});
        if (!other)
            qFatal("cannot open a second store: %s", qPrintable(other.error().message));
        return std::move(other).value();
    }

    Flow flow(const QString &name) const
    {
        const auto found = m_library.find(name);
        if (!found)
            qFatal("no flow %s", qPrintable(name));
        return *found;
    }

    static Flow flowFrom(const QString &name, const QByteArray &json)
    {
        auto parsed = Flow::parse(json, name + QStringLiteral(".json"));
        if (!parsed)
            qFatal("bad test flow: %s", qPrintable(parsed.error().toString()));
        return std::move(parsed).value();
    }

    // A new run, resumed by `fence` (status running), as the gateway does it.
    Store::Run startRun(const QString &id, const QString &flowName, const QString &goal, qint64 fence)
    {
        const auto created = m_store->createRun(id, goal, flowName, fence);
        if (!created)
            qFatal("createRun: %s", qPrintable(created.error().message));
        return resumeRun(id, fence, std::nullopt);
    }

    Store::Run resumeRun(const QString &id, qint64 fence, const std::optional<QString> &goal)
    {
        const auto resumed = m_store->resume(id, fence, goal);
        if (!resumed || resumed->outcome != Store::ResumeOutcome::Resumed || !resumed->run)
            qFatal("resume of %s failed", qPrintable(id));
        return *resumed->run;
    }

    QList<StoredEntry> storedEntries(const QString &id)
    {
        const auto entries = m_store->entriesSince(id, 0);
        if (!entries)
            qFatal("entriesSince: %s", qPrintable(entries.error().message));
        return entries.value();
    }

    Store::Run storedRun(const QString &id)
    {
        const auto run = m_store->getRun(id);
        if (!run || !run.value())
            qFatal("getRun %s failed", qPrintable(id));
        return *run.value();
    }

    // The `approval` flow's first turn, run to its request (t1-s1), then
    // resumed with fence 2: the run as the approving drive gets it.
    Store::Run untilApproval(const QString &id)
    {
        const Store::Run run = startRun(id, QStringLiteral("approval"), QStringLiteral("make a greeting script"), 1);
        Execution first(*m_worker, run, flow(QStringLiteral("approval")), 1, fast());
        Recorder recorder;
        runToEnd(first, recorder);
        if (recorder.finalStatus != RunStatus::PlanApprovalRequired)
            qFatal("the approval flow did not stop at its request");
        return resumeRun(id, 2, std::nullopt);
    }

    static ExecutionOptions fast(const QString &userMessage = {})
    {
        return ExecutionOptions{.userMessage = userMessage, .delayScale = 0.01};
    }

    // Attaches `recorder`, starts `execution` and waits until it has finished
    // once or Timeout passed: the caller's QCOMPARE of finishedCount reports which.
    void runToEnd(Execution &execution, Recorder &recorder)
    {
        recorder.attach(execution, *m_store);
        execution.start();
        static_cast<void>(QTest::qWaitFor([&recorder] { return recorder.finishedCount == 1; }, Timeout));
    }

private slots:
    void initTestCase()
    {
        m_library = FlowLibrary::load();
        QVERIFY(m_library.errors().isEmpty());
    }

    void init()
    {
        m_dir = std::make_unique<QTemporaryDir>();
        QVERIFY(m_dir->isValid());
        m_clockMs = 0;
        auto store = RunStore::open(dbSpec(), Store::StoreOptions{.nowMs = [this] {
                                        const qint64 fixed = m_clockMs.load();
                                        return fixed != 0 ? fixed : QDateTime::currentMSecsSinceEpoch();
                                    }});
        QVERIFY2(store, store ? "" : qPrintable(store.error().message));
        m_store = std::move(store).value();
        m_worker = Lockstep::Store::StoreWorker::inPlace(*m_store);
    }

    void cleanup()
    {
        m_worker.reset();
        m_store.reset();
        m_dir.reset();
    }

    void helloRunsToInputRequired()
    {
        const QString id = QStringLiteral("wf-hello");
        const QString goal = QStringLiteral("Create a file called hello.sh that prints hello");
        const Store::Run run = startRun(id, QStringLiteral("hello"), goal, 1);
        Execution execution(*m_worker, run, flow(QStringLiteral("hello")), 1, fast());
        Recorder recorder;
        runToEnd(execution, recorder);
        QCOMPARE(recorder.finishedCount, 1);

        QVERIFY2(recorder.problems.isEmpty(), qPrintable(recorder.problems.join(u'\n')));
        QCOMPARE(toString(*recorder.cause), toString(StopCause::TurnEnded));
        QCOMPARE(toString(*recorder.finalStatus), toString(RunStatus::InputRequired));
        QCOMPARE(toString(execution.stopCause().value()), toString(StopCause::TurnEnded));
        QVERIFY(execution.isFinished());

        // Signalled: user, agent, tool pending, tool success (same id), agent.
        QCOMPARE(recorder.ids(),
                 (QStringList{QStringLiteral("t1-user"), QStringLiteral("t1-s0"), QStringLiteral("t1-s1"),
                              QStringLiteral("t1-s1"), QStringLiteral("t1-s2")}));
        const QList<StoredEntry> &got = recorder.entries;
        for (qsizetype i = 1; i < got.size(); ++i)
            QVERIFY(got[i].seq > got[i - 1].seq);
        QCOMPARE(field(got[0], QStringLiteral("message_type")), QStringLiteral("user"));
        QCOMPARE(field(got[0], QStringLiteral("content")), goal);
        QCOMPARE(field(got[1], QStringLiteral("message_type")), QStringLiteral("agent"));
        QCOMPARE(field(got[2], QStringLiteral("message_type")), QStringLiteral("tool"));
        QCOMPARE(field(got[2], QStringLiteral("status")), QStringLiteral("pending"));
        QCOMPARE(field(got[3], QStringLiteral("status")), QStringLiteral("success"));
        QCOMPARE(got[3].entry.value(QStringLiteral("tool_info")).toObject().value(QStringLiteral("name")).toString(),
                 QStringLiteral("create_file"));
        QCOMPARE(got[3]
                     .entry.value(QStringLiteral("tool_info"))
                     .toObject()
                     .value(QStringLiteral("args"))
                     .toObject()
                     .value(QStringLiteral("file_path"))
                     .toString(),
                 QStringLiteral("hello.sh"));
        QCOMPARE(toolResponse(got[3]), flow(QStringLiteral("hello")).steps[1].response);
        QCOMPARE(field(got[4], QStringLiteral("message_type")), QStringLiteral("agent"));
        for (const StoredEntry &entry : got)
        {
            // Every entry is a valid SPEC ui_chat_log entry.
            const auto parsed = Protocol::ChatLogEntry::fromJson(entry.entry);
            QVERIFY2(parsed, parsed ? "" : qPrintable(parsed.error().reason));
            QCOMPARE(field(entry, QStringLiteral("correlation_id")), QStringLiteral("t1-user"));
        }

        // Stored: the latest version of each message, in seq order.
        const QList<StoredEntry> stored = storedEntries(id);
        QStringList storedIds;
        for (const StoredEntry &entry : stored)
            storedIds.append(field(entry, QStringLiteral("message_id")));
        QCOMPARE(storedIds, (QStringList{QStringLiteral("t1-user"), QStringLiteral("t1-s0"), QStringLiteral("t1-s1"),
                                         QStringLiteral("t1-s2")}));
        QCOMPARE(field(stored[2], QStringLiteral("status")), QStringLiteral("success"));

        QCOMPARE(recorder.statuses.size(), 1);
        QCOMPARE(toString(recorder.statuses[0].first), toString(RunStatus::InputRequired));
        QCOMPARE(toString(storedRun(id).status), toString(RunStatus::InputRequired));
        QCOMPARE(storedRun(id).lastSeq, got.last().seq);
        QVERIFY(!recorder.signalAfterFinished);
        QVERIFY(!execution.requestStop(StopCause::ClientGone));
    }

    void toolResponseIsCutTo4KiB()
    {
        const QString id = QStringLiteral("wf-big");
        const QString big = QString(3000, u'é') + QString(5000, u'x');  // 11000 UTF-8 bytes
        QJsonObject step{{QStringLiteral("type"), QStringLiteral("tool")},
                         {QStringLiteral("name"), QStringLiteral("read_file")},
                         {QStringLiteral("response"), big}};
        const QByteArray json = QJsonDocument(QJsonObject{{QStringLiteral("steps"), QJsonArray{step}}}).toJson();
        const Store::Run run = startRun(id, QStringLiteral("big"), QStringLiteral("read it"), 1);
        Execution execution(*m_worker, run, flowFrom(QStringLiteral("big"), json), 1, fast());
        Recorder recorder;
        runToEnd(execution, recorder);
        QCOMPARE(recorder.finishedCount, 1);

        const QList<StoredEntry> stored = storedEntries(id);
        QCOMPARE(stored.size(), 2);
        const QString response = toolResponse(stored[1]);
        QVERIFY(response.toUtf8().size() <= 4096);
        QVERIFY(response.size() > 1000);
        QVERIFY(big.startsWith(response.left(response.indexOf(u'\n'))));

        // The legacy checkpoint kept the whole output.
        const QJsonObject legacy = execution.legacyCheckpoint();
        const QJsonArray outputs = legacy[QStringLiteral("channel_values")][QStringLiteral("tool_outputs")].toArray();
        QCOMPARE(outputs.size(), 1);
        QCOMPARE(outputs[0][QStringLiteral("output")].toString(), big);
    }

    void cancelBetweenStepsStopsWithoutWrites()
    {
        const QString id = QStringLiteral("wf-cancel");
        const Store::Run run = startRun(id, QStringLiteral("long"), QStringLiteral("go"), 1);
        auto other = openOther();
        Execution execution(*m_worker, run, flow(QStringLiteral("long")), 1, fast());
        Recorder recorder;
        recorder.attach(execution, *m_store);
        qsizetype storedAtCancel = -1;
        // Cancel from "another replica" right after the second step was persisted.
        connect(&execution, &Execution::entryPersisted, this, [&](const QString &, const StoredEntry &entry) {
            if (field(entry, QStringLiteral("message_id")) == u"t1-s0" && storedAtCancel < 0)
            {
                const auto cancelled = other->cancel(id, QStringLiteral("user pressed stop"));
                QVERIFY(cancelled && cancelled->outcome == Store::CancelOutcome::Cancelled);
                storedAtCancel = storedEntries(id).size();
            }
        });
        execution.start();
        QTRY_COMPARE_WITH_TIMEOUT(recorder.finishedCount, 1, Timeout);

        QCOMPARE(toString(*recorder.cause), toString(StopCause::Cancelled));
        QCOMPARE(toString(*recorder.finalStatus), toString(RunStatus::Stopped));
        QCOMPARE(storedAtCancel, 2);
        QCOMPARE(storedEntries(id).size(), storedAtCancel);
        QCOMPARE(recorder.entries.size(), 2);
        QVERIFY(recorder.statuses.isEmpty());
        QCOMPARE(toString(storedRun(id).status), toString(RunStatus::Stopped));
        QCOMPARE(storedRun(id).reason, QStringLiteral("user pressed stop"));
        QVERIFY(!recorder.signalAfterFinished);
    }

    void cancelDuringToolCallMissesTheGuard()
    {
        // Cancelled while the tool "runs": the result write misses the guard,
        // the execution stops and the pending entry stays as it was.
        const QString id = QStringLiteral("wf-cancel-tool");
        const Store::Run run = startRun(id, QStringLiteral("hello"), QStringLiteral("go"), 1);
        auto other = openOther();
        Execution execution(*m_worker, run, flow(QStringLiteral("hello")), 1, fast());
        Recorder recorder;
        recorder.attach(execution, *m_store);
        connect(&execution, &Execution::entryPersisted, this, [&](const QString &, const StoredEntry &entry) {
            if (field(entry, QStringLiteral("status")) == u"pending")
                QVERIFY(other->cancel(id, QStringLiteral("stop")));
        });
        execution.start();
        QTRY_COMPARE_WITH_TIMEOUT(recorder.finishedCount, 1, Timeout);
        QCOMPARE(toString(*recorder.cause), toString(StopCause::Cancelled));
        const QList<StoredEntry> stored = storedEntries(id);
        QCOMPARE(stored.size(), 3);
        QCOMPARE(field(stored.last(), QStringLiteral("status")), QStringLiteral("pending"));
        QCOMPARE(toString(storedRun(id).status), toString(RunStatus::Stopped));
    }

    void supersededByNewerFence()
    {
        const QString id = QStringLiteral("wf-takeover");
        const Store::Run run = startRun(id, QStringLiteral("long"), QStringLiteral("go"), 1);
        // The other replica sees the run as stale at once and takes it over with fence 2.
        auto other = openOther(std::chrono::milliseconds{1});
        Execution execution(*m_worker, run, flow(QStringLiteral("long")), 1, fast());
        Recorder recorder;
        recorder.attach(execution, *m_store);
        qsizetype storedAtTakeover = -1;
        connect(&execution, &Execution::entryPersisted, this, [&](const QString &, const StoredEntry &entry) {
            if (field(entry, QStringLiteral("message_id")) == u"t1-s0" && storedAtTakeover < 0)
            {
                QThread::msleep(5);  // make the run stale for the other replica (no event processing here)
                const auto resumed = other->resume(id, 2, std::nullopt);
                QVERIFY(resumed && resumed->outcome == Store::ResumeOutcome::Resumed);
                storedAtTakeover = storedEntries(id).size();
            }
        });
        execution.start();
        QTRY_COMPARE_WITH_TIMEOUT(recorder.finishedCount, 1, Timeout);
        QCOMPARE(toString(*recorder.cause), toString(StopCause::Superseded));
        QCOMPARE(toString(*recorder.finalStatus), toString(RunStatus::Running));
        QCOMPARE(storedEntries(id).size(), storedAtTakeover);
        QCOMPARE(storedRun(id).fence, 2);
        QCOMPARE(toString(storedRun(id).status), toString(RunStatus::Running));
    }

    void stopRequestLeavesRunPaused_data()
    {
        QTest::addColumn<StopCause>("cause");
        QTest::addColumn<QString>("reason");
        QTest::newRow("client gone") << StopCause::ClientGone << QStringLiteral("client disconnected");
        QTest::newRow("shutdown") << StopCause::Shutdown << QStringLiteral("gateway shutting down");
    }

    void stopRequestLeavesRunPaused()
    {
        QFETCH(StopCause, cause);
        QFETCH(QString, reason);
        const QString id = QStringLiteral("wf-stop");
        const Store::Run run = startRun(id, QStringLiteral("long"), QStringLiteral("go"), 1);
        // Real step delays (5 s): the stop must cut the pending delay short.
        Execution execution(*m_worker, run, flow(QStringLiteral("long")), 1, ExecutionOptions{});
        Recorder recorder;
        recorder.attach(execution, *m_store);
        execution.start();
        QTRY_COMPARE_WITH_TIMEOUT(recorder.entries.size(), 1, Timeout);  // the user entry
        QVERIFY(execution.requestStop(cause));
        QVERIFY(!execution.requestStop(StopCause::Deadline));  // not a stop request
        QTRY_COMPARE_WITH_TIMEOUT(recorder.finishedCount, 1, Timeout);

        QCOMPARE(toString(*recorder.cause), toString(cause));
        QCOMPARE(toString(*recorder.finalStatus), toString(RunStatus::Paused));
        QCOMPARE(recorder.entries.size(), 1);
        QCOMPARE(storedEntries(id).size(), 1);
        QCOMPARE(toString(storedRun(id).status), toString(RunStatus::Paused));
        QCOMPARE(storedRun(id).reason, reason);
        QCOMPARE(recorder.statuses.size(), 1);
        QCOMPARE(toString(recorder.statuses[0].first), toString(RunStatus::Paused));
    }

    void lostLockWritesNothing_data()
    {
        QTest::addColumn<bool>("midToolCall");
        QTest::addColumn<bool>("afterClientGone");
        QTest::newRow("during a delay") << false << false;
        QTest::newRow("mid tool call") << true << false;
        QTest::newRow("after a client-gone stop") << false << true;
    }

    // SPEC fix 2: mutual exclusion is gone, so not one more write: no
    // `paused`, no tool result, no touch. The run stays `running` (an orphan).
    void lostLockWritesNothing()
    {
        QFETCH(bool, midToolCall);
        QFETCH(bool, afterClientGone);
        const QString id = QStringLiteral("wf-lost-lock");
        const Store::Run run = startRun(id, QStringLiteral("long"), QStringLiteral("go"), 1);
        ExecutionOptions options;
        options.delayScale = midToolCall ? 0.01 : 1.0;
        options.activityInterval = std::chrono::milliseconds(20);
        Execution execution(*m_worker, run, flow(QStringLiteral("long")), 1, options);
        Recorder recorder;
        recorder.attach(execution, *m_store);
        const int stopAt = midToolCall ? 3 : 1;  // the user entry; or user, agent step, pending tool call
        QObject::connect(&execution, &Execution::entryPersisted, &execution, [&] {
            if (recorder.entries.size() != stopAt)
                return;
            if (afterClientGone)
                execution.requestStop(StopCause::ClientGone);
            execution.requestStop(StopCause::LostLock);
        });
        execution.start();
        QTRY_COMPARE_WITH_TIMEOUT(recorder.finishedCount, 1, Timeout);
        const QDateTime touched = storedRun(id).lastActivityAt;

        QCOMPARE(toString(*recorder.cause), toString(StopCause::LostLock));
        QCOMPARE(toString(*recorder.finalStatus), toString(RunStatus::Running));
        QVERIFY(recorder.statuses.isEmpty());
        QCOMPARE(recorder.entries.size(), stopAt);
        QCOMPARE(storedEntries(id).size(), stopAt);
        if (midToolCall)
            QCOMPARE(storedEntries(id).constLast().entry.value(u"status").toString(), QStringLiteral("pending"));
        QCOMPARE(toString(storedRun(id).status), toString(RunStatus::Running));
        // Nothing later either: no touch of last_activity_at (every 20 ms
        // before; a touch now would store this clock).
        m_clockMs = 1'800'000'000'000;
        QTest::qWait(200);
        QCOMPARE(storedRun(id).lastActivityAt, touched);
        QCOMPARE(storedEntries(id).size(), stopAt);
        QVERIFY(!recorder.signalAfterFinished);
    }

    void stopRequestCancelledWritesNothing()
    {
        // The caller already changed the run (e.g. stopWorkflow): stop, write nothing.
        const QString id = QStringLiteral("wf-stop-cancelled");
        const Store::Run run = startRun(id, QStringLiteral("long"), QStringLiteral("go"), 1);
        Execution execution(*m_worker, run, flow(QStringLiteral("long")), 1, ExecutionOptions{});
        Recorder recorder;
        recorder.attach(execution, *m_store);
        execution.start();
        QTRY_COMPARE_WITH_TIMEOUT(recorder.entries.size(), 1, Timeout);
        QVERIFY(execution.requestStop(StopCause::Cancelled, QStringLiteral("stopWorkflow")));
        QVERIFY(execution.requestStop(StopCause::ClientGone));  // accepted, but the first request wins
        QTRY_COMPARE_WITH_TIMEOUT(recorder.finishedCount, 1, Timeout);
        QCOMPARE(toString(*recorder.cause), toString(StopCause::Cancelled));
        QVERIFY(recorder.statuses.isEmpty());
        QCOMPARE(storedEntries(id).size(), 1);
        QCOMPARE(toString(storedRun(id).status), toString(RunStatus::Running));
    }

    void withoutGuardsTwoExecutionsInterleave()
    {
        // --no-cas-guards reproduces the original bug: a second execution of
        // the same run is not fenced off and both write into one chat log.
        m_store.reset();
        auto unguarded = RunStore::open(dbSpec(), Store::StoreOptions{.casGuards = false});
        QVERIFY(unguarded);
        m_store = std::move(unguarded).value();
        m_worker = Lockstep::Store::StoreWorker::inPlace(*m_store);
        const QString id = QStringLiteral("wf-noguards");
        const Flow chatty = flowFrom(QStringLiteral("chatty"), R"({"steps": [
            {"type": "agent", "content": "one", "delayMs": 2000},
            {"type": "agent", "content": "two", "delayMs": 2000},
            {"type": "agent", "content": "three", "delayMs": 2000},
            {"type": "agent", "content": "four", "delayMs": 2000}]})");
        const Store::Run run = startRun(id, QStringLiteral("chatty"), QStringLiteral("first tab"), 1);
        ExecutionOptions options{.userMessage = {}, .delayScale = 0.02, .guards = false};
        Execution first(*m_worker, run, chatty, 1, options);
        Recorder firstRecorder;
        firstRecorder.attach(first, *m_store);
        // The second tab starts while the first is between its steps.
        std::unique_ptr<Execution> second;
        Recorder secondRecorder;
        connect(&first, &Execution::entryPersisted, this, [&](const QString &, const StoredEntry &entry) {
            if (field(entry, QStringLiteral("message_id")) != u"t1-s0" || second)
                return;
            const Store::Run again = resumeRun(id, 2, QStringLiteral("second tab"));
            options.userMessage = QStringLiteral("second tab");
            second = std::make_unique<Execution>(*m_worker, again, chatty, 2, options);
            secondRecorder.attach(*second, *m_store);
            second->start();
        });
        first.start();
        QTRY_VERIFY_WITH_TIMEOUT(firstRecorder.finishedCount == 1 && secondRecorder.finishedCount == 1, Timeout);
        QCOMPARE(toString(*firstRecorder.cause), toString(StopCause::TurnEnded));
        QCOMPARE(toString(*secondRecorder.cause), toString(StopCause::TurnEnded));
        QCOMPARE(firstRecorder.entries.size(), 5);
        QCOMPARE(secondRecorder.entries.size(), 5);
        QCOMPARE(storedEntries(id).size(), 10);  // two turns written at once: the bug
        QVERIFY(firstRecorder.entries.last().seq > secondRecorder.entries.first().seq);
    }

    void stopDuringToolCallCompletesTheTool()
    {
        const QString id = QStringLiteral("wf-stop-tool");
        const Store::Run run = startRun(id, QStringLiteral("hello"), QStringLiteral("go"), 1);
        Execution execution(*m_worker, run, flow(QStringLiteral("hello")), 1, fast());
        Recorder recorder;
        recorder.attach(execution, *m_store);
        connect(&execution, &Execution::entryPersisted, this, [&](const QString &, const StoredEntry &entry) {
            if (field(entry, QStringLiteral("status")) == u"pending")
                execution.requestStop(StopCause::ClientGone);
        });
        execution.start();
        QTRY_COMPARE_WITH_TIMEOUT(recorder.finishedCount, 1, Timeout);
        QCOMPARE(toString(*recorder.cause), toString(StopCause::ClientGone));
        QCOMPARE(recorder.ids(), (QStringList{QStringLiteral("t1-user"), QStringLiteral("t1-s0"),
                                              QStringLiteral("t1-s1"), QStringLiteral("t1-s1")}));
        QCOMPARE(field(recorder.entries.last(), QStringLiteral("status")), QStringLiteral("success"));
        QCOMPARE(toString(storedRun(id).status), toString(RunStatus::Paused));
    }

    void resumeContinuesAfterLastCompletedStep()
    {
        // Paused after the first step; a resume without a message finishes the
        // same turn without repeating the user entry or the first step.
        const QString id = QStringLiteral("wf-resume");
        Store::Run run = startRun(id, QStringLiteral("hello"), QStringLiteral("go"), 1);
        {
            Execution first(*m_worker, run, flow(QStringLiteral("hello")), 1, fast());
            Recorder recorder;
            recorder.attach(first, *m_store);
            connect(&first, &Execution::entryPersisted, this, [&](const QString &, const StoredEntry &entry) {
                if (field(entry, QStringLiteral("message_id")) == u"t1-s0")
                    first.requestStop(StopCause::ClientGone);
            });
            first.start();
            QTRY_COMPARE_WITH_TIMEOUT(recorder.finishedCount, 1, Timeout);
            QCOMPARE(recorder.ids(), (QStringList{QStringLiteral("t1-user"), QStringLiteral("t1-s0")}));
        }
        const qint64 lastSeq = storedRun(id).lastSeq;
        run = resumeRun(id, 2, std::nullopt);
        Execution second(*m_worker, run, flow(QStringLiteral("hello")), 2, fast());
        Recorder recorder;
        runToEnd(second, recorder);
        QCOMPARE(recorder.finishedCount, 1);
        QCOMPARE(second.turn(), 1);
        QCOMPARE(recorder.ids(),
                 (QStringList{QStringLiteral("t1-s1"), QStringLiteral("t1-s1"), QStringLiteral("t1-s2")}));
        QVERIFY(recorder.entries.first().seq > lastSeq);
        QCOMPARE(toString(*recorder.finalStatus), toString(RunStatus::InputRequired));
        QCOMPARE(storedEntries(id).size(), 4);
    }

    void resumeRetriesAPendingTool()
    {
        // A pending tool entry (the writer died mid-call) is not a completed
        // step: the resume runs it again under the same message_id.
        const QString id = QStringLiteral("wf-pending");
        Store::Run run = startRun(id, QStringLiteral("hello"), QStringLiteral("go"), 1);
        {
            FaultInjectingStore faulty(*m_store);
            faulty.failAppendAfter = 3;  // user, s0, s1 pending; the result write fails
            const auto faultyWorker = Lockstep::Store::StoreWorker::inPlace(faulty);
            Execution first(*faultyWorker, run, flow(QStringLiteral("hello")), 1, fast());
            Recorder recorder;
            runToEnd(first, recorder);
            QCOMPARE(recorder.finishedCount, 1);
            QCOMPARE(toString(*recorder.cause), toString(StopCause::StoreError));
            QCOMPARE(field(storedEntries(id).last(), QStringLiteral("status")), QStringLiteral("pending"));
        }
        // Fail safe: the run was left running; it is resumable once stale.
        QCOMPARE(toString(storedRun(id).status), toString(RunStatus::Running));
        auto other = openOther(std::chrono::milliseconds{1});
        QThread::msleep(5);
        const auto resumed = other->resume(id, 2, std::nullopt);
        QVERIFY(resumed && resumed->outcome == Store::ResumeOutcome::Resumed);
        Execution second(*m_worker, *resumed->run, flow(QStringLiteral("hello")), 2, fast());
        Recorder recorder;
        runToEnd(second, recorder);
        QCOMPARE(recorder.finishedCount, 1);
        QCOMPARE(recorder.ids(),
                 (QStringList{QStringLiteral("t1-s1"), QStringLiteral("t1-s1"), QStringLiteral("t1-s2")}));
        QStringList storedIds;
        for (const StoredEntry &entry : storedEntries(id))
            storedIds.append(field(entry, QStringLiteral("message_id")));
        QCOMPARE(storedIds, (QStringList{QStringLiteral("t1-user"), QStringLiteral("t1-s0"), QStringLiteral("t1-s1"),
                                         QStringLiteral("t1-s2")}));
    }

    void storeErrorFailsSafe()
    {
        const QString id = QStringLiteral("wf-storeerror");
        const Store::Run run = startRun(id, QStringLiteral("hello"), QStringLiteral("go"), 1);
        FaultInjectingStore faulty(*m_store);
        faulty.failAppendAfter = 1;
        const auto faultyWorker = Lockstep::Store::StoreWorker::inPlace(faulty);
        Execution execution(*faultyWorker, run, flow(QStringLiteral("hello")), 1, fast());
        Recorder recorder;
        recorder.attach(execution, *m_store);
        QTest::ignoreMessage(QtWarningMsg,
                             QRegularExpression(QStringLiteral("store error.*disk I/O error \\(injected\\)")));
        execution.start();
        QTRY_COMPARE_WITH_TIMEOUT(recorder.finishedCount, 1, Timeout);
        QCOMPARE(toString(*recorder.cause), toString(StopCause::StoreError));
        QCOMPARE(recorder.entries.size(), 1);
        QCOMPARE(faulty.appendCalls, 2);  // nothing was tried after the failure
        QVERIFY(recorder.statuses.isEmpty());
        QCOMPARE(toString(storedRun(id).status), toString(RunStatus::Running));
    }

    void deadlineFailsTheRun()
    {
        const QString id = QStringLiteral("wf-deadline");
        const Store::Run run = startRun(id, QStringLiteral("long"), QStringLiteral("go"), 1);
        ExecutionOptions options;  // real 5 s steps, a short deadline
        options.deadline = std::chrono::milliseconds{300};
        Execution execution(*m_worker, run, flow(QStringLiteral("long")), 1, options);
        Recorder recorder;
        runToEnd(execution, recorder);
        QCOMPARE(recorder.finishedCount, 1);
        QCOMPARE(toString(*recorder.cause), toString(StopCause::Deadline));
        QCOMPARE(toString(*recorder.finalStatus), toString(RunStatus::Failed));
        QCOMPARE(toString(storedRun(id).status), toString(RunStatus::Failed));
        QCOMPARE(storedRun(id).reason, QStringLiteral("workflow deadline exceeded"));
        const QList<StoredEntry> stored = storedEntries(id);
        QCOMPARE(field(stored.last(), QStringLiteral("message_id")), QStringLiteral("t1-deadline"));
        QCOMPARE(field(stored.last(), QStringLiteral("status")), QStringLiteral("failure"));
        QCOMPARE(field(stored.last(), QStringLiteral("content")), QStringLiteral("workflow deadline exceeded"));
        QCOMPARE(recorder.statuses.size(), 1);
        QCOMPARE(toString(recorder.statuses[0].first), toString(RunStatus::Failed));
        QCOMPARE(recorder.statuses[0].second, QStringLiteral("workflow deadline exceeded"));
    }

    void deadlineBeforeTheFirstStep()
    {
        const QString id = QStringLiteral("wf-deadline0");
        const Store::Run run = startRun(id, QStringLiteral("hello"), QStringLiteral("go"), 1);
        ExecutionOptions options = fast();
        options.deadline = std::chrono::milliseconds{0};
        Execution execution(*m_worker, run, flow(QStringLiteral("hello")), 1, options);
        Recorder recorder;
        runToEnd(execution, recorder);
        QCOMPARE(recorder.finishedCount, 1);
        QCOMPARE(toString(*recorder.cause), toString(StopCause::Deadline));
        QCOMPARE(toString(storedRun(id).status), toString(RunStatus::Failed));
        const QList<StoredEntry> stored = storedEntries(id);
        QVERIFY(!stored.isEmpty());
        QCOMPARE(field(stored.last(), QStringLiteral("message_id")), QStringLiteral("t1-deadline"));
        QCOMPARE(field(stored.last(), QStringLiteral("correlation_id")), QStringLiteral("t1-user"));
    }

    void failureFlowFailsWithReason()
    {
        const QString id = QStringLiteral("wf-failure");
        const Store::Run run = startRun(id, QStringLiteral("failure"), QStringLiteral("run the tests"), 1);
        Execution execution(*m_worker, run, flow(QStringLiteral("failure")), 1, fast());
        Recorder recorder;
        runToEnd(execution, recorder);
        QCOMPARE(recorder.finishedCount, 1);
        QVERIFY2(recorder.problems.isEmpty(), qPrintable(recorder.problems.join(u'\n')));
        QCOMPARE(toString(*recorder.cause), toString(StopCause::TurnEnded));
        QCOMPARE(toString(*recorder.finalStatus), toString(RunStatus::Failed));
        const Store::Run stored = storedRun(id);
        QCOMPARE(toString(stored.status), toString(RunStatus::Failed));
        QVERIFY2(stored.reason.contains(QStringLiteral("`make test` failed with exit status 2")),
                 qPrintable(stored.reason));
        QCOMPARE(recorder.ids(),
                 (QStringList{QStringLiteral("t1-user"), QStringLiteral("t1-s0"), QStringLiteral("t1-s1"),
                              QStringLiteral("t1-s1"), QStringLiteral("t1-s2")}));
        QCOMPARE(field(recorder.entries[3], QStringLiteral("status")), QStringLiteral("failure"));
        QVERIFY(toolResponse(recorder.entries[3]).contains(QStringLiteral("Error 2")));
        QCOMPARE(field(recorder.entries[4], QStringLiteral("status")), QStringLiteral("failure"));
        QCOMPARE(field(recorder.entries[4], QStringLiteral("content")), stored.reason);
        QCOMPARE(recorder.statuses.last().second, stored.reason);
    }

    void workspaceStepFailsHonestly()
    {
        const QString id = QStringLiteral("wf-workspace");
        const Store::Run run = startRun(id, QStringLiteral("workspace"), QStringLiteral("list my files"), 1);
        Execution execution(*m_worker, run, flow(QStringLiteral("workspace")), 1, fast());
        Recorder recorder;
        runToEnd(execution, recorder);
        QCOMPARE(recorder.finishedCount, 1);
        QCOMPARE(toString(*recorder.finalStatus), toString(RunStatus::Failed));
        const QString reason = QStringLiteral("workspace tools are not available in this gateway yet");
        QCOMPARE(storedRun(id).reason, reason);
        QCOMPARE(recorder.ids(),
                 (QStringList{QStringLiteral("t1-user"), QStringLiteral("t1-s0"), QStringLiteral("t1-s1")}));
        const StoredEntry &failed = recorder.entries.last();
        QCOMPARE(field(failed, QStringLiteral("message_type")), QStringLiteral("tool"));
        QCOMPARE(field(failed, QStringLiteral("status")), QStringLiteral("failure"));
        QCOMPARE(toolResponse(failed), reason);
        QCOMPARE(failed.entry.value(QStringLiteral("tool_info")).toObject().value(QStringLiteral("name")).toString(),
                 QStringLiteral("run_command"));
    }

    void approvalWaitsThenContinues()
    {
        const QString id = QStringLiteral("wf-approval");
        Store::Run run = startRun(id, QStringLiteral("approval"), QStringLiteral("make a greeting script"), 1);
        {
            Execution first(*m_worker, run, flow(QStringLiteral("approval")), 1, fast());
            Recorder recorder;
            runToEnd(first, recorder);
            QCOMPARE(recorder.finishedCount, 1);
            QCOMPARE(toString(*recorder.finalStatus), toString(RunStatus::PlanApprovalRequired));
            QCOMPARE(toString(storedRun(id).status), toString(RunStatus::PlanApprovalRequired));
            QCOMPARE(recorder.ids(),
                     (QStringList{QStringLiteral("t1-user"), QStringLiteral("t1-s0"), QStringLiteral("t1-s1")}));
            QCOMPARE(field(recorder.entries.last(), QStringLiteral("message_type")), QStringLiteral("request"));
            QCOMPARE(field(recorder.entries.last(), QStringLiteral("message_sub_type")),
                     QStringLiteral("plan_approval"));
        }
        run = resumeRun(id, 2, std::nullopt);
        Execution second(*m_worker, run, flow(QStringLiteral("approval")), 2, fast());
        Recorder recorder;
        runToEnd(second, recorder);
        QCOMPARE(recorder.finishedCount, 1);
        QCOMPARE(toString(*recorder.finalStatus), toString(RunStatus::Finished));
        QCOMPARE(recorder.ids(), (QStringList{QStringLiteral("t1-s2"), QStringLiteral("t1-s2"), QStringLiteral("t1-s3"),
                                              QStringLiteral("t1-s3"), QStringLiteral("t1-s4"), QStringLiteral("t1-s4"),
                                              QStringLiteral("t1-s5")}));
        QCOMPARE(field(recorder.entries.last(), QStringLiteral("message_type")), QStringLiteral("workflow_end"));
        const Store::Run stored = storedRun(id);
        QCOMPARE(toString(stored.status), toString(RunStatus::Finished));
        QVERIFY(stored.completedAt.has_value());
        QCOMPARE(storedEntries(id).size(), 7);
    }

    void approvedRequestContinuesTheTurn()
    {
        const QString id = QStringLiteral("wf-approve");
        Store::Run run = untilApproval(id);
        QCOMPARE(toString(run.status), toString(RunStatus::Running));
        ExecutionOptions options = fast();
        options.approval = ApprovalDecision{.approved = true, .requestId = QStringLiteral("t1-s1")};
        Execution second(*m_worker, run, flow(QStringLiteral("approval")), 2, options);
        Recorder recorder;
        runToEnd(second, recorder);
        QCOMPARE(recorder.finishedCount, 1);
        QVERIFY2(recorder.problems.isEmpty(), qPrintable(recorder.problems.join(u'\n')));
        QCOMPARE(toString(*recorder.finalStatus), toString(RunStatus::Finished));
        // The decision first, then the rest of the plan.
        QCOMPARE(recorder.ids().first(), QStringLiteral("t1-s1-decision"));
        QCOMPARE(recorder.ids().mid(1),
                 (QStringList{QStringLiteral("t1-s2"), QStringLiteral("t1-s2"), QStringLiteral("t1-s3"),
                              QStringLiteral("t1-s3"), QStringLiteral("t1-s4"), QStringLiteral("t1-s4"),
                              QStringLiteral("t1-s5")}));
        const StoredEntry &decision = recorder.entries.first();
        QCOMPARE(field(decision, QStringLiteral("message_type")), QStringLiteral("user"));
        QCOMPARE(field(decision, QStringLiteral("message_sub_type")), QStringLiteral("approval"));
        QCOMPARE(field(decision, QStringLiteral("correlation_id")), QStringLiteral("t1-s1"));
        const QJsonObject approval = decision.entry.value(QStringLiteral("additional_context"))
                                         .toObject()
                                         .value(QStringLiteral("approval"))
                                         .toObject();
        QCOMPARE(approval.value(QStringLiteral("decision")).toString(), QStringLiteral("approved"));
        QCOMPARE(approval.value(QStringLiteral("requestID")).toString(), QStringLiteral("t1-s1"));
        QVERIFY(Protocol::ChatLogEntry::fromJson(decision.entry));
        QCOMPARE(toString(storedRun(id).status), toString(RunStatus::Finished));
    }

    void rejectedRequestEndsTheTurn()
    {
        const QString id = QStringLiteral("wf-reject");
        Store::Run run = untilApproval(id);
        QCOMPARE(toString(run.status), toString(RunStatus::Running));
        ExecutionOptions options = fast();
        options.approval = ApprovalDecision{.approved = false, .requestId = QStringLiteral("t1-s1")};
        {
            Execution second(*m_worker, run, flow(QStringLiteral("approval")), 2, options);
            Recorder recorder;
            runToEnd(second, recorder);
            QCOMPARE(recorder.finishedCount, 1);
            QCOMPARE(toString(*recorder.finalStatus), toString(RunStatus::InputRequired));
            QCOMPARE(recorder.ids(), (QStringList{QStringLiteral("t1-s1-decision")}));
            QCOMPARE(field(recorder.entries.first(), QStringLiteral("message_sub_type")), QStringLiteral("rejection"));
            QCOMPARE(recorder.statuses.size(), 1);
            QCOMPARE(recorder.statuses.first().second, QStringLiteral("request rejected"));
        }
        // A plain resume afterwards does not carry the rejected plan out.
        run = resumeRun(id, 3, std::nullopt);
        Execution third(*m_worker, run, flow(QStringLiteral("approval")), 3, fast());
        Recorder recorder;
        runToEnd(third, recorder);
        QCOMPARE(recorder.finishedCount, 1);
        QVERIFY(recorder.ids().isEmpty());
        QCOMPARE(toString(*recorder.finalStatus), toString(RunStatus::InputRequired));
        QCOMPARE(storedEntries(id).size(), 4);  // user, plan, request, decision
    }

    void secondTurnAppendsWithoutDuplicates()
    {
        const QString id = QStringLiteral("wf-turns");
        Store::Run run =
            startRun(id, QStringLiteral("hello"), QStringLiteral("Create a file called hello.sh that prints hello"), 1);
        {
            Execution first(*m_worker, run, flow(QStringLiteral("hello")), 1, fast());
            Recorder recorder;
            runToEnd(first, recorder);
            QCOMPARE(recorder.finishedCount, 1);
            QCOMPARE(toString(*recorder.finalStatus), toString(RunStatus::InputRequired));
        }
        const qint64 firstTurnSeq = storedRun(id).lastSeq;
        const QString next = QStringLiteral("Now make it print goodbye too");
        run = resumeRun(id, 2, next);
        QCOMPARE(run.goal, next);
        Execution second(*m_worker, run, flow(QStringLiteral("hello")), 2, fast(next));
        Recorder recorder;
        runToEnd(second, recorder);
        QCOMPARE(recorder.finishedCount, 1);
        QCOMPARE(second.turn(), 2);
        QCOMPARE(toString(*recorder.finalStatus), toString(RunStatus::InputRequired));
        QCOMPARE(field(recorder.entries.first(), QStringLiteral("message_id")), QStringLiteral("t2-user"));
        QCOMPARE(field(recorder.entries.first(), QStringLiteral("content")), next);
        QVERIFY(recorder.entries.first().seq > firstTurnSeq);

        const QList<StoredEntry> stored = storedEntries(id);
        QStringList ids;
        for (const StoredEntry &entry : stored)
            ids.append(field(entry, QStringLiteral("message_id")));
        QCOMPARE(ids, (QStringList{QStringLiteral("t1-user"), QStringLiteral("t1-s0"), QStringLiteral("t1-s1"),
                                   QStringLiteral("t1-s2"), QStringLiteral("t2-user"), QStringLiteral("t2-s0"),
                                   QStringLiteral("t2-s1"), QStringLiteral("t2-s2")}));
        QCOMPARE(QSet<QString>(ids.cbegin(), ids.cend()).size(), ids.size());
        for (const StoredEntry &entry : stored.mid(4))
            QCOMPARE(field(entry, QStringLiteral("correlation_id")), QStringLiteral("t2-user"));
    }

    void resumeOfACompletedTurnWritesNothing()
    {
        const QString id = QStringLiteral("wf-idle");
        Store::Run run = startRun(id, QStringLiteral("hello"), QStringLiteral("go"), 1);
        {
            Execution first(*m_worker, run, flow(QStringLiteral("hello")), 1, fast());
            Recorder recorder;
            runToEnd(first, recorder);
            QCOMPARE(recorder.finishedCount, 1);
        }
        const qsizetype before = storedEntries(id).size();
        run = resumeRun(id, 2, std::nullopt);
        Execution second(*m_worker, run, flow(QStringLiteral("hello")), 2, fast());
        Recorder recorder;
        runToEnd(second, recorder);
        QCOMPARE(recorder.finishedCount, 1);
        QCOMPARE(toString(*recorder.finalStatus), toString(RunStatus::InputRequired));
        QVERIFY(recorder.entries.isEmpty());
        QCOMPARE(storedEntries(id).size(), before);
    }

    void lastActivityAdvancesWhileRunning()
    {
        const QString id = QStringLiteral("wf-activity");
        m_clockMs = 1'700'000'000'000;
        const Store::Run run = startRun(id, QStringLiteral("waiting"), QStringLiteral("go"), 1);
        // One long wait: nothing is written while it runs, only the touches.
        const Flow waiting = flowFrom(QStringLiteral("waiting"), R"({"steps": [{"type": "wait", "ms": 600000}]})");
        ExecutionOptions options;
        options.activityInterval = std::chrono::milliseconds{20};
        Execution execution(*m_worker, run, waiting, 1, options);
        Recorder recorder;
        recorder.attach(execution, *m_store);
        execution.start();
        QTRY_COMPARE_WITH_TIMEOUT(recorder.entries.size(), 1, Timeout);
        QCOMPARE(storedRun(id).lastActivityAt.toMSecsSinceEpoch(), 1'700'000'000'000);
        m_clockMs = 1'700'000'005'000;
        QTRY_COMPARE_WITH_TIMEOUT(storedRun(id).lastActivityAt.toMSecsSinceEpoch(), 1'700'000'005'000, Timeout);
        m_clockMs = 1'700'000'010'000;
        QTRY_COMPARE_WITH_TIMEOUT(storedRun(id).lastActivityAt.toMSecsSinceEpoch(), 1'700'000'010'000, Timeout);
        QCOMPARE(recorder.finishedCount, 0);
        QCOMPARE(storedEntries(id).size(), 1);

        // A touch that misses the guard (the run was cancelled) stops it too.
        QVERIFY(m_store->cancel(id, QStringLiteral("stop")));
        QTRY_COMPARE_WITH_TIMEOUT(recorder.finishedCount, 1, Timeout);
        QCOMPARE(toString(*recorder.cause), toString(StopCause::Cancelled));
        QCOMPARE(storedEntries(id).size(), 1);
    }

    void legacyCheckpointCarriesTheWholeState()
    {
        const QString id = QStringLiteral("wf-legacy");
        const QString goal = QStringLiteral("Create a file called hello.sh that prints hello");
        const Store::Run run = startRun(id, QStringLiteral("hello"), goal, 1);
        Execution execution(*m_worker, run, flow(QStringLiteral("hello")), 1, fast());
        QList<qsizetype> legacySizes;
        qsizetype incrementalBytes = 0;
        connect(&execution, &Execution::entryPersisted, this, [&](const QString &, const StoredEntry &entry) {
            legacySizes.append(QJsonDocument(execution.legacyCheckpoint()).toJson(QJsonDocument::Compact).size());
            incrementalBytes += QJsonDocument(entry.entry).toJson(QJsonDocument::Compact).size();
        });
        Recorder recorder;
        runToEnd(execution, recorder);
        QCOMPARE(recorder.finishedCount, 1);

        QCOMPARE(legacySizes.size(), 5);
        for (qsizetype i = 1; i < legacySizes.size(); ++i)
            QVERIFY(legacySizes[i] > legacySizes[i - 1]);  // the whole accumulated state, every time
        qsizetype legacyTotal = 0;
        for (const qsizetype size : legacySizes)
            legacyTotal += size;
        QVERIFY(legacyTotal > 10 * incrementalBytes);

        const QJsonObject checkpoint = execution.legacyCheckpoint();
        const QJsonObject values = checkpoint[QStringLiteral("channel_values")].toObject();
        QCOMPARE(values[QStringLiteral("goal")].toString(), goal);
        QCOMPARE(values[QStringLiteral("ui_chat_log")].toArray().size(), 4);
        QCOMPARE(values[QStringLiteral("plan")][QStringLiteral("steps")].toArray().size(), 3);
        QCOMPARE(values[QStringLiteral("plan")][QStringLiteral("steps")][2][QStringLiteral("status")].toString(),
                 QStringLiteral("Completed"));
        const QJsonArray executor =
            values[QStringLiteral("conversation_history")][QStringLiteral("executor")].toArray();
        QVERIFY(executor.size() >= 6);
        const QString history = QString::fromUtf8(QJsonDocument(executor).toJson(QJsonDocument::Compact));
        QVERIFY(history.contains(goal));
        QVERIFY(history.contains(flow(QStringLiteral("hello")).steps[1].response));
        QCOMPARE(checkpoint[QStringLiteral("metadata")][QStringLiteral("thread_id")].toString(), id);
    }
};

QTEST_GUILESS_MAIN(TestExecution)
#include "tst_execution.moc"
