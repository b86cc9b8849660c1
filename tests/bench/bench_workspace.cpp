// Time to the failure entry for a stopped workspace (SPEC fix 4), against the
// original behaviour in the same run: a workspace step whose run is bound to
// a stopped workspace's old agent. New: lazy validation (dial, and look the
// workspace up only when the dial fails or is slow). Baseline: no validation,
// the dial retries the bound agent until the workflow deadline.
//
// The baseline is the same AgentDialer with lazyValidation off (the original
// behaviour SPEC.md describes), not a separate model: same flow, store, agent
// process and stopped workspace, the only difference being the switch. Its
// deadline is shortened to --deadline-ms, which favours the baseline.
//
// Real lockstep-agent processes, a real SQLite store, the real Execution.
//
//   bench_workspace [--deadline-ms N] [--runs N]
//     --deadline-ms  the workflow deadline of the baseline (default 10000;
//                    the production default is 5 min, so the real baseline is
//                    30x worse than printed)
//     --runs         repetitions of the fast scenarios (default 20)

#include <algorithm>
#include <cstdio>

#include <QCoreApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QLoggingCategory>
#include <QTemporaryDir>
#include <QTest>

#include "agentprocess.h"
#include "flows/execution.h"
#include "store/runstore.h"
#include "store/storeworker.h"
#include "store/workspacestore.h"
#include "workspace/agentdirectory.h"
#include "workspace/toolrunner.h"

using namespace Lockstep;

namespace
{
    // Counts lookups: the happy path must not make any.
    class CountingDirectory final : public Workspace::AgentDirectory
    {
    public:
        explicit CountingDirectory(Workspace::AgentDirectory &inner)
            : m_inner(inner)
        {}
        void lookupCurrentAgent(const QString &workspaceId, QObject *context, LookupDone done) override
        {
            ++lookups;
            m_inner.lookupCurrentAgent(workspaceId, context, std::move(done));
        }
        int lookups = 0;

    private:
        Workspace::AgentDirectory &m_inner;
    };

    struct Sample
    {
        double ms = -1;  // start -> the step's final entry; -1: none
        QString status;  // the tool entry's final status
        QString response;
    };

    struct Bench
    {
        QTemporaryDir dir;
        QString tokenFile;
        std::unique_ptr<Store::RunStore> store;
        std::unique_ptr<Store::StoreWorker> worker;  // in place, over store
        std::unique_ptr<Workspace::StoreAgentDirectory> directory;
        std::unique_ptr<CountingDirectory> counting;
        int counter = 0;
        qint64 fence = 0;
    };

