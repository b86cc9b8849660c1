#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>

#include "freeport.h"
#include "gatewayprocess.h"
#include "protocol/runstatus.h"
#include "tempredis.h"

using namespace Lockstep;
using namespace Lockstep::Test;

// The run lock of SPEC "Fix 1/2" in a real gateway: 1013 before any write,
// release when both the websocket and the execution ended, heartbeat, lost
// lock, the lock store unavailable (fail-closed / fail-open), lockStatus
// events, GET /lock, fences; the in-process store and Redis shared by replicas.
class TestGatewayLock : public QObject
{
    Q_OBJECT

private:
    StoreBackends m_stores;
    QTemporaryDir m_flowsDir;
    static constexpr int Timeout = 30000;

    std::unique_ptr<GatewayProcess> startGateway(const QString &storeSpec, const QStringList &extra = {})
    {
        return startGatewayOn(storeSpec, fastFlowArguments(m_flowsDir.path()) + extra);
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
        // About 3 s of `running` at --step-delay-scale 0.01.
        writeFlow(QStringLiteral("slow"), agentSteps(100, 3000));
        // About 30 s of `running`: for tests that interrupt a run and must not see it end.
        writeFlow(QStringLiteral("glacial"), agentSteps(100, 30000));
        // Busy: a step every ~30 ms, half of them tool calls (a loss mid tool
        // call must not write the result), about 12 s in all.
        QJsonArray busy;
        for (int i = 0; i < 400; ++i)
        {
            if (i % 2)
                busy.append(QJsonObject{
                    {QStringLiteral("type"), QStringLiteral("tool")},
                    {QStringLiteral("name"), QStringLiteral("read_file")},
                    {QStringLiteral("args"), QJsonObject{{QStringLiteral("file_path"), QStringLiteral("README.md")}}},
                    {QStringLiteral("response"), QStringLiteral("pass %1").arg(i)},
                    {QStringLiteral("delayMs"), 3000}});
            else
                busy.append(QJsonObject{{QStringLiteral("type"), QStringLiteral("agent")},
                                        {QStringLiteral("content"), QStringLiteral("step %1").arg(i)},
                                        {QStringLiteral("delayMs"), 3000}});
        }
        writeFlow(QStringLiteral("busy"), busy);
    }

