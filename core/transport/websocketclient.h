#pragma once

#include <chrono>
#include <memory>

#include <QMetaType>
#include <QObject>
#include <QString>
#include <QStringList>
#include <QUrl>

#include "framelog.h"

// The console's websocket client. QWebSocket cannot be used as a client: it
// rewrites a received close code 1012..2999 (e.g. 1013, "lock held") to 1002.
// This one is Boost.Beast's websocket stream (its reader, writer, masking,
// pongs and close handshake) on one I/O thread shared by every connection;
// every Beast/Asio include stays in websocketclient.cpp so only that file pays
// for the heavy headers.
namespace Lockstep::Transport
{
    struct ClientOptions
    {
        QUrl url;                                         // ws://HOST:PORT/path or wss://...
        QString bearerToken;                              // sent as "Authorization: Bearer <token>"; never logged
        bool tokenAsSubprotocol = false;                  // also offer the subprotocol "bearer.<token>"
        QString caFile;                                   // extra trusted CA (PEM), e.g. a self-signed gateway
        bool verifyPeer = true;                           // TLS certificate and host name verification
        std::chrono::milliseconds connectTimeout{10000};  // DNS + TCP + TLS + upgrade, all together
        std::chrono::milliseconds pingInterval{20000};    // 0 disables pings
        std::chrono::milliseconds pongTimeout{30000};     // after an unanswered ping; 0 disables
        std::chrono::milliseconds closeTimeout{2000};     // how long close() waits for the reply
        qint64 maxMessageSize = 16 * 1024 * 1024;         // incoming; larger closes with 1009
        QStringList subprotocols{QStringLiteral("lockstep.v1")};  // offered; connected() says which one won
    };

    enum class ConnectError
    {
        InvalidUrl,      // not ws:// or wss://, no host, credentials in the URL
        InvalidOptions,  // token or subprotocol characters, sizes, timeouts
        DnsFailure,
        ConnectionRefused,
        Timeout,
        TlsFailure,         // handshake failed, certificate verify failed, CA file unreadable
        HandshakeRejected,  // the server answered the upgrade with something else than 101
        Cancelled,          // close() before the connection was up
        Other,              // e.g. network unreachable, connection reset during the handshake
    };
    // Short name for logs and messages ("DNS failure", "TLS failure", ...).
    QString connectErrorName(ConnectError error);

    struct ConnectFailure
    {
        ConnectError kind = ConnectError::Other;
        int httpStatus = 0;  // HandshakeRejected: the HTTP status (401, 404, ...)
        QString message;     // readable, e.g. "handshake rejected: HTTP 401 Unauthorized"
        // Bytes read from and written to the socket during the attempt (see WebSocketClient::wireBytesIn).
        qint64 wireBytesIn = 0;
        qint64 wireBytesOut = 0;
    };

    // 1006 is reserved (RFC 6455) for "closed abnormally, no close frame": used
    // here for a lost connection.
    inline constexpr quint16 ConnectionLostCode = 1006;

    struct CloseInfo
    {
        // true: code and reason are exactly those of the close frame the server sent
        // (or, after close(), of the server's reply).
        bool receivedCloseFrame = false;
        // true: the client started the close: close(), or an incoming message over
        // maxMessageSize (code 1009), or a protocol error of the peer (1002/1007).
        bool initiatedByClient = false;
        quint16 code = 0;
        QString reason;
        // Every byte of the connection, read and written (see WebSocketClient::wireBytesIn).
        qint64 wireBytesIn = 0;
        qint64 wireBytesOut = 0;

        // The peer vanished without a close frame (TCP reset, pong timeout, ...);
        // code is ConnectionLostCode and reason says what happened.
        bool connectionLost() const
        {
            return !receivedCloseFrame && !initiatedByClient;
        }
    };

    // One connection attempt per object: open() once, then throw the object
    // away after failed() or closed() and make a new one to reconnect.
    // Call it from the thread that owns it (the GUI thread); all signals are
    // delivered there, queued, in order. Exactly one of failed() (never
    // connected) or closed() (after connected()) ends a connection, unless the
    // object is destroyed first (then nothing is emitted).
    // Threads: the connection lives on one I/O thread shared by all clients
    // (started on first use, stopped at process exit); the owner thread only
    // hands messages over and gets signals back, and never waits for it.
    class WebSocketClient final : public QObject
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(WebSocketClient)

    public:
        enum class State
        {
            Idle,  // before open()
            Connecting,
            Connected,
            Closing,  // close() called, waiting for the server's reply
            Closed,   // failed() or closed() was emitted (or is queued)
        };
        Q_ENUM(State)

        explicit WebSocketClient(QObject *parent = nullptr);
        // Returns at once. The I/O thread then sends what sendText() queued and
        // a close frame (1001, going away) if connected, waits up to
        // closeTimeout for the reply and drops the connection; or abandons a
        // connection attempt. Nothing is emitted after destruction.
        ~WebSocketClient() override;

        // Starts connecting. Returns false (and does nothing) if open() was
        // already called on this object. Invalid options end in failed().
        bool open(const ClientOptions &options);
        // Queues a text frame (UTF-8). Messages sent while Connecting go out
        // right after the handshake. Returns false if the connection is
        // closing or closed, or open() was never called.
        bool sendText(const QString &message);
        // Sends a close frame and waits up to closeTimeout for the server's
        // reply; closed() follows. Before the connection is up it abandons
        // the attempt and failed() follows.
        void close(quint16 code = 1000, const QString &reason = {});

        State state() const;
        // The subprotocol the server chose (empty before connected() or if none).
        QString subprotocol() const;
        // What went through the socket so far, counted by Beast below every
        // layer: the HTTP upgrade, frame headers, masks and TLS records
        // included. Safe to read at any time from the owner thread.
        qint64 wireBytesIn() const;
        qint64 wireBytesOut() const;

    signals:
        void connected(const QString &subprotocol);
        void textMessageReceived(const QString &message);
        // The frames besides text messages, in order with the other signals:
        // pings and pongs sent and received (a received ping's automatic pong
        // right after it), close frames sent and received (code, reason, and
        // who sent the first one). Text frames are what sendText() queued and
        // textMessageReceived() delivers. Beast reads and drops control frames
        // that arrive after our close frame went out (e.g. the pong of a ping
        // sent just before close()): those are on the wire, not here.
        void controlFrame(const Lockstep::Transport::FrameRecord &frame);
        void failed(const Lockstep::Transport::ConnectFailure &failure);
        void closed(const Lockstep::Transport::CloseInfo &info);

    private:
        struct Shared;
        class Session;
        void deliverEvents();

        std::shared_ptr<Shared> m_shared;
        std::shared_ptr<Session> m_session;  // null before open() (or when open() refused the options)
        State m_state = State::Idle;
        QString m_subprotocol;
    };
}  // namespace Lockstep::Transport

Q_DECLARE_METATYPE(Lockstep::Transport::ConnectFailure)
Q_DECLARE_METATYPE(Lockstep::Transport::CloseInfo)
