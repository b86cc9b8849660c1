#include <QApplication>
#include <QElapsedTimer>
#include <QLabel>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QTabBar>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

#include "lockpanel.h"
#include "locktracker.h"
#include "mainwindow.h"
#include "outcome.h"
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

    int linesStartingWith(const QStringList &lines, const QString &prefix)
    {
        int count = 0;
        for (const QString &line : lines)
            count += line.section(QStringLiteral("  "), 1).startsWith(prefix) ? 1 : 0;
        return count;
    }
}  // namespace

// The lock panel and run state against a real lockstep-gateway: the panel is
// free once a turn ends, the driving tab does not race itself, the other tab
// learns at once that the lock is free, and a gateway kill shows "last known"
// values until the gateway is back, when every tab reconciles at once.
//
// The backoffs are long on purpose (a 20 s wait after 1013 and between
// reconnects): a test passes only if the console does not wait them out.
class TestLockPanelGateway : public QObject
{
    Q_OBJECT

private:
    Test::TestGateway m_gateway;
    QTemporaryDir m_settingsDir;
    std::unique_ptr<MainWindow> m_window;

    ConsoleOptions options() const
    {
        return m_gateway.consoleOptions(
            m_settingsDir.filePath(QStringLiteral("console.ini")),
            BackoffOptions{.initial = 5000ms, .maximum = 20000ms, .lockHeldMinimum = 20000ms});
    }

    WorkflowTab *newWorkflow(const QString &goal, const QString &flow)
    {
        return Test::newWorkflowTab(*m_window, goal, flow);
    }

    // Closes a tab as a user does, confirming the "this tab drives" question.
    void closeTabConfirming(WorkflowTab *tab)
    {
        QTimer::singleShot(100, this, [] {
            if (auto *box = qobject_cast<QMessageBox *>(QApplication::activeModalWidget()))
                box->button(QMessageBox::Close)->click();
        });
        QTabWidget *tabs = m_window->tabWidget();
        emit tabs->tabCloseRequested(tabs->indexOf(tab));
    }

private slots:
    void initTestCase()
    {
        QVERIFY(m_settingsDir.isValid());
        QVERIFY2(!qEnvironmentVariableIsEmpty("LOCKSTEP_GATEWAY_BIN"), "LOCKSTEP_GATEWAY_BIN");
        QVERIFY2(m_gateway.start(), "the gateway did not start");
        m_window = std::make_unique<MainWindow>(options());
        QVERIFY(Test::showConsole(*m_window));
    }

    void cleanup()
    {
        while (!m_window->tabs().isEmpty())
        {
            QTabWidget *tabs = m_window->tabWidget();
            QWidget *tab = tabs->widget(0);
            tabs->removeTab(0);
            delete tab;
        }
    }

    void cleanupTestCase()
    {
        m_window.reset();
    }

    // After a turn ends (input_required) the panel says free, with nothing counting,
    // each lock event listed once; again after the next message; and on a reopen.
    void panelFreeAfterTurnEnds()
    {
        WorkflowTab *tab =
            newWorkflow(QStringLiteral("Create a file called hello.sh that prints hello"), QStringLiteral("hello"));
        QVERIFY(tab);
        LockPanel *panel = tab->lockPanel();
        QTRY_VERIFY_WITH_TIMEOUT(tab->runStatus() == RunStatus::InputRequired, 15000);
        QTRY_COMPARE_WITH_TIMEOUT(panel->stateText(), QStringLiteral("free"), 1500);
        QCOMPARE(panel->ttlText(), QStringLiteral("—"));
        QCOMPARE(panel->deadlineText(), QStringLiteral("—"));
        QVERIFY(!panel->isCounting());
        QVERIFY2(!panel->heartbeatsText().contains(u"ago"),
                 qPrintable(panel->heartbeatsText()));  // nothing would refresh it
        QStringList events = panel->historyTexts();
        QCOMPARE(linesStartingWith(events, QStringLiteral("acquired by replica test-replica, session ")), 1);
        QCOMPARE(linesStartingWith(events, QStringLiteral("released by ")), 1);
        // Heartbeats counted once each (the live and the driving session both deliver them).
        QCOMPARE(linesStartingWith(events, QStringLiteral("heartbeat: ")), tab->lockTracker()->heartbeats());
        // The run list agrees: no holder.
        RunListModel *runs = m_window->runModel();
        QTRY_VERIFY_WITH_TIMEOUT(runs->holderOf(tab->workflowId()).isEmpty(), 1500);
        QVERIFY(tab->findChild<QPushButton *>(QStringLiteral("resumeButton"))->isEnabled());

        // The next message: another acquisition, free again when the turn ends.
        tab->sendMessage(QStringLiteral("Also print the date"));
        QTRY_COMPARE_WITH_TIMEOUT(tab->outcomeBannerText(),
                                  Test::outcomeLine(TabAction::Send, {.kind = OutcomeKind::MessageSent}), 10000);
        QTRY_VERIFY_WITH_TIMEOUT(tab->runStatus() == RunStatus::InputRequired, 15000);
        QTRY_COMPARE_WITH_TIMEOUT(panel->stateText(), QStringLiteral("free"), 1500);
        QVERIFY(!panel->isCounting());
        events = panel->historyTexts();
        QCOMPARE(linesStartingWith(events, QStringLiteral("acquired by ")), 2);
        QCOMPARE(linesStartingWith(events, QStringLiteral("released by ")), 2);

        // Reopened later (a fresh model, from GET .../lock): free, not the last thing heard.
        const QString id = tab->workflowId();
        closeTabConfirming(tab);
        QTRY_VERIFY(m_window->tabs().isEmpty());
        WorkflowTab *again = m_window->openWorkflow(id);
        QVERIFY(again);
        QTRY_COMPARE_WITH_TIMEOUT(again->lockPanel()->stateText(), QStringLiteral("free"), 1500);
        QVERIFY(!again->lockPanel()->isCounting());
    }