    void secondTabGets1013BeforeAnyWrite_data()
    {
        QTest::addColumn<QString>("store");
        QTest::newRow("sqlite, memory lock") << QStringLiteral("sqlite");
        QTest::newRow("postgresql, memory lock") << QStringLiteral("postgresql");
    }
    void secondTabGets1013BeforeAnyWrite()
    {
        QFETCH(QString, store);
        auto gateway = startGateway(newStoreOrWarn(m_stores, store));
        QVERIFY(gateway);
        QCOMPARE(
            httpRequest("GET", gateway->baseUrl() + QStringLiteral("/healthz")).json.value(u"lockStore").toString(),
            QStringLiteral("memory"));

        WsProbe tabA;
        tabA.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(tabA.sendJson(WsProbe::startRequest(QStringLiteral("two-tabs"), QStringLiteral("first message"),
                                                    QStringLiteral("glacial"))));
        QTRY_VERIFY_WITH_TIMEOUT(tabA.seqs().size() >= 2, Timeout);
        QVERIFY(sawLockState(tabA, Protocol::LockState::Acquired));
        const auto acquired = tabA.lockStatuses().constFirst();
        QVERIFY(acquired.fence > 0);
        QVERIFY(!acquired.holder.isEmpty());

        const QJsonObject lock = lockOf(*gateway, QStringLiteral("two-tabs"));
        QCOMPARE(lock.value(u"state").toString(), QStringLiteral("held"));
        QCOMPARE(lock.value(u"holder").toString(), acquired.holder);
        QCOMPARE(lock.value(u"fence").toInteger(), acquired.fence);
        QVERIFY(lock.value(u"ttlMs").toInteger() > 0);
        // Every store write of the run carries the lock's fence.
        QCOMPARE(runOf(*gateway, QStringLiteral("two-tabs")).value(u"fence").toInteger(), acquired.fence);

        const QJsonObject before = runOf(*gateway, QStringLiteral("two-tabs"));
        WsProbe tabB;
        tabB.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(tabB.sendJson(
            WsProbe::startRequest(QStringLiteral("two-tabs"), QStringLiteral("second message from the other tab"))));
        QTRY_VERIFY_WITH_TIMEOUT(tabB.isClosed(), Timeout);
        QVERIFY(tabB.closeInfo().receivedCloseFrame);
        QCOMPARE(tabB.closeInfo().code, quint16(1013));
        QCOMPARE(tabB.closeInfo().reason, QStringLiteral("Failed to acquire lock on workflow"));
        QVERIFY(tabB.checkpoints().isEmpty());
        // Nothing of tab B was written: not its goal, not its fence.
        const QJsonObject after = runOf(*gateway, QStringLiteral("two-tabs"));
        QCOMPARE(after.value(u"goal").toString(), before.value(u"goal").toString());
        QCOMPARE(after.value(u"fence").toInteger(), before.value(u"fence").toInteger());
        QVERIFY(!tabA.isClosed());

        // Tab A leaves: its execution stops at the next step, then the lock goes.
        tabA.close();
        QTRY_COMPARE_WITH_TIMEOUT(runOf(*gateway, QStringLiteral("two-tabs")).value(u"status").toString(),
                                  QStringLiteral("paused"), Timeout);
        QTRY_COMPARE_WITH_TIMEOUT(lockOf(*gateway, QStringLiteral("two-tabs")).value(u"state").toString(),
                                  QStringLiteral("free"), Timeout);

        // Now tab B's message goes through, under a newer fence.
        WsProbe tabB2;
        tabB2.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(tabB2.sendJson(
            WsProbe::startRequest(QStringLiteral("two-tabs"), QStringLiteral("second message from the other tab"))));
        QTRY_VERIFY_WITH_TIMEOUT(sawLockState(tabB2, Protocol::LockState::Acquired), Timeout);
        QVERIFY(tabB2.lockStatuses().constFirst().fence > acquired.fence);
        QTRY_COMPARE_WITH_TIMEOUT(runOf(*gateway, QStringLiteral("two-tabs")).value(u"goal").toString(),
                                  QStringLiteral("second message from the other tab"), Timeout);
    }

    void lockIsReleasedWhenTheTurnEnds()
    {
        auto gateway = startGateway(newStoreOrWarn(m_stores, QStringLiteral("sqlite")),
                                    {QStringLiteral("--lock-ttl"), QStringLiteral("900ms")});
        QVERIFY(gateway);
        QCOMPARE(httpRequest("POST", gateway->baseUrl() + QStringLiteral("/api/v1/workflows"), gateway->token(),
                             R"({"goal":"watch me","flow":"slow","workflowID":"watched"})")
                     .status,
                 201);
        WsProbe watcher;
        watcher.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(watcher.sendJson(WsProbe::subscribe(QStringLiteral("watched"))));
        QTRY_VERIFY_WITH_TIMEOUT(!watcher.runStatuses().isEmpty(), Timeout);

        WsProbe driver;
        driver.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(driver.sendJson(WsProbe::startRequest(QStringLiteral("watched"), QString())));
        // Subscribers see the lock too: acquired, then heartbeats every TTL/3.
        QTRY_VERIFY_WITH_TIMEOUT(sawLockState(watcher, Protocol::LockState::Acquired), Timeout);
        QTRY_VERIFY_WITH_TIMEOUT(sawLockState(watcher, Protocol::LockState::Refreshed), Timeout);
        const auto refreshed = watcher.lockStatuses().constLast();
        QVERIFY(refreshed.ttlMs > 0 && refreshed.ttlMs <= 900);
        QVERIFY(refreshed.at > 0);

        QTRY_VERIFY_WITH_TIMEOUT(driver.isClosed(), Timeout);
        QCOMPARE(driver.closeInfo().code, quint16(1000));
        QTRY_VERIFY_WITH_TIMEOUT(sawLockState(watcher, Protocol::LockState::Released), Timeout);
        QCOMPARE(lockOf(*gateway, QStringLiteral("watched")).value(u"state").toString(), QStringLiteral("free"));
    }

