#include <QDir>
#include <QLabel>
#include <QSettings>
#include <QSignalSpy>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QTest>
#include <QToolButton>
#include <QUrl>

#include "historystore.h"
#include "historyview.h"
#include "lockpanel.h"
#include "mainwindow.h"
#include "notificationbar.h"
#include "testgateway.h"
#include "workflowtab.h"

using namespace std::chrono_literals;
using namespace Lockstep;
using namespace Lockstep::Ui;

namespace
{
    // The first of `lines` ("<time>  <text>") whose text is `tail`; -1: none.
    qsizetype indexOfLineEndingWith(const QStringList &lines, const QString &tail)
    {
        for (qsizetype i = 0; i < lines.size(); ++i)
        {
            if (lines.at(i).section(QStringLiteral("  "), 1) == tail)
                return i;
        }
        return -1;
    }

    bool hasLineEndingWith(const QStringList &lines, const QString &tail)
    {
        return indexOfLineEndingWith(lines, tail) >= 0;
    }

    bool hasLineStartingWith(const QStringList &lines, const QString &head)
    {
        for (const QString &line : lines)
        {
            if (line.section(QStringLiteral("  "), 1).startsWith(head))
                return true;
        }
        return false;
    }

    HistoryView *historyOf(WorkflowTab *tab)
    {
        return tab ? tab->findChild<HistoryView *>(QStringLiteral("historyView")) : nullptr;
    }
}  // namespace

// History that survives a restart, against a real lockstep-gateway: outcomes,
// session closes and lock events of a workflow are written to the console's
// database; a new MainWindow on the same data folder and settings (a console
// restart) reopens the tabs and shows the same history; a database that
// cannot be opened is said once and the console works on.
class TestHistoryGateway : public QObject
{
    Q_OBJECT

private:
    Test::TestGateway m_gateway;
    QTemporaryDir m_dir;

