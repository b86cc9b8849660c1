#include "testgateway.h"

#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QRandomGenerator>
#include <QSignalSpy>
#include <QTest>

#include "freeport.h"
#include "workflowtab.h"

namespace Lockstep::Test
{
    TestGateway::~TestGateway()
    {
        if (m_process.state() != QProcess::NotRunning)
        {
            m_process.terminate();
            if (!m_process.waitForFinished(8000))
            {
                m_process.kill();
                m_process.waitForFinished(2000);
            }
        }
    }

    bool TestGateway::start(const QStringList &extraArguments)
    {
        if (!m_dir.isValid())
            return false;
        m_extra = extraArguments;
        m_token = QStringLiteral("test-token-%1").arg(QRandomGenerator::global()->generate64(), 0, 16);
        QFile tokens(m_dir.filePath(QStringLiteral("tokens")));
        if (!tokens.open(QIODevice::WriteOnly, QFileDevice::ReadOwner | QFileDevice::WriteOwner))
            return false;
        tokens.write(m_token.toUtf8() + '\n');
        tokens.close();
        for (int attempt = 0; attempt < 3; ++attempt)
        {
            m_port = freePort();
            if (launch())
                return true;  // else the port was taken meanwhile: try another
        }
        return false;
    }

    bool TestGateway::launch()
    {
        m_process.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        QStringList arguments{QStringLiteral("--listen"),
                              QStringLiteral("127.0.0.1:%1").arg(m_port),
                              QStringLiteral("--store"),
                              QStringLiteral("sqlite:") + m_dir.filePath(QStringLiteral("gateway.db")),
                              QStringLiteral("--token-file"),
                              m_dir.filePath(QStringLiteral("tokens")),
                              QStringLiteral("--data-dir"),
                              m_dir.filePath(QStringLiteral("data")),
                              QStringLiteral("--replica-id"),
                              QStringLiteral("test-replica"),
                              QStringLiteral("--lock-ttl"),
                              QStringLiteral("3s"),
                              QStringLiteral("--step-delay-scale"),
                              QStringLiteral("0.1"),
                              QStringLiteral("--shutdown-grace"),
                              QStringLiteral("2s")};
        arguments += m_extra;
        m_process.start(qEnvironmentVariable("LOCKSTEP_GATEWAY_BIN"), arguments);
        if (!m_process.waitForStarted(10000))
            return false;
        QByteArray output;
        QElapsedTimer clock;
        clock.start();
        while (clock.elapsed() < 20000)
        {
            if (m_process.waitForReadyRead(200))
                output += m_process.readAllStandardOutput();
            if (output.contains("listening on"))
                return true;
            if (m_process.state() == QProcess::NotRunning)
                return false;
        }
        m_process.kill();
        m_process.waitForFinished(2000);
        return false;
    }

    void TestGateway::kill()
    {
        if (m_process.state() == QProcess::NotRunning)
            return;
        m_process.kill();
        m_process.waitForFinished(5000);
    }

    bool TestGateway::restart()
    {
        kill();
        // The old socket may linger a moment in the kernel: try for a few seconds.
        QElapsedTimer clock;
        clock.start();
        while (clock.elapsed() < 10000)
        {
            if (launch())
                return true;
        }
        return false;
    }

    bool TestGateway::restart(const QStringList &extraArguments)
    {
        m_extra = extraArguments;
        return restart();
    }

    bool TestGateway::isRunning() const
    {
        return m_process.state() != QProcess::NotRunning;
    }

    QString TestGateway::url() const
    {
        return QStringLiteral("ws://127.0.0.1:%1").arg(m_port);
    }

    QString TestGateway::token() const
    {
        return m_token;
    }
    Ui::ConsoleOptions TestGateway::consoleOptions(const QString &settingsFile, const Ui::BackoffOptions &backoff) const
    {
        Ui::ConsoleOptions options;
        options.gatewayUrl = url();
        options.token = token();
        options.settingsFile = settingsFile;
        // The console's history next to its settings, never in the user's data folder.
        options.dataDir = QFileInfo(settingsFile).absolutePath() + QStringLiteral("/console-data");
        options.pollInterval = std::chrono::milliseconds(300);
        options.askForMissingToken = false;
        options.backoff = backoff;
        return options;
    }

    bool showConsole(Ui::MainWindow &window)
    {
        window.resize(1400, 860);
        window.show();
        if (!QTest::qWaitForWindowExposed(&window))
            return false;
        QSignalSpy reachable(&window, &Ui::MainWindow::gatewayReachable);
        window.start();
        return reachable.wait(10000);
    }

    Ui::WorkflowTab *newWorkflowTab(Ui::MainWindow &window, const QString &goal, const QString &flow)
    {
        const qsizetype before = window.tabs().size();
        window.createWorkflow(goal, flow);
        if (!QTest::qWaitFor([&] { return window.tabs().size() == before + 1; }, 10000))
            return nullptr;
        return window.tabs().constLast();
    }

    QString outcomeLine(const Ui::TabAction action, const Ui::ActionOutcome &outcome)
    {
        return Ui::WorkflowTab::recordText({.action = action, .outcome = outcome});
    }
}  // namespace Lockstep::Test
