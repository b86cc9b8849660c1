#pragma once

#include <chrono>
#include <functional>
#include <optional>

#include <QHash>
#include <QJsonObject>
#include <QList>
#include <QObject>
#include <QPointer>
#include <QString>
#include <QTimer>

#include "agent/agentaddress.h"
#include "flows/flow.h"
#include "protocol/chatlog.h"
#include "protocol/runstatus.h"
#include "store/runstore.h"

namespace Lockstep::Store
{
    class StoreWorker;
}

namespace Lockstep::Workspace
{
    class ToolCall;
    class WorkspaceToolRunner;
    struct ToolOutcome;
}

namespace Lockstep::Flows
{
    // Why an Execution stopped (finished() carries it).
    enum class StopCause
    {
        TurnEnded,   // the flow ended the turn: input_required, an approval wait, finished or failed by a step
        Cancelled,   // the stored run is no longer `running` (cancelled from any replica, or gone)
        Superseded,  // the stored fence moved: a newer holder took over; nothing more was written
        ClientGone,  // requestStop: the driving websocket closed; the run is left `paused`
        Shutdown,    // requestStop: the gateway is shutting down; the run is left `paused`
        LostLock,    // requestStop: the lock heartbeat failed; stopped at once without another
                     // write (the run stays `running`, an orphan resumable after --stale-after)
        Deadline,    // the workflow deadline passed; the run is `failed`
        StoreError,  // a store call failed; stopped without another write (the run stays
                     // `running` and becomes a stale orphan, resumable after --stale-after)
    };
    QString toString(StopCause cause);  // "turn_ended", "client_gone", ...

    // The user's answer to the request entry that ended the last turn
    // (startRequest.approval). The gateway checks that the run waits for it.
    struct ApprovalDecision
    {
        bool approved = false;
        QString requestId;  // the request entry's message_id ("t1-s1")
    };

    struct ExecutionOptions
    {
        // The user's message that drives this execution. Non-empty: a new turn
        // with this message (the rest of an unfinished turn is abandoned).
        // Empty: resume the current turn after its last completed step, or, when
        // the run has no turn yet, start the first one with Run::goal.
        QString userMessage;
        // With an empty userMessage: answers the pending request first. The
        // answer is an entry of its own ("t<turn>-s<step>-decision", type
        // user, sub type approval|rejection); approved carries on after the
        // request, rejected ends the turn `input_required`.
        std::optional<ApprovalDecision> approval;
        // Multiplies every delay of the flow (delayMs, ms): 0.01 runs 100x faster.
        double delayScale = 1.0;
        // The workflow deadline, from start(); independent of the lock TTL.
        std::chrono::milliseconds deadline{std::chrono::minutes{5}};
        // How often last_activity_at is touched (SPEC: at every heartbeat).
        std::chrono::milliseconds activityInterval{std::chrono::seconds{10}};
        // false reproduces the original bug (--no-cas-guards): no re-read of the
        // stored run at step boundaries, so two executions of one run interleave
        // and a cancel is only noticed by a guarded write (none, with an
        // unguarded store).
        bool guards = true;
        // false (--no-fencing): a newer fence on the stored run does not stop
        // this execution; only the status does.
        bool fencing = true;
        // Workspace steps go through the gateway's runner (dial with lazy
        // validation, bounded discovery, call). Null: this gateway cannot dial
        // workspace agents and a workspace step fails honestly. The runner must
        // outlive the Execution.
        Workspace::WorkspaceToolRunner *workspaceTools = nullptr;
        // The run's workspace and the agent it is bound to (may be stale: the
        // dial finds out). When a dial switches to a rebuilt workspace's new
        // agent, later steps use the new one (see workspaceBinding()).
        Workspace::WorkspaceBinding workspace;
    };

    // One executing run of a flow, on the event loop of its thread, never
    // blocking it: every delay is a QTimer, and every store call goes through
    // the StoreWorker (off this thread) and carries the fence. One store call
    // of the step machine is out at a time; its answer decides the next step.
    //
    // Chat-log message_ids are deterministic per turn and step:
    //   t<turn>-user      the user message that opened the turn
    //   t<turn>-s<step>   the one entry of step <step> (a tool call's `pending`
    //                     entry is replaced by its result under the same id)
    //   t<turn>-deadline  the failure entry written when the deadline passed
    // Resume (empty userMessage) continues after the last completed step of the
    // current turn, derived from the stored chat log: a step is completed when its
    // entry exists, a tool's entry is no longer `pending`, and a workspace step's
    // entry is a success (a failed workspace step is retried). Wait steps write
    // nothing, so a trailing wait may run again; no entry is ever duplicated
    // because a re-run step replaces its own message_id.
    //
    // Every entry is persisted (appendEntry with the fence) before
    // entryPersisted() is emitted. At each step boundary the stored run is
    // re-read: not `running` -> Cancelled, fence moved -> Superseded, and the
    // execution stops without writing anything else; a guard miss on any write
    // stops it the same way.
    //
    // Do not delete an Execution from a slot connected to its signals; use
    // deleteLater() (typically on finished()).
    class Execution final : public QObject
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(Execution)

    public:
        // `run` is the run as the CAS resume returned it (status `running`,
        // fence = `fence`). `store` must outlive the Execution.
        Execution(Store::StoreWorker &store, const Store::Run &run, Flow flow, qint64 fence,
                  ExecutionOptions options = {}, QObject *parent = nullptr);
        ~Execution() override;