    void redisSharedByReplicas()
    {
        TempRedis redis;
        QVERIFY2(redis.start(), qPrintable(redis.errorString()));
        const QString spec = newStoreOrWarn(m_stores, QStringLiteral("postgresql"));
        auto replicaA = startGateway(spec, {QStringLiteral("--redis"), redis.url(), QStringLiteral("--replica-id"),
                                            QStringLiteral("replica-a")});
        auto replicaB = startGateway(spec, {QStringLiteral("--redis"), redis.url(), QStringLiteral("--replica-id"),
                                            QStringLiteral("replica-b")});
        QVERIFY(replicaA && replicaB);
        QCOMPARE(
            httpRequest("GET", replicaB->baseUrl() + QStringLiteral("/healthz")).json.value(u"lockStore").toString(),
            QStringLiteral("redis"));

        WsProbe tabA;
        tabA.open(replicaA->webSocketUrl(), replicaA->token());
        QVERIFY(tabA.sendJson(WsProbe::startRequest(QStringLiteral("replicated"), QStringLiteral("hello from A"),
                                                    QStringLiteral("glacial"))));
        QTRY_VERIFY_WITH_TIMEOUT(tabA.seqs().size() >= 2, Timeout);
        const auto acquired = tabA.lockStatuses().constFirst();
        QCOMPARE(runOf(*replicaB, QStringLiteral("replicated")).value(u"fence").toInteger(), acquired.fence);

        // Replica B answers GET /lock from Redis.
        const QJsonObject lock = lockOf(*replicaB, QStringLiteral("replicated"));
        QCOMPARE(lock.value(u"state").toString(), QStringLiteral("held"));
        QCOMPARE(lock.value(u"replica").toString(), QStringLiteral("replica-a"));
        QCOMPARE(lock.value(u"fence").toInteger(), acquired.fence);

        WsProbe tabB;
        tabB.open(replicaB->webSocketUrl(), replicaB->token());
        QVERIFY(tabB.sendJson(WsProbe::startRequest(QStringLiteral("replicated"), QStringLiteral("hello from B"))));
        QTRY_VERIFY_WITH_TIMEOUT(tabB.isClosed(), Timeout);
        QCOMPARE(tabB.closeInfo().code, quint16(1013));
        QCOMPARE(tabB.closeInfo().reason, QStringLiteral("Failed to acquire lock on workflow"));
        QCOMPARE(runOf(*replicaA, QStringLiteral("replicated")).value(u"goal").toString(),
                 QStringLiteral("hello from A"));
    }

