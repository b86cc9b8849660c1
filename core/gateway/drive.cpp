#include "drive.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "common/logging.h"
#include "common/result.h"
#include "flows/execution.h"
#include "flows/flowlibrary.h"
#include "gateway/gatewayconfig.h"
#include "gateway/runfeed.h"
#include "gateway/session.h"
#include "lock/lockstore.h"
#include "lock/runlock.h"
#include "protocol/workflowid.h"
#include "store/runstore.h"
#include "store/storeworker.h"
#include "store/workspacestore.h"
#include "workspace/toolrunner.h"

namespace Lockstep::Gateway
{
    QString storeCloseReason(const Store::StoreError &error)
    {
        if (error.kind == Store::StoreError::Kind::InvalidInput)
            return QStringLiteral("invalid request: ") + error.shortText();
        return QStringLiteral("store unavailable: ") + error.shortText();
    }

    QString describeHolder(const Lock::LockHolder &holder)
    {
        if (holder.parsed)
            return holder.session.isEmpty() ? holder.replica : holder.session;
        return QString::fromUtf8(holder.value).left(200);
    }

    // What one trip to the store decided for a drive (runs on the StoreWorker).
    struct ResumeAttempt
    {
        std::optional<Store::StoreError> storeError;
        std::optional<std::pair<CloseCode, QString>> refusal;  // answered before the resume
        qint64 fence = 0;                                      // the fence the resume used
        std::optional<QString> newGoal;
        Store::ResumeResult resumed;
        std::optional<Store::RunWorkspace> workspace;  // remembered with the run, after a resume
    };

    namespace
    {
        struct ResumeInput
        {
            QString workflowId;
            QString goal;
            QString flow;  // for a new run
            bool flowKnown = false;
            qint64 fence = 0;
            bool takeFence = false;  // no lock: the store's counter is the fence
            qint64 fenceAbove = 0;
            std::optional<Flows::ApprovalDecision> approval;
        };

        // startRequest.approval: {"decision":"approved|rejected","requestID":"<the request entry's message_id>"}.
        // An absent or empty object is no approval; anything else malformed is a problem (4400).
        Result<std::optional<Flows::ApprovalDecision>, QString> readApproval(const Protocol::StartRequest &request)
        {
            if (!request.approval || request.approval->isEmpty())
                return std::optional<Flows::ApprovalDecision>{};
            const QJsonObject &approval = *request.approval;
            const QString decision = approval.value(u"decision").toString();
            if (decision != u"approved" && decision != u"rejected")
                return unexpected(
                    QStringLiteral("startRequest.approval.decision: must be \"approved\" or \"rejected\""));
            const QString requestId = approval.value(u"requestID").toString();
            if (!Protocol::isValidWorkflowId(requestId))
                return unexpected(
                    QStringLiteral("startRequest.approval.requestID: must be the message_id of the request entry"));
            if (!request.goal.isEmpty())
                return unexpected(QStringLiteral(
                    "startRequest.approval: send it with an empty goal (it answers the pending request)"));
            return std::optional<Flows::ApprovalDecision>{
                Flows::ApprovalDecision{.approved = decision == u"approved", .requestId = requestId}};
        }

        // The approval of a request that passed readApproval() (Drive::refusal() turns the others away).
        std::optional<Flows::ApprovalDecision> approvalOf(const Protocol::StartRequest &request)
        {
            auto approval = readApproval(request);
            return approval ? *approval : std::nullopt;
        }

        bool waitsForApproval(const RunStatus status)
        {
            return status == RunStatus::PlanApprovalRequired || status == RunStatus::ToolCallApprovalRequired;
        }

