#include "session.h"

#include <QTcpSocket>
#include <QWebSocket>

#include "common/logging.h"
#include "gateway/frameguard.h"
#include "protocol/closecode.h"
#include "protocol/jsonreader.h"
#include "protocol/names.h"

namespace Lockstep::Gateway
{
    namespace
    {
        // A close frame carries at most 123 bytes of reason.
        QString fitReason(const QString &reason)
        {
            Protocol::ProtocolError error;
            error.reason = reason;
            return error.closeReason();
        }

        // The extension field "afterSeq" of a startRequest or subscribe.
        Result<qint64, Protocol::ProtocolError> readAfterSeq(const QByteArray &frame, const QString &kind)
        {
            const auto object = Protocol::parseJsonObject(frame, QStringLiteral("frame"));
            if (!object)
                return unexpected(object.error());
            Protocol::FieldReader reader(object->value(kind).toObject(), kind);
            const qint64 afterSeq = reader.integer(QLatin1StringView("afterSeq"), Protocol::Presence::Optional, 0);
            if (!reader.ok())
                return unexpected(reader.error());
            return afterSeq;
        }
    }  // namespace

    quint64 Session::s_nextId = 0;

    Session::Session(std::unique_ptr<QWebSocket> socket, QPointer<QTcpSocket> transport, Limits limits, QObject *parent)
        : QObject(parent)
        , m_id(++s_nextId)
        , m_socket(std::move(socket))
        , m_transport(std::move(transport))
        , m_limits(limits)
    {
        m_peer = m_socket->peerAddress().toString() + u':' + QString::number(m_socket->peerPort());
        m_guard = FrameGuard::of(m_transport);
        if (m_guard)
        {
            connect(m_guard, &FrameGuard::controlFrame, this, &Session::onControlFrame);
            connect(m_guard, &FrameGuard::refused, this,
                    [this](quint16 code, const QString &reason) { closeWith(code, reason); });
            m_guard->startFrames();
        }
        // Larger messages: the guard closes with 1009 as soon as their header is
        // in (without a guard, QWebSocket does, abruptly).
        m_socket->setMaxAllowedIncomingFrameSize(quint64(m_limits.maxMessageBytes));
        m_socket->setMaxAllowedIncomingMessageSize(quint64(m_limits.maxMessageBytes));
        connect(m_socket.get(), &QWebSocket::textMessageReceived, this, &Session::onText);
        connect(m_socket.get(), &QWebSocket::binaryMessageReceived, this, &Session::onBinary);
        connect(m_socket.get(), &QWebSocket::disconnected, this, &Session::onDisconnected);

        m_firstMessageTimer.setSingleShot(true);
        m_firstMessageTimer.setInterval(m_limits.firstMessageTimeout);
        connect(&m_firstMessageTimer, &QTimer::timeout, this, [this] {
            closeWith(quint16(CloseCode::InvalidRequest), QStringLiteral("no startRequest or subscribe within %1 s")
                                                              .arg(m_limits.firstMessageTimeout.count() / 1000));
        });
        m_firstMessageTimer.start();

        // A peer that never answers our close frame is cut off.
        m_closeTimer.setSingleShot(true);
        m_closeTimer.setInterval(5000);
        connect(&m_closeTimer, &QTimer::timeout, this, [this] {
            m_socket->abort();
            onDisconnected();
        });
        m_window.start();

        if (m_socket->state() != QAbstractSocket::ConnectedState)
            QTimer::singleShot(0, this, &Session::onDisconnected);
    }

    Session::~Session()
    {
        if (m_socket)
            m_socket->disconnect(this);
        m_socket.reset();
        qCDebug(lcGateway) << "session" << m_id << "deleted; transport" << (m_transport ? "deleted" : "already gone");
        if (m_transport)
        {
            m_transport->abort();
            m_transport->deleteLater();
        }
    }

    quint64 Session::id() const
    {
        return m_id;
    }

    QString Session::peer() const
    {
        return m_peer;
    }

    Session::Role Session::role() const
    {
        return m_role;
    }

    QString Session::workflowId() const
    {
        return m_workflowId;
    }

    void Session::setRole(const Role role, const QString &workflowId, const bool incremental)
    {
        m_role = role;
        m_workflowId = workflowId;
        m_incremental = incremental;
    }

    bool Session::wantsIncremental() const
    {
        return m_incremental;
    }

    bool Session::isClosing() const
    {
        return m_closing;
    }

    bool Session::isOpen() const
    {
        return !m_closing && !m_ended;
    }

