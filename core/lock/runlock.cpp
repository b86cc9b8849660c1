#include "runlock.h"

#include <atomic>

#include "common/logging.h"
#include "lock/lockkeeper.h"

namespace Lockstep::Lock
{
    namespace
    {
        std::atomic<int> s_liveHeartbeats{0};
    }  // namespace

    RunLock::RunLock(LockStore *store, QObject *parent)
        : QObject(parent)
        , m_store(store)
        , m_ttl(store ? store->options().ttl : LockOptions{}.ttl)
    {
        m_heartbeat.setTimerType(Qt::PreciseTimer);
        connect(&m_heartbeat, &QTimer::timeout, this, &RunLock::beat);
    }

    RunLock::~RunLock()
    {
        stopHeartbeat();
        stopKeeping();
        if (m_state == State::Holding && m_store)
        {
            // Best effort: nobody is left to hear the answer; on failure the key expires within the TTL.
            m_store->release(m_workflowId, m_holder.value, nullptr, {});
        }
        // Acquiring: the answer is handled in acquire()'s callback, which outlives us.
    }

    void RunLock::setTtl(std::chrono::milliseconds ttl)
    {
        if (m_state != State::Idle)
        {
            qCWarning(lcLock) << "RunLock::setTtl after acquire() is ignored";
            return;
        }
        m_ttl = ttl;
    }

    std::chrono::milliseconds RunLock::ttl() const
    {
        return m_ttl;
    }

    void RunLock::acquire(const QString &workflowId, const QString &sessionId)
    {
        if (m_state != State::Idle)
        {
            qCWarning(lcLock) << "RunLock::acquire called more than once; ignored";
            return;
        }
        m_workflowId = workflowId;
        m_sessionId = sessionId;
        m_state = State::Acquiring;
        const auto sentAt = Clock::now();
        if (!m_store)
        {
            QMetaObject::invokeMethod(
                this,
                [this, sentAt] {
                    onAcquireAnswer(unexpected(LockError{.kind = LockError::Kind::Unavailable,
                                                         .message = QStringLiteral("no lock store")}),
                                    sentAt);
                },
                Qt::QueuedConnection);
            return;
        }
        // No context guard: if we are destroyed before the answer, a lock we were
        // just given is handed straight back.
        LockStore *store = m_store;
        m_store->acquire(workflowId, sessionId, m_ttl, nullptr,
                         [self = QPointer<RunLock>(this), store, workflowId, sentAt](LockResult<AcquireResult> result) {
                             if (self)
                                 return self->onAcquireAnswer(std::move(result), sentAt);
                             if (result && result->acquired)
                                 store->release(workflowId, result->holder.value, nullptr, {});
                         });
    }

    void RunLock::onAcquireAnswer(LockResult<AcquireResult> result, Clock::time_point sentAt)
    {
        if (m_state != State::Acquiring)
            return;
        if (m_releaseRequested)
        {
            // The session ended while we waited: never announce a lock nobody wants.
            if (result && result->acquired)
            {
                m_holder = result->holder;
                releaseNow();
            }
            else
            {
                m_state = State::Released;
                emit released(false);
            }
            return;
        }
        if (!result)
        {
            m_state = State::Failed;
            qCWarning(lcLock).noquote()
                << QStringLiteral("cannot acquire the lock of %1: %2").arg(m_workflowId, result.error().message);
            emit failed(result.error());
            return;
        }
        if (!result->acquired)
        {
            m_state = State::HeldElsewhere;
            qCInfo(lcLock).noquote() << QStringLiteral("the lock of %1 is held by %2 (session %3)")
                                            .arg(m_workflowId, result->holder.replica, result->holder.session);
            emit held(result->holder, result->ttlMs);
            return;
        }
        m_holder = result->holder;
        m_state = State::Holding;
        m_validUntil = sentAt + m_ttl;
        if (LockKeeper *keeper = m_store ? m_store->keeper() : nullptr)
        {
            m_keeper = keeper;
            m_keeper->keep(m_store->lockKey(m_workflowId), m_holder.value, m_ttl, sentAt);
        }
        qCDebug(lcLock).noquote()
            << QStringLiteral("acquired the lock of %1, fence %2").arg(m_workflowId).arg(m_holder.fence);
        startHeartbeat();
        emit acquired(m_holder.fence, result->ttlMs);
    }

    void RunLock::release()
    {
        switch (m_state)
        {
        case State::Acquiring:
            m_releaseRequested = true;  // finished when the acquire answer arrives
            return;
        case State::Holding: releaseNow(); return;
        case State::Idle:
        case State::Releasing:
        case State::Released:
        case State::Lost:
        case State::HeldElsewhere:
        case State::Failed: return;
        }
    }

    void RunLock::raiseFence(const qint64 floor, RaiseDone done)
    {
        if (m_state != State::Holding || !m_store || m_raiseInFlight)
        {
            QMetaObject::invokeMethod(
                this, [done = std::move(done)] { done(std::optional<qint64>()); }, Qt::QueuedConnection);
            return;
        }
        m_raiseInFlight = true;
        if (m_keeper)
            m_keeper->pause(m_store->lockKey(m_workflowId));  // its refreshes carry the old value
        m_store->raiseFence(
            m_workflowId, m_holder.value, floor, this,
            [this, done = std::move(done)](LockResult<std::optional<LockHolder>> result) {
                m_raiseInFlight = false;
                if (result && result->has_value())
                    m_holder = **result;
                if (m_keeper && m_store)
                    m_keeper->setValue(m_store->lockKey(m_workflowId), m_holder.value);
                if (result && result->has_value())
                {
                    qCInfo(lcLock).noquote()
                        << QStringLiteral("the lock of %1 now carries fence %2").arg(m_workflowId).arg(m_holder.fence);
                }
                if (m_state == State::Releasing)
                {
                    sendRelease();
                    return done(std::optional<qint64>());
                }
                if (!result)
                    return done(unexpected(result.error()));
                if (!result->has_value())
                {
                    if (m_state == State::Holding)
                        loseLock(QStringLiteral("lock expired or was taken over"));
                    return done(std::optional<qint64>());
                }
                done(std::optional<qint64>(m_holder.fence));
            });
    }