        // Begins on the next event-loop iteration, so connect signals first.
        void start();
        // Stops at the next step boundary; a pending delay or wait is cut short,
        // a tool call in progress completes first; a workspace call in progress
        // is cancelled (its entry becomes a failure "interrupted: <reason>"
        // unless the cause is Cancelled or Superseded, which write nothing). ClientGone, Shutdown:
        // the run is left `paused` (guarded write). Cancelled, Superseded: nothing
        // more is written (the caller already changed the run). LostLock: stops
        // on the next event-loop pass, even mid tool call or workspace call, and
        // writes nothing at all (no status, no result, no touch). The first
        // request wins. Returns false (and does nothing) for other causes or after finished().
        bool requestStop(StopCause cause, const QString &reason = {});

        QString workflowId() const;
        qint64 fence() const;
        const Flow &flow() const;
        bool isStarted() const;
        bool isFinished() const;
        std::optional<StopCause> stopCause() const;
        // The turn being executed (1-based; 0 before start).
        int turn() const;
        // Index of the next step to run in the current turn.
        int nextStep() const;
        // The run's chat log as this execution knows it (all turns, latest
        // version of each message, in seq order).
        QList<Store::StoredEntry> chatLog() const;
        // The run's workspace binding as it stands (updated by agent switches).
        Workspace::WorkspaceBinding workspaceBinding() const;

        // The whole internal state as the legacy API sent it in every
        // newCheckpoint (channel_values with conversation history, plan, tool
        // outputs, ui_chat_log, versions, metadata). Grows with every step.
        QJsonObject legacyCheckpoint() const;

    signals:
        // After the entry is in the store.
        void entryPersisted(const QString &workflowId, const Lockstep::Store::StoredEntry &entry);
        // After a status written by this execution is in the store.
        void statusChanged(const QString &workflowId, Lockstep::RunStatus status, const QString &reason);
        // Exactly once; nothing is written after it.
        void finished(const QString &workflowId, Lockstep::Flows::StopCause cause, Lockstep::RunStatus finalStatus);

    private:
        enum class Phase
        {
            Idle,
            BeforeStep,     // waiting for the next step boundary (a delay or wait is running)
            ToolResult,     // a tool call is "running"; its result is written next
            WorkspaceCall,  // a workspace tool call is in flight (m_workspaceCall); the step
                            // timer only fires here when a stop or the deadline interrupted it
            Done,
        };

        void begin();
        void onStepTimer();
        void onDeadline();
        void onTouch();

        // The next step boundary, after the delay of the next step.
        void scheduleNext();
        // The second half of begin(): the chat log is read.
        void startTurn(const QList<Store::StoredEntry> &stored);
        // `then` runs when the execution carries on; otherwise it stopped
        // (finished() emitted) or serves a stop request or the deadline.
        void atBoundary(const std::function<void()> &then);
        void checkStoredRun(const std::function<void()> &then);
        void runStep(int index);
        // Writes the decision entry, then carries on or ends the turn.
        void answerRequest(const ApprovalDecision &decision);
        void writeToolResult();
        void runWorkspaceStep(int index);
        void onWorkspaceResult(const Workspace::ToolOutcome &outcome);
        void interruptWorkspaceCall();
        void writeWorkspaceInterrupted();
        void endTurn(RunStatus status, const QString &reason);
        void stopOnRequest();
        void failOnDeadline();

        // A store call of the step machine: `then(result)` unless the execution
        // stopped meanwhile.
        template <typename Job, typename Then>
        void storeCall(Job job, Then then);
        // Guarded writes; `then` runs after the write is in the store, unless
        // the write missed or failed (the execution stops) or it stopped meanwhile.
        void persist(const Protocol::ChatLogEntry &entry, const std::function<void()> &then);
        void recordEntry(const Store::StoredEntry &stored);
        void writeStatus(RunStatus status, const QString &reason, const std::function<void()> &then);
        void stopOnGuardMiss();
        void stopOnStoreError(const QString &what, const Store::StoreError &error);
        void finish(StopCause cause, RunStatus finalStatus);

        void loadChatLog(const QList<Store::StoredEntry> &entries);
        int resumePosition(int turn) const;
        Protocol::ChatLogEntry makeEntry(const QString &messageId, Protocol::MessageType type, const QString &subType,
                                         const QString &content, Protocol::MessageStatus status) const;
        static QString toolContent(const Step &step);
        QString messageId(int step) const;
        std::chrono::milliseconds scaled(std::chrono::milliseconds delay) const;

        Store::StoreWorker &m_store;
        Store::Run m_run;
        Flow m_flow;
        qint64 m_fence = 0;
        ExecutionOptions m_options;

        Phase m_phase = Phase::Idle;
        bool m_started = false;
        int m_turn = 0;
        int m_next = 0;
        QString m_turnGoal;
        RunStatus m_status = RunStatus::Running;
        std::optional<StopCause> m_cause;
        std::optional<std::pair<StopCause, QString>> m_stopRequest;
        bool m_deadlinePassed = false;
        bool m_storing = false;   // a store call of the step machine is out
        bool m_touching = false;  // a touch is out
        int m_checkpoints = 0;    // entries written by this execution (legacy checkpoint counter)

        QList<Store::StoredEntry> m_log;       // seq order, latest version of each message
        QHash<QString, qsizetype> m_logIndex;  // message_id -> index in m_log

        QPointer<Workspace::ToolCall> m_workspaceCall;  // child while Phase::WorkspaceCall

        QTimer m_stepTimer;
        QTimer m_deadlineTimer;
        QTimer m_touchTimer;
    };
}  // namespace Lockstep::Flows
