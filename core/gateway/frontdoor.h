#pragma once

#include <chrono>
#include <optional>

#include <QByteArray>
#include <QSslConfiguration>
#include <QString>

#include "gateway/httphandover.h"
#include "gateway/httphead.h"

class QTcpSocket;

namespace Lockstep
{
    class TokenSet;
}

namespace Lockstep::Gateway
{
    // The one listening socket of the gateway. It reads the head of the request
    // of every connection (after the TLS handshake with --tls-cert) and then
    // routes the connection:
    //  - a websocket upgrade goes to upgradeRequested(), whose receiver either
    //    refuses it (respond()) or hands it to a QWebSocketServer;
    //  - anything else needs the bearer token (all but /healthz: 401 as soon as
    //    the head is read, before any body), must keep to the limits (body size,
    //    chunked bodies) and must send its whole body within bodyTimeout (408);
    //    then it is handed to the QAbstractHttpServer this server is bound to
    //    (handToHttpServer(), the one place that relies on QtHttpServer's
    //    internals).
    // QtHttpServer 6.4 cannot look at an upgrade before accepting it, so auth,
    // origin and subprotocol checks of the websocket happen here, before any
    // upgrade, and a refused upgrade is an ordinary HTTP 401/403/404.
    // One request a connection: the HTTP server gets exactly the bytes of the
    // first request (bytes after it are refused with 400 or dropped), and every
    // answer closes the connection (see HttpApi), so every request passes this
    // door and its limits. Past maxConnections, healthReserve more connections
    // are read, for /healthz only (503 for anything else), so load balancers
    // still see the gateway when every slot is taken.
    class FrontDoor final : public HttpHandover
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(FrontDoor)

    public:
        struct Options
        {
            std::optional<QSslConfiguration> tls;
            int maxConnections = 1024;
            // Connections past maxConnections that may only ask for /healthz.
            int healthReserve = 4;
            qint64 maxBodyBytes = 1024 * 1024;
            std::chrono::milliseconds headTimeout{10000};
            // From the end of the head to the end of the body: else 408.
            std::chrono::milliseconds bodyTimeout{5000};
            // The accepted bearer tokens (outlive the door). Null: no token is asked for.
            const TokenSet *tokens = nullptr;
        };

        explicit FrontDoor(Options options, QObject *parent = nullptr);

        int openConnections() const;
        // A connection's socket was destroyed (called by its counter).
        void connectionGone();
        // Stop accepting and refuse (503) connections whose head is still being read.
        void closeDoor();

        // Writes a whole HTTP response with a JSON body {"error","message"} and
        // closes the connection gracefully (closeAfterAnswer()).
        static void respond(QTcpSocket *socket, int status, const QString &error, const QString &message,
                            const QList<QPair<QByteArray, QByteArray>> &extraHeaders = {});
        // After the answer was written: half-close once it is out, read and drop
        // what the client still sends (so it reads the answer instead of a
        // reset), delete the socket when the client closes or after 2 s.
        static void closeAfterAnswer(QTcpSocket *socket);
        static QByteArray reasonPhrase(int status);

    signals:
        // The receiver owns `socket` from now on. `head` has not been consumed:
        // the socket still holds the whole request.
        void upgradeRequested(QTcpSocket *socket, const Lockstep::Gateway::RequestHead &head);

    protected:
        void incomingConnection(qintptr handle) override;

    private:
        void watch(QTcpSocket *socket, bool reserve);
        void inspect(QTcpSocket *socket);
        void route(QTcpSocket *socket, const RequestHead &head);
        // Hands the request to the HTTP server once its whole body is buffered.
        void awaitBody(QTcpSocket *socket);
        void handOver(QTcpSocket *socket);
        static QString peerName(const QTcpSocket *socket);

        Options m_options;
        int m_open = 0;
        bool m_closed = false;
    };
}  // namespace Lockstep::Gateway
