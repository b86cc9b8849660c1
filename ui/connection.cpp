#include "connection.h"

#include <cmath>
#include <variant>

#include <QDateTime>
#include <QJsonDocument>
#include <QJsonObject>

#include "common/logging.h"
#include "protocol/closecode.h"
#include "protocol/names.h"

namespace Lockstep::Ui
{
    namespace
    {
        constexpr std::chrono::milliseconds HeartbeatInterval{10000};

        QByteArray withAfterSeq(const QByteArray &frame, const QLatin1StringView kind, const qint64 afterSeq)
        {
            if (afterSeq <= 0)
                return frame;
            QJsonObject object = QJsonDocument::fromJson(frame).object();
            QJsonObject body = object.value(kind).toObject();
            body.insert(QStringLiteral("afterSeq"), afterSeq);
            object.insert(kind, body);
            return QJsonDocument(object).toJson(QJsonDocument::Compact);
        }
    }  // namespace

    QString closeWording(const quint16 code, const QString &reason)
    {
        const QString meaning = closeCodeMeaning(code);
        QString text = QStringLiteral("%1 (%2)").arg(meaning).arg(code);
        if (code == Transport::ConnectionLostCode)
            text = QStringLiteral("connection lost");
        if (!reason.isEmpty() && (reason != meaning))
            text += QStringLiteral(" — ") + reason;
        return text;
    }

    QString describeConnection(const ConnectionStatus &status)
    {
        QString last;
        if (status.closeCode)
            last = closeWording(*status.closeCode, status.closeReason);
        else if (!status.failure.isEmpty())
            last = status.failure;
        QString text;
        switch (status.state)
        {
        case ConnectionState::Idle: text = QStringLiteral("not connected"); break;
        case ConnectionState::Connecting:
            text = (status.attempt > 1) ? QStringLiteral("connecting… (attempt %1)").arg(status.attempt)
                                        : QStringLiteral("connecting…");
            break;
        case ConnectionState::Connected: text = QStringLiteral("connected"); break;
        case ConnectionState::Reconnecting:
        {
            const qint64 leftMs = std::max<qint64>(0, status.retryAt.remainingTime());
            const qint64 seconds = static_cast<qint64>(std::ceil(static_cast<double>(leftMs) / 1000.0));
            text = QStringLiteral("reconnecting in %1 s (attempt %2)").arg(seconds).arg(status.attempt + 1);
            if (!last.isEmpty())
                text += QStringLiteral(" — last: ") + last;
            break;
        }
        case ConnectionState::Closed:
            // "closed (1000) — …" rather than "closed: closed (1000) — …".
            if (last.isEmpty())
                text = QStringLiteral("closed");
            else if (last.startsWith(u"closed"))
                text = last;
            else
                text = QStringLiteral("closed: ") + last;
            break;
        }
        if (!status.note.isEmpty())
            text += QStringLiteral(" — ") + status.note;
        return text;
    }

    QString describeFailure(const Transport::ConnectFailure &failure)
    {
        if (!failure.message.isEmpty())
            return failure.message;
        switch (failure.kind)
        {
        case Transport::ConnectError::InvalidUrl: return QStringLiteral("invalid gateway URL");
        case Transport::ConnectError::InvalidOptions: return QStringLiteral("invalid connection options");
        case Transport::ConnectError::DnsFailure: return QStringLiteral("host not found");
        case Transport::ConnectError::ConnectionRefused: return QStringLiteral("connection refused");
        case Transport::ConnectError::Timeout: return QStringLiteral("timed out");
        case Transport::ConnectError::TlsFailure: return QStringLiteral("TLS failure");
        case Transport::ConnectError::HandshakeRejected:
            return QStringLiteral("handshake rejected: HTTP %1").arg(failure.httpStatus);
        case Transport::ConnectError::Cancelled: return QStringLiteral("cancelled");
        case Transport::ConnectError::Other: break;
        }
        return QStringLiteral("connection failed");
    }

    RetryDecision retryAfterClose(const quint16 code)
    {
        switch (code)
        {
        case quint16(CloseCode::TryAgainLater): return RetryDecision::RetryLockHeld;
        case quint16(CloseCode::PolicyViolation):  // auth, origin, rate limit: the user must act
        case quint16(CloseCode::MessageTooBig):
        case quint16(CloseCode::InvalidRequest):
        case quint16(CloseCode::NotFound):
        case quint16(CloseCode::NotResumable): return RetryDecision::Stop;
        default: return RetryDecision::Retry;
        }
    }

