#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QTemporaryDir>
#include <QTest>

#include "gatewayprocess.h"
#include "protocol/runstatus.h"
#include "store/runstore.h"

using namespace Lockstep;
using namespace Lockstep::Test;

Q_DECLARE_METATYPE(Lockstep::RunStatus)

// Resume and cancel against every status, over the websocket and HTTP; the
// CAS guards under 50 concurrent resumers; orphans; --no-cas-guards; replicas
// sharing one PostgreSQL store.
class TestGatewayCas : public QObject
{
    Q_OBJECT

private:
    StoreBackends m_stores;
    QTemporaryDir m_flowsDir;
    QHash<QString, std::shared_ptr<GatewayProcess>> m_shared;
    QHash<QString, QString> m_sharedSpecs;
    static constexpr int Timeout = 30000;

    std::unique_ptr<GatewayProcess> startGateway(const QString &storeSpec, const QStringList &extra = {})
    {
        return startGatewayOn(storeSpec, fastFlowArguments(m_flowsDir.path()) + extra);
    }

    static std::unique_ptr<Store::RunStore> openStore(const QString &spec, std::function<qint64()> clock = {})
    {
        Store::StoreOptions options;
        options.nowMs = std::move(clock);
        auto opened = Store::RunStore::open(spec, options);
        if (!opened)
        {
            qWarning("%s", qPrintable(opened.error().message));
            return nullptr;
        }
        return std::move(*opened);
    }

    // Puts a new run of `flow` into `status` through the store API, as an
    // executor (or a cancel) would have left it.
    static bool makeRun(Store::RunStore &store, const QString &id, const RunStatus status,
                        const QString &flow = QStringLiteral("hello"))
    {
        const qint64 fence = *store.nextFence(0);
        if (!store.createRun(id, QStringLiteral("make a file"), flow, fence))
            return false;
        if (status == RunStatus::Created)
            return true;
        if (status == RunStatus::Stopped)
            return store.cancel(id, QStringLiteral("test")).hasValue();
        const auto resumed = store.resume(id, fence, std::nullopt);
        if (!resumed || (resumed->outcome != Store::ResumeOutcome::Resumed))
            return false;
        if (status == RunStatus::Running)
            return true;
        const auto moved = store.transition(id, fence, status, QStringLiteral("test"));
        return moved && *moved;
    }

    static QString statusOf(const GatewayProcess &gateway, const QString &id)
    {
        return runOf(gateway, id).value(u"status").toString();
    }

    void writeFlow(const QString &name, const QJsonArray &steps)
    {
        QVERIFY(writeFlowFile(m_flowsDir.path(), name, steps));
    }

private slots:
    void initTestCase()
    {
        QVERIFY2(!GatewayProcess::binary().isEmpty(), "LOCKSTEP_GATEWAY_BIN");
        QVERIFY(m_flowsDir.isValid());
        // 100 steps of 2 s, scaled by 0.01: about 2 s of `running`.
        writeFlow(QStringLiteral("slow"), agentSteps(100, 2000));
        // About 30 s of `running`: for tests that interrupt a run and must not see it end.
        writeFlow(QStringLiteral("glacial"), agentSteps(100, 30000));
    }

    void cleanupTestCase()
    {
        m_shared.clear();
    }

