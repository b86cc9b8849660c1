#include "testwebsocketserver.h"

#include <QWebSocket>
#include <QWebSocketServer>

namespace Lockstep::Test
{
    TestWebSocketServer::TestWebSocketServer(QObject *parent)
        : QObject(parent)
        , m_server(new QWebSocketServer(QStringLiteral("lockstep-test"), QWebSocketServer::NonSecureMode, this))
    {
        connect(m_server, &QWebSocketServer::newConnection, this, &TestWebSocketServer::onNewConnection);
    }

    TestWebSocketServer::TestWebSocketServer(const QSslConfiguration &tls, QObject *parent)
        : QObject(parent)
        , m_server(new QWebSocketServer(QStringLiteral("lockstep-test"), QWebSocketServer::SecureMode, this))
    {
        m_server->setSslConfiguration(tls);
        connect(m_server, &QWebSocketServer::newConnection, this, &TestWebSocketServer::onNewConnection);
        // A failed TLS handshake is expected in some tests; nothing to do.
        connect(m_server, &QWebSocketServer::peerVerifyError, this, [](const QSslError &) {});
    }

    TestWebSocketServer::~TestWebSocketServer()
    {
        // Disconnect first: aborting below must not call back into a half-destroyed object.
        for (QWebSocket *socket : std::as_const(m_clients))
        {
            socket->disconnect(this);
            socket->abort();
            delete socket;
        }
        m_clients.clear();
        m_server->close();
    }

    bool TestWebSocketServer::listen(const QHostAddress &address, const quint16 port)
    {
        return m_server->listen(address, port);
    }

    QString TestWebSocketServer::errorString() const
    {
        return m_server->errorString();
    }

    quint16 TestWebSocketServer::port() const
    {
        return m_server->serverPort();
    }

    QUrl TestWebSocketServer::url(const QString &path) const
    {
        QUrl url;
        url.setScheme(m_server->secureMode() == QWebSocketServer::SecureMode ? QStringLiteral("wss")
                                                                             : QStringLiteral("ws"));
        url.setHost(m_server->serverAddress().toString());
        url.setPort(port());
        url.setPath(path);
        return url;
    }

    QWebSocketServer *TestWebSocketServer::server() const
    {
        return m_server;
    }

    void TestWebSocketServer::setEcho(const bool on)
    {
        m_echo = on;
    }

    void TestWebSocketServer::setSupportedSubprotocols(const QStringList &protocols)
    {
        m_server->setSupportedSubprotocols(protocols);
    }

    void TestWebSocketServer::setCloseAction(const CloseWhen when, const quint16 code, const QString &reason)
    {
        m_closeWhen = when;
        m_closeCode = code;
        m_closeReason = reason;
    }

    void TestWebSocketServer::setRecordMessages(const bool on)
    {
        m_record = on;
    }

    void TestWebSocketServer::setAbortAfterFirstMessage(const bool on)
    {
        m_abortAfterFirst = on;
    }

    QNetworkRequest TestWebSocketServer::lastRequest() const
    {
        return m_lastRequest;
    }

    QByteArray TestWebSocketServer::lastRequestHeader(const QByteArray &name) const
    {
        return m_lastRequest.rawHeader(name);
    }

    QUrl TestWebSocketServer::lastRequestUrl() const
    {
        return m_lastRequest.url();
    }

    QString TestWebSocketServer::lastSubprotocol() const
    {
        return m_lastSubprotocol;
    }

    QStringList TestWebSocketServer::receivedMessages() const
    {
        return m_received;
    }

    QList<QWebSocket *> TestWebSocketServer::clients() const
    {
        return m_clients;
    }

    int TestWebSocketServer::acceptedCount() const
    {
        return m_accepted;
    }

    quint16 TestWebSocketServer::lastPeerCloseCode() const
    {
        return m_lastPeerCloseCode;
    }

    QString TestWebSocketServer::lastPeerCloseReason() const
    {
        return m_lastPeerCloseReason;
    }

    void TestWebSocketServer::broadcastText(const QString &message)
    {
        const QList<QWebSocket *> clients = m_clients;
        for (QWebSocket *socket : clients)
            socket->sendTextMessage(message);
    }

    void TestWebSocketServer::closeAll(const quint16 code, const QString &reason)
    {
        const QList<QWebSocket *> clients = m_clients;  // closing may remove them
        for (QWebSocket *socket : clients)
            socket->close(static_cast<QWebSocketProtocol::CloseCode>(code), reason);
    }

    void TestWebSocketServer::abortAll()
    {
        const QList<QWebSocket *> clients = m_clients;  // aborting removes them
        for (QWebSocket *socket : clients)
            socket->abort();
    }

    void TestWebSocketServer::onNewConnection()
    {
        while (QWebSocket *socket = m_server->nextPendingConnection())
        {
            ++m_accepted;
            socket->setParent(this);
            m_clients.append(socket);
            m_lastRequest = socket->request();
            m_lastSubprotocol = socket->subprotocol();
            connect(socket, &QWebSocket::textMessageReceived, this,
                    [this, socket](const QString &message) { onTextMessage(socket, message); });
            connect(socket, &QWebSocket::disconnected, this, [this, socket] {
                m_lastPeerCloseCode = static_cast<quint16>(socket->closeCode());
                m_lastPeerCloseReason = socket->closeReason();
                m_clients.removeOne(socket);
                m_seenMessage.remove(socket);
                socket->deleteLater();
                emit clientDisconnected(m_lastPeerCloseCode, m_lastPeerCloseReason);
            });
            emit clientConnected(socket);
            if (m_closeWhen == CloseWhen::Immediately)
                socket->close(static_cast<QWebSocketProtocol::CloseCode>(m_closeCode), m_closeReason);
        }
    }

    void TestWebSocketServer::onTextMessage(QWebSocket *socket, const QString &message)
    {
        bool first = false;
        if (!m_seenMessage.contains(socket))
        {
            first = true;
            m_seenMessage.insert(socket);
        }
        if (m_record)
            m_received.append(message);
        emit messageReceived(message);
        if (first && m_abortAfterFirst)
        {
            socket->abort();
            return;
        }
        if (first && m_closeWhen == CloseWhen::AfterFirstMessage)
        {
            socket->close(static_cast<QWebSocketProtocol::CloseCode>(m_closeCode), m_closeReason);
            return;
        }
        if (m_echo)
            socket->sendTextMessage(message);
    }
}  // namespace Lockstep::Test