    RetryDecision retryAfterFailure(const Transport::ConnectFailure &failure)
    {
        switch (failure.kind)
        {
        case Transport::ConnectError::InvalidUrl:
        case Transport::ConnectError::InvalidOptions:
        case Transport::ConnectError::TlsFailure:
        case Transport::ConnectError::Cancelled: return RetryDecision::Stop;
        case Transport::ConnectError::HandshakeRejected:
            // 401/403/404 will not change by waiting; 503 (shutting down) and others may.
            if ((failure.httpStatus == 401) || (failure.httpStatus == 403) || (failure.httpStatus == 404))
                return RetryDecision::Stop;
            return RetryDecision::Retry;
        case Transport::ConnectError::DnsFailure:
        case Transport::ConnectError::ConnectionRefused:
        case Transport::ConnectError::Timeout:
        case Transport::ConnectError::Other: return RetryDecision::Retry;
        }
        return RetryDecision::Retry;
    }

    // ---- ProtocolSocket ----

    ProtocolSocket::ProtocolSocket(QObject *parent)
        : QObject(parent)
    {
        m_heartbeat.setInterval(HeartbeatInterval);
        connect(&m_heartbeat, &QTimer::timeout, this, [this] {
            send(Protocol::serialize(
                Protocol::ClientMessage(Protocol::Heartbeat{.timestamp = QDateTime::currentMSecsSinceEpoch()})));
        });
    }

    ProtocolSocket::~ProtocolSocket() = default;

    void ProtocolSocket::open(const GatewayEndpoint &endpoint)
    {
        drop();
        m_frames = std::make_shared<FrameSession>(m_frameRole, m_frameCapacity);
        m_frames->setLegacy(m_frameLegacy);
        connect(m_frames.get(), &FrameSession::frameRecorded, this, &ProtocolSocket::frameRecorded);
        emit frameSessionStarted(m_frames);
        m_client = std::make_unique<Transport::WebSocketClient>();
        Transport::WebSocketClient *client = m_client.get();
        connect(client, &Transport::WebSocketClient::connected, this, [this] {
            updateWireBytes();
            m_heartbeat.start();
            emit connected();
        });
        connect(client, &Transport::WebSocketClient::textMessageReceived, this, &ProtocolSocket::onText);
        connect(client, &Transport::WebSocketClient::controlFrame, this, [this](const Transport::FrameRecord &frame) {
            m_frames->record(frame);
            updateWireBytes();
        });
        connect(client, &Transport::WebSocketClient::failed, this, [this](const Transport::ConnectFailure &failure) {
            m_heartbeat.stop();
            m_frames->end(failure);
            emit failed(failure);
        });
        connect(client, &Transport::WebSocketClient::closed, this, [this](const Transport::CloseInfo &info) {
            m_heartbeat.stop();
            m_frames->end(info);
            emit closed(info);
        });
        Transport::ClientOptions options;
        options.url = endpoint.webSocketUrl;
        options.bearerToken = endpoint.token;
        options.caFile = endpoint.caFile;
        options.verifyPeer = endpoint.verifyPeer;
        client->open(options);
    }

    bool ProtocolSocket::send(const QByteArray &frame)
    {
        if (!m_client || !m_client->sendText(QString::fromUtf8(frame)))
            return false;
        record(Transport::FrameDirection::Out, frame);
        return true;
    }

    void ProtocolSocket::close(const quint16 code, const QString &reason)
    {
        if (m_client)
            m_client->close(code, reason);
    }

    void ProtocolSocket::drop()
    {
        m_heartbeat.stop();
        if (!m_client)
            return;
        m_client->disconnect(this);
        if (m_frames && m_frames->isOpen())
        {
            const QByteArray reason = QByteArrayLiteral("client going away");
            if (m_client->state() == Transport::WebSocketClient::State::Connected)
            {
                // What the I/O thread sends for the client's destructor.
                m_frames->record(Transport::FrameRecord{.direction = Transport::FrameDirection::Out,
                                                        .kind = Transport::FrameKind::Close,
                                                        .payloadBytes = 2 + reason.size(),
                                                        .payload = reason,
                                                        .closeCode = 1001,
                                                        .closedByClient = true});
            }
            m_frames->end(tr("dropped by the console"), m_client->wireBytesIn(), m_client->wireBytesOut());
        }
        // The destructor returns at once; the I/O thread sends 1001 and closes.
        m_client.reset();
    }

