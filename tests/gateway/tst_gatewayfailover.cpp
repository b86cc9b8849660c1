#include <algorithm>
#include <csignal>

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QJsonDocument>
#include <QTcpSocket>
#include <QTest>

#include "gatewayprocess.h"
#include "protocol/runstatus.h"
#include "tempredis.h"

using namespace Lockstep;
using namespace Lockstep::Test;

// The run lock across real gateway processes sharing Redis and PostgreSQL:
// a long run keeps its lock over many TTLs, a SIGKILLed holder frees it after
// its TTL, a SIGSTOPped holder is fenced out when it comes back, and thousands
// of sessions (some ended by a TCP reset) leave no lock, timer or session behind.
class TestGatewayFailover : public QObject
{
    Q_OBJECT

private:
    StoreBackends m_stores;
    static constexpr int Timeout = 30000;

    static std::unique_ptr<GatewayProcess> startGateway(const QString &storeSpec, const QStringList &extra)
    {
        return startGatewayOn(storeSpec,
                              QStringList{QStringLiteral("--poll-interval"), QStringLiteral("100ms")} + extra);
    }

    static QJsonObject healthOf(const GatewayProcess &gateway)
    {
        return httpRequest("GET", gateway.baseUrl() + QStringLiteral("/healthz")).json;
    }

    // The fence of the lockStatus in the client's latest text frame.
    static qint64 lastLockFence(const RawWsClient &client)
    {
        return QJsonDocument::fromJson(client.texts().constLast())
            .object()
            .value(u"lockStatus")
            .toObject()
            .value(u"fence")
            .toInteger();
    }

    // Every key matching `pattern`, by SCAN (the raw RESP reply: empty list is "*0\r\n").
    static QByteArray scanKeys(const std::uint16_t port, const QByteArray &pattern)
    {
        return redisCommand(port, {"SCAN", "0", "MATCH", pattern, "COUNT", "100000"});
    }

    // Sessions, drives, feeds and heartbeat timers all back to 0.
    static bool idle(const GatewayProcess &gateway)
    {
        const QJsonObject health = healthOf(gateway);
        return health.value(u"sessions").toInteger(-1) == 0 && health.value(u"drives").toInteger(-1) == 0 &&
               health.value(u"feeds").toInteger(-1) == 0 && health.value(u"liveLocks").toInteger(-1) == 0 &&
               health.value(u"heldLocks").toInteger(0) == 0;
    }

private slots:
    void initTestCase()
    {
        QVERIFY2(!GatewayProcess::binary().isEmpty(), "LOCKSTEP_GATEWAY_BIN");
    }

    // (a) The lock TTL is not the run's length: the heartbeat keeps one holder
    // and one fence over many TTLs.
    void longRunKeepsItsLock()
    {
        TempRedis redis;
        QVERIFY2(redis.start(), qPrintable(redis.errorString()));
        const QString spec = newStoreOrWarn(m_stores, QStringLiteral("postgresql"));
        const QStringList common{QStringLiteral("--redis"),
                                 redis.url(),
                                 QStringLiteral("--lock-ttl"),
                                 QStringLiteral("1s"),
                                 QStringLiteral("--stale-after"),
                                 QStringLiteral("1s"),
                                 QStringLiteral("--step-delay-scale"),
                                 QStringLiteral("0.05")};
        auto holder =
            startGateway(spec, common + QStringList{QStringLiteral("--replica-id"), QStringLiteral("holder")});
        auto other = startGateway(spec, common + QStringList{QStringLiteral("--replica-id"), QStringLiteral("other")});
        QVERIFY(holder && other);

        WsProbe driver;
        driver.open(holder->webSocketUrl(), holder->token());
        QVERIFY(driver.sendJson(WsProbe::startRequest(QStringLiteral("marathon"), QStringLiteral("take your time"),
                                                      QStringLiteral("long"))));
        QTRY_VERIFY_WITH_TIMEOUT(sawLockState(driver, Protocol::LockState::Acquired), Timeout);
        const Protocol::LockStatus acquired = driver.lockStatuses().constFirst();
        QElapsedTimer held;
        held.start();

        // Past three TTLs, counted by refreshes (every TTL/3): ten of them.
        auto refreshes = [&driver] {
            const auto statuses = driver.lockStatuses();
            return std::count_if(statuses.cbegin(), statuses.cend(),
                                 [](const auto &s) { return s.state == Protocol::LockState::Refreshed; });
        };
        QTRY_VERIFY_WITH_TIMEOUT(refreshes() >= 10 || driver.isClosed(), Timeout);
        QVERIFY2(!driver.isClosed(), qPrintable(driver.closeInfo().reason));
        QVERIFY(held.elapsed() > 3000);
        QVERIFY(!sawLockState(driver, Protocol::LockState::Lost));
        for (const auto &status : driver.lockStatuses())
            QCOMPARE(status.fence, acquired.fence);

        // The other replica reads the same holder and fence from Redis.
        const QJsonObject lock = lockOf(*other, QStringLiteral("marathon"));
        QCOMPARE(lock.value(u"state").toString(), QStringLiteral("held"));
        QCOMPARE(lock.value(u"holder").toString(), acquired.holder);
        QCOMPARE(lock.value(u"replica").toString(), QStringLiteral("holder"));
        QCOMPARE(lock.value(u"fence").toInteger(), acquired.fence);
        const QJsonObject run = runOf(*other, QStringLiteral("marathon"));
        QCOMPARE(run.value(u"status").toString(), QStringLiteral("running"));
        QCOMPARE(run.value(u"fence").toInteger(), acquired.fence);
        qInfo("held %lld ms, %lld refreshes, fence %lld unchanged", qint64(held.elapsed()), qint64(refreshes()),
              acquired.fence);
    }

