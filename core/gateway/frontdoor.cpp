#include "frontdoor.h"

#include <sys/socket.h>

#include <algorithm>

#include <QJsonDocument>
#include <QJsonObject>
#include <QPointer>
#include <QSslSocket>
#include <QTimer>

#include "common/logging.h"
#include "common/tokenauth.h"

namespace Lockstep::Gateway
{
    namespace
    {
        // How long a refused connection may keep sending before it is cut.
        constexpr int LingerMs = 2000;
        // A request handed to the HTTP server and still not answered after this is cut.
        constexpr int AnswerTimeoutMs = 30000;

        // A connection past --max-connections (a /healthz slot) gets this long for its head.
        constexpr std::chrono::milliseconds ReserveHeadTimeout{2000};

        // Lives as a child of a socket while its request (head, then body) is
        // read; deleting it drops the timeout and the connections that read.
        class RequestReader final : public QObject
        {
        public:
            explicit RequestReader(QObject *parent)
                : QObject(parent)
            {
                setObjectName(name());
            }
            static QString name()
            {
                return QStringLiteral("lockstep-request-reader");
            }
            QTimer timer;
            bool reserve = false;      // past --max-connections: /healthz only
            qint64 requestBytes = -1;  // head + body, once the head is read
        };

        // Lives as a child of a connection's socket and counts it down when it goes.
        class ConnectionCounter final : public QObject
        {
        public:
            ConnectionCounter(QObject *socket, FrontDoor *door)
                : QObject(socket)
                , m_door(door)
            {}
            ~ConnectionCounter() override
            {
                if (m_door)
                    m_door->connectionGone();
            }

        private:
            QPointer<FrontDoor> m_door;
        };

        // Without Q_OBJECT, findChild<RequestReader *> would match any child: look it up by name.
        RequestReader *readerOf(QObject *socket)
        {
            return static_cast<RequestReader *>(
                socket->findChild<QObject *>(RequestReader::name(), Qt::FindDirectChildrenOnly));
        }

        bool isHealthPath(const QByteArray &path)
        {
            return (path == "/healthz") || (path == "/healthz/");
        }

        void lingerClose(QTcpSocket *socket)
        {
            if (socket->property("lockstepLingering").toBool())
                return;
            socket->setProperty("lockstepLingering", true);
            // Whatever happens, the socket goes away within LingerMs.
            QTimer::singleShot(LingerMs, socket, [socket] {
                socket->abort();
                socket->deleteLater();
            });
            QObject::connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
            if (qobject_cast<QSslSocket *>(socket))
            {
                socket->disconnectFromHost();
                return;
            }
            // Plain TCP: half-close after the answer is out and drop what the client
            // still sends, so it reads our answer instead of a connection reset.
            QObject::connect(socket, &QTcpSocket::readyRead, socket, [socket] { socket->readAll(); });
            auto shutdownWrite = [socket] {
                if ((socket->bytesToWrite() == 0) && !socket->property("lockstepHalfClosed").toBool())
                {
                    socket->setProperty("lockstepHalfClosed", true);
                    ::shutdown(int(socket->socketDescriptor()), SHUT_WR);
                }
            };
            QObject::connect(socket, &QTcpSocket::bytesWritten, socket, shutdownWrite);
            socket->flush();
            shutdownWrite();
            socket->readAll();
        }
    }  // namespace

    FrontDoor::FrontDoor(Options options, QObject *parent)
        : HttpHandover(parent)
        , m_options(std::move(options))
    {
        // Connections are handed on at once; this only bounds a burst.
        setMaxPendingConnections(1024);
    }

    void FrontDoor::connectionGone()
    {
        --m_open;
        qCDebug(lcGateway) << "connection closed;" << m_open << "open";
    }

    int FrontDoor::openConnections() const
    {
        return m_open;
    }

    void FrontDoor::closeDoor()
    {
        m_closed = true;
        close();
        const QList<QTcpSocket *> sockets = findChildren<QTcpSocket *>(Qt::FindDirectChildrenOnly);
        for (QTcpSocket *socket : sockets)
        {
            if (RequestReader *reader = readerOf(socket))
            {
                delete reader;
                respond(socket, 503, QStringLiteral("shutting_down"), QStringLiteral("the gateway is shutting down"));
            }
        }
    }

    QString FrontDoor::peerName(const QTcpSocket *socket)
    {
        return socket->peerAddress().toString() + u':' + QString::number(socket->peerPort());
    }

