#include "agentdialer.h"

#include <QPointer>

#include "agent/workspacelog.h"
#include "workspace/agentdirectory.h"

namespace Lockstep::Workspace
{
    QString toString(const DialFailure failure)
    {
        switch (failure)
        {
        case DialFailure::NoRunningAgent: return QStringLiteral("no_running_agent");
        case DialFailure::Timeout: return QStringLiteral("timeout");
        case DialFailure::Unauthorized: return QStringLiteral("unauthorized");
        case DialFailure::TooManySwitches: return QStringLiteral("too_many_switches");
        case DialFailure::InvalidBinding: return QStringLiteral("invalid_binding");
        }
        return {};
    }

    QString toString(const DialEvent event)
    {
        switch (event)
        {
        case DialEvent::Dial: return QStringLiteral("dial");
        case DialEvent::QuickFailure: return QStringLiteral("quick_failure");
        case DialEvent::DelayElapsed: return QStringLiteral("delay_elapsed");
        case DialEvent::Lookup: return QStringLiteral("lookup");
        case DialEvent::LookupFailed: return QStringLiteral("lookup_failed");
        case DialEvent::SameAgent: return QStringLiteral("same_agent");
        case DialEvent::NoAgent: return QStringLiteral("no_agent");
        case DialEvent::OtherAgent: return QStringLiteral("other_agent");
        case DialEvent::AttemptCancelled: return QStringLiteral("attempt_cancelled");
        case DialEvent::Retry: return QStringLiteral("retry");
        case DialEvent::Connected: return QStringLiteral("connected");
        case DialEvent::TimedOut: return QStringLiteral("timed_out");
        case DialEvent::Failed: return QStringLiteral("failed");
        case DialEvent::Cancelled: return QStringLiteral("cancelled");
        }
        return {};
    }

    AgentDialer::AgentDialer(AgentDirectory &directory, DialOptions options, QObject *parent)
        : QObject(parent)
        , m_directory(directory)
        , m_options(std::move(options))
    {
        m_delayTimer.setSingleShot(true);
        m_deadlineTimer.setSingleShot(true);
        m_retryTimer.setSingleShot(true);
        connect(&m_delayTimer, &QTimer::timeout, this, &AgentDialer::onDelay);
        connect(&m_deadlineTimer, &QTimer::timeout, this, &AgentDialer::onDeadline);
        connect(&m_retryTimer, &QTimer::timeout, this, &AgentDialer::onRetry);
    }

    AgentDialer::~AgentDialer()
    {
        // Children (the attempt, an untaken connection) go with us; make sure
        // a pending attempt's socket is closed before anything else happens.
        if (m_attempt)
            m_attempt->abort();
    }

    void AgentDialer::start(const WorkspaceBinding &binding)
    {
        if (m_started)
        {
            qCWarning(lcWorkspace) << "AgentDialer::start called twice";
            return;
        }
        m_started = true;
        m_workspaceId = binding.workspaceId;
        m_deadlineTimer.start(m_options.dialTimeout);
        // Signals never come from inside start(): begin on the event loop.
        QTimer::singleShot(0, this, [this, agent = binding.agent] {
            if (m_finished)
                return;
            if (!isValidWorkspaceId(m_workspaceId))
            {
                fail(DialFailure::InvalidBinding, QStringLiteral("'%1' is not a valid workspace ID").arg(m_workspaceId),
                     true);
                return;
            }
            if (agent)
                dial(*agent);
            else
                validate(Trigger::Unbound);
        });
    }

    void AgentDialer::cancel()
    {
        if (m_finished)
        {
            if (m_ready)
            {
                m_ready->abort();
                m_ready->deleteLater();
                m_ready = nullptr;
            }
            return;
        }
        m_finished = true;
        stopTimers();
        cancelAttempt();
        record(DialEvent::Cancelled);
    }

    AgentConnection *AgentDialer::takeConnection()
    {
        AgentConnection *connection = m_ready;
        m_ready = nullptr;
        if (connection)
            connection->setParent(nullptr);
        return connection;
    }