    // (b) The holder's gateway dies (SIGKILL: no release). Another replica
    // answers 1013 while the key lives, then the start goes through.
    void killedHolderFreesTheLockAfterItsTtl()
    {
        TempRedis redis;
        QVERIFY2(redis.start(), qPrintable(redis.errorString()));
        const QString spec = newStoreOrWarn(m_stores, QStringLiteral("postgresql"));
        // stale-after below the TTL: the orphaned run is resumable by the time the key expires.
        const QStringList common{QStringLiteral("--redis"),
                                 redis.url(),
                                 QStringLiteral("--lock-ttl"),
                                 QStringLiteral("1500ms"),
                                 QStringLiteral("--stale-after"),
                                 QStringLiteral("500ms"),
                                 QStringLiteral("--step-delay-scale"),
                                 QStringLiteral("0.05")};
        auto holder =
            startGateway(spec, common + QStringList{QStringLiteral("--replica-id"), QStringLiteral("doomed")});
        auto survivor =
            startGateway(spec, common + QStringList{QStringLiteral("--replica-id"), QStringLiteral("survivor")});
        QVERIFY(holder && survivor);

        WsProbe driver;
        driver.open(holder->webSocketUrl(), holder->token());
        QVERIFY(driver.sendJson(
            WsProbe::startRequest(QStringLiteral("crash"), QStringLiteral("go"), QStringLiteral("long"))));
        QTRY_VERIFY_WITH_TIMEOUT(sawLockState(driver, Protocol::LockState::Refreshed), Timeout);
        const qint64 oldFence = driver.lockStatuses().constFirst().fence;

        holder->kill();
        QElapsedTimer sinceKill;
        sinceKill.start();

        int refused = 0;
        int notYetStale = 0;
        bool started = false;
        qint64 newFence = 0;
        while (!started && sinceKill.elapsed() < Timeout)
        {
            RawWsClient client;
            QVERIFY(client.open(survivor->port(), survivor->token()));
            QVERIFY(client.sendJson(WsProbe::startRequest(QStringLiteral("crash"), QString())));
            const int code = client.waitForCloseOr("\"acquired\"", 10000);
            if (code == 0)
            {
                started = true;
                newFence = lastLockFence(client);
                client.close();
                break;
            }
            if (code == 1013)
            {
                QCOMPARE(client.closeReason(), QStringLiteral("Failed to acquire lock on workflow"));
                ++refused;
            }
            else if (code == 4409)
                ++notYetStale;  // the key expired a moment before the run looked stale
            else
                QFAIL(qPrintable(QStringLiteral("unexpected close %1 %2").arg(code).arg(client.closeReason())));
            QTest::qWait(50);
        }
        const qint64 failover = sinceKill.elapsed();
        QVERIFY(refused >= 1);
        QVERIFY(started);
        QVERIFY(newFence > oldFence);
        qInfo("failover: %lld ms after SIGKILL (TTL 1500 ms), %d x 1013, %d x 4409 before the start went through",
              failover, refused, notYetStale);
    }