    void resumeAndCancelEveryStatus_data()
    {
        QTest::addColumn<QString>("store");
        QTest::addColumn<RunStatus>("status");
        QTest::addColumn<bool>("resumable");
        QTest::addColumn<bool>("cancellable");
        for (const QString &store : {QStringLiteral("sqlite"), QStringLiteral("postgresql")})
        {
            for (const RunStatus status : AllRunStatuses)
            {
                // `running` here is fresh (not stale): not resumable.
                const bool resumable = isResumableStatus(status);
                const bool cancellable = !isFinal(status);
                QTest::addRow("%s %s", qPrintable(store), qPrintable(toString(status)))
                    << store << status << resumable << cancellable;
            }
        }
    }
    void resumeAndCancelEveryStatus()
    {
        QFETCH(QString, store);
        QFETCH(RunStatus, status);
        QFETCH(bool, resumable);
        QFETCH(bool, cancellable);
        // One gateway a store kind for all rows.
        if (!m_shared.contains(store))
        {
            m_sharedSpecs.insert(store, newStoreOrWarn(m_stores, store));
            m_shared.insert(store, std::shared_ptr<GatewayProcess>(startGateway(m_sharedSpecs.value(store)).release()));
        }
        GatewayProcess *gateway = m_shared.value(store).get();
        QVERIFY(gateway);
        auto direct = openStore(m_sharedSpecs.value(store));
        QVERIFY(direct);

        // Over the websocket: resume (empty goal).
        const QString wsId = QStringLiteral("ws-") + toString(status);
        QVERIFY(makeRun(*direct, wsId, status));
        WsProbe resumer;
        resumer.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(resumer.sendJson(WsProbe::startRequest(wsId, QString())));
        if (resumable)
        {
            QTRY_VERIFY_WITH_TIMEOUT(resumer.isClosed(), Timeout);
            QCOMPARE(resumer.closeInfo().code, quint16(1000));
            QVERIFY(resumer.sawRunStatus(RunStatus::Running));
            QCOMPARE(statusOf(*gateway, wsId), QStringLiteral("input_required"));
        }
        else
        {
            QTRY_VERIFY_WITH_TIMEOUT(resumer.isClosed(), Timeout);
            QCOMPARE(resumer.closeInfo().code, quint16(4409));
            QCOMPARE(resumer.closeInfo().reason, QStringLiteral("not resumable (status: %1)").arg(toString(status)));
            QCOMPARE(statusOf(*gateway, wsId), toString(status));
        }

        // Over HTTP: cancel, twice.
        const QString httpId = QStringLiteral("http-") + toString(status);
        QVERIFY(makeRun(*direct, httpId, status));
        const HttpReply cancel = httpRequest(
            "POST", gateway->baseUrl() + QStringLiteral("/api/v1/workflows/") + httpId + QStringLiteral("/cancel"),
            gateway->token());
        QCOMPARE(cancel.status, 200);
        QCOMPARE(cancel.json.value(u"outcome").toString(),
                 cancellable ? QStringLiteral("cancelled") : QStringLiteral("noop"));
        QCOMPARE(cancel.json.value(u"status").toString(), cancellable ? QStringLiteral("stopped") : toString(status));
        const HttpReply again = httpRequest(
            "POST", gateway->baseUrl() + QStringLiteral("/api/v1/workflows/") + httpId + QStringLiteral("/cancel"),
            gateway->token());
        QCOMPARE(again.json.value(u"outcome").toString(), QStringLiteral("noop"));

        // Over the websocket: stopWorkflow from a subscriber is the same CAS.
        const QString stopId = QStringLiteral("stop-") + toString(status);
        QVERIFY(makeRun(*direct, stopId, status));
        WsProbe stopper;
        stopper.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(stopper.sendJson(WsProbe::subscribe(stopId)));
        QTRY_VERIFY_WITH_TIMEOUT(!stopper.runStatuses().isEmpty(), Timeout);
        QVERIFY(stopper.sendJson(QJsonObject{
            {QStringLiteral("stopWorkflow"), QJsonObject{{QStringLiteral("reason"), QStringLiteral("stop it")}}}}));
        if (cancellable)
            QTRY_VERIFY_WITH_TIMEOUT(stopper.lastRunStatus() == RunStatus::Stopped, Timeout);
        else
            QTRY_VERIFY_WITH_TIMEOUT(stopper.runStatuses().constLast().reason.contains(u"nothing to do"), Timeout);
        QCOMPARE(statusOf(*gateway, stopId), cancellable ? QStringLiteral("stopped") : toString(status));
    }

