#include "execution.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <QDateTime>

#include "common/logging.h"
#include "flows/legacycheckpoint.h"
#include "flows/messageid.h"
#include "protocol/chatlog.h"
#include "protocol/names.h"
#include "store/storeworker.h"
#include "workspace/toolrunner.h"

namespace Lockstep::Flows
{
    namespace Names = Protocol::Names;
    using Protocol::ChatLogEntry;
    using Protocol::MessageStatus;
    using Protocol::MessageType;
    using Protocol::ToolInfo;

    namespace
    {
        const QString WorkspaceUnavailable = QStringLiteral("workspace tools are not available in this gateway yet");
        const QString DeadlineExceeded = QStringLiteral("workflow deadline exceeded");
        const QString NoWorkspace =
            QStringLiteral("this run is not bound to a workspace (start it with workflowMetadata.workspaceID)");
        constexpr qsizetype MaxReasonLength = 500;

        QString workspaceContent(const Step &step)
        {
            return QStringLiteral("Running `") + step.tool + QStringLiteral("` in the workspace");
        }

        // The run's reason: the first line of the failure text, kept short.
        QString shortReason(const QString &response)
        {
            QString line = response.section(u'\n', 0, 0).trimmed();
            if (line.size() > MaxReasonLength)
                line = line.left(MaxReasonLength - 1) + u'…';
            return line;
        }

        QString defaultReason(const StopCause cause)
        {
            switch (cause)
            {
            case StopCause::ClientGone: return QStringLiteral("client disconnected");
            case StopCause::Shutdown: return QStringLiteral("gateway shutting down");
            case StopCause::LostLock: return QStringLiteral("lost lock");
            default: break;
            }
            return {};
        }
    }  // namespace

    QString toString(const StopCause cause)
    {
        switch (cause)
        {
        case StopCause::TurnEnded: return QStringLiteral("turn_ended");
        case StopCause::Cancelled: return QStringLiteral("cancelled");
        case StopCause::Superseded: return QStringLiteral("superseded");
        case StopCause::ClientGone: return QStringLiteral("client_gone");
        case StopCause::Shutdown: return QStringLiteral("shutdown");
        case StopCause::LostLock: return QStringLiteral("lost_lock");
        case StopCause::Deadline: return QStringLiteral("deadline");
        case StopCause::StoreError: return QStringLiteral("store_error");
        }
        return {};
    }

    Execution::Execution(Store::StoreWorker &store, const Store::Run &run, Flow flow, const qint64 fence,
                         ExecutionOptions options, QObject *parent)
        : QObject(parent)
        , m_store(store)
        , m_run(run)
        , m_flow(std::move(flow))
        , m_fence(fence)
        , m_options(std::move(options))
    {
        if (!std::isfinite(m_options.delayScale) || m_options.delayScale < 0)
        {
            qCWarning(lcFlows) << "delayScale" << m_options.delayScale << "is not a non-negative number; using 1";
            m_options.delayScale = 1.0;
        }
        m_stepTimer.setSingleShot(true);
        m_deadlineTimer.setSingleShot(true);
        m_touchTimer.setSingleShot(false);
        connect(&m_stepTimer, &QTimer::timeout, this, &Execution::onStepTimer);
        connect(&m_deadlineTimer, &QTimer::timeout, this, &Execution::onDeadline);
        connect(&m_touchTimer, &QTimer::timeout, this, &Execution::onTouch);
    }

    Execution::~Execution() = default;

    void Execution::start()
    {
        if (m_started)
            return;
        m_started = true;
        m_deadlineTimer.start(std::max(m_options.deadline, std::chrono::milliseconds{0}));
        m_touchTimer.start(std::max(m_options.activityInterval, std::chrono::milliseconds{1}));
        QTimer::singleShot(0, this, &Execution::begin);
    }

