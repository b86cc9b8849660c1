#include <QLabel>
#include <QMessageBox>
#include <QPushButton>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QToolButton>

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
        o.settingsFile = m_settingsDir.filePath(QStringLiteral("console.ini"));
        o.dataDir = m_settingsDir.filePath(QStringLiteral("console-data"));
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

        QVERIFY(!window->openWorkflow(QStringLiteral("not a valid id!")));
        QVERIFY2(bar->text().startsWith(u"Cannot open 'not a valid id!': not a workflow ID — "),
                 qPrintable(bar->text()));
        QVERIFY(bar->isVisible());
        bar->findChild<QToolButton *>(QStringLiteral("notificationClose"))->click();  // dismissable
        QVERIFY(bar->text().isEmpty());

        window->createWorkflow(QStringLiteral("Say hello"), QStringLiteral("no-such-flow"));
        QTRY_VERIFY_WITH_TIMEOUT(bar->text().contains(u"no flow named 'no-such-flow'"), 10000);
        QVERIFY(bar->text().startsWith(u"New workflow (no-such-flow) failed: HTTP 400"));

        window->createWorkflow(QStringLiteral("   "), QStringLiteral("hello"));
        QCOMPARE(bar->text(), QStringLiteral("New workflow: the goal is empty — say what the agent should do."));
        QVERIFY(window->tabs().isEmpty());
    }

    // 401 is "token refused — open Profiles" with the button, not "unreachable".
    void refusedToken()
    {
        auto window = startWindow(options(QStringLiteral("wrong-token-0123456789")));
        NotificationBar *bar = window->notificationBar();
        QTRY_VERIFY_WITH_TIMEOUT(bar->text().contains(u"token refused — open Profiles"), 10000);
        QVERIFY(!bar->actionButton()->isHidden());
        QCOMPARE(bar->actionButton()->text(), QStringLiteral("&Profiles…"));
        QVERIFY2(window->gatewayStatusText().contains(u"token refused"), qPrintable(window->gatewayStatusText()));
        QVERIFY(!window->gatewayStatusText().contains(u"unreachable"));
        bar->actionButton()->click();
        QTRY_VERIFY(window->findChild<QDialog *>(QStringLiteral("profileDialog")));  // the button opens Profiles
        QVERIFY(bar->text().isEmpty());
    }

    void badGatewayUrlAtStart()
    {
        ConsoleOptions o = options(m_gateway.token());
        o.gatewayUrl = QStringLiteral("ftp://nowhere");
        auto window = startWindow(o);
        QMessageBox *box = nullptr;
        QTRY_VERIFY((box = window->findChild<QMessageBox *>(QStringLiteral("badGatewayDialog"))) != nullptr);
        QVERIFY(box->text().contains(u"ftp://nowhere"));
        auto *profiles = box->findChild<QPushButton *>(QStringLiteral("openProfilesButton"));
        QVERIFY(profiles);
        profiles->click();
        QTRY_VERIFY(!window->findChild<QMessageBox *>(QStringLiteral("badGatewayDialog")));
    }

    // No "keep it running" for a run that is not running.
    void cancelQuestionMatchesTheRun()
    {
        auto window = startWindow(options(m_gateway.token()));
        QSignalSpy reachable(window.get(), &MainWindow::gatewayReachable);
        QVERIFY(reachable.wait(10000));
        window->createWorkflow(QStringLiteral("Create a file called hello.sh that prints hello"),
                               QStringLiteral("hello"));
        QTRY_COMPARE_WITH_TIMEOUT(window->tabs().size(), 1, 10000);
        WorkflowTab *tab = window->tabs().constFirst();
        QTRY_VERIFY_WITH_TIMEOUT(tab->runStatus() == RunStatus::InputRequired, 15000);
        tab->requestCancel();
        QTRY_VERIFY(tab->cancelConfirmation());
        QMessageBox *box = tab->cancelConfirmation();
        QCOMPARE(box->button(QMessageBox::No)->text(), QStringLiteral("&Don't cancel"));
        QVERIFY2(box->text().contains(u"It is input required"), qPrintable(box->text()));
        box->button(QMessageBox::No)->click();
        QTRY_VERIFY(!tab->cancelConfirmation());

        window->createWorkflow(QStringLiteral("Refactor the parser, step by step"), QStringLiteral("long"));
        QTRY_COMPARE_WITH_TIMEOUT(window->tabs().size(), 2, 10000);
        WorkflowTab *running = window->tabs().constLast();
        QTRY_VERIFY_WITH_TIMEOUT(running->runStatus() == RunStatus::Running, 10000);
        running->requestCancel();
        QTRY_VERIFY(running->cancelConfirmation());
        QCOMPARE(running->cancelConfirmation()->button(QMessageBox::No)->text(), QStringLiteral("&Keep it running"));
        running->cancelConfirmation()->button(QMessageBox::Yes)->click();
        QTRY_COMPARE_WITH_TIMEOUT(running->outcomeBannerText(),
                                  Test::outcomeLine(TabAction::Cancel, {.kind = OutcomeKind::Cancelled}), 10000);

        // The banner is dismissable; the outcome stays in the tab's history.
        auto *dismiss = running->findChild<QToolButton *>(QStringLiteral("dismissOutcomeButton"));
        QVERIFY(dismiss && dismiss->isVisible());
        QTest::mouseClick(dismiss, Qt::LeftButton);
        QCOMPARE(running->outcomeBannerText(), QString());
        QVERIFY(running->history().constLast().outcome.kind == OutcomeKind::Cancelled);
    }
};

QTEST_MAIN(TestConsoleErrors)
#include "tst_console_errors.moc"
