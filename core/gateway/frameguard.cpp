#include "frameguard.h"

#include <utility>

#include <QTcpSocket>
#include <QtEndian>

#include "common/logging.h"

namespace Lockstep::Gateway
{
    namespace
    {
        constexpr quint8 OpContinuation = 0x0;
        constexpr quint8 OpText = 0x1;
        constexpr quint8 OpBinary = 0x2;
        constexpr quint8 OpClose = 0x8;
        constexpr quint8 OpPing = 0x9;
        constexpr quint8 OpPong = 0xA;
        constexpr quint16 ProtocolError = 1002;
        constexpr quint16 TooBig = 1009;

        bool isControl(const quint8 opcode)
        {
            return (opcode & 0x8) != 0;
        }

        bool isKnownOpcode(const quint8 opcode)
        {
            return (opcode <= OpBinary) || ((opcode >= OpClose) && (opcode <= OpPong));
        }

        QString peerOf(const QTcpSocket *socket)
        {
            return socket->peerAddress().toString() + u':' + QString::number(socket->peerPort());
        }
    }  // namespace

    FrameGuard::FrameGuard(QTcpSocket *socket, const qint64 headBytes, const qint64 maxMessageBytes)
        : QObject(socket)
        , m_socket(socket)
        , m_headBytes(headBytes)
        , m_maxMessageBytes(maxMessageBytes)
    {
        m_deadline.setSingleShot(true);
        m_deadline.setInterval(DrainTimeoutMs);
        connect(&m_deadline, &QTimer::timeout, this, [this] {
            qCDebug(lcGateway).noquote() << "websocket from" << peerOf(m_socket) << "did not finish closing: cut";
            m_mode = Mode::Done;
            m_socket->abort();
        });
        // First receiver: sees every byte before QWebSocketServer and QWebSocket read it.
        connect(m_socket, &QTcpSocket::readyRead, this, &FrameGuard::onReadyRead);
    }

    FrameGuard *FrameGuard::of(QTcpSocket *socket)
    {
        return socket ? socket->findChild<FrameGuard *>(QString(), Qt::FindDirectChildrenOnly) : nullptr;
    }

    void FrameGuard::startFrames()
    {
        if (m_mode != Mode::Handshake)
            return;
        m_mode = Mode::Frames;
        m_unconsumed = m_socket->bytesAvailable();
    }

    bool FrameGuard::isClosing() const
    {
        return (m_mode == Mode::Draining) || (m_mode == Mode::Done);
    }

    void FrameGuard::onReadyRead()
    {
        switch (m_mode)
        {
        case Mode::Handshake:
            // RFC 6455 4.1: a client sends frames only after the 101. Frames
            // sent earlier would reach QWebSocket before this guard follows
            // the stream; the gateway refuses them (see Server::onUpgradeRequested).
            if (m_socket->bytesAvailable() > m_headBytes)
            {
                qCInfo(lcGateway).noquote()
                    << "dropped websocket from" << peerOf(m_socket) << ": frames before the 101 response";
                m_mode = Mode::Done;
                m_socket->abort();
            }
            return;
        case Mode::Frames: lookAhead(); return;
        case Mode::Draining: drain(); return;
        case Mode::Done:
            if (m_socket->isOpen())
                m_socket->readAll();
            return;
        }
    }