    bool ProtocolSocket::isConnected() const
    {
        return m_client && (m_client->state() == Transport::WebSocketClient::State::Connected);
    }

    void ProtocolSocket::setFrameRole(const FrameSession::Role role, const bool legacy)
    {
        m_frameRole = role;
        m_frameLegacy = legacy;
    }

    void ProtocolSocket::setFrameCapacity(const int frames)
    {
        m_frameCapacity = std::max(1, frames);
        if (m_frames)
            m_frames->setCapacity(m_frameCapacity);
    }

    std::shared_ptr<FrameSession> ProtocolSocket::frameSession() const
    {
        return m_frames;
    }

    const Transport::FrameLog *ProtocolSocket::frameLog() const
    {
        return m_frames ? &m_frames->log() : nullptr;
    }

    qint64 ProtocolSocket::wireBytesIn() const
    {
        return m_client ? m_client->wireBytesIn() : 0;
    }

    qint64 ProtocolSocket::wireBytesOut() const
    {
        return m_client ? m_client->wireBytesOut() : 0;
    }

    void ProtocolSocket::record(const Transport::FrameDirection direction, const QByteArray &payload)
    {
        if (!m_frames)
            return;
        m_frames->record(Transport::FrameRecord{.direction = direction,
                                                .kind = Transport::FrameKind::Text,
                                                .payloadBytes = payload.size(),
                                                .payload = payload});
        updateWireBytes();
    }

    void ProtocolSocket::updateWireBytes()
    {
        if (m_client && m_frames)
            m_frames->setWireBytes(m_client->wireBytesIn(), m_client->wireBytesOut());
    }

    QStringList ProtocolSocket::defaultCapabilities()
    {
        return {QString(Protocol::Names::IncrementalStreaming)};
    }

    QByteArray ProtocolSocket::startRequestFrame(const QString &workflowId, const QString &goal, const qint64 afterSeq,
                                                 const QJsonObject &metadata, const QJsonObject &approval,
                                                 const QStringList &capabilities)
    {
        Protocol::StartRequest request;
        request.workflowID = workflowId;
        request.goal = goal;
        request.workflowMetadata = metadata;
        if (!approval.isEmpty())
            request.approval = approval;
        request.clientVersion = QStringLiteral("lockstep-console/" LOCKSTEP_VERSION);
        request.clientCapabilities = capabilities;
        return withAfterSeq(Protocol::serialize(Protocol::ClientMessage(request)), Protocol::Names::StartRequest,
                            afterSeq);
    }

    QByteArray ProtocolSocket::subscribeFrame(const QString &workflowId, const qint64 afterSeq)
    {
        return withAfterSeq(Protocol::serialize(Protocol::ClientMessage(Protocol::Subscribe{.workflowID = workflowId})),
                            Protocol::Names::Subscribe, afterSeq);
    }

    void ProtocolSocket::onText(const QString &text)
    {
        const QByteArray utf8 = text.toUtf8();  // the frame's bytes: Beast checked them as UTF-8
        record(Transport::FrameDirection::In, utf8);
        auto message = Protocol::parseServerMessage(utf8);
        if (!message)
        {
            qCWarning(lcUi).noquote() << "unreadable frame from the gateway:" << message.error().reason;
            emit protocolError(message.error().reason);
            return;
        }
        if (const auto *checkpointMessage = std::get_if<Protocol::NewCheckpoint>(&*message))
        {
            auto payload = Protocol::parseCheckpointPayload(QStringView(checkpointMessage->checkpoint));
            if (!payload)
            {
                qCWarning(lcUi).noquote() << "unreadable checkpoint from the gateway:" << payload.error().reason;
                emit protocolError(payload.error().reason);
                return;
            }
            emit checkpoint(payload->uiChatLog, payload->seq, checkpointMessage->status, checkpointMessage->errors);
        }
        else if (const auto *lock = std::get_if<Protocol::LockStatus>(&*message))
            emit lockStatus(*lock);
        else if (const auto *run = std::get_if<Protocol::RunStatusMessage>(&*message))
            emit runStatus(*run);
    }

    // ---- LiveConnection ----

