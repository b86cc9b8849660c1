#include "locktracker.h"

#include <QElapsedTimer>

#include "outcome.h"

namespace Lockstep::Ui
{
    LockTracker::LockTracker(QObject *parent, std::function<qint64()> monotonicMs)
        : QObject(parent)
        , m_clock(std::move(monotonicMs))
    {
        if (!m_clock)
        {
            m_clock = [] {
                static QElapsedTimer clock;
                if (!clock.isValid())
                    clock.start();
                return clock.elapsed();
            };
        }
    }

    qint64 LockTracker::now() const
    {
        return m_clock();
    }

    void LockTracker::setWorkflowDeadline(const std::chrono::milliseconds deadline)
    {
        m_deadline = deadline;
        emit changed();
    }

    void LockTracker::apply(const Protocol::LockStatus &status)
    {
        const QString who = LockHolder::parse(status.holder).describe();
        const QString ttl = (status.ttlMs > 0) ? QStringLiteral(", TTL %1").arg(formatDuration(status.ttlMs)) : QString();
        switch (status.state)
        {
        case Protocol::LockState::Acquired:
            m_state = State::Held;
            m_holder = status.holder;
            m_fence = status.fence;
            m_ttlMs = (status.ttlMs > 0) ? std::optional<qint64>(status.ttlMs) : std::nullopt;
            m_ttlSeenAt = now();
            m_acquiredSeenAt = now();
            m_heartbeats = 0;
            m_lastHeartbeat.reset();
            addEvent(QStringLiteral("acquired by %1 (fence %2%3)").arg(who.isEmpty() ? QStringLiteral("?") : who).arg(status.fence).arg(ttl));
            break;
        case Protocol::LockState::Refreshed:
            if ((m_state != State::Held) || (m_holder != status.holder))
            {
                // We joined while it was held: adopt the holder.
                m_state = State::Held;
                m_holder = status.holder;
            }
            if (status.fence > 0)
                m_fence = status.fence;
            m_ttlMs = (status.ttlMs > 0) ? std::optional<qint64>(status.ttlMs) : m_ttlMs;
            m_ttlSeenAt = now();
            ++m_heartbeats;
            m_lastHeartbeat = QDateTime::currentDateTime();
            addEvent(QStringLiteral("heartbeat: refreshed%1").arg(ttl));
            break;
        case Protocol::LockState::Released:
            m_state = State::Free;
            m_ttlMs.reset();
            m_acquiredSeenAt.reset();
            addEvent(QStringLiteral("released by %1").arg(who.isEmpty() ? QStringLiteral("?") : who));
            m_holder.clear();
            break;
        case Protocol::LockState::Lost:
            m_state = State::Lost;
            m_ttlMs.reset();
            m_acquiredSeenAt.reset();
            addEvent(QStringLiteral("lost by %1 (its execution was cancelled)").arg(who.isEmpty() ? QStringLiteral("?") : who));
            break;
        case Protocol::LockState::Unavailable:
            m_state = State::Unavailable;
            m_ttlMs.reset();
            addEvent(QStringLiteral("lock store unavailable: running without the lock"));
            break;
        }
        emit changed();
    }

    void LockTracker::applySnapshot(const LockInfo &info)
    {
        if (info.held)
        {
            const bool sameHolder = (m_state == State::Held) && (m_holder == info.holder);
            const bool news = !sameHolder || (m_fence != info.fence);
            m_state = State::Held;
            m_holder = info.holder;
            m_fence = info.fence;
            m_ttlMs = (info.ttlMs > 0) ? std::optional<qint64>(info.ttlMs) : std::nullopt;
            m_ttlSeenAt = now();
            if (!sameHolder)
                m_acquiredSeenAt.reset();
            // A check that confirms what is known is not an event worth a history line.
            if (news)
                addEvent(QStringLiteral("checked: held by %1 (fence %2, TTL left %3)")
                             .arg(LockHolder::parse(info.holder).describe()).arg(info.fence).arg(formatDuration(m_ttlMs)));
        }
        else
        {
            const bool news = (m_state != State::Free);
            m_state = State::Free;
            m_holder.clear();
            m_ttlMs.reset();
            m_acquiredSeenAt.reset();
            if (news)
                addEvent(QStringLiteral("checked: free"));
        }
        emit changed();
    }

    void LockTracker::applySnapshotError(const QString &error)
    {
        m_state = State::Unavailable;
        m_ttlMs.reset();
        addEvent(QStringLiteral("check failed: %1").arg(error));
        emit changed();
    }

    LockTracker::State LockTracker::state() const
    {
        return m_state;
    }

    QString LockTracker::holder() const
    {
        return m_holder;
    }

    qint64 LockTracker::fence() const
    {
        return m_fence;
    }

    std::optional<qint64> LockTracker::ttlLeftMs() const
    {
        if ((m_state != State::Held) || !m_ttlMs)
            return std::nullopt;
        return std::max<qint64>(0, *m_ttlMs - (now() - m_ttlSeenAt));
    }

    int LockTracker::heartbeats() const
    {
        return m_heartbeats;
    }

    std::optional<QDateTime> LockTracker::lastHeartbeat() const
    {
        return m_lastHeartbeat;
    }

    std::optional<qint64> LockTracker::deadlineLeftMs() const
    {
        if ((m_state != State::Held) || !m_acquiredSeenAt)
            return std::nullopt;
        return std::max<qint64>(0, m_deadline.count() - (now() - *m_acquiredSeenAt));
    }

    std::chrono::milliseconds LockTracker::workflowDeadline() const
    {
        return m_deadline;
    }

    const QList<LockTracker::Event> &LockTracker::history() const
    {
        return m_history;
    }

    QString LockTracker::stateWord(const State state)
    {
        switch (state)
        {
        case State::Unknown: return QStringLiteral("unknown");
        case State::Free: return QStringLiteral("free");
        case State::Held: return QStringLiteral("held");
        case State::Lost: return QStringLiteral("lost");
        case State::Unavailable: return QStringLiteral("unavailable");
        }
        return {};
    }

    QString LockTracker::stateText() const
    {
        switch (m_state)
        {
        case State::Held:
        {
            const LockHolder holder = LockHolder::parse(m_holder);
            return holder.isEmpty() ? QStringLiteral("held") : QStringLiteral("held by %1").arg(holder.describe());
        }
        case State::Unavailable:
            return QStringLiteral("unavailable (lock store unreachable)");
        case State::Unknown:
        case State::Free:
        case State::Lost:
            break;
        }
        return stateWord(m_state);
    }

    void LockTracker::addEvent(const QString &text)
    {
        m_history.prepend(Event {.at = QDateTime::currentDateTime(), .text = text});
        while (m_history.size() > MaxHistory)
            m_history.removeLast();
    }

    QString formatDuration(const std::optional<qint64> milliseconds)
    {
        if (!milliseconds)
            return QStringLiteral("—");
        const qint64 totalSeconds = (*milliseconds + 999) / 1000;
        if (totalSeconds < 60)
            return QStringLiteral("%1 s").arg(totalSeconds);
        return QStringLiteral("%1 min %2 s").arg(totalSeconds / 60).arg(totalSeconds % 60, 2, 10, QLatin1Char('0'));
    }
} // namespace Lockstep::Ui
