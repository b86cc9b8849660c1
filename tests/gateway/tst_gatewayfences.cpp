#include <QJsonArray>
#include <QJsonDocument>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>

#include "gatewayprocess.h"
#include "protocol/runstatus.h"
#include "temppostgres.h"
#include "tempredis.h"

using namespace Lockstep;
using namespace Lockstep::Test;

// One source of fences (issue "one fence"): whatever handed out the fence a run
// carries (an HTTP create, a Redis that was flushed or restarted, a fail-open
// run), the next drive takes a fence above it and runs; it is never refused
// with a false "not resumable". And store errors are store errors: 1011/503
// with the store's reason (no SQL), bad text 4400/400 on every store alike,
// /healthz "degraded" naming the failing part.
class TestGatewayFences : public QObject
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

    struct Turn
    {
        quint16 code = 0;
        QString reason;
        qint64 fence = 0;  // the fence of the last lockStatus `acquired` (0: none)
    };

    // One startRequest on its own websocket, waited for until the gateway closes it.
    static Turn runTurn(const GatewayProcess &gateway, const QString &id, const QString &goal, const QString &flow = {})
    {
        WsProbe probe;
        probe.open(gateway.webSocketUrl(), gateway.token());
        if (!probe.sendJson(WsProbe::startRequest(id, goal, flow)))
            return {};
        if (!QTest::qWaitFor([&] { return probe.isClosed(); }, Timeout))
            return {};
        Turn turn{.code = probe.closeInfo().code, .reason = probe.closeInfo().reason};
        for (const Protocol::LockStatus &status : probe.lockStatuses())
        {
            if (status.state == Protocol::LockState::Acquired)
                turn.fence = status.fence;
        }
        return turn;
    }

    static QString describe(const Turn &turn)
    {
        return QStringLiteral("close %1 \"%2\" fence %3").arg(turn.code).arg(turn.reason).arg(turn.fence);
    }

    static qint64 storedFence(const GatewayProcess &gateway, const QString &id)
    {
        return runOf(gateway, id).value(u"fence").toInteger();
    }

    static void addStoreAndLockRows()
    {
        QTest::addColumn<QString>("store");
        QTest::addColumn<bool>("redis");
        QTest::newRow("sqlite, memory lock") << QStringLiteral("sqlite") << false;
        QTest::newRow("sqlite, redis") << QStringLiteral("sqlite") << true;
        QTest::newRow("postgresql, memory lock") << QStringLiteral("postgresql") << false;
        QTest::newRow("postgresql, redis") << QStringLiteral("postgresql") << true;
    }