    // (c) The holder is frozen (SIGSTOP) past its TTL; another replica takes
    // over; the old one thaws (SIGCONT): the fence refuses its writes, it stops
    // and its session ends with `lost` / 1011.
    void frozenHolderIsFencedOut()
    {
        TempRedis redis;
        QVERIFY2(redis.start(), qPrintable(redis.errorString()));
        const QString spec = newStoreOrWarn(m_stores, QStringLiteral("postgresql"));
        const QStringList common{QStringLiteral("--redis"),
                                 redis.url(),
                                 QStringLiteral("--lock-ttl"),
                                 QStringLiteral("1s"),
                                 QStringLiteral("--stale-after"),
                                 QStringLiteral("500ms"),
                                 QStringLiteral("--step-delay-scale"),
                                 QStringLiteral("0.02")};
        auto old = startGateway(spec, common + QStringList{QStringLiteral("--replica-id"), QStringLiteral("frozen")});
        auto fresh = startGateway(spec, common + QStringList{QStringLiteral("--replica-id"), QStringLiteral("fresh")});
        QVERIFY(old && fresh);

        WsProbe oldDriver;
        oldDriver.open(old->webSocketUrl(), old->token());
        QVERIFY(oldDriver.sendJson(
            WsProbe::startRequest(QStringLiteral("frozen-run"), QStringLiteral("go"), QStringLiteral("long"))));
        QTRY_VERIFY_WITH_TIMEOUT(sawLockState(oldDriver, Protocol::LockState::Refreshed), Timeout);
        const qint64 oldFence = oldDriver.lockStatuses().constFirst().fence;

        QCOMPARE(::kill(pid_t(old->pid()), SIGSTOP), 0);
        // Past the TTL the key is gone and the run is stale: the fresh replica
        // takes over with the next user message, so its entries are turn 2
        // (t2-*) and the old holder's are turn 1 (t1-*).
        RawWsClient takeover;
        QElapsedTimer frozen;
        frozen.start();
        qint64 newFence = 0;
        while (newFence == 0 && frozen.elapsed() < Timeout)
        {
            QVERIFY(takeover.open(fresh->port(), fresh->token()));
            QVERIFY(takeover.sendJson(
                WsProbe::startRequest(QStringLiteral("frozen-run"), QStringLiteral("the other tab"))));
            const int code = takeover.waitForCloseOr("\"acquired\"", 10000);
            if (code == 0)
            {
                newFence = lastLockFence(takeover);
                break;
            }
            QVERIFY2(code == 1013 || code == 4409, qPrintable(QString::number(code)));
            QTest::qWait(50);
        }
        QVERIFY(newFence > oldFence);

        auto chat = [&] {
            return httpRequest("GET", fresh->baseUrl() + QStringLiteral("/api/v1/workflows/frozen-run/chat"),
                               fresh->token())
                .json.value(u"ui_chat_log")
                .toArray();
        };
        auto turn = [](const QJsonArray &log, const QString &prefix) {
            QList<QJsonObject> entries;
            for (const QJsonValue &value : log)
            {
                if (value.toObject().value(u"message_id").toString().startsWith(prefix))
                    entries.append(value.toObject());
            }
            return entries;
        };
        QTRY_VERIFY_WITH_TIMEOUT(turn(chat(), QStringLiteral("t2-")).size() >= 2, Timeout);
        // The old holder's turn as it stood when it froze.
        const QList<QJsonObject> oldTurn = turn(chat(), QStringLiteral("t1-"));
        QVERIFY(!oldTurn.isEmpty());

        QCOMPARE(::kill(pid_t(old->pid()), SIGCONT), 0);
        QTRY_VERIFY_WITH_TIMEOUT(oldDriver.isClosed(), Timeout);
        QVERIFY(sawLockState(oldDriver, Protocol::LockState::Lost));
        QCOMPARE(oldDriver.closeInfo().code, quint16(1011));
        QCOMPARE(oldDriver.closeInfo().reason, QStringLiteral("lost lock"));

        // The new holder writes on; the old one's entries never came back.
        const qsizetype newSoFar = turn(chat(), QStringLiteral("t2-")).size();
        QTRY_VERIFY_WITH_TIMEOUT(turn(chat(), QStringLiteral("t2-")).size() >= newSoFar + 3, Timeout);
        QVERIFY(turn(chat(), QStringLiteral("t1-")) == oldTurn);
        const QJsonObject run = runOf(*fresh, QStringLiteral("frozen-run"));
        QCOMPARE(run.value(u"fence").toInteger(), newFence);
        QCOMPARE(run.value(u"status").toString(), QStringLiteral("running"));
        QCOMPARE(lockOf(*fresh, QStringLiteral("frozen-run")).value(u"replica").toString(), QStringLiteral("fresh"));
        QCOMPARE(lockOf(*fresh, QStringLiteral("frozen-run")).value(u"fence").toInteger(), newFence);
        // The old gateway let go: no heartbeat, no drive.
        QTRY_VERIFY_WITH_TIMEOUT(idle(*old), Timeout);
        takeover.close();
    }