    void concurrentResumersOneWins_data()
    {
        QTest::addColumn<QString>("store");
        QTest::addColumn<bool>("lock");
        QTest::newRow("sqlite, lock off") << QStringLiteral("sqlite") << false;
        QTest::newRow("postgresql, lock off") << QStringLiteral("postgresql") << false;
        QTest::newRow("sqlite, lock on") << QStringLiteral("sqlite") << true;
        QTest::newRow("postgresql, lock on") << QStringLiteral("postgresql") << true;
    }
    void concurrentResumersOneWins()
    {
        QFETCH(QString, store);
        QFETCH(bool, lock);
        QStringList extra;
        if (!lock)
            extra << QStringLiteral("--no-lock-concurrent-flows");
        auto gateway = startGateway(newStoreOrWarn(m_stores, store), extra);
        QVERIFY(gateway);
        QCOMPARE(httpRequest("POST", gateway->baseUrl() + QStringLiteral("/api/v1/workflows"), gateway->token(),
                             R"({"goal":"race","flow":"glacial","workflowID":"raced"})")
                     .status,
                 201);

        constexpr int Resumers = 50;
        std::vector<std::unique_ptr<WsProbe>> probes;
        for (int i = 0; i < Resumers; ++i)
        {
            probes.push_back(std::make_unique<WsProbe>());
            probes.back()->open(gateway->webSocketUrl(), gateway->token());
        }
        QTRY_VERIFY_WITH_TIMEOUT(
            std::all_of(probes.cbegin(), probes.cend(), [](const auto &p) { return p->isConnected(); }), Timeout);
        // All at once, each on its own connection.
        for (const auto &probe : probes)
            QVERIFY(probe->sendJson(WsProbe::startRequest(QStringLiteral("raced"), QString())));

        // The losers are refused at once; the winner runs its turn to the end.
        // Wait until every session has its answer: a close, or `running` (the
        // winner's runStatus may arrive after the losers' closes).
        QTRY_VERIFY_WITH_TIMEOUT(
            std::all_of(probes.cbegin(), probes.cend(),
                        [](const auto &p) { return p->isClosed() || p->sawRunStatus(RunStatus::Running); }),
            Timeout);
        int ran = 0;
        int notResumable = 0;
        int lockHeld = 0;
        for (const auto &probe : probes)
        {
            if (probe->sawRunStatus(RunStatus::Running))
            {
                ++ran;
                continue;
            }
            QVERIFY(probe->isClosed());
            const auto &info = probe->closeInfo();
            if (info.code == 4409)
            {
                QCOMPARE(info.reason, QStringLiteral("not resumable (status: running)"));
                ++notResumable;
            }
            else if (info.code == 1013)
            {
                QCOMPARE(info.reason, QStringLiteral("Failed to acquire lock on workflow"));
                ++lockHeld;
            }
            else
            {
                QFAIL(qPrintable(QStringLiteral("unexpected close %1 %2").arg(info.code).arg(info.reason)));
            }
        }
        QCOMPARE(ran, 1);
        QCOMPARE(ran + notResumable + lockHeld, Resumers);
        if (lock)
            QVERIFY2(lockHeld >= Resumers / 2,
                     qPrintable(QStringLiteral("%1 lock-held, %2 not resumable").arg(lockHeld).arg(notResumable)));
        else
            QCOMPARE(notResumable, Resumers - 1);
        QCOMPARE(statusOf(*gateway, QStringLiteral("raced")), QStringLiteral("running"));
    }

    void orphanResumableOnlyWhenStale_data()
    {
        addStoreRows();
    }
    void orphanResumableOnlyWhenStale()
    {
        QFETCH(QString, store);
        const QString spec = newStoreOrWarn(m_stores, store);
        auto gateway = startGateway(spec, {QStringLiteral("--stale-after"), QStringLiteral("10s")});
        QVERIFY(gateway);

        // A `running` run whose executor vanished a moment ago: not yet an orphan.
        auto direct = openStore(spec);
        QVERIFY(direct);
        QVERIFY(makeRun(*direct, QStringLiteral("fresh-orphan"), RunStatus::Running));
        WsProbe early;
        early.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(early.sendJson(WsProbe::startRequest(QStringLiteral("fresh-orphan"), QString())));
        QTRY_VERIFY_WITH_TIMEOUT(early.isClosed(), Timeout);
        QCOMPARE(early.closeInfo().code, quint16(4409));
        QCOMPARE(early.closeInfo().reason, QStringLiteral("not resumable (status: running)"));

        // One whose executor's last activity was a minute ago: an orphan, resumable.
        auto pastStore = openStore(spec, [] { return QDateTime::currentMSecsSinceEpoch() - 60000; });
        QVERIFY(pastStore);
        QVERIFY(makeRun(*pastStore, QStringLiteral("stale-orphan"), RunStatus::Running));
        WsProbe late;
        late.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(late.sendJson(WsProbe::startRequest(QStringLiteral("stale-orphan"), QString())));
        QTRY_VERIFY_WITH_TIMEOUT(late.isClosed(), Timeout);
        QCOMPARE(late.closeInfo().code, quint16(1000));
        QVERIFY(late.sawRunStatus(RunStatus::Running));
        QCOMPARE(statusOf(*gateway, QStringLiteral("stale-orphan")), QStringLiteral("input_required"));

        // A finished run stays finished.
        QVERIFY(makeRun(*direct, QStringLiteral("done"), RunStatus::Finished));
        WsProbe finished;
        finished.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(finished.sendJson(WsProbe::startRequest(QStringLiteral("done"), QStringLiteral("one more thing"))));
        QTRY_VERIFY_WITH_TIMEOUT(finished.isClosed(), Timeout);
        QCOMPARE(finished.closeInfo().code, quint16(4409));
        QCOMPARE(finished.closeInfo().reason, QStringLiteral("not resumable (status: finished)"));
        QCOMPARE(runOf(*gateway, QStringLiteral("done")).value(u"goal").toString(), QStringLiteral("make a file"));
    }