        // An approval answers the run's pending request, or it is refused (4400):
        // the run must wait for an approval and its latest request must be the one named.
        std::optional<QString> approvalProblem(Store::RunStore &store, const Store::Run &run,
                                               const Flows::ApprovalDecision &approval,
                                               std::optional<Store::StoreError> &failure)
        {
            if (!waitsForApproval(run.status))
                return QStringLiteral("not waiting for approval (status: %1)").arg(toString(run.status));
            const auto entries = store.entriesSince(run.workflowId, 0);
            if (!entries)
            {
                failure = entries.error();
                return std::nullopt;
            }
            QString pending;
            for (const Store::StoredEntry &stored : *entries)
            {
                if (stored.entry.value(u"message_type").toString() == u"request")
                    pending = stored.entry.value(u"message_id").toString();
            }
            if (pending != approval.requestId)
                return QStringLiteral("approval for request %1, but the pending request is %2")
                    .arg(approval.requestId, pending.isEmpty() ? QStringLiteral("none") : pending);
            return std::nullopt;
        }

        void resumeIn(Store::RunStore &store, const QString &workflowId, ResumeAttempt &attempt)
        {
            auto resumed = store.resume(workflowId, attempt.fence, attempt.newGoal);
            if (!resumed)
            {
                attempt.storeError = resumed.error();
                return;
            }
            attempt.resumed = *resumed;
            if (resumed->outcome != Store::ResumeOutcome::Resumed)
                return;
            // A hint for the workspace steps: not worth failing the drive over.
            if (auto remembered = store.workspaces().runWorkspace(workflowId))
                attempt.workspace = *remembered;
            else
                qCWarning(lcGateway).noquote()
                    << "workflow" << workflowId
                    << ": its workspace binding could not be read:" << remembered.error().message;
        }

        // Look the run up (create it when new), then CAS-resume it.
        ResumeAttempt prepareAndResume(Store::RunStore &store, const ResumeInput &input)
        {
            ResumeAttempt attempt;
            attempt.fence = input.fence;
            if (input.takeFence)
            {
                const auto fence = store.nextFence(input.fenceAbove);
                if (!fence)
                {
                    attempt.storeError = fence.error();
                    return attempt;
                }
                attempt.fence = *fence;
            }
            auto existing = store.getRun(input.workflowId);
            if (!existing)
            {
                attempt.storeError = existing.error();
                return attempt;
            }
            std::optional<Store::Run> run = *existing;
            if (!run)
            {
                if (input.goal.isEmpty())
                {
                    attempt.refusal = {CloseCode::NotFound, QStringLiteral("workflow not found")};
                    return attempt;
                }
                if (!input.flowKnown)
                {
                    attempt.refusal = {
                        CloseCode::InvalidRequest,
                        QStringLiteral("startRequest.workflowMetadata.flow: no flow named '%1'")
                            .arg(Flows::Flow::isValidName(input.flow) ? input.flow : QStringLiteral("?"))};
                    return attempt;
                }
                auto created = store.createRun(input.workflowId, input.goal, input.flow, attempt.fence);
                if (created)
                {
                    run = *created;
                }
                else
                {
                    // Another session created it a moment ago (no lock): our goal is its next message.
                    if (created.error().kind != Store::StoreError::Kind::Exists)
                    {
                        attempt.storeError = created.error();
                        return attempt;
                    }
                    existing = store.getRun(input.workflowId);
                    if (!existing)
                    {
                        attempt.storeError = existing.error();
                        return attempt;
                    }
                    if (!existing->has_value())
                    {
                        attempt.refusal = {CloseCode::NotFound, QStringLiteral("workflow not found")};
                        return attempt;
                    }
                    run = *existing;
                    attempt.newGoal = input.goal;
                }
            }
            else if (!input.goal.isEmpty())
            {
                attempt.newGoal = input.goal;
            }
            else if (input.approval)
            {
                std::optional<Store::StoreError> failure;
                const std::optional<QString> problem = approvalProblem(store, *run, *input.approval, failure);
                if (failure)
                {
                    attempt.storeError = failure;
                    return attempt;
                }
                if (problem)
                {
                    attempt.refusal = {CloseCode::InvalidRequest, *problem};
                    return attempt;
                }
            }
            resumeIn(store, input.workflowId, attempt);
            return attempt;
        }
    }  // namespace