    // (d) Many start/close cycles, every third ended by a TCP reset and every
    // third closed before the lock answered, leave nothing behind: no lock key,
    // no heartbeat timer, no session. (The bench runs 10 000 cycles.)
    void cyclesLeaveNothingBehind_data()
    {
        QTest::addColumn<bool>("useRedis");
        QTest::addColumn<int>("cycles");
        QTest::newRow("memory lock, 2000 cycles") << false << 2000;
        QTest::newRow("redis lock, 300 cycles") << true << 300;
    }
    void cyclesLeaveNothingBehind()
    {
        QFETCH(bool, useRedis);
        QFETCH(int, cycles);
        TempRedis redis;
        QStringList arguments{QStringLiteral("--step-delay-scale"), QStringLiteral("0.01"),
                              QStringLiteral("--lock-ttl"), QStringLiteral("3s")};
        if (useRedis)
        {
            QVERIFY2(redis.start(), qPrintable(redis.errorString()));
            arguments << QStringLiteral("--redis") << redis.url();
        }
        auto gateway = startGateway(newStoreOrWarn(m_stores, QStringLiteral("sqlite")), arguments);
        QVERIFY(gateway);

        int acquired = 0;
        for (int i = 0; i < cycles; ++i)
        {
            // Drain the gateway's stderr pipe (QProcess reads it on the event
            // loop); a full pipe would block the gateway's logging.
            QCoreApplication::processEvents();
            RawWsClient client;
            auto fail = [&](const char *what) -> QByteArray {
                return "cycle " + QByteArray::number(i) + ": " + what +
                       "; gateway log: " + gateway->log().right(2000).toUtf8();
            };
            if (!client.open(gateway->port(), gateway->token()))
                QFAIL(fail("no upgrade").constData());
            QVERIFY(client.sendJson(WsProbe::startRequest(QStringLiteral("cycle-%1").arg(i), QStringLiteral("go"),
                                                          QStringLiteral("long"))));
            const bool reset = i % 3 == 1;
            switch (i % 3)
            {
            case 0:  // the lock answered, the run is going: polite close
            case 1:  // the lock answered: TCP reset, no close frame
                if (client.waitForCloseOr("\"acquired\"", 10000) != 0)
                    QFAIL(fail("no lockStatus acquired").constData());
                ++acquired;
                if (reset)
                    client.reset();
                else
                    client.close();
                break;
            default:  // gone before the lock answered
                client.reset();
                break;
            }
        }
        QVERIFY(acquired >= (2 * cycles) / 3);
        QTRY_VERIFY_WITH_TIMEOUT(idle(*gateway), Timeout);
        if (useRedis)
            QCOMPARE(scanKeys(redis.port(), "lockstep:lock:*"), QByteArray("*2\r\n$1\r\n0\r\n*0\r\n"));
        const QJsonObject health = healthOf(*gateway);
        qInfo("%d cycles: %s", cycles, QJsonDocument(health).toJson(QJsonDocument::Compact).constData());
    }
};

QTEST_GUILESS_MAIN(TestGatewayFailover)
#include "tst_gatewayfailover.moc"
