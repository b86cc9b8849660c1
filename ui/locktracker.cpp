#include "locktracker.h"

#include <QElapsedTimer>

#include "outcome.h"

namespace Lockstep::Ui
{
    namespace
    {
        // Enough to catch the copies of one event from every session of every tab.
        constexpr qsizetype MaxSeen = 64;
        // After the TTL runs out, a heartbeat still on its way gets this long.
        constexpr int ExpiryGraceMs = 250;

        QString who(const QString &holder)
        {
            const QString words = holderWording(holder);
            return words.isEmpty() ? QStringLiteral("?") : words;
        }
    }  // namespace

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
        m_expiry.setSingleShot(true);
        connect(&m_expiry, &QTimer::timeout, this, &LockTracker::checkExpiry);
    }

    qint64 LockTracker::now() const
    {
        // Not live: time stands still at the moment the last feed dropped.
        return m_lastKnownAt ? m_frozenAt : m_clock();
    }

    void LockTracker::setSource(GatewayApi *api, const QString &workflowId)
    {
        m_api = api;
        m_workflowId = workflowId;
    }

    void LockTracker::setWorkflowDeadline(const std::chrono::milliseconds deadline)
    {
        m_deadline = deadline;
        emit changed();
    }

    bool LockTracker::endedAlready(const QString &holder, const qint64 fence, const qint64 at) const
    {
        if (m_endedHolder.isEmpty() || (holder != m_endedHolder))
            return false;
        // Fences only grow; without fencing (fence 0) the gateway's clock decides.
        if ((fence > 0) && (m_endedFence > 0))
            return fence <= m_endedFence;
        return (at > 0) && (m_endedAt > 0) && (at <= m_endedAt);
    }

    void LockTracker::apply(const Protocol::LockStatus &status)
    {
        const Key key{.state = status.state, .holder = status.holder, .fence = status.fence, .at = status.at};
        if ((status.at > 0) && m_seen.contains(key))
            return;  // the same event through another session
        m_seen.append(key);
        while (m_seen.size() > MaxSeen)
            m_seen.removeFirst();

        const bool alive =
            (status.state == Protocol::LockState::Acquired) || (status.state == Protocol::LockState::Refreshed);
        if (alive && endedAlready(status.holder, status.fence, status.at))
            return;  // a late copy of an acquisition already seen ending
        ++m_generation;
        emit statusApplied(status);

        const QString ttl =
            (status.ttlMs > 0) ? QStringLiteral(", TTL %1").arg(formatDuration(status.ttlMs)) : QString();
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
            addEvent(QStringLiteral("acquired by %1 (fence %2%3)").arg(who(status.holder)).arg(status.fence).arg(ttl));
            mark(Mark::Acquired, status.holder, status.fence, status.ttlMs, status.at);
            break;
        case Protocol::LockState::Refreshed:
            if ((m_state != State::Held) || (m_holder != status.holder))
            {
                // We joined while it was held: adopt the holder.
                m_state = State::Held;
                m_holder = status.holder;
                m_acquiredSeenAt.reset();
                m_heartbeats = 0;
            }
            if (status.fence > 0)
                m_fence = status.fence;
            m_ttlMs = (status.ttlMs > 0) ? std::optional<qint64>(status.ttlMs) : m_ttlMs;
            m_ttlSeenAt = now();
            ++m_heartbeats;
            m_lastHeartbeat = QDateTime::currentDateTime();
            addEvent(QStringLiteral("heartbeat: refreshed%1").arg(ttl));
            mark(Mark::Refreshed, status.holder, m_fence, status.ttlMs, status.at);
            break;
        case Protocol::LockState::Released:
        case Protocol::LockState::Lost:
        {
            const bool released = (status.state == Protocol::LockState::Released);
            addEvent(released ? QStringLiteral("released by %1").arg(who(status.holder))
                              : QStringLiteral("lost by %1 (its execution was cancelled)").arg(who(status.holder)));
            mark(released ? Mark::Released : Mark::Lost, status.holder, status.fence, status.ttlMs, status.at);
            if ((status.fence >= m_endedFence) || (status.holder != m_endedHolder))
            {
                m_endedHolder = status.holder;
                m_endedFence = status.fence;
                m_endedAt = status.at;
            }
            // The end of an older acquisition does not free a newer holder's lock.
            const bool older = (m_state == State::Held) && (status.holder != m_holder) && (status.fence > 0) &&
                               (status.fence < m_fence);
            if (!older)
                setFree();
            if (!released)
                reconcile();  // lost: someone else may hold it now
            break;
        }
        case Protocol::LockState::Unavailable:
            m_state = State::Unavailable;
            m_ttlMs.reset();
            addEvent(QStringLiteral("lock store unavailable: running without the lock"));
            mark(Mark::Unavailable, status.holder, status.fence, 0, status.at);
            break;
        }
        armExpiry();
        emit changed();
    }

    void LockTracker::setFree()
    {
        m_state = State::Free;
        m_holder.clear();
        m_ttlMs.reset();
        m_acquiredSeenAt.reset();
    }

    void LockTracker::applySnapshot(const LockInfo &info, const std::optional<quint64> askedAt)
    {
        if (askedAt && (*askedAt != m_generation))
            return;  // an event came in after the question: it is newer than this answer
        if (info.held && endedAlready(info.holder, info.fence, 0))
            return;
        ++m_generation;
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
            {
                m_acquiredSeenAt.reset();
                m_heartbeats = 0;
                m_lastHeartbeat.reset();
            }
            // A check that confirms what is known is not an event worth a history line.
            if (news)
                addEvent(QStringLiteral("checked: held by %1 (fence %2, TTL left %3)")
                             .arg(who(info.holder))
                             .arg(info.fence)
                             .arg(formatDuration(m_ttlMs)));
            if (news)
                mark(Mark::CheckedHeld, info.holder, info.fence, info.ttlMs);
        }
        else
        {
            const bool news = (m_state != State::Free);
            setFree();
            if (news)
            {
                addEvent(QStringLiteral("checked: free"));
                mark(Mark::CheckedFree, {}, 0, 0);
            }
        }
        armExpiry();
        emit changed();
    }

    void LockTracker::applySnapshotError(const QString &error)
    {
        ++m_generation;
        m_state = State::Unavailable;
        m_ttlMs.reset();
        addEvent(QStringLiteral("check failed: %1").arg(error));
        mark(Mark::Unavailable, {}, 0, 0);
        armExpiry();
        emit changed();
    }

    void LockTracker::reconcile()
    {
        ++m_checksRequested;
        if (!m_api || m_workflowId.isEmpty())
            return;
        if (m_checking)
        {
            m_checkAgain = true;
            return;
        }
        m_checking = true;
        const quint64 askedAt = m_generation;
        m_api->getLock(m_workflowId, this, [this, askedAt](ApiResult<LockInfo> info) {
            m_checking = false;
            if (info)
                applySnapshot(*info, askedAt);
            else if (info.error().httpStatus == 503)
                applySnapshotError(info.error().describe());
            if (std::exchange(m_checkAgain, false))
                reconcile();
        });
    }

    quint64 LockTracker::generation() const
    {
        return m_generation;
    }

    void LockTracker::armExpiry()
    {
        const std::optional<qint64> left = ttlLeftMs();
        if (!left || m_lastKnownAt)
        {
            m_expiry.stop();
            return;
        }
        m_expiry.start(static_cast<int>(std::min<qint64>(*left + ExpiryGraceMs, 24 * 3600 * 1000)));
    }

    void LockTracker::checkExpiry()
    {
        if (m_lastKnownAt || (m_state != State::Held))
            return;
        const std::optional<qint64> left = ttlLeftMs();
        if (!left)
            return;
        if (*left > 0)
        {
            armExpiry();
            return;
        }
        ++m_generation;
        addEvent(QStringLiteral("expired: no heartbeat from %1 within the TTL").arg(who(m_holder)));
        emit expired(m_holder, m_fence);
        mark(Mark::Expired, m_holder, m_fence, m_ttlMs.value_or(0));
        setFree();
        m_expiry.stop();
        emit changed();
        reconcile();
    }

    void LockTracker::setFeedConnected(const QObject *feed, const bool connected)
    {
        const bool had = !m_feeds.isEmpty();
        if (connected)
            m_feeds.insert(feed);
        else
            m_feeds.remove(feed);
        const bool has = !m_feeds.isEmpty();
        if (had == has)
            return;
        if (has)
        {
            m_everLive = true;
            if (m_lastKnownAt)
            {
                // Time moves again; countdowns resume from where they were frozen.
                const qint64 paused = m_clock() - m_frozenAt;
                m_ttlSeenAt += paused;
                if (m_acquiredSeenAt)
                    *m_acquiredSeenAt += paused;
                m_lastKnownAt.reset();
            }
            armExpiry();
            emit changed();
            reconcile();
            return;
        }
        if (!m_everLive)
            return;
        m_frozenAt = m_clock();
        m_lastKnownAt = QDateTime::currentDateTime();
        m_expiry.stop();
        emit changed();
    }

    bool LockTracker::isLive() const
    {
        return !m_feeds.isEmpty() || !m_everLive;
    }

    std::optional<QDateTime> LockTracker::lastKnownAt() const
    {
        return m_lastKnownAt;
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

    int LockTracker::checksRequested() const
    {
        return m_checksRequested;
    }

    QString LockTracker::stateWord(const State state)
    {
        switch (state)
        {
        case State::Unknown: return QStringLiteral("unknown");
        case State::Free: return QStringLiteral("free");
        case State::Held: return QStringLiteral("held");
        case State::Unavailable: return QStringLiteral("unavailable");
        }
        return {};
    }

    QString LockTracker::stateText(const QSet<QString> &own) const
    {
        switch (m_state)
        {
        case State::Held:
            return m_holder.trimmed().isEmpty()
                       ? QStringLiteral("held")
                       : QStringLiteral("held by %1").arg(holderWording(m_holder, own.contains(m_holder)));
        case State::Unavailable: return QStringLiteral("unavailable (lock store unreachable)");
        case State::Unknown:
        case State::Free: break;
        }
        return stateWord(m_state);
    }

    const QList<LockTracker::TimelineEvent> &LockTracker::timeline() const
    {
        return m_timeline;
    }

    void LockTracker::noteRefusal(const QString &holder)
    {
        mark(Mark::Refused, holder, (holder == m_holder) ? m_fence : 0, 0);
        emit changed();
    }

    QString LockTracker::markWord(const Mark mark)
    {
        switch (mark)
        {
        case Mark::Acquired: return QStringLiteral("acquired");
        case Mark::Refreshed: return QStringLiteral("refreshed");
        case Mark::Lost: return QStringLiteral("lost");
        case Mark::Released: return QStringLiteral("released");
        case Mark::Unavailable: return QStringLiteral("unavailable");
        case Mark::Expired: return QStringLiteral("expired");
        case Mark::CheckedHeld: return QStringLiteral("checked");
        case Mark::CheckedFree: return QStringLiteral("free");
        case Mark::Refused: return QStringLiteral("refused");
        }
        return {};
    }

    void LockTracker::mark(const Mark kind, const QString &holder, const qint64 fence, const qint64 ttlMs,
                           const qint64 gatewayAt)
    {
        const QDateTime at = (gatewayAt > 0) ? QDateTime::fromMSecsSinceEpoch(gatewayAt) : QDateTime::currentDateTime();
        m_timeline.append(TimelineEvent{.at = at, .mark = kind, .holder = holder, .fence = fence, .ttlMs = ttlMs});
        while (m_timeline.size() > MaxTimeline)
            m_timeline.removeFirst();
        emit timelineEventAdded(m_timeline.constLast());
    }

    void LockTracker::addEvent(const QString &text)
    {
        m_history.prepend(Event{.at = QDateTime::currentDateTime(), .text = text});
        while (m_history.size() > MaxHistory)
            m_history.removeLast();
        emit eventAdded(m_history.constFirst());
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
}  // namespace Lockstep::Ui
