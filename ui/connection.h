#pragma once

#include <chrono>
#include <memory>
#include <optional>

#include <QDeadlineTimer>
#include <QJsonObject>
#include <QList>
#include <QObject>
#include <QPointer>
#include <QString>
#include <QTimer>

#include "backoff.h"
#include "framesession.h"
#include "gatewayapi.h"
#include "protocol/chatlog.h"
#include "protocol/messages.h"
#include "transport/websocketclient.h"

// The console's websocket sessions, always through
// Lockstep::Transport::WebSocketClient (QWebSocket would turn 1013 into 1002).
namespace Lockstep::Ui
{
    enum class ConnectionState
    {
        Idle,  // not started
        Connecting,
        Connected,
        Reconnecting,  // waiting for the next attempt (retryAt)
        Closed,        // over, no retry
    };

    // What the connection line shows.
    struct ConnectionStatus
    {
        ConnectionState state = ConnectionState::Idle;
        int attempt = 0;                   // attempts since the last success
        QDeadlineTimer retryAt;            // Reconnecting: the next attempt
        std::optional<quint16> closeCode;  // the last close, if any
        QString closeReason;
        QString failure;  // the last connect failure, if any
        QString note;     // e.g. who holds the run after 1013
    };

    // "already running (1013) — Failed to acquire lock on workflow": the human
    // meaning of a close code (closeCodeMeaning) with the number and the reason.
    QString closeWording(quint16 code, const QString &reason);
    // The connection line: "connecting…", "connected", "reconnecting in 4 s
    // (attempt 3) — last: gateway error (1011)", "closed: not found (4404) — …".
    QString describeConnection(const ConnectionStatus &status);

    // A failed connection attempt in words ("connection refused", "handshake rejected: HTTP 401 …").
    QString describeFailure(const Transport::ConnectFailure &failure);

    enum class RetryDecision
    {
        Retry,          // transient: back off and try again
        RetryLockHeld,  // 1013: back off at least BackoffOptions::lockHeldMinimum
        Stop,           // retrying cannot help (auth, not found, invalid request, TLS)
    };
    RetryDecision retryAfterClose(quint16 code);
    RetryDecision retryAfterFailure(const Transport::ConnectFailure &failure);

    // One websocket that speaks the protocol: parses server frames into typed
    // signals, sends client messages, heartbeats every 10 s while connected.
    // Every frame in and out is recorded in the connection's FrameSession (a
    // new one per open()) and announced by frameRecorded().
    class ProtocolSocket final : public QObject
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(ProtocolSocket)

    public:
        explicit ProtocolSocket(QObject *parent = nullptr);
        ~ProtocolSocket() override;

        // A new connection (any previous one is dropped silently).
        void open(const GatewayEndpoint &endpoint);
        bool send(const QByteArray &frame);
        void close(quint16 code = 1000, const QString &reason = {});
        // Drops the connection without emitting anything more.
        void drop();
        bool isConnected() const;

        // What the next open() records: the session's role, whether it is a
        // legacy one (see FrameSession::isLegacy) and its ring buffer size.
        void setFrameRole(FrameSession::Role role, bool legacy = false);
        void setFrameCapacity(int frames);
        // The current (or last) connection's frames; null before open().
        std::shared_ptr<FrameSession> frameSession() const;
        const Transport::FrameLog *frameLog() const;
        // The bytes on the wire of the current connection (0 before open()).
        qint64 wireBytesIn() const;
        qint64 wireBytesOut() const;

        // The capabilities a console asks for: incremental_streaming.
        static QStringList defaultCapabilities();
        // startRequest / subscribe with the extension field "afterSeq" (the
        // last chat-log seq this client has) when > 0.
        // `metadata`: workflowMetadata ({"flow","workspaceID"}) of a new run;
        // `approval`: {"decision","requestID"} answering the pending request;
        // `capabilities`: clientCapabilities (empty: legacy events, full checkpoints).
        static QByteArray startRequestFrame(const QString &workflowId, const QString &goal, qint64 afterSeq,
                                            const QJsonObject &metadata = {}, const QJsonObject &approval = {},
                                            const QStringList &capabilities = defaultCapabilities());
        // The gateway streams lean deltas to every subscriber (subscribe has no
        // capabilities in SPEC.md): a subscribe session is always incremental.
        static QByteArray subscribeFrame(const QString &workflowId, qint64 afterSeq);

    signals:
        void connected();
        void failed(const Lockstep::Transport::ConnectFailure &failure);
        void closed(const Lockstep::Transport::CloseInfo &info);
        // newCheckpoint: the new or changed entries (and the seq, if given).
        void checkpoint(const QList<Lockstep::Protocol::ChatLogEntry> &entries, std::optional<qint64> seq,
                        Lockstep::RunStatus status, const QStringList &errors);
        void lockStatus(const Lockstep::Protocol::LockStatus &status);
        void runStatus(const Lockstep::Protocol::RunStatusMessage &status);
        // A frame we could not read (logged; the connection stays).
        void protocolError(const QString &reason);
        // open() made a new session (its frames follow).
        void frameSessionStarted(const std::shared_ptr<Lockstep::Ui::FrameSession> &session);
        // Every frame, in and out, as recorded (sequence and time set).
        void frameRecorded(const Lockstep::Transport::FrameRecord &frame);