    void RunLock::releaseNow()
    {
        // Heartbeat first, so no refresh can extend the lock after the delete.
        stopHeartbeat();
        stopKeeping();
        m_state = State::Releasing;
        // A fence raise changes the stored value: release with the value it answers.
        if (!m_raiseInFlight)
            sendRelease();
    }

    void RunLock::sendRelease()
    {
        if (!m_store)
        {
            QMetaObject::invokeMethod(
                this,
                [this] {
                    m_state = State::Released;
                    emit released(false);
                },
                Qt::QueuedConnection);
            return;
        }
        m_store->release(
            m_workflowId, m_holder.value, this, [this](LockResult<bool> result) {
                m_state = State::Released;
                if (!result)
                {
                    qCWarning(lcLock).noquote()
                        << QStringLiteral("releasing the lock of %1 failed, it expires within the TTL: %2")
                               .arg(m_workflowId, result.error().message);
                }
                else if (!result.value())
                {
                    qCInfo(lcLock).noquote()
                        << QStringLiteral("the lock of %1 had already expired or moved on").arg(m_workflowId);
                }
                emit released(result && result.value());
            });
    }

    void RunLock::retain(const QString &party)
    {
        m_parties.insert(party);
    }

    void RunLock::relinquish(const QString &party)
    {
        if (m_parties.remove(party) && m_parties.isEmpty())
            release();
    }

    QStringList RunLock::parties() const
    {
        return m_parties.values();
    }

    RunLock::State RunLock::state() const
    {
        return m_state;
    }

    bool RunLock::isHolding() const
    {
        return m_state == State::Holding;
    }

    QString RunLock::workflowId() const
    {
        return m_workflowId;
    }

    QString RunLock::sessionId() const
    {
        return m_sessionId;
    }

    qint64 RunLock::fence() const
    {
        return m_holder.fence;
    }

    const LockHolder &RunLock::holder() const
    {
        return m_holder;
    }

    int RunLock::liveHeartbeats()
    {
        return s_liveHeartbeats.load();
    }

    void RunLock::beat()
    {
        if (m_state != State::Holding)
            return;
        const auto now = Clock::now();
        // The keeper refreshed (or not) while this thread may have been stuck: ask it first.
        if (m_keeper)
            return readKeeper(now);
        if (now >= m_validUntil)
        {
            // A refresh hung or kept failing past the TTL: the key may be gone already.
            return loseLock(QStringLiteral("no refresh succeeded within the lock TTL (%1 ms)").arg(m_ttl.count()));
        }
        if (m_refreshInFlight || m_raiseInFlight)
            return;
        if (!m_store)
            return loseLock(QStringLiteral("lock store is gone"));
        m_refreshInFlight = true;
        m_store->refresh(m_workflowId, m_holder.value, m_ttl, this, [this, now](LockResult<bool> result) {
            m_refreshInFlight = false;
            if (m_state != State::Holding)
                return;
            if (!result)
                return loseLock(QStringLiteral("lock store unavailable: ") + result.error().message);
            if (!result.value())
                return loseLock(QStringLiteral("lock expired or was taken over"));
            m_validUntil = now + m_ttl;
            emit refreshed(m_ttl.count());
        });
    }

    void RunLock::startHeartbeat()
    {
        m_heartbeat.start(std::max(m_ttl / 3, std::chrono::milliseconds(1)));
        if (!std::exchange(m_heartbeatCounted, true))
            ++s_liveHeartbeats;
    }

    void RunLock::stopHeartbeat()
    {
        m_heartbeat.stop();
        if (std::exchange(m_heartbeatCounted, false))
            --s_liveHeartbeats;
    }

    void RunLock::readKeeper(const Clock::time_point now)
    {
        const std::optional<LockKeeper::Status> status = m_keeper->status(m_store->lockKey(m_workflowId));
        if (!status)
            return loseLock(QStringLiteral("the lock keeper does not know this lock"));
        if (status->lost)
        {
            return loseLock(status->problem.isEmpty() ? QStringLiteral("lock expired or was taken over")
                                                      : QStringLiteral("lock store unavailable: ") + status->problem);
        }
        if (status->lastRefreshSent + m_ttl > m_validUntil)
        {
            m_validUntil = status->lastRefreshSent + m_ttl;
            emit refreshed(m_ttl.count());
        }
        if (now >= m_validUntil)
            loseLock(QStringLiteral("no refresh succeeded within the lock TTL (%1 ms)").arg(m_ttl.count()));
    }

    void RunLock::stopKeeping()
    {
        if (m_keeper && m_store)
            m_keeper->drop(m_store->lockKey(m_workflowId));
        m_keeper = nullptr;
    }

    void RunLock::loseLock(const QString &reason)
    {
        stopHeartbeat();
        stopKeeping();
        m_state = State::Lost;
        qCWarning(lcLock).noquote()
            << QStringLiteral("lost the lock of %1 (fence %2): %3").arg(m_workflowId).arg(m_holder.fence).arg(reason);
        emit lost(reason);
    }
}  // namespace Lockstep::Lock
