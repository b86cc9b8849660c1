#pragma once

#include <chrono>
#include <functional>
#include <optional>

#include <QDateTime>
#include <QList>
#include <QObject>
#include <QString>

#include "gatewayapi.h"
#include "protocol/messages.h"

namespace Lockstep::Ui
{
    // What one run's lock looks like from the console, built from lockStatus
    // events and GET .../lock answers. TTL and deadline count down from the
    // moment a report arrived, on the console's own monotonic clock (the
    // gateway's clock may differ).
    class LockTracker final : public QObject
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(LockTracker)

    public:
        enum class State
        {
            Unknown,      // nothing heard yet
            Free,
            Held,
            Lost,         // the holder lost it (refresh failed): its execution was cancelled
            Unavailable,  // the lock store could not be reached
        };

        struct Event
        {
            QDateTime at;     // local time it was seen
            QString text;     // "acquired by replica r1, session 3 (fence 12, TTL 30 s)"
        };

        static constexpr int MaxHistory = 20;

        // `monotonicMs` returns a monotonic time in ms (tests inject one).
        explicit LockTracker(QObject *parent = nullptr, std::function<qint64()> monotonicMs = {});

        void apply(const Protocol::LockStatus &status);
        void applySnapshot(const LockInfo &info);
        void applySnapshotError(const QString &error);
        // The gateway's --workflow-deadline (5 min unless told otherwise).
        void setWorkflowDeadline(std::chrono::milliseconds deadline);

        State state() const;
        QString holder() const;          // as the gateway spells it
        qint64 fence() const;
        // TTL left now; nullopt when unknown (not held, or no TTL reported).
        std::optional<qint64> ttlLeftMs() const;
        int heartbeats() const;          // "refreshed" events seen
        std::optional<QDateTime> lastHeartbeat() const;
        // Deadline left of the execution that holds the lock, counted from the
        // "acquired" event this console saw; nullopt when that was not seen.
        std::optional<qint64> deadlineLeftMs() const;
        std::chrono::milliseconds workflowDeadline() const;
        const QList<Event> &history() const;

        // "free", "held by replica r1, session 3", "lost", "unavailable (lock store unreachable)", "unknown".
        QString stateText() const;
        static QString stateWord(State state);

    signals:
        void changed();

    private:
        void addEvent(const QString &text);
        qint64 now() const;

        std::function<qint64()> m_clock;
        State m_state = State::Unknown;
        QString m_holder;
        qint64 m_fence = 0;
        std::optional<qint64> m_ttlMs;
        qint64 m_ttlSeenAt = 0;
        int m_heartbeats = 0;
        std::optional<QDateTime> m_lastHeartbeat;
        std::optional<qint64> m_acquiredSeenAt;
        std::chrono::milliseconds m_deadline {5 * 60 * 1000};
        QList<Event> m_history;
    };

    // "4 s", "1 min 05 s", "—" for nullopt.
    QString formatDuration(std::optional<qint64> milliseconds);
} // namespace Lockstep::Ui
