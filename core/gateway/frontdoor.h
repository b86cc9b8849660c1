#pragma once

#include <chrono>
#include <optional>

#include <QByteArray>
#include <QSslConfiguration>
#include <QString>
#include <QTcpServer>

#include "gateway/httphead.h"

class QTcpSocket;

namespace Lockstep::Gateway
{
    // The one listening socket of the gateway. It reads the head of the first
    // request of every connection (after the TLS handshake with --tls-cert)
    // and then routes the connection:
    //  - a websocket upgrade goes to upgradeRequested(), whose receiver either
    //    refuses it (respond()) or hands it to a QWebSocketServer;
    //  - anything else, within the limits (body size, connection count), is
    //    queued for the QAbstractHttpServer this server is bound to.
    // QtHttpServer 6.4 cannot look at an upgrade before accepting it, so auth,
    // origin and subprotocol checks of the websocket happen here, before any
    // upgrade, and a refused upgrade is an ordinary HTTP 401/403/404.
    // Every response of the HTTP server closes its connection (see HttpApi), so
    // every request passes through this door and its limits.
    class FrontDoor final : public QTcpServer
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(FrontDoor)

    public:
        struct Options
        {
            std::optional<QSslConfiguration> tls;
            int maxConnections = 1024;
            qint64 maxBodyBytes = 1024 * 1024;
            std::chrono::milliseconds headTimeout{10000};
        };

        explicit FrontDoor(Options options, QObject *parent = nullptr);

        int openConnections() const;
        // A connection's socket was destroyed (called by its counter).
        void connectionGone();
        // Stop accepting and refuse (503) connections whose head is still being read.
        void closeDoor();

        // Writes a whole HTTP response with a JSON body {"error","message"} and
        // closes the connection gracefully (the rest of the request is read and
        // dropped for a moment, so the client sees the answer, not a reset).
        static void respond(QTcpSocket *socket, int status, const QString &error, const QString &message,
                            const QList<QPair<QByteArray, QByteArray>> &extraHeaders = {});
        static QByteArray reasonPhrase(int status);

    signals:
        // The receiver owns `socket` from now on. `head` has not been consumed:
        // the socket still holds the whole request.
        void upgradeRequested(QTcpSocket *socket, const Lockstep::Gateway::RequestHead &head);

    protected:
        void incomingConnection(qintptr handle) override;

    private:
        void watch(QTcpSocket *socket);
        void inspect(QTcpSocket *socket);
        void route(QTcpSocket *socket, const RequestHead &head);
        static QString peerName(const QTcpSocket *socket);

        Options m_options;
        int m_open = 0;
        bool m_closed = false;
    };
} // namespace Lockstep::Gateway
