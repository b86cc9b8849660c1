#pragma once

#include <chrono>
#include <functional>
#include <optional>

#include <QObject>
#include <QPointer>
#include <QSet>
#include <QString>
#include <QTimer>

#include "lock/lockstore.h"

namespace Lockstep::Lock
{
    // The run lock of one execution (one driving session): acquire, heartbeat,
    // release. Single use: acquire() once, then it ends in Released, Lost,
    // HeldElsewhere or Failed.
    //
    //   auto *lock = new RunLock(store, session);
    //   connect(lock, &RunLock::acquired, ...);   // go on: run with lock->fence()
    //   connect(lock, &RunLock::held, ...);       // close 1013
    //   connect(lock, &RunLock::failed, ...);     // store unavailable: 1011 or fail-open
    //   connect(lock, &RunLock::lost, ...);       // cancel the execution: "lost lock"
    //   lock->acquire(workflowId, sessionId);
    //
    // Release "when both the websocket and the execution have ended": retain()
    // a name for each party that needs the lock and relinquish() it when that party
    // is done; the last relinquish releases. release() releases at once.
    //
    // Signals are emitted from the event loop, never inside acquire()/release().
    // The store must outlive the lock object (it is checked, not assumed).
    class RunLock final : public QObject
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(RunLock)

    public:
        enum class State
        {
            Idle,  // before acquire()
            Acquiring,
            Holding,    // heartbeat running
            Releasing,  // heartbeat stopped, compare-and-delete running
            Released,
            Lost,           // a refresh answered 0 or failed
            HeldElsewhere,  // acquire found another holder
            Failed,         // acquire could not reach the store (or bad arguments)
        };
        Q_ENUM(State)

        explicit RunLock(LockStore *store, QObject *parent = nullptr);
        // Stops the heartbeat and releases (best effort, nobody waits for it).
        ~RunLock() override;

        // Defaults to the store's options().ttl; set it before acquire().
        void setTtl(std::chrono::milliseconds ttl);
        std::chrono::milliseconds ttl() const;

        void acquire(const QString &workflowId, const QString &sessionId);
        // Stops the heartbeat first, then compare-and-delete. Acting only while
        // Acquiring or Holding; after it, released() is the only signal still emitted.
        void release();

        // Keep the lock while any retained party is left. Names are free-form
        // ("websocket", "execution"); both calls are idempotent per name.
        // While holding: a fresh fence above `floor` (LockStore::raiseFence),
        // for a run whose stored fence came from elsewhere. `done` gets the new
        // fence; nullopt when the lock is no longer ours (then lost() or
        // released() is emitted as well); an error when the store could not
        // answer. Heartbeats wait for the answer; a release() meanwhile is sent
        // after it, with the new value.
        using RaiseDone = std::function<void(LockResult<std::optional<qint64>>)>;
        void raiseFence(qint64 floor, RaiseDone done);

        void retain(const QString &party);
        void relinquish(const QString &party);
        QStringList parties() const;

        State state() const;
        bool isHolding() const;
        QString workflowId() const;
        QString sessionId() const;
        // Ours once acquired: the fencing token every store write of the run carries.
        qint64 fence() const;
        const LockHolder &holder() const;

        // Heartbeat timers running in this process, over all RunLock objects.
        static int liveHeartbeats();

    signals:
        void acquired(qint64 fence, qint64 ttlMs);
        // Someone else holds it (SPEC: close 1013).
        void held(const Lockstep::Lock::LockHolder &holder, qint64 ttlMs);
        // The store could not answer (or the arguments were bad); see error.kind.
        void failed(const Lockstep::Lock::LockError &error);
        void refreshed(qint64 ttlLeftMs);
        // Emitted once; the heartbeat has stopped. Mutual exclusion is gone: cancel.
        void lost(const QString &reason);
        // deleted: our key was removed; false when it had expired or could not be reached
        // (then it expires within the TTL).
        void released(bool deleted);

    private:
        using Clock = std::chrono::steady_clock;

        void onAcquireAnswer(LockResult<AcquireResult> result, Clock::time_point sentAt);
        void beat();
        void startHeartbeat();
        void stopHeartbeat();
        void loseLock(const QString &reason);
        void releaseNow();
        void sendRelease();
        // With a LockKeeper: what it saw stands for the refresh.
        void readKeeper(Clock::time_point now);
        void stopKeeping();

        QPointer<LockStore> m_store;
        std::chrono::milliseconds m_ttl;
        State m_state = State::Idle;
        QString m_workflowId;
        QString m_sessionId;
        LockHolder m_holder;
        QTimer m_heartbeat;
        bool m_heartbeatCounted = false;
        bool m_refreshInFlight = false;
        bool m_releaseRequested = false;
        bool m_raiseInFlight = false;
        LockKeeper *m_keeper = nullptr;  // the store's, while holding (Redis); null: refresh here
        Clock::time_point m_validUntil;  // sent time of the last successful acquire/refresh + TTL
        QSet<QString> m_parties;
    };
}  // namespace Lockstep::Lock
