#pragma once

#include <QHostAddress>
#include <QList>
#include <QNetworkRequest>
#include <QObject>
#include <QSet>
#include <QSslConfiguration>
#include <QStringList>
#include <QUrl>

class QWebSocket;
class QWebSocketServer;

namespace Lockstep::Test
{
    // An in-process QWebSocketServer on 127.0.0.1 with a free port, for tests
    // and benchmarks: echoes text messages, can close every connection with a
    // chosen code and reason (at once or after the first message) or abort the
    // TCP connection, and keeps the last handshake request for inspection.
    // Lives in the thread that created it; use it from there.
    class TestWebSocketServer : public QObject
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(TestWebSocketServer)

    public:
        enum class CloseWhen
        {
            Never,
            Immediately,        // right after the handshake
            AfterFirstMessage,  // instead of answering the first message
        };

        // ws://
        explicit TestWebSocketServer(QObject *parent = nullptr);
        // wss:// with the given server configuration (see tlscert.h)
        explicit TestWebSocketServer(const QSslConfiguration &tls, QObject *parent = nullptr);
        ~TestWebSocketServer() override;

        // Port 0 picks a free one. False (see errorString()) if it cannot listen.
        bool listen(const QHostAddress &address = QHostAddress::LocalHost, quint16 port = 0);
        QString errorString() const;
        quint16 port() const;
        // ws[s]://127.0.0.1:PORT<path>
        QUrl url(const QString &path = QStringLiteral("/api/v1/ws")) const;
        QWebSocketServer *server() const;

        void setEcho(bool on);  // default on
        // Keep every received message for receivedMessages() (default on; off for benchmarks).
        void setRecordMessages(bool on);
        void setSupportedSubprotocols(const QStringList &protocols);
        void setCloseAction(CloseWhen when, quint16 code = 1000, const QString &reason = {});
        // Drops the TCP connection without a close frame after the first message.
        void setAbortAfterFirstMessage(bool on);

        // The handshake of the latest connection (headers, URL), its subprotocol.
        QNetworkRequest lastRequest() const;
        QByteArray lastRequestHeader(const QByteArray &name) const;
        QUrl lastRequestUrl() const;
        QString lastSubprotocol() const;

        QStringList receivedMessages() const;
        QList<QWebSocket *> clients() const;  // currently connected
        int acceptedCount() const;            // connections accepted so far
        // Close code and reason the latest client closed with (after its disconnect).
        quint16 lastPeerCloseCode() const;
        QString lastPeerCloseReason() const;

        // Sends to every connected client.
        void broadcastText(const QString &message);
        void closeAll(quint16 code, const QString &reason);
        void abortAll();

    signals:
        void clientConnected(QWebSocket *socket);
        void messageReceived(const QString &message);
        void clientDisconnected(quint16 closeCode, const QString &closeReason);

    private:
        void onNewConnection();
        void onTextMessage(QWebSocket *socket, const QString &message);

        QWebSocketServer *m_server = nullptr;
        QList<QWebSocket *> m_clients;
        QSet<QWebSocket *> m_seenMessage;
        bool m_echo = true;
        bool m_record = true;
        CloseWhen m_closeWhen = CloseWhen::Never;
        quint16 m_closeCode = 1000;
        QString m_closeReason;
        bool m_abortAfterFirst = false;
        QNetworkRequest m_lastRequest;
        QString m_lastSubprotocol;
        QStringList m_received;
        int m_accepted = 0;
        quint16 m_lastPeerCloseCode = 0;
        QString m_lastPeerCloseReason;
    };
}  // namespace Lockstep::Test