    Flows::Flow stepFlow()
    {
        auto parsed = Flows::Flow::parse(R"({"steps": [
            {"type": "workspace", "tool": "run_command", "args": {"argv": ["sh", "-c", "echo hello"]}},
            {"type": "agent", "content": "done"}
        ]})",
                                         QStringLiteral("bench.json"));
        if (!parsed)
            qFatal("%s", qPrintable(parsed.error().toString()));
        return std::move(parsed).value();
    }

    Workspace::ToolRunnerOptions runnerOptions(const bool lazy, const std::chrono::milliseconds dialTimeout)
    {
        Workspace::ToolRunnerOptions options;  // defaults: dial delay 5 s, discovery 5 s
        options.dial.token = Test::AgentTestToken;
        options.dial.lazyValidation = lazy;
        options.dial.dialTimeout = dialTimeout;
        return options;
    }

    // One run of the flow; the time until the workspace step's final entry.
    Sample runOnce(Bench &bench, Workspace::WorkspaceToolRunner &runner, const Workspace::WorkspaceBinding &binding,
                   const std::chrono::milliseconds deadline)
    {
        const QString workflowId = QStringLiteral("bench-%1").arg(++bench.counter);
        const qint64 fence = ++bench.fence;
        if (!bench.store->createRun(workflowId, QStringLiteral("bench"), QStringLiteral("bench"), fence))
            qFatal("createRun failed");
        const auto resumed = bench.store->resume(workflowId, fence, std::nullopt);
        if (!resumed || !resumed->run)
            qFatal("resume failed");
        Flows::ExecutionOptions options{.userMessage = {}, .delayScale = 0.0, .deadline = deadline};
        options.workspaceTools = &runner;
        options.workspace = binding;
        Flows::Execution execution(*bench.worker, *resumed->run, stepFlow(), fence, options);
        Sample sample;
        QElapsedTimer clock;
        bool done = false;
        QObject::connect(
            &execution, &Flows::Execution::entryPersisted, &execution,
            [&](const QString &, const Store::StoredEntry &entry) {
                const QString status = entry.entry.value(u"status").toString();
                if (entry.entry.value(u"message_id").toString() == u"t1-s0" && status != u"pending" && sample.ms < 0)
                {
                    sample.ms = static_cast<double>(clock.nsecsElapsed()) / 1e6;
                    sample.status = status;
                    sample.response = entry.entry.value(u"tool_info").toObject().value(u"tool_response").toString();
                }
            });
        QObject::connect(&execution, &Flows::Execution::finished, &execution, [&] { done = true; });
        clock.start();
        execution.start();
        if (!QTest::qWaitFor([&] { return done; }, static_cast<int>(deadline.count()) + 60000))
            qFatal("the execution did not finish");
        return sample;
    }

    QString describe(QList<double> values)
    {
        if (values.isEmpty())
            return QStringLiteral("n/a");
        std::sort(values.begin(), values.end());
        const auto at = [&](const double q) {
            return values.at(
                std::min<qsizetype>(values.size() - 1, static_cast<qsizetype>(q * static_cast<double>(values.size()))));
        };
        return QStringLiteral("median %1 ms, p95 %2 ms, max %3 ms (n=%4)")
            .arg(at(0.5), 0, 'f', 2)
            .arg(at(0.95), 0, 'f', 2)
            .arg(values.constLast(), 0, 'f', 2)
            .arg(values.size());
    }

    // Every setup write must succeed, or the figures mean nothing.
    template <typename T>
    void must(const Store::StoreResult<T> &result)
    {
        if (!result)
            qFatal("store: %s", qPrintable(result.error().message));
    }

    void line(const QString &text)
    {
        printf("%s\n", qPrintable(text));
        fflush(stdout);
    }
}  // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    int runs = 20;
    std::chrono::milliseconds deadline{10000};
    const QStringList args = QCoreApplication::arguments();
    for (qsizetype i = 1; i + 1 < args.size(); i += 2)
    {
        if (args.at(i) == u"--runs")
            runs = std::max(1, args.at(i + 1).toInt());
        else if (args.at(i) == u"--deadline-ms")
            deadline = std::chrono::milliseconds(std::max(1000, args.at(i + 1).toInt()));
    }
    if (qEnvironmentVariableIsEmpty("LOCKSTEP_AGENT_BIN"))
        qputenv("LOCKSTEP_AGENT_BIN", LOCKSTEP_AGENT_BIN_DEFAULT);
    QLoggingCategory::setFilterRules(QStringLiteral("lockstep.*.debug=false\nlockstep.*.info=false"));

    Bench bench;
    bench.tokenFile = bench.dir.filePath(QStringLiteral("tokens"));
    Test::writeTokenFile(bench.tokenFile, Test::AgentTestToken);
    auto store = Store::RunStore::open(QStringLiteral("sqlite:") + bench.dir.filePath(QStringLiteral("runs.db")));
    if (!store)
        qFatal("store: %s", qPrintable(store.error().message));
    bench.store = std::move(store).value();
    bench.worker = Store::StoreWorker::inPlace(*bench.store);
    bench.directory = std::make_unique<Workspace::StoreAgentDirectory>(*bench.worker);
    bench.counting = std::make_unique<CountingDirectory>(*bench.directory);

    const QString folder = bench.dir.filePath(QStringLiteral("ws"));
    QDir().mkpath(folder);
    const QString wsId = QStringLiteral("ws-bench");

    line(QStringLiteral(
        "bench_workspace: a workspace step bound to an agent; time from Execution::start() to the step's final chat-log entry"));
    line(QStringLiteral("dial delay 5000 ms (default), baseline deadline %1 ms (production default 300000 ms)")
             .arg(deadline.count()));

    // ---- healthy agent: the happy path makes no directory lookup ----
    {
        Test::AgentProcess agent;
        if (!agent.start(folder, wsId, QStringLiteral("agent-healthy"), bench.tokenFile))
            qFatal("%s", qPrintable(agent.errorString()));
        must(bench.store->workspaces().registerWorkspaceAgent(wsId, agent.agentId(), QStringLiteral("127.0.0.1"),
                                                              agent.port()));
        Workspace::WorkspaceToolRunner runner(*bench.counting, runnerOptions(true, std::chrono::seconds(30)));
        QList<double> times;
        bench.counting->lookups = 0;
        for (int i = 0; i < runs; ++i)
        {
            const Sample sample = runOnce(bench, runner, {.workspaceId = wsId, .agent = agent.address()}, deadline);
            if (sample.status != u"success")
                qFatal("healthy run failed: %s", qPrintable(sample.response));
            times.append(sample.ms);
        }
        line(QStringLiteral("healthy agent, lazy validation:            ") + describe(times) +
             QStringLiteral("; directory lookups: %1").arg(bench.counting->lookups));
        agent.terminate();
    }

    // ---- stopped workspace: the agent exited and the store knows ----
    Test::AgentProcess stopped;
    if (!stopped.start(folder, wsId, QStringLiteral("agent-stopped"), bench.tokenFile))
        qFatal("%s", qPrintable(stopped.errorString()));
    must(bench.store->workspaces().registerWorkspaceAgent(wsId, stopped.agentId(), QStringLiteral("127.0.0.1"),
                                                          stopped.port()));
    const Workspace::AgentAddress stoppedAddress = stopped.address();
    stopped.terminate();
    must(bench.store->workspaces().stopWorkspace(wsId, stoppedAddress.agentId));
    {
        Workspace::WorkspaceToolRunner lazy(*bench.directory, runnerOptions(true, std::chrono::seconds(30)));
        QList<double> times;
        QString response;
        for (int i = 0; i < runs; ++i)
        {
            const Sample sample = runOnce(bench, lazy, {.workspaceId = wsId, .agent = stoppedAddress}, deadline);
            if (sample.status != u"failure")
                qFatal("expected a failure");
            times.append(sample.ms);
            response = sample.response;
        }
        line(QStringLiteral("stopped workspace, lazy validation:        ") + describe(times));
        line(QStringLiteral("  failure entry: ") + response);
    }
    {
        // The original behaviour: the dial retries until the workflow deadline.
        Workspace::WorkspaceToolRunner old(*bench.directory, runnerOptions(false, std::chrono::hours(1)));
        const Sample sample = runOnce(bench, old, {.workspaceId = wsId, .agent = stoppedAddress}, deadline);
        line(QStringLiteral("stopped workspace, baseline (no validation): %1 ms (n=1) -> %2")
                 .arg(sample.ms, 0, 'f', 2)
                 .arg(sample.response));
    }

    // ---- stopped workspace whose old agent hangs (frozen: the dial never completes) ----
    Test::AgentProcess frozen;
    if (!frozen.start(folder, wsId, QStringLiteral("agent-frozen"), bench.tokenFile))
        qFatal("%s", qPrintable(frozen.errorString()));
    must(bench.store->workspaces().registerWorkspaceAgent(wsId, frozen.agentId(), QStringLiteral("127.0.0.1"),
                                                          frozen.port()));
    must(bench.store->workspaces().stopWorkspace(wsId, frozen.agentId()));
    frozen.freeze();
    {
        Workspace::WorkspaceToolRunner lazy(*bench.directory, runnerOptions(true, std::chrono::seconds(30)));
        const Sample sample = runOnce(bench, lazy, {.workspaceId = wsId, .agent = frozen.address()}, deadline);
        line(QStringLiteral("hanging agent, lazy validation:            %1 ms (n=1; the dial delay is 5000 ms) -> %2")
                 .arg(sample.ms, 0, 'f', 2)
                 .arg(sample.response));
    }
    {
        Workspace::WorkspaceToolRunner old(*bench.directory, runnerOptions(false, std::chrono::hours(1)));
        const Sample sample = runOnce(bench, old, {.workspaceId = wsId, .agent = frozen.address()}, deadline);
        line(QStringLiteral("hanging agent, baseline (no validation):   %1 ms (n=1) -> %2")
                 .arg(sample.ms, 0, 'f', 2)
                 .arg(sample.response));
    }
    frozen.thaw();
    frozen.terminate();
    return 0;
}
