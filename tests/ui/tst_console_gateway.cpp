#include <cerrno>
#include <csignal>

#include <QFileInfo>
#include <QLabel>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QTest>

#include "chatlogmodel.h"
#include "connection.h"
#include "embeddedgateway.h"
#include "locktracker.h"
#include "mainwindow.h"
#include "outcome.h"
#include "protocol/chatlog.h"
#include "protocol/closecode.h"
#include "runlistmodel.h"
#include "testgateway.h"
#include "workflowtab.h"

using namespace std::chrono_literals;
using namespace Lockstep;
using namespace Lockstep::Ui;

namespace
{
    QString labelText(const QWidget *widget, const char *name)
    {
        const auto *label = widget->findChild<QLabel *>(QString::fromLatin1(name));
        return label ? label->text() : QString();
    }

    bool hasEntry(const ChatLogModel *model, Protocol::MessageType type,
                  std::optional<Protocol::MessageStatus> status = std::nullopt)
    {
        for (int row = 0; row < model->rowCount(); ++row)
        {
            const Protocol::ChatLogEntry &entry = model->entry(row);
            if ((entry.messageType == type) && (!status || (entry.status == status)))
                return true;
        }
        return false;
    }
}  // namespace

// The console against a real lockstep-gateway process: connect, open, watch
// the chat log, Resume / Cancel outcomes read from the widgets, the two-tab
// race ending in "already running", and the embedded mode.
class TestConsoleGateway : public QObject
{
    Q_OBJECT

private:
    Test::TestGateway m_gateway;
    QTemporaryDir m_settingsDir;
    std::unique_ptr<MainWindow> m_window;

    ConsoleOptions options() const
    {
        return m_gateway.consoleOptions(m_settingsDir.filePath(QStringLiteral("console.ini")),
                                        BackoffOptions{.initial = 200ms, .maximum = 2000ms, .lockHeldMinimum = 1000ms});
    }

    // Cancels through the confirmation box, as a user does.
    static void cancelWithConfirmation(WorkflowTab *tab)
    {
        tab->findChild<QPushButton *>(QStringLiteral("cancelButton"))->click();
        QTRY_VERIFY(tab->cancelConfirmation());
        QMessageBox *box = tab->cancelConfirmation();
        QVERIFY(box->isVisible());
        box->button(QMessageBox::Yes)->click();
    }

    WorkflowTab *newWorkflow(const QString &goal, const QString &flow)
    {
        return Test::newWorkflowTab(*m_window, goal, flow);
    }

private slots:
    void initTestCase()
    {
        QVERIFY(m_settingsDir.isValid());
        QVERIFY2(!qEnvironmentVariableIsEmpty("LOCKSTEP_GATEWAY_BIN"), "LOCKSTEP_GATEWAY_BIN");
        QVERIFY2(m_gateway.start(), "the gateway did not start");
        // For screenshots: LOCKSTEP_SCREENSHOT_THEME=light|dark|system.
        if (const QString theme = qEnvironmentVariable("LOCKSTEP_SCREENSHOT_THEME"); !theme.isEmpty())
            QSettings(options().settingsFile, QSettings::IniFormat).setValue(QStringLiteral("ui/theme"), theme);
        m_window = std::make_unique<MainWindow>(options());
        QVERIFY(Test::showConsole(*m_window));
        QVERIFY2(m_window->gatewayStatusText().contains(u"connected"), qPrintable(m_window->gatewayStatusText()));
    }

    void cleanupTestCase()
    {
        m_window.reset();
    }

