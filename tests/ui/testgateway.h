#pragma once

#include <QProcess>
#include <QString>
#include <QStringList>
#include <QTemporaryDir>

#include "mainwindow.h"
#include "outcome.h"
#include "workflowtab.h"

namespace Lockstep::Test
{
    // A real lockstep-gateway (LOCKSTEP_GATEWAY_BIN) for the console tests: a
    // free loopback port, its own token file and SQLite store in a temporary
    // folder, a 3 s lock TTL and flows sped up 10x. It can be killed (as in a
    // crash) and started again on the same port and store, the way a user's
    // gateway comes back.
    class TestGateway
    {
    public:
        TestGateway() = default;
        ~TestGateway();
        TestGateway(const TestGateway &) = delete;
        TestGateway &operator=(const TestGateway &) = delete;

        bool start(const QStringList &extraArguments = {});
        // SIGKILL: no close frames, no goodbye.
        void kill();
        // The same port, store and token as before.
        bool restart();
        // Restarts with other extra arguments (e.g. the QA switches turned off).
        bool restart(const QStringList &extraArguments);
        bool isRunning() const;

        QString url() const;  // ws://127.0.0.1:PORT
        QString token() const;
        // A console of this gateway: its URL and token, settings in
        // `settingsFile` (its history in console-data/ beside it), the run
        // list polled every 300 ms, no token prompt.
        Ui::ConsoleOptions consoleOptions(const QString &settingsFile, const Ui::BackoffOptions &backoff) const;

    private:
        bool launch();

        QTemporaryDir m_dir;
        QProcess m_process;
        QString m_token;
        QStringList m_extra;
        quint16 m_port = 0;
    };

    // Shows `window` at a size that fits every panel, starts it and waits
    // until the gateway answers. false: it did not within 10 s.
    bool showConsole(Ui::MainWindow &window);
    // Creates a workflow as File → New workflow… does and waits for its tab
    // (at most 10 s; nullptr: it did not open).
    Ui::WorkflowTab *newWorkflowTab(Ui::MainWindow &window, const QString &goal, const QString &flow);
    // The banner and history line of an outcome, in the console's own words
    // (WorkflowTab::recordText): tests name the outcome kind, not its English text.
    QString outcomeLine(Ui::TabAction action, const Ui::ActionOutcome &outcome);
}  // namespace Lockstep::Test