    bool Execution::requestStop(const StopCause cause, const QString &reason)
    {
        switch (cause)
        {
        case StopCause::ClientGone:
        case StopCause::Shutdown:
        case StopCause::LostLock:
        case StopCause::Cancelled:
        case StopCause::Superseded: break;
        default:
            qCWarning(lcFlows).noquote() << "requestStop: cause" << toString(cause) << "is not a stop request";
            return false;
        }
        if (m_phase == Phase::Done)
            return false;
        // A lost lock also overrides an earlier stop that would still write `paused`.
        const bool overrides =
            cause == StopCause::LostLock && m_stopRequest &&
            (m_stopRequest->first == StopCause::ClientGone || m_stopRequest->first == StopCause::Shutdown);
        if (!m_stopRequest || overrides)
            m_stopRequest = std::make_pair(cause, reason.isEmpty() ? defaultReason(cause) : reason);
        // A lost lock means another holder may be writing: not one more write
        // from here, not even a touch or a tool call's result.
        if (m_stopRequest->first == StopCause::LostLock)
        {
            m_touchTimer.stop();
            m_deadlineTimer.stop();
            if (m_workspaceCall)
            {
                m_workspaceCall->cancel();
                m_workspaceCall->deleteLater();
                m_workspaceCall = nullptr;
            }
            if (m_phase != Phase::Idle)
                m_stepTimer.start(0);
            return true;
        }
        // Cut a pending delay short; a tool call in progress completes first;
        // a workspace call may wait for minutes, so it is cancelled.
        if (m_phase == Phase::BeforeStep)
            m_stepTimer.start(0);
        else if (m_phase == Phase::WorkspaceCall)
            interruptWorkspaceCall();
        return true;
    }

    QString Execution::workflowId() const
    {
        return m_run.workflowId;
    }

    qint64 Execution::fence() const
    {
        return m_fence;
    }

    const Flow &Execution::flow() const
    {
        return m_flow;
    }

    bool Execution::isStarted() const
    {
        return m_started;
    }

    bool Execution::isFinished() const
    {
        return m_phase == Phase::Done;
    }

    std::optional<StopCause> Execution::stopCause() const
    {
        return m_cause;
    }

    int Execution::turn() const
    {
        return m_turn;
    }

    int Execution::nextStep() const
    {
        return m_next;
    }

    QList<Store::StoredEntry> Execution::chatLog() const
    {
        return m_log;
    }

    Workspace::WorkspaceBinding Execution::workspaceBinding() const
    {
        return m_options.workspace;
    }

    QJsonObject Execution::legacyCheckpoint() const
    {
        QList<QJsonObject> entries;
        entries.reserve(m_log.size());
        for (const Store::StoredEntry &stored : m_log)
            entries.append(stored.entry);
        return buildLegacyCheckpoint(LegacyCheckpointInput{
            .workflowId = m_run.workflowId,
            .goal = m_turnGoal.isEmpty() ? m_run.goal : m_turnGoal,
            .flow = &m_flow,
            .turn = m_turn,
            .nextStep = m_next,
            .status = m_status,
            .checkpointNumber = m_checkpoints,
            .chatLog = entries,
        });
    }

    // ---- the step machine ------------------------------------------------

    void Execution::begin()
    {
        if (m_phase == Phase::Done)
            return;
        m_phase = Phase::BeforeStep;
        checkStoredRun([this] {
            storeCall(
                [workflowId = m_run.workflowId](Store::RunStore &store) { return store.entriesSince(workflowId, 0); },
                [this](Store::StoreResult<QList<Store::StoredEntry>> stored) {
                    if (!stored)
                    {
                        stopOnStoreError(QStringLiteral("reading the chat log"), stored.error());
                        return;
                    }
                    startTurn(*stored);
                });
        });
    }