    void connectOpenAndWatch()
    {
        WorkflowTab *tab =
            newWorkflow(QStringLiteral("Create a file called hello.sh that prints hello"), QStringLiteral("hello"));
        QVERIFY(tab);
        QTRY_COMPARE_WITH_TIMEOUT(labelText(tab, "outcomeLabel"),
                                  Test::outcomeLine(TabAction::Resume, {.kind = OutcomeKind::Resumed}), 10000);
        QTRY_COMPARE_WITH_TIMEOUT(labelText(tab, "liveConnectionLabel"), QStringLiteral("Live: connected"), 10000);
        // The chat log arrives: the user's goal, agent text, a tool call that succeeded.
        ChatLogModel *log = tab->chatModel();
        QTRY_VERIFY_WITH_TIMEOUT(hasEntry(log, Protocol::MessageType::Agent), 10000);
        QTRY_VERIFY_WITH_TIMEOUT(hasEntry(log, Protocol::MessageType::Tool, Protocol::MessageStatus::Success), 10000);
        QTRY_VERIFY_WITH_TIMEOUT(tab->runStatus() == RunStatus::InputRequired, 10000);
        QCOMPARE(labelText(tab, "runStatusLabel"), QStringLiteral("input required"));
        // The run list has it, with its status, without a manual refresh.
        RunListModel *runs = m_window->runModel();
        QTRY_VERIFY_WITH_TIMEOUT(runs->rowOf(tab->workflowId()) >= 0, 10000);
        QTRY_COMPARE_WITH_TIMEOUT(
            runs->index(runs->rowOf(tab->workflowId()), RunListModel::StatusColumn).data().toString(),
            QStringLiteral("input required"), 10000);
        QCOMPARE(runs->index(runs->rowOf(tab->workflowId()), RunListModel::GoalColumn).data().toString(),
                 QStringLiteral("Create a file called hello.sh that prints hello"));

        // The next message of the chat goes in and runs another turn.
        const int before = log->rowCount();
        auto *composer = tab->findChild<QPlainTextEdit *>(QStringLiteral("composer"));
        composer->setPlainText(QStringLiteral("Also print the date"));
        tab->findChild<QPushButton *>(QStringLiteral("sendButton"))->click();
        QTRY_COMPARE_WITH_TIMEOUT(labelText(tab, "outcomeLabel"),
                                  Test::outcomeLine(TabAction::Send, {.kind = OutcomeKind::MessageSent}), 10000);
        QTRY_VERIFY_WITH_TIMEOUT(log->rowCount() > before, 10000);
        QTRY_VERIFY_WITH_TIMEOUT(tab->runStatus() == RunStatus::InputRequired, 10000);
        bool sawMessage = false;
        for (int row = 0; row < log->rowCount(); ++row)
            sawMessage |= (log->entry(row).messageType == Protocol::MessageType::User) &&
                          (log->entry(row).content == u"Also print the date");
        QVERIFY(sawMessage);
    }

    void resumeAndCancelOutcomes()
    {
        WorkflowTab *tab =
            newWorkflow(QStringLiteral("Create a file called hello.sh that prints hello"), QStringLiteral("hello"));
        QVERIFY(tab);
        QTRY_VERIFY_WITH_TIMEOUT(tab->runStatus() == RunStatus::InputRequired, 10000);
        QTRY_COMPARE_WITH_TIMEOUT(labelText(tab, "driveConnectionLabel"),
                                  QStringLiteral("Session: closed (1000) — input_required"), 10000);

        cancelWithConfirmation(tab);
        QTRY_COMPARE_WITH_TIMEOUT(labelText(tab, "outcomeLabel"),
                                  Test::outcomeLine(TabAction::Cancel, {.kind = OutcomeKind::Cancelled}), 10000);
        QTRY_VERIFY(tab->runStatus() == RunStatus::Stopped);

        cancelWithConfirmation(tab);
        QTRY_COMPARE_WITH_TIMEOUT(
            labelText(tab, "outcomeLabel"),
            Test::outcomeLine(TabAction::Cancel, {.kind = OutcomeKind::NothingToCancel, .status = RunStatus::Stopped}),
            10000);

        // Resume from the keyboard.
        m_window->activateWindow();
        QVERIFY(QTest::qWaitForWindowActive(m_window.get()));
        m_window->tabWidget()->setCurrentWidget(tab);
        QTest::keyClick(m_window.get(), Qt::Key_R, Qt::ControlModifier);
        QTRY_COMPARE_WITH_TIMEOUT(
            labelText(tab, "outcomeLabel"),
            Test::outcomeLine(TabAction::Resume, {.kind = OutcomeKind::NotResumable, .status = RunStatus::Stopped}),
            10000);

        QCOMPARE(tab->history().size(), 4);  // resumed (new workflow), cancelled, nothing to cancel, not resumable
        QCOMPARE(WorkflowTab::recordText(tab->history().at(0)),
                 Test::outcomeLine(TabAction::Resume, {.kind = OutcomeKind::Resumed}));
        QCOMPARE(WorkflowTab::recordText(tab->history().at(1)),
                 Test::outcomeLine(TabAction::Cancel, {.kind = OutcomeKind::Cancelled}));
        QCOMPARE(
            WorkflowTab::recordText(tab->history().at(2)),
            Test::outcomeLine(TabAction::Cancel, {.kind = OutcomeKind::NothingToCancel, .status = RunStatus::Stopped}));
        QCOMPARE(
            WorkflowTab::recordText(tab->history().at(3)),
            Test::outcomeLine(TabAction::Resume, {.kind = OutcomeKind::NotResumable, .status = RunStatus::Stopped}));
        auto *history = tab->findChild<QWidget *>(QStringLiteral("outcomeHistory"));
        QVERIFY(history);
        // The run list follows the cancel.
        RunListModel *runs = m_window->runModel();
        QTRY_COMPARE_WITH_TIMEOUT(
            runs->index(runs->rowOf(tab->workflowId()), RunListModel::StatusColumn).data().toString(),
            QStringLiteral("stopped"), 10000);
    }

