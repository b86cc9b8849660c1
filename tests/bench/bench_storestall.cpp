// The store off the event loop: a gateway on PostgreSQL and Redis drives a
// run while the whole PostgreSQL cluster is SIGSTOPped for --hang-ms (twice
// the lock TTL by default). Throughout, a websocket ping goes out every 20 ms
// and /healthz is asked every 200 ms; printed per phase (before, during,
// after the hang): ping round trips and /healthz answer times (p50 / p99 /
// max). The longest ping round trip is the longest the gateway's event loop
// was busy. Also: lock heartbeats (lockStatus `refreshed`) seen during the
// hang, whether the lock was ever lost, and how the run ended.
//
//   bench_storestall [--ttl-ms T] [--hang-ms H]
//
// LOCKSTEP_GATEWAY_BIN picks the gateway binary. The baseline is not a model:
// it is this program against a real earlier build whose store calls ran on
// the event loop (commit 559027a^, before the StoreWorker), with the same
// PostgreSQL, Redis, TTL and hang; only the gateway binary differs.

#include <cstdio>

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QElapsedTimer>
#include <QTemporaryDir>
#include <QTimer>
#include <QWebSocket>

#include "benchutil.h"
#include "gatewayprocess.h"
#include "temppostgres.h"
#include "tempredis.h"

using namespace Lockstep;
using namespace Lockstep::Test;
using namespace Lockstep::Bench;

namespace
{
    struct Phase
    {
        const char *name;
        std::vector<qint64> pingNs;
        std::vector<qint64> healthNs;
        int healthDegraded = 0;
        int pingsUnanswered = 0;
    };