    // The driving tab knows it: Resume/Send are disabled with the reason and do
    // not race it; its own session reads "this tab"; the tab bar marks it. The
    // other tab (Open in new tab) still gets the 1013, then learns at once when
    // the driving tab closes that the run is free.
    void drivingTabAndTheOtherTab()
    {
        WorkflowTab *first = newWorkflow(QStringLiteral("Refactor the parser, step by step"), QStringLiteral("long"));
        QVERIFY(first);
        QTRY_COMPARE_WITH_TIMEOUT(first->outcomeBannerText(),
                                  Test::outcomeLine(TabAction::Resume, {.kind = OutcomeKind::Resumed}), 10000);
        QTRY_VERIFY_WITH_TIMEOUT(first->isDriving(), 10000);
        auto *resume = first->findChild<QPushButton *>(QStringLiteral("resumeButton"));
        auto *send = first->findChild<QPushButton *>(QStringLiteral("sendButton"));
        QVERIFY(!resume->isEnabled());
        QVERIFY(!send->isEnabled());
        QVERIFY(resume->toolTip().contains(u"This tab is driving the run"));
        QTabWidget *tabs = m_window->tabWidget();
        QVERIFY(tabs->tabText(tabs->indexOf(first)).startsWith(u"▶ "));
        QVERIFY(tabs->tabToolTip(tabs->indexOf(first)).contains(u"this tab is driving the run"));

        const QString holder = first->lockTracker()->holder();
        QVERIFY(holder.startsWith(u"test-replica#"));
        const QString words = holderWording(holder);
        QTRY_COMPARE_WITH_TIMEOUT(first->lockPanel()->stateText(),
                                  QStringLiteral("held by this tab (") + words + QStringLiteral(")"), 5000);
        // Resume from the keyboard path: said, not raced.
        first->resume();
        QCOMPARE(first->outcomeBannerText(), Test::outcomeLine(TabAction::Resume, {.kind = OutcomeKind::DrivingHere}));
        QTest::qWait(300);
        QVERIFY(first->isDriving());
        QVERIFY(first->lockTracker()->state() == LockTracker::State::Held);

        first->findChild<QPushButton *>(QStringLiteral("newTabButton"))->click();
        QTRY_COMPARE(m_window->tabs().size(), 2);
        WorkflowTab *second = m_window->tabs().constLast();
        QCOMPARE(second->lockTracker(), first->lockTracker());  // one model per workflow
        QCOMPARE(second->lockPanel()->stateText(), QStringLiteral("held by ") + words);
        QVERIFY(!tabs->tabText(tabs->indexOf(second)).startsWith(u"▶ "));
        QTRY_COMPARE_WITH_TIMEOUT(labelText(second, "liveConnectionLabel"), QStringLiteral("Live: connected"), 10000);
        second->sendMessage(QStringLiteral("Also rename the tests"));
        QTRY_COMPARE_WITH_TIMEOUT(
            second->outcomeBannerText(),
            Test::outcomeLine(TabAction::Send, {.kind = OutcomeKind::AlreadyRunning, .holder = holder}), 10000);
        QTRY_VERIFY_WITH_TIMEOUT(labelText(second, "driveConnectionLabel").contains(u"checking the lock again in"),
                                 5000);

        // The driving tab goes: the run pauses, its lock is released, and the
        // other tab says so within a second or two — not in 20 s.
        closeTabConfirming(first);
        QTRY_COMPARE(m_window->tabs().size(), 1);
        QElapsedTimer clock;
        clock.start();
        QTRY_COMPARE_WITH_TIMEOUT(second->lockPanel()->stateText(), QStringLiteral("free"), 8000);
        QTRY_VERIFY_WITH_TIMEOUT(labelText(second, "driveConnectionLabel").contains(u"the run is free again"), 1000);
        QVERIFY2(!labelText(second, "driveConnectionLabel").contains(u"checking the lock again"),
                 qPrintable(labelText(second, "driveConnectionLabel")));
        QVERIFY2(clock.elapsed() < 10000, qPrintable(QString::number(clock.elapsed())));
        // The run list agrees.
        QTRY_VERIFY_WITH_TIMEOUT(m_window->runModel()->holderOf(second->workflowId()).isEmpty(), 1500);
        second->cancelNow();
        QTRY_COMPARE_WITH_TIMEOUT(second->outcomeBannerText(),
                                  Test::outcomeLine(TabAction::Cancel, {.kind = OutcomeKind::Cancelled}), 10000);
    }

