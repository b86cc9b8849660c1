#pragma once

#include <deque>

#include <QByteArray>
#include <QDateTime>
#include <QString>

// What the frame inspector, the race runner and the recordings keep of a
// session: every websocket frame in and out, bounded.
namespace Lockstep::Transport
{
    enum class FrameDirection
    {
        In,   // server to client
        Out,  // client to server
    };

    enum class FrameKind
    {
        Text,
        Ping,
        Pong,
        Close,
    };

    QString toString(FrameDirection direction);  // "in", "out"
    QString toString(FrameKind kind);            // "text", "ping", "pong", "close"

    struct FrameRecord
    {
        qint64 sequence = 0;  // 1, 2, ... per log; keeps counting past evicted frames
        QDateTime at;         // wall clock (UTC) when the client saw or sent it
        FrameDirection direction = FrameDirection::In;
        FrameKind kind = FrameKind::Text;
        qint64 payloadBytes = 0;  // the frame's payload (a text message: its UTF-8 bytes)
        QByteArray payload;       // text: the message; ping/pong: their payload; close: the reason
        // Close frames only.
        quint16 closeCode = 0;
        bool closedByClient = false;  // who sent the first close frame

        bool operator==(const FrameRecord &) const = default;
    };

    // A ring buffer of one session's frames: the newest `capacity` frames stay,
    // the oldest go; the totals count every frame ever appended.
    class FrameLog
    {
    public:
        static constexpr int DefaultCapacity = 10000;

        explicit FrameLog(int capacity = DefaultCapacity);

        // Sets sequence (and `at` if it is null) and appends.
        const FrameRecord &append(FrameRecord frame);
        void setCapacity(int capacity);  // at least 1; drops the oldest frames beyond it
        int capacity() const;

        const std::deque<FrameRecord> &frames() const;
        qint64 evicted() const;  // frames dropped to stay within capacity

        struct Totals
        {
            qint64 framesIn = 0;
            qint64 framesOut = 0;
            qint64 payloadBytesIn = 0;
            qint64 payloadBytesOut = 0;
            qint64 pings = 0;  // sent or received
            qint64 pongs = 0;
        };
        const Totals &totals() const;

    private:
        void trim();

        std::deque<FrameRecord> m_frames;
        Totals m_totals;
        qint64 m_nextSequence = 1;
        qint64 m_evicted = 0;
        int m_capacity = DefaultCapacity;
    };
}  // namespace Lockstep::Transport
