#pragma once

#include <memory>
#include <optional>
#include <vector>

#include <QDateTime>
#include <QObject>
#include <QString>

#include "transport/framelog.h"
#include "transport/websocketclient.h"

class QSettings;

// What the frame inspector shows: one websocket connection's frames and byte
// counts (a FrameSession), and the sessions of one tab (a FrameSessionList).
namespace Lockstep::Ui
{
    // The settings key of the ring buffer size per session, in frames
    // (Preferences writes it); frameCapacity() reads it, default 10 000.
    QString maxFramesSettingsKey();
    // What frameCapacity() accepts (Preferences offers the same range); a value
    // outside is clamped, one that is not a number gives the default.
    inline constexpr int MinFrameCapacity = 100;
    inline constexpr int MaxFrameCapacity = 10000000;
    int frameCapacity(const QSettings &settings);

    // The message type of a frame: the message key of a JSON text frame
    // ("newCheckpoint", "startRequest", …; "requestID" is skipped), "ping",
    // "pong" or "close" for control frames, empty for a text frame that is
    // not a JSON object. Reads only the start of the payload.
    QString frameMessageType(const Transport::FrameRecord &frame);

    // One websocket connection (a reconnect is a new session): its frames in
    // a bounded FrameLog, the bytes on the wire and how it ended.
    class FrameSession final : public QObject
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(FrameSession)

    public:
        enum class Role
        {
            Live,   // subscribe: the tab's live view
            Drive,  // startRequest: a Resume / Send / Approve
            Other,  // e.g. a race session
        };

        explicit FrameSession(Role role, int capacity = Transport::FrameLog::DefaultCapacity,
                              QObject *parent = nullptr);
        ~FrameSession() override;

        Role role() const;
        // "live 2", "drive 3": set by the list the session joins.
        QString label() const;
        void setLabel(const QString &label);
        // Opened without incremental_streaming: full checkpoints in every event.
        bool isLegacy() const;
        void setLegacy(bool legacy);

        const Transport::FrameLog &log() const;
        void setCapacity(int capacity);
        // Appends (FrameLog::append) and emits frameRecorded().
        void record(Transport::FrameRecord frame);

        QDateTime startedAt() const;
        bool isOpen() const;
        std::optional<QDateTime> endedAt() const;
        // How it ended, in words ("closed by the server: already running (1013) — …").
        QString endText() const;
        // From the client while open; exact once ended.
        void setWireBytes(qint64 in, qint64 out);
        qint64 wireBytesIn() const;
        qint64 wireBytesOut() const;
        void end(const Transport::CloseInfo &info);
        void end(const Transport::ConnectFailure &failure);
        // Ended another way (e.g. dropped by the console): `text` says how.
        void end(const QString &text, qint64 wireIn, qint64 wireOut);

        // newCheckpoint frames received and their payload bytes (every one, evicted or not).
        qint64 events() const;
        qint64 eventBytes() const;

    signals:
        void frameRecorded(const Lockstep::Transport::FrameRecord &frame);
        // Wire bytes, the end, the label.
        void changed();

    private:
        Role m_role;
        QString m_label;
        bool m_legacy = false;
        Transport::FrameLog m_log;
        QDateTime m_startedAt;
        std::optional<QDateTime> m_endedAt;
        QString m_endText;
        qint64 m_wireIn = 0;
        qint64 m_wireOut = 0;
        qint64 m_events = 0;
        qint64 m_eventBytes = 0;
    };

    // A tab's sessions, oldest first: its live connection's (one per
    // reconnect) and its driving sessions. Closed sessions beyond maxSessions
    // go, oldest first; open ones always stay.
    class FrameSessionList final : public QObject
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(FrameSessionList)

    public:
        static constexpr int DefaultMaxSessions = 20;

        explicit FrameSessionList(QObject *parent = nullptr);
        ~FrameSessionList() override;

        // Names it ("live 1", "drive 2", numbered per list) and keeps it.
        void add(const std::shared_ptr<FrameSession> &session);
        const std::vector<std::shared_ptr<FrameSession>> &sessions() const;
        void setMaxSessions(int count);
        // The ring buffer size of every session, now and later.
        int frameCapacity() const;
        void setFrameCapacity(int frames);

    signals:
        void sessionsChanged();

    private:
        void prune();

        std::vector<std::shared_ptr<FrameSession>> m_sessions;
        int m_maxSessions = DefaultMaxSessions;
        int m_frameCapacity = Transport::FrameLog::DefaultCapacity;
        int m_next = 1;
    };
}  // namespace Lockstep::Ui
