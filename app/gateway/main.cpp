#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDir>

#include "common/cli.h"
#include "common/logging.h"
#include "gateway/configfile.h"
#include "gateway/gateway.h"
#include "gateway/gatewayconfig.h"

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("lockstep-gateway"));
    QCoreApplication::setOrganizationName(QStringLiteral("Lockstep"));
    QCoreApplication::setApplicationVersion(QStringLiteral(LOCKSTEP_VERSION));

    const QString description =
        QStringLiteral("Lockstep gateway: websocket + HTTP API, run lock, store and flow executor.");
    const QStringList arguments = QCoreApplication::arguments();
    QCommandLineParser commandLine;
    commandLine.setApplicationDescription(description);
    Lockstep::Gateway::addCommandLineOptions(commandLine);
    Lockstep::Cli::parseOrExit(commandLine, arguments);

    // --config files: their settings go before the command line's arguments,
    // minus the keys the command line sets, and everything is parsed and
    // validated once more as one command line.
    auto files = Lockstep::Gateway::ConfigFiles::read(commandLine.values(QStringLiteral("config")),
                                                      Lockstep::Gateway::settingOptions(),
                                                      Lockstep::Gateway::repeatableSettings());
    if (!files)
        Lockstep::Cli::failUsage(files.error());
    files->dropSetBy(commandLine);
    QCommandLineParser parser;
    parser.setApplicationDescription(description);
    Lockstep::Gateway::addCommandLineOptions(parser);
    Lockstep::Cli::parseOrExit(parser, QStringList{arguments.constFirst()} + files->arguments() + arguments.mid(1));
    auto config = Lockstep::Gateway::configFromCommandLine(parser);
    if (!config)
        Lockstep::Cli::failUsage(files->locate(config.error()));

    Lockstep::Logging::install({
        .appName = QStringLiteral("lockstep-gateway"),
        .logDirectory = QDir(config->dataDir).filePath(QStringLiteral("logs")),
        .toStderr = true,
        .toFile = true,
        .debug = config->debugLog,
        .journalAware = true,
    });

    int exitCode = 0;
    {
        Lockstep::Gateway::Server server(*config);
        server.watchShutdownSignals();
        const auto started = server.start();
        if (!started)
        {
            // A usage error (exit 2) names a flag: point it at the file line it came from.
            Lockstep::Cli::printError(started.error().exitCode == Lockstep::Cli::UsageError
                                          ? files->locate(started.error().message)
                                          : started.error().message);
            Lockstep::Logging::shutdown();
            return started.error().exitCode;
        }
        QObject::connect(&server, &Lockstep::Gateway::Server::stopped, &app, [] { QCoreApplication::exit(0); });
        exitCode = QCoreApplication::exec();
    }
    Lockstep::Logging::shutdown();
    return exitCode;
}
