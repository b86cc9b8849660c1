#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QTemporaryDir>
#include <QTest>

#include "agentprocess.h"
#include "flows/execution.h"
#include "store/runstore.h"
#include "store/storeworker.h"
#include "store/workspacestore.h"
#include "workspace/agentconnection.h"
#include "workspace/agentdirectory.h"
#include "workspace/toolrunner.h"

using namespace Lockstep;
using namespace Lockstep::Flows;
using Lockstep::Store::StoredEntry;
using Lockstep::Test::AgentProcess;
using Lockstep::Workspace::AgentAddress;
using Lockstep::Workspace::WorkspaceBinding;

// Workspace steps of a flow, executed end to end: the Execution, the tool
// runner (dial with lazy validation, bounded discovery, call), real agent
// processes and a real SQLite store. What the console shows is asserted: the
// tool entry's status and failure text in the chat log, and the run's status.
class TestWorkspaceFlow : public QObject
{
    Q_OBJECT

private:
    static constexpr int FastPathWaitMs = 10000;  // the runner's dial delay is 30 s

    QTemporaryDir m_dir;
    QString m_tokenFile;
    std::unique_ptr<Store::RunStore> m_store;
    std::unique_ptr<Store::StoreWorker> m_worker;  // in place, over m_store
    std::unique_ptr<Workspace::StoreAgentDirectory> m_directory;
    int m_counter = 0;

    struct Outcome
    {
        int finished = 0;
        std::optional<StopCause> cause;
        std::optional<RunStatus> status;
        QList<StoredEntry> persisted;  // in signal order
    };

    static Workspace::ToolRunnerOptions runnerOptions()
    {
        Workspace::ToolRunnerOptions options;
        options.dial = Workspace::DialOptions{.dialDelay = std::chrono::seconds(30),
                                              .dialTimeout = std::chrono::seconds(120),
                                              .retryInterval = std::chrono::milliseconds(100),
                                              .maxSwitches = 3,
                                              .lazyValidation = true,
                                              .token = Test::AgentTestToken};
        options.discoveryTimeout = std::chrono::seconds(5);
        return options;
    }

    static Flow flowFrom(const QByteArray &json)
    {
        auto parsed = Flow::parse(json, QStringLiteral("ws-test.json"));
        if (!parsed)
            qFatal("bad test flow: %s", qPrintable(parsed.error().toString()));
        return std::move(parsed).value();
    }

