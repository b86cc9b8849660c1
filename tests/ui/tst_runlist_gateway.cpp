#include <QAction>
#include <QApplication>
#include <QClipboard>
#include <QContextMenuEvent>
#include <QMenu>
#include <QMessageBox>
#include <QPushButton>
#include <QTabWidget>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>

#include "historystore.h"
#include "mainwindow.h"
#include "runlistmodel.h"
#include "testgateway.h"
#include "workflowtab.h"

using namespace std::chrono_literals;
using namespace Lockstep;
using namespace Lockstep::Ui;

// The run list against a real lockstep-gateway: the flow, created and
// duration columns, and the context menu (Open, Open in new tab, Copy ID,
// Cancel… through the same confirmation as a tab's Cancel).
class TestRunListGateway : public QObject
{
    Q_OBJECT

private:
    Test::TestGateway m_gateway;
    QTemporaryDir m_settingsDir;
    std::unique_ptr<MainWindow> m_window;

    QString newRun(const QString &goal, const QString &flow)
    {
        const int before = m_window->tabs().size();
        m_window->createWorkflow(goal, flow);
        if (!QTest::qWaitFor([&] { return m_window->tabs().size() == before + 1; }, 10000))
            return {};
        return m_window->tabs().constLast()->workflowId();
    }

    void closeAllTabs()
    {
        QTabWidget *tabs = m_window->tabWidget();
        while (tabs->count() > 0)
        {
            QWidget *tab = tabs->widget(0);
            tabs->removeTab(0);
            delete tab;
        }
    }

    // The row of `id` in the view (through the filter proxy).
    QModelIndex viewIndex(const QString &id) const
    {
        RunListModel *runs = m_window->runModel();
        return m_window->runProxy()->mapFromSource(runs->index(runs->rowOf(id), RunListModel::GoalColumn));
    }

    QAction *menuAction(QMenu *menu, const char *name) const
    {
        return menu ? menu->findChild<QAction *>(QString::fromLatin1(name)) : nullptr;
    }

    QString cell(const QString &id, int column) const
    {
        RunListModel *runs = m_window->runModel();
        return runs->index(runs->rowOf(id), column).data().toString();
    }

private slots:
    void initTestCase()
    {
        QVERIFY(m_settingsDir.isValid());
        QVERIFY2(!qEnvironmentVariableIsEmpty("LOCKSTEP_GATEWAY_BIN"), "LOCKSTEP_GATEWAY_BIN");
        QVERIFY2(m_gateway.start(), "the gateway did not start");
        m_window = std::make_unique<MainWindow>(
            m_gateway.consoleOptions(m_settingsDir.filePath(QStringLiteral("console.ini")),
                                     BackoffOptions{.initial = 200ms, .maximum = 2000ms, .lockHeldMinimum = 1000ms}));
        QVERIFY(Test::showConsole(*m_window));
    }

    void cleanup()
    {
        closeAllTabs();
    }

    void cleanupTestCase()
    {
        m_window.reset();
    }

    void flowCreatedAndDurationColumns()
    {
        const QString id = newRun(QStringLiteral("Refactor the parser, step by step"), QStringLiteral("long"));
        QVERIFY(!id.isEmpty());
        RunListModel *runs = m_window->runModel();
        QTRY_VERIFY_WITH_TIMEOUT(runs->rowOf(id) >= 0, 10000);
        QCOMPARE(cell(id, RunListModel::FlowColumn), QStringLiteral("long"));
        QVERIFY(cell(id, RunListModel::CreatedColumn) != u"—");
        QCOMPARE(m_window->runView()->model()->headerData(RunListModel::DurationColumn, Qt::Horizontal).toString(),
                 QStringLiteral("Duration"));
        // A running run's duration runs up to now: it grows while we watch.
        QTRY_VERIFY_WITH_TIMEOUT(runs->run(id)->status == RunStatus::Running, 10000);
        QVERIFY(runs->isTicking());
        QTRY_VERIFY_WITH_TIMEOUT(cell(id, RunListModel::DurationColumn) == QStringLiteral("2 s"), 5000);
        QTRY_VERIFY_WITH_TIMEOUT(cell(id, RunListModel::DurationColumn) == QStringLiteral("3 s"), 3000);
        m_window->tabs().constFirst()->cancelNow();
        QTRY_VERIFY_WITH_TIMEOUT(runs->run(id)->status == RunStatus::Stopped, 10000);
        // Final: created -> completed, no longer moving.
        const QString final = cell(id, RunListModel::DurationColumn);
        QTest::qWait(1200);
        QCOMPARE(cell(id, RunListModel::DurationColumn), final);
    }

