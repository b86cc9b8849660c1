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
        writeFlow(u"slow"_qs, agentSteps(100, 3000));
        // About 30 s of `running`: for tests that interrupt a run and must not see it end.
        writeFlow(u"glacial"_qs, agentSteps(100, 30000));
        // Busy: a step every ~30 ms, half of them tool calls (a loss mid tool
        // call must not write the result), about 12 s in all.
        QJsonArray busy;
        for (int i = 0; i < 400; ++i)
        {
            if (i % 2)
                busy.append(QJsonObject {{u"type"_qs, u"tool"_qs}, {u"name"_qs, u"read_file"_qs},
                                         {u"args"_qs, QJsonObject {{u"file_path"_qs, u"README.md"_qs}}},
                                         {u"response"_qs, QStringLiteral("pass %1").arg(i)}, {u"delayMs"_qs, 3000}});
            else
                busy.append(QJsonObject {{u"type"_qs, u"agent"_qs}, {u"content"_qs, QStringLiteral("step %1").arg(i)},
                                         {u"delayMs"_qs, 3000}});
        }
        writeFlow(u"busy"_qs, busy);
    }

    void secondTabGets1013BeforeAnyWrite_data()
    {
        QTest::addColumn<QString>("store");
        QTest::newRow("sqlite, memory lock") << u"sqlite"_qs;
        QTest::newRow("postgresql, memory lock") << u"postgresql"_qs;
    }
    void secondTabGets1013BeforeAnyWrite()
    {
        QFETCH(QString, store);
        auto gateway = startGateway(newStoreOrWarn(m_stores, store));
        QVERIFY(gateway);
        QCOMPARE(httpRequest("GET", gateway->baseUrl() + u"/healthz"_qs).json.value(u"lockStore").toString(), u"memory"_qs);

        WsProbe tabA;
        tabA.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(tabA.sendJson(WsProbe::startRequest(u"two-tabs"_qs, u"first message"_qs, u"glacial"_qs)));
        QTRY_VERIFY_WITH_TIMEOUT(tabA.seqs().size() >= 2, Timeout);
        QVERIFY(sawLockState(tabA, Protocol::LockState::Acquired));
        const auto acquired = tabA.lockStatuses().constFirst();
        QVERIFY(acquired.fence > 0);
        QVERIFY(!acquired.holder.isEmpty());

        const QJsonObject lock = lockOf(*gateway, u"two-tabs"_qs);
        QCOMPARE(lock.value(u"state").toString(), u"held"_qs);
        QCOMPARE(lock.value(u"holder").toString(), acquired.holder);
        QCOMPARE(lock.value(u"fence").toInteger(), acquired.fence);
        QVERIFY(lock.value(u"ttlMs").toInteger() > 0);
        // Every store write of the run carries the lock's fence.
        QCOMPARE(runOf(*gateway, u"two-tabs"_qs).value(u"fence").toInteger(), acquired.fence);

        const QJsonObject before = runOf(*gateway, u"two-tabs"_qs);
        WsProbe tabB;
        tabB.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(tabB.sendJson(WsProbe::startRequest(u"two-tabs"_qs, u"second message from the other tab"_qs)));
        QTRY_VERIFY_WITH_TIMEOUT(tabB.isClosed(), Timeout);
        QVERIFY(tabB.closeInfo().receivedCloseFrame);
        QCOMPARE(tabB.closeInfo().code, quint16(1013));
        QCOMPARE(tabB.closeInfo().reason, u"Failed to acquire lock on workflow"_qs);
        QVERIFY(tabB.checkpoints().isEmpty());
        // Nothing of tab B was written: not its goal, not its fence.
        const QJsonObject after = runOf(*gateway, u"two-tabs"_qs);
        QCOMPARE(after.value(u"goal").toString(), before.value(u"goal").toString());
        QCOMPARE(after.value(u"fence").toInteger(), before.value(u"fence").toInteger());
        QVERIFY(!tabA.isClosed());

        // Tab A leaves: its execution stops at the next step, then the lock goes.
        tabA.close();
        QTRY_COMPARE_WITH_TIMEOUT(runOf(*gateway, u"two-tabs"_qs).value(u"status").toString(), u"paused"_qs, Timeout);
        QTRY_COMPARE_WITH_TIMEOUT(lockOf(*gateway, u"two-tabs"_qs).value(u"state").toString(), u"free"_qs, Timeout);

        // Now tab B's message goes through, under a newer fence.
        WsProbe tabB2;
        tabB2.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(tabB2.sendJson(WsProbe::startRequest(u"two-tabs"_qs, u"second message from the other tab"_qs)));
        QTRY_VERIFY_WITH_TIMEOUT(sawLockState(tabB2, Protocol::LockState::Acquired), Timeout);
        QVERIFY(tabB2.lockStatuses().constFirst().fence > acquired.fence);
        QTRY_COMPARE_WITH_TIMEOUT(runOf(*gateway, u"two-tabs"_qs).value(u"goal").toString(), u"second message from the other tab"_qs, Timeout);
    }

    void lockIsReleasedWhenTheTurnEnds()
    {
        auto gateway = startGateway(newStoreOrWarn(m_stores, u"sqlite"_qs), {u"--lock-ttl"_qs, u"900ms"_qs});
        QVERIFY(gateway);
        QCOMPARE(httpRequest("POST", gateway->baseUrl() + u"/api/v1/workflows"_qs, gateway->token(),
                             R"({"goal":"watch me","flow":"slow","workflowID":"watched"})").status, 201);
        WsProbe watcher;
        watcher.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(watcher.sendJson(WsProbe::subscribe(u"watched"_qs)));
        QTRY_VERIFY_WITH_TIMEOUT(!watcher.runStatuses().isEmpty(), Timeout);

        WsProbe driver;
        driver.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(driver.sendJson(WsProbe::startRequest(u"watched"_qs, QString())));
        // Subscribers see the lock too: acquired, then heartbeats every TTL/3.
        QTRY_VERIFY_WITH_TIMEOUT(sawLockState(watcher, Protocol::LockState::Acquired), Timeout);
        QTRY_VERIFY_WITH_TIMEOUT(sawLockState(watcher, Protocol::LockState::Refreshed), Timeout);
        const auto refreshed = watcher.lockStatuses().constLast();
        QVERIFY(refreshed.ttlMs > 0 && refreshed.ttlMs <= 900);
        QVERIFY(refreshed.at > 0);

        QTRY_VERIFY_WITH_TIMEOUT(driver.isClosed(), Timeout);
        QCOMPARE(driver.closeInfo().code, quint16(1000));
        QTRY_VERIFY_WITH_TIMEOUT(sawLockState(watcher, Protocol::LockState::Released), Timeout);
        QCOMPARE(lockOf(*gateway, u"watched"_qs).value(u"state").toString(), u"free"_qs);
    }

    void redisSharedByReplicas()
    {
        TempRedis redis;
        QVERIFY2(redis.start(), qPrintable(redis.errorString()));
        const QString spec = newStoreOrWarn(m_stores, u"postgresql"_qs);
        auto replicaA = startGateway(spec, {u"--redis"_qs, redis.url(), u"--replica-id"_qs, u"replica-a"_qs});
        auto replicaB = startGateway(spec, {u"--redis"_qs, redis.url(), u"--replica-id"_qs, u"replica-b"_qs});
        QVERIFY(replicaA && replicaB);
        QCOMPARE(httpRequest("GET", replicaB->baseUrl() + u"/healthz"_qs).json.value(u"lockStore").toString(), u"redis"_qs);

        WsProbe tabA;
        tabA.open(replicaA->webSocketUrl(), replicaA->token());
        QVERIFY(tabA.sendJson(WsProbe::startRequest(u"replicated"_qs, u"hello from A"_qs, u"glacial"_qs)));
        QTRY_VERIFY_WITH_TIMEOUT(tabA.seqs().size() >= 2, Timeout);
        const auto acquired = tabA.lockStatuses().constFirst();
        QCOMPARE(runOf(*replicaB, u"replicated"_qs).value(u"fence").toInteger(), acquired.fence);

        // Replica B answers GET /lock from Redis.
        const QJsonObject lock = lockOf(*replicaB, u"replicated"_qs);
        QCOMPARE(lock.value(u"state").toString(), u"held"_qs);
        QCOMPARE(lock.value(u"replica").toString(), u"replica-a"_qs);
        QCOMPARE(lock.value(u"fence").toInteger(), acquired.fence);

        WsProbe tabB;
        tabB.open(replicaB->webSocketUrl(), replicaB->token());
        QVERIFY(tabB.sendJson(WsProbe::startRequest(u"replicated"_qs, u"hello from B"_qs)));
        QTRY_VERIFY_WITH_TIMEOUT(tabB.isClosed(), Timeout);
        QCOMPARE(tabB.closeInfo().code, quint16(1013));
        QCOMPARE(tabB.closeInfo().reason, u"Failed to acquire lock on workflow"_qs);
        QCOMPARE(runOf(*replicaA, u"replicated"_qs).value(u"goal").toString(), u"hello from A"_qs);
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
        auto gateway = startGateway(newStoreOrWarn(m_stores, u"sqlite"_qs), {u"--redis"_qs, redis.url(), u"--lock-ttl"_qs, u"900ms"_qs,
                                                             u"--stale-after"_qs, u"1s"_qs});
        QVERIFY(gateway);

        // A second run on the same gateway is the clock: its steps prove the
        // gateway's event loop went on (only usable while Redis lives).
        WsProbe clock;
        if (!killRedis)
        {
            clock.open(gateway->webSocketUrl(), gateway->token());
            QVERIFY(clock.sendJson(WsProbe::startRequest(u"clock"_qs, u"tick"_qs, u"busy"_qs)));
            QTRY_VERIFY_WITH_TIMEOUT(clock.seqs().size() >= 2, Timeout);
        }

        WsProbe driver;
        driver.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(driver.sendJson(WsProbe::startRequest(u"fragile"_qs, u"hold on"_qs, u"busy"_qs)));
        QTRY_VERIFY_WITH_TIMEOUT(sawLockState(driver, Protocol::LockState::Refreshed), Timeout);
        const qint64 fence = driver.lockStatuses().constFirst().fence;
        if (killRedis)
            redis.kill();
        else
            QCOMPARE(redisCommand(redis.port(), {"DEL", "lockstep:lock:fragile"}), QByteArray(":1\r\n"));

        QTRY_VERIFY_WITH_TIMEOUT(driver.isClosed(), Timeout);
        QVERIFY(sawLockState(driver, Protocol::LockState::Lost));
        QCOMPARE(driver.closeInfo().code, quint16(1011));
        QCOMPARE(driver.closeInfo().reason, u"lost lock"_qs);

        // The run is left as it was at the loss: `running`, our fence.
        const QJsonObject atLoss = runOf(*gateway, u"fragile"_qs);
        const QByteArray chatAtLoss = httpRequest("GET", gateway->baseUrl() + u"/api/v1/workflows/fragile/chat"_qs,
                                                  gateway->token()).body;
        QCOMPARE(atLoss.value(u"status").toString(), u"running"_qs);
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
        const QJsonObject later = runOf(*gateway, u"fragile"_qs);
        QCOMPARE(later.value(u"status").toString(), u"running"_qs);
        QCOMPARE(later.value(u"lastSeq").toInteger(), atLoss.value(u"lastSeq").toInteger());
        QCOMPARE(later.value(u"lastActivityAt").toString(), atLoss.value(u"lastActivityAt").toString());
        QCOMPARE(later.value(u"fence").toInteger(), fence);
        QCOMPARE(httpRequest("GET", gateway->baseUrl() + u"/api/v1/workflows/fragile/chat"_qs, gateway->token()).body,
                 chatAtLoss);
        QTRY_COMPARE_WITH_TIMEOUT(httpRequest("GET", gateway->baseUrl() + u"/healthz"_qs).json.value(u"drives").toInteger(),
                                  qint64(killRedis ? 0 : 1), Timeout);
        if (killRedis)
            return;

        // The orphan is resumable once stale: a new session takes it over
        // under a newer fence and the run goes on.
        QTRY_VERIFY_WITH_TIMEOUT(QDateTime::fromString(runOf(*gateway, u"fragile"_qs).value(u"lastActivityAt").toString(),
                                                       Qt::ISODateWithMs)
                                         .msecsTo(QDateTime::currentDateTimeUtc()) > 1200,
                                 Timeout);
        WsProbe next;
        next.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(next.sendJson(WsProbe::startRequest(u"fragile"_qs, QString())));
        QTRY_VERIFY_WITH_TIMEOUT(sawLockState(next, Protocol::LockState::Acquired) || next.isClosed(), Timeout);
        QVERIFY2(!next.isClosed(), qPrintable(next.closeInfo().reason));
        QVERIFY(next.lockStatuses().constFirst().fence > fence);
        QTRY_VERIFY_WITH_TIMEOUT(runOf(*gateway, u"fragile"_qs).value(u"lastSeq").toInteger()
                                     > atLoss.value(u"lastSeq").toInteger(),
                                 Timeout);
    }

    void lockStoreUnavailable_data()
    {
        QTest::addColumn<QString>("policy");
        QTest::newRow("fail-closed") << u"fail-closed"_qs;
        QTest::newRow("fail-open") << u"fail-open"_qs;
    }
    void lockStoreUnavailable()
    {
        QFETCH(QString, policy);
        // Nothing listens there.
        const QString deadRedis = QStringLiteral("redis://127.0.0.1:%1").arg(freePort());
        auto gateway = startGateway(newStoreOrWarn(m_stores, u"sqlite"_qs), {u"--redis"_qs, deadRedis, u"--lock-unavailable"_qs, policy});
        QVERIFY(gateway);

        WsProbe driver;
        driver.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(driver.sendJson(WsProbe::startRequest(u"unlockable"_qs, u"hello"_qs, u"hello"_qs)));
        QTRY_VERIFY_WITH_TIMEOUT(driver.isClosed(), Timeout);
        if (policy == u"fail-closed")
        {
            QCOMPARE(driver.closeInfo().code, quint16(1011));
            QCOMPARE(driver.closeInfo().reason, u"lock store unavailable"_qs);
            // Refused before any write.
            QCOMPARE(runOf(*gateway, u"unlockable"_qs).value(u"error").toString(), u"not_found"_qs);
        }
        else
        {
            QVERIFY(sawLockState(driver, Protocol::LockState::Unavailable));
            QCOMPARE(driver.closeInfo().code, quint16(1000));
            QCOMPARE(runOf(*gateway, u"unlockable"_qs).value(u"status").toString(), u"input_required"_qs);
        }
        // GET /lock says the lock store is down.
        const HttpReply lock = httpRequest("GET", gateway->baseUrl() + u"/api/v1/workflows/unlockable/lock"_qs, gateway->token());
        QCOMPARE(lock.status, 503);
        QCOMPARE(lock.json.value(u"error").toString(), u"lock_store_unavailable"_qs);
    }

    void lockOffMeansCasDecides()
    {
        auto gateway = startGateway(newStoreOrWarn(m_stores, u"sqlite"_qs), {u"--no-lock-concurrent-flows"_qs});
        QVERIFY(gateway);
        QCOMPARE(httpRequest("GET", gateway->baseUrl() + u"/healthz"_qs).json.value(u"lockEnabled").toBool(), false);
        WsProbe tabA;
        tabA.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(tabA.sendJson(WsProbe::startRequest(u"unlocked"_qs, u"first"_qs, u"glacial"_qs)));
        QTRY_VERIFY_WITH_TIMEOUT(tabA.seqs().size() >= 2, Timeout);
        QVERIFY(tabA.lockStatuses().isEmpty());
        WsProbe tabB;
        tabB.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(tabB.sendJson(WsProbe::startRequest(u"unlocked"_qs, u"second"_qs)));
        QTRY_VERIFY_WITH_TIMEOUT(tabB.isClosed(), Timeout);
        QCOMPARE(tabB.closeInfo().code, quint16(4409));
        QCOMPARE(tabB.closeInfo().reason, u"not resumable (status: running)"_qs);
    }
};

QTEST_GUILESS_MAIN(TestGatewayLock)
#include "tst_gatewaylock.moc"