    void Execution::startTurn(const QList<Store::StoredEntry> &stored)
    {
        loadChatLog(stored);

        int lastTurn = 0;
        for (const Store::StoredEntry &entry : std::as_const(m_log))
        {
            if (const auto parsed = MessageIds::parse(entry.entry.value(Names::MessageId).toString()))
                lastTurn = std::max(lastTurn, parsed->turn);
        }

        bool newTurn = false;
        if (!m_options.userMessage.isEmpty())
        {
            newTurn = true;
            m_turn = lastTurn + 1;
            m_turnGoal = m_options.userMessage;
        }
        else if (lastTurn == 0)
        {
            newTurn = true;
            m_turn = 1;
            m_turnGoal = m_run.goal;
        }
        else
        {
            m_turn = lastTurn;
            m_next = resumePosition(lastTurn);
            if (const auto it = m_logIndex.constFind(MessageIds::user(m_turn)); it != m_logIndex.constEnd())
                m_turnGoal = m_log.at(*it).entry.value(Names::Content).toString();
        }
        qCInfo(lcFlows).noquote() << "run" << m_run.workflowId << "flow" << m_flow.name << "turn" << m_turn
                                  << (newTurn ? "starts" : "resumes at step")
                                  << (newTurn ? QString() : QString::number(m_next));

        // The turn is known now, so a stop or deadline that came first is
        // served with the right message_ids.
        if (m_stopRequest)
        {
            stopOnRequest();
            return;
        }
        if (m_deadlinePassed)
        {
            failOnDeadline();
            return;
        }
        if (!newTurn && m_options.approval)
        {
            answerRequest(*m_options.approval);
            return;
        }
        if (newTurn && !m_turnGoal.isEmpty())
        {
            persist(makeEntry(MessageIds::user(m_turn), MessageType::User, QStringLiteral("message"), m_turnGoal,
                              MessageStatus::Success),
                    [this] { scheduleNext(); });
            return;
        }
        scheduleNext();
    }

    void Execution::scheduleNext()
    {
        if (m_phase == Phase::Done)
            return;
        m_phase = Phase::BeforeStep;
        std::chrono::milliseconds delay{0};
        if (m_next < m_flow.steps.size())
        {
            const Step &step = m_flow.steps.at(m_next);
            if (step.type == StepType::Agent || step.type == StepType::Wait)
                delay = scaled(step.delay);
        }
        // A stop request or the deadline that arrived meanwhile is served at once.
        if (m_stopRequest || m_deadlinePassed)
            delay = std::chrono::milliseconds{0};
        m_stepTimer.start(delay);
    }

    void Execution::onStepTimer()
    {
        if (m_phase != Phase::Done && m_phase != Phase::Idle && m_stopRequest &&
            m_stopRequest->first == StopCause::LostLock)
        {
            stopOnRequest();
            return;
        }
        // A store call of this execution is out: its answer decides what comes
        // next, and serves any stop or deadline that came meanwhile.
        if (m_storing)
            return;
        switch (m_phase)
        {
        case Phase::BeforeStep:
            atBoundary([this] {
                if (m_next >= m_flow.steps.size())
                    endTurn(RunStatus::InputRequired, {});
                else
                    runStep(m_next);
            });
            return;
        case Phase::ToolResult: writeToolResult(); return;
        case Phase::WorkspaceCall: writeWorkspaceInterrupted(); return;
        case Phase::Idle:
        case Phase::Done: return;
        }
    }

    void Execution::atBoundary(const std::function<void()> &then)
    {
        checkStoredRun([this, then] {
            if (m_stopRequest)
                stopOnRequest();
            else if (m_deadlinePassed)
                failOnDeadline();
            else
                then();
        });
    }

    void Execution::checkStoredRun(const std::function<void()> &then)
    {
        // Without guards (--no-cas-guards) the original executor is reproduced:
        // it never looked at the stored run again.
        if (!m_options.guards)
        {
            then();
            return;
        }
        storeCall([workflowId = m_run.workflowId](Store::RunStore &store) { return store.getRun(workflowId); },
                  [this, then](Store::StoreResult<std::optional<Store::Run>> stored) {
                      if (!stored)
                      {
                          stopOnStoreError(QStringLiteral("re-reading the run"), stored.error());
                          return;
                      }
                      if (!stored.value())
                      {
                          qCWarning(lcFlows).noquote()
                              << "run" << m_run.workflowId << "is gone from the store; stopping";
                          finish(StopCause::Cancelled, RunStatus::Stopped);
                          return;
                      }
                      const Store::Run &run = *stored.value();
                      if (m_options.fencing && (run.fence != m_fence))
                      {
                          qCInfo(lcFlows).noquote() << "run" << m_run.workflowId << "fence moved from" << m_fence
                                                    << "to" << run.fence << "; stopping without writing";
                          finish(StopCause::Superseded, run.status);
                          return;
                      }
                      if (run.status != RunStatus::Running)
                      {
                          qCInfo(lcFlows).noquote() << "run" << m_run.workflowId << "is" << toString(run.status)
                                                    << "; stopping without writing";
                          finish(StopCause::Cancelled, run.status);
                          return;
                      }
                      then();
                  });
    }

