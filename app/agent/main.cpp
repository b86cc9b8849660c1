#include <cstdio>

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QFileInfo>
#include <QRandomGenerator>
#include <QTimer>

#include "agent/agentregistrar.h"
#include "agent/agentserver.h"
#include "agent/agenttoken.h"
#include "agent/workspacefolder.h"
#include "common/cli.h"
#include "common/logging.h"
#include "common/shutdownsignals.h"

namespace
{
    using namespace Lockstep;

    QString option(const QCommandLineParser &parser, const char *name)
    {
        return parser.value(QString::fromLatin1(name));
    }

    std::chrono::milliseconds durationOption(const QCommandLineParser &parser, const char *name)
    {
        const auto value = Cli::parseDuration(option(parser, name));
        if (!value)
            Cli::failUsage(QStringLiteral("--%1: %2").arg(QString::fromLatin1(name), value.error()));
        return *value;
    }

    QString generatedAgentId()
    {
        return QStringLiteral("agent-%1").arg(QRandomGenerator::system()->generate64(), 16, 16, QChar(u'0'));
    }

    void printLine(const QString &line)
    {
        fprintf(stdout, "%s\n", qPrintable(line));
        fflush(stdout);
    }
}  // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("lockstep-agent"));
    QCoreApplication::setOrganizationName(QStringLiteral("Lockstep"));
    QCoreApplication::setApplicationVersion(QStringLiteral(LOCKSTEP_VERSION));

    QCommandLineParser parser;
    parser.setApplicationDescription(
        QStringLiteral("Lockstep workspace agent: serves tool calls confined to one workspace folder."));
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addOptions({
        {QStringLiteral("listen"), QStringLiteral("Loopback address to listen on (port 0: any free port)."),
         QStringLiteral("HOST:PORT"), QStringLiteral("127.0.0.1:0")},
        {QStringLiteral("workspace"), QStringLiteral("Workspace folder tools are confined to (required)."),
         QStringLiteral("DIR")},
        {QStringLiteral("workspace-id"), QStringLiteral("The workspace's ID (default: the folder's name)."),
         QStringLiteral("ID")},
        {QStringLiteral("agent-id"),
         QStringLiteral("This agent's ID (default: a random one; a rebuilt workspace gets a new agent ID)."),
         QStringLiteral("ID")},
        {QStringLiteral("gateway"),
         QStringLiteral("Gateway URL to register with, e.g. http://127.0.0.1:8080 (optional)."), QStringLiteral("URL")},
        {QStringLiteral("token-file"),
         QStringLiteral(
             "The gateway's token file: its first token is used to register with --gateway (required with --gateway; never accepted from callers)."),
         QStringLiteral("FILE")},
        {QStringLiteral("secret-file"),
         QStringLiteral(
             "This agent's secret, which callers present in the hello (default: a random one per start, sent to the gateway when registering)."),
         QStringLiteral("FILE")},
        {QStringLiteral("command-timeout"), QStringLiteral("Time limit of run_command without timeoutMs."),
         QStringLiteral("DURATION"), QStringLiteral("30s")},
        {QStringLiteral("max-command-timeout"), QStringLiteral("Largest timeoutMs run_command accepts."),
         QStringLiteral("DURATION"), QStringLiteral("10m")},
        {QStringLiteral("register-interval"), QStringLiteral("How often the registration with the gateway is renewed."),
         QStringLiteral("DURATION"), QStringLiteral("30s")},
        {QStringLiteral("debug"), QStringLiteral("Log debug messages too.")},
    });
    Cli::parseOrExit(parser, QCoreApplication::arguments());

    const auto listen = Cli::parseListenAddress(option(parser, "listen"));
    if (!listen)
        Cli::failUsage(QStringLiteral("--listen: %1").arg(listen.error()));
    // Plain TCP with a bearer token: never on a network interface.
    if (!listen->address.isLoopback())
        Cli::failUsage(QStringLiteral("--listen: %1 is not a loopback address (the agent speaks plain TCP)")
                           .arg(listen->address.toString()));

    if (!parser.isSet(QStringLiteral("workspace")))
        Cli::failUsage(QStringLiteral("--workspace: required"));
    const auto folder = Workspace::WorkspaceFolder::open(option(parser, "workspace"));
    if (!folder)
        Cli::failUsage(QStringLiteral("--workspace: %1").arg(folder.error()));

    QString workspaceId = option(parser, "workspace-id");
    if (workspaceId.isEmpty())
        workspaceId = QFileInfo(folder->root()).fileName();
    if (!Workspace::isValidWorkspaceId(workspaceId))
        Cli::failUsage(
            QStringLiteral("--workspace-id: '%1' must match [A-Za-z0-9][A-Za-z0-9_.-]{0,127}").arg(workspaceId));

    const QString agentId = parser.isSet(QStringLiteral("agent-id")) ? option(parser, "agent-id") : generatedAgentId();
    if (!Workspace::isValidAgentId(agentId))
        Cli::failUsage(QStringLiteral("--agent-id: '%1' must match [A-Za-z0-9][A-Za-z0-9_.-]{0,127}").arg(agentId));

    // The agent's own credential: callers (the gateway) present it in the
    // hello. The gateway's tokens only authenticate the registration.
    QByteArray secret = Workspace::generateAgentSecret();
    if (parser.isSet(QStringLiteral("secret-file")))
    {
        const auto secrets = Workspace::AgentTokens::loadFile(option(parser, "secret-file"));
        if (!secrets)
            Cli::failUsage(QStringLiteral("--secret-file: %1").arg(secrets.error()));
        secret = secrets->first();
    }
    const auto accepted = Workspace::AgentTokens::fromTokens({secret});
    if (!accepted)
        Cli::failUsage(QStringLiteral("--secret-file: %1").arg(accepted.error()));

    std::optional<QUrl> gateway;
    QByteArray gatewayToken;
    if (parser.isSet(QStringLiteral("gateway")))
    {
        const auto url = Workspace::parseGatewayUrl(option(parser, "gateway"));
        if (!url)
            Cli::failUsage(QStringLiteral("--gateway: %1").arg(url.error()));
        gateway = *url;
        if (!parser.isSet(QStringLiteral("token-file")))
            Cli::failUsage(QStringLiteral("--token-file: required with --gateway (the token to register with)"));
        const auto tokens = Workspace::AgentTokens::loadFile(option(parser, "token-file"));
        if (!tokens)
            Cli::failUsage(QStringLiteral("--token-file: %1").arg(tokens.error()));
        gatewayToken = tokens->first();
    }

    Workspace::ToolLimits limits;
    limits.defaultCommandTimeout = durationOption(parser, "command-timeout");
    limits.maxCommandTimeout = durationOption(parser, "max-command-timeout");
    if (limits.defaultCommandTimeout > limits.maxCommandTimeout)
        Cli::failUsage(QStringLiteral("--command-timeout: longer than --max-command-timeout"));
    const std::chrono::milliseconds registerInterval = durationOption(parser, "register-interval");

    Logging::install({
        .appName = QStringLiteral("lockstep-agent"),
        .logDirectory = {},
        .toStderr = true,
        .toFile = false,
        .debug = parser.isSet(QStringLiteral("debug")),
    });

    // run_command's background processes that leave their parent (setsid -f,
    // double forks) are re-parented to the agent, so the time limit can find
    // and kill them (agenttools.h).
    if (!Workspace::becomeSubreaper())
        qCWarning(lcApp)
            << "cannot become the subreaper of run_command's processes; detached ones may outlive their limit";

    // Installed before the listening line is printed: a SIGTERM right after
    // it must take the orderly path.
    ShutdownSignals shutdownSignals;

    Workspace::AgentServer server(*folder, Workspace::AgentServerOptions{
                                               .agentId = agentId,
                                               .workspaceId = workspaceId,
                                               .tokens = *accepted,
                                               .limits = limits,
                                           });
    if (const auto listening = server.listen(listen->address, listen->port); !listening)
    {
        fprintf(stderr, "lockstep-agent: %s\n", qPrintable(listening.error()));
        Logging::shutdown();
        return 1;
    }
    printLine(QStringLiteral("lockstep-agent: listening on %1:%2 (agent %3, workspace %4, folder %5)")
                  .arg(server.address().toString())
                  .arg(server.port())
                  .arg(agentId, workspaceId, folder->root()));

    std::unique_ptr<Workspace::AgentRegistrar> registrar;
    if (gateway)
    {
        registrar = std::make_unique<Workspace::AgentRegistrar>(Workspace::RegistrationOptions{
            .gateway = *gateway,
            .workspaceId = workspaceId,
            .self = Workspace::AgentAddress{.agentId = agentId, .host = server.address(), .port = server.port()},
            .token = gatewayToken,
            .secret = secret,
            .interval = registerInterval,
        });
        registrar->start();
    }

    // SIGTERM/SIGINT: take the agent out of the workspace's latest build (so
    // the gateway fails fast instead of dialing a dead agent), then exit.
    bool stopping = false;
    QObject::connect(&shutdownSignals, &ShutdownSignals::received, &app, [&](const int signalNumber) {
        if (stopping)
            return;
        stopping = true;
        qCInfo(lcApp) << "signal" << signalNumber << "received; stopping";
        if (!registrar)
        {
            QCoreApplication::exit(0);
            return;
        }
        QObject::connect(registrar.get(), &Workspace::AgentRegistrar::deregistered, &app,
                         [] { QCoreApplication::exit(0); });
        QTimer::singleShot(5000, &app, [] { QCoreApplication::exit(0); });
        registrar->deregister();
    });

    const int exitCode = QCoreApplication::exec();
    registrar.reset();
    Logging::shutdown();
    return exitCode;
}