    // A red "not found" goes once the next message created the run.
    void notFoundClearsOnceTheRunExists()
    {
        WorkflowTab *tab = m_window->openWorkflow(QStringLiteral("made-by-a-message"));
        QVERIFY(tab);
        QTRY_VERIFY_WITH_TIMEOUT(labelText(tab, "liveConnectionLabel").contains(u"not found (4404)"), 10000);
        tab->resume();
        QTRY_COMPARE_WITH_TIMEOUT(tab->outcomeBannerText(),
                                  Test::outcomeLine(TabAction::Resume, {.kind = OutcomeKind::NotFound}), 10000);
        tab->sendMessage(QStringLiteral("Create a file called hello.sh that prints hello"));
        QTRY_COMPARE_WITH_TIMEOUT(tab->outcomeBannerText(),
                                  Test::outcomeLine(TabAction::Send, {.kind = OutcomeKind::MessageSent}), 10000);
        QTRY_COMPARE_WITH_TIMEOUT(labelText(tab, "liveConnectionLabel"), QStringLiteral("Live: connected"), 5000);
        QTRY_VERIFY_WITH_TIMEOUT(tab->runStatus() == RunStatus::InputRequired, 15000);
        QTRY_COMPARE_WITH_TIMEOUT(tab->lockPanel()->stateText(), QStringLiteral("free"), 1500);
    }

    // Gateway killed: every live value is "last known", greyed, frozen. Back:
    // every tab reconciles at once, not after its 5-20 s reconnect backoff.
    void gatewayKillAndRestart()
    {
        WorkflowTab *first = newWorkflow(QStringLiteral("Refactor the parser, step by step"), QStringLiteral("long"));
        QVERIFY(first);
        QTRY_VERIFY_WITH_TIMEOUT(first->isDriving(), 10000);
        first->findChild<QPushButton *>(QStringLiteral("newTabButton"))->click();
        QTRY_COMPARE(m_window->tabs().size(), 2);
        WorkflowTab *second = m_window->tabs().constLast();
        QTRY_COMPARE_WITH_TIMEOUT(labelText(second, "liveConnectionLabel"), QStringLiteral("Live: connected"), 10000);
        QTRY_VERIFY_WITH_TIMEOUT(first->lockTracker()->heartbeats() >= 1, 10000);
        QCOMPARE(first->lockTracker()->state(), LockTracker::State::Held);

        m_gateway.kill();
        for (WorkflowTab *tab : {first, second})
        {
            LockPanel *panel = tab->lockPanel();
            QTRY_VERIFY_WITH_TIMEOUT(!panel->findChild<QLabel *>(QStringLiteral("lockLiveLabel"))->isHidden(), 3000);
            QVERIFY(panel->findChild<QLabel *>(QStringLiteral("lockLiveLabel"))->text().contains(u"last known at "));
            QVERIFY(!panel->findChild<QLabel *>(QStringLiteral("lockStateLabel"))->isEnabled());  // greyed
            QVERIFY(!panel->findChild<QLabel *>(QStringLiteral("lockTtlLabel"))->isEnabled());
            QVERIFY(!panel->isCounting());
            QTRY_VERIFY_WITH_TIMEOUT(labelText(tab, "runStatusLabel").contains(u"— last known at "), 3000);
        }
        const QString ttl = first->lockPanel()->ttlText();
        const QString deadline = first->lockPanel()->deadlineText();
        QTest::qWait(1500);
        QCOMPARE(first->lockPanel()->ttlText(), ttl);  // no countdown
        QCOMPARE(first->lockPanel()->deadlineText(), deadline);
        QTRY_VERIFY_WITH_TIMEOUT(m_window->gatewayStatusText().contains(u"unreachable"), 3000);

        // Back on the same port and store; give the tabs' reconnect backoff time to grow.
        QTest::qWait(1000);
        QVERIFY(m_gateway.restart());
        QElapsedTimer clock;
        clock.start();
        QTRY_VERIFY_WITH_TIMEOUT(m_window->gatewayStatusText().contains(u"connected"), 3000);
        for (WorkflowTab *tab : {first, second})
        {
            QTRY_COMPARE_WITH_TIMEOUT(labelText(tab, "liveConnectionLabel"), QStringLiteral("Live: connected"), 3000);
            QTRY_VERIFY_WITH_TIMEOUT(tab->lockPanel()->findChild<QLabel *>(QStringLiteral("lockLiveLabel"))->isHidden(),
                                     1000);
            QVERIFY(!labelText(tab, "runStatusLabel").contains(u"last known"));
            // The killed gateway's lock died with it: the check says free.
            QTRY_COMPARE_WITH_TIMEOUT(tab->lockPanel()->stateText(), QStringLiteral("free"), 1500);
        }
        QVERIFY2(clock.elapsed() < 4000, qPrintable(QString::number(clock.elapsed())));
    }
};

QTEST_MAIN(TestLockPanelGateway)
#include "tst_lockpanel_gateway.moc"