    void Execution::runStep(const int index)
    {
        const Step &step = m_flow.steps.at(index);
        const QString id = messageId(index);
        switch (step.type)
        {
        case StepType::Agent:
            persist(makeEntry(id, MessageType::Agent, step.subType.isEmpty() ? QStringLiteral("message") : step.subType,
                              step.content, MessageStatus::Success),
                    [this] {
                        ++m_next;
                        scheduleNext();
                    });
            return;
        case StepType::Tool:
        {
            ChatLogEntry entry = makeEntry(id, MessageType::Tool, step.tool, toolContent(step), MessageStatus::Pending);
            entry.toolInfo = ToolInfo{.name = step.tool, .args = step.args, .toolResponse = std::nullopt};
            persist(entry, [this, delay = scaled(step.delay)] {
                m_phase = Phase::ToolResult;
                m_stepTimer.start(delay);
            });
            return;
        }
        case StepType::Request:
            persist(
                makeEntry(id, MessageType::Request, toString(step.requestKind), step.content, MessageStatus::Success),
                [this, status = waitStatus(step.requestKind), content = step.content] {
                    ++m_next;
                    endTurn(status, content);
                });
            return;
        case StepType::Wait:
            // The wait was the delay before this boundary.
            ++m_next;
            scheduleNext();
            return;
        case StepType::Fail:
            persist(makeEntry(id, MessageType::Agent, QStringLiteral("error"), step.content, MessageStatus::Failure),
                    [this, content = step.content] {
                        ++m_next;
                        endTurn(RunStatus::Failed, content);
                    });
            return;
        case StepType::Workspace: runWorkspaceStep(index); return;
        case StepType::Finish:
            persist(makeEntry(id, MessageType::WorkflowEnd, QStringLiteral("finished"), step.content,
                              MessageStatus::Success),
                    [this, content = step.content] {
                        ++m_next;
                        endTurn(RunStatus::Finished, content);
                    });
            return;
        }
    }

    void Execution::answerRequest(const ApprovalDecision &decision)
    {
        const auto request = MessageIds::parse(decision.requestId);
        const int step =
            (request && request->kind == MessageIds::Parsed::Kind::Step) ? request->step : std::max(0, m_next - 1);
        const QString content =
            decision.approved
                ? QStringLiteral("Approved.")
                : QStringLiteral("Rejected. The turn ends here; send a message to say what to do instead.");
        ChatLogEntry entry = makeEntry(MessageIds::decision(m_turn, step), MessageType::User,
                                       decision.approved ? QStringLiteral("approval") : QStringLiteral("rejection"),
                                       content, MessageStatus::Success);
        // It answers the request entry, so it correlates with it.
        entry.correlationId = decision.requestId;
        entry.additionalContext =
            QJsonObject{{QStringLiteral("approval"),
                         QJsonObject{{QStringLiteral("decision"),
                                      decision.approved ? QStringLiteral("approved") : QStringLiteral("rejected")},
                                     {QStringLiteral("requestID"), decision.requestId}}}};
        qCInfo(lcFlows).noquote() << "run" << m_run.workflowId << "request" << decision.requestId
                                  << (decision.approved ? "approved" : "rejected");
        persist(entry, [this, approved = decision.approved] {
            if (approved)
                scheduleNext();
            else
                endTurn(RunStatus::InputRequired, QStringLiteral("request rejected"));
        });
    }

