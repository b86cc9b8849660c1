#include <cstdio>

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDir>

#include "common/cli.h"
#include "common/logging.h"
#include "gateway/gateway.h"
#include "gateway/gatewayconfig.h"

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("lockstep-gateway"));
    QCoreApplication::setOrganizationName(QStringLiteral("Lockstep"));
    QCoreApplication::setApplicationVersion(QStringLiteral(LOCKSTEP_VERSION));

    QCommandLineParser parser;
    parser.setApplicationDescription(
        QStringLiteral("Lockstep gateway: websocket + HTTP API, run lock, store and flow executor."));
    Lockstep::Gateway::addCommandLineOptions(parser);
    Lockstep::Cli::parseOrExit(parser, QCoreApplication::arguments());
    auto config = Lockstep::Gateway::configFromCommandLine(parser);
    if (!config)
        Lockstep::Cli::failUsage(config.error());

    Lockstep::Logging::install({
        .appName = QStringLiteral("lockstep-gateway"),
        .logDirectory = QDir(config->dataDir).filePath(QStringLiteral("logs")),
        .toStderr = true,
        .toFile = true,
        .debug = config->debugLog,
    });

    int exitCode = 0;
    {
        Lockstep::Gateway::Server server(*config);
        server.watchShutdownSignals();
        const auto started = server.start();
        if (!started)
        {
            fprintf(stderr, "lockstep-gateway: %s\n", qPrintable(started.error().message));
            Lockstep::Logging::shutdown();
            return started.error().exitCode;
        }
        QObject::connect(&server, &Lockstep::Gateway::Server::stopped, &app, [] { QCoreApplication::exit(0); });
        exitCode = QCoreApplication::exec();
    }
    Lockstep::Logging::shutdown();
    return exitCode;
}