    void unknownWorkflowIsNotFound()
    {
        WorkflowTab *tab = m_window->openWorkflow(QStringLiteral("no-such-run"));
        QVERIFY(tab);
        QTRY_COMPARE_WITH_TIMEOUT(labelText(tab, "liveConnectionLabel"),
                                  QStringLiteral("Live: closed: not found (4404) — workflow not found"), 10000);
        tab->resume();
        QTRY_COMPARE_WITH_TIMEOUT(labelText(tab, "outcomeLabel"),
                                  Test::outcomeLine(TabAction::Resume, {.kind = OutcomeKind::NotFound}), 10000);
        cancelWithConfirmation(tab);
        QTRY_COMPARE_WITH_TIMEOUT(labelText(tab, "outcomeLabel"),
                                  Test::outcomeLine(TabAction::Cancel, {.kind = OutcomeKind::NotFound}), 10000);
    }

    // The two-tab race in one action: the second tab's message is refused
    // with 1013 and the tab says who holds the run.
    void twoTabRace()
    {
        WorkflowTab *first = newWorkflow(QStringLiteral("Refactor the parser, step by step"), QStringLiteral("long"));
        QVERIFY(first);
        QTRY_COMPARE_WITH_TIMEOUT(labelText(first, "outcomeLabel"),
                                  Test::outcomeLine(TabAction::Resume, {.kind = OutcomeKind::Resumed}), 10000);
        QTRY_COMPARE_WITH_TIMEOUT(first->lockTracker()->state(), LockTracker::State::Held, 10000);
        const QString holder = first->lockTracker()->holder();
        QVERIFY(holder.startsWith(u"test-replica#"));

        const int tabsBefore = m_window->tabs().size();
        first->findChild<QPushButton *>(QStringLiteral("newTabButton"))->click();
        QTRY_COMPARE(m_window->tabs().size(), tabsBefore + 1);
        WorkflowTab *second = m_window->tabs().constLast();
        QVERIFY(second != first);
        QCOMPARE(second->workflowId(), first->workflowId());
        QCOMPARE(m_window->tabWidget()->currentWidget(), second);
        QTRY_COMPARE_WITH_TIMEOUT(labelText(second, "liveConnectionLabel"), QStringLiteral("Live: connected"), 10000);
        QTRY_VERIFY_WITH_TIMEOUT(second->chatModel()->rowCount() > 0, 10000);

        auto *composer = second->findChild<QPlainTextEdit *>(QStringLiteral("composer"));
        composer->setPlainText(QStringLiteral("Also rename the tests"));
        second->findChild<QPushButton *>(QStringLiteral("sendButton"))->click();
        // 1013, held by the first tab's session, in the banner and the history.
        const QString expected =
            Test::outcomeLine(TabAction::Send, {.kind = OutcomeKind::AlreadyRunning, .holder = holder});
        QTRY_COMPARE_WITH_TIMEOUT(labelText(second, "outcomeLabel"), expected, 10000);
        QCOMPARE(second->history().constLast().outcome.kind, OutcomeKind::AlreadyRunning);
        QCOMPARE(second->history().constLast().outcome.holder, holder);
        QCOMPARE(composer->toPlainText(), QStringLiteral("Also rename the tests"));  // not lost
        QVERIFY2(labelText(second, "driveConnectionLabel").contains(closeWording(1013, LockHeldReason)),
                 qPrintable(labelText(second, "driveConnectionLabel")));
        // The first tab keeps driving; both tabs watch the heartbeats of its lock.
        QCOMPARE(labelText(first, "outcomeLabel"),
                 Test::outcomeLine(TabAction::Resume, {.kind = OutcomeKind::Resumed}));
        QVERIFY(first->runStatus() == RunStatus::Running);
        QCOMPARE(labelText(first, "driveConnectionLabel"),
                 QStringLiteral("Session: connected, this tab is driving the run"));
        QTRY_VERIFY_WITH_TIMEOUT(second->lockTracker()->heartbeats() >= 1, 10000);
        QCOMPARE(second->lockTracker()->holder(), holder);
        QVERIFY(labelText(second, "lockStateLabel").startsWith(u"held by replica test-replica, session "));
        // The run list names the holder too.
        RunListModel *runs = m_window->runModel();
        QTRY_VERIFY_WITH_TIMEOUT(!runs->holderOf(first->workflowId()).isEmpty(), 10000);

        const QString screenshot = qEnvironmentVariable("LOCKSTEP_SCREENSHOT");
        if (!screenshot.isEmpty())
        {
            QTest::qWait(1500);  // a few more entries and a heartbeat on screen
            QVERIFY(m_window->grab().save(screenshot));
        }

        first->cancelNow();
        QTRY_COMPARE_WITH_TIMEOUT(labelText(first, "outcomeLabel"),
                                  Test::outcomeLine(TabAction::Cancel, {.kind = OutcomeKind::Cancelled}), 10000);
        QTRY_VERIFY_WITH_TIMEOUT(first->lockTracker()->state() == LockTracker::State::Free, 10000);
    }