    std::optional<QString> Drive::refusal(const Protocol::StartRequest &request)
    {
        // The flow only matters for a new run; check its shape now, before any lock.
        const QJsonValue flowValue = request.workflowMetadata.value(u"flow");
        if (!flowValue.isUndefined() && !flowValue.isNull() && !flowValue.isString())
            return QStringLiteral("startRequest.workflowMetadata.flow: must be a string");
        // The workspace the run's workspace steps use (optional): checked before any lock too.
        const QJsonValue workspaceValue = request.workflowMetadata.value(u"workspaceID");
        if (!workspaceValue.isUndefined() && !workspaceValue.isNull() &&
            (!workspaceValue.isString() || !Workspace::isValidWorkspaceId(workspaceValue.toString())))
        {
            return QStringLiteral("startRequest.workflowMetadata.workspaceID: must be a string of "
                                  "[A-Za-z0-9][A-Za-z0-9_.-]{0,127}");
        }
        // An approval's shape is checked before any lock too; whether the run waits for it, after.
        if (const auto approval = readApproval(request); !approval)
            return approval.error();
        return std::nullopt;
    }

    Drive::Drive(DriveContext context, Session *session, Protocol::StartRequest request, const qint64 afterSeq,
                 QObject *parent)
        : QObject(parent)
        , m_context(context)
        , m_session(session)
        , m_request(std::move(request))
        , m_afterSeq(afterSeq)
        , m_workflowId(m_request.workflowID)
    {}

    QString Drive::workflowId() const
    {
        return m_workflowId;
    }

    bool Drive::isDrivenBy(const Session *session) const
    {
        return m_session == session;
    }

    bool Drive::executionRunning() const
    {
        return m_execution && !m_executionEnded;
    }

    QString Drive::lockId() const
    {
        return m_context.config.replicaId + u'#' + QString::number(m_session->id());
    }

    void Drive::start()
    {
        if (!m_context.config.lockConcurrentFlows)
        {
            proceed();
            return;
        }
        // The lock comes before any store write: a held lock closes 1013 having written nothing.
        m_lock = new Lock::RunLock(m_context.lockStore, this);
        m_lock->setTtl(m_context.config.lockTtl);
        m_lockSettled = false;
        m_lock->retain(QStringLiteral("websocket"));
        connect(m_lock, &Lock::RunLock::acquired, this, [this] { onLockAcquired(); });
        connect(m_lock, &Lock::RunLock::held, this,
                [this](const Lock::LockHolder &holder, qint64) { onLockHeld(holder); });
        connect(m_lock, &Lock::RunLock::failed, this, [this](const Lock::LockError &error) { onLockFailed(error); });
        connect(m_lock, &Lock::RunLock::lost, this, [this](const QString &reason) { onLockLost(reason); });
        connect(m_lock, &Lock::RunLock::refreshed, this, [this](const qint64 ttlLeftMs) {
            m_context.host.broadcastLockStatus(m_workflowId, Protocol::LockState::Refreshed, m_lock->sessionId(),
                                               m_fence, ttlLeftMs, nullptr);
        });
        connect(m_lock, &Lock::RunLock::released, this, [this](bool) {
            m_context.host.broadcastLockStatus(m_workflowId, Protocol::LockState::Released, m_lock->sessionId(),
                                               m_fence, 0, nullptr);
            m_lockSettled = true;
            checkDone();
        });
        m_lock->acquire(m_workflowId, lockId());
    }

    void Drive::sessionEnded()
    {
        m_sessionEnded = true;
        if (executionRunning())
            m_execution->requestStop(Flows::StopCause::ClientGone);
        if (m_lock)
            m_lock->relinquish(QStringLiteral("websocket"));
        checkDone();
    }