    void lostLockStopsTheExecution_data()
    {
        QTest::addColumn<bool>("killRedis");
        QTest::newRow("key deleted") << false;
        QTest::newRow("redis killed") << true;
    }
    // SPEC fix 2: a refresh answering 0 (or failing) cancels the execution with
    // cause "lost lock", and nothing more is written: not `paused`, not a tool
    // result, not a last_activity_at touch. The run stays `running`, an orphan
    // that the CAS resume matches after --stale-after.
    void lostLockStopsTheExecution()
    {
        QFETCH(bool, killRedis);
        TempRedis redis;
        QVERIFY2(redis.start(), qPrintable(redis.errorString()));
        auto gateway = startGateway(newStoreOrWarn(m_stores, QStringLiteral("sqlite")),
                                    {QStringLiteral("--redis"), redis.url(), QStringLiteral("--lock-ttl"),
                                     QStringLiteral("900ms"), QStringLiteral("--stale-after"), QStringLiteral("1s")});
        QVERIFY(gateway);

        // A second run on the same gateway is the clock: its steps prove the
        // gateway's event loop went on (only usable while Redis lives).
        WsProbe clock;
        if (!killRedis)
        {
            clock.open(gateway->webSocketUrl(), gateway->token());
            QVERIFY(clock.sendJson(
                WsProbe::startRequest(QStringLiteral("clock"), QStringLiteral("tick"), QStringLiteral("busy"))));
            QTRY_VERIFY_WITH_TIMEOUT(clock.seqs().size() >= 2, Timeout);
        }

        WsProbe driver;
        driver.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(driver.sendJson(
            WsProbe::startRequest(QStringLiteral("fragile"), QStringLiteral("hold on"), QStringLiteral("busy"))));
        QTRY_VERIFY_WITH_TIMEOUT(sawLockState(driver, Protocol::LockState::Refreshed), Timeout);
        const qint64 fence = driver.lockStatuses().constFirst().fence;
        if (killRedis)
            redis.kill();
        else
            QCOMPARE(redisCommand(redis.port(), {"DEL", "lockstep:lock:fragile"}), QByteArray(":1\r\n"));

        QTRY_VERIFY_WITH_TIMEOUT(driver.isClosed(), Timeout);
        QVERIFY(sawLockState(driver, Protocol::LockState::Lost));
        QCOMPARE(driver.closeInfo().code, quint16(1011));
        QCOMPARE(driver.closeInfo().reason, QStringLiteral("lost lock"));

        // The run is left as it was at the loss: `running`, our fence.
        const QJsonObject atLoss = runOf(*gateway, QStringLiteral("fragile"));
        const QByteArray chatAtLoss =
            httpRequest("GET", gateway->baseUrl() + QStringLiteral("/api/v1/workflows/fragile/chat"), gateway->token())
                .body;
        QCOMPARE(atLoss.value(u"status").toString(), QStringLiteral("running"));
        QCOMPARE(atLoss.value(u"fence").toInteger(), fence);
        QVERIFY(atLoss.value(u"lastSeq").toInteger() > 0);

        if (!killRedis)
        {
            // 30 more steps of the clock run (>= 0.9 s: a step every ~30 ms,
            // three heartbeats and three activity touches).
            const qsizetype ticks = clock.seqs().size();
            QTRY_VERIFY_WITH_TIMEOUT(clock.seqs().size() >= ticks + 30, Timeout);
        }
        else
        {
            // No clock without Redis: three heartbeat intervals and ~30 steps.
            QTest::qWait(900);
        }
        const QJsonObject later = runOf(*gateway, QStringLiteral("fragile"));
        QCOMPARE(later.value(u"status").toString(), QStringLiteral("running"));
        QCOMPARE(later.value(u"lastSeq").toInteger(), atLoss.value(u"lastSeq").toInteger());
        QCOMPARE(later.value(u"lastActivityAt").toString(), atLoss.value(u"lastActivityAt").toString());
        QCOMPARE(later.value(u"fence").toInteger(), fence);
        QCOMPARE(
            httpRequest("GET", gateway->baseUrl() + QStringLiteral("/api/v1/workflows/fragile/chat"), gateway->token())
                .body,
            chatAtLoss);
        QTRY_COMPARE_WITH_TIMEOUT(
            httpRequest("GET", gateway->baseUrl() + QStringLiteral("/healthz")).json.value(u"drives").toInteger(),
            qint64(killRedis ? 0 : 1), Timeout);
        if (killRedis)
            return;

        // The orphan is resumable once stale: a new session takes it over
        // under a newer fence and the run goes on.
        QTRY_VERIFY_WITH_TIMEOUT(
            QDateTime::fromString(runOf(*gateway, QStringLiteral("fragile")).value(u"lastActivityAt").toString(),
                                  Qt::ISODateWithMs)
                    .msecsTo(QDateTime::currentDateTimeUtc()) > 1200,
            Timeout);
        WsProbe next;
        next.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(next.sendJson(WsProbe::startRequest(QStringLiteral("fragile"), QString())));
        QTRY_VERIFY_WITH_TIMEOUT(sawLockState(next, Protocol::LockState::Acquired) || next.isClosed(), Timeout);
        QVERIFY2(!next.isClosed(), qPrintable(next.closeInfo().reason));
        QVERIFY(next.lockStatuses().constFirst().fence > fence);
        QTRY_VERIFY_WITH_TIMEOUT(runOf(*gateway, QStringLiteral("fragile")).value(u"lastSeq").toInteger() >
                                     atLoss.value(u"lastSeq").toInteger(),
                                 Timeout);
    }