    void Execution::writeToolResult()
    {
        const Step &step = m_flow.steps.at(m_next);
        ChatLogEntry entry = makeEntry(messageId(m_next), MessageType::Tool, step.tool, toolContent(step),
                                       step.toolSucceeds ? MessageStatus::Success : MessageStatus::Failure);
        // toJson() cuts the response to 4 KiB.
        entry.toolInfo = ToolInfo{.name = step.tool, .args = step.args, .toolResponse = step.response};
        persist(entry, [this] {
            ++m_next;
            scheduleNext();
        });
    }

    void Execution::runWorkspaceStep(const int index)
    {
        const Step &step = m_flow.steps.at(index);
        const QString id = messageId(index);
        // Without a runner (or a workspace) the step fails for what it is
        // instead of pretending it ran. A failed workspace step is not
        // completed, so a resume retries it.
        if (!m_options.workspaceTools || m_options.workspace.workspaceId.isEmpty())
        {
            const QString why = m_options.workspaceTools ? NoWorkspace : WorkspaceUnavailable;
            ChatLogEntry entry =
                makeEntry(id, MessageType::Tool, step.tool, workspaceContent(step), MessageStatus::Failure);
            entry.toolInfo = ToolInfo{.name = step.tool, .args = step.args, .toolResponse = why};
            persist(entry, [this, why] { endTurn(RunStatus::Failed, why); });
            return;
        }
        ChatLogEntry entry =
            makeEntry(id, MessageType::Tool, step.tool, workspaceContent(step), MessageStatus::Pending);
        entry.toolInfo = ToolInfo{.name = step.tool, .args = step.args, .toolResponse = std::nullopt};
        persist(entry, [this, index] {
            m_phase = Phase::WorkspaceCall;
            // A stop or the deadline that came while the pending entry was
            // being written: the call is not made, its entry says why.
            if (m_stopRequest || m_deadlinePassed)
            {
                m_stepTimer.start(0);
                return;
            }
            const Step &called = m_flow.steps.at(index);
            m_workspaceCall = m_options.workspaceTools->run(m_options.workspace, called.tool, called.args, this);
            connect(m_workspaceCall, &Workspace::ToolCall::finished, this, &Execution::onWorkspaceResult);
        });
    }

    void Execution::onWorkspaceResult(const Workspace::ToolOutcome &outcome)
    {
        if (m_phase != Phase::WorkspaceCall)
            return;
        if (m_workspaceCall)
            m_workspaceCall->deleteLater();  // we are inside its signal
        m_workspaceCall = nullptr;
        m_phase = Phase::BeforeStep;

        const Step &step = m_flow.steps.at(m_next);
        QJsonObject context{{QStringLiteral("workspaceID"), m_options.workspace.workspaceId}};
        if (outcome.agent)
            context.insert(QStringLiteral("agentID"), outcome.agent->agentId);
        if (outcome.switchedFrom)
        {
            // The binding was stale (the workspace was rebuilt): record the
            // switch, and use the new agent from now on.
            context.insert(QStringLiteral("switchedFrom"), outcome.switchedFrom->agentId);
            qCInfo(lcFlows).noquote() << "run" << m_run.workflowId << "workspace" << m_options.workspace.workspaceId
                                      << "switched from agent" << outcome.switchedFrom->agentId << "to"
                                      << (outcome.agent ? outcome.agent->agentId : QString());
        }
        if (outcome.agent && (outcome.success || outcome.switchedFrom || !m_options.workspace.agent))
            m_options.workspace.agent = outcome.agent;
        if (!outcome.success)
            context.insert(QStringLiteral("failure"), Workspace::toString(outcome.failure));

        ChatLogEntry entry = makeEntry(messageId(m_next), MessageType::Tool, step.tool, workspaceContent(step),
                                       outcome.success ? MessageStatus::Success : MessageStatus::Failure);
        // toJson() cuts the response to 4 KiB.
        entry.toolInfo = ToolInfo{.name = step.tool, .args = step.args, .toolResponse = outcome.response};
        entry.additionalContext = QJsonObject{{QStringLiteral("workspace"), context}};
        persist(entry, [this, success = outcome.success, reason = shortReason(outcome.response)] {
            if (!success)
            {
                endTurn(RunStatus::Failed, reason);
                return;
            }
            ++m_next;
            scheduleNext();
        });
    }

