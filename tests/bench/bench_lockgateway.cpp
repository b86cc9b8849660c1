// The run lock through real lockstep-gateway processes on Redis.
//
// Baselines: for (a) a floor, not an old implementation: one synchronous
// `SET key value NX PX` round trip on the held lock key, the least any Redis
// lock must do before refusing; the gateway path adds the websocket frame, the
// JSON parse, the lock store and the close frame. Fair because the floor is
// measured on the same Redis and key in the same run. (b) and (c) have goals,
// not baselines.
//
// (a) Contention: a first client drives a `long` run; a second client's
//     startRequest on the same workflow is refused with 1013, N times. Timed
//     from sending the startRequest to receiving the close frame (the
//     websocket is opened beforehand, not timed), on a blocking raw-socket
//     client. Floor: a bare `SET key value NX PX` on the held key through
//     hiredis (synchronous). Goal: p99 <= 2 ms and within 3x the floor.
// (b) Failover: SIGKILL the holder's gateway; time from the kill to the first
//     successful start on another replica (a startRequest every ~50 ms).
//     --lock-ttl 3s, --stale-after 2s. Goal: <= TTL + TTL/3 + 0.5 s = 4.5 s.
// (c) Churn: start/close cycles per second (each waits for `acquired`; a
//     third close politely, a third reset the TCP connection after
//     `acquired`, a third reset before the lock answered) and the gateway's
//     VmRSS before and after; then the live counters of /healthz and the
//     lock keys left in Redis (SCAN).
//
//   bench_lockgateway [--tries 1000] [--failovers 3] [--cycles 10000]

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <hiredis/hiredis.h>

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonDocument>
#include <QThread>

#include "benchutil.h"
#include "gatewayprocess.h"
#include "tempredis.h"

using namespace Lockstep;
using namespace Lockstep::Test;
using namespace Lockstep::Bench;

namespace
{
    [[noreturn]] void die(const QString &message)
    {
        fprintf(stderr, "bench_lockgateway: %s\n", qPrintable(message));
        fflush(stderr);
        std::exit(1);
    }

    std::unique_ptr<GatewayProcess> startGateway(const QStringList &arguments)
    {
        auto gateway = std::make_unique<GatewayProcess>();
        if (!gateway->start(arguments))
            die(QStringLiteral("gateway: ") + gateway->errorString());
        return gateway;
    }

    // Holds `workflowId` with a `long` run; returns once `acquired` arrived.
    std::unique_ptr<RawWsClient> holdWorkflow(const GatewayProcess &gateway, const QString &workflowId)
    {
        auto holder = std::make_unique<RawWsClient>();
        if (!holder->open(gateway.port(), gateway.token()) ||
            !holder->sendJson(WsProbe::startRequest(workflowId, QStringLiteral("hold it"), QStringLiteral("long"))) ||
            holder->waitForCloseOr("\"acquired\"", 30000) != 0)
            die(QStringLiteral("the holder could not take the lock of ") + workflowId);
        return holder;
    }

    Latency contention(const GatewayProcess &gateway, const QString &workflowId, const int tries)
    {
        std::vector<qint64> ns;
        ns.reserve(size_t(tries));
        int errors = 0;
        QElapsedTimer timer;
        for (int i = 0; i < tries; ++i)
        {
            // Drain the gateway's stderr pipe (QProcess reads it on the event
            // loop); a full pipe would block the gateway. Not timed.
            QCoreApplication::processEvents();
            RawWsClient client;
            if (!client.open(gateway.port(), gateway.token()))
            {
                ++errors;
                continue;
            }
            const QJsonObject start = WsProbe::startRequest(workflowId, QStringLiteral("second tab"));
            timer.start();
            client.sendJson(start);
            const int code = client.waitForCloseOr({}, 5000);
            ns.push_back(timer.nsecsElapsed());
            if (code != 1013)
                ++errors;
            client.close();
        }
        return summarise(std::move(ns), errors);
    }