    ConsoleOptions options(const QString &name) const
    {
        ConsoleOptions o =
            m_gateway.consoleOptions(m_dir.filePath(name + QStringLiteral(".ini")),
                                     BackoffOptions{.initial = 200ms, .maximum = 2000ms, .lockHeldMinimum = 1000ms});
        o.dataDir = m_dir.filePath(name + QStringLiteral("-data"));
        return o;
    }

private slots:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        QVERIFY2(!qEnvironmentVariableIsEmpty("LOCKSTEP_GATEWAY_BIN"), "LOCKSTEP_GATEWAY_BIN");
        QVERIFY2(m_gateway.start(), "the gateway did not start");
    }

    void historyAndTabsSurviveARestart()
    {
        QString id;
        QStringList before;
        {
            MainWindow window(options(QStringLiteral("restart")));
            QVERIFY(Test::showConsole(window));
            QVERIFY(window.history()->isPersistent());
            QVERIFY(window.notificationBar()->text().isEmpty());
            window.createWorkflow(QStringLiteral("Create a file called hello.sh that prints hello"),
                                  QStringLiteral("hello"));
            QTRY_COMPARE_WITH_TIMEOUT(window.tabs().size(), 1, 10000);
            WorkflowTab *tab = window.tabs().constFirst();
            id = tab->workflowId();
            QTRY_VERIFY_WITH_TIMEOUT(tab->runStatus() == RunStatus::InputRequired, 15000);
            QTRY_COMPARE_WITH_TIMEOUT(tab->lockPanel()->stateText(), QStringLiteral("free"), 3000);
            // The two-tab race stays open across the restart too.
            QVERIFY(window.openWorkflow(id, true));
            tab->cancelNow();
            QTRY_COMPARE_WITH_TIMEOUT(tab->outcomeBannerText(),
                                      Test::outcomeLine(TabAction::Cancel, {.kind = OutcomeKind::Cancelled}), 10000);
            tab->resume();
            QTRY_COMPARE_WITH_TIMEOUT(
                tab->outcomeBannerText(),
                Test::outcomeLine(TabAction::Resume, {.kind = OutcomeKind::NotResumable, .status = RunStatus::Stopped}),
                10000);

            HistoryView *view = historyOf(tab);
            QVERIFY(view);
            QVERIFY(!tab->findChild<QWidget *>(QStringLiteral("outcomeHistory"))
                         ->isVisibleTo(tab));  // replaced by the stored view
            before = view->texts();
            QVERIFY2(hasLineEndingWith(before, Test::outcomeLine(TabAction::Resume, {.kind = OutcomeKind::Resumed})),
                     qPrintable(before.join(u'\n')));
            QVERIFY(hasLineEndingWith(before, Test::outcomeLine(TabAction::Cancel, {.kind = OutcomeKind::Cancelled})));
            QVERIFY(hasLineEndingWith(before, Test::outcomeLine(TabAction::Resume, {.kind = OutcomeKind::NotResumable,
                                                                                    .status = RunStatus::Stopped})));
            QVERIFY(hasLineStartingWith(before, QStringLiteral("Lock: acquired by replica test-replica, session ")));
            QVERIFY(hasLineStartingWith(before, QStringLiteral("Lock: released by replica test-replica, session ")));
            // The close code of the driving session, with its reason.
            QVERIFY(hasLineEndingWith(before, QStringLiteral("Session closed: closed (1000) — input_required")));
            // Newest first: the last outcome is above the first.
            QVERIFY(
                indexOfLineEndingWith(before, Test::outcomeLine(TabAction::Resume, {.kind = OutcomeKind::NotResumable,
                                                                                    .status = RunStatus::Stopped})) <
                indexOfLineEndingWith(before, Test::outcomeLine(TabAction::Resume, {.kind = OutcomeKind::Resumed})));
            // The other tab of the workflow shows the same history.
            QTRY_COMPARE(historyOf(window.tabs().constLast())->texts().size(), before.size());
            QCOMPARE(window.openTabIds(), (QStringList{id, id}));
            window.close();
        }

        // The restart: a new window on the same settings and data folder.
        MainWindow again(options(QStringLiteral("restart")));
        QVERIFY(Test::showConsole(again));
        QTRY_COMPARE_WITH_TIMEOUT(again.openTabIds(), (QStringList{id, id}), 5000);
        HistoryView *view = historyOf(again.tabs().constFirst());
        QVERIFY(view);
        const QStringList after = view->texts();
        for (const QString &line : std::as_const(before))
            QVERIFY2(after.contains(line), qPrintable(QStringLiteral("lost after the restart: ") + line));
        QVERIFY2(view->noteText().startsWith(u"Kept on this computer"), qPrintable(view->noteText()));
        // New events go on top of the restored ones.
        WorkflowTab *tab = again.tabs().constFirst();
        tab->cancelNow();
        QTRY_VERIFY_WITH_TIMEOUT(
            view->texts().constFirst().endsWith(Test::outcomeLine(
                TabAction::Cancel, {.kind = OutcomeKind::NothingToCancel, .status = RunStatus::Stopped})),
            10000);
        QVERIFY(again.history()->rowCount(id) >= before.size() + 1);

        // A closed tab stays closed at the next start.
        QTabWidget *tabs = again.tabWidget();
        emit tabs->tabCloseRequested(1);
        QTRY_COMPARE(again.openTabIds(), QStringList{id});
        QCOMPARE(again.settings()
                     ->value(QStringLiteral("openTabs/127.0.0.1_") + QString::number(QUrl(m_gateway.url()).port()))
                     .toStringList(),
                 QStringList{id});
    }

    // Tabs come back only when asked to (ConsoleOptions::restoreTabs).
    void restoreCanBeTurnedOff()
    {
        ConsoleOptions o = options(QStringLiteral("restart"));
        o.restoreTabs = false;
        MainWindow window(o);
        QVERIFY(Test::showConsole(window));
        QTest::qWait(300);
        QVERIFY(window.tabs().isEmpty());
    }

    // The database cannot be opened: said once in the notification bar; the
    // console works, the History tab keeps this session's lines and says so.
    void unopenableDatabase()
    {
        ConsoleOptions o = options(QStringLiteral("broken"));
        QVERIFY(QDir().mkpath(QDir(o.dataDir).filePath(HistoryStore::fileName())));  // a folder where the file goes
        MainWindow window(o);
        NotificationBar *bar = window.notificationBar();
        QVERIFY2(bar->text().startsWith(u"History is kept for this session only"), qPrintable(bar->text()));
        QVERIFY(!window.history()->isPersistent());
        QVERIFY(Test::showConsole(window));
        QVERIFY(window.gatewayStatusText().contains(u"connected"));
        bar->findChild<QToolButton *>(QStringLiteral("notificationClose"))->click();

        window.createWorkflow(QStringLiteral("Create a file called hello.sh that prints hello"),
                              QStringLiteral("hello"));
        QTRY_COMPARE_WITH_TIMEOUT(window.tabs().size(), 1, 10000);
        WorkflowTab *tab = window.tabs().constFirst();
        QTRY_VERIFY_WITH_TIMEOUT(tab->runStatus() == RunStatus::InputRequired, 15000);
        HistoryView *view = historyOf(tab);
        QVERIFY(view);
        QTRY_VERIFY(
            hasLineEndingWith(view->texts(), Test::outcomeLine(TabAction::Resume, {.kind = OutcomeKind::Resumed})));
        QVERIFY2(view->noteText().startsWith(u"Not kept after the console closes"), qPrintable(view->noteText()));
        QVERIFY(window.openWorkflow(tab->workflowId(), true));
        QVERIFY(bar->text().isEmpty());  // once, not again for every tab
    }
};

QTEST_MAIN(TestHistoryGateway)
#include "tst_history_gateway.moc"