    void FrameGuard::lookAhead()
    {
        const qint64 available = m_socket->bytesAvailable();
        // Most of a large payload: QWebSocket waits for all of it, nothing to look at.
        if ((m_field == Field::Payload) && (quint64(available) < m_remaining))
        {
            m_unconsumed = available;
            return;
        }
        const QByteArray bytes = m_socket->peek(available);
        qsizetype at = 0;
        m_lookingAhead = true;
        while (m_mode == Mode::Frames)
        {
            const qsizetype left = bytes.size() - at;
            if (m_field == Field::Payload)
            {
                if (quint64(left) < m_remaining)
                    break;
                at += qsizetype(m_remaining);
                m_remaining = 0;
                frameDone();
                continue;
            }
            const qsizetype size = fieldSize();
            if (left < size)
                break;
            at += size;
            takeField(QByteArrayView(bytes).sliced(at - size, size));
        }
        m_lookingAhead = false;
        m_unconsumed = bytes.size() - at;
        if (m_mode == Mode::Frames)
            return;
        // closeWith() came from this look-ahead (a refused frame, or the rate
        // limit on a ping): QWebSocket has read none of these bytes. Drop them
        // all; the frames after `at` are followed to find the client's close.
        if (m_socket->isOpen())
            m_socket->skip(bytes.size());
        if (m_mode == Mode::Draining)
        {
            followDropped(QByteArrayView(bytes).sliced(at));
            drain();
        }
    }

    void FrameGuard::drain()
    {
        if (!m_socket->isOpen())
            return;
        const QByteArray bytes = m_socket->readAll();
        if (m_mode == Mode::Draining)
            followDropped(bytes);
    }

    void FrameGuard::followDropped(QByteArrayView bytes)
    {
        while ((m_mode == Mode::Draining) && !m_framingLost)
        {
            if (m_field == Field::Payload)
            {
                const qsizetype take = qsizetype(qMin<quint64>(m_remaining, quint64(bytes.size())));
                m_remaining -= quint64(take);
                bytes = bytes.sliced(take);
                if (m_remaining > 0)
                    return;
                frameDone();
                continue;
            }
            if (bytes.isEmpty())
                return;
            const qsizetype take = qMin(fieldSize() - m_partial.size(), bytes.size());
            m_partial += bytes.first(take);
            bytes = bytes.sliced(take);
            if (m_partial.size() < fieldSize())
                return;
            takeField(std::exchange(m_partial, {}));
        }
    }

    qsizetype FrameGuard::fieldSize() const
    {
        switch (m_field)
        {
        case Field::Header: return 2;
        case Field::Length16: return 2;
        case Field::Length64: return 8;
        case Field::Mask: return 4;
        case Field::Payload: break;
        }
        return 0;
    }

    void FrameGuard::takeField(const QByteArrayView bytes)
    {
        const bool checking = (m_mode == Mode::Frames);
        switch (m_field)
        {
        case Field::Header:
        {
            const auto first = quint8(bytes.at(0));
            const auto second = quint8(bytes.at(1));
            m_fin = (first & 0x80) != 0;
            m_opcode = first & 0x0f;
            m_masked = (second & 0x80) != 0;
            m_length = second & 0x7f;
            if (checking)
            {
                // What QWebSocket would refuse too (with a close frame and a reset):
                // refused here with a clean close. Frame lengths mean nothing after it.
                if ((first & 0x70) != 0)
                    return refuse(ProtocolError,
                                  QStringLiteral("frame: reserved bits set, and no extension was agreed"), true);
                if (!isKnownOpcode(m_opcode))
                    return refuse(ProtocolError, QStringLiteral("frame: reserved opcode %1").arg(m_opcode), true);
                if (isControl(m_opcode) && (!m_fin || (m_length > 125)))
                    return refuse(ProtocolError,
                                  QStringLiteral("frame: a control frame must be whole and at most 125 bytes"), true);
                if (!m_masked)
                    refuse(ProtocolError, QStringLiteral("frame: client frames must be masked (RFC 6455 section 5.1)"),
                           false);
            }
            if (m_length == 126)
                m_field = Field::Length16;
            else if (m_length == 127)
                m_field = Field::Length64;
            else
                afterLength();
            return;
        }
        case Field::Length16:
            m_length = qFromBigEndian<quint16>(bytes.data());
            if (checking && (m_length < 126))
                return refuse(ProtocolError, QStringLiteral("frame: a length under 126 must be sent in one byte"),
                              true);
            afterLength();
            return;
        case Field::Length64:
            m_length = qFromBigEndian<quint64>(bytes.data());
            if (checking && ((m_length >> 63) != 0))
                return refuse(ProtocolError, QStringLiteral("frame: the highest bit of a length must be 0"), true);
            if (checking && (m_length <= 0xffff))
                return refuse(ProtocolError, QStringLiteral("frame: a length under 65536 must be sent in two bytes"),
                              true);
            afterLength();
            return;
        case Field::Mask:
            m_field = Field::Payload;
            m_remaining = m_length;
            return;
        case Field::Payload: return;
        }
    }

