#include <memory>

#include <QAbstractHttpServer>
#include <QHttpServerRequest>
#include <QPointer>
#include <QSignalSpy>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTest>
#include <QWebSocket>
#include <QWebSocketServer>
#include <QtHttpServerVersion>

#include "gateway/httphandover.h"

using namespace Lockstep::Gateway;

// What the gateway's front door assumes of Qt when it hands a connection on,
// against the Qt libraries this build runs with: HttpHandover's three points
// (core/gateway/httphandover.cpp) and QWebSocketServer::handleConnection()
// reading an upgrade request that is already buffered. A failure names the Qt
// version: a Qt upgrade changed what the gateway relies on.
namespace
{
    QByteArray changed(const char *what)
    {
        return QStringLiteral("Qt %1 (QtHttpServer built against %2): %3. The gateway's front door relies on it "
                              "(core/gateway/httphandover.cpp, checked with Qt 6.4.0 to 6.4.3 only).")
            .arg(QString::fromLatin1(qVersion()), QStringLiteral(QTHTTPSERVER_VERSION_STR), QString::fromLatin1(what))
            .toUtf8();
    }

    // Records the requests it is asked to serve, and answers each.
    class RecordingHttpServer final : public QAbstractHttpServer
    {
    public:
        struct Seen
        {
            QByteArray path;
            QByteArray body;
        };
        QList<Seen> seen;

    protected:
        bool handleRequest(const QHttpServerRequest &request, QTcpSocket *socket) override
        {
            seen.append(Seen{.path = request.url().path().toUtf8(), .body = request.body()});
            socket->write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
            return true;
        }
        void missingHandler(const QHttpServerRequest &request, QTcpSocket *) override
        {
            seen.append(Seen{.path = request.url().path().toUtf8(), .body = request.body()});
        }
    };

    // Keeps the connections it accepts until the test hands them on.
    class HoldingDoor final : public HttpHandover
    {
    public:
        QList<QPointer<QTcpSocket>> accepted;

        void hand(QTcpSocket *socket)
        {
            handToHttpServer(socket);
        }

    protected:
        void incomingConnection(const qintptr handle) override
        {
            auto *socket = new QTcpSocket(this);
            if (socket->setSocketDescriptor(handle))
                accepted.append(socket);
            else
                delete socket;
        }
    };
}  // namespace

class TestGatewayHandover : public QObject
{
    Q_OBJECT

private slots:
    void httpServerServesTheBufferedRequestAndNothingAfter()
    {
        RecordingHttpServer http;
        auto *door = new HoldingDoor;
        QVERIFY(door->listen(QHostAddress::LocalHost));
        http.bind(door);  // parents it

        QTcpSocket client;
        client.connectToHost(QHostAddress::LocalHost, door->serverPort());
        QVERIFY(client.waitForConnected(5000));
        const QByteArray first = "POST /first?x=1 HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n\r\nhello";
        client.write(first);
        QTRY_COMPARE(door->accepted.size(), 1);
        QTcpSocket *socket = door->accepted.first();
        QTRY_COMPARE(socket->bytesAvailable(), qint64(first.size()));

        // Points 1 and 2: served before handToHttpServer() returns.
        door->hand(socket);
        QVERIFY2(http.seen.size() == 1,
                 changed("QtHttpServer did not serve a request that was buffered whole when its socket was handed "
                         "over (addPendingConnection + readyRead)")
                     .constData());
        QCOMPARE(http.seen.first().path, QByteArray("/first"));
        QCOMPARE(http.seen.first().body, QByteArray("hello"));
        QByteArray answer;
        QTRY_VERIFY((answer += client.readAll()).startsWith("HTTP/1.1 200 OK"));

        // Point 3: what comes later stays in the socket, unread and unserved.
        const QByteArray second = "GET /second HTTP/1.1\r\nHost: test\r\n\r\n";
        client.write(second);
        QTRY_VERIFY2(socket->bytesAvailable() == second.size(),
                     changed("QtHttpServer read from a socket after it was cut from its readyRead").constData());
        QVERIFY2(http.seen.size() == 1,
                 changed("QtHttpServer served a second request on a connection it was cut from").constData());
    }

    void webSocketServerReadsABufferedUpgrade()
    {
        QTcpServer plain;
        QVERIFY(plain.listen(QHostAddress::LocalHost));
        QWebSocketServer webSockets(QStringLiteral("test"), QWebSocketServer::NonSecureMode);
        QSignalSpy upgraded(&webSockets, &QWebSocketServer::newConnection);

        QTcpSocket client;
        client.connectToHost(QHostAddress::LocalHost, plain.serverPort());
        QVERIFY(client.waitForConnected(5000));
        const QByteArray upgrade = "GET /api/v1/ws HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\n"
                                   "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                   "Sec-WebSocket-Version: 13\r\n\r\n";
        client.write(upgrade);
        QTRY_VERIFY(plain.hasPendingConnections());
        QTcpSocket *socket = plain.nextPendingConnection();
        QTRY_COMPARE(socket->bytesAvailable(), qint64(upgrade.size()));

        // Nothing more arrives, so only handleConnection() itself can start the handshake.
        webSockets.handleConnection(socket);
        QTRY_VERIFY2(upgraded.size() == 1,
                     changed("QWebSocketServer::handleConnection() no longer reads an upgrade request that is "
                             "already buffered in the socket")
                         .constData());
        const std::unique_ptr<QWebSocket> webSocket(webSockets.nextPendingConnection());
        QVERIFY(webSocket);
        QByteArray answer;
        QTRY_VERIFY((answer += client.readAll()).startsWith("HTTP/1.1 101"));
    }
};

QTEST_GUILESS_MAIN(TestGatewayHandover)
#include "tst_gatewayhandover.moc"
