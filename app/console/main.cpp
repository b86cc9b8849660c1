#include <QApplication>
#include <QCommandLineParser>
#include <QUrl>

#include "common/cli.h"
#include "common/logging.h"
#include "mainwindow.h"

int main(int argc, char *argv[])
{
    // --help and --version must work without a display (ssh, CI).
    if (qEnvironmentVariableIsEmpty("DISPLAY") && qEnvironmentVariableIsEmpty("WAYLAND_DISPLAY")
        && qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
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
    parser.setApplicationDescription(QStringLiteral("Lockstep console: watch agent workflows, their run lock, resume and cancel."));
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addOptions({
        {QStringLiteral("profile"), QStringLiteral("Gateway profile to connect with."), QStringLiteral("NAME")},
        {QStringLiteral("gateway"), QStringLiteral("Gateway URL (ws://, wss://)."), QStringLiteral("URL")},
        {QStringLiteral("workflow"), QStringLiteral("Workflow ID to open."), QStringLiteral("ID")},
        {QStringLiteral("embedded"), QStringLiteral("Start a local gateway and connect to it.")},
    });
    Lockstep::Cli::parseOrExit(parser, QApplication::arguments());
    if (parser.isSet(QStringLiteral("gateway")))
    {
        const QUrl url(parser.value(QStringLiteral("gateway")), QUrl::StrictMode);
        if (!url.isValid() || ((url.scheme() != u"ws") && (url.scheme() != u"wss")) || url.host().isEmpty())
            Lockstep::Cli::failUsage(QStringLiteral("--gateway: '%1' is not a ws:// or wss:// URL").arg(parser.value(QStringLiteral("gateway"))));
    }

    Lockstep::Logging::install({.appName = QStringLiteral("lockstep")});
    Lockstep::Ui::MainWindow window;
    window.show();
    const int code = QApplication::exec();
    Lockstep::Logging::shutdown();
    return code;
}