    void contextMenuOpenNewTabCopy()
    {
        const QString id =
            newRun(QStringLiteral("Create a file called hello.sh that prints hello"), QStringLiteral("hello"));
        QVERIFY(!id.isEmpty());
        QTRY_VERIFY_WITH_TIMEOUT(m_window->runModel()->rowOf(id) >= 0, 10000);
        closeAllTabs();

        // A right click on the row pops the menu up.
        QTableView *view = m_window->runView();
        view->scrollTo(viewIndex(id));
        const QPoint at = view->visualRect(viewIndex(id)).center();
        QContextMenuEvent click(QContextMenuEvent::Mouse, at, view->viewport()->mapToGlobal(at));
        QApplication::sendEvent(view->viewport(), &click);
        QMenu *popped = nullptr;
        QTRY_VERIFY((popped = m_window->findChild<QMenu *>(QStringLiteral("runContextMenu"))) && popped->isVisible());
        QStringList words;
        for (QAction *a : popped->actions())
        {
            if (!a->isSeparator())
                words.append(a->text());
        }
        QCOMPARE(words, (QStringList{QStringLiteral("&Open"), QStringLiteral("Open in &new tab"),
                                     QStringLiteral("&Copy ID"), QStringLiteral("C&ancel run…")}));
        popped->close();
        QTRY_VERIFY(!m_window->findChild<QMenu *>(QStringLiteral("runContextMenu")));  // deleted once closed

        std::unique_ptr<QMenu> menu(m_window->makeRunContextMenu(viewIndex(id)));
        menuAction(menu.get(), "runMenuOpen")->trigger();
        QCOMPARE(m_window->openTabIds(), QStringList{id});
        menuAction(menu.get(), "runMenuOpen")->trigger();  // Open focuses the tab it has
        QCOMPARE(m_window->tabs().size(), 1);
        menuAction(menu.get(), "runMenuOpenNewTab")->trigger();
        QCOMPARE(m_window->openTabIds(), (QStringList{id, id}));
        QCOMPARE(m_window->tabWidget()->currentIndex(), 1);

        QGuiApplication::clipboard()->clear();
        menuAction(menu.get(), "runMenuCopyId")->trigger();
        QCOMPARE(QGuiApplication::clipboard()->text(), id);

        QVERIFY(!m_window->makeRunContextMenu(QModelIndex()));  // no row, no menu
    }

    // Cancel from the list for a run with no tab: the tab's question (it
    // matches the run), then the cancel; the outcome goes to the history.
    void contextMenuCancelWithoutATab()
    {
        const QString id =
            newRun(QStringLiteral("Create a file called hello.sh that prints hello"), QStringLiteral("hello"));
        QVERIFY(!id.isEmpty());
        QTRY_VERIFY_WITH_TIMEOUT(m_window->tabs().constLast()->runStatus() == RunStatus::InputRequired, 15000);
        RunListModel *runs = m_window->runModel();
        QTRY_VERIFY_WITH_TIMEOUT(runs->run(id)->status == RunStatus::InputRequired, 10000);
        closeAllTabs();

        std::unique_ptr<QMenu> menu(m_window->makeRunContextMenu(viewIndex(id)));
        QAction *cancel = menuAction(menu.get(), "runMenuCancel");
        QVERIFY(cancel->isEnabled());
        // "Don't cancel" leaves it alone.
        cancel->trigger();
        QMessageBox *box = nullptr;
        QTRY_VERIFY((box = m_window->findChild<QMessageBox *>(QStringLiteral("cancelConfirmation"))) &&
                    box->isVisible());
        QVERIFY2(box->text().contains(u"It is input required"), qPrintable(box->text()));
        QCOMPARE(box->button(QMessageBox::No)->text(), QStringLiteral("&Don't cancel"));
        QCOMPARE(box->defaultButton(), box->button(QMessageBox::No));
        box->button(QMessageBox::No)->click();
        QTRY_VERIFY(!m_window->findChild<QMessageBox *>(QStringLiteral("cancelConfirmation")));
        QTest::qWait(500);
        QVERIFY(runs->run(id)->status == RunStatus::InputRequired);

        cancel->trigger();
        QTRY_VERIFY((box = m_window->findChild<QMessageBox *>(QStringLiteral("cancelConfirmation"))) &&
                    box->isVisible());
        box->button(QMessageBox::Yes)->click();
        QTRY_VERIFY_WITH_TIMEOUT(runs->run(id)->status == RunStatus::Stopped, 10000);
        QVERIFY(m_window->tabs().isEmpty());  // no tab was opened for it
        QTRY_VERIFY(!m_window->history()->entries(id).isEmpty());
        QCOMPARE(m_window->history()->entries(id).constFirst().text,
                 Test::outcomeLine(TabAction::Cancel, {.kind = OutcomeKind::Cancelled}));

        // Stopped: nothing to cancel, and the menu says why.
        std::unique_ptr<QMenu> again(m_window->makeRunContextMenu(viewIndex(id)));
        QAction *disabled = menuAction(again.get(), "runMenuCancel");
        QVERIFY(!disabled->isEnabled());
        QCOMPARE(disabled->toolTip(), QStringLiteral("The run is stopped already"));
    }

    // With a tab open, Cancel goes through that tab: its question, its banner.
    void contextMenuCancelThroughTheTab()
    {
        const QString id = newRun(QStringLiteral("Refactor the parser, step by step"), QStringLiteral("long"));
        QVERIFY(!id.isEmpty());
        WorkflowTab *tab = m_window->tabs().constLast();
        QTRY_VERIFY_WITH_TIMEOUT(tab->runStatus() == RunStatus::Running, 10000);
        QTRY_VERIFY_WITH_TIMEOUT(m_window->runModel()->rowOf(id) >= 0, 10000);
        std::unique_ptr<QMenu> menu(m_window->makeRunContextMenu(viewIndex(id)));
        menuAction(menu.get(), "runMenuCancel")->trigger();
        QTRY_VERIFY(tab->cancelConfirmation());
        QCOMPARE(tab->cancelConfirmation()->button(QMessageBox::No)->text(), QStringLiteral("&Keep it running"));
        tab->cancelConfirmation()->button(QMessageBox::Yes)->click();
        QTRY_COMPARE_WITH_TIMEOUT(tab->outcomeBannerText(),
                                  Test::outcomeLine(TabAction::Cancel, {.kind = OutcomeKind::Cancelled}), 10000);
    }
};

QTEST_MAIN(TestRunListGateway)
#include "tst_runlist_gateway.moc"