    LiveConnection::LiveConnection(GatewayEndpoint endpoint, QString workflowId, const BackoffOptions backoff,
                                   Backoff::RandomSource random, QObject *parent)
        : QObject(parent)
        , m_endpoint(std::move(endpoint))
        , m_workflowId(std::move(workflowId))
        , m_backoff(backoff, std::move(random))
        , m_socket(new ProtocolSocket(this))
    {
        m_socket->setFrameRole(FrameSession::Role::Live);
        connect(m_socket, &ProtocolSocket::frameSessionStarted, this, &LiveConnection::frameSessionStarted);
        m_retryTimer.setSingleShot(true);
        connect(&m_retryTimer, &QTimer::timeout, this, &LiveConnection::connectNow);
        connect(m_socket, &ProtocolSocket::connected, this, [this] {
            m_backoff.reset();
            m_status.attempt = 0;
            m_status.failure.clear();
            m_status.closeCode.reset();
            m_status.closeReason.clear();
            m_socket->send(ProtocolSocket::subscribeFrame(m_workflowId, m_seq));
            setState(ConnectionState::Connected);
        });
        connect(m_socket, &ProtocolSocket::failed, this, [this](const Transport::ConnectFailure &failure) {
            m_status.failure = describeFailure(failure);
            m_status.closeCode.reset();
            m_status.closeReason.clear();
            scheduleRetry(retryAfterFailure(failure));
        });
        connect(m_socket, &ProtocolSocket::closed, this, [this](const Transport::CloseInfo &info) {
            m_status.closeCode = info.code;
            m_status.closeReason = info.reason;
            m_status.failure.clear();
            scheduleRetry(info.connectionLost() ? RetryDecision::Retry : retryAfterClose(info.code));
        });
        connect(m_socket, &ProtocolSocket::checkpoint, this,
                [this](const QList<Protocol::ChatLogEntry> &entries, const std::optional<qint64> seq,
                       const RunStatus status, const QStringList &) {
                    if (seq)
                        m_seq = std::max(m_seq, *seq);
                    if (!entries.isEmpty())
                        emit entriesReceived(entries);
                    emit runStatusSeen(status, {});
                });
        connect(m_socket, &ProtocolSocket::runStatus, this, [this](const Protocol::RunStatusMessage &message) {
            emit runStatusSeen(message.status, message.reason);
        });
        connect(m_socket, &ProtocolSocket::lockStatus, this, &LiveConnection::lockStatusReceived);
    }

    LiveConnection::~LiveConnection() = default;

    void LiveConnection::start()
    {
        if (m_running)
            return;
        m_running = true;
        m_backoff.reset();
        m_status = {};
        connectNow();
    }

    void LiveConnection::stop()
    {
        m_running = false;
        m_retryTimer.stop();
        m_socket->drop();
        setState(ConnectionState::Idle);
    }

    void LiveConnection::reconnectNow()
    {
        if (!m_running)
        {
            start();
            return;
        }
        if ((m_status.state == ConnectionState::Reconnecting) || (m_status.state == ConnectionState::Closed))
        {
            m_retryTimer.stop();
            connectNow();
        }
    }

    const ConnectionStatus &LiveConnection::status() const
    {
        return m_status;
    }

    qint64 LiveConnection::lastSeq() const
    {
        return m_seq;
    }

    void LiveConnection::setLastSeq(const qint64 seq)
    {
        m_seq = std::max(m_seq, seq);
    }

    const QString &LiveConnection::workflowId() const
    {
        return m_workflowId;
    }

    std::shared_ptr<FrameSession> LiveConnection::frameSession() const
    {
        return m_socket->frameSession();
    }

    const Transport::FrameLog *LiveConnection::frameLog() const
    {
        return m_socket->frameLog();
    }

    void LiveConnection::setFrameCapacity(const int frames)
    {
        m_socket->setFrameCapacity(frames);
    }

    void LiveConnection::connectNow()
    {
        if (!m_running)
            return;
        ++m_status.attempt;
        m_status.note.clear();
        setState(ConnectionState::Connecting);
        m_socket->open(m_endpoint);
    }

    void LiveConnection::scheduleRetry(const RetryDecision decision)
    {
        if (!m_running)
            return;
        if (decision == RetryDecision::Stop)
        {
            m_running = false;
            setState(ConnectionState::Closed);
            return;
        }
        const std::chrono::milliseconds delay =
            (decision == RetryDecision::RetryLockHeld) ? m_backoff.nextAfterLockHeld() : m_backoff.next();
        m_status.retryAt = QDeadlineTimer(delay);
        m_retryTimer.start(delay);
        setState(ConnectionState::Reconnecting);
    }

