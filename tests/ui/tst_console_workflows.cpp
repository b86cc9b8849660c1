#include <QComboBox>
#include <QFile>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QTabWidget>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>

#include "chatlogmodel.h"
#include "chatlogview.h"
#include "elidedlabel.h"
#include "gatewayapi.h"
#include "mainwindow.h"
#include "newworkflowdialog.h"
#include "notificationbar.h"
#include "testgateway.h"
#include "workflowtab.h"

using namespace std::chrono_literals;
using namespace Lockstep;
using namespace Lockstep::Ui;

namespace
{
    // A gateway from before GET /api/v1/flows: every request is a 404.
    class OldGateway final : public QTcpServer
    {
    public:
        OldGateway()
        {
            connect(this, &QTcpServer::newConnection, this, [this] {
                while (QTcpSocket *socket = nextPendingConnection())
                {
                    connect(socket, &QTcpSocket::readyRead, socket, [socket] {
                        if (!socket->readAll().contains("\r\n\r\n"))
                            return;
                        const QByteArray body = R"({"error":"not_found","message":"no such endpoint"})";
                        socket->write(
                            "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nConnection: close\r\n"
                            "Content-Length: " +
                            QByteArray::number(body.size()) + "\r\n\r\n" + body);
                        socket->disconnectFromHost();
                    });
                    connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
                }
            });
        }
    };
}  // namespace

// Starting and answering workflows against a real lockstep-gateway: the New
// workflow dialog lists the gateway's own flows (--flows) and validates as you
// type, a run starts with its own ID and workspace, Approve and Reject answer
// a request entry and the decision shows in the log, and a tab reads as its
// goal.
class TestConsoleWorkflows : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir m_flows;
    QTemporaryDir m_settingsDir;
    Test::TestGateway m_gateway;
    std::unique_ptr<MainWindow> m_window;

    WorkflowTab *newWorkflow(const QString &goal, const QString &flow)
    {
        return Test::newWorkflowTab(*m_window, goal, flow);
    }

    static QPushButton *button(const WorkflowTab *tab, const char *name)
    {
        return tab->chatView()->findChild<QPushButton *>(QString::fromLatin1(name));
    }

    static bool waitsFor(const WorkflowTab *tab, const RunStatus status)
    {
        return QTest::qWaitFor([&] { return tab->runStatus() == status; }, 20000);
    }