    void Execution::interruptWorkspaceCall()
    {
        if (m_workspaceCall)
        {
            m_workspaceCall->cancel();
            m_workspaceCall->deleteLater();
            m_workspaceCall = nullptr;
        }
        // Served on the event loop (writeWorkspaceInterrupted), never from
        // inside the caller of requestStop().
        m_stepTimer.start(0);
    }

    void Execution::writeWorkspaceInterrupted()
    {
        // A stop that came while the pending entry was being written reaches
        // here with the call still going.
        if (m_workspaceCall)
        {
            m_workspaceCall->cancel();
            m_workspaceCall->deleteLater();
            m_workspaceCall = nullptr;
        }
        m_phase = Phase::BeforeStep;
        const bool quiet =
            !m_deadlinePassed && m_stopRequest &&
            (m_stopRequest->first == StopCause::Cancelled || m_stopRequest->first == StopCause::Superseded);
        if (!quiet)
        {
            const Step &step = m_flow.steps.at(m_next);
            const QString why = m_stopRequest ? m_stopRequest->second : DeadlineExceeded;
            ChatLogEntry entry = makeEntry(messageId(m_next), MessageType::Tool, step.tool, workspaceContent(step),
                                           MessageStatus::Failure);
            entry.toolInfo =
                ToolInfo{.name = step.tool, .args = step.args, .toolResponse = QStringLiteral("interrupted: ") + why};
            persist(entry, [this] { atBoundary([this] { scheduleNext(); }); });
            return;
        }
        // Serves the stop request or the deadline; the step is not completed,
        // so a resume runs it again.
        atBoundary([this] { scheduleNext(); });
    }

    void Execution::endTurn(const RunStatus status, const QString &reason)
    {
        writeStatus(status, reason, [this, status] { finish(StopCause::TurnEnded, status); });
    }

    void Execution::stopOnRequest()
    {
        const auto [cause, reason] = *m_stopRequest;
        // LostLock: the run stays `running` and becomes an orphan, resumable
        // after --stale-after (nothing refreshes last_activity_at any more).
        if (cause == StopCause::Cancelled || cause == StopCause::Superseded || cause == StopCause::LostLock)
        {
            finish(cause, m_status);
            return;
        }
        writeStatus(RunStatus::Paused, reason, [this, cause] { finish(cause, RunStatus::Paused); });
    }

    void Execution::failOnDeadline()
    {
        persist(makeEntry(MessageIds::deadline(m_turn), MessageType::Agent, QStringLiteral("error"), DeadlineExceeded,
                          MessageStatus::Failure),
                [this] {
                    writeStatus(RunStatus::Failed, DeadlineExceeded,
                                [this] { finish(StopCause::Deadline, RunStatus::Failed); });
                });
    }

    void Execution::onDeadline()
    {
        if (m_phase == Phase::Done)
            return;
        qCInfo(lcFlows).noquote() << "run" << m_run.workflowId << "passed its deadline";
        m_deadlinePassed = true;
        if (m_phase == Phase::BeforeStep)
            m_stepTimer.start(0);
        else if (m_phase == Phase::WorkspaceCall)
            interruptWorkspaceCall();
    }

    void Execution::onTouch()
    {
        if (m_phase == Phase::Done || m_phase == Phase::Idle)
            return;
        if (m_stopRequest && m_stopRequest->first == StopCause::LostLock)
            return;
        // A store that hangs gets one touch at a time, not a pile of them.
        if (std::exchange(m_touching, true))
            return;
        m_store.call(
            this,
            [workflowId = m_run.workflowId, fence = m_fence](Store::RunStore &store) {
                return store.touch(workflowId, fence);
            },
            [this](Store::StoreResult<bool> touched) {
                m_touching = false;
                if (m_phase == Phase::Done)
                    return;
                if (!touched)
                {
                    stopOnStoreError(QStringLiteral("touching last_activity_at"), touched.error());
                    return;
                }
                if (!touched.value())
                    stopOnGuardMiss();
            });
    }