    void lockStoreUnavailable_data()
    {
        QTest::addColumn<QString>("policy");
        QTest::newRow("fail-closed") << QStringLiteral("fail-closed");
        QTest::newRow("fail-open") << QStringLiteral("fail-open");
    }
    void lockStoreUnavailable()
    {
        QFETCH(QString, policy);
        // Nothing listens there.
        const QString deadRedis = QStringLiteral("redis://127.0.0.1:%1").arg(freePort());
        auto gateway =
            startGateway(newStoreOrWarn(m_stores, QStringLiteral("sqlite")),
                         {QStringLiteral("--redis"), deadRedis, QStringLiteral("--lock-unavailable"), policy});
        QVERIFY(gateway);

        WsProbe driver;
        driver.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(driver.sendJson(
            WsProbe::startRequest(QStringLiteral("unlockable"), QStringLiteral("hello"), QStringLiteral("hello"))));
        QTRY_VERIFY_WITH_TIMEOUT(driver.isClosed(), Timeout);
        if (policy == u"fail-closed")
        {
            QCOMPARE(driver.closeInfo().code, quint16(1011));
            QCOMPARE(driver.closeInfo().reason, QStringLiteral("lock store unavailable"));
            // Refused before any write.
            QCOMPARE(runOf(*gateway, QStringLiteral("unlockable")).value(u"error").toString(),
                     QStringLiteral("not_found"));
        }
        else
        {
            QVERIFY(sawLockState(driver, Protocol::LockState::Unavailable));
            QCOMPARE(driver.closeInfo().code, quint16(1000));
            QCOMPARE(runOf(*gateway, QStringLiteral("unlockable")).value(u"status").toString(),
                     QStringLiteral("input_required"));
        }
        // GET /lock says the lock store is down.
        const HttpReply lock = httpRequest(
            "GET", gateway->baseUrl() + QStringLiteral("/api/v1/workflows/unlockable/lock"), gateway->token());
        QCOMPARE(lock.status, 503);
        QCOMPARE(lock.json.value(u"error").toString(), QStringLiteral("lock_store_unavailable"));
    }

    void lockOffMeansCasDecides()
    {
        auto gateway = startGateway(newStoreOrWarn(m_stores, QStringLiteral("sqlite")),
                                    {QStringLiteral("--no-lock-concurrent-flows")});
        QVERIFY(gateway);
        QCOMPARE(
            httpRequest("GET", gateway->baseUrl() + QStringLiteral("/healthz")).json.value(u"lockEnabled").toBool(),
            false);
        WsProbe tabA;
        tabA.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(tabA.sendJson(
            WsProbe::startRequest(QStringLiteral("unlocked"), QStringLiteral("first"), QStringLiteral("glacial"))));
        QTRY_VERIFY_WITH_TIMEOUT(tabA.seqs().size() >= 2, Timeout);
        QVERIFY(tabA.lockStatuses().isEmpty());
        WsProbe tabB;
        tabB.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(tabB.sendJson(WsProbe::startRequest(QStringLiteral("unlocked"), QStringLiteral("second"))));
        QTRY_VERIFY_WITH_TIMEOUT(tabB.isClosed(), Timeout);
        QCOMPARE(tabB.closeInfo().code, quint16(4409));
        QCOMPARE(tabB.closeInfo().reason, QStringLiteral("not resumable (status: running)"));
    }
};

QTEST_GUILESS_MAIN(TestGatewayLock)
#include "tst_gatewaylock.moc"
