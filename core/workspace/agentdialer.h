#pragma once

#include <chrono>
#include <optional>

#include <QByteArray>
#include <QHash>
#include <QList>
#include <QObject>
#include <QString>
#include <QTimer>

#include "agent/agentaddress.h"
#include "workspace/agentconnection.h"
#include "workspace/agentdirectory.h"

namespace Lockstep::Workspace
{
    class AgentDirectory;

    struct DialOptions
    {
        // A dial still pending after this long has its binding checked.
        std::chrono::milliseconds dialDelay{5000};
        // The whole dial, switches and retries included, gives up after this.
        std::chrono::milliseconds dialTimeout{30000};
        // After a quick failure that the directory cannot explain (same agent,
        // or the lookup failed), dial again after this pause.
        std::chrono::milliseconds retryInterval{250};
        // A workspace rebuilt more often than this during one dial: give up.
        int maxSwitches = 3;
        // false reproduces the original bug for the benchmark: no validation,
        // the dial retries the bound agent until dialTimeout.
        bool lazyValidation = true;
        // Presented in the hello to an agent whose address carries no secret.
        // The gateway leaves it empty: it presents each agent's registered
        // secret, never a token of its own.
        QByteArray token;
    };

    enum class DialFailure
    {
        NoRunningAgent,   // the workspace's latest build has no agent: terminal
        Timeout,          // dialTimeout passed (the bound agent never answered)
        Unauthorized,     // the agent refused the token: terminal (a configuration error)
        TooManySwitches,  // the workspace kept being rebuilt: terminal
        InvalidBinding,   // empty or malformed workspace ID: terminal
    };
    QString toString(DialFailure failure);  // "no_running_agent", ...

    struct DialError
    {
        DialFailure failure = DialFailure::Timeout;
        QString message;        // for the chat log; no secrets
        bool terminal = false;  // waiting longer cannot help
    };

    // What happened during a dial, in order (tests and logs read it).
    enum class DialEvent
    {
        Dial,              // a connection attempt to an agent started
        QuickFailure,      // the attempt failed before the dial delay
        DelayElapsed,      // the dial delay passed with the attempt still pending
        Lookup,            // the directory was asked for the current agent
        LookupFailed,      // ...and could not answer (keep waiting)
        SameAgent,         // ...and named the agent being dialed (keep waiting)
        NoAgent,           // ...and said the workspace has no running agent
        OtherAgent,        // ...and named another agent (a rebuild)
        AttemptCancelled,  // a pending attempt was closed (stale agent, failure, cancel)
        Retry,             // dialing the same agent again after a quick failure
        Connected,
        TimedOut,
        Failed,
        Cancelled,
    };
    QString toString(DialEvent event);

    // Dials the agent a run is bound to, with lazy validation (SPEC fix 4):
    // dial the bound agent first; only if the attempt is still pending after
    // dialDelay, or fails before that, look up the workspace's current agent.
    //   - no agent: fail at once, terminal ("workspace has no running agent");
    //     the pending attempt is cancelled;
    //   - another agent (rebuilt): cancel the stale attempt, dial the new one,
    //     emit switched();
    //   - the same agent: keep waiting (or retry after a quick failure);
    //   - lookup error: proves nothing, keep waiting within dialTimeout.
    // While an attempt stays pending it is checked again every dialDelay.
    // Everything runs on the event loop with timers; the directory is asked
    // synchronously (the run store is). A cancelled attempt's socket is aborted
    // and deleted, so a connection completing late is closed, never leaked.
    //
    // One dial per object: start() once; connected() or failed() follows
    // exactly once unless cancel() comes first.
    class AgentDialer final : public QObject
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(AgentDialer)

    public:
        // `directory` must outlive the dialer.
        AgentDialer(AgentDirectory &directory, DialOptions options, QObject *parent = nullptr);
        ~AgentDialer() override;

        void start(const WorkspaceBinding &binding);
        // Stops everything; no signal follows.
        void cancel();

        // After connected(): the ready connection, now owned by the caller
        // (parent cleared). A connection not taken is deleted with the dialer.
        AgentConnection *takeConnection();

        // The agent dialed last (after switches, the new one).
        std::optional<AgentAddress> currentAgent() const;
        QList<DialEvent> events() const;
        // Connection attempts per agent ID.
        int attempts(const QString &agentId) const;
        int switches() const;
        bool isFinished() const;

    signals:
        void connected(const Lockstep::Workspace::AgentAddress &agent);
        void failed(const Lockstep::Workspace::DialError &error);
        // The binding was stale: the workspace now runs `to` (from is empty when
        // the run had no agent bound yet).
        void switched(const std::optional<Lockstep::Workspace::AgentAddress> &from,
                      const Lockstep::Workspace::AgentAddress &to);

    private:
        enum class Trigger
        {
            Unbound,
            QuickFailure,
            DelayElapsed,
        };

        void dial(const AgentAddress &agent);
        void onReady();
        void onAttemptFailed(const AgentError &error);
        void onDelay();
        void onDeadline();
        void onRetry();
        void validate(Trigger trigger);
        void onLookup(Trigger trigger, const AgentDirectory::Lookup &lookup);
        void cancelAttempt();
        void keepWaiting();
        void scheduleRetry();
        void fail(DialFailure failure, const QString &message, bool terminal);
        void record(DialEvent event);
        void stopTimers();

        AgentDirectory &m_directory;
        DialOptions m_options;
        QString m_workspaceId;
        std::optional<AgentAddress> m_current;
        AgentConnection *m_attempt = nullptr;  // pending attempt (child)
        AgentConnection *m_ready = nullptr;    // connected, not yet taken (child)
        QTimer m_delayTimer;
        QTimer m_deadlineTimer;
        QTimer m_retryTimer;
        QList<DialEvent> m_events;
        QHash<QString, int> m_attempts;
        int m_switches = 0;
        bool m_started = false;
        bool m_finished = false;
        QString m_lastProblem;  // the last attempt or lookup failure, for the timeout message
    };
}  // namespace Lockstep::Workspace
