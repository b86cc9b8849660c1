// Bytes a client receives for one run of the `hello` flow through a real
// gateway: incremental_streaming (chat-log deltas) against the legacy full
// checkpoint in every newCheckpoint. Goal: incremental <= 2 % of legacy.
//
// The baseline is the gateway's own legacy mode (a client that leaves out the
// incremental_streaming capability), whose checkpoint is the model of the old
// internal checkpoint in core/flows/legacycheckpoint.h. Fair because both runs
// go through the same gateway, flow, goal and store, and every frame the client
// receives is counted (lockStatus and runStatus too), not only checkpoints.
//
//   bench_events [--store sqlite|postgresql] [--runs N] [--long]

#include <cstdio>

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QThread>

#include "benchutil.h"
#include "gatewayprocess.h"

using namespace Lockstep;
using namespace Lockstep::Test;
using namespace Lockstep::Bench;

namespace
{
    struct Received
    {
        qint64 frames = 0;
        qint64 bytes = 0;            // every frame
        qint64 checkpointBytes = 0;  // newCheckpoint frames only
        qint64 checkpoints = 0;
        qint64 payloadBytes = 0;  // the `checkpoint` strings alone (UTF-8)
        quint16 closeCode = 0;
    };

    Received runOnce(const GatewayProcess &gateway, const QString &workflowId, const QString &flow,
                     const bool incremental)
    {
        WsProbe probe;
        probe.open(gateway.webSocketUrl(), gateway.token());
        probe.sendJson(WsProbe::startRequest(
            workflowId, QStringLiteral("Create a file called hello.sh that prints hello"), flow, incremental));
        if (!spinUntil([&] { return probe.isClosed() || probe.hasFailed(); }, 60000))
            qFatal("the run did not end");
        Received received;
        received.closeCode = probe.closeInfo().code;
        for (const QString &frame : probe.frames())
        {
            const qint64 size = frame.toUtf8().size();
            ++received.frames;
            received.bytes += size;
            if (frame.startsWith(u"{\"newCheckpoint\""))
            {
                ++received.checkpoints;
                received.checkpointBytes += size;
            }
        }
        for (const auto &checkpoint : probe.checkpoints())
            received.payloadBytes += checkpoint.checkpoint.toUtf8().size();
        return received;
    }
}  // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    Bench::useGatewayBinary(LOCKSTEP_GATEWAY_BIN_DEFAULT);
    QCommandLineParser parser;
    parser.addOptions({
        {QStringLiteral("store"), QStringLiteral("sqlite or postgresql"), QStringLiteral("KIND"),
         QStringLiteral("sqlite")},
        {QStringLiteral("runs"), QStringLiteral("runs of each mode"), QStringLiteral("N"), QStringLiteral("3")},
        {QStringLiteral("long"), QStringLiteral("also measure the `long` flow (48 steps)")},
    });
    parser.process(app);
    const int runs = qMax(1, parser.value(QStringLiteral("runs")).toInt());

    StoreBackends stores;
    QString error;
    const QString store = stores.newStore(parser.value(QStringLiteral("store")), &error);
    if (store.isEmpty())
        qFatal("%s", qPrintable(error));
    GatewayProcess gateway;
    if (!gateway.start({QStringLiteral("--store"), store, QStringLiteral("--step-delay-scale"), QStringLiteral("0")}))
        qFatal("%s", qPrintable(gateway.errorString()));

    auto report = [&](const QString &flow) {
        Received incremental;
        Received legacy;
        for (int i = 0; i < runs; ++i)
        {
            const Received inc = runOnce(gateway, QStringLiteral("events-%1-inc-%2").arg(flow).arg(i), flow, true);
            const Received leg = runOnce(gateway, QStringLiteral("events-%1-leg-%2").arg(flow).arg(i), flow, false);
            if ((inc.closeCode != 1000) || (leg.closeCode != 1000))
                qFatal("a run did not end normally (%d, %d)", inc.closeCode, leg.closeCode);
            incremental = inc;  // every run of a flow is the same: report the last one
            legacy = leg;
        }
        printf("bench_events: one run of the `%s` flow (%s store), bytes to the client\n", qPrintable(flow),
               qPrintable(parser.value(QStringLiteral("store"))));
        printf("  %-12s %8s %12s %12s %14s %14s\n", "mode", "frames", "all bytes", "checkpoints", "ckpt frames B",
               "ckpt payload B");
        for (const auto &[name, r] : {std::pair{"incremental", incremental}, std::pair{"legacy", legacy}})
            printf("  %-12s %8lld %12lld %12lld %14lld %14lld\n", name, r.frames, r.bytes, r.checkpoints,
                   r.checkpointBytes, r.payloadBytes);
        auto percent = [](qint64 a, qint64 b) { return 100.0 * double(a) / double(qMax<qint64>(1, b)); };
        const double ratio = percent(incremental.bytes, legacy.bytes);
        printf("  incremental / legacy: %.2f %% of all bytes (goal <= 2 %%: %s), %.2f %% of newCheckpoint frames, "
               "%.2f %% of checkpoint payloads\n",
               ratio, (ratio <= 2.0) ? "met" : "NOT met", percent(incremental.checkpointBytes, legacy.checkpointBytes),
               percent(incremental.payloadBytes, legacy.payloadBytes));
    };
    report(QStringLiteral("hello"));
    if (parser.isSet(QStringLiteral("long")))
        report(QStringLiteral("long"));
    gateway.terminate();
    return 0;
}
