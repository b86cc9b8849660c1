#include "toolrunner.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QTimer>

#include "agent/agentprotocol.h"
#include "agent/workspacelog.h"
#include "workspace/agentconnection.h"
#include "workspace/agentdirectory.h"

namespace Lockstep::Workspace
{
    QString toString(const ToolFailure failure)
    {
        switch (failure)
        {
        case ToolFailure::None: return QStringLiteral("none");
        case ToolFailure::NoRunningAgent: return QStringLiteral("no_running_agent");
        case ToolFailure::AgentUnreachable: return QStringLiteral("agent_unreachable");
        case ToolFailure::Unauthorized: return QStringLiteral("unauthorized");
        case ToolFailure::WorkspaceUnstable: return QStringLiteral("workspace_unstable");
        case ToolFailure::InvalidBinding: return QStringLiteral("invalid_binding");
        case ToolFailure::DiscoveryFailed: return QStringLiteral("discovery_failed");
        case ToolFailure::UnknownTool: return QStringLiteral("unknown_tool");
        case ToolFailure::ToolError: return QStringLiteral("tool_error");
        case ToolFailure::CommandFailed: return QStringLiteral("command_failed");
        case ToolFailure::ConnectionLost: return QStringLiteral("connection_lost");
        case ToolFailure::CallTimeout: return QStringLiteral("call_timeout");
        }
        return {};
    }

    // ---- ToolCatalog -----------------------------------------------------------

    ToolCatalog::ToolCatalog(const std::chrono::milliseconds ttl)
        : m_ttl(ttl)
    {}

    std::optional<QStringList> ToolCatalog::tools(const QString &agentId) const
    {
        const auto it = m_entries.constFind(agentId);
        if (it == m_entries.constEnd() || it->age.hasExpired(m_ttl.count()))
            return std::nullopt;
        return it->tools;
    }

    void ToolCatalog::store(const QString &agentId, const QStringList &tools)
    {
        Entry entry{.tools = tools, .age = {}};
        entry.age.start();
        m_entries.insert(agentId, entry);
        ++m_discoveries;
    }

    void ToolCatalog::forget(const QString &agentId)
    {
        m_entries.remove(agentId);
    }

    int ToolCatalog::discoveries() const
    {
        return m_discoveries;
    }

    // ---- ToolCall ----------------------------------------------------------------

    ToolCall::ToolCall(WorkspaceToolRunner &runner, WorkspaceBinding binding, QString tool, QJsonObject args,
                       QObject *parent)
        : QObject(parent)
        , m_runner(runner)
        , m_binding(std::move(binding))
        , m_tool(std::move(tool))
        , m_args(std::move(args))
        , m_dialer(new AgentDialer(runner.directory(), runner.options().dial, this))
    {
        connect(m_dialer, &AgentDialer::connected, this, &ToolCall::onConnected);
        connect(m_dialer, &AgentDialer::failed, this, &ToolCall::onDialFailed);
        connect(m_dialer, &AgentDialer::switched, this,
                [this](const std::optional<AgentAddress> &from, const AgentAddress &) {
                    if (from && !m_switchedFrom)
                        m_switchedFrom = from;
                });
    }

    ToolCall::~ToolCall()
    {
        if (m_connection)
            m_connection->abort();
    }

    void ToolCall::start()
    {
        m_dialer->start(m_binding);
    }

    void ToolCall::cancel()
    {
        if (m_done)
            return;
        m_done = true;
        m_dialer->cancel();
        if (m_connection)
        {
            m_connection->abort();
            m_connection.release()->deleteLater();
        }
    }

    bool ToolCall::isFinished() const
    {
        return m_outcome.has_value();
    }

    const std::optional<ToolOutcome> &ToolCall::outcome() const
    {
        return m_outcome;
    }

    const AgentDialer &ToolCall::dialer() const
    {
        return *m_dialer;
    }

    ToolOutcome ToolCall::base() const
    {
        ToolOutcome outcome;
        outcome.agent = m_agent ? m_agent : m_dialer->currentAgent();
        outcome.switchedFrom = m_switchedFrom;
        outcome.dialEvents = m_dialer->events();
        outcome.discoveryCached = m_discoveryCached;
        return outcome;
    }