    void FrontDoor::incomingConnection(const qintptr handle)
    {
        QTcpSocket *socket = m_options.tls ? new QSslSocket(this) : new QTcpSocket(this);
        if (!socket->setSocketDescriptor(handle))
        {
            qCWarning(lcGateway) << "cannot take a new connection:" << socket->errorString();
            delete socket;
            return;
        }
        ++m_open;
        // Counted down by a child of the socket: others (QWebSocket) cut the
        // socket's signal connections, but its children always go with it.
        new ConnectionCounter(socket, this);

        if (m_closed)
        {
            socket->abort();
            socket->deleteLater();
            return;
        }
        if (m_open > m_options.maxConnections + m_options.healthReserve)
        {
            qCInfo(lcGateway).noquote() << "refused" << peerName(socket) << "503: more than" << m_options.maxConnections
                                        << "open connections";
            respond(socket, 503, QStringLiteral("too_many_connections"),
                    QStringLiteral("more than %1 open connections").arg(m_options.maxConnections));
            return;
        }

        // Past the limit, a few more connections are read for /healthz only.
        watch(socket, m_open > m_options.maxConnections);
        if (auto *ssl = qobject_cast<QSslSocket *>(socket))
        {
            ssl->setSslConfiguration(*m_options.tls);
            connect(ssl, &QSslSocket::errorOccurred, ssl, [ssl](QAbstractSocket::SocketError) {
                if (readerOf(ssl))
                {
                    qCInfo(lcGateway).noquote()
                        << "TLS connection from" << peerName(ssl) << "failed:" << ssl->errorString();
                    ssl->abort();
                    ssl->deleteLater();
                }
            });
            ssl->startServerEncryption();
        }
        else if (socket->bytesAvailable() > 0)
        {
            inspect(socket);
        }
    }

    void FrontDoor::watch(QTcpSocket *socket, const bool reserve)
    {
        auto *reader = new RequestReader(socket);
        reader->reserve = reserve;
        reader->timer.setSingleShot(true);
        reader->timer.setInterval(reserve
                                      ? std::min(m_options.headTimeout, std::chrono::milliseconds(ReserveHeadTimeout))
                                      : m_options.headTimeout);
        connect(&reader->timer, &QTimer::timeout, reader, [this, socket, reader] {
            if (reader->requestBytes < 0)
            {
                qCInfo(lcGateway).noquote() << "dropped" << peerName(socket) << ": no complete request head in time";
                socket->abort();
                socket->deleteLater();
                return;
            }
            const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(m_options.bodyTimeout).count();
            qCInfo(lcGateway).noquote() << "refused" << peerName(socket) << "408: body incomplete after" << seconds
                                        << "s";
            delete reader;
            respond(socket, 408, QStringLiteral("request_timeout"),
                    QStringLiteral("the request body did not arrive within %1 s").arg(seconds));
        });
        reader->timer.start();
        connect(socket, &QTcpSocket::readyRead, reader, [this, socket] { inspect(socket); });
        connect(socket, &QTcpSocket::disconnected, reader, [socket] { socket->deleteLater(); });
    }

    void FrontDoor::inspect(QTcpSocket *socket)
    {
        RequestReader *reader = readerOf(socket);
        if (!reader)
            return;
        if (reader->requestBytes >= 0)
        {
            awaitBody(socket);
            return;
        }
        const QByteArray buffered = socket->peek(qMin<qint64>(socket->bytesAvailable(), MaxHeadBytes + 1));
        const HeadParse parsed = parseRequestHead(buffered);
        if (std::holds_alternative<HeadIncomplete>(parsed))
            return;
        if (const auto *error = std::get_if<HeadError>(&parsed))
        {
            delete reader;
            qCInfo(lcGateway).noquote() << "refused" << peerName(socket) << error->httpStatus
                                        << QString::fromLatin1(error->reason);
            respond(socket, error->httpStatus, QStringLiteral("bad_request"), QString::fromLatin1(error->reason));
            return;
        }
        route(socket, std::get<RequestHead>(parsed));
    }

    void FrontDoor::route(QTcpSocket *socket, const RequestHead &head)
    {
        RequestReader *reader = readerOf(socket);
        auto refuse = [&](int status, const QString &error, const QString &message,
                          const QList<QPair<QByteArray, QByteArray>> &extraHeaders = {}) {
            delete reader;
            qCInfo(lcGateway).noquote() << "refused" << peerName(socket) << status << message;
            respond(socket, status, error, message, extraHeaders);
        };
        if (m_closed)
            return refuse(503, QStringLiteral("shutting_down"), QStringLiteral("the gateway is shutting down"));
        if (reader->reserve && !isHealthPath(head.path))
        {
            return refuse(503, QStringLiteral("too_many_connections"),
                          QStringLiteral("more than %1 open connections (only /healthz is served past that)")
                              .arg(m_options.maxConnections));
        }
        if (head.isWebSocketUpgrade())
        {
            delete reader;
            emit upgradeRequested(socket, head);
            return;
        }

        // The token first, as soon as the head is read: nobody without one may
        // hold a connection by sending a body slowly.
        if (m_options.tokens && !isHealthPath(head.path))
        {
            const QByteArray token = presentedToken(head.value("authorization"), {});
            if (!m_options.tokens->accepts(token))
            {
                return refuse(401, QStringLiteral("unauthorized"),
                              token.isEmpty() ? QStringLiteral("missing token") : QStringLiteral("wrong token"),
                              {qMakePair(QByteArray("WWW-Authenticate"), QByteArray("Bearer realm=\"lockstep\""))});
            }
        }
        if (head.has("transfer-encoding"))
        {
            return refuse(411, QStringLiteral("length_required"),
                          QStringLiteral("send the body with Content-Length; chunked bodies are not accepted"));
        }
        qint64 length = 0;
        if (head.has("content-length"))
        {
            bool ok = false;
            const QByteArray text = head.value("content-length");
            length = text.toLongLong(&ok);
            if (!ok || (length < 0) || text.contains(','))
                return refuse(400, QStringLiteral("bad_request"), QStringLiteral("Content-Length is not a number"));
            if (length > m_options.maxBodyBytes)
            {
                return refuse(413, QStringLiteral("payload_too_large"),
                              QStringLiteral("the body is %1 bytes; at most %2 are accepted")
                                  .arg(length)
                                  .arg(m_options.maxBodyBytes));
            }
        }

        // The whole body is read here, within bodyTimeout, before the HTTP server sees it.
        reader->requestBytes = head.size + length;
        reader->timer.start(m_options.bodyTimeout);
        if ((socket->bytesAvailable() < reader->requestBytes) &&
            (head.value("expect").trimmed().toLower() == "100-continue"))
            socket->write("HTTP/1.1 100 Continue\r\n\r\n");
        awaitBody(socket);
    }

