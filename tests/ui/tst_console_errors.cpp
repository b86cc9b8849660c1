#include <QLabel>
#include <QMessageBox>
#include <QPushButton>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QToolButton>
#include <QTest>

#include "mainwindow.h"
#include "notificationbar.h"
#include "testgateway.h"
#include "workflowtab.h"

using namespace std::chrono_literals;
using namespace Lockstep;
using namespace Lockstep::Ui;

// Errors a person sees: every failed action that has no tab to show it in
// leaves a dismissable message above the tabs (with Profiles for a refused
// token), a bad --gateway URL opens a dialog that offers Profiles, and the
// Cancel question matches the run.
class TestConsoleErrors : public QObject
{
    Q_OBJECT

private:
    Test::TestGateway m_gateway;
    QTemporaryDir m_settingsDir;

    ConsoleOptions options(const QString &token) const
    {
        ConsoleOptions o;
        o.gatewayUrl = m_gateway.url();
        o.token = token;
        o.settingsFile = m_settingsDir.filePath(u"console.ini"_qs);
        o.dataDir = m_settingsDir.filePath(u"console-data"_qs);
        o.pollInterval = 300ms;
        o.askForMissingToken = false;
        return o;
    }

    static std::unique_ptr<MainWindow> startWindow(const ConsoleOptions &o)
    {
        auto window = std::make_unique<MainWindow>(o);
        window->resize(1200, 800);
        window->show();
        window->start();
        return window;
    }

private slots:
    void initTestCase()
    {
        QVERIFY(m_settingsDir.isValid());
        QVERIFY2(!qEnvironmentVariableIsEmpty("LOCKSTEP_GATEWAY_BIN"), "LOCKSTEP_GATEWAY_BIN");
        QVERIFY2(m_gateway.start(), "the gateway did not start");
    }

    void invalidIdUnknownFlowEmptyGoal()
    {
        auto window = startWindow(options(m_gateway.token()));
        QSignalSpy reachable(window.get(), &MainWindow::gatewayReachable);
        QVERIFY(reachable.wait(10000));
        NotificationBar *bar = window->notificationBar();
        QVERIFY(bar->text().isEmpty());

        QVERIFY(!window->openWorkflow(u"not a valid id!"_qs));
        QVERIFY2(bar->text().startsWith(u"Cannot open 'not a valid id!': not a workflow ID — "), qPrintable(bar->text()));
        QVERIFY(bar->isVisible());
        bar->findChild<QToolButton *>(u"notificationClose"_qs)->click();   // dismissable
        QVERIFY(bar->text().isEmpty());

        window->createWorkflow(u"Say hello"_qs, u"no-such-flow"_qs);
        QTRY_VERIFY_WITH_TIMEOUT(bar->text().contains(u"no flow named 'no-such-flow'"), 10000);
        QVERIFY(bar->text().startsWith(u"New workflow (no-such-flow) failed: HTTP 400"));

        window->createWorkflow(u"   "_qs, u"hello"_qs);
        QCOMPARE(bar->text(), u"New workflow: the goal is empty — say what the agent should do."_qs);
        QVERIFY(window->tabs().isEmpty());
    }

    // 401 is "token refused — open Profiles" with the button, not "unreachable".
    void refusedToken()
    {
        auto window = startWindow(options(u"wrong-token-0123456789"_qs));
        NotificationBar *bar = window->notificationBar();
        QTRY_VERIFY_WITH_TIMEOUT(bar->text().contains(u"token refused — open Profiles"), 10000);
        QVERIFY(!bar->actionButton()->isHidden());
        QCOMPARE(bar->actionButton()->text(), u"&Profiles…"_qs);
        QVERIFY2(window->gatewayStatusText().contains(u"token refused"), qPrintable(window->gatewayStatusText()));
        QVERIFY(!window->gatewayStatusText().contains(u"unreachable"));
        bar->actionButton()->click();
        QTRY_VERIFY(window->findChild<QDialog *>(u"profileDialog"_qs));   // the button opens Profiles
        QVERIFY(bar->text().isEmpty());
    }

    void badGatewayUrlAtStart()
    {
        ConsoleOptions o = options(m_gateway.token());
        o.gatewayUrl = u"ftp://nowhere"_qs;
        auto window = startWindow(o);
        QMessageBox *box = nullptr;
        QTRY_VERIFY((box = window->findChild<QMessageBox *>(u"badGatewayDialog"_qs)) != nullptr);
        QVERIFY(box->text().contains(u"ftp://nowhere"));
        auto *profiles = box->findChild<QPushButton *>(u"openProfilesButton"_qs);
        QVERIFY(profiles);
        profiles->click();
        QTRY_VERIFY(!window->findChild<QMessageBox *>(u"badGatewayDialog"_qs));
    }

    // No "keep it running" for a run that is not running.
    void cancelQuestionMatchesTheRun()
    {
        auto window = startWindow(options(m_gateway.token()));
        QSignalSpy reachable(window.get(), &MainWindow::gatewayReachable);
        QVERIFY(reachable.wait(10000));
        window->createWorkflow(u"Create a file called hello.sh that prints hello"_qs, u"hello"_qs);
        QTRY_COMPARE_WITH_TIMEOUT(window->tabs().size(), 1, 10000);
        WorkflowTab *tab = window->tabs().constFirst();
        QTRY_VERIFY_WITH_TIMEOUT(tab->runStatus() == RunStatus::InputRequired, 15000);
        tab->requestCancel();
        QTRY_VERIFY(tab->cancelConfirmation());
        QMessageBox *box = tab->cancelConfirmation();
        QCOMPARE(box->button(QMessageBox::No)->text(), u"&Don't cancel"_qs);
        QVERIFY2(box->text().contains(u"It is input required"), qPrintable(box->text()));
        box->button(QMessageBox::No)->click();
        QTRY_VERIFY(!tab->cancelConfirmation());

        window->createWorkflow(u"Refactor the parser, step by step"_qs, u"long"_qs);
        QTRY_COMPARE_WITH_TIMEOUT(window->tabs().size(), 2, 10000);
        WorkflowTab *running = window->tabs().constLast();
        QTRY_VERIFY_WITH_TIMEOUT(running->runStatus() == RunStatus::Running, 10000);
        running->requestCancel();
        QTRY_VERIFY(running->cancelConfirmation());
        QCOMPARE(running->cancelConfirmation()->button(QMessageBox::No)->text(), u"&Keep it running"_qs);
        running->cancelConfirmation()->button(QMessageBox::Yes)->click();
        QTRY_COMPARE_WITH_TIMEOUT(running->outcomeBannerText(), u"Cancel: cancelled"_qs, 10000);

        // The banner is dismissable; the outcome stays in the tab's history.
        auto *dismiss = running->findChild<QToolButton *>(u"dismissOutcomeButton"_qs);
        QVERIFY(dismiss && dismiss->isVisible());
        QTest::mouseClick(dismiss, Qt::LeftButton);
        QCOMPARE(running->outcomeBannerText(), QString());
        QVERIFY(running->history().constLast().outcome.kind == OutcomeKind::Cancelled);
    }
};

QTEST_MAIN(TestConsoleErrors)
#include "tst_console_errors.moc"
