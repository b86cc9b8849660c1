#pragma once

#include <chrono>
#include <functional>
#include <optional>

#include <QDateTime>
#include <QList>
#include <QObject>
#include <QPointer>
#include <QSet>
#include <QString>
#include <QTimer>

#include "gatewayapi.h"
#include "protocol/messages.h"

namespace Lockstep::Ui
{
    // The one model of a run's lock in the console (one per workflow, shared
    // by every tab that shows it), built from lockStatus events and
    // GET .../lock answers. TTL and deadline count down from the moment a
    // report arrived, on the console's own monotonic clock (the gateway's
    // clock may differ).
    //
    // Every tab feeds it from its live and its driving sessions, so the same
    // event arrives more than once: events are deduplicated by (state, holder,
    // fence, at), and an acquisition that was seen ending (released, lost) is
    // never brought back by a late copy of its own acquired/refreshed.
    //
    // With no feed connected the values are "last known": frozen, no countdown.
    class LockTracker final : public QObject
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(LockTracker)

    public:
        enum class State
        {
            Unknown,  // nothing heard yet
            Free,     // released, lost, expired, or checked free
            Held,
            Unavailable,  // the lock store could not be reached
        };

        struct Event
        {
            QDateTime at;  // local time it was seen
            QString text;  // "acquired by replica r1, session 3 (fence 12, TTL 30 s)"
        };

        static constexpr int MaxHistory = 20;

        // What the lock timeline draws (and a recording keeps): each event with
        // its holder, fence and TTL, not only its words.
        enum class Mark
        {
            Acquired,
            Refreshed,  // a heartbeat of the holder renewed the TTL
            Lost,
            Released,
            Unavailable,  // the lock store was unreachable (event or failed check)
            Expired,      // the console saw the TTL run out without a heartbeat
            CheckedHeld,  // GET …/lock found a holder the events had not said
            CheckedFree,
            Refused,  // a tab's session was closed with 1013 (already running)
        };
        struct TimelineEvent
        {
            // The gateway's time when the event carries one, else the console's.
            QDateTime at;
            Mark mark = Mark::Acquired;
            QString holder;  // as the gateway spells it; for Refused: who held it, if known
            qint64 fence = 0;
            qint64 ttlMs = 0;  // 0: not reported
        };
        static constexpr int MaxTimeline = 2000;

        // `monotonicMs` returns a monotonic time in ms (tests inject one).
        explicit LockTracker(QObject *parent = nullptr, std::function<qint64()> monotonicMs = {});

        // Where reconcile() asks (GET /api/v1/workflows/{id}/lock).
        void setSource(GatewayApi *api, const QString &workflowId);

        void apply(const Protocol::LockStatus &status);
        // `askedAt`: generation() when the request went out. An answer that
        // an event overtook is dropped: the event is newer.
        void applySnapshot(const LockInfo &info, std::optional<quint64> askedAt = std::nullopt);
        void applySnapshotError(const QString &error);
        // Asks the gateway now (one request in flight; a call meanwhile asks again after it).
        void reconcile();
        // Counts the events and answers applied so far.
        quint64 generation() const;
        // The TTL ran out without a heartbeat: the lock expired. Called by
        // the tracker's own timer; public for tests with an injected clock.
        void checkExpiry();

        // A feed (a tab's live session) is connected or not. With none the
        // values are frozen as "last known"; the first one back reconciles.
        void setFeedConnected(const QObject *feed, bool connected);
        bool isLive() const;
        // When the values were last known true (the last feed dropped); nullopt while live.
        std::optional<QDateTime> lastKnownAt() const;

        // The gateway's --workflow-deadline (5 min unless told otherwise).
        void setWorkflowDeadline(std::chrono::milliseconds deadline);

        State state() const;
        QString holder() const;  // as the gateway spells it
        qint64 fence() const;
        // TTL left now; nullopt when unknown (not held, or no TTL reported).
        std::optional<qint64> ttlLeftMs() const;
        int heartbeats() const;  // "refreshed" events of this acquisition
        std::optional<QDateTime> lastHeartbeat() const;
        // Deadline left of the execution that holds the lock, counted from the
        // "acquired" event this console saw; nullopt when that was not seen.
        std::optional<qint64> deadlineLeftMs() const;
        std::chrono::milliseconds workflowDeadline() const;
        const QList<Event> &history() const;
        int checksRequested() const;
        // Oldest first; the newest MaxTimeline events stay.
        const QList<TimelineEvent> &timeline() const;
        // A tab's session was refused with 1013 while `holder` held the run (empty: unknown).
        void noteRefusal(const QString &holder);
        // "acquired", "refreshed", "lost", "released", "unavailable", "expired",
        // "checked", "free", "refused": the lock event states of docs/report.schema.json.
        static QString markWord(Mark mark);

        // "free", "held by replica r1, session 3" ("held by this tab (…)" when
        // the holder is one of `own`), "unavailable (lock store unreachable)", "unknown".
        QString stateText(const QSet<QString> &own = {}) const;
        static QString stateWord(State state);

    signals:
        void changed();
        // Each event once, as it enters history() (for the console's stored history).
        void eventAdded(const Lockstep::Ui::LockTracker::Event &event);
        // The same events as data, for the recordings: a lockStatus once (after
        // the duplicates are dropped), and a lock seen expiring.
        void statusApplied(const Lockstep::Protocol::LockStatus &status);
        void expired(const QString &holder, qint64 fence);
        // Each timeline event once, as it enters timeline().
        void timelineEventAdded(const Lockstep::Ui::LockTracker::TimelineEvent &event);

    private:
        struct Key
        {
            Protocol::LockState state;
            QString holder;
            qint64 fence;
            qint64 at;
            bool operator==(const Key &) const = default;
        };

        void addEvent(const QString &text);
        void mark(Mark kind, const QString &holder, qint64 fence, qint64 ttlMs, qint64 gatewayAt = 0);
        void setFree();
        void armExpiry();
        bool endedAlready(const QString &holder, qint64 fence, qint64 at) const;
        qint64 now() const;

        std::function<qint64()> m_clock;
        QPointer<GatewayApi> m_api;
        QString m_workflowId;
        bool m_checking = false;
        bool m_checkAgain = false;
        int m_checksRequested = 0;
        quint64 m_generation = 0;

        State m_state = State::Unknown;
        QString m_holder;
        qint64 m_fence = 0;
        std::optional<qint64> m_ttlMs;
        qint64 m_ttlSeenAt = 0;
        int m_heartbeats = 0;
        std::optional<QDateTime> m_lastHeartbeat;
        std::optional<qint64> m_acquiredSeenAt;
        std::chrono::milliseconds m_deadline{5 * 60 * 1000};
        QList<Event> m_history;
        QList<TimelineEvent> m_timeline;
        QList<Key> m_seen;      // recent events, for duplicates
        QString m_endedHolder;  // the last acquisition seen ending
        qint64 m_endedFence = 0;
        qint64 m_endedAt = 0;

        QSet<const QObject *> m_feeds;
        bool m_everLive = false;
        std::optional<QDateTime> m_lastKnownAt;
        qint64 m_frozenAt = 0;
        QTimer m_expiry;
    };

    // "4 s", "1 min 05 s", "—" for nullopt.
    QString formatDuration(std::optional<qint64> milliseconds);
}  // namespace Lockstep::Ui