    void FrontDoor::awaitBody(QTcpSocket *socket)
    {
        RequestReader *reader = readerOf(socket);
        const qint64 available = socket->bytesAvailable();
        if (available < reader->requestBytes)
            return;
        const bool more = available > reader->requestBytes;
        delete reader;
        if (more)
        {
            // The HTTP server would serve a second request from these bytes
            // without this door's checks: one request a connection.
            qCInfo(lcGateway).noquote() << "refused" << peerName(socket) << "400: bytes after the request";
            respond(socket, 400, QStringLiteral("bad_request"),
                    QStringLiteral("one request per connection: nothing may follow the request (no pipelining)"));
            return;
        }
        handOver(socket);
    }

    void FrontDoor::handOver(QTcpSocket *socket)
    {
        // The HTTP server takes it and serves the request before this returns,
        // and reads nothing more from it.
        handToHttpServer(socket);
        // It answers at once (a lock query: when the lock store answers); a
        // connection it never answers does not keep its slot for ever.
        QTimer::singleShot(AnswerTimeoutMs, socket, [socket] {
            if (socket->property("lockstepLingering").toBool())
                return;
            qCWarning(lcGateway).noquote() << "dropped" << peerName(socket) << ": no answer to its request within"
                                           << AnswerTimeoutMs / 1000 << "s";
            socket->abort();
            socket->deleteLater();
        });
        // Whatever comes after the request must not reach the HTTP server (it
        // would parse and serve it as a second request, past this door's
        // checks): drop those bytes until the socket closes.
        connect(socket, &QTcpSocket::readyRead, socket, [socket] {
            const QByteArray dropped = socket->readAll();
            if (!dropped.isEmpty() && !socket->property("lockstepDropLogged").toBool())
            {
                socket->setProperty("lockstepDropLogged", true);
                qCInfo(lcGateway).noquote()
                    << "dropped bytes after the request from" << peerName(socket) << "(one request per connection)";
            }
        });
    }

    QByteArray FrontDoor::reasonPhrase(const int status)
    {
        switch (status)
        {
        case 200: return "OK";
        case 201: return "Created";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 408: return "Request Timeout";
        case 409: return "Conflict";
        case 411: return "Length Required";
        case 413: return "Payload Too Large";
        case 415: return "Unsupported Media Type";
        case 426: return "Upgrade Required";
        case 431: return "Request Header Fields Too Large";
        case 500: return "Internal Server Error";
        case 503: return "Service Unavailable";
        case 505: return "HTTP Version Not Supported";
        default: return "Status";
        }
    }

    void FrontDoor::respond(QTcpSocket *socket, const int status, const QString &error, const QString &message,
                            const QList<QPair<QByteArray, QByteArray>> &extraHeaders)
    {
        const QByteArray body =
            QJsonDocument(QJsonObject{{QStringLiteral("error"), error}, {QStringLiteral("message"), message}})
                .toJson(QJsonDocument::Compact);
        QByteArray response = "HTTP/1.1 " + QByteArray::number(status) + ' ' + reasonPhrase(status) + "\r\n" +
                              "Content-Type: application/json\r\n" +
                              "Content-Length: " + QByteArray::number(body.size()) + "\r\n" +
                              "Cache-Control: no-store\r\n" + "Connection: close\r\n";
        for (const auto &[name, value] : extraHeaders)
            response += name + ": " + value + "\r\n";
        response += "\r\n" + body;
        socket->write(response);
        lingerClose(socket);
    }

    void FrontDoor::closeAfterAnswer(QTcpSocket *socket)
    {
        lingerClose(socket);
    }
}  // namespace Lockstep::Gateway