    std::optional<AgentAddress> AgentDialer::currentAgent() const
    {
        return m_current;
    }

    QList<DialEvent> AgentDialer::events() const
    {
        return m_events;
    }

    int AgentDialer::attempts(const QString &agentId) const
    {
        return m_attempts.value(agentId);
    }

    int AgentDialer::switches() const
    {
        return m_switches;
    }

    bool AgentDialer::isFinished() const
    {
        return m_finished;
    }

    void AgentDialer::dial(const AgentAddress &agent)
    {
        m_current = agent;
        ++m_attempts[agent.agentId];
        record(DialEvent::Dial);
        qCDebug(lcWorkspace).noquote() << "workspace" << m_workspaceId << ": dialing" << agent.toString();
        m_attempt = new AgentConnection(this);
        connect(m_attempt, &AgentConnection::ready, this, &AgentDialer::onReady);
        connect(m_attempt, &AgentConnection::failed, this, &AgentDialer::onAttemptFailed);
        m_attempt->open(agent, agent.secret.isEmpty() ? m_options.token : agent.secret);
        if (m_options.lazyValidation)
            m_delayTimer.start(m_options.dialDelay);
    }

    void AgentDialer::onReady()
    {
        if (m_finished || !m_attempt)
            return;
        stopTimers();
        m_ready = m_attempt;
        m_attempt = nullptr;
        disconnect(m_ready, nullptr, this, nullptr);
        m_finished = true;
        record(DialEvent::Connected);
        qCInfo(lcWorkspace).noquote() << "workspace" << m_workspaceId << ": connected to" << m_current->toString();
        emit connected(*m_current);
    }

    void AgentDialer::onAttemptFailed(const AgentError &error)
    {
        if (m_finished || !m_attempt)
            return;
        // Not deleted inside its own signal.
        m_attempt->deleteLater();
        m_attempt = nullptr;
        m_delayTimer.stop();
        m_lastProblem = error.message;
        qCInfo(lcWorkspace).noquote() << "workspace" << m_workspaceId << ":" << error.message;
        if (error.kind == AgentError::Kind::Unauthorized)
        {
            fail(DialFailure::Unauthorized,
                 QStringLiteral("workspace agent %1 refused the gateway's token").arg(m_current->agentId), true);
            return;
        }
        record(DialEvent::QuickFailure);
        if (m_options.lazyValidation)
            validate(Trigger::QuickFailure);
        else
            scheduleRetry();
    }

    void AgentDialer::onDelay()
    {
        if (m_finished || !m_attempt)
            return;
        record(DialEvent::DelayElapsed);
        qCInfo(lcWorkspace).noquote() << "workspace" << m_workspaceId << ":" << m_current->toString()
                                      << "has not answered in" << m_options.dialDelay.count()
                                      << "ms; checking the workspace's current agent";
        validate(Trigger::DelayElapsed);
    }

    void AgentDialer::onDeadline()
    {
        if (m_finished)
            return;
        record(DialEvent::TimedOut);
        cancelAttempt();
        QString message = m_current ? QStringLiteral("workspace agent %1 did not answer within %2 ms")
                                          .arg(m_current->agentId)
                                          .arg(m_options.dialTimeout.count())
                                    : QStringLiteral("could not find the agent of workspace %1 within %2 ms")
                                          .arg(m_workspaceId)
                                          .arg(m_options.dialTimeout.count());
        if (!m_lastProblem.isEmpty())
            message += u" (" + m_lastProblem + u')';
        fail(DialFailure::Timeout, message, false);
    }

    void AgentDialer::onRetry()
    {
        if (m_finished)
            return;
        record(DialEvent::Retry);
        if (m_current)
            dial(*m_current);
        else
            validate(Trigger::Unbound);
    }