    // (No apostrophes inside raw strings: moc's tokenizer trips over them.)
    static Flow writeHelloFlow()
    {
        return flowFrom(R"({"steps": [
            {"type": "agent", "content": "I will create hello.sh."},
            {"type": "workspace", "tool": "run_command",
             "args": {"argv": ["sh", "-c", "echo echo hello > hello.sh; cat hello.sh"]}},
            {"type": "agent", "content": "hello.sh is ready."}
        ]})");
    }

    QString newWorkspaceFolder(QString *id)
    {
        ++m_counter;
        *id = QStringLiteral("ws-%1").arg(m_counter);
        const QString folder = m_dir.filePath(*id);
        QDir().mkpath(folder);
        return folder;
    }

    // Registers `agent` as the workspace's agent; the reason is logged on failure.
    bool registerAgent(const QString &workspaceId, const AgentAddress &agent)
    {
        const auto written =
            m_store->workspaces().registerWorkspaceAgent(workspaceId, agent.agentId, agent.host.toString(), agent.port);
        if (!written)
            qWarning().noquote() << written.error().message;
        return written.hasValue();
    }

    // Starts `agent` in `folder`, then registerAgent(); the reason is logged on failure.
    bool startRegisteredAgent(AgentProcess &agent, const QString &folder, const QString &workspaceId,
                              const QString &agentId)
    {
        if (!agent.start(folder, workspaceId, agentId, m_tokenFile))
        {
            qWarning().noquote() << agent.errorString();
            return false;
        }
        return registerAgent(workspaceId, agent.address());
    }

    Store::Run startRun(const QString &workflowId, const qint64 fence)
    {
        const auto created =
            m_store->createRun(workflowId, QStringLiteral("make hello.sh"), QStringLiteral("ws-test"), fence);
        if (!created)
            qFatal("createRun: %s", qPrintable(created.error().message));
        return resumeRun(workflowId, fence);
    }

    Store::Run resumeRun(const QString &workflowId, const qint64 fence)
    {
        const auto resumed = m_store->resume(workflowId, fence, std::nullopt);
        if (!resumed || resumed->outcome != Store::ResumeOutcome::Resumed)
            qFatal("resume of %s failed", qPrintable(workflowId));
        return *resumed->run;
    }

    std::unique_ptr<Execution> makeExecution(const Store::Run &run, const Flow &flow, const qint64 fence,
                                             Workspace::WorkspaceToolRunner *runner, const WorkspaceBinding &binding,
                                             Outcome &outcome,
                                             std::chrono::milliseconds deadline = std::chrono::minutes(5))
    {
        ExecutionOptions options{.userMessage = {}, .delayScale = 0.01, .deadline = deadline};
        options.workspaceTools = runner;
        options.workspace = binding;
        auto execution = std::make_unique<Execution>(*m_worker, run, flow, fence, options);
        connect(execution.get(), &Execution::entryPersisted, this,
                [&outcome](const QString &, const StoredEntry &entry) { outcome.persisted.append(entry); });
        connect(execution.get(), &Execution::finished, this,
                [&outcome](const QString &, StopCause cause, RunStatus status) {
                    ++outcome.finished;
                    outcome.cause = cause;
                    outcome.status = status;
                });
        return execution;
    }

    std::optional<QJsonObject> latest(const QString &workflowId, const QString &messageId)
    {
        const auto entries = m_store->entriesSince(workflowId, 0);
        if (!entries)
            return std::nullopt;
        for (const StoredEntry &entry : entries.value())
        {
            if (entry.entry.value(u"message_id").toString() == messageId)
                return entry.entry;
        }
        return std::nullopt;
    }

    static QString response(const QJsonObject &entry)
    {
        return entry.value(u"tool_info").toObject().value(u"tool_response").toString();
    }

    static QJsonObject workspaceContext(const QJsonObject &entry)
    {
        return entry.value(u"additional_context").toObject().value(u"workspace").toObject();
    }

    Store::Run storedRun(const QString &workflowId)
    {
        return *m_store->getRun(workflowId).value();
    }

