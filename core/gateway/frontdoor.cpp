#include "frontdoor.h"

#include <sys/socket.h>

#include <QJsonDocument>
#include <QJsonObject>
#include <QPointer>
#include <QSslSocket>
#include <QTimer>

#include "common/logging.h"

namespace Lockstep::Gateway
{
    namespace
    {
        // How long a refused connection may keep sending before it is cut.
        constexpr int LingerMs = 2000;

        // Lives as a child of a socket while its head is read; deleting it drops
        // the head timeout and the connections that read the head.
        class HeadReader final : public QObject
        {
        public:
            explicit HeadReader(QObject *parent)
                : QObject(parent)
            {
                setObjectName(name());
            }
            static QString name() { return QStringLiteral("lockstep-head-reader"); }
            QTimer timer;
        };

        // Lives as a child of a connection's socket and counts it down when it goes.
        class ConnectionCounter final : public QObject
        {
        public:
            ConnectionCounter(QObject *socket, FrontDoor *door)
                : QObject(socket)
                , m_door(door)
            {
            }
            ~ConnectionCounter() override
            {
                if (m_door)
                    m_door->connectionGone();
            }

        private:
            QPointer<FrontDoor> m_door;
        };

        // Without Q_OBJECT, findChild<HeadReader *> would match any child: look it up by name.
        HeadReader *headReaderOf(QObject *socket)
        {
            return static_cast<HeadReader *>(socket->findChild<QObject *>(HeadReader::name(), Qt::FindDirectChildrenOnly));
        }

        void lingerClose(QTcpSocket *socket)
        {
            // Whatever happens, the socket goes away within LingerMs.
            QTimer::singleShot(LingerMs, socket, [socket] { socket->abort(); socket->deleteLater(); });
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
    } // namespace

    FrontDoor::FrontDoor(Options options, QObject *parent)
        : QTcpServer(parent)
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
            if (HeadReader *reader = headReaderOf(socket))
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
        if (m_open > m_options.maxConnections)
        {
            qCInfo(lcGateway).noquote() << "refused" << peerName(socket) << "503: more than"
                                        << m_options.maxConnections << "open connections";
            respond(socket, 503, QStringLiteral("too_many_connections"),
                    QStringLiteral("more than %1 open connections").arg(m_options.maxConnections));
            return;
        }

        watch(socket);
        if (auto *ssl = qobject_cast<QSslSocket *>(socket))
        {
            ssl->setSslConfiguration(*m_options.tls);
            connect(ssl, &QSslSocket::errorOccurred, ssl, [ssl](QAbstractSocket::SocketError) {
                if (headReaderOf(ssl))
                {
                    qCInfo(lcGateway).noquote() << "TLS connection from" << peerName(ssl) << "failed:" << ssl->errorString();
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

    void FrontDoor::watch(QTcpSocket *socket)
    {
        auto *reader = new HeadReader(socket);
        reader->timer.setSingleShot(true);
        reader->timer.setInterval(m_options.headTimeout);
        connect(&reader->timer, &QTimer::timeout, reader, [socket] {
            qCInfo(lcGateway).noquote() << "dropped" << peerName(socket) << ": no complete request head in time";
            socket->abort();
            socket->deleteLater();
        });
        reader->timer.start();
        connect(socket, &QTcpSocket::readyRead, reader, [this, socket] { inspect(socket); });
        connect(socket, &QTcpSocket::disconnected, reader, [socket] { socket->deleteLater(); });
    }

    void FrontDoor::inspect(QTcpSocket *socket)
    {
        const QByteArray buffered = socket->peek(qMin<qint64>(socket->bytesAvailable(), MaxHeadBytes + 1));
        const HeadParse parsed = parseRequestHead(buffered);
        if (std::holds_alternative<HeadIncomplete>(parsed))
            return;
        delete headReaderOf(socket);
        if (const auto *error = std::get_if<HeadError>(&parsed))
        {
            qCInfo(lcGateway).noquote() << "refused" << peerName(socket) << error->httpStatus << QString::fromLatin1(error->reason);
            respond(socket, error->httpStatus, QStringLiteral("bad_request"), QString::fromLatin1(error->reason));
            return;
        }
        route(socket, std::get<RequestHead>(parsed));
    }

    void FrontDoor::route(QTcpSocket *socket, const RequestHead &head)
    {
        if (m_closed)
        {
            respond(socket, 503, QStringLiteral("shutting_down"), QStringLiteral("the gateway is shutting down"));
            return;
        }
        if (head.isWebSocketUpgrade())
        {
            emit upgradeRequested(socket, head);
            return;
        }

        if (head.has("transfer-encoding"))
        {
            qCInfo(lcGateway).noquote() << "refused" << peerName(socket) << "411: chunked body";
            respond(socket, 411, QStringLiteral("length_required"),
                    QStringLiteral("send the body with Content-Length; chunked bodies are not accepted"));
            return;
        }
        if (head.has("content-length"))
        {
            bool ok = false;
            const QByteArray text = head.value("content-length");
            const qint64 length = text.toLongLong(&ok);
            if (!ok || (length < 0) || text.contains(','))
            {
                qCInfo(lcGateway).noquote() << "refused" << peerName(socket) << "400: bad Content-Length";
                respond(socket, 400, QStringLiteral("bad_request"), QStringLiteral("Content-Length is not a number"));
                return;
            }
            if (length > m_options.maxBodyBytes)
            {
                qCInfo(lcGateway).noquote() << "refused" << peerName(socket) << "413: body of" << length << "bytes";
                respond(socket, 413, QStringLiteral("payload_too_large"),
                        QStringLiteral("the body is %1 bytes; at most %2 are accepted").arg(length).arg(m_options.maxBodyBytes));
                return;
            }
        }

        // The HTTP server takes it now (synchronously, on pendingConnectionAvailable);
        // the head is still buffered, so nudge it to read.
        addPendingConnection(socket);
        emit socket->readyRead();
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
        const QByteArray body = QJsonDocument(QJsonObject {{u"error"_qs, error}, {u"message"_qs, message}})
                                    .toJson(QJsonDocument::Compact);
        QByteArray response = "HTTP/1.1 " + QByteArray::number(status) + ' ' + reasonPhrase(status) + "\r\n"
            + "Content-Type: application/json\r\n"
            + "Content-Length: " + QByteArray::number(body.size()) + "\r\n"
            + "Cache-Control: no-store\r\n"
            + "Connection: close\r\n";
        for (const auto &[name, value] : extraHeaders)
            response += name + ": " + value + "\r\n";
        response += "\r\n" + body;
        socket->write(response);
        lingerClose(socket);
    }
} // namespace Lockstep::Gateway