    void Session::sendFrame(const QByteArray &frame)
    {
        if (!isOpen())
            return;
        if (refuseIfBacklogged())
            return;
        m_socket->sendTextMessage(QString::fromUtf8(frame));
    }

    void Session::send(const Protocol::ServerMessage &message)
    {
        sendFrame(Protocol::serialize(message));
    }

    void Session::closeWith(const quint16 code, const QString &reason)
    {
        if (m_closing || m_ended)
            return;
        m_closing = true;
        m_firstMessageTimer.stop();
        if ((code != quint16(CloseCode::Normal)) && (code != quint16(CloseCode::GoingAway)))
            qCInfo(lcGateway).noquote() << "session" << m_id << "from" << m_peer << "closed with" << code << reason;
        else
            qCDebug(lcGateway).noquote() << "session" << m_id << "from" << m_peer << "closed with" << code << reason;
        // The guard keeps reading after the close frame, so a client still
        // sending sees the close frame, not a reset.
        if (m_guard)
            m_guard->closeWith(code, fitReason(reason));
        else
            m_socket->close(static_cast<QWebSocketProtocol::CloseCode>(code), fitReason(reason));
        m_closeTimer.start();
    }

    bool Session::refuseIfBacklogged()
    {
        if (m_socket->bytesToWrite() <= m_limits.maxBacklogBytes)
            return false;
        closeWith(quint16(CloseCode::PolicyViolation), QStringLiteral("client reads too slowly"));
        return true;
    }

    void Session::onControlFrame()
    {
        // A ping is a message too (and costs a pong): same rate limit.
        if (m_closing)
            return;
        if (!withinRate())
        {
            closeWith(quint16(CloseCode::PolicyViolation),
                      QStringLiteral("rate limit: more than %1 messages a second (pings count)")
                          .arg(m_limits.maxMessagesPerSecond));
            return;
        }
        refuseIfBacklogged();
    }

    bool Session::withinRate()
    {
        if (m_window.elapsed() >= 1000)
        {
            m_window.restart();
            m_inWindow = 0;
        }
        return ++m_inWindow <= m_limits.maxMessagesPerSecond;
    }

    void Session::onBinary(const QByteArray &)
    {
        if (m_closing)
            return;
        if (!withinRate())
        {
            closeWith(quint16(CloseCode::PolicyViolation),
                      QStringLiteral("rate limit: more than %1 messages a second").arg(m_limits.maxMessagesPerSecond));
            return;
        }
        closeWith(quint16(CloseCode::InvalidRequest),
                  QStringLiteral("frame: binary frames are not accepted; send JSON text"));
    }

    void Session::onText(const QString &text)
    {
        if (m_closing)
            return;
        if (!withinRate())
        {
            closeWith(quint16(CloseCode::PolicyViolation),
                      QStringLiteral("rate limit: more than %1 messages a second").arg(m_limits.maxMessagesPerSecond));
            return;
        }
        const QByteArray frame = text.toUtf8();
        auto parsed = Protocol::parseClientMessage(frame);
        if (!parsed)
        {
            closeWith(parsed.error().closeCode(), parsed.error().closeReason());
            return;
        }
        const Protocol::ClientMessage &message = *parsed;
        const bool opens = std::holds_alternative<Protocol::StartRequest>(message) ||
                           std::holds_alternative<Protocol::Subscribe>(message);

        if (!m_opened)
        {
            if (!opens)
            {
                closeWith(quint16(CloseCode::InvalidRequest),
                          QStringLiteral("%1: the first message must be startRequest or subscribe")
                              .arg(Protocol::messageKind(message)));
                return;
            }
            const auto afterSeq = readAfterSeq(frame, Protocol::messageKind(message));
            if (!afterSeq)
            {
                closeWith(afterSeq.error().closeCode(), afterSeq.error().closeReason());
                return;
            }
            m_firstMessageTimer.stop();
            m_opened = true;
            emit opening(this, message, *afterSeq);
            return;
        }
        if (opens)
        {
            closeWith(quint16(CloseCode::InvalidRequest),
                      QStringLiteral("%1: only the first message may start or subscribe")
                          .arg(Protocol::messageKind(message)));
            return;
        }
        emit this->message(this, message);
    }

    void Session::onDisconnected()
    {
        if (m_ended)
            return;
        m_ended = true;
        m_firstMessageTimer.stop();
        m_closeTimer.stop();
        emit ended(this);
    }
}  // namespace Lockstep::Gateway