    void Drive::stopExecution(const Flows::StopCause cause, const QString &reason)
    {
        if (executionRunning())
            m_execution->requestStop(cause, reason);
    }

    // ---- the lock ----

    void Drive::onLockAcquired()
    {
        if (m_sessionEnded || !m_session || m_context.host.shuttingDown())
        {
            m_lock->release();
            return;
        }
        // The lock store's fence; when the run already carries a higher one (an
        // HTTP create, a lock store reset or restarted, a fail-open run), the
        // CAS misses on the fence and onResumed() raises ours past it.
        m_fence = m_lock->fence();
        m_context.host.broadcastLockStatus(m_workflowId, Protocol::LockState::Acquired, m_lock->sessionId(), m_fence,
                                           m_lock->ttl().count(), m_session);
        proceed();
    }

    void Drive::onLockHeld(const Lock::LockHolder &holder)
    {
        qCInfo(lcGateway).noquote() << "workflow" << m_workflowId << "is locked by" << describeHolder(holder);
        m_lockSettled = true;
        if (m_session)
            m_session->closeWith(quint16(CloseCode::TryAgainLater), LockHeldReason);
        checkDone();
    }

    void Drive::onLockFailed(const Lock::LockError &error)
    {
        qCWarning(lcGateway).noquote() << "lock store unavailable for" << m_workflowId << ":" << error.message;
        m_lockSettled = true;
        m_lock->deleteLater();
        m_lock = nullptr;
        if (!m_session || m_sessionEnded)
        {
            checkDone();
            return;
        }
        if (m_context.config.lockUnavailable == LockUnavailablePolicy::FailClosed)
        {
            m_session->closeWith(quint16(CloseCode::InternalError), QStringLiteral("lock store unavailable"));
            checkDone();
            return;
        }
        // fail-open: run without mutual exclusion, and say so.
        m_context.host.broadcastLockStatus(m_workflowId, Protocol::LockState::Unavailable, {}, 0, 0, m_session);
        proceed();
    }

    void Drive::onLockLost(const QString &reason)
    {
        qCWarning(lcGateway).noquote() << "lost the lock of" << m_workflowId << ":" << reason;
        if (executionRunning())
            m_execution->requestStop(Flows::StopCause::LostLock, QStringLiteral("lost lock"));
        if (!std::exchange(m_lostReported, true))
            m_context.host.broadcastLockStatus(m_workflowId, Protocol::LockState::Lost, m_lock->sessionId(), m_fence, 0,
                                               m_session);
        if (m_session)
            m_session->closeWith(quint16(CloseCode::InternalError), QStringLiteral("lost lock"));
        m_lockSettled = true;
        checkDone();
    }

    // ---- the run: create or resume ----

    void Drive::fail(const CloseCode code, const QString &reason)
    {
        if (m_session)
            m_session->closeWith(quint16(code), reason);
        if (m_lock)
            m_lock->release();
        checkDone();
    }

    void Drive::failOnStore(const Store::StoreError &error)
    {
        if (error.kind == Store::StoreError::Kind::InvalidInput)
            return fail(CloseCode::InvalidRequest, storeCloseReason(error));
        qCWarning(lcGateway).noquote() << "workflow" << m_workflowId << "store error:" << error.message;
        fail(CloseCode::InternalError, storeCloseReason(error));
    }

    template <typename Job, typename Then>
    void Drive::storeCall(Job job, Then then)
    {
        ++m_storeCalls;
        m_context.store.call(this, std::move(job), [this, then = std::move(then)](auto result) mutable {
            --m_storeCalls;
            then(std::move(result));
            checkDone();
        });
    }