    void ToolCall::onDialFailed(const DialError &error)
    {
        ToolOutcome outcome = base();
        outcome.terminal = error.terminal;
        outcome.response = error.message;
        switch (error.failure)
        {
        case DialFailure::NoRunningAgent: outcome.failure = ToolFailure::NoRunningAgent; break;
        case DialFailure::Timeout: outcome.failure = ToolFailure::AgentUnreachable; break;
        case DialFailure::Unauthorized: outcome.failure = ToolFailure::Unauthorized; break;
        case DialFailure::TooManySwitches: outcome.failure = ToolFailure::WorkspaceUnstable; break;
        case DialFailure::InvalidBinding: outcome.failure = ToolFailure::InvalidBinding; break;
        }
        finish(std::move(outcome));
    }

    void ToolCall::onConnected(const AgentAddress &agent)
    {
        if (m_done)
            return;
        m_agent = agent;
        m_runner.rememberAgent(agent);
        m_connection.reset(m_dialer->takeConnection());
        if (!m_connection)
        {
            ToolOutcome outcome = base();
            outcome.failure = ToolFailure::ConnectionLost;
            outcome.response = QStringLiteral("the connection to the workspace agent was lost");
            finish(std::move(outcome));
            return;
        }
        if (const std::optional<QStringList> known = m_runner.catalog().tools(agent.agentId))
        {
            m_discoveryCached = true;
            onTools(*known);
            return;
        }
        const std::chrono::milliseconds timeout = m_runner.options().discoveryTimeout;
        m_connection->listTools(timeout, this, [this, timeout](const Result<QJsonObject, AgentError> &reply) {
            if (m_done)
                return;
            if (!reply)
            {
                ToolOutcome outcome = base();
                outcome.failure = ToolFailure::DiscoveryFailed;
                outcome.response = reply.error().kind == AgentError::Kind::Timeout
                                       ? QStringLiteral("tool discovery on workspace agent %1 timed out after %2 ms")
                                             .arg(m_agent->agentId)
                                             .arg(timeout.count())
                                       : QStringLiteral("tool discovery on workspace agent %1 failed: %2")
                                             .arg(m_agent->agentId, reply.error().message);
                finish(std::move(outcome));
                return;
            }
            QStringList names;
            const QJsonArray tools = reply->value(u"tools").toArray();
            for (const QJsonValue &tool : tools)
            {
                const QString name = tool.toObject().value(u"name").toString();
                if (!name.isEmpty())
                    names.append(name);
            }
            // Marked done only now, after a successful answer.
            m_runner.catalog().store(m_agent->agentId, names);
            onTools(names);
        });
    }

    void ToolCall::onTools(const QStringList &tools)
    {
        if (!tools.contains(m_tool))
        {
            ToolOutcome outcome = base();
            outcome.failure = ToolFailure::UnknownTool;
            outcome.terminal = true;
            outcome.response = QStringLiteral("workspace agent %1 has no tool '%2' (it offers: %3)")
                                   .arg(m_agent->agentId, m_tool, tools.join(u", "));
            finish(std::move(outcome));
            return;
        }
        callTool();
    }

    void ToolCall::callTool()
    {
        const ToolRunnerOptions &options = m_runner.options();
        std::chrono::milliseconds timeout = options.callTimeout;
        if (m_tool == Wire::Tools::RunCommand && m_args.value(u"timeoutMs").isDouble())
            timeout = std::chrono::milliseconds{static_cast<qint64>(m_args.value(u"timeoutMs").toDouble())} +
                      options.callMargin;
        m_connection->call(m_tool, m_args, timeout, this, [this](const Result<QJsonObject, AgentError> &reply) {
            if (m_done)
                return;
            ToolOutcome outcome = base();
            if (reply)
            {
                const QJsonObject &result = reply.value();
                outcome.response = WorkspaceToolRunner::describeResult(m_tool, result);
                const int exitCode = result.value(u"exitCode").toInt(0);
                if (m_tool == Wire::Tools::RunCommand && (exitCode != 0 || result.value(u"crashed").toBool()))
                {
                    outcome.failure = ToolFailure::CommandFailed;
                    outcome.response = QStringLiteral("exit code %1\n").arg(exitCode) + outcome.response;
                }
                else
                {
                    outcome.success = true;
                }
                finish(std::move(outcome));
                return;
            }
            const AgentError &error = reply.error();
            switch (error.kind)
            {
            case AgentError::Kind::Remote:
                outcome.failure = ToolFailure::ToolError;
                outcome.errorCode = error.code;
                outcome.response = error.code + u": " + error.message;
                if (!error.output.isEmpty())
                    outcome.response += u'\n' + error.output;
                break;
            case AgentError::Kind::Timeout:
                outcome.failure = ToolFailure::CallTimeout;
                outcome.response = QStringLiteral("the workspace agent did not answer the call: ") + error.message;
                break;
            default:
                outcome.failure = ToolFailure::ConnectionLost;
                outcome.response = error.message;
                break;
            }
            finish(std::move(outcome));
        });
    }