private slots:
    void initTestCase()
    {
        QVERIFY(m_flows.isValid() && m_settingsDir.isValid());
        QFile review(m_flows.filePath(QStringLiteral("review.json")));
        QVERIFY(review.open(QIODevice::WriteOnly));
        review.write(R"({"description":"Reviews a change and asks before merging.","steps":[)"
                     R"({"type":"agent","content":"Reviewing `main.c`."},)"
                     R"({"type":"request","kind":"tool_call_approval","content":"Merge it?"},)"
                     R"({"type":"finish","content":"Merged."}]})");
        review.close();
        QVERIFY2(!qEnvironmentVariableIsEmpty("LOCKSTEP_GATEWAY_BIN"), "LOCKSTEP_GATEWAY_BIN");
        QVERIFY2(m_gateway.start({QStringLiteral("--flows"), m_flows.path()}), "the gateway did not start");
        m_window = std::make_unique<MainWindow>(m_gateway.consoleOptions(
            m_settingsDir.filePath(QStringLiteral("console.ini")), BackoffOptions{.initial = 500ms}));
        QVERIFY(Test::showConsole(*m_window));
    }

    void cleanupTestCase()
    {
        m_window.reset();
    }

    void newWorkflowDialogListsTheGatewaysFlows()
    {
        m_window->findChild<QAction *>(QStringLiteral("newWorkflowAction"))->trigger();
        NewWorkflowDialog *dialog = nullptr;
        QTRY_VERIFY((dialog = m_window->findChild<NewWorkflowDialog *>(QStringLiteral("newWorkflowDialog"))) !=
                    nullptr);
        auto *goal = dialog->findChild<QPlainTextEdit *>(QStringLiteral("goalEdit"));
        auto *flows = dialog->findChild<QComboBox *>(QStringLiteral("flowCombo"));
        auto *id = dialog->findChild<QLineEdit *>(QStringLiteral("workflowIdEdit"));
        auto *workspace = dialog->findChild<QLineEdit *>(QStringLiteral("workspaceIdEdit"));
        auto *start = dialog->findChild<QPushButton *>(QStringLiteral("startButton"));
        QVERIFY(goal && flows && id && workspace && start);
        QCOMPARE(dialog->focusWidget(), goal);  // the goal first

        // The gateway's own flow, with its description.
        QTRY_VERIFY(flows->findText(QStringLiteral("review")) >= 0);
        QVERIFY(flows->findText(QStringLiteral("approval")) >= 0);
        QVERIFY(dialog->flowNote().isEmpty());
        flows->setCurrentIndex(flows->findText(QStringLiteral("review")));
        auto *description = dialog->findChild<QLabel *>(QStringLiteral("flowDescription"));
        QCOMPARE(description->text(), QStringLiteral("Reviews a change and asks before merging."));

        // Start waits for a goal and valid IDs; each problem is said where it is.
        QVERIFY(!start->isEnabled());
        goal->setPlainText(QStringLiteral("Review the parser change"));
        QVERIFY(start->isEnabled());
        goal->setPlainText(QStringLiteral("  "));
        QVERIFY(!start->isEnabled());
        QVERIFY(dialog->findChild<QLabel *>(QStringLiteral("goalError"))->isVisibleTo(dialog));
        goal->setPlainText(QStringLiteral("Review the parser change"));
        id->setText(QStringLiteral("not an id!"));
        auto *idError = dialog->findChild<QLabel *>(QStringLiteral("workflowIdError"));
        QVERIFY(idError->isVisibleTo(dialog));
        QVERIFY2(idError->text().contains(u"[A-Za-z0-9._:-]"), qPrintable(idError->text()));
        QVERIFY(!start->isEnabled());
        id->setText(QStringLiteral("review-parser-1"));
        QVERIFY(!idError->isVisibleTo(dialog));
        workspace->setText(QStringLiteral("-ws"));
        QVERIFY(dialog->findChild<QLabel *>(QStringLiteral("workspaceIdError"))->isVisibleTo(dialog));
        QVERIFY(!start->isEnabled());
        workspace->setText(QStringLiteral("ws-parser"));
        QVERIFY(start->isEnabled());

        const int before = m_window->tabs().size();
        start->click();
        QTRY_COMPARE_WITH_TIMEOUT(m_window->tabs().size(), before + 1, 10000);
        WorkflowTab *tab = m_window->tabs().constLast();
        QCOMPARE(tab->workflowId(), QStringLiteral("review-parser-1"));
        // Created by the startRequest, with the flow and workspace of its metadata.
        QVERIFY(waitsFor(tab, RunStatus::ToolCallApprovalRequired));
        GatewayApi *api = m_window->api();
        std::optional<RunInfo> run;
        api->getWorkflow(tab->workflowId(), this, [&run](ApiResult<RunInfo> got) { run = got ? *got : RunInfo{}; });
        QTRY_VERIFY(run.has_value());
        QCOMPARE(run->flow, QStringLiteral("review"));
        QCOMPARE(run->goal, QStringLiteral("Review the parser change"));

        // The same ID again is refused: a new workflow never lands in another run.
        m_window->createWorkflow(QStringLiteral("Another goal"), QStringLiteral("hello"),
                                 QStringLiteral("review-parser-1"));
        QTRY_VERIFY(m_window->notificationBar()->text().contains(u"exists already"));
    }

    void olderGatewayFallsBackWithANote()
    {
        OldGateway old;
        QVERIFY(old.listen(QHostAddress::LocalHost));
        GatewayApi api;
        auto endpoint =
            GatewayEndpoint::fromUrl(QStringLiteral("http://127.0.0.1:") + QString::number(old.serverPort()));
        QVERIFY(endpoint);
        api.setEndpoint(*endpoint);
        NewWorkflowDialog dialog(&api, {QStringLiteral("hello"), QStringLiteral("long")});
        QCOMPARE(dialog.flowNote(), QStringLiteral("Asking the gateway for its flows…"));
        QVERIFY(!dialog.isValid());  // nothing to start with until the list is known
        QTRY_VERIFY2(dialog.flowNote().contains(u"older"), qPrintable(dialog.flowNote()));
        QVERIFY(dialog.findChild<QLabel *>(QStringLiteral("flowNote"))->isVisibleTo(&dialog));
        QCOMPARE(dialog.flow(), QStringLiteral("hello"));
    }

    void approveCarriesTheRunOn()
    {
        WorkflowTab *tab = newWorkflow(QStringLiteral("Make a greeting script"), QStringLiteral("approval"));
        QVERIFY(tab);
        QVERIFY(waitsFor(tab, RunStatus::PlanApprovalRequired));
        // Looked up again each time: the answer bar is rebuilt as entries arrive.
        QPushButton *approve = nullptr;
        QTRY_VERIFY((approve = button(tab, "approveButton")) && approve->isVisible() && approve->isEnabled());
        QCOMPARE(tab->chatView()->answerableRequest(), QStringLiteral("t1-s1"));
        QTest::mouseClick(approve, Qt::LeftButton);

        QVERIFY(waitsFor(tab, RunStatus::Finished));
        ChatLogModel *model = tab->chatModel();
        QTRY_VERIFY(model->rowOf(QStringLiteral("t1-s1-decision")) >= 0);
        const Protocol::ChatLogEntry &decision = model->entry(model->rowOf(QStringLiteral("t1-s1-decision")));
        QCOMPARE(decision.messageSubType, QStringLiteral("approval"));
        QCOMPARE(ChatLogModel::senderLabel(decision), QStringLiteral("You approved"));
        QVERIFY(model->rowOf(QStringLiteral("t1-s1-decision")) < model->rowOf(QStringLiteral("t1-s2")));
        QTRY_VERIFY(!tab->chatView()->answerBar());  // answered: no buttons any more
        QCOMPARE(toString(tab->history().constLast().action), QStringLiteral("Approve"));
    }

    void rejectEndsTheTurn()
    {
        WorkflowTab *tab = newWorkflow(QStringLiteral("Make a greeting script, carefully"), QStringLiteral("approval"));
        QVERIFY(tab);
        QVERIFY(waitsFor(tab, RunStatus::PlanApprovalRequired));
        // Looked up again each time: the answer bar is rebuilt as entries arrive.
        QPushButton *reject = nullptr;
        QTRY_VERIFY((reject = button(tab, "rejectButton")) && reject->isVisible() && reject->isEnabled());
        QTest::mouseClick(reject, Qt::LeftButton);

        QVERIFY(waitsFor(tab, RunStatus::InputRequired));
        ChatLogModel *model = tab->chatModel();
        QTRY_VERIFY(model->rowOf(QStringLiteral("t1-s1-decision")) >= 0);
        QCOMPARE(model->entry(model->rowOf(QStringLiteral("t1-s1-decision"))).messageSubType,
                 QStringLiteral("rejection"));
        QCOMPARE(model->rowOf(QStringLiteral("t1-s2")), -1);  // the plan was not carried out
        QTRY_VERIFY(!tab->chatView()->answerBar());
    }

    void tabReadsAsItsGoal()
    {
        WorkflowTab *tab =
            newWorkflow(QStringLiteral("Create a file called hello.sh that prints hello"), QStringLiteral("hello"));
        QVERIFY(tab);
        QVERIFY(waitsFor(tab, RunStatus::InputRequired));
        QTabWidget *tabs = m_window->tabWidget();
        const int index = tabs->indexOf(tab);
        QTRY_VERIFY(tabs->tabText(index).startsWith(u"Create a file called"));
        QVERIFY2(tabs->tabText(index).size() < 40, qPrintable(tabs->tabText(index)));
        QVERIFY(tabs->tabToolTip(index).contains(tab->workflowId()));  // the full ID
        auto *goal = tab->findChild<ElidedLabel *>(QStringLiteral("goalLabel"));
        QCOMPARE(goal->fullText(), QStringLiteral("Create a file called hello.sh that prints hello"));
        QCOMPARE(goal->toolTip(), goal->fullText());
        QVERIFY(!goal->text().contains(u'\n'));
        QVERIFY(tab->latestMessageText().isEmpty());  // nothing after the goal yet

        tab->sendMessage(QStringLiteral("Now make it print goodbye too"));
        QTRY_COMPARE_WITH_TIMEOUT(tab->latestMessageText(), QStringLiteral("Now make it print goodbye too"), 20000);
        QCOMPARE(tab->goalText(),
                 QStringLiteral("Create a file called hello.sh that prints hello"));  // still the first message
    }
};

QTEST_MAIN(TestConsoleWorkflows)
#include "tst_console_workflows.moc"