    void Drive::proceed()
    {
        if (!m_session || m_sessionEnded)
            return fail(CloseCode::Normal, {});
        ResumeInput input;
        input.workflowId = m_workflowId;
        input.goal = m_request.goal;
        input.flow = m_request.workflowMetadata.value(u"flow").toString();
        if (input.flow.isEmpty())
            input.flow = DefaultFlow;
        input.flowKnown = m_context.flows.contains(input.flow);
        input.fence = m_fence;
        // No lock (turned off, or fail-open): the store's counter is the fence.
        input.takeFence = !m_lock;
        input.approval = approvalOf(m_request);
        storeCall([input](Store::RunStore &store) { return prepareAndResume(store, input); },
                  [this](const ResumeAttempt &attempt) { onResumed(attempt, false); });
    }

    void Drive::onResumed(const ResumeAttempt &attempt, const bool fenceRaised)
    {
        m_fence = attempt.fence;
        if (attempt.newGoal)
            m_newGoal = attempt.newGoal;
        if (attempt.storeError)
            return failOnStore(*attempt.storeError);
        if (attempt.refusal)
            return fail(attempt.refusal->first, attempt.refusal->second);
        const Store::ResumeResult &resumed = attempt.resumed;
        switch (resumed.outcome)
        {
        case Store::ResumeOutcome::NotFound: return fail(CloseCode::NotFound, QStringLiteral("workflow not found"));
        case Store::ResumeOutcome::NotResumable:
        {
            const RunStatus status = resumed.status.value_or(RunStatus::Running);
            const qint64 storedFence = resumed.fence.value_or(0);
            // A miss on the fence is not a CAS miss: the run carries a fence from
            // elsewhere. Take a fresh one above it once; losing again means a newer
            // holder wrote meanwhile, and that is what the client hears.
            const bool fenceMiss = m_context.config.casGuards && m_context.config.fencing && (storedFence > m_fence);
            if (!fenceMiss)
                return fail(CloseCode::NotResumable,
                            QStringLiteral("not resumable (status: %1)").arg(toString(status)));
            if (fenceRaised)
            {
                qCWarning(lcGateway).noquote() << "workflow" << m_workflowId << "carries fence" << storedFence
                                               << "above ours" << m_fence << "after a raise";
                return fail(CloseCode::InternalError,
                            QStringLiteral("stale fence: the run carries fence %1, above ours %2")
                                .arg(storedFence)
                                .arg(m_fence));
            }
            qCInfo(lcGateway).noquote() << "workflow" << m_workflowId << "carries fence" << storedFence << "above ours"
                                        << m_fence << "; taking a fresh one";
            return raiseFence(storedFence);
        }
        case Store::ResumeOutcome::Resumed: break;
        }
        const Store::Run &run = *resumed.run;
        // The session went away (or the lock was lost) while the store worked:
        // nobody will drive the run now, so it is left as a closed tab leaves it.
        if (!m_session || m_sessionEnded || (m_lock && m_lock->state() != Lock::RunLock::State::Holding))
        {
            const bool lockLost = m_lock && m_lock->state() == Lock::RunLock::State::Lost;
            qCInfo(lcGateway).noquote() << "workflow" << m_workflowId << "was resumed after its session"
                                        << (lockLost ? "lost the lock; left for --stale-after" : "ended; pausing it");
            if (lockLost)
                return fail(CloseCode::InternalError, QStringLiteral("lost lock"));
            const QString workflowId = m_workflowId;
            const qint64 fence = m_fence;
            storeCall(
                [workflowId, fence](Store::RunStore &store) {
                    return store.transition(workflowId, fence, RunStatus::Paused,
                                            QStringLiteral("client disconnected"));
                },
                [this](const Store::StoreResult<bool> &) { fail(CloseCode::Normal, {}); });
            return;
        }
        m_flow = m_context.flows.find(run.flow);
        if (!m_flow)
            return fail(CloseCode::InternalError,
                        QStringLiteral("flow '%1' is not available on this gateway").arg(run.flow));
        startExecution(run, attempt.workspace);
    }