    void embeddedGatewayStartsAndStops()
    {
        QTemporaryDir data;
        QVERIFY(data.isValid());
        ConsoleOptions o;
        o.embedded = true;
        o.gatewayBinary = qEnvironmentVariable("LOCKSTEP_GATEWAY_BIN");
        o.embeddedDataDir = data.filePath(QStringLiteral("embedded"));
        o.settingsFile = m_settingsDir.filePath(QStringLiteral("embedded.ini"));
        o.pollInterval = 300ms;
        o.askForMissingToken = false;
        auto window = std::make_unique<MainWindow>(o);
        window->show();
        QSignalSpy reachable(window.get(), &MainWindow::gatewayReachable);
        window->start();
        QVERIFY(reachable.wait(20000));
        QVERIFY2(window->gatewayStatusText().contains(u"embedded"), qPrintable(window->gatewayStatusText()));
        QVERIFY(window->embeddedGateway()->isRunning());
        // The token came from the file the gateway wrote (owner-only).
        const QFileInfo tokenFile(o.embeddedDataDir + QStringLiteral("/gateway.token"));
        QVERIFY(tokenFile.exists());
        QCOMPARE(tokenFile.permissions() & (QFileDevice::ReadGroup | QFileDevice::ReadOther),
                 QFileDevice::Permissions());
        QVERIFY(!window->embeddedGateway()->token().isEmpty());
        // It works end to end.
        window->createWorkflow(QStringLiteral("Create a file called hello.sh that prints hello"),
                               QStringLiteral("hello"));
        QTRY_COMPARE_WITH_TIMEOUT(window->tabs().size(), 1, 10000);
        QTRY_VERIFY_WITH_TIMEOUT(window->tabs().constFirst()->runStatus() == RunStatus::InputRequired, 10000);

        const auto pid = static_cast<pid_t>(window->embeddedGateway()->processId());
        QVERIFY(pid > 0);
        window.reset();  // exit: the gateway is stopped
        QCOMPARE(::kill(pid, 0), -1);
        QCOMPARE(errno, ESRCH);
    }
};

QTEST_MAIN(TestConsoleGateway)
#include "tst_console_gateway.moc"