    void ToolCall::finish(ToolOutcome outcome)
    {
        if (m_done)
            return;
        m_done = true;
        if (m_connection)
        {
            m_connection->abort();
            m_connection.release()->deleteLater();
        }
        qCInfo(lcWorkspace).noquote() << "workspace" << m_binding.workspaceId << "tool" << m_tool << ":"
                                      << (outcome.success ? QStringLiteral("success") : toString(outcome.failure));
        m_outcome = outcome;
        emit finished(*m_outcome);
    }

    // ---- WorkspaceToolRunner ----------------------------------------------------------

    WorkspaceToolRunner::WorkspaceToolRunner(AgentDirectory &directory, ToolRunnerOptions options, QObject *parent)
        : QObject(parent)
        , m_directory(directory)
        , m_options(std::move(options))
        , m_catalog(m_options.catalogTtl)
    {}

    WorkspaceToolRunner::~WorkspaceToolRunner() = default;

    ToolCall *WorkspaceToolRunner::run(const WorkspaceBinding &binding, const QString &tool, const QJsonObject &args,
                                       QObject *parent)
    {
        auto *call = new ToolCall(*this, binding, tool, args, parent);
        call->start();
        return call;
    }

    ToolCatalog &WorkspaceToolRunner::catalog()
    {
        return m_catalog;
    }

    const ToolRunnerOptions &WorkspaceToolRunner::options() const
    {
        return m_options;
    }

    AgentDirectory &WorkspaceToolRunner::directory()
    {
        return m_directory;
    }

    QString WorkspaceToolRunner::describeResult(const QString &tool, const QJsonObject &result)
    {
        if (tool == Wire::Tools::RunCommand)
        {
            const QString output = result.value(u"output").toString();
            return output.isEmpty() ? QStringLiteral("(no output)") : output;
        }
        if (tool == Wire::Tools::ReadFile)
            return result.value(u"content").toString();
        if (tool == Wire::Tools::WriteFile)
            return QStringLiteral("wrote %1 bytes to %2")
                .arg(static_cast<qint64>(result.value(u"bytesWritten").toDouble()))
                .arg(result.value(u"path").toString());
        if (tool == Wire::Tools::ListDir)
        {
            QStringList lines;
            const QJsonArray entries = result.value(u"entries").toArray();
            for (const QJsonValue &value : entries)
            {
                const QJsonObject entry = value.toObject();
                const QString name = entry.value(u"name").toString();
                lines.append(entry.value(u"type").toString() == u"dir" ? name + u'/' : name);
            }
            if (result.value(u"truncated").toBool())
                lines.append(QStringLiteral("… (more entries not listed)"));
            return lines.isEmpty() ? QStringLiteral("(empty folder)") : lines.join(u'\n');
        }
        return QString::fromUtf8(QJsonDocument(result).toJson(QJsonDocument::Compact));
    }

    std::optional<AgentAddress> WorkspaceToolRunner::knownAgent(const QString &agentId) const
    {
        const auto found = m_knownAgents.constFind(agentId);
        if (found == m_knownAgents.constEnd())
            return std::nullopt;
        return *found;
    }

    void WorkspaceToolRunner::rememberAgent(const AgentAddress &agent)
    {
        // A bounded hint: forget everything rather than grow without end.
        if (m_knownAgents.size() >= 4096 && !m_knownAgents.contains(agent.agentId))
            m_knownAgents.clear();
        m_knownAgents.insert(agent.agentId, agent);
    }
}  // namespace Lockstep::Workspace