private slots:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        QVERIFY2(!AgentProcess::binary().isEmpty(), "LOCKSTEP_AGENT_BIN is not set");
        m_tokenFile = m_dir.filePath(QStringLiteral("tokens"));
        QVERIFY(Test::writeTokenFile(m_tokenFile, Test::AgentTestToken));
        auto store = Store::RunStore::open(QStringLiteral("sqlite:") + m_dir.filePath(QStringLiteral("runs.db")));
        QVERIFY2(store, store ? "" : qPrintable(store.error().message));
        m_store = std::move(store).value();
        m_worker = Store::StoreWorker::inPlace(*m_store);
        m_directory = std::make_unique<Workspace::StoreAgentDirectory>(*m_worker);
    }

    void cleanup()
    {
        QTRY_COMPARE_WITH_TIMEOUT(Workspace::AgentConnection::liveCount(), 0, 5000);
    }

    void agentUpRunsTheTool()
    {
        QString wsId;
        const QString folder = newWorkspaceFolder(&wsId);
        AgentProcess agent;
        QVERIFY(startRegisteredAgent(agent, folder, wsId, QStringLiteral("agent-up")));
        Workspace::WorkspaceToolRunner runner(*m_directory, runnerOptions());

        const Store::Run run = startRun(QStringLiteral("wf-up"), 1);
        Outcome outcome;
        auto execution =
            makeExecution(run, writeHelloFlow(), 1, &runner, {.workspaceId = wsId, .agent = agent.address()}, outcome);
        execution->start();
        QTRY_COMPARE_WITH_TIMEOUT(outcome.finished, 1, FastPathWaitMs);
        QCOMPARE(toString(*outcome.cause), toString(StopCause::TurnEnded));
        QCOMPARE(toString(*outcome.status), toString(RunStatus::InputRequired));

        const auto tool = latest(QStringLiteral("wf-up"), QStringLiteral("t1-s1"));
        QVERIFY(tool);
        QCOMPARE(tool->value(u"status").toString(), QStringLiteral("success"));
        QCOMPARE(response(*tool), QStringLiteral("echo hello\n"));
        QCOMPARE(workspaceContext(*tool).value(u"agentID").toString(), QStringLiteral("agent-up"));
        QVERIFY(latest(QStringLiteral("wf-up"), QStringLiteral("t1-s2")).has_value());
        QFile written(folder + u"/hello.sh");
        QVERIFY(written.open(QIODevice::ReadOnly));
        QCOMPARE(written.readAll(), QByteArrayLiteral("echo hello\n"));
        // The tool entry went pending, then success (same message_id).
        QStringList statuses;
        for (const StoredEntry &entry : std::as_const(outcome.persisted))
        {
            if (entry.entry.value(u"message_id").toString() == u"t1-s1")
                statuses.append(entry.entry.value(u"status").toString());
        }
        QCOMPARE(statuses, (QStringList{QStringLiteral("pending"), QStringLiteral("success")}));
        QCOMPARE(runner.catalog().discoveries(), 1);
    }

    void stoppedWorkspaceFailsTheStepFastAndResumeRetries()
    {
        QString wsId;
        const QString folder = newWorkspaceFolder(&wsId);
        AgentProcess agent;
        QVERIFY(startRegisteredAgent(agent, folder, wsId, QStringLiteral("agent-gone")));
        const AgentAddress bound = agent.address();
        QCOMPARE(agent.terminate(), 0);
        QVERIFY(m_store->workspaces().stopWorkspace(wsId, bound.agentId)->stopped);
        Workspace::WorkspaceToolRunner runner(*m_directory, runnerOptions());

        const Store::Run run = startRun(QStringLiteral("wf-stopped"), 1);
        Outcome outcome;
        auto execution =
            makeExecution(run, writeHelloFlow(), 1, &runner, {.workspaceId = wsId, .agent = bound}, outcome);
        execution->start();
        // Well under the 30 s dial delay.
        QTRY_COMPARE_WITH_TIMEOUT(outcome.finished, 1, FastPathWaitMs);
        QCOMPARE(toString(*outcome.cause), toString(StopCause::TurnEnded));
        QCOMPARE(toString(*outcome.status), toString(RunStatus::Failed));

        // The chat log: the tool entry failed with the reason, nothing after it.
        const auto tool = latest(QStringLiteral("wf-stopped"), QStringLiteral("t1-s1"));
        QVERIFY(tool);
        QCOMPARE(tool->value(u"status").toString(), QStringLiteral("failure"));
        QVERIFY2(response(*tool).startsWith(u"workspace has no running agent"), qPrintable(response(*tool)));
        QCOMPARE(workspaceContext(*tool).value(u"failure").toString(), QStringLiteral("no_running_agent"));
        QVERIFY(!latest(QStringLiteral("wf-stopped"), QStringLiteral("t1-s2")).has_value());
        // The run's state says the same.
        const Store::Run failed = storedRun(QStringLiteral("wf-stopped"));
        QCOMPARE(toString(failed.status), toString(RunStatus::Failed));
        QVERIFY2(failed.reason.startsWith(u"workspace has no running agent"), qPrintable(failed.reason));

        // The user starts the workspace (a new agent) and resumes: the step runs again.
        AgentProcess restarted;
        QVERIFY(startRegisteredAgent(restarted, folder, wsId, QStringLiteral("agent-back")));
        const Store::Run again = resumeRun(QStringLiteral("wf-stopped"), 2);
        Outcome second;
        auto retry = makeExecution(again, writeHelloFlow(), 2, &runner, execution->workspaceBinding(), second);
        retry->start();
        QTRY_COMPARE_WITH_TIMEOUT(second.finished, 1, FastPathWaitMs);
        QCOMPARE(toString(*second.status), toString(RunStatus::InputRequired));
        const auto retried = latest(QStringLiteral("wf-stopped"), QStringLiteral("t1-s1"));
        QCOMPARE(retried->value(u"status").toString(), QStringLiteral("success"));
        QCOMPARE(workspaceContext(*retried).value(u"agentID").toString(), QStringLiteral("agent-back"));
        QCOMPARE(workspaceContext(*retried).value(u"switchedFrom").toString(), QStringLiteral("agent-gone"));
        QCOMPARE(retry->workspaceBinding().agent->agentId, QStringLiteral("agent-back"));
    }

    void rebuiltWorkspaceSwitchesAndRecordsIt()
    {
        QString wsId;
        const QString folder = newWorkspaceFolder(&wsId);
        AgentProcess oldAgent;
        QVERIFY(startRegisteredAgent(oldAgent, folder, wsId, QStringLiteral("agent-v1")));
        const AgentAddress bound = oldAgent.address();
        oldAgent.kill();
        AgentProcess newAgent;
        QVERIFY(startRegisteredAgent(newAgent, folder, wsId, QStringLiteral("agent-v2")));
        Workspace::WorkspaceToolRunner runner(*m_directory, runnerOptions());

        const Store::Run run = startRun(QStringLiteral("wf-rebuilt"), 1);
        Outcome outcome;
        auto execution =
            makeExecution(run, writeHelloFlow(), 1, &runner, {.workspaceId = wsId, .agent = bound}, outcome);
        execution->start();
        QTRY_COMPARE_WITH_TIMEOUT(outcome.finished, 1, FastPathWaitMs);
        QCOMPARE(toString(*outcome.status), toString(RunStatus::InputRequired));
        const auto tool = latest(QStringLiteral("wf-rebuilt"), QStringLiteral("t1-s1"));
        QCOMPARE(tool->value(u"status").toString(), QStringLiteral("success"));
        QCOMPARE(workspaceContext(*tool).value(u"agentID").toString(), QStringLiteral("agent-v2"));
        QCOMPARE(workspaceContext(*tool).value(u"switchedFrom").toString(), QStringLiteral("agent-v1"));
        // Later steps use the new agent.
        QCOMPARE(execution->workspaceBinding().agent->agentId, QStringLiteral("agent-v2"));
        QCOMPARE(execution->workspaceBinding().agent->port, newAgent.port());
    }

    void refusedToolsFailTheStep_data()
    {
        QTest::addColumn<QByteArray>("flow");
        QTest::addColumn<QString>("mentions");
        QTest::newRow("path escape")
            << QByteArray(R"({"steps": [{"type": "workspace", "tool": "read_file", "args": {"path": "../runs.db"}}]})")
            << QStringLiteral("path_escape");
        QTest::newRow("command killed at its limit")
            << QByteArray(
                   R"({"steps": [{"type": "workspace", "tool": "run_command", "args": {"argv": ["sleep", "1000"], "timeoutMs": 300}}]})")
            << QStringLiteral("timed_out");
        QTest::newRow("non-zero exit")
            << QByteArray(
                   R"({"steps": [{"type": "workspace", "tool": "run_command", "args": {"argv": ["sh", "-c", "echo broken; exit 4"]}}]})")
            << QStringLiteral("exit code 4");
        QTest::newRow("unknown tool") << QByteArray(R"({"steps": [{"type": "workspace", "tool": "teleport"}]})")
                                      << QStringLiteral("has no tool 'teleport'");
    }

    void refusedToolsFailTheStep()
    {
        QFETCH(QByteArray, flow);
        QFETCH(QString, mentions);
        QString wsId;
        const QString folder = newWorkspaceFolder(&wsId);
        AgentProcess agent;
        QVERIFY(startRegisteredAgent(agent, folder, wsId, QStringLiteral("agent-strict")));
        Workspace::WorkspaceToolRunner runner(*m_directory, runnerOptions());
        const QString workflowId = QStringLiteral("wf-refused-") + QString::number(m_counter);
        const Store::Run run = startRun(workflowId, 1);
        Outcome outcome;
        auto execution =
            makeExecution(run, flowFrom(flow), 1, &runner, {.workspaceId = wsId, .agent = agent.address()}, outcome);
        execution->start();
        QTRY_COMPARE_WITH_TIMEOUT(outcome.finished, 1, 20000);
        QCOMPARE(toString(*outcome.status), toString(RunStatus::Failed));
        const auto tool = latest(workflowId, QStringLiteral("t1-s0"));
        QCOMPARE(tool->value(u"status").toString(), QStringLiteral("failure"));
        QVERIFY2(response(*tool).contains(mentions), qPrintable(response(*tool)));
    }

    void failedDiscoveryLeavesNothingBehindAndTheNextTurnRetries()
    {
        QString wsId;
        newWorkspaceFolder(&wsId);
        Test::ScriptedAgent agent(QStringLiteral("agent-shy"));
        QVERIFY(agent.listen());
        agent.answerListTools = false;
        QVERIFY(registerAgent(wsId, agent.address()));
        Workspace::ToolRunnerOptions options = runnerOptions();
        options.discoveryTimeout = std::chrono::milliseconds(300);
        Workspace::WorkspaceToolRunner runner(*m_directory, options);
        const Flow flow =
            flowFrom(R"({"steps": [{"type": "workspace", "tool": "run_command", "args": {"argv": ["true"]}}]})");

        const Store::Run run = startRun(QStringLiteral("wf-discovery"), 1);
        Outcome first;
        auto execution = makeExecution(run, flow, 1, &runner, {.workspaceId = wsId, .agent = agent.address()}, first);
        execution->start();
        QTRY_COMPARE_WITH_TIMEOUT(first.finished, 1, 20000);
        QCOMPARE(toString(*first.status), toString(RunStatus::Failed));
        const auto failed = latest(QStringLiteral("wf-discovery"), QStringLiteral("t1-s0"));
        QVERIFY2(response(*failed).contains(u"tool discovery") && response(*failed).contains(u"timed out"),
                 qPrintable(response(*failed)));
        QCOMPARE(workspaceContext(*failed).value(u"failure").toString(), QStringLiteral("discovery_failed"));
        QCOMPARE(agent.listToolsRequests, 1);
        QCOMPARE(agent.callRequests, 0);
        // No "done" marker: nothing cached for the agent.
        QVERIFY(!runner.catalog().tools(QStringLiteral("agent-shy")).has_value());
        QCOMPARE(runner.catalog().discoveries(), 0);

        // The next turn discovers again, and this time the agent answers.
        agent.answerListTools = true;
        const Store::Run again = resumeRun(QStringLiteral("wf-discovery"), 2);
        Outcome second;
        auto retry = makeExecution(again, flow, 2, &runner, execution->workspaceBinding(), second);
        retry->start();
        QTRY_COMPARE_WITH_TIMEOUT(second.finished, 1, 20000);
        QCOMPARE(toString(*second.status), toString(RunStatus::InputRequired));
        QCOMPARE(agent.listToolsRequests, 2);
        QCOMPARE(agent.callRequests, 1);
        QCOMPARE(latest(QStringLiteral("wf-discovery"), QStringLiteral("t1-s0"))->value(u"status").toString(),
                 QStringLiteral("success"));
        QCOMPARE(runner.catalog().discoveries(), 1);

        // Now it is cached: a third run does not ask again.
        const Store::Run third = startRun(QStringLiteral("wf-discovery-2"), 3);
        Outcome cached;
        auto once = makeExecution(third, flow, 3, &runner, {.workspaceId = wsId, .agent = agent.address()}, cached);
        once->start();
        QTRY_COMPARE_WITH_TIMEOUT(cached.finished, 1, 20000);
        QCOMPARE(toString(*cached.status), toString(RunStatus::InputRequired));
        QCOMPARE(agent.listToolsRequests, 2);
        QCOMPARE(agent.callRequests, 2);
    }

    void deadlineInterruptsAHangingDial()
    {
        // The original behaviour (no validation): a frozen agent's dial hangs
        // until the workflow deadline, which interrupts it.
        QString wsId;
        const QString folder = newWorkspaceFolder(&wsId);
        AgentProcess agent;
        QVERIFY(startRegisteredAgent(agent, folder, wsId, QStringLiteral("agent-ice")));
        QVERIFY(agent.freeze());
        Workspace::ToolRunnerOptions options = runnerOptions();
        options.dial.lazyValidation = false;
        Workspace::WorkspaceToolRunner runner(*m_directory, options);
        const Store::Run run = startRun(QStringLiteral("wf-deadline"), 1);
        Outcome outcome;
        auto execution =
            makeExecution(run, writeHelloFlow(), 1, &runner, {.workspaceId = wsId, .agent = agent.address()}, outcome,
                          std::chrono::milliseconds(1000));
        execution->start();
        QTRY_COMPARE_WITH_TIMEOUT(outcome.finished, 1, 20000);
        QCOMPARE(toString(*outcome.cause), toString(StopCause::Deadline));
        QCOMPARE(toString(*outcome.status), toString(RunStatus::Failed));
        const auto tool = latest(QStringLiteral("wf-deadline"), QStringLiteral("t1-s1"));
        QCOMPARE(tool->value(u"status").toString(), QStringLiteral("failure"));
        QCOMPARE(response(*tool), QStringLiteral("interrupted: workflow deadline exceeded"));
        QVERIFY(latest(QStringLiteral("wf-deadline"), QStringLiteral("t1-deadline")).has_value());
        QVERIFY(agent.thaw());
    }

    void stopRequestCancelsAWorkspaceCall()
    {
        QString wsId;
        const QString folder = newWorkspaceFolder(&wsId);
        AgentProcess agent;
        QVERIFY(startRegisteredAgent(agent, folder, wsId, QStringLiteral("agent-paused")));
        QVERIFY(agent.freeze());
        Workspace::WorkspaceToolRunner runner(*m_directory, runnerOptions());
        const Store::Run run = startRun(QStringLiteral("wf-leave"), 1);
        Outcome outcome;
        auto execution =
            makeExecution(run, writeHelloFlow(), 1, &runner, {.workspaceId = wsId, .agent = agent.address()}, outcome);
        execution->start();
        QTRY_VERIFY_WITH_TIMEOUT(latest(QStringLiteral("wf-leave"), QStringLiteral("t1-s1")).has_value(), 10000);
        QVERIFY(execution->requestStop(StopCause::ClientGone));
        QCOMPARE(outcome.finished, 0);  // served on the event loop, not inside requestStop
        QTRY_COMPARE_WITH_TIMEOUT(outcome.finished, 1, 10000);
        QCOMPARE(toString(*outcome.cause), toString(StopCause::ClientGone));
        QCOMPARE(toString(*outcome.status), toString(RunStatus::Paused));
        const auto tool = latest(QStringLiteral("wf-leave"), QStringLiteral("t1-s1"));
        QCOMPARE(tool->value(u"status").toString(), QStringLiteral("failure"));
        QCOMPARE(response(*tool), QStringLiteral("interrupted: client disconnected"));
        QVERIFY(agent.thaw());
    }

    void runWithoutAWorkspaceSaysSo()
    {
        Workspace::WorkspaceToolRunner runner(*m_directory, runnerOptions());
        const Store::Run run = startRun(QStringLiteral("wf-nows"), 1);
        Outcome outcome;
        auto execution = makeExecution(run, writeHelloFlow(), 1, &runner, {}, outcome);
        execution->start();
        QTRY_COMPARE_WITH_TIMEOUT(outcome.finished, 1, 10000);
        QCOMPARE(toString(*outcome.status), toString(RunStatus::Failed));
        QVERIFY(response(*latest(QStringLiteral("wf-nows"), QStringLiteral("t1-s1")))
                    .contains(u"not bound to a workspace"));
    }
};

QTEST_GUILESS_MAIN(TestWorkspaceFlow)
#include "tst_workspaceflow.moc"