    // ---- writes ------------------------------------------------------------

    template <typename Job, typename Then>
    void Execution::storeCall(Job job, Then then)
    {
        m_storing = true;
        m_store.call(this, std::move(job), [this, then = std::move(then)](auto result) mutable {
            m_storing = false;
            // Stopped meanwhile (a lost lock does not wait for the store).
            if (m_phase == Phase::Done)
                return;
            then(std::move(result));
        });
    }

    void Execution::persist(const ChatLogEntry &chatEntry, const std::function<void()> &then)
    {
        const QJsonObject entry = chatEntry.toJson();
        storeCall([workflowId = m_run.workflowId, fence = m_fence,
                   entry](Store::RunStore &store) { return store.appendEntry(workflowId, fence, entry); },
                  [this, entry, then](Store::StoreResult<std::optional<qint64>> seq) {
                      if (!seq)
                      {
                          stopOnStoreError(QStringLiteral("appending a chat-log entry"), seq.error());
                          return;
                      }
                      if (!seq.value())
                      {
                          stopOnGuardMiss();
                          return;
                      }
                      recordEntry(Store::StoredEntry{.seq = *seq.value(), .entry = entry});
                      if (m_phase != Phase::Done)
                          then();
                  });
    }

    void Execution::recordEntry(const Store::StoredEntry &stored)
    {
        const QJsonObject &entry = stored.entry;
        const QString id = entry.value(Names::MessageId).toString();
        if (const auto it = m_logIndex.constFind(id); it != m_logIndex.constEnd())
        {
            m_log.removeAt(*it);
            m_logIndex.clear();
            for (qsizetype i = 0; i < m_log.size(); ++i)
                m_logIndex.insert(m_log.at(i).entry.value(Names::MessageId).toString(), i);
        }
        m_log.append(stored);
        m_logIndex.insert(id, m_log.size() - 1);
        ++m_checkpoints;
        emit entryPersisted(m_run.workflowId, stored);
    }

    void Execution::writeStatus(const RunStatus status, const QString &reason, const std::function<void()> &then)
    {
        storeCall([workflowId = m_run.workflowId, fence = m_fence, status,
                   reason](Store::RunStore &store) { return store.transition(workflowId, fence, status, reason); },
                  [this, status, reason, then](Store::StoreResult<bool> written) {
                      if (!written)
                      {
                          stopOnStoreError(QStringLiteral("writing status ") + toString(status), written.error());
                          return;
                      }
                      if (!written.value())
                      {
                          stopOnGuardMiss();
                          return;
                      }
                      m_status = status;
                      emit statusChanged(m_run.workflowId, status, reason);
                      if (m_phase != Phase::Done)
                          then();
                  });
    }

    void Execution::stopOnGuardMiss()
    {
        // Find out why the guarded write missed; nothing else is written.
        storeCall([workflowId = m_run.workflowId](Store::RunStore &store) { return store.getRun(workflowId); },
                  [this](Store::StoreResult<std::optional<Store::Run>> stored) {
                      if (!stored)
                      {
                          stopOnStoreError(QStringLiteral("re-reading the run after a guard miss"), stored.error());
                          return;
                      }
                      if (!stored.value())
                      {
                          finish(StopCause::Cancelled, RunStatus::Stopped);
                          return;
                      }
                      const Store::Run &run = *stored.value();
                      const bool fenceMoved = m_options.fencing && (run.fence != m_fence);
                      qCInfo(lcFlows).noquote()
                          << "run" << m_run.workflowId << "guard missed: status" << toString(run.status) << "fence"
                          << run.fence << "(ours" << m_fence << "); stopping without writing";
                      finish(fenceMoved || run.status == RunStatus::Running ? StopCause::Superseded
                                                                            : StopCause::Cancelled,
                             run.status);
                  });
    }