    long long countLockKeys(const quint16 port)
    {
        const timeval timeout{.tv_sec = 2, .tv_usec = 0};
        redisContext *context = redisConnectWithTimeout("127.0.0.1", port, timeout);
        if (!context || context->err)
            return -1;
        long long count = 0;
        QByteArray cursor = "0";
        do
        {
            auto *reply =
                static_cast<redisReply *>(redisCommand(context, "SCAN %b MATCH lockstep:lock:* COUNT 1000",
                                                       cursor.constData(), static_cast<size_t>(cursor.size())));
            if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2)
            {
                if (reply)
                    freeReplyObject(reply);
                redisFree(context);
                return -1;
            }
            cursor = QByteArray(reply->element[0]->str, qsizetype(reply->element[0]->len));
            count += qsizetype(reply->element[1]->elements);
            freeReplyObject(reply);
        } while (cursor != "0");
        redisFree(context);
        return count;
    }
}  // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    Bench::useGatewayBinary(LOCKSTEP_GATEWAY_BIN_DEFAULT);
    QCommandLineParser parser;
    parser.addOptions({
        {QStringLiteral("tries"), QStringLiteral("refused starts to time"), QStringLiteral("N"),
         QStringLiteral("1000")},
        {QStringLiteral("failovers"), QStringLiteral("SIGKILL failovers to time"), QStringLiteral("N"),
         QStringLiteral("3")},
        {QStringLiteral("cycles"), QStringLiteral("start/close cycles"), QStringLiteral("N"), QStringLiteral("10000")},
    });
    parser.addHelpOption();
    parser.process(app);
    const int tries = std::max(1, parser.value(QStringLiteral("tries")).toInt());
    const int failovers = std::max(0, parser.value(QStringLiteral("failovers")).toInt());
    const int cycles = std::max(0, parser.value(QStringLiteral("cycles")).toInt());

    TempRedis redis;
    if (!redis.start())
        die(QStringLiteral("redis: ") + redis.errorString());
    StoreBackends stores;
    QString error;

    // ---- (a) contention ----
    const QString sqlite = stores.newStore(QStringLiteral("sqlite"), &error);
    if (sqlite.isEmpty())
        die(error);
    auto gateway = startGateway({QStringLiteral("--store"), sqlite, QStringLiteral("--redis"), redis.url(),
                                 QStringLiteral("--replica-id"), QStringLiteral("bench")});
    auto holder = holdWorkflow(*gateway, QStringLiteral("contended"));
    contention(*gateway, QStringLiteral("contended"), std::min(tries, 50));  // warm-up
    const Latency refused = contention(*gateway, QStringLiteral("contended"), tries);
    const Latency floor = floorSync(redis.port(), "lockstep:lock:contended", tries);
    holder->close();

    // ---- (c) churn (same gateway) ----
    const qint64 rssBefore = rssKb(gateway->pid());
    int acquired = 0;
    int churnErrors = 0;
    QElapsedTimer churnTimer;
    churnTimer.start();
    for (int i = 0; i < cycles; ++i)
    {
        QCoreApplication::processEvents();
        RawWsClient client;
        if (!client.open(gateway->port(), gateway->token()))
        {
            ++churnErrors;
            continue;
        }
        client.sendJson(
            WsProbe::startRequest(QStringLiteral("churn-%1").arg(i), QStringLiteral("go"), QStringLiteral("long")));
        if (i % 3 == 2)
        {
            client.reset();
            continue;
        }
        if (client.waitForCloseOr("\"acquired\"", 10000) != 0)
            ++churnErrors;
        else
            ++acquired;
        if (i % 3 == 0)
            client.close();
        else
            client.reset();
    }
    const double churnSeconds = double(churnTimer.nsecsElapsed()) / 1e9;
    QJsonObject health;
    QElapsedTimer settle;
    settle.start();
    do
    {
        QCoreApplication::processEvents();
        QThread::msleep(100);
        health = httpRequest("GET", gateway->baseUrl() + QStringLiteral("/healthz")).json;
    } while ((health.value(u"sessions").toInteger() != 0 || health.value(u"drives").toInteger() != 0 ||
              health.value(u"liveLocks").toInteger() != 0) &&
             settle.elapsed() < 30000);
    const qint64 rssAfter = rssKb(gateway->pid());
    const long long keysLeft = countLockKeys(redis.port());
    gateway->terminate();

    // ---- (b) failover ----
    constexpr double ttlS = 3.0;
    std::vector<double> failoverMs;
    std::vector<int> failoverRefused;
    const QString postgres = failovers > 0 ? stores.newStore(QStringLiteral("postgresql"), &error) : QString();
    if (failovers > 0 && postgres.isEmpty())
        die(error);
    const QStringList replicaArgs{QStringLiteral("--store"),       postgres,
                                  QStringLiteral("--redis"),       redis.url(),
                                  QStringLiteral("--lock-ttl"),    QStringLiteral("3s"),
                                  QStringLiteral("--stale-after"), QStringLiteral("2s")};
    for (int round = 0; round < failovers; ++round)
    {
        auto doomed = startGateway(replicaArgs +
                                   QStringList{QStringLiteral("--replica-id"), QStringLiteral("doomed-%1").arg(round)});
        auto survivor = startGateway(
            replicaArgs + QStringList{QStringLiteral("--replica-id"), QStringLiteral("survivor-%1").arg(round)});
        const QString workflowId = QStringLiteral("failover-%1").arg(round);
        auto driving = holdWorkflow(*doomed, workflowId);
        // Kill at a random point of the heartbeat cycle.
        QThread::msleep(ulong(500 + (round * 700) % 1000));
        doomed->kill();
        QElapsedTimer sinceKill;
        sinceKill.start();
        int refusedCount = 0;
        bool started = false;
        while (!started && sinceKill.elapsed() < 30000)
        {
            QCoreApplication::processEvents();
            RawWsClient client;
            if (client.open(survivor->port(), survivor->token()) &&
                client.sendJson(WsProbe::startRequest(workflowId, QString())))
            {
                const int code = client.waitForCloseOr("\"acquired\"", 5000);
                if (code == 0)
                {
                    started = true;
                    failoverMs.push_back(double(sinceKill.nsecsElapsed()) / 1e6);
                    client.close();
                    break;
                }
                ++refusedCount;
            }
            QThread::msleep(50);
        }
        if (!started)
            failoverMs.push_back(-1);
        failoverRefused.push_back(refusedCount);
        survivor->terminate();
    }

    // ---- report ----
    printf("\nbench_lockgateway: run lock through real gateway processes (Redis %s)\n\n", qPrintable(redis.url()));
    printf("(a) contention: %d refused startRequests (1013), startRequest sent -> close frame received\n", tries);
    printf("  %-42s %10s %10s %10s %7s\n", "", "p50 us", "p99 us", "max us", "errors");
    printf("  %-42s %10.1f %10.1f %10.1f %7d\n", "gateway 1013 (websocket, raw client)", refused.p50Us, refused.p99Us,
           refused.maxUs, refused.errors);
    printf("  %-42s %10.1f %10.1f %10.1f %7d\n", "floor: bare SET NX PX (hiredis sync)", floor.p50Us, floor.p99Us,
           floor.maxUs, floor.errors);
    const double ratio50 = floor.p50Us > 0 ? refused.p50Us / floor.p50Us : 0;
    const double ratio99 = floor.p99Us > 0 ? refused.p99Us / floor.p99Us : 0;
    printf("  %-42s %10.2f %10.2f\n", "ratio gateway / floor", ratio50, ratio99);
    printf("  goal p99 <= 2000 us: %s; within 3x floor (p99): %s\n", refused.p99Us <= 2000 ? "met" : "MISSED",
           ratio99 <= 3 ? "met" : "MISSED");

    printf("\n(b) failover: SIGKILL the holder's gateway, --lock-ttl 3s --stale-after 2s, start polled every ~50 ms\n");
    const double goalMs = (ttlS + ttlS / 3 + 0.5) * 1000;
    for (size_t i = 0; i < failoverMs.size(); ++i)
        printf("  round %zu: %8.0f ms to the first successful start (%d refused before); goal <= %.0f ms: %s\n", i + 1,
               failoverMs[i], failoverRefused[i], goalMs,
               (failoverMs[i] >= 0 && failoverMs[i] <= goalMs) ? "met" : "MISSED");

    printf("\n(c) churn: %d start/close cycles (1/3 close, 1/3 reset after acquired, 1/3 reset before)\n", cycles);
    printf("  %-42s %10.0f\n", "cycles per second", churnSeconds > 0 ? cycles / churnSeconds : 0);
    printf("  %-42s %10d\n", "acquired", acquired);
    printf("  %-42s %10d\n", "errors", churnErrors);
    printf("  %-42s %10lld\n", "gateway VmRSS before, KiB", rssBefore);
    printf("  %-42s %10lld\n", "gateway VmRSS after, KiB", rssAfter);
    printf("  %-42s %10lld\n", "lock keys left in Redis (SCAN)", keysLeft);
    printf("  %-42s %s\n", "/healthz after", QJsonDocument(health).toJson(QJsonDocument::Compact).constData());
    fflush(stdout);
    return 0;
}