    void FrameGuard::afterLength()
    {
        if ((m_mode == Mode::Frames) && !isControl(m_opcode))
        {
            if ((m_opcode == OpContinuation) && !m_fragmented)
                refuse(ProtocolError, QStringLiteral("frame: a continuation frame without a message to continue"),
                       false);
            else if ((m_opcode != OpContinuation) && m_fragmented)
                refuse(ProtocolError, QStringLiteral("frame: a new message before the last one ended"), false);
            else if (((m_opcode == OpContinuation) ? m_messageBytes : 0) + m_length > quint64(m_maxMessageBytes))
                refuse(TooBig, QStringLiteral("message larger than %1 bytes").arg(m_maxMessageBytes), false);
        }
        m_field = m_masked ? Field::Mask : Field::Payload;
        m_remaining = m_length;
    }

    void FrameGuard::frameDone()
    {
        const quint8 opcode = m_opcode;
        m_field = Field::Header;
        if (m_mode == Mode::Draining)
        {
            if (opcode == OpClose)
                finish();  // the client's answer to our close frame
            return;
        }
        if (m_mode != Mode::Frames)
            return;
        if (!isControl(opcode))
        {
            m_messageBytes = (opcode == OpContinuation) ? m_messageBytes + m_length : m_length;
            m_fragmented = !m_fin;
            if (m_fin)
                m_messageBytes = 0;
            return;
        }
        if ((opcode == OpPing) || (opcode == OpPong))
            emit controlFrame();
    }

    void FrameGuard::refuse(const quint16 code, const QString &reason, const bool framingLost)
    {
        if (m_mode != Mode::Frames)
            return;
        if (framingLost)
            m_framingLost = true;
        emit refused(code, reason);
        // Nobody listening: close anyway.
        closeWith(code, reason);
    }

    void FrameGuard::closeWith(const quint16 code, const QString &reason)
    {
        if ((m_mode == Mode::Draining) || (m_mode == Mode::Done))
            return;
        if (m_mode == Mode::Handshake)
        {
            m_mode = Mode::Done;
            m_socket->abort();
            return;
        }
        if (!m_lookingAhead && (m_socket->bytesAvailable() != m_unconsumed))
        {
            // Called from a QWebSocket signal while it reads: it emits only after
            // a whole frame, so the bytes left start at a frame boundary.
            m_field = Field::Header;
            m_remaining = 0;
        }
        m_mode = Mode::Draining;
        m_partial.clear();
        m_deadline.start();
        if (!m_socket->isOpen() || (m_socket->state() != QAbstractSocket::ConnectedState))
        {
            // QWebSocket closed it already (it refused a frame itself).
            m_mode = Mode::Done;
            return;
        }
        QByteArray payload(2, Qt::Uninitialized);
        qToBigEndian<quint16>(code, payload.data());
        payload += reason.toUtf8().left(123);
        QByteArray frame;
        frame.append(char(0x80 | OpClose));
        frame.append(char(payload.size()));
        frame.append(payload);
        // No flush(): on TLS it would decrypt (and announce) more input in the middle of this.
        m_socket->write(frame);
        // Inside a look-ahead, lookAhead() drops the bytes it looked at itself.
        if (!m_lookingAhead)
            drain();
    }

    void FrameGuard::finish()
    {
        m_mode = Mode::Done;
        // Everything the client sent is read: a FIN after our frames, no reset.
        m_socket->disconnectFromHost();
    }
}  // namespace Lockstep::Gateway
