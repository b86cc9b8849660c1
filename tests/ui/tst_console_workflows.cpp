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
                        socket->write("HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nConnection: close\r\n"
                                      "Content-Length: " + QByteArray::number(body.size()) + "\r\n\r\n" + body);
                        socket->disconnectFromHost();
                    });
                    connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
                }
            });
        }
    };
} // namespace

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
        QFile review(m_flows.filePath(u"review.json"_qs));
        QVERIFY(review.open(QIODevice::WriteOnly));
        review.write(R"({"description":"Reviews a change and asks before merging.","steps":[)"
                     R"({"type":"agent","content":"Reviewing `main.c`."},)"
                     R"({"type":"request","kind":"tool_call_approval","content":"Merge it?"},)"
                     R"({"type":"finish","content":"Merged."}]})");
        review.close();
        QVERIFY2(!qEnvironmentVariableIsEmpty("LOCKSTEP_GATEWAY_BIN"), "LOCKSTEP_GATEWAY_BIN");
        QVERIFY2(m_gateway.start({u"--flows"_qs, m_flows.path()}), "the gateway did not start");
        m_window = std::make_unique<MainWindow>(
            m_gateway.consoleOptions(m_settingsDir.filePath(u"console.ini"_qs), BackoffOptions {.initial = 500ms}));
        QVERIFY(Test::showConsole(*m_window));
    }

    void cleanupTestCase()
    {
        m_window.reset();
    }

    void newWorkflowDialogListsTheGatewaysFlows()
    {
        m_window->findChild<QAction *>(u"newWorkflowAction"_qs)->trigger();
        NewWorkflowDialog *dialog = nullptr;
        QTRY_VERIFY((dialog = m_window->findChild<NewWorkflowDialog *>(u"newWorkflowDialog"_qs)) != nullptr);
        auto *goal = dialog->findChild<QPlainTextEdit *>(u"goalEdit"_qs);
        auto *flows = dialog->findChild<QComboBox *>(u"flowCombo"_qs);
        auto *id = dialog->findChild<QLineEdit *>(u"workflowIdEdit"_qs);
        auto *workspace = dialog->findChild<QLineEdit *>(u"workspaceIdEdit"_qs);
        auto *start = dialog->findChild<QPushButton *>(u"startButton"_qs);
        QVERIFY(goal && flows && id && workspace && start);
        QCOMPARE(dialog->focusWidget(), goal);   // the goal first

        // The gateway's own flow, with its description.
        QTRY_VERIFY(flows->findText(u"review"_qs) >= 0);
        QVERIFY(flows->findText(u"approval"_qs) >= 0);
        QVERIFY(dialog->flowNote().isEmpty());
        flows->setCurrentIndex(flows->findText(u"review"_qs));
        auto *description = dialog->findChild<QLabel *>(u"flowDescription"_qs);
        QCOMPARE(description->text(), u"Reviews a change and asks before merging."_qs);

        // Start waits for a goal and valid IDs; each problem is said where it is.
        QVERIFY(!start->isEnabled());
        goal->setPlainText(u"Review the parser change"_qs);
        QVERIFY(start->isEnabled());
        goal->setPlainText(u"  "_qs);
        QVERIFY(!start->isEnabled());
        QVERIFY(dialog->findChild<QLabel *>(u"goalError"_qs)->isVisibleTo(dialog));
        goal->setPlainText(u"Review the parser change"_qs);
        id->setText(u"not an id!"_qs);
        auto *idError = dialog->findChild<QLabel *>(u"workflowIdError"_qs);
        QVERIFY(idError->isVisibleTo(dialog));
        QVERIFY2(idError->text().contains(u"[A-Za-z0-9._:-]"), qPrintable(idError->text()));
        QVERIFY(!start->isEnabled());
        id->setText(u"review-parser-1"_qs);
        QVERIFY(!idError->isVisibleTo(dialog));
        workspace->setText(u"-ws"_qs);
        QVERIFY(dialog->findChild<QLabel *>(u"workspaceIdError"_qs)->isVisibleTo(dialog));
        QVERIFY(!start->isEnabled());
        workspace->setText(u"ws-parser"_qs);
        QVERIFY(start->isEnabled());

        const int before = m_window->tabs().size();
        start->click();
        QTRY_COMPARE_WITH_TIMEOUT(m_window->tabs().size(), before + 1, 10000);
        WorkflowTab *tab = m_window->tabs().constLast();
        QCOMPARE(tab->workflowId(), u"review-parser-1"_qs);
        // Created by the startRequest, with the flow and workspace of its metadata.
        QVERIFY(waitsFor(tab, RunStatus::ToolCallApprovalRequired));
        GatewayApi *api = m_window->api();
        std::optional<RunInfo> run;
        api->getWorkflow(tab->workflowId(), this, [&run](ApiResult<RunInfo> got) { run = got ? *got : RunInfo {}; });
        QTRY_VERIFY(run.has_value());
        QCOMPARE(run->flow, u"review"_qs);
        QCOMPARE(run->goal, u"Review the parser change"_qs);

        // The same ID again is refused: a new workflow never lands in another run.
        m_window->createWorkflow(u"Another goal"_qs, u"hello"_qs, u"review-parser-1"_qs);
        QTRY_VERIFY(m_window->notificationBar()->text().contains(u"exists already"));
    }

    void olderGatewayFallsBackWithANote()
    {
        OldGateway old;
        QVERIFY(old.listen(QHostAddress::LocalHost));
        GatewayApi api;
        auto endpoint = GatewayEndpoint::fromUrl(u"http://127.0.0.1:"_qs + QString::number(old.serverPort()));
        QVERIFY(endpoint);
        api.setEndpoint(*endpoint);
        NewWorkflowDialog dialog(&api, {u"hello"_qs, u"long"_qs});
        QCOMPARE(dialog.flowNote(), u"Asking the gateway for its flows…"_qs);
        QVERIFY(!dialog.isValid());   // nothing to start with until the list is known
        QTRY_VERIFY2(dialog.flowNote().contains(u"older"), qPrintable(dialog.flowNote()));
        QVERIFY(dialog.findChild<QLabel *>(u"flowNote"_qs)->isVisibleTo(&dialog));
        QCOMPARE(dialog.flow(), u"hello"_qs);
    }

    void approveCarriesTheRunOn()
    {
        WorkflowTab *tab = newWorkflow(u"Make a greeting script"_qs, u"approval"_qs);
        QVERIFY(tab);
        QVERIFY(waitsFor(tab, RunStatus::PlanApprovalRequired));
        // Looked up again each time: the answer bar is rebuilt as entries arrive.
        QPushButton *approve = nullptr;
        QTRY_VERIFY((approve = button(tab, "approveButton")) && approve->isVisible() && approve->isEnabled());
        QCOMPARE(tab->chatView()->answerableRequest(), u"t1-s1"_qs);
        QTest::mouseClick(approve, Qt::LeftButton);

        QVERIFY(waitsFor(tab, RunStatus::Finished));
        ChatLogModel *model = tab->chatModel();
        QTRY_VERIFY(model->rowOf(u"t1-s1-decision"_qs) >= 0);
        const Protocol::ChatLogEntry &decision = model->entry(model->rowOf(u"t1-s1-decision"_qs));
        QCOMPARE(decision.messageSubType, u"approval"_qs);
        QCOMPARE(ChatLogModel::senderLabel(decision), u"You approved"_qs);
        QVERIFY(model->rowOf(u"t1-s1-decision"_qs) < model->rowOf(u"t1-s2"_qs));
        QTRY_VERIFY(!tab->chatView()->answerBar());   // answered: no buttons any more
        QCOMPARE(toString(tab->history().constLast().action), u"Approve"_qs);
    }

    void rejectEndsTheTurn()
    {
        WorkflowTab *tab = newWorkflow(u"Make a greeting script, carefully"_qs, u"approval"_qs);
        QVERIFY(tab);
        QVERIFY(waitsFor(tab, RunStatus::PlanApprovalRequired));
        // Looked up again each time: the answer bar is rebuilt as entries arrive.
        QPushButton *reject = nullptr;
        QTRY_VERIFY((reject = button(tab, "rejectButton")) && reject->isVisible() && reject->isEnabled());
        QTest::mouseClick(reject, Qt::LeftButton);

        QVERIFY(waitsFor(tab, RunStatus::InputRequired));
        ChatLogModel *model = tab->chatModel();
        QTRY_VERIFY(model->rowOf(u"t1-s1-decision"_qs) >= 0);
        QCOMPARE(model->entry(model->rowOf(u"t1-s1-decision"_qs)).messageSubType, u"rejection"_qs);
        QCOMPARE(model->rowOf(u"t1-s2"_qs), -1);   // the plan was not carried out
        QTRY_VERIFY(!tab->chatView()->answerBar());
    }

    void tabReadsAsItsGoal()
    {
        WorkflowTab *tab = newWorkflow(u"Create a file called hello.sh that prints hello"_qs, u"hello"_qs);
        QVERIFY(tab);
        QVERIFY(waitsFor(tab, RunStatus::InputRequired));
        QTabWidget *tabs = m_window->tabWidget();
        const int index = tabs->indexOf(tab);
        QTRY_VERIFY(tabs->tabText(index).startsWith(u"Create a file called"));
        QVERIFY2(tabs->tabText(index).size() < 40, qPrintable(tabs->tabText(index)));
        QVERIFY(tabs->tabToolTip(index).contains(tab->workflowId()));   // the full ID
        auto *goal = tab->findChild<ElidedLabel *>(u"goalLabel"_qs);
        QCOMPARE(goal->fullText(), u"Create a file called hello.sh that prints hello"_qs);
        QCOMPARE(goal->toolTip(), goal->fullText());
        QVERIFY(!goal->text().contains(u'\n'));
        QVERIFY(tab->latestMessageText().isEmpty());   // nothing after the goal yet

        tab->sendMessage(u"Now make it print goodbye too"_qs);
        QTRY_COMPARE_WITH_TIMEOUT(tab->latestMessageText(), u"Now make it print goodbye too"_qs, 20000);
        QCOMPARE(tab->goalText(), u"Create a file called hello.sh that prints hello"_qs);   // still the first message
    }
};

QTEST_MAIN(TestConsoleWorkflows)
#include "tst_console_workflows.moc"