    private:
        void onText(const QString &text);
        void record(Transport::FrameDirection direction, const QByteArray &payload);
        void updateWireBytes();

        std::unique_ptr<Transport::WebSocketClient> m_client;
        std::shared_ptr<FrameSession> m_frames;
        FrameSession::Role m_frameRole = FrameSession::Role::Other;
        bool m_frameLegacy = false;
        int m_frameCapacity = Transport::FrameLog::DefaultCapacity;
        QTimer m_heartbeat;
    };

    // Observes one workflow (subscribe) and keeps doing so: reconnects with
    // capped exponential backoff and jitter, resuming from the last seq.
    class LiveConnection final : public QObject
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(LiveConnection)

    public:
        LiveConnection(GatewayEndpoint endpoint, QString workflowId, BackoffOptions backoff = {},
                       Backoff::RandomSource random = {}, QObject *parent = nullptr);
        ~LiveConnection() override;

        void start();
        void stop();
        // Skips the wait of a pending reconnect.
        void reconnectNow();
        const ConnectionStatus &status() const;
        qint64 lastSeq() const;
        // The caller already has the log up to `seq` (e.g. from GET .../chat).
        void setLastSeq(qint64 seq);
        const QString &workflowId() const;
        // The frames of the current (or last) connection; each reconnect starts a
        // new session (frameSessionStarted). Null before the first attempt.
        std::shared_ptr<FrameSession> frameSession() const;
        const Transport::FrameLog *frameLog() const;
        void setFrameCapacity(int frames);

    signals:
        void frameSessionStarted(const std::shared_ptr<Lockstep::Ui::FrameSession> &session);
        void statusChanged(const Lockstep::Ui::ConnectionStatus &status);
        void entriesReceived(const QList<Lockstep::Protocol::ChatLogEntry> &entries);
        void runStatusSeen(Lockstep::RunStatus status, const QString &reason);
        void lockStatusReceived(const Lockstep::Protocol::LockStatus &status);

    private:
        void connectNow();
        void scheduleRetry(RetryDecision decision);
        void setState(ConnectionState state);

        GatewayEndpoint m_endpoint;
        QString m_workflowId;
        Backoff m_backoff;
        ProtocolSocket *m_socket;
        QTimer m_retryTimer;
        ConnectionStatus m_status;
        qint64 m_seq = 0;
        bool m_running = false;
    };

    // One startRequest: drives the workflow (resume with an empty goal, the
    // next chat message otherwise). Lives until the gateway closes it.
    class DriveSession final : public QObject
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(DriveSession)

    public:
        struct End
        {
            bool accepted = false;   // the gateway started executing before it closed
            bool connected = false;  // the websocket was up at all
            Transport::CloseInfo close;
            std::optional<Transport::ConnectFailure> failure;
        };

        DriveSession(GatewayEndpoint endpoint, QString workflowId, QString goal, qint64 afterSeq,
                     QObject *parent = nullptr);
        ~DriveSession() override;

        // Before start(): what the startRequest carries besides the goal.
        void setWorkflowMetadata(const QJsonObject &metadata);
        void setApproval(const QJsonObject &approval);
        // clientCapabilities of the startRequest (default: incremental_streaming;
        // empty: legacy events). The session's frames say which.
        void setCapabilities(const QStringList &capabilities);
        void setFrameCapacity(int frames);
        void start();
        // stopWorkflow on this session (the same CAS as the HTTP cancel).
        bool stopWorkflow(const QString &reason);
        // Closes (1000); a running execution pauses at its next step.
        void close();
        bool isAccepted() const;
        bool isActive() const;
        const QString &goal() const;
        const ConnectionStatus &status() const;
        // This session's frames (null before start()).
        std::shared_ptr<FrameSession> frameSession() const;
        const Transport::FrameLog *frameLog() const;

    signals:
        void frameSessionStarted(const std::shared_ptr<Lockstep::Ui::FrameSession> &session);
        // The gateway sent the run's events: resumed, or the message went in.
        void accepted();
        void statusChanged(const Lockstep::Ui::ConnectionStatus &status);
        void entriesReceived(const QList<Lockstep::Protocol::ChatLogEntry> &entries);
        void runStatusSeen(Lockstep::RunStatus status, const QString &reason);
        void lockStatusReceived(const Lockstep::Protocol::LockStatus &status);
        void ended(const Lockstep::Ui::DriveSession::End &end);

    private:
        void markAccepted();

        GatewayEndpoint m_endpoint;
        QString m_workflowId;
        QString m_goal;
        qint64 m_afterSeq = 0;
        QJsonObject m_metadata;
        QJsonObject m_approval;
        QStringList m_capabilities = ProtocolSocket::defaultCapabilities();
        ProtocolSocket *m_socket;
        ConnectionStatus m_status;
        bool m_accepted = false;
        bool m_connected = false;
        bool m_active = false;
    };
}  // namespace Lockstep::Ui

Q_DECLARE_METATYPE(Lockstep::Ui::ConnectionStatus)
Q_DECLARE_METATYPE(Lockstep::Ui::DriveSession::End)
