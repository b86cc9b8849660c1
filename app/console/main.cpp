#include <QApplication>
#include <QCommandLineParser>
#include <QUrl>

#include "common/cli.h"
#include "common/logging.h"
#include "common/shutdownsignals.h"
#include "mainwindow.h"
#include "protocol/workflowid.h"
#include "racecommand.h"
#include "theme.h"
#include "translations.h"

int main(int argc, char *argv[])
{
    // `lockstep race ...` runs without a window, so it must not need a display:
    // it makes its own QCoreApplication before any QApplication exists.
    if ((argc > 1) && (QByteArrayView(argv[1]) == "race"))
        return Lockstep::Ui::runRaceCommand(argc, argv);
    // --help and --version must work without a display (ssh, CI).
    if (qEnvironmentVariableIsEmpty("DISPLAY") && qEnvironmentVariableIsEmpty("WAYLAND_DISPLAY") &&
        qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
    {
        for (int i = 1; i < argc; ++i)
        {
            const QByteArrayView arg(argv[i]);
            if ((arg == "--help") || (arg == "-h") || (arg == "--version") || (arg == "-v"))
                qputenv("QT_QPA_PLATFORM", "offscreen");
        }
    }
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("lockstep"));
    QApplication::setApplicationDisplayName(QStringLiteral("Lockstep"));
    QApplication::setOrganizationName(QStringLiteral("Lockstep"));
    QApplication::setApplicationVersion(QStringLiteral(LOCKSTEP_VERSION));
    QApplication::setDesktopFileName(QStringLiteral("lockstep"));

    QCommandLineParser parser;
    parser.setApplicationDescription(
        QStringLiteral("Lockstep console: watch agent workflows, their run lock, resume and cancel."));
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addOptions({
        {QStringLiteral("profile"), QStringLiteral("Gateway profile to connect with."), QStringLiteral("NAME")},
        {QStringLiteral("gateway"),
         QStringLiteral("Gateway URL (ws://, wss://); the token comes from --profile or $LOCKSTEP_TOKEN."),
         QStringLiteral("URL")},
        {QStringLiteral("workflow"), QStringLiteral("Workflow ID to open."), QStringLiteral("ID")},
        {QStringLiteral("embedded"),
         QStringLiteral("Start a local gateway (SQLite, in-process lock) and connect to it; stopped on exit.")},
        {QStringLiteral("debug"), QStringLiteral("Also log debug messages.")},
    });
    Lockstep::Cli::parseOrExit(parser, QApplication::arguments());
    if (parser.isSet(QStringLiteral("gateway")))
    {
        const QUrl url(parser.value(QStringLiteral("gateway")), QUrl::StrictMode);
        if (!url.isValid() || ((url.scheme() != u"ws") && (url.scheme() != u"wss")) || url.host().isEmpty())
            Lockstep::Cli::failUsage(QStringLiteral("--gateway: '%1' is not a ws:// or wss:// URL")
                                         .arg(parser.value(QStringLiteral("gateway"))));
    }

    if (parser.isSet(QStringLiteral("workflow")))
    {
        const QString id = parser.value(QStringLiteral("workflow"));
        if (!Lockstep::Protocol::isValidWorkflowId(id))
            Lockstep::Cli::failUsage(QStringLiteral("--workflow: '%1' is not a workflow ID (%2)")
                                         .arg(id.left(140), Lockstep::Protocol::workflowIdProblem(id)));
    }
    if (parser.isSet(QStringLiteral("embedded")) && parser.isSet(QStringLiteral("gateway")))
        Lockstep::Cli::failUsage(QStringLiteral("--embedded starts its own gateway; leave out --gateway"));

    Lockstep::Logging::install({.appName = QStringLiteral("lockstep"), .debug = parser.isSet(QStringLiteral("debug"))});
    Lockstep::Ui::installTranslations(&app);
    Lockstep::Ui::Theme::captureSystemDefaults();
    Lockstep::Ui::ConsoleOptions options;
    options.profile = parser.value(QStringLiteral("profile"));
    options.gatewayUrl = parser.value(QStringLiteral("gateway"));
    options.workflowId = parser.value(QStringLiteral("workflow"));
    options.embedded = parser.isSet(QStringLiteral("embedded"));
    // A token for --gateway without a profile; read once, never stored.
    options.token = qEnvironmentVariable("LOCKSTEP_TOKEN");
    Lockstep::Ui::MainWindow window(options);
    // SIGTERM/SIGINT close the window normally, so an embedded gateway is stopped too;
    // installed before start() logs anything, so a signal right after that takes this path.
    Lockstep::ShutdownSignals shutdownSignals;
    QObject::connect(&shutdownSignals, &Lockstep::ShutdownSignals::received, &window, [&window] {
        window.close();
        QApplication::quit();
    });
    window.show();
    window.start();
    const int code = QApplication::exec();
    Lockstep::Logging::shutdown();
    return code;
}
