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
} // namespace

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
        return m_gateway.consoleOptions(m_settingsDir.filePath(u"console.ini"_qs),
                                        BackoffOptions {.initial = 5000ms, .maximum = 20000ms, .lockHeldMinimum = 20000ms});
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
        WorkflowTab *tab = newWorkflow(u"Create a file called hello.sh that prints hello"_qs, u"hello"_qs);
        QVERIFY(tab);
        LockPanel *panel = tab->lockPanel();
        QTRY_VERIFY_WITH_TIMEOUT(tab->runStatus() == RunStatus::InputRequired, 15000);
        QTRY_COMPARE_WITH_TIMEOUT(panel->stateText(), u"free"_qs, 1500);
        QCOMPARE(panel->ttlText(), u"—"_qs);
        QCOMPARE(panel->deadlineText(), u"—"_qs);
        QVERIFY(!panel->isCounting());
        QVERIFY2(!panel->heartbeatsText().contains(u"ago"), qPrintable(panel->heartbeatsText()));   // nothing would refresh it
        QStringList events = panel->historyTexts();
        QCOMPARE(linesStartingWith(events, u"acquired by replica test-replica, session "_qs), 1);
        QCOMPARE(linesStartingWith(events, u"released by "_qs), 1);
        // Heartbeats counted once each (the live and the driving session both deliver them).
        QCOMPARE(linesStartingWith(events, u"heartbeat: "_qs), tab->lockTracker()->heartbeats());
        // The run list agrees: no holder.
        RunListModel *runs = m_window->runModel();
        QTRY_VERIFY_WITH_TIMEOUT(runs->holderOf(tab->workflowId()).isEmpty(), 1500);
        QVERIFY(tab->findChild<QPushButton *>(u"resumeButton"_qs)->isEnabled());

        // The next message: another acquisition, free again when the turn ends.
        tab->sendMessage(u"Also print the date"_qs);
        QTRY_COMPARE_WITH_TIMEOUT(tab->outcomeBannerText(), u"Send: message sent"_qs, 10000);
        QTRY_VERIFY_WITH_TIMEOUT(tab->runStatus() == RunStatus::InputRequired, 15000);
        QTRY_COMPARE_WITH_TIMEOUT(panel->stateText(), u"free"_qs, 1500);
        QVERIFY(!panel->isCounting());
        events = panel->historyTexts();
        QCOMPARE(linesStartingWith(events, u"acquired by "_qs), 2);
        QCOMPARE(linesStartingWith(events, u"released by "_qs), 2);

        // Reopened later (a fresh model, from GET .../lock): free, not the last thing heard.
        const QString id = tab->workflowId();
        closeTabConfirming(tab);
        QTRY_VERIFY(m_window->tabs().isEmpty());
        WorkflowTab *again = m_window->openWorkflow(id);
        QVERIFY(again);
        QTRY_COMPARE_WITH_TIMEOUT(again->lockPanel()->stateText(), u"free"_qs, 1500);
        QVERIFY(!again->lockPanel()->isCounting());
    }

    // The driving tab knows it: Resume/Send are disabled with the reason and do
    // not race it; its own session reads "this tab"; the tab bar marks it. The
    // other tab (Open in new tab) still gets the 1013, then learns at once when
    // the driving tab closes that the run is free.
    void drivingTabAndTheOtherTab()
    {
        WorkflowTab *first = newWorkflow(u"Refactor the parser, step by step"_qs, u"long"_qs);
        QVERIFY(first);
        QTRY_COMPARE_WITH_TIMEOUT(first->outcomeBannerText(), u"Resume: resumed"_qs, 10000);
        QTRY_VERIFY_WITH_TIMEOUT(first->isDriving(), 10000);
        auto *resume = first->findChild<QPushButton *>(u"resumeButton"_qs);
        auto *send = first->findChild<QPushButton *>(u"sendButton"_qs);
        QVERIFY(!resume->isEnabled());
        QVERIFY(!send->isEnabled());
        QVERIFY(resume->toolTip().contains(u"This tab is driving the run"));
        QTabWidget *tabs = m_window->tabWidget();
        QVERIFY(tabs->tabText(tabs->indexOf(first)).startsWith(u"▶ "));
        QVERIFY(tabs->tabToolTip(tabs->indexOf(first)).contains(u"this tab is driving the run"));

        const QString holder = first->lockTracker()->holder();
        QVERIFY(holder.startsWith(u"test-replica#"));
        const QString words = holderWording(holder);
        QTRY_COMPARE_WITH_TIMEOUT(first->lockPanel()->stateText(), u"held by this tab ("_qs + words + u")"_qs, 5000);
        // Resume from the keyboard path: said, not raced.
        first->resume();
        QCOMPARE(first->outcomeBannerText(), u"Resume: this tab is driving the run"_qs);
        QTest::qWait(300);
        QVERIFY(first->isDriving());
        QVERIFY(first->lockTracker()->state() == LockTracker::State::Held);

        first->findChild<QPushButton *>(u"newTabButton"_qs)->click();
        QTRY_COMPARE(m_window->tabs().size(), 2);
        WorkflowTab *second = m_window->tabs().constLast();
        QCOMPARE(second->lockTracker(), first->lockTracker());   // one model per workflow
        QCOMPARE(second->lockPanel()->stateText(), u"held by "_qs + words);
        QVERIFY(!tabs->tabText(tabs->indexOf(second)).startsWith(u"▶ "));
        QTRY_COMPARE_WITH_TIMEOUT(labelText(second, "liveConnectionLabel"), u"Live: connected"_qs, 10000);
        second->sendMessage(u"Also rename the tests"_qs);
        QTRY_COMPARE_WITH_TIMEOUT(second->outcomeBannerText(), u"Send: already running (1013) — held by "_qs + words, 10000);
        QTRY_VERIFY_WITH_TIMEOUT(labelText(second, "driveConnectionLabel").contains(u"checking the lock again in"), 5000);

        // The driving tab goes: the run pauses, its lock is released, and the
        // other tab says so within a second or two — not in 20 s.
        closeTabConfirming(first);
        QTRY_COMPARE(m_window->tabs().size(), 1);
        QElapsedTimer clock;
        clock.start();
        QTRY_COMPARE_WITH_TIMEOUT(second->lockPanel()->stateText(), u"free"_qs, 8000);
        QTRY_VERIFY_WITH_TIMEOUT(labelText(second, "driveConnectionLabel").contains(u"the run is free again"), 1000);
        QVERIFY2(!labelText(second, "driveConnectionLabel").contains(u"checking the lock again"),
                 qPrintable(labelText(second, "driveConnectionLabel")));
        QVERIFY2(clock.elapsed() < 10000, qPrintable(QString::number(clock.elapsed())));
        // The run list agrees.
        QTRY_VERIFY_WITH_TIMEOUT(m_window->runModel()->holderOf(second->workflowId()).isEmpty(), 1500);
        second->cancelNow();
        QTRY_COMPARE_WITH_TIMEOUT(second->outcomeBannerText(), u"Cancel: cancelled"_qs, 10000);
    }

    // A red "not found" goes once the next message created the run.
    void notFoundClearsOnceTheRunExists()
    {
        WorkflowTab *tab = m_window->openWorkflow(u"made-by-a-message"_qs);
        QVERIFY(tab);
        QTRY_VERIFY_WITH_TIMEOUT(labelText(tab, "liveConnectionLabel").contains(u"not found (4404)"), 10000);
        tab->resume();
        QTRY_COMPARE_WITH_TIMEOUT(tab->outcomeBannerText(), u"Resume: not found"_qs, 10000);
        tab->sendMessage(u"Create a file called hello.sh that prints hello"_qs);
        QTRY_COMPARE_WITH_TIMEOUT(tab->outcomeBannerText(), u"Send: message sent"_qs, 10000);
        QTRY_COMPARE_WITH_TIMEOUT(labelText(tab, "liveConnectionLabel"), u"Live: connected"_qs, 5000);
        QTRY_VERIFY_WITH_TIMEOUT(tab->runStatus() == RunStatus::InputRequired, 15000);
        QTRY_COMPARE_WITH_TIMEOUT(tab->lockPanel()->stateText(), u"free"_qs, 1500);
    }

    // Gateway killed: every live value is "last known", greyed, frozen. Back:
    // every tab reconciles at once, not after its 5-20 s reconnect backoff.
    void gatewayKillAndRestart()
    {
        WorkflowTab *first = newWorkflow(u"Refactor the parser, step by step"_qs, u"long"_qs);
        QVERIFY(first);
        QTRY_VERIFY_WITH_TIMEOUT(first->isDriving(), 10000);
        first->findChild<QPushButton *>(u"newTabButton"_qs)->click();
        QTRY_COMPARE(m_window->tabs().size(), 2);
        WorkflowTab *second = m_window->tabs().constLast();
        QTRY_COMPARE_WITH_TIMEOUT(labelText(second, "liveConnectionLabel"), u"Live: connected"_qs, 10000);
        QTRY_VERIFY_WITH_TIMEOUT(first->lockTracker()->heartbeats() >= 1, 10000);
        QCOMPARE(first->lockTracker()->state(), LockTracker::State::Held);

        m_gateway.kill();
        for (WorkflowTab *tab : {first, second})
        {
            LockPanel *panel = tab->lockPanel();
            QTRY_VERIFY_WITH_TIMEOUT(!panel->findChild<QLabel *>(u"lockLiveLabel"_qs)->isHidden(), 3000);
            QVERIFY(panel->findChild<QLabel *>(u"lockLiveLabel"_qs)->text().contains(u"last known at "));
            QVERIFY(!panel->findChild<QLabel *>(u"lockStateLabel"_qs)->isEnabled());   // greyed
            QVERIFY(!panel->findChild<QLabel *>(u"lockTtlLabel"_qs)->isEnabled());
            QVERIFY(!panel->isCounting());
            QTRY_VERIFY_WITH_TIMEOUT(labelText(tab, "runStatusLabel").contains(u"— last known at "), 3000);
        }
        const QString ttl = first->lockPanel()->ttlText();
        const QString deadline = first->lockPanel()->deadlineText();
        QTest::qWait(1500);
        QCOMPARE(first->lockPanel()->ttlText(), ttl);             // no countdown
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
            QTRY_COMPARE_WITH_TIMEOUT(labelText(tab, "liveConnectionLabel"), u"Live: connected"_qs, 3000);
            QTRY_VERIFY_WITH_TIMEOUT(tab->lockPanel()->findChild<QLabel *>(u"lockLiveLabel"_qs)->isHidden(), 1000);
            QVERIFY(!labelText(tab, "runStatusLabel").contains(u"last known"));
            // The killed gateway's lock died with it: the check says free.
            QTRY_COMPARE_WITH_TIMEOUT(tab->lockPanel()->stateText(), u"free"_qs, 1500);
        }
        QVERIFY2(clock.elapsed() < 4000, qPrintable(QString::number(clock.elapsed())));
    }
};

QTEST_MAIN(TestLockPanelGateway)
#include "tst_lockpanel_gateway.moc"