private slots:
    void initTestCase()
    {
        QVERIFY2(!GatewayProcess::binary().isEmpty(), "LOCKSTEP_GATEWAY_BIN");
        QVERIFY(m_flowsDir.isValid());
    }

    // The bug as reported: with Redis, every HTTP-created run but the first was
    // refused 4409 "not resumable (status: created)".
    void httpCreatedRunsStart_data()
    {
        addStoreAndLockRows();
    }
    void httpCreatedRunsStart()
    {
        QFETCH(QString, store);
        QFETCH(bool, redis);
        TempRedis redisServer;
        QStringList extra;
        if (redis)
        {
            QVERIFY2(redisServer.start(), qPrintable(redisServer.errorString()));
            extra << QStringLiteral("--redis") << redisServer.url();
        }
        auto gateway = startGateway(newStoreOrWarn(m_stores, store), extra);
        QVERIFY(gateway);

        constexpr int Runs = 6;
        QStringList ids;
        for (int i = 0; i < Runs; ++i)
        {
            const HttpReply created =
                httpRequest("POST", gateway->baseUrl() + QStringLiteral("/api/v1/workflows"), gateway->token(),
                            QJsonDocument(QJsonObject{{QStringLiteral("goal"), QStringLiteral("say hello")}}).toJson());
            QCOMPARE(created.status, 201);
            ids.append(created.json.value(u"workflowID").toString());
        }
        // Started in reverse order: the run created last goes first.
        for (auto it = ids.crbegin(); it != ids.crend(); ++it)
        {
            const Turn turn = runTurn(*gateway, *it, {});
            QVERIFY2(turn.code == 1000 && turn.reason == u"input_required", qPrintable(describe(turn)));
            QVERIFY(turn.fence > 0);
            QCOMPARE(storedFence(*gateway, *it), turn.fence);
            QCOMPARE(runOf(*gateway, *it).value(u"status").toString(), QStringLiteral("input_required"));
        }
        // The next message of each chat runs too, with a larger fence.
        for (const QString &id : std::as_const(ids))
        {
            const qint64 before = storedFence(*gateway, id);
            const Turn turn = runTurn(*gateway, id, QStringLiteral("and again"));
            QVERIFY2(turn.code == 1000 && turn.reason == u"input_required", qPrintable(describe(turn)));
            QVERIFY2(turn.fence > before, qPrintable(describe(turn)));
        }
    }

    // The in-process lock store counts from 1 in every process: a restarted
    // gateway takes fences above the stored ones.
    void restartedGatewayKeepsFencesGrowing_data()
    {
        addStoreRows();
    }
    void restartedGatewayKeepsFencesGrowing()
    {
        QFETCH(QString, store);
        const QString spec = newStoreOrWarn(m_stores, store);
        auto gateway = startGateway(spec);
        QVERIFY(gateway);
        for (int i = 0; i < 3; ++i)
            QCOMPARE(runTurn(*gateway, QStringLiteral("kept"), QStringLiteral("turn")).reason,
                     QStringLiteral("input_required"));
        const qint64 before = storedFence(*gateway, QStringLiteral("kept"));
        QVERIFY(before >= 3);
        QCOMPARE(gateway->terminate(), 0);

        auto again = startGateway(spec);
        QVERIFY(again);
        const Turn turn = runTurn(*again, QStringLiteral("kept"), QStringLiteral("after the restart"));
        QVERIFY2(turn.code == 1000 && turn.reason == u"input_required", qPrintable(describe(turn)));
        QVERIFY2(turn.fence > before, qPrintable(describe(turn)));
        QCOMPARE(storedFence(*again, QStringLiteral("kept")), turn.fence);
        // The lock panel's fence is the one the writes carry.
        const Turn next = runTurn(*again, QStringLiteral("kept"), QStringLiteral("once more"));
        QVERIFY2(next.fence > turn.fence, qPrintable(describe(next)));
    }

    // Redis loses its counters (FLUSHALL; a restart without persistence): the
    // run is not refused, and its fence still only grows.
    void redisResetMidLife_data()
    {
        QTest::addColumn<QString>("store");
        QTest::addColumn<bool>("restart");
        QTest::newRow("sqlite, FLUSHALL") << QStringLiteral("sqlite") << false;
        QTest::newRow("sqlite, restart") << QStringLiteral("sqlite") << true;
        QTest::newRow("postgresql, FLUSHALL") << QStringLiteral("postgresql") << false;
        QTest::newRow("postgresql, restart") << QStringLiteral("postgresql") << true;
    }
    void redisResetMidLife()
    {
        QFETCH(QString, store);
        QFETCH(bool, restart);
        TempRedis redis;
        QVERIFY2(redis.start(), qPrintable(redis.errorString()));
        auto gateway = startGateway(newStoreOrWarn(m_stores, store), {QStringLiteral("--redis"), redis.url()});
        QVERIFY(gateway);

        for (int i = 0; i < 4; ++i)
            QCOMPARE(runTurn(*gateway, QStringLiteral("long-lived"), QStringLiteral("turn")).reason,
                     QStringLiteral("input_required"));
        const qint64 before = storedFence(*gateway, QStringLiteral("long-lived"));
        QCOMPARE(before, 4);

        if (restart)
        {
            redis.kill();
            QVERIFY2(redis.start(), qPrintable(redis.errorString()));
        }
        else
        {
            QVERIFY(redisCommand(redis.port(), {"FLUSHALL"}).startsWith("+OK"));
        }

        // The gateway reconnects on the next call (the first may find the old connection dead).
        Turn turn = runTurn(*gateway, QStringLiteral("long-lived"), QStringLiteral("after the reset"));
        if (restart && turn.code == 1011 && turn.reason == u"lock store unavailable")
            turn = runTurn(*gateway, QStringLiteral("long-lived"), QStringLiteral("after the reset"));
        QVERIFY2(turn.code == 1000 && turn.reason == u"input_required", qPrintable(describe(turn)));
        QVERIFY2(turn.fence > before, qPrintable(describe(turn)));
        QCOMPARE(storedFence(*gateway, QStringLiteral("long-lived")), turn.fence);
        // Redis's counter now starts above the store's: no second raise is needed.
        QVERIFY(
            redisCommand(redis.port(), {"GET", "lockstep:fence:long-lived"}).contains(QByteArray::number(turn.fence)));
    }

    // Fail-open runs take fences from the store's counter; when Redis is back
    // its per-workflow counter is far below them, and the run must still start.
    void failOpenThenRedisBack_data()
    {
        addStoreRows();
    }
    void failOpenThenRedisBack()
    {
        QFETCH(QString, store);
        TempRedis redis;
        QVERIFY2(redis.start(), qPrintable(redis.errorString()));
        auto gateway = startGateway(newStoreOrWarn(m_stores, store),
                                    {QStringLiteral("--redis"), redis.url(), QStringLiteral("--lock-unavailable"),
                                     QStringLiteral("fail-open")});
        QVERIFY(gateway);
        QCOMPARE(runTurn(*gateway, QStringLiteral("open-run"), QStringLiteral("with redis")).reason,
                 QStringLiteral("input_required"));

        redis.kill();
        // Other workflows push the store's counter up meanwhile.
        for (int i = 0; i < 5; ++i)
            QCOMPARE(runTurn(*gateway, QStringLiteral("other-%1").arg(i), QStringLiteral("without redis")).reason,
                     QStringLiteral("input_required"));
        const Turn unlocked = runTurn(*gateway, QStringLiteral("open-run"), QStringLiteral("without redis"));
        QVERIFY2(unlocked.code == 1000 && unlocked.reason == u"input_required", qPrintable(describe(unlocked)));
        const qint64 before = storedFence(*gateway, QStringLiteral("open-run"));
        QVERIFY2(before > 2, qPrintable(QString::number(before)));

        QVERIFY2(redis.start(), qPrintable(redis.errorString()));
        const Turn locked = runTurn(*gateway, QStringLiteral("open-run"), QStringLiteral("redis is back"));
        QVERIFY2(locked.code == 1000 && locked.reason == u"input_required", qPrintable(describe(locked)));
        QVERIFY2(locked.fence > before, qPrintable(describe(locked)));
        QCOMPARE(storedFence(*gateway, QStringLiteral("open-run")), locked.fence);
    }

    // Two replicas on one Redis and one store: HTTP-created runs start on either.
    void replicasShareOneFence()
    {
        TempRedis redis;
        QVERIFY2(redis.start(), qPrintable(redis.errorString()));
        const QString spec = newStoreOrWarn(m_stores, QStringLiteral("postgresql"));
        auto a = startGateway(
            spec, {QStringLiteral("--redis"), redis.url(), QStringLiteral("--replica-id"), QStringLiteral("a")});
        auto b = startGateway(
            spec, {QStringLiteral("--redis"), redis.url(), QStringLiteral("--replica-id"), QStringLiteral("b")});
        QVERIFY(a && b);
        qint64 last = 0;
        for (int i = 0; i < 4; ++i)
        {
            GatewayProcess &creator = (i % 2) ? *a : *b;
            GatewayProcess &driver = (i % 2) ? *b : *a;
            const QString id = QStringLiteral("shared%1").arg(i);
            const HttpReply created =
                httpRequest("POST", creator.baseUrl() + QStringLiteral("/api/v1/workflows"), creator.token(),
                            QJsonDocument(QJsonObject{{QStringLiteral("goal"), QStringLiteral("hi")},
                                                      {QStringLiteral("workflowID"), id}})
                                .toJson());
            QCOMPARE(created.status, 201);
            const Turn turn = runTurn(driver, id, {});
            QVERIFY2(turn.code == 1000 && turn.reason == u"input_required", qPrintable(describe(turn)));
        }
        for (int i = 0; i < 4; ++i)
        {
            const Turn turn = runTurn((i % 2) ? *a : *b, QStringLiteral("shared0"), QStringLiteral("next"));
            QVERIFY2(turn.code == 1000 && turn.fence > last, qPrintable(describe(turn)));
            last = turn.fence;
        }
    }

    // Subscribers on a replica that does not execute the run hear of its
    // writes through PostgreSQL LISTEN/NOTIFY, not polling: with the poll
    // interval at its longest (60 s), every entry and status arrives within 30 s.
    void otherReplicaWritesWakeSubscribers()
    {
        TempPostgres postgres;
        QVERIFY2(postgres.start(), qPrintable(postgres.errorString()));
        const auto spec = postgres.createDatabase();
        QVERIFY(spec);
        const QStringList slowPoll{
            QStringLiteral("--step-delay-scale"), QStringLiteral("0.01"), QStringLiteral("--flows"), m_flowsDir.path(),
            QStringLiteral("--poll-interval"),    QStringLiteral("60s")};
        auto a = startGatewayOn(*spec, slowPoll + QStringList{QStringLiteral("--replica-id"), QStringLiteral("a")});
        auto b = startGatewayOn(*spec, slowPoll + QStringList{QStringLiteral("--replica-id"), QStringLiteral("b")});
        QVERIFY(a && b);
        QCOMPARE(httpRequest("GET", b->baseUrl() + QStringLiteral("/healthz")).json.value(u"feedUpdates").toString(),
                 QStringLiteral("notify"));
        const HttpReply created = httpRequest("POST", a->baseUrl() + QStringLiteral("/api/v1/workflows"), a->token(),
                                              R"({"goal":"hello","workflowID":"watched"})");
        QCOMPARE(created.status, 201);

        WsProbe watcher;
        watcher.open(b->webSocketUrl(), b->token());
        QVERIFY(watcher.sendJson(WsProbe::subscribe(QStringLiteral("watched"))));
        QTRY_VERIFY_WITH_TIMEOUT(watcher.sawRunStatus(RunStatus::Created), Timeout);

        const Turn turn = runTurn(*a, QStringLiteral("watched"), {});
        QCOMPARE(turn.reason, QStringLiteral("input_required"));
        QTRY_VERIFY_WITH_TIMEOUT(watcher.sawRunStatus(RunStatus::InputRequired), Timeout);
        const QJsonArray log =
            httpRequest("GET", a->baseUrl() + QStringLiteral("/api/v1/workflows/watched/chat"), a->token())
                .json.value(u"ui_chat_log")
                .toArray();
        QVERIFY(log.size() >= 3);
        QTRY_COMPARE_WITH_TIMEOUT(watcher.reconstructedLog().size(), log.size(), Timeout);

        // A cancel on A reaches B the same way.
        QCOMPARE(runTurn(*a, QStringLiteral("watched"), QStringLiteral("more")).reason,
                 QStringLiteral("input_required"));
        QCOMPARE(
            httpRequest("POST", a->baseUrl() + QStringLiteral("/api/v1/workflows/watched/cancel"), a->token()).status,
            200);
        QTRY_VERIFY_WITH_TIMEOUT(watcher.sawRunStatus(RunStatus::Stopped), Timeout);

        // The database restarts under both: B listens again and catches up.
        QCOMPARE(httpRequest("POST", a->baseUrl() + QStringLiteral("/api/v1/workflows"), a->token(),
                             R"({"goal":"hello","workflowID":"after-restart"})")
                     .status,
                 201);
        WsProbe second;
        second.open(b->webSocketUrl(), b->token());
        QVERIFY(second.sendJson(WsProbe::subscribe(QStringLiteral("after-restart"))));
        QTRY_VERIFY_WITH_TIMEOUT(second.sawRunStatus(RunStatus::Created), Timeout);
        QVERIFY(postgres.stop());
        QVERIFY2(postgres.start(), qPrintable(postgres.errorString()));
        Turn afterRestart = runTurn(*a, QStringLiteral("after-restart"), {});
        if (afterRestart.code == 1011)  // A's first call found its old connection dead
            afterRestart = runTurn(*a, QStringLiteral("after-restart"), {});
        QCOMPARE(afterRestart.reason, QStringLiteral("input_required"));
        QTRY_VERIFY_WITH_TIMEOUT(second.sawRunStatus(RunStatus::InputRequired), Timeout);
    }

    // A database that hangs for longer than the lock TTL costs the run no
    // lock, and the gateway keeps answering: store calls wait on the store's
    // own thread, so heartbeats go on (lockStatus `refreshed` keeps coming),
    // websocket pings get their pong and /healthz says the store is not
    // answering, all while PostgreSQL is stopped; the run goes on afterwards.
    void hangingDatabaseCostsNoLock()
    {
        TempPostgres postgres;
        QVERIFY2(postgres.start(), qPrintable(postgres.errorString()));
        const auto spec = postgres.createDatabase();
        QVERIFY(spec);
        TempRedis redis;
        QVERIFY2(redis.start(), qPrintable(redis.errorString()));
        QVERIFY(
            writeFlowFile(m_flowsDir.path(), QStringLiteral("steady"), agentSteps(150, 3000)));  // ~4.5 s at scale 0.01
        auto gateway = startGatewayOn(*spec, fastFlowArguments(m_flowsDir.path()) +
                                                 QStringList{QStringLiteral("--redis"), redis.url(),
                                                             QStringLiteral("--lock-ttl"), QStringLiteral("1500ms")});
        QVERIFY(gateway);

        WsProbe driver;
        driver.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(driver.sendJson(
            WsProbe::startRequest(QStringLiteral("hung-db"), QStringLiteral("go"), QStringLiteral("steady"))));
        QTRY_VERIFY_WITH_TIMEOUT(driver.seqs().size() >= 5, Timeout);

        RawWsClient pinger;
        QVERIFY(pinger.open(gateway->port(), gateway->token()));
        auto refreshes = [&driver] {
            int count = 0;
            for (const Protocol::LockStatus &status : driver.lockStatuses())
                count += (status.state == Protocol::LockState::Refreshed) ? 1 : 0;
            return count;
        };

        // Every process of the cluster stops, as a stuck disk or a paused VM would.
        QVERIFY(postgres.freeze());
        QTest::qWait(300);  // the execution's next store call is out and waits
        const int refreshedBefore = refreshes();
        QVERIFY(pinger.sendFrame(0x9, "are you there"));
        const RawWsClient::Frame pong = pinger.readFrame(2000);
        const HttpReply health = httpRequest("GET", gateway->baseUrl() + QStringLiteral("/healthz"));
        QTest::qWait(3700);  // over twice the TTL in all
        const int refreshedDuring = refreshes() - refreshedBefore;
        const QByteArray held = redisCommand(redis.port(), {"GET", "lockstep:lock:hung-db"});
        postgres.thaw();
        QVERIFY2(held.contains("hung-db") || held.contains("fence"), held.constData());
        QCOMPARE(pong.opcode, 0xA);
        QCOMPARE(pong.payload, QByteArray("are you there"));
        QCOMPARE(health.status, 200);
        QCOMPARE(health.json.value(u"status").toString(), QStringLiteral("degraded"));
        QVERIFY2(health.json.value(u"degraded").toObject().value(u"store").toString().contains(u"no answer"),
                 health.body.constData());
        // TTL 1.5 s: a heartbeat every 0.5 s, about seven in 3.7 s.
        QVERIFY2(refreshedDuring >= 4, qPrintable(QString::number(refreshedDuring)));

        QTRY_VERIFY_WITH_TIMEOUT(driver.isClosed(), Timeout);
        QCOMPARE(driver.closeInfo().code, quint16(1000));
        QCOMPARE(driver.closeInfo().reason, QStringLiteral("input_required"));
        QVERIFY(!sawLockState(driver, Protocol::LockState::Lost));
    }

    // --no-fencing: the switch is reported and runs still run (the store's
    // fence predicates are off: tst_runstore fencingOffKeepsStatusGuards).
    void noFencingIsReported()
    {
        auto gateway =
            startGateway(newStoreOrWarn(m_stores, QStringLiteral("sqlite")), {QStringLiteral("--no-fencing")});
        QVERIFY(gateway);
        const QJsonObject health = httpRequest("GET", gateway->baseUrl() + QStringLiteral("/healthz")).json;
        QCOMPARE(health.value(u"fencing").toBool(true), false);
        QCOMPARE(health.value(u"casGuards").toBool(false), true);
        QCOMPARE(runTurn(*gateway, QStringLiteral("unfenced"), QStringLiteral("hi")).reason,
                 QStringLiteral("input_required"));
        auto fenced = startGateway(newStoreOrWarn(m_stores, QStringLiteral("sqlite")));
        QVERIFY(fenced);
        QCOMPARE(
            httpRequest("GET", fenced->baseUrl() + QStringLiteral("/healthz")).json.value(u"fencing").toBool(false),
            true);
    }

    // SQLite has no notifications: feeds poll.
    void sqliteFeedsPoll()
    {
        auto gateway = startGateway(newStoreOrWarn(m_stores, QStringLiteral("sqlite")));
        QVERIFY(gateway);
        QCOMPARE(
            httpRequest("GET", gateway->baseUrl() + QStringLiteral("/healthz")).json.value(u"feedUpdates").toString(),
            QStringLiteral("poll"));
    }

    // A NUL in text is bad input on every store: 4400 / 400, never a 503 quoting SQL.
    void nulInTextIsBadInput_data()
    {
        addStoreRows();
    }
    void nulInTextIsBadInput()
    {
        QFETCH(QString, store);
        auto gateway = startGateway(newStoreOrWarn(m_stores, store));
        QVERIFY(gateway);
        const QString nulGoal = QStringLiteral("before") + QChar(u'\0') + QStringLiteral("after");

        const Turn turn = runTurn(*gateway, QStringLiteral("nul-goal"), nulGoal);
        QCOMPARE(turn.code, quint16(4400));
        QVERIFY2(turn.reason.contains(u"NUL"), qPrintable(turn.reason));

        const HttpReply created =
            httpRequest("POST", gateway->baseUrl() + QStringLiteral("/api/v1/workflows"), gateway->token(),
                        QJsonDocument(QJsonObject{{QStringLiteral("goal"), nulGoal}}).toJson());
        QCOMPARE(created.status, 400);
        QCOMPARE(created.json.value(u"error").toString(), QStringLiteral("invalid_request"));
        QVERIFY2(created.json.value(u"message").toString().contains(u"NUL"), created.body.constData());

        QCOMPARE(runTurn(*gateway, QStringLiteral("nul-cancel"), QStringLiteral("fine")).reason,
                 QStringLiteral("input_required"));
        const HttpReply cancelled =
            httpRequest("POST", gateway->baseUrl() + QStringLiteral("/api/v1/workflows/nul-cancel/cancel"),
                        gateway->token(), QJsonDocument(QJsonObject{{QStringLiteral("reason"), nulGoal}}).toJson());
        QCOMPARE(cancelled.status, 400);
        QCOMPARE(runOf(*gateway, QStringLiteral("nul-cancel")).value(u"status").toString(),
                 QStringLiteral("input_required"));
        // Nothing was created by the refused requests.
        QCOMPARE(httpRequest("GET", gateway->baseUrl() + QStringLiteral("/api/v1/workflows/nul-goal"), gateway->token())
                     .status,
                 404);
    }

    // The database goes away: every answer is a store error with a readable
    // reason and no SQL; /healthz says which part is down; when it is back, runs go on.
    void storeDownIsAStoreError_data()
    {
        QTest::addColumn<bool>("lockOn");
        QTest::newRow("lock on") << true;
        QTest::newRow("lock off (fence from the store)") << false;
    }
    void storeDownIsAStoreError()
    {
        QFETCH(bool, lockOn);
        TempPostgres postgres;
        QVERIFY2(postgres.start(), qPrintable(postgres.errorString()));
        const auto database = postgres.createDatabase();
        QVERIFY(database);
        QStringList extra;
        if (!lockOn)
            extra << QStringLiteral("--no-lock-concurrent-flows");
        auto gateway = startGateway(*database + QStringLiteral("?connect_timeout=2"), extra);
        QVERIFY(gateway);
        QCOMPARE(runTurn(*gateway, QStringLiteral("before-down"), QStringLiteral("hello")).reason,
                 QStringLiteral("input_required"));
        QCOMPARE(httpRequest("GET", gateway->baseUrl() + QStringLiteral("/healthz")).json.value(u"status").toString(),
                 QStringLiteral("ok"));

        QVERIFY(postgres.stop());
        auto noSql = [](const QString &text) {
            for (const char *word : {"SELECT", "UPDATE", "INSERT", "FROM runs", "fence_counter", "RETURNING"})
            {
                if (text.contains(QLatin1String(word), Qt::CaseInsensitive))
                    return false;
            }
            return true;
        };
        for (const QString &id : {QStringLiteral("before-down"), QStringLiteral("brand-new")})
        {
            const Turn turn = runTurn(*gateway, id, QStringLiteral("while the database is down"));
            QCOMPARE(turn.code, quint16(1011));
            QVERIFY2(turn.reason.startsWith(u"store unavailable: "), qPrintable(turn.reason));
            QVERIFY2(noSql(turn.reason), qPrintable(turn.reason));
        }
        const HttpReply run =
            httpRequest("GET", gateway->baseUrl() + QStringLiteral("/api/v1/workflows/before-down"), gateway->token());
        QCOMPARE(run.status, 503);
        QCOMPARE(run.json.value(u"error").toString(), QStringLiteral("store_unavailable"));
        QVERIFY2(noSql(run.json.value(u"message").toString()), run.body.constData());
        const HttpReply created =
            httpRequest("POST", gateway->baseUrl() + QStringLiteral("/api/v1/workflows"), gateway->token(),
                        QJsonDocument(QJsonObject{{QStringLiteral("goal"), QStringLiteral("x")}}).toJson());
        QCOMPARE(created.status, 503);
        QVERIFY2(noSql(created.json.value(u"message").toString()), created.body.constData());

        const HttpReply health = httpRequest("GET", gateway->baseUrl() + QStringLiteral("/healthz"));
        QCOMPARE(health.status, 200);
        QCOMPARE(health.json.value(u"status").toString(), QStringLiteral("degraded"));
        const QJsonObject degraded = health.json.value(u"degraded").toObject();
        QVERIFY2(degraded.contains(u"store"), health.body.constData());
        QVERIFY(!degraded.contains(u"lockStore"));
        QVERIFY2(noSql(degraded.value(u"store").toString()), health.body.constData());

        QVERIFY2(postgres.start(), qPrintable(postgres.errorString()));
        QTRY_COMPARE_WITH_TIMEOUT(
            httpRequest("GET", gateway->baseUrl() + QStringLiteral("/healthz")).json.value(u"status").toString(),
            QStringLiteral("ok"), Timeout);
        const Turn back = runTurn(*gateway, QStringLiteral("before-down"), QStringLiteral("the database is back"));
        QVERIFY2(back.code == 1000 && back.reason == u"input_required", qPrintable(describe(back)));
    }

    void lockStoreDownIsDegraded()
    {
        TempRedis redis;
        QVERIFY2(redis.start(), qPrintable(redis.errorString()));
        auto gateway =
            startGateway(newStoreOrWarn(m_stores, QStringLiteral("sqlite")), {QStringLiteral("--redis"), redis.url()});
        QVERIFY(gateway);
        QCOMPARE(httpRequest("GET", gateway->baseUrl() + QStringLiteral("/healthz")).json.value(u"status").toString(),
                 QStringLiteral("ok"));
        redis.kill();
        const HttpReply health = httpRequest("GET", gateway->baseUrl() + QStringLiteral("/healthz"));
        QCOMPARE(health.status, 200);
        QCOMPARE(health.json.value(u"status").toString(), QStringLiteral("degraded"));
        QVERIFY2(health.json.value(u"degraded").toObject().contains(u"lockStore"), health.body.constData());
        QVERIFY(!health.json.value(u"degraded").toObject().contains(u"store"));
        QVERIFY2(redis.start(), qPrintable(redis.errorString()));
        QTRY_COMPARE_WITH_TIMEOUT(
            httpRequest("GET", gateway->baseUrl() + QStringLiteral("/healthz")).json.value(u"status").toString(),
            QStringLiteral("ok"), Timeout);
    }
};

QTEST_GUILESS_MAIN(TestGatewayFences)
#include "tst_gatewayfences.moc"
