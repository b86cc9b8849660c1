#pragma once

#include <chrono>
#include <memory>
#include <optional>

#include <QElapsedTimer>
#include <QHash>
#include <QJsonObject>
#include <QList>
#include <QObject>
#include <QPointer>
#include <QString>
#include <QStringList>

#include "agent/agentaddress.h"
#include "workspace/agentdialer.h"

namespace Lockstep::Workspace
{
    class AgentConnection;
    class AgentDirectory;

    struct ToolRunnerOptions
    {
        DialOptions dial;
        // Tool discovery (listTools) before a step is bounded by this.
        std::chrono::milliseconds discoveryTimeout{5000};
        // How long a successful discovery is reused for the same agent ID.
        std::chrono::milliseconds catalogTtl{10 * 60 * 1000};
        // The answer to a call; run_command with timeoutMs waits that long plus callMargin.
        std::chrono::milliseconds callTimeout{60000};
        std::chrono::milliseconds callMargin{5000};
    };

    enum class ToolFailure
    {
        None,
        NoRunningAgent,     // the workspace is stopped: start it (terminal)
        AgentUnreachable,   // the dial timed out
        Unauthorized,       // the agent refused the gateway's token (terminal)
        WorkspaceUnstable,  // rebuilt again and again while dialing (terminal)
        InvalidBinding,     // no or a malformed workspace ID (terminal)
        DiscoveryFailed,    // listTools failed or timed out (retried next time: nothing is cached)
        UnknownTool,        // the agent does not offer the tool (terminal)
        ToolError,          // the agent refused or failed the call (see errorCode)
        CommandFailed,      // run_command ended with a non-zero exit code
        ConnectionLost,     // the agent went away during the call
        CallTimeout,        // no answer to the call in time
    };
    QString toString(ToolFailure failure);  // "no_running_agent", ...

    struct ToolOutcome
    {
        bool success = false;
        ToolFailure failure = ToolFailure::None;
        // The chat log's tool_response: the tool's output on success, on
        // failure the reason (and any output), e.g. "workspace has no running agent ...".
        QString response;
        QString errorCode;                         // ToolError: the agent's code (path_escape, timed_out, ...)
        bool terminal = false;                     // waiting or retrying at once cannot help
        std::optional<AgentAddress> agent;         // the agent that served the call (or was dialed last)
        std::optional<AgentAddress> switchedFrom;  // the stale agent, when the dial switched
        QList<DialEvent> dialEvents;
        bool discoveryCached = false;  // the tool list came from the catalog
    };

    // The tools each agent offers, by agent ID. Only successful discoveries
    // are kept: a failed or timed-out one leaves nothing behind, so the next
    // step (or turn) discovers again.
    class ToolCatalog
    {
    public:
        explicit ToolCatalog(std::chrono::milliseconds ttl);

        std::optional<QStringList> tools(const QString &agentId) const;
        void store(const QString &agentId, const QStringList &tools);
        void forget(const QString &agentId);
        // listTools round trips that succeeded (for tests and the benchmark).
        int discoveries() const;

    private:
        struct Entry
        {
            QStringList tools;
            QElapsedTimer age;
        };
        std::chrono::milliseconds m_ttl;
        QHash<QString, Entry> m_entries;
        int m_discoveries = 0;
    };

    class WorkspaceToolRunner;

    // One tool call in a workspace: dial (lazy validation), discover (bounded,
    // cached), call, close. finished() comes exactly once, on the event loop,
    // unless cancel() came first.
    class ToolCall final : public QObject
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(ToolCall)

    public:
        ~ToolCall() override;

        // Stops dialing or waiting and closes the connection; no signal follows.
        void cancel();
        bool isFinished() const;
        const std::optional<ToolOutcome> &outcome() const;
        // The dialer (tests read its events and attempt counts).
        const AgentDialer &dialer() const;

    signals:
        void finished(const Lockstep::Workspace::ToolOutcome &outcome);

    private:
        friend class WorkspaceToolRunner;
        ToolCall(WorkspaceToolRunner &runner, WorkspaceBinding binding, QString tool, QJsonObject args,
                 QObject *parent);

        void start();
        void onConnected(const AgentAddress &agent);
        void onDialFailed(const DialError &error);
        void onTools(const QStringList &tools);
        void callTool();
        void finish(ToolOutcome outcome);
        ToolOutcome base() const;

        WorkspaceToolRunner &m_runner;
        WorkspaceBinding m_binding;
        QString m_tool;
        QJsonObject m_args;
        AgentDialer *m_dialer = nullptr;
        std::unique_ptr<AgentConnection> m_connection;
        std::optional<AgentAddress> m_agent;
        std::optional<AgentAddress> m_switchedFrom;
        bool m_discoveryCached = false;
        bool m_done = false;
        std::optional<ToolOutcome> m_outcome;
    };

    // The gateway's way into workspaces: one per gateway (per thread), shared
    // by every execution; holds the directory, the options and the tool catalog.
    class WorkspaceToolRunner final : public QObject
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(WorkspaceToolRunner)

    public:
        // `directory` must outlive the runner; the runner must outlive its calls.
        WorkspaceToolRunner(AgentDirectory &directory, ToolRunnerOptions options, QObject *parent = nullptr);
        ~WorkspaceToolRunner() override;

        // Starts a call; the ToolCall is a child of `parent` (delete it when done).
        ToolCall *run(const WorkspaceBinding &binding, const QString &tool, const QJsonObject &args, QObject *parent);

        ToolCatalog &catalog();
        const ToolRunnerOptions &options() const;
        AgentDirectory &directory();

        // The address (secret included) of an agent a call of this runner
        // connected to, if any: lets a run that remembers only the agent's ID
        // dial it first. nullopt: not known here (then look it up).
        std::optional<AgentAddress> knownAgent(const QString &agentId) const;
        void rememberAgent(const AgentAddress &agent);

        // The chat-log text of a tool's result object.
        static QString describeResult(const QString &tool, const QJsonObject &result);

    private:
        AgentDirectory &m_directory;
        ToolRunnerOptions m_options;
        ToolCatalog m_catalog;
        QHash<QString, AgentAddress> m_knownAgents;  // by agent ID
    };
}  // namespace Lockstep::Workspace