    void LiveConnection::setState(const ConnectionState state)
    {
        m_status.state = state;
        emit statusChanged(m_status);
    }

    // ---- DriveSession ----

    DriveSession::DriveSession(GatewayEndpoint endpoint, QString workflowId, QString goal, const qint64 afterSeq,
                               QObject *parent)
        : QObject(parent)
        , m_endpoint(std::move(endpoint))
        , m_workflowId(std::move(workflowId))
        , m_goal(std::move(goal))
        , m_afterSeq(afterSeq)
        , m_socket(new ProtocolSocket(this))
    {
        connect(m_socket, &ProtocolSocket::frameSessionStarted, this, &DriveSession::frameSessionStarted);
        connect(m_socket, &ProtocolSocket::connected, this, [this] {
            m_connected = true;
            m_socket->send(ProtocolSocket::startRequestFrame(m_workflowId, m_goal, m_afterSeq, m_metadata, m_approval,
                                                             m_capabilities));
            m_status.state = ConnectionState::Connected;
            emit statusChanged(m_status);
        });
        connect(m_socket, &ProtocolSocket::failed, this, [this](const Transport::ConnectFailure &failure) {
            m_active = false;
            m_status.state = ConnectionState::Closed;
            m_status.failure = describeFailure(failure);
            emit statusChanged(m_status);
            emit ended(End{.accepted = m_accepted, .connected = false, .failure = failure});
        });
        connect(m_socket, &ProtocolSocket::closed, this, [this](const Transport::CloseInfo &info) {
            m_active = false;
            m_status.state = ConnectionState::Closed;
            m_status.closeCode = info.code;
            m_status.closeReason = info.reason;
            emit statusChanged(m_status);
            emit ended(End{.accepted = m_accepted, .connected = m_connected, .close = info});
        });
        connect(m_socket, &ProtocolSocket::checkpoint, this,
                [this](const QList<Protocol::ChatLogEntry> &entries, std::optional<qint64>, const RunStatus status,
                       const QStringList &) {
                    markAccepted();
                    if (!entries.isEmpty())
                        emit entriesReceived(entries);
                    emit runStatusSeen(status, {});
                });
        connect(m_socket, &ProtocolSocket::runStatus, this, [this](const Protocol::RunStatusMessage &message) {
            markAccepted();
            emit runStatusSeen(message.status, message.reason);
        });
        connect(m_socket, &ProtocolSocket::lockStatus, this, &DriveSession::lockStatusReceived);
    }

    DriveSession::~DriveSession() = default;

    void DriveSession::setWorkflowMetadata(const QJsonObject &metadata)
    {
        m_metadata = metadata;
    }

    void DriveSession::setApproval(const QJsonObject &approval)
    {
        m_approval = approval;
    }

    void DriveSession::setCapabilities(const QStringList &capabilities)
    {
        m_capabilities = capabilities;
    }

    void DriveSession::setFrameCapacity(const int frames)
    {
        m_socket->setFrameCapacity(frames);
    }

    std::shared_ptr<FrameSession> DriveSession::frameSession() const
    {
        return m_socket->frameSession();
    }

    const Transport::FrameLog *DriveSession::frameLog() const
    {
        return m_socket->frameLog();
    }

    void DriveSession::start()
    {
        if (m_active)
            return;
        m_active = true;
        m_socket->setFrameRole(FrameSession::Role::Drive,
                               !m_capabilities.contains(QString(Protocol::Names::IncrementalStreaming)));
        m_status = {};
        m_status.state = ConnectionState::Connecting;
        m_status.attempt = 1;
        emit statusChanged(m_status);
        m_socket->open(m_endpoint);
    }

    bool DriveSession::stopWorkflow(const QString &reason)
    {
        return m_socket->send(Protocol::serialize(Protocol::ClientMessage(Protocol::StopWorkflow{.reason = reason})));
    }

    void DriveSession::close()
    {
        m_socket->close(1000, QStringLiteral("console closed the session"));
    }

    bool DriveSession::isAccepted() const
    {
        return m_accepted;
    }

    bool DriveSession::isActive() const
    {
        return m_active;
    }

    const QString &DriveSession::goal() const
    {
        return m_goal;
    }

    const ConnectionStatus &DriveSession::status() const
    {
        return m_status;
    }

    void DriveSession::markAccepted()
    {
        if (m_accepted)
            return;
        m_accepted = true;
        emit accepted();
    }
}  // namespace Lockstep::Ui
