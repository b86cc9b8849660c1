// `lockstep race` against a local gateway it starts (SQLite, in-process lock,
// default switches): rounds per second and the race process's peak RSS.
//
// The race runs as its own process, exactly as a CI job runs it; its peak RSS
// is getrusage(RUSAGE_CHILDREN).ru_maxrss read after it was reaped and before
// the gateway (the only other child) ends, so it is the race's alone. Rounds
// per second are the race's own figure (summary.roundsPerSecond: first
// /healthz to the last round's final GETs), which depends on the flow's
// length: --scale sets --step-delay-scale (`hello` takes about 1.3 s at 1).
//
//   bench_race [--rounds 100] [--sessions 8] [--spread-ms 0] [--scale 0.01]

#include <cstdio>

#include <sys/resource.h>

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QProcessEnvironment>
#include <QTemporaryDir>

#include "benchutil.h"
#include "gatewayprocess.h"

using namespace Lockstep;
using namespace Lockstep::Test;
using namespace Lockstep::Bench;

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    useGatewayBinary(LOCKSTEP_GATEWAY_BIN_DEFAULT);
    QCommandLineParser parser;
    parser.addHelpOption();
    parser.addOptions({
        {QStringLiteral("rounds"), QStringLiteral("Rounds."), QStringLiteral("R"), QStringLiteral("100")},
        {QStringLiteral("sessions"), QStringLiteral("Sessions per round."), QStringLiteral("N"), QStringLiteral("8")},
        {QStringLiteral("spread-ms"), QStringLiteral("Spread."), QStringLiteral("S"), QStringLiteral("0")},
        {QStringLiteral("scale"), QStringLiteral("The gateway's --step-delay-scale."), QStringLiteral("X"),
         QStringLiteral("0.01")},
    });
    parser.process(app);

    QTemporaryDir dir;
    GatewayProcess gateway;
    if (!gateway.start({QStringLiteral("--store"), QStringLiteral("sqlite:") + dir.filePath(QStringLiteral("race.db")),
                        QStringLiteral("--step-delay-scale"), parser.value(QStringLiteral("scale"))}))
    {
        fprintf(stderr, "bench_race: %s\n", qPrintable(gateway.errorString()));
        return 1;
    }

    const QString json = dir.filePath(QStringLiteral("report.json"));
    QProcess race;
    QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
    environment.insert(QStringLiteral("LOCKSTEP_TOKEN"), gateway.token());
    race.setProcessEnvironment(environment);
    race.setProcessChannelMode(QProcess::ForwardedChannels);
    const QStringList arguments{QStringLiteral("race"),
                                QStringLiteral("--gateway"),
                                gateway.webSocketUrl().toString(),
                                QStringLiteral("--flow"),
                                QStringLiteral("hello"),
                                QStringLiteral("--sessions"),
                                parser.value(QStringLiteral("sessions")),
                                QStringLiteral("--rounds"),
                                parser.value(QStringLiteral("rounds")),
                                QStringLiteral("--spread-ms"),
                                parser.value(QStringLiteral("spread-ms")),
                                QStringLiteral("--json"),
                                json};
    QElapsedTimer wall;
    wall.start();
    race.start(QStringLiteral(LOCKSTEP_CONSOLE_BIN_DEFAULT), arguments);
    // The event loop keeps draining the gateway's log pipe meanwhile.
    if (!spinUntil([&race] { return race.state() == QProcess::NotRunning; }, 30 * 60 * 1000))
    {
        fprintf(stderr, "bench_race: the race did not end within 30 minutes\n");
        race.kill();
        return 1;
    }
    const qint64 wallMs = wall.elapsed();
    rusage usage{};
    getrusage(RUSAGE_CHILDREN, &usage);

    QFile file(json);
    if (!file.open(QIODevice::ReadOnly))
    {
        fprintf(stderr, "bench_race: no report (exit %d)\n", race.exitCode());
        return 1;
    }
    const QJsonObject summary = QJsonDocument::fromJson(file.readAll()).object().value(u"summary").toObject();
    printf("bench_race: %d rounds x %s sessions, spread %s ms, hello at --step-delay-scale %s\n",
           summary.value(u"rounds").toInt(), qPrintable(parser.value(QStringLiteral("sessions"))),
           qPrintable(parser.value(QStringLiteral("spread-ms"))), qPrintable(parser.value(QStringLiteral("scale"))));
    printf("  rounds/s %.2f (race's own figure); process wall %.2f s (%.2f rounds/s with start-up)\n",
           summary.value(u"roundsPerSecond").toDouble(), double(wallMs) / 1000.0,
           summary.value(u"rounds").toInt() * 1000.0 / double(wallMs));
    printf("  runners min %d max %d, findings %d, passed %s, exit %d\n", summary.value(u"minRunners").toInt(),
           summary.value(u"maxRunners").toInt(), summary.value(u"findings").toInt(),
           summary.value(u"passed").toBool() ? "yes" : "no", race.exitCode());
    printf("  race process peak RSS %.1f MiB (getrusage ru_maxrss)\n", double(usage.ru_maxrss) / 1024.0);
    gateway.terminate();
    return 0;
}