    void Drive::raiseFence(const qint64 floor)
    {
        if (!m_lock)
            return resumeAgain(floor);
        m_lock->raiseFence(floor, [this](Lock::LockResult<std::optional<qint64>> raised) {
            if (!m_session || m_sessionEnded)
                return fail(CloseCode::Normal, {});
            if (!raised)
            {
                qCWarning(lcGateway).noquote()
                    << "cannot raise the fence of" << m_workflowId << ":" << raised.error().message;
                return fail(CloseCode::InternalError, QStringLiteral("lock store unavailable"));
            }
            if (!raised->has_value())
                return;  // the lock is gone: onLockLost() or the release closes the session
            m_fence = **raised;
            m_context.host.broadcastLockStatus(m_workflowId, Protocol::LockState::Acquired, m_lock->sessionId(),
                                               m_fence, m_lock->ttl().count(), m_session);
            resumeAgain(std::nullopt);
        });
    }

    void Drive::resumeAgain(const std::optional<qint64> lockless)
    {
        ResumeAttempt again;
        again.fence = m_fence;
        again.newGoal = m_newGoal;
        const QString workflowId = m_workflowId;
        storeCall(
            [attempt = again, workflowId, lockless](Store::RunStore &store) mutable {
                if (lockless)
                {
                    const auto fence = store.nextFence(*lockless);
                    if (!fence)
                    {
                        attempt.storeError = fence.error();
                        return attempt;
                    }
                    attempt.fence = *fence;
                }
                resumeIn(store, workflowId, attempt);
                return attempt;
            },
            [this](const ResumeAttempt &attempt) { onResumed(attempt, true); });
    }

    // ---- the execution ----

    void Drive::startExecution(const Store::Run &run, const std::optional<Store::RunWorkspace> &remembered)
    {
        Session *session = m_session;
        const GatewayConfig &config = m_context.config;
        Flows::ExecutionOptions options;
        options.userMessage = m_newGoal.value_or(QString());
        if (!m_newGoal)
            options.approval = approvalOf(m_request);
        options.delayScale = config.stepDelayScale;
        options.deadline = config.workflowDeadline;
        options.activityInterval =
            std::max(std::chrono::milliseconds(100), std::min(config.lockTtl / 3, config.staleAfter / 3));
        options.guards = config.casGuards;
        options.fencing = config.fencing;
        options.workspaceTools = m_context.workspaceTools;
        options.workspace = workspaceBinding(m_request.workflowMetadata.value(u"workspaceID").toString(), remembered);
        m_execution = new Flows::Execution(m_context.store, run, *m_flow, m_fence, options, this);
        if (m_lock)
            m_lock->retain(QStringLiteral("execution"));
        connect(m_execution, &Flows::Execution::finished, this, [this] { onExecutionFinished(); });

        RunFeed *feed = m_context.host.feedFor(m_workflowId);
        feed->attachExecution(m_execution);
        const QString workflowId = m_workflowId;
        feed->addListener(session, m_afterSeq, [workflowId](RunFeed::AddResult added, const QString &problem) {
            if (added != RunFeed::AddResult::Added)
                qCWarning(lcGateway).noquote() << "no snapshot for" << workflowId << ":" << problem;
        });
        qCInfo(lcGateway).noquote() << "session" << session->id() << "drives workflow" << m_workflowId << "flow"
                                    << m_flow->name << "fence" << m_fence;
        m_execution->start();
    }

    Workspace::WorkspaceBinding Drive::workspaceBinding(const QString &requested,
                                                        const std::optional<Store::RunWorkspace> &remembered) const
    {
        // The workspace named by this startRequest, else the one the run
        // remembers; the agent it used last is dialed first when this
        // gateway knows its address, else the dialer looks it up (lazily).
        Workspace::WorkspaceBinding binding{.workspaceId = requested, .agent = std::nullopt};
        if (!remembered)
            return binding;
        if (binding.workspaceId.isEmpty())
            binding.workspaceId = remembered->workspaceId;
        if (binding.workspaceId == remembered->workspaceId && !remembered->agentId.isEmpty() &&
            m_context.workspaceTools)
            binding.agent = m_context.workspaceTools->knownAgent(remembered->agentId);
        return binding;
    }

