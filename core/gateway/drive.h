#pragma once

#include <optional>

#include <QObject>
#include <QPointer>
#include <QString>

#include "agent/agentaddress.h"
#include "flows/flow.h"
#include "protocol/closecode.h"
#include "protocol/messages.h"

namespace Lockstep::Store
{
    class StoreWorker;
    struct Run;
    struct RunWorkspace;
    struct StoreError;
}
namespace Lockstep::Flows
{
    class Execution;
    class FlowLibrary;
    enum class StopCause;
}
namespace Lockstep::Workspace
{
    class WorkspaceToolRunner;
}
namespace Lockstep::Lock
{
    class LockStore;
    class RunLock;
    struct LockError;
    struct LockHolder;
}

namespace Lockstep::Gateway
{
    class Drive;
    class RunFeed;
    class Session;
    struct GatewayConfig;
    struct ResumeAttempt;

    // The flow of a new run whose startRequest names none.
    inline const QString DefaultFlow = QStringLiteral("hello");

    // SPEC: a store failure closes 1011 with the store's reason (never SQL text);
    // a value the store cannot keep is an invalid request.
    QString storeCloseReason(const Store::StoreError &error);
    // Who holds a lock, for logs and GET /api/v1/workflows/{id}/lock.
    QString describeHolder(const Lock::LockHolder &holder);

    // What a drive asks of the gateway around it (the Server), which outlives it.
    class DriveHost
    {
    public:
        virtual bool shuttingDown() const = 0;
        // lockStatus to every subscriber of the workflow, and to `alsoTo` (the driver) when set.
        virtual void broadcastLockStatus(const QString &workflowId, Protocol::LockState state, const QString &holder,
                                         qint64 fence, qint64 ttlMs, Session *alsoTo) = 0;
        // The workflow's feed, created when there is none.
        virtual RunFeed *feedFor(const QString &workflowId) = 0;
        // Reads the workflow's new entries into its feed, when it has one.
        virtual void refreshFeed(const QString &workflowId) = 0;
        virtual void dropFeedIfIdle(const QString &workflowId) = 0;
        // Everything the drive waited for has ended: forget it and delete it later.
        virtual void driveEnded(Drive *drive) = 0;

    protected:
        ~DriveHost() = default;
    };

    // What a drive works with; all of it outlives every drive.
    struct DriveContext
    {
        const GatewayConfig &config;
        const Flows::FlowLibrary &flows;
        Store::StoreWorker &store;
        Lock::LockStore *lockStore = nullptr;
        Workspace::WorkspaceToolRunner *workspaceTools = nullptr;
        DriveHost &host;
    };

    // One startRequest being served: the session that sent it, its lock and its
    // execution.
    //  [lock -> 1013 when held] -> create the run if new (flow from
    //  workflowMetadata {"flow": NAME}, default "hello"; an unknown workflow with
    //  an empty goal is 4404: nothing to resume) or CAS-resume it (empty goal:
    //  resume; non-empty: the next user message; an approval answers the run's
    //  pending request) -> 4409 on a miss -> run an Execution. A miss on the
    //  fence alone takes a fresh fence above the stored one once and tries again;
    //  a second miss is a stale fence (1011). When the execution ends the session
    //  closes (1000, reason = final status); when the session closes first the
    //  execution stops at the next step and the run is left `paused`.
    // It lives until the session and the execution have ended, the lock is
    // released and every store call it made has answered (driveEnded()).
    class Drive final : public QObject
    {
        Q_DISABLE_COPY_MOVE(Drive)

    public:
        // Why a startRequest is refused (4400) before any lock: the shape of its
        // flow, workspaceID or approval. Nothing: it may be served.
        static std::optional<QString> refusal(const Protocol::StartRequest &request);

        Drive(DriveContext context, Session *session, Protocol::StartRequest request, qint64 afterSeq, QObject *parent);

        // Takes the lock (when on; it comes before any store write), then
        // creates or resumes the run and starts its execution.
        void start();
        // The driving session ended: the execution stops (the run is left
        // `paused`) and the lock is let go once nothing else needs it.
        void sessionEnded();
        // Stops the execution at its next step boundary, if it runs.
        void stopExecution(Flows::StopCause cause, const QString &reason = {});

        QString workflowId() const;
        bool isDrivenBy(const Session *session) const;
        bool executionRunning() const;

    private:
        QString lockId() const;
        void onLockAcquired();
        void onLockHeld(const Lock::LockHolder &holder);
        void onLockFailed(const Lock::LockError &error);
        void onLockLost(const QString &reason);

        // A store call for this drive: the drive lives until `then` has run.
        template <typename Job, typename Then>
        void storeCall(Job job, Then then);
        // After the lock (or without one): create or look up the run and
        // CAS-resume it, in one store call; then onResumed().
        void proceed();
        // A miss on the fence alone takes a fresh fence above the stored one
        // once (raiseFence) and tries again; a second miss is a stale fence.
        void onResumed(const ResumeAttempt &attempt, bool fenceRaised);
        void raiseFence(qint64 floor);
        void resumeAgain(std::optional<qint64> lockless);
        void startExecution(const Store::Run &run, const std::optional<Store::RunWorkspace> &remembered);
        // The run's workspace: named by the startRequest or remembered with the run.
        Workspace::WorkspaceBinding workspaceBinding(const QString &requested,
                                                     const std::optional<Store::RunWorkspace> &remembered) const;
        void fail(CloseCode code, const QString &reason);
        void failOnStore(const Store::StoreError &error);

        void onExecutionFinished();
        // The rest of onExecutionFinished(), once the store said how the run ended.
        void closeFinished(Flows::StopCause cause, const QString &status);
        // Tells the host once the session, the execution, the lock and the store calls are all over.
        void checkDone();

        DriveContext m_context;
        QPointer<Session> m_session;
        Protocol::StartRequest m_request;
        qint64 m_afterSeq = 0;
        QString m_workflowId;
        Lock::RunLock *m_lock = nullptr;          // child; null when the lock is off or unavailable (fail-open)
        Flows::Execution *m_execution = nullptr;  // child; null until started
        qint64 m_fence = 0;
        std::optional<QString> m_newGoal;   // the user message this drive adds (none: a plain resume)
        std::optional<Flows::Flow> m_flow;  // the run's flow, once known
        bool m_sessionEnded = false;
        bool m_executionEnded = false;
        bool m_lockSettled = true;    // false while a lock is held or being released
        bool m_lostReported = false;  // lockStatus `lost` went out (once per drive)
        int m_storeCalls = 0;         // store calls out for this drive (it waits for them)
        bool m_done = false;
    };
}  // namespace Lockstep::Gateway