    void print(const Phase &phase)
    {
        const Latency ping = summarise(phase.pingNs, phase.pingsUnanswered);
        const Latency health = summarise(phase.healthNs, 0);
        std::printf("  %-7s ping rtt  p50 %8.2f ms  p99 %8.2f ms  max %8.2f ms  (%zu pongs, %d out at the end)\n",
                    phase.name, ping.p50Us / 1000, ping.p99Us / 1000, ping.maxUs / 1000, phase.pingNs.size(),
                    phase.pingsUnanswered);
        std::printf("  %-7s /healthz  p50 %8.2f ms  p99 %8.2f ms  max %8.2f ms  (%zu answers, %d degraded)\n", "",
                    health.p50Us / 1000, health.p99Us / 1000, health.maxUs / 1000, phase.healthNs.size(),
                    phase.healthDegraded);
    }
}  // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    useGatewayBinary(LOCKSTEP_GATEWAY_BIN_DEFAULT);
    QCommandLineParser parser;
    parser.addHelpOption();
    parser.addOption(
        {QStringLiteral("ttl-ms"), QStringLiteral("Lock TTL (ms)."), QStringLiteral("ms"), QStringLiteral("10000")});
    parser.addOption({QStringLiteral("hang-ms"),
                      QStringLiteral("How long PostgreSQL is stopped (ms; default twice the TTL)."),
                      QStringLiteral("ms")});
    parser.process(app);
    const int ttlMs = parser.value(QStringLiteral("ttl-ms")).toInt();
    const int hangMs =
        parser.isSet(QStringLiteral("hang-ms")) ? parser.value(QStringLiteral("hang-ms")).toInt() : 2 * ttlMs;
    if (ttlMs < 300 || hangMs < 100)
    {
        std::fprintf(stderr, "bench_storestall: --ttl-ms >= 300 and --hang-ms >= 100\n");
        return 2;
    }

    TempPostgres postgres;
    if (!postgres.start())
        qFatal("postgres: %s", qPrintable(postgres.errorString()));
    const auto spec = postgres.createDatabase();
    TempRedis redis;
    if (!spec || !redis.start())
        qFatal("cannot start the servers");
    QTemporaryDir flows;
    // A step every 40 ms for longer than the whole measurement.
    const int steps = (3000 + hangMs + 6000) / 40;
    if (!writeFlowFile(flows.path(), QStringLiteral("steady"), agentSteps(steps, 4000)))
        qFatal("cannot write the flow");
    auto gateway =
        startGatewayOn(*spec, fastFlowArguments(flows.path()) + QStringList{QStringLiteral("--redis"), redis.url(),
                                                                            QStringLiteral("--lock-ttl"),
                                                                            QStringLiteral("%1ms").arg(ttlMs)});
    if (!gateway)
        qFatal("cannot start the gateway");
    std::printf("gateway %s, lock TTL %d ms, PostgreSQL stopped for %d ms\n", qPrintable(GatewayProcess::binary()),
                ttlMs, hangMs);

    WsProbe driver;
    driver.open(gateway->webSocketUrl(), gateway->token());
    if (!driver.sendJson(
            WsProbe::startRequest(QStringLiteral("stall"), QStringLiteral("go"), QStringLiteral("steady"))) ||
        !spinUntil([&] { return driver.seqs().size() >= 3; }, 30000))
        qFatal("the run did not start");

    Phase phases[] = {{"before", {}, {}, 0, 0}, {"hang", {}, {}, 0, 0}, {"after", {}, {}, 0, 0}};
    Phase *phase = &phases[0];

    QWebSocket pinger;
    QNetworkRequest request(gateway->webSocketUrl());
    request.setRawHeader("Authorization", "Bearer " + gateway->token().toUtf8());
    pinger.open(request);
    if (!spinUntil([&] { return pinger.state() == QAbstractSocket::ConnectedState; }, 10000))
        qFatal("the pinger did not connect");
    QElapsedTimer pingClock;
    bool pingOut = false;
    QObject::connect(&pinger, &QWebSocket::pong, &pinger, [&](quint64, const QByteArray &) {
        phase->pingNs.push_back(pingClock.nsecsElapsed());
        pingOut = false;
    });
    QTimer pingTimer;
    QObject::connect(&pingTimer, &QTimer::timeout, &pinger, [&] {
        if (pingOut)
            return;  // the last one is still out: it counts until its pong
        pingOut = true;
        pingClock.start();
        pinger.ping();
    });
    pingTimer.start(20);
    QTimer healthTimer;
    QObject::connect(&healthTimer, &QTimer::timeout, &pinger, [&] {
        QElapsedTimer clock;
        clock.start();
        const HttpReply health = httpRequest("GET", gateway->baseUrl() + QStringLiteral("/healthz"));
        phase->healthNs.push_back(clock.nsecsElapsed());
        if (health.json.value(u"status").toString() == u"degraded")
            ++phase->healthDegraded;
    });
    healthTimer.start(200);

    auto refreshes = [&driver] {
        int count = 0;
        for (const Protocol::LockStatus &status : driver.lockStatuses())
            count += (status.state == Protocol::LockState::Refreshed) ? 1 : 0;
        return count;
    };
    spinUntil([] { return false; }, 3000);

    phase = &phases[1];
    if (pingOut)
        ++phases[0].pingsUnanswered;
    pingOut = false;
    const int refreshedBefore = refreshes();
    if (!postgres.freeze())
        qFatal("cannot stop PostgreSQL");
    spinUntil([] { return false; }, hangMs);
    const int refreshedDuring = refreshes() - refreshedBefore;
    if (pingOut)
        ++phases[1].pingsUnanswered;
    postgres.thaw();

    phase = &phases[2];
    pingOut = false;
    spinUntil([] { return false; }, 3000);
    pingTimer.stop();
    healthTimer.stop();
    if (pingOut)
        ++phases[2].pingsUnanswered;

    for (const Phase &each : phases)
        print(each);
    std::vector<qint64> all;
    for (const Phase &each : phases)
        all.insert(all.end(), each.pingNs.begin(), each.pingNs.end());
    const Latency overall = summarise(all, 0);
    std::printf("longest ping round trip (event-loop stall bound): %.2f ms\n", overall.maxUs / 1000);
    std::printf("lock heartbeats seen during the hang: %d (one every %d ms expected: about %d)\n", refreshedDuring,
                ttlMs / 3, hangMs / (ttlMs / 3));
    std::printf("lock lost: %s\n", sawLockState(driver, Protocol::LockState::Lost) ? "YES" : "no");
    driver.sendJson(QJsonObject{
        {QStringLiteral("stopWorkflow"), QJsonObject{{QStringLiteral("reason"), QStringLiteral("bench over")}}}});
    spinUntil([&] { return driver.isClosed(); }, 30000);
    std::printf(
        "run: %s\n",
        driver.isClosed()
            ? qPrintable(QStringLiteral("closed %1 %2").arg(driver.closeInfo().code).arg(driver.closeInfo().reason))
            : "still open");
    return 0;
}