    void Drive::onExecutionFinished()
    {
        m_executionEnded = true;
        const Flows::StopCause cause = m_execution->stopCause().value_or(Flows::StopCause::TurnEnded);
        m_context.host.refreshFeed(m_workflowId);
        // Remember the workspace binding (a hint for the next turn), and read
        // the status the run ended with: the session's close reason.
        const Workspace::WorkspaceBinding binding = m_execution->workspaceBinding();
        std::optional<Store::RunWorkspace> remember;
        if (!binding.workspaceId.isEmpty())
            remember = Store::RunWorkspace{.workspaceId = binding.workspaceId,
                                           .agentId = binding.agent ? binding.agent->agentId : QString()};
        storeCall(
            [workflowId = m_workflowId, remember](Store::RunStore &store) {
                if (remember)
                {
                    if (const auto written = store.workspaces().setRunWorkspace(workflowId, *remember); !written)
                        qCWarning(lcGateway).noquote()
                            << "workflow" << workflowId
                            << ": its workspace binding was not stored:" << written.error().message;
                }
                return store.getRun(workflowId);
            },
            [this, cause](const Store::StoreResult<std::optional<Store::Run>> &stored) {
                const QString status =
                    (stored && stored->has_value()) ? toString((*stored)->status) : QStringLiteral("unknown");
                closeFinished(cause, status);
            });
    }

    void Drive::closeFinished(const Flows::StopCause cause, const QString &status)
    {
        qCInfo(lcGateway).noquote() << "workflow" << m_workflowId << "execution ended:" << Flows::toString(cause)
                                    << "status" << status;
        if (m_session)
        {
            switch (cause)
            {
            case Flows::StopCause::LostLock:
                m_session->closeWith(quint16(CloseCode::InternalError), QStringLiteral("lost lock"));
                break;
            case Flows::StopCause::Superseded:
                // A newer fence wrote: with the lock on, ours was taken over
                // (say, this process was paused past its TTL) even if our
                // heartbeat has not found out yet. Same end as a lost lock.
                if (m_lock)
                {
                    if (!std::exchange(m_lostReported, true))
                        m_context.host.broadcastLockStatus(m_workflowId, Protocol::LockState::Lost, m_lock->sessionId(),
                                                           m_fence, 0, m_session);
                    m_session->closeWith(quint16(CloseCode::InternalError), QStringLiteral("lost lock"));
                }
                else
                    m_session->closeWith(quint16(CloseCode::Normal), status);
                break;
            case Flows::StopCause::StoreError:
                m_session->closeWith(quint16(CloseCode::InternalError), QStringLiteral("store error"));
                break;
            case Flows::StopCause::Shutdown:
                m_session->closeWith(quint16(CloseCode::GoingAway), QStringLiteral("gateway shutting down"));
                break;
            default: m_session->closeWith(quint16(CloseCode::Normal), status); break;
            }
        }
        if (m_lock)
            m_lock->relinquish(QStringLiteral("execution"));
        checkDone();
        m_context.host.dropFeedIfIdle(m_workflowId);
    }

    void Drive::checkDone()
    {
        if (m_done)
            return;
        const bool sessionOver = m_sessionEnded || !m_session;
        const bool executionOver = !m_execution || m_executionEnded;
        bool lockOver = m_lockSettled;
        if (m_lock && !lockOver)
        {
            const auto state = m_lock->state();
            lockOver = (state == Lock::RunLock::State::Released) || (state == Lock::RunLock::State::Lost) ||
                       (state == Lock::RunLock::State::HeldElsewhere) || (state == Lock::RunLock::State::Failed);
        }
        if (!sessionOver || !executionOver || !lockOver || (m_storeCalls > 0))
            return;
        m_done = true;
        m_context.host.driveEnded(this);
    }
}  // namespace Lockstep::Gateway