    void noCasGuardsLetsTwoExecutionsRun_data()
    {
        QTest::addColumn<bool>("guards");
        QTest::newRow("guards on") << true;
        QTest::newRow("guards off") << false;
    }
    void noCasGuardsLetsTwoExecutionsRun()
    {
        QFETCH(bool, guards);
        QStringList extra{QStringLiteral("--no-lock-concurrent-flows")};
        if (!guards)
            extra << QStringLiteral("--no-cas-guards");
        auto gateway = startGateway(newStoreOrWarn(m_stores, QStringLiteral("sqlite")), extra);
        QVERIFY(gateway);
        // Guards on: the first turn must outlast the second tab's attempt. Off: both turns run to their end.
        const QByteArray body = guards ? R"({"goal":"two tabs","flow":"glacial","workflowID":"tabs"})"
                                       : R"({"goal":"two tabs","flow":"slow","workflowID":"tabs"})";
        QCOMPARE(httpRequest("POST", gateway->baseUrl() + QStringLiteral("/api/v1/workflows"), gateway->token(), body)
                     .status,
                 201);

        WsProbe tabA;
        tabA.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(tabA.sendJson(WsProbe::startRequest(QStringLiteral("tabs"), QString())));
        QTRY_VERIFY_WITH_TIMEOUT(tabA.seqs().size() >= 2, Timeout);
        // The second tab sends the next message while the first turn still runs.
        WsProbe tabB;
        tabB.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(tabB.sendJson(WsProbe::startRequest(QStringLiteral("tabs"), QStringLiteral("and also this"))));
        if (guards)
        {
            QTRY_VERIFY_WITH_TIMEOUT(tabB.isClosed(), Timeout);
            QCOMPARE(tabB.closeInfo().code, quint16(4409));
            QVERIFY(!tabA.isClosed());
        }
        else
        {
            // The original bug: both run, each with its own execution.
            QTRY_VERIFY_WITH_TIMEOUT(tabA.isClosed() && tabB.isClosed(), Timeout);
            QCOMPARE(tabA.closeInfo().code, quint16(1000));
            QCOMPARE(tabB.closeInfo().code, quint16(1000));
            QCOMPARE(gateway->log().count(QStringLiteral("drives workflow tabs")), 2);
        }
    }

    void cancelOnOneReplicaStopsTheOther()
    {
        const QString spec = newStoreOrWarn(m_stores, QStringLiteral("postgresql"));
        auto replicaA = startGateway(spec, {QStringLiteral("--replica-id"), QStringLiteral("replica-a")});
        auto replicaB = startGateway(spec, {QStringLiteral("--replica-id"), QStringLiteral("replica-b")});
        QVERIFY(replicaA && replicaB);

        WsProbe driver;
        driver.open(replicaB->webSocketUrl(), replicaB->token());
        QVERIFY(driver.sendJson(
            WsProbe::startRequest(QStringLiteral("shared"), QStringLiteral("go slowly"), QStringLiteral("glacial"))));
        QTRY_VERIFY_WITH_TIMEOUT(driver.seqs().size() >= 2, Timeout);
        // Replica A, which does not execute it, sees its events by polling the store.
        WsProbe remoteWatcher;
        remoteWatcher.open(replicaA->webSocketUrl(), replicaA->token());
        QVERIFY(remoteWatcher.sendJson(WsProbe::subscribe(QStringLiteral("shared"))));
        QTRY_VERIFY_WITH_TIMEOUT(remoteWatcher.seqs().size() >= 3, Timeout);

        const HttpReply cancel = httpRequest(
            "POST", replicaA->baseUrl() + QStringLiteral("/api/v1/workflows/shared/cancel"), replicaA->token());
        QCOMPARE(cancel.json.value(u"outcome").toString(), QStringLiteral("cancelled"));
        // B's execution sees the stored status at its next step and stops.
        QTRY_VERIFY_WITH_TIMEOUT(driver.isClosed(), Timeout);
        QCOMPARE(driver.closeInfo().code, quint16(1000));
        QCOMPARE(driver.closeInfo().reason, QStringLiteral("stopped"));
        QTRY_VERIFY_WITH_TIMEOUT(remoteWatcher.lastRunStatus() == RunStatus::Stopped, Timeout);
        const qint64 seq = runOf(*replicaB, QStringLiteral("shared")).value(u"lastSeq").toInteger();
        QTest::qWait(500);
        QCOMPARE(runOf(*replicaB, QStringLiteral("shared")).value(u"lastSeq").toInteger(), seq);
        QCOMPARE(statusOf(*replicaB, QStringLiteral("shared")), QStringLiteral("stopped"));
        // The remote watcher rebuilt the log from polled deltas.
        QList<QJsonObject> stored;
        const HttpReply chat = httpRequest("GET", replicaA->baseUrl() + QStringLiteral("/api/v1/workflows/shared/chat"),
                                           replicaA->token());
        for (const QJsonValue &entry : chat.json.value(u"ui_chat_log").toArray())
            stored << entry.toObject();
        QCOMPARE(remoteWatcher.reconstructedLog(), stored);
    }
};

QTEST_GUILESS_MAIN(TestGatewayCas)
#include "tst_gatewaycas.moc"
