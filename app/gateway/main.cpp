#include <QCommandLineParser>
#include <QCoreApplication>

#include "common/cli.h"

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("lockstep-gateway"));
    QCoreApplication::setOrganizationName(QStringLiteral("Lockstep"));
    QCoreApplication::setApplicationVersion(QStringLiteral(LOCKSTEP_VERSION));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Lockstep gateway: websocket + HTTP API, run lock, store and flow executor."));
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addOptions({
        {QStringLiteral("listen"), QStringLiteral("Address to listen on."), QStringLiteral("HOST:PORT"), QStringLiteral("127.0.0.1:8080")},
    });
    Lockstep::Cli::parseOrExit(parser, QCoreApplication::arguments());
    fprintf(stderr, "lockstep-gateway: the gateway server is not built yet\n");
    return 1;
}