    void Execution::stopOnStoreError(const QString &what, const Store::StoreError &error)
    {
        qCWarning(lcFlows).noquote() << "run" << m_run.workflowId << "store error while" << what << ":" << error.message
                                     << "; stopping without further writes";
        finish(StopCause::StoreError, m_status);
    }

    void Execution::finish(const StopCause cause, const RunStatus finalStatus)
    {
        if (m_phase == Phase::Done)
            return;
        m_phase = Phase::Done;
        if (m_workspaceCall)
        {
            m_workspaceCall->cancel();
            m_workspaceCall->deleteLater();
            m_workspaceCall = nullptr;
        }
        m_cause = cause;
        m_status = finalStatus;
        m_stepTimer.stop();
        m_deadlineTimer.stop();
        m_touchTimer.stop();
        qCInfo(lcFlows).noquote() << "run" << m_run.workflowId << "execution stopped:" << toString(cause) << "status"
                                  << toString(finalStatus);
        emit finished(m_run.workflowId, cause, finalStatus);
    }

    // ---- helpers -------------------------------------------------------------

    void Execution::loadChatLog(const QList<Store::StoredEntry> &entries)
    {
        m_log.clear();
        m_logIndex.clear();
        for (const Store::StoredEntry &entry : entries)
        {
            const QString id = entry.entry.value(Names::MessageId).toString();
            if (const auto it = m_logIndex.constFind(id); it != m_logIndex.constEnd())
            {
                // entriesSince() returns the latest version only; keep the newer one anyway.
                if (m_log.at(*it).seq < entry.seq)
                    m_log[*it] = entry;
                continue;
            }
            m_logIndex.insert(id, m_log.size());
            m_log.append(entry);
        }
    }

    int Execution::resumePosition(const int turn) const
    {
        int next = 0;
        for (const Store::StoredEntry &stored : m_log)
        {
            const auto parsed = MessageIds::parse(stored.entry.value(Names::MessageId).toString());
            // A rejected request ends its turn for good: a later resume must not carry the plan out.
            if (parsed && parsed->kind == MessageIds::Parsed::Kind::Decision && parsed->turn == turn &&
                stored.entry.value(Names::MessageSubType).toString() == u"rejection")
                return static_cast<int>(m_flow.steps.size());
            if (!parsed || parsed->kind != MessageIds::Parsed::Kind::Step || parsed->turn != turn ||
                parsed->step >= m_flow.steps.size())
                continue;
            const int index = parsed->step;
            const QString status = stored.entry.value(Names::Status).toString();
            bool completed = true;
            switch (m_flow.steps.at(index).type)
            {
            case StepType::Tool: completed = status != u"pending"; break;
            case StepType::Workspace: completed = status == u"success"; break;
            default: break;
            }
            if (completed)
                next = std::max(next, index + 1);
        }
        return next;
    }

    ChatLogEntry Execution::makeEntry(const QString &messageId, const MessageType type, const QString &subType,
                                      const QString &content, const MessageStatus status) const
    {
        return ChatLogEntry{
            .messageId = messageId,
            .messageType = type,
            .messageSubType = subType,
            .content = content,
            .timestamp = QDateTime::currentDateTimeUtc(),
            .status = status,
            // Every entry of a turn correlates with the user message that opened it.
            .correlationId = MessageIds::user(m_turn),
            .toolInfo = std::nullopt,
        };
    }

    QString Execution::toolContent(const Step &step)
    {
        return step.content.isEmpty() ? QStringLiteral("Using `") + step.tool + u'`' : step.content;
    }

    QString Execution::messageId(const int step) const
    {
        return MessageIds::step(m_turn, step);
    }

    std::chrono::milliseconds Execution::scaled(const std::chrono::milliseconds delay) const
    {
        const double ms = static_cast<double>(delay.count()) * m_options.delayScale;
        if (ms >= static_cast<double>(std::numeric_limits<int>::max()))
            return std::chrono::milliseconds{std::numeric_limits<int>::max()};
        return std::chrono::milliseconds{static_cast<qint64>(std::llround(ms))};
    }
}  // namespace Lockstep::Flows
