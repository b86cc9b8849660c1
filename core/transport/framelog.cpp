#include "framelog.h"

#include <algorithm>

namespace Lockstep::Transport
{
    QString toString(const FrameDirection direction)
    {
        return (direction == FrameDirection::In) ? QStringLiteral("in") : QStringLiteral("out");
    }

    QString toString(const FrameKind kind)
    {
        switch (kind)
        {
        case FrameKind::Text: return QStringLiteral("text");
        case FrameKind::Ping: return QStringLiteral("ping");
        case FrameKind::Pong: return QStringLiteral("pong");
        case FrameKind::Close: return QStringLiteral("close");
        }
        return QStringLiteral("text");
    }

    FrameLog::FrameLog(const int capacity)
        : m_capacity(std::max(1, capacity))
    {}

    const FrameRecord &FrameLog::append(FrameRecord frame)
    {
        frame.sequence = m_nextSequence++;
        if (frame.at.isNull())
            frame.at = QDateTime::currentDateTimeUtc();
        const bool in = (frame.direction == FrameDirection::In);
        (in ? m_totals.framesIn : m_totals.framesOut) += 1;
        (in ? m_totals.payloadBytesIn : m_totals.payloadBytesOut) += frame.payloadBytes;
        if (frame.kind == FrameKind::Ping)
            ++m_totals.pings;
        else if (frame.kind == FrameKind::Pong)
            ++m_totals.pongs;
        m_frames.push_back(std::move(frame));
        trim();
        return m_frames.back();
    }

    void FrameLog::setCapacity(const int capacity)
    {
        m_capacity = std::max(1, capacity);
        trim();
    }

    int FrameLog::capacity() const
    {
        return m_capacity;
    }

    const std::deque<FrameRecord> &FrameLog::frames() const
    {
        return m_frames;
    }

    qint64 FrameLog::evicted() const
    {
        return m_evicted;
    }

    const FrameLog::Totals &FrameLog::totals() const
    {
        return m_totals;
    }

    void FrameLog::trim()
    {
        while (std::ssize(m_frames) > m_capacity)
        {
            m_frames.pop_front();
            ++m_evicted;
        }
    }
}  // namespace Lockstep::Transport