    void AgentDialer::validate(const Trigger trigger)
    {
        record(DialEvent::Lookup);
        m_directory.lookupCurrentAgent(m_workspaceId, this, [this, trigger](const AgentDirectory::Lookup &lookup) {
            // The attempt may have connected (or the deadline passed) meanwhile.
            if (!m_finished)
                onLookup(trigger, lookup);
        });
    }

    void AgentDialer::onLookup(const Trigger trigger, const AgentDirectory::Lookup &lookup)
    {
        if (!lookup)
        {
            // Proves nothing about the agent: keep waiting within dialTimeout.
            record(DialEvent::LookupFailed);
            m_lastProblem =
                QStringLiteral("the workspace's current agent could not be checked: ") + lookup.error().message;
            qCWarning(lcWorkspace).noquote() << "workspace" << m_workspaceId << ":" << m_lastProblem;
            keepWaiting();
            return;
        }
        if (!lookup.value())
        {
            record(DialEvent::NoAgent);
            cancelAttempt();
            qCInfo(lcWorkspace).noquote() << "workspace" << m_workspaceId << "has no running agent"
                                          << (trigger == Trigger::DelayElapsed ? "(found after the dial delay)" : "");
            fail(DialFailure::NoRunningAgent,
                 QStringLiteral("workspace has no running agent (workspace %1): start the workspace and try again")
                     .arg(m_workspaceId),
                 true);
            return;
        }
        const AgentAddress now = *lookup.value();
        if (m_current && (now == *m_current))
        {
            record(DialEvent::SameAgent);
            keepWaiting();
            return;
        }
        record(DialEvent::OtherAgent);
        cancelAttempt();
        const std::optional<AgentAddress> from = m_current;
        if (from)
        {
            if (m_switches >= m_options.maxSwitches)
            {
                fail(DialFailure::TooManySwitches,
                     QStringLiteral("workspace %1 changed its agent more than %2 times while dialing")
                         .arg(m_workspaceId)
                         .arg(m_options.maxSwitches),
                     true);
                return;
            }
            ++m_switches;
            qCInfo(lcWorkspace).noquote() << "workspace" << m_workspaceId << "was rebuilt: switching from"
                                          << from->toString() << "to" << now.toString();
        }
        const QPointer<AgentDialer> self(this);
        emit switched(from, now);
        if (!self || m_finished)
            return;
        dial(now);
    }

    void AgentDialer::cancelAttempt()
    {
        m_delayTimer.stop();
        if (!m_attempt)
            return;
        record(DialEvent::AttemptCancelled);
        disconnect(m_attempt, nullptr, this, nullptr);
        // Aborting closes the socket whether or not the connect completed, so
        // a connection completing late is never left open.
        m_attempt->abort();
        m_attempt->deleteLater();
        m_attempt = nullptr;
    }

    void AgentDialer::keepWaiting()
    {
        // A pending attempt goes on, and is checked again after another dial
        // delay (a workspace stopped meanwhile still fails fast); a failed one
        // is retried shortly. dialTimeout bounds both.
        if (m_attempt)
            m_delayTimer.start(m_options.dialDelay);
        else
            scheduleRetry();
    }

    void AgentDialer::scheduleRetry()
    {
        m_retryTimer.start(m_options.retryInterval);
    }

    void AgentDialer::fail(const DialFailure failure, const QString &message, const bool terminal)
    {
        stopTimers();
        m_finished = true;
        record(DialEvent::Failed);
        qCInfo(lcWorkspace).noquote() << "workspace" << m_workspaceId << ": dial failed (" << toString(failure)
                                      << "):" << message;
        emit failed(DialError{.failure = failure, .message = message, .terminal = terminal});
    }

    void AgentDialer::record(const DialEvent event)
    {
        m_events.append(event);
        qCDebug(lcWorkspace).noquote() << "workspace" << m_workspaceId << "dial event" << toString(event);
    }

    void AgentDialer::stopTimers()
    {
        m_delayTimer.stop();
        m_deadlineTimer.stop();
        m_retryTimer.stop();
    }
}  // namespace Lockstep::Workspace
