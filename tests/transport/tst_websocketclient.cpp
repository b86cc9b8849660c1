#include <memory>
#include <vector>

#include <QCryptographicHash>
#include <QDir>
#include <QElapsedTimer>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>
#include <QWebSocket>

#include "clientspies.h"
#include "freeport.h"
#include "protocol/closecode.h"
#include "testwebsocketserver.h"
#include "tlscert.h"
#include "transport/websocketclient.h"

using namespace Lockstep;
using namespace Lockstep::Transport;

namespace Lockstep::Transport
{
    // For QCOMPARE messages.
    char *toString(const ConnectError error)
    {
        return qstrdup(connectErrorName(error).toUtf8().constData());
    }
}  // namespace Lockstep::Transport
using namespace std::chrono_literals;
using Lockstep::Test::ClientSpies;
using Lockstep::Test::TestWebSocketServer;

namespace
{
    constexpr int Patience = 15000;  // ms; generous, the machine may be busy

    // A TCP server that speaks just enough HTTP to play a broken or silent
    // websocket peer: never answer, answer with fixed bytes, or complete the
    // upgrade and then ignore everything (no pongs), recording what it got.
    class RawServer : public QObject
    {
    public:
        enum class Mode
        {
            Silent,
            Reply,            // after the request headers
            ReplyToAnything,  // to the first bytes, whatever they are
            UpgradeThenIgnore,
        };

        explicit RawServer(const Mode mode, QByteArray reply = {})
            : m_mode(mode)
            , m_reply(std::move(reply))
        {
            connect(&m_server, &QTcpServer::newConnection, this, [this] {
                while (QTcpSocket *socket = m_server.nextPendingConnection())
                {
                    m_sockets.append(socket);
                    connect(socket, &QTcpSocket::readyRead, this, [this, socket] { onReadyRead(socket); });
                    connect(socket, &QTcpSocket::disconnected, this, [this] { ++m_disconnected; });
                }
            });
            if (!m_server.listen(QHostAddress::LocalHost, 0))
                qFatal("RawServer cannot listen");
        }

        QUrl url() const
        {
            return QUrl(QStringLiteral("ws://127.0.0.1:%1/api/v1/ws").arg(m_server.serverPort()));
        }

        int accepted() const
        {
            return static_cast<int>(m_sockets.size());
        }
        // Connections the client has closed (TCP).
        int disconnected() const
        {
            return m_disconnected;
        }
        QByteArray afterUpgrade() const
        {
            return m_afterUpgrade;
        }

    private:
        void onReadyRead(QTcpSocket *socket)
        {
            if (m_upgraded)
            {
                m_afterUpgrade += socket->readAll();
                return;
            }
            m_request += socket->readAll();
            if (m_mode == Mode::ReplyToAnything)
            {
                socket->write(m_reply);
                socket->disconnectFromHost();
                return;
            }
            if (m_mode == Mode::Silent || !m_request.contains("\r\n\r\n"))
                return;
            if (m_mode == Mode::Reply)
            {
                socket->write(m_reply);
                socket->disconnectFromHost();
                return;
            }
            static const QRegularExpression keyLine(QStringLiteral("Sec-WebSocket-Key:\\s*(\\S+)"),
                                                    QRegularExpression::CaseInsensitiveOption);
            const auto match = keyLine.match(QString::fromLatin1(m_request));
            const QByteArray accept =
                QCryptographicHash::hash(match.captured(1).toLatin1().append("258EAFA5-E914-47DA-95CA-C5AB0DC85B11"),
                                         QCryptographicHash::Sha1)
                    .toBase64();
            socket->write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Accept: " +
                          accept + "\r\n\r\n");
            m_upgraded = true;
            m_afterUpgrade = m_request.mid(m_request.indexOf("\r\n\r\n") + 4);
        }

        Mode m_mode;
        QByteArray m_reply;
        QTcpServer m_server;
        QList<QTcpSocket *> m_sockets;
        QByteArray m_request;
        bool m_upgraded = false;
        QByteArray m_afterUpgrade;
        int m_disconnected = 0;
    };

    // The first client frame in `bytes`, unmasked (RFC 6455 5.3); payloads under 126 bytes.
    struct ClientFrame
    {
        int opcode = -1;
        QByteArray payload;
    };
    ClientFrame firstClientFrame(const QByteArray &bytes)
    {
        if (bytes.size() < 6 || (static_cast<unsigned char>(bytes.at(1)) & 0x80) == 0)
            return {};
        const int length = static_cast<unsigned char>(bytes.at(1)) & 0x7f;
        if (length > 125 || bytes.size() < 6 + length)
            return {};
        ClientFrame frame{.opcode = static_cast<unsigned char>(bytes.at(0)) & 0x0f, .payload = bytes.mid(6, length)};
        for (int i = 0; i < length; ++i)
            frame.payload[i] = static_cast<char>(frame.payload.at(i) ^ bytes.at(2 + i % 4));
        return frame;
    }

    quint16 closeCodeOf(const ClientFrame &frame)
    {
        if (frame.opcode != 8 || frame.payload.size() < 2)
            return 0;
        return static_cast<quint16>((static_cast<unsigned char>(frame.payload.at(0)) << 8) |
                                    static_cast<unsigned char>(frame.payload.at(1)));
    }

    // Threads of this process (Linux): connections must not bring threads of their own.
    int threadCount()
    {
        return static_cast<int>(
            QDir(QStringLiteral("/proc/self/task")).entryList(QDir::Dirs | QDir::NoDotAndDotDot).size());
    }

    ClientOptions optionsFor(const QUrl &url)
    {
        ClientOptions options;
        options.url = url;
        options.bearerToken = QStringLiteral("test-token-123");
        return options;
    }
}  // namespace

Q_DECLARE_METATYPE(TestWebSocketServer::CloseWhen)

class TestWebSocketClient : public QObject
{
    Q_OBJECT

private slots:
    void serverCloseCodeArrivesExactly_data()
    {
        QTest::addColumn<int>("code");
        QTest::addColumn<QString>("reason");
        QTest::addColumn<TestWebSocketServer::CloseWhen>("when");

        const QList<std::pair<int, QString>> cases{
            {1000, QStringLiteral("finished")},
            {1001, QStringLiteral("gateway shutting down")},
            {1008, QStringLiteral("authentication failed")},
            {1009, QStringLiteral("message too big")},
            {1011, QStringLiteral("lock store unavailable")},
            {1012, QStringLiteral("service restart")},
            {1013, LockHeldReason},
            {4400, QStringLiteral("invalid request: missing workflowID")},
            {4404, QStringLiteral("workflow not found")},
            {4409, QStringLiteral("not resumable (status: finished)")},
            {4409, QStringLiteral("nicht fortsetzbar — Status: »beendet« ✓")},
            {1000, QString()},
        };
        for (const auto &[code, reason] : cases)
        {
            QTest::addRow("%d after first message: %s", code, qPrintable(reason))
                << code << reason << TestWebSocketServer::CloseWhen::AfterFirstMessage;
            QTest::addRow("%d immediately: %s", code, qPrintable(reason))
                << code << reason << TestWebSocketServer::CloseWhen::Immediately;
        }
    }

    void serverCloseCodeArrivesExactly()
    {
        QFETCH(int, code);
        QFETCH(QString, reason);
        QFETCH(TestWebSocketServer::CloseWhen, when);

        TestWebSocketServer server;
        QVERIFY2(server.listen(), qPrintable(server.errorString()));
        server.setCloseAction(when, static_cast<quint16>(code), reason);

        WebSocketClient client;
        ClientSpies spies(client);
        QVERIFY(client.open(optionsFor(server.url())));
        QTRY_COMPARE_WITH_TIMEOUT(spies.connected.size(), 1, Patience);
        if (when == TestWebSocketServer::CloseWhen::AfterFirstMessage)
            QVERIFY(client.sendText(QStringLiteral(R"({"startRequest":{"workflowID":"wf-1","goal":"hi"}})")));
        QTRY_COMPARE_WITH_TIMEOUT(spies.closed.size(), 1, Patience);

        const CloseInfo info = spies.closeInfo();
        QVERIFY(info.receivedCloseFrame);
        QVERIFY(!info.initiatedByClient);
        QVERIFY(!info.connectionLost());
        QCOMPARE(int(info.code), code);
        QCOMPARE(info.reason, reason);
        QCOMPARE(client.state(), WebSocketClient::State::Closed);
        QCOMPARE(spies.failed.size(), 0);
        QCOMPARE(spies.text.size(), 0);  // the server closed instead of answering
        QVERIFY(!client.sendText(QStringLiteral("too late")));
    }

    void textRoundTrip()
    {
        TestWebSocketServer server;
        QVERIFY(server.listen());
        WebSocketClient client;
        ClientSpies spies(client);
        QCOMPARE(client.state(), WebSocketClient::State::Idle);
        QVERIFY(client.open(optionsFor(server.url())));
        QCOMPARE(client.state(), WebSocketClient::State::Connecting);
        QTRY_COMPARE_WITH_TIMEOUT(spies.connected.size(), 1, Patience);
        QCOMPARE(client.state(), WebSocketClient::State::Connected);

        const QStringList messages{
            QStringLiteral("hello"),
            QStringLiteral("grüße — 日本語 🚀 \u00e9\u0301"),
            QString(),
            QString(100 * 1024 + 3, u'x'),
            // Each length encoding of a frame header, at its edges.
            QString(125, u'a'),
            QString(126, u'b'),
            QString(65535, u'c'),
            QString(65536, u'd'),
            QString(1000, u'ß'),  // 2000 bytes of UTF-8
            QStringLiteral(R"({"newCheckpoint":{"status":"RUNNING","errors":[]}})"),
        };
        for (const QString &message : messages)
            QVERIFY(client.sendText(message));
        QTRY_COMPARE_WITH_TIMEOUT(spies.text.size(), messages.size(), Patience);
        for (int i = 0; i < messages.size(); ++i)
            QCOMPARE(spies.text.at(i).at(0).toString(), messages.at(i));
        QCOMPARE(server.receivedMessages(), messages);
        QCOMPARE(spies.closed.size(), 0);
    }

    void manyMessagesKeepOrder()
    {
        TestWebSocketServer server;
        QVERIFY(server.listen());
        WebSocketClient client;
        QStringList received;
        connect(&client, &WebSocketClient::textMessageReceived, this,
                [&received](const QString &message) { received.append(message); });
        QVERIFY(client.open(optionsFor(server.url())));
        constexpr int Count = 2000;
        for (int i = 0; i < Count; ++i)  // sent while still connecting: queued until the upgrade
            QVERIFY(client.sendText(QString::number(i)));
        QTRY_COMPARE_WITH_TIMEOUT(received.size(), Count, Patience);
        for (int i = 0; i < Count; ++i)
            QCOMPARE(received.at(i), QString::number(i));
    }

    void messagesBeforeTheCloseArriveFirst()
    {
        TestWebSocketServer server;
        QVERIFY(server.listen());
        WebSocketClient client;
        ClientSpies spies(client);
        qsizetype textsWhenClosed = -1;
        connect(&client, &WebSocketClient::closed, this,
                [&textsWhenClosed, &spies](const CloseInfo &) { textsWhenClosed = spies.text.size(); });
        QVERIFY(client.open(optionsFor(server.url())));
        QTRY_COMPARE_WITH_TIMEOUT(spies.connected.size(), 1, Patience);
        for (int i = 0; i < 3; ++i)
            server.broadcastText(QStringLiteral("event %1").arg(i));
        server.closeAll(4404, QStringLiteral("workflow not found"));
        QTRY_COMPARE_WITH_TIMEOUT(spies.closed.size(), 1, Patience);
        QCOMPARE(textsWhenClosed, 3);
        QCOMPARE(spies.text.at(2).at(0).toString(), QStringLiteral("event 2"));
        QCOMPARE(spies.closeInfo().code, quint16(4404));
    }

    void sendFromASlotThatSpinsAnEventLoop()
    {
        // A slot that sends and then waits in a nested event loop (as a modal
        // dialog would) must still get its message out and the answer in.
        TestWebSocketServer server;
        QVERIFY(server.listen());
        WebSocketClient client;
        ClientSpies spies(client);
        bool answered = false;
        bool nestedSawAnswer = false;
        connect(&client, &WebSocketClient::textMessageReceived, this, [&](const QString &message) {
            if (message == u"answer")
            {
                answered = true;
                return;
            }
            if (message != u"question")
                return;
            QVERIFY(client.sendText(QStringLiteral("answer")));
            QElapsedTimer timer;
            timer.start();
            while (!answered && timer.elapsed() < Patience)
                QCoreApplication::processEvents(QEventLoop::AllEvents, 50);
            nestedSawAnswer = answered;
        });
        QVERIFY(client.open(optionsFor(server.url())));
        QTRY_COMPARE_WITH_TIMEOUT(spies.connected.size(), 1, Patience);
        QVERIFY(client.sendText(QStringLiteral("question")));
        QTRY_VERIFY_WITH_TIMEOUT(answered, Patience);
        QVERIFY(nestedSawAnswer);
    }

    void bearerTokenAsHeaderAndSubprotocol()
    {
        TestWebSocketServer server;
        server.setSupportedSubprotocols({QStringLiteral("lockstep.v1")});
        QVERIFY(server.listen());

        ClientOptions options = optionsFor(server.url());
        options.bearerToken = QStringLiteral("s3cr3t-Token_value.~42");
        options.tokenAsSubprotocol = true;
        WebSocketClient client;
        ClientSpies spies(client);
        QVERIFY(client.open(options));
        QTRY_COMPARE_WITH_TIMEOUT(spies.connected.size(), 1, Patience);

        QCOMPARE(server.lastRequestHeader("Authorization"), QByteArray("Bearer s3cr3t-Token_value.~42"));
        const QByteArray offered = server.lastRequestHeader("Sec-WebSocket-Protocol");
        QVERIFY2(offered.contains("lockstep.v1"), offered.constData());
        QVERIFY2(offered.contains("bearer.s3cr3t-Token_value.~42"), offered.constData());
        QCOMPARE(spies.connected.at(0).at(0).toString(), QStringLiteral("lockstep.v1"));
        QCOMPARE(client.subprotocol(), QStringLiteral("lockstep.v1"));
        QCOMPARE(server.lastSubprotocol(), QStringLiteral("lockstep.v1"));
        // Never a token in the URL.
        QVERIFY(!server.lastRequestUrl().toString().contains(u"s3cr3t"));
        QCOMPARE(server.lastRequestUrl().path(), QStringLiteral("/api/v1/ws"));
        QVERIFY(!server.lastRequestUrl().hasQuery());
    }

    void bearerTokenHeaderOnlyByDefault()
    {
        TestWebSocketServer server;
        server.setSupportedSubprotocols({QStringLiteral("lockstep.v1")});
        QVERIFY(server.listen());
        WebSocketClient client;
        ClientSpies spies(client);
        QVERIFY(client.open(optionsFor(server.url())));
        QTRY_COMPARE_WITH_TIMEOUT(spies.connected.size(), 1, Patience);
        QCOMPARE(server.lastRequestHeader("Authorization"), QByteArray("Bearer test-token-123"));
        QCOMPARE(server.lastRequestHeader("Sec-WebSocket-Protocol"), QByteArray("lockstep.v1"));
    }

    void noSubprotocolChosen()
    {
        TestWebSocketServer server;  // supports no subprotocol
        QVERIFY(server.listen());
        WebSocketClient client;
        ClientSpies spies(client);
        QVERIFY(client.open(optionsFor(server.url())));
        QTRY_COMPARE_WITH_TIMEOUT(spies.connected.size(), 1, Patience);
        QCOMPARE(spies.connected.at(0).at(0).toString(), QString());
    }

    void invalidOptions_data()
    {
        QTest::addColumn<QString>("url");
        QTest::addColumn<QString>("token");
        QTest::addColumn<bool>("asSubprotocol");
        QTest::addColumn<qint64>("maxSize");
        QTest::addColumn<ConnectError>("kind");

        const QString ok = QStringLiteral("ws://127.0.0.1:1/api/v1/ws");
        QTest::newRow("empty url") << QString() << QString() << false << qint64(1024) << ConnectError::InvalidUrl;
        QTest::newRow("http scheme") << QStringLiteral("http://127.0.0.1:1/") << QString() << false << qint64(1024)
                                     << ConnectError::InvalidUrl;
        QTest::newRow("no host") << QStringLiteral("ws:///api") << QString() << false << qint64(1024)
                                 << ConnectError::InvalidUrl;
        QTest::newRow("credentials") << QStringLiteral("ws://user:pw@127.0.0.1:1/") << QString() << false
                                     << qint64(1024) << ConnectError::InvalidUrl;
        QTest::newRow("token with newline")
            << ok << QStringLiteral("abc\r\nX-Evil: 1") << false << qint64(1024) << ConnectError::InvalidOptions;
        QTest::newRow("token unfit for a subprotocol")
            << ok << QStringLiteral("abc/def==") << true << qint64(1024) << ConnectError::InvalidOptions;
        QTest::newRow("subprotocol without token")
            << ok << QString() << true << qint64(1024) << ConnectError::InvalidOptions;
        QTest::newRow("zero max size") << ok << QString() << false << qint64(0) << ConnectError::InvalidOptions;
    }

    void invalidOptions()
    {
        QFETCH(QString, url);
        QFETCH(QString, token);
        QFETCH(bool, asSubprotocol);
        QFETCH(qint64, maxSize);
        QFETCH(ConnectError, kind);

        ClientOptions options;
        options.url = QUrl(url);
        options.bearerToken = token;
        options.tokenAsSubprotocol = asSubprotocol;
        options.maxMessageSize = maxSize;
        WebSocketClient client;
        ClientSpies spies(client);
        QVERIFY(client.open(options));
        QTRY_COMPARE_WITH_TIMEOUT(spies.failed.size(), 1, Patience);
        QCOMPARE(spies.failure().kind, kind);
        QVERIFY(!spies.failure().message.isEmpty());
        if (!token.isEmpty())
            QVERIFY2(!spies.failure().message.contains(token), "the token must not appear in messages");
        QCOMPARE(client.state(), WebSocketClient::State::Closed);
        QCOMPARE(spies.connected.size(), 0);
    }

    void connectionRefused()
    {
        WebSocketClient client;
        ClientSpies spies(client);
        QVERIFY(client.open(optionsFor(QUrl(QStringLiteral("ws://127.0.0.1:%1/api/v1/ws").arg(Test::freePort())))));
        QTRY_COMPARE_WITH_TIMEOUT(spies.failed.size(), 1, Patience);
        QCOMPARE(spies.failure().kind, ConnectError::ConnectionRefused);
        QVERIFY(spies.failure().message.contains(u"refused"));
        QCOMPARE(spies.closed.size(), 0);
    }

    void dnsFailure_data()
    {
        QTest::addColumn<QString>("host");
        // RFC 6761: answered by the client itself, no DNS query leaves the machine.
        QTest::newRow(".invalid") << QStringLiteral("nonexistent.invalid");
        // Longer than a DNS name may be (255): the system resolver refuses it
        // locally, so the resolver's own error path runs without any query.
        const QString label(63, u'a');
        QTest::newRow("name too long") << QStringList{label, label, label, label, QStringLiteral("example")}.join(u'.');
    }

    void dnsFailure()
    {
        QFETCH(QString, host);
        QUrl url;
        url.setScheme(QStringLiteral("ws"));
        url.setHost(host);
        url.setPort(8080);
        url.setPath(QStringLiteral("/api/v1/ws"));
        WebSocketClient client;
        ClientSpies spies(client);
        QVERIFY(client.open(optionsFor(url)));
        QTRY_COMPARE_WITH_TIMEOUT(spies.failed.size(), 1, Patience);
        QCOMPARE(spies.failure().kind, ConnectError::DnsFailure);
        QVERIFY2(spies.failure().message.contains(host), qPrintable(spies.failure().message));
    }

    void handshakeRejected_data()
    {
        QTest::addColumn<QByteArray>("reply");
        QTest::addColumn<int>("status");
        QTest::addColumn<QString>("message");
        QTest::newRow("401") << QByteArray("HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n"
                                           "Content-Length: 17\r\n\r\n{\"error\":\"auth\"}\n")
                             << 401 << QStringLiteral("handshake rejected: HTTP 401 Unauthorized");
        QTest::newRow("404") << QByteArray("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n") << 404
                             << QStringLiteral("handshake rejected: HTTP 404 Not Found");
        QTest::newRow("403 without body length") << QByteArray("HTTP/1.1 403 Forbidden\r\n\r\n") << 403
                                                 << QStringLiteral("handshake rejected: HTTP 403 Forbidden");
    }

    void handshakeRejected()
    {
        QFETCH(QByteArray, reply);
        QFETCH(int, status);
        QFETCH(QString, message);
        RawServer server(RawServer::Mode::Reply, reply);
        WebSocketClient client;
        ClientSpies spies(client);
        QVERIFY(client.open(optionsFor(server.url())));
        QTRY_COMPARE_WITH_TIMEOUT(spies.failed.size(), 1, Patience);
        QCOMPARE(spies.failure().kind, ConnectError::HandshakeRejected);
        QCOMPARE(spies.failure().httpStatus, status);
        QCOMPARE(spies.failure().message, message);
    }

    void notAWebsocketServer()
    {
        RawServer server(RawServer::Mode::Reply, "garbage\r\n\r\n");
        WebSocketClient client;
        ClientSpies spies(client);
        QVERIFY(client.open(optionsFor(server.url())));
        QTRY_COMPARE_WITH_TIMEOUT(spies.failed.size(), 1, Patience);
        QCOMPARE(spies.failure().kind, ConnectError::Other);
        QCOMPARE(spies.connected.size(), 0);
    }

    void connectTimeout()
    {
        RawServer server(RawServer::Mode::Silent);
        ClientOptions options = optionsFor(server.url());
        options.connectTimeout = 500ms;
        WebSocketClient client;
        ClientSpies spies(client);
        QVERIFY(client.open(options));
        QTRY_COMPARE_WITH_TIMEOUT(spies.failed.size(), 1, Patience);
        QCOMPARE(spies.failure().kind, ConnectError::Timeout);
        QCOMPARE(server.accepted(), 1);  // TCP was up; the upgrade never answered
        QVERIFY(spies.failure().message.contains(u"websocket handshake"));
    }

    void closeWhileConnectingCancels()
    {
        RawServer server(RawServer::Mode::Silent);
        WebSocketClient client;
        ClientSpies spies(client);
        QVERIFY(client.open(optionsFor(server.url())));
        QTRY_COMPARE_WITH_TIMEOUT(server.accepted(), 1, Patience);
        client.close();
        QCOMPARE(client.state(), WebSocketClient::State::Closing);
        QTRY_COMPARE_WITH_TIMEOUT(spies.failed.size(), 1, Patience);
        QCOMPARE(spies.failure().kind, ConnectError::Cancelled);
        QCOMPARE(client.state(), WebSocketClient::State::Closed);
    }

    void tls()
    {
        const Test::TlsCert cert = Test::makeSelfSignedCert();
        QVERIFY(!cert.certificatePem.isEmpty());
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString caFile = dir.filePath(QStringLiteral("ca.pem"));
        QVERIFY(Test::writePemFile(caFile, cert.certificatePem));

        TestWebSocketServer server(Test::serverSslConfiguration(cert));
        QVERIFY2(server.listen(), qPrintable(server.errorString()));
        QCOMPARE(server.url().scheme(), QStringLiteral("wss"));

        // Verification on, the self-signed certificate is not trusted.
        {
            WebSocketClient client;
            ClientSpies spies(client);
            QVERIFY(client.open(optionsFor(server.url())));
            QTRY_COMPARE_WITH_TIMEOUT(spies.failed.size(), 1, Patience);
            QCOMPARE(spies.failure().kind, ConnectError::TlsFailure);
            QVERIFY2(spies.failure().message.contains(u"certificate verify failed"),
                     qPrintable(spies.failure().message));
        }
        // Trusted through the CA file, by IP and by name.
        for (const QString &host : {QStringLiteral("127.0.0.1"), QStringLiteral("localhost")})
        {
            QUrl url = server.url();
            url.setHost(host);
            ClientOptions options = optionsFor(url);
            options.caFile = caFile;
            WebSocketClient client;
            ClientSpies spies(client);
            QVERIFY(client.open(options));
            QTRY_COMPARE_WITH_TIMEOUT(spies.connected.size(), 1, Patience);
            QVERIFY(client.sendText(QStringLiteral("über TLS")));
            QTRY_COMPARE_WITH_TIMEOUT(spies.text.size(), 1, Patience);
            QCOMPARE(spies.text.at(0).at(0).toString(), QStringLiteral("über TLS"));
            QCOMPARE(spies.failed.size(), 0);
        }
        // Verification off.
        {
            ClientOptions options = optionsFor(server.url());
            options.verifyPeer = false;
            WebSocketClient client;
            ClientSpies spies(client);
            QVERIFY(client.open(options));
            QTRY_COMPARE_WITH_TIMEOUT(spies.connected.size(), 1, Patience);
        }
        // A missing CA file is a TLS failure, not a crash.
        {
            ClientOptions options = optionsFor(server.url());
            options.caFile = dir.filePath(QStringLiteral("missing.pem"));
            WebSocketClient client;
            ClientSpies spies(client);
            QVERIFY(client.open(options));
            QTRY_COMPARE_WITH_TIMEOUT(spies.failed.size(), 1, Patience);
            QCOMPARE(spies.failure().kind, ConnectError::TlsFailure);
            QVERIFY(spies.failure().message.contains(u"missing.pem"));
        }
        // A CA file that is not PEM.
        {
            const QString junk = dir.filePath(QStringLiteral("junk.pem"));
            QVERIFY(Test::writePemFile(junk, "not a certificate\n"));
            ClientOptions options = optionsFor(server.url());
            options.caFile = junk;
            WebSocketClient client;
            ClientSpies spies(client);
            QVERIFY(client.open(options));
            QTRY_COMPARE_WITH_TIMEOUT(spies.failed.size(), 1, Patience);
            QCOMPARE(spies.failure().kind, ConnectError::TlsFailure);
            QVERIFY(spies.failure().message.contains(u"junk.pem"));
        }
        // A wss URL against a plain HTTP server.
        {
            RawServer plain(RawServer::Mode::ReplyToAnything, "HTTP/1.1 400 Bad Request\r\n\r\n");
            QUrl url = plain.url();
            url.setScheme(QStringLiteral("wss"));
            WebSocketClient client;
            ClientSpies spies(client);
            QVERIFY(client.open(optionsFor(url)));
            QTRY_COMPARE_WITH_TIMEOUT(spies.failed.size(), 1, Patience);
            QCOMPARE(spies.failure().kind, ConnectError::TlsFailure);
        }
    }

    void tlsHostNameIsVerified()
    {
        // Trusted certificate, wrong name: host name verification must refuse it.
        const Test::TlsCert cert =
            Test::makeSelfSignedCert(QStringLiteral("gateway.example"), {QStringLiteral("gateway.example")}, {});
        QVERIFY(!cert.certificatePem.isEmpty());
        QTemporaryDir dir;
        const QString caFile = dir.filePath(QStringLiteral("ca.pem"));
        QVERIFY(Test::writePemFile(caFile, cert.certificatePem));
        TestWebSocketServer server(Test::serverSslConfiguration(cert));
        QVERIFY(server.listen());

        for (const QString &host : {QStringLiteral("127.0.0.1"), QStringLiteral("localhost")})
        {
            QUrl url = server.url();
            url.setHost(host);
            ClientOptions options = optionsFor(url);
            options.caFile = caFile;
            WebSocketClient client;
            ClientSpies spies(client);
            QVERIFY(client.open(options));
            QTRY_COMPARE_WITH_TIMEOUT(spies.failed.size(), 1, Patience);
            QCOMPARE(spies.failure().kind, ConnectError::TlsFailure);
            QVERIFY2(spies.failure().message.contains(u"mismatch"), qPrintable(spies.failure().message));
        }
    }

    void messageSizeCap()
    {
        TestWebSocketServer server;
        QVERIFY(server.listen());
        ClientOptions options = optionsFor(server.url());
        options.maxMessageSize = 1024;
        WebSocketClient client;
        ClientSpies spies(client);
        QSignalSpy serverSaw(&server, &TestWebSocketServer::clientDisconnected);
        QVERIFY(client.open(options));
        QTRY_COMPARE_WITH_TIMEOUT(spies.connected.size(), 1, Patience);

        server.broadcastText(QString(1024, u'a'));  // exactly the limit: fine
        QTRY_COMPARE_WITH_TIMEOUT(spies.text.size(), 1, Patience);
        server.broadcastText(QString(1025, u'b'));
        QTRY_COMPARE_WITH_TIMEOUT(spies.closed.size(), 1, Patience);
        const CloseInfo info = spies.closeInfo();
        QCOMPARE(info.code, quint16(1009));
        QVERIFY(info.initiatedByClient);
        QVERIFY(!info.connectionLost());
        QVERIFY(info.reason.contains(u"1024"));
        QCOMPARE(spies.text.size(), 1);
        QTRY_COMPARE_WITH_TIMEOUT(serverSaw.size(), 1, Patience);
        QCOMPARE(server.lastPeerCloseCode(), quint16(1009));
    }

    void connectionLostWithoutCloseFrame()
    {
        TestWebSocketServer server;
        server.setAbortAfterFirstMessage(true);
        QVERIFY(server.listen());
        WebSocketClient client;
        ClientSpies spies(client);
        QVERIFY(client.open(optionsFor(server.url())));
        QTRY_COMPARE_WITH_TIMEOUT(spies.connected.size(), 1, Patience);
        QVERIFY(client.sendText(QStringLiteral("bye")));
        QTRY_COMPARE_WITH_TIMEOUT(spies.closed.size(), 1, Patience);
        const CloseInfo info = spies.closeInfo();
        QVERIFY(info.connectionLost());
        QVERIFY(!info.receivedCloseFrame);
        QCOMPARE(info.code, ConnectionLostCode);
        QVERIFY(info.reason.startsWith(u"connection lost"));
    }

    void pingsKeepAnAnsweringServer()
    {
        TestWebSocketServer server;  // QWebSocketServer answers pings itself
        QVERIFY(server.listen());
        ClientOptions options = optionsFor(server.url());
        options.pingInterval = 50ms;
        options.pongTimeout = 300ms;
        WebSocketClient client;
        ClientSpies spies(client);
        QVERIFY(client.open(options));
        QTRY_COMPARE_WITH_TIMEOUT(spies.connected.size(), 1, Patience);
        QTest::qWait(1500);  // many ping/pong rounds
        QCOMPARE(spies.closed.size(), 0);
        QVERIFY(client.sendText(QStringLiteral("still here")));
        QTRY_COMPARE_WITH_TIMEOUT(spies.text.size(), 1, Patience);
    }

    void pongTimeoutDropsTheConnection()
    {
        RawServer server(RawServer::Mode::UpgradeThenIgnore);
        ClientOptions options = optionsFor(server.url());
        options.pingInterval = 100ms;
        options.pongTimeout = 400ms;
        WebSocketClient client;
        ClientSpies spies(client);
        QVERIFY(client.open(options));
        QTRY_COMPARE_WITH_TIMEOUT(spies.connected.size(), 1, Patience);
        QTRY_COMPARE_WITH_TIMEOUT(spies.closed.size(), 1, Patience);
        const CloseInfo info = spies.closeInfo();
        QVERIFY(info.connectionLost());
        QCOMPARE(info.code, ConnectionLostCode);
        QVERIFY2(info.reason.contains(u"pong timeout"), qPrintable(info.reason));
        // A masked ping frame (FIN + opcode 9) reached the server.
        QVERIFY(!server.afterUpgrade().isEmpty());
        QCOMPARE(static_cast<unsigned char>(server.afterUpgrade().at(0)), 0x89);
    }

    void clientCloseReachesServer_data()
    {
        QTest::addColumn<int>("code");
        QTest::addColumn<QString>("reason");
        QTest::addColumn<QString>("sentReason");
        QTest::newRow("normal") << 1000 << QString() << QString();
        QTest::newRow("application") << 4000 << QStringLiteral("user closed the tab")
                                     << QStringLiteral("user closed the tab");
        QTest::newRow("going away, non-ASCII") << 1001 << QStringLiteral("Tschüss") << QStringLiteral("Tschüss");
        // A close frame holds at most 123 bytes of reason: cut at a character boundary.
        QTest::newRow("long reason") << 4000 << QString(200, u'ü') << QString(61, u'ü');
    }

    void clientCloseReachesServer()
    {
        QFETCH(int, code);
        QFETCH(QString, reason);
        QFETCH(QString, sentReason);
        TestWebSocketServer server;
        QVERIFY(server.listen());
        QSignalSpy serverSaw(&server, &TestWebSocketServer::clientDisconnected);
        WebSocketClient client;
        ClientSpies spies(client);
        QVERIFY(client.open(optionsFor(server.url())));
        QTRY_COMPARE_WITH_TIMEOUT(spies.connected.size(), 1, Patience);
        QVERIFY(client.sendText(QStringLiteral("last words")));
        client.close(static_cast<quint16>(code), reason);
        QCOMPARE(client.state(), WebSocketClient::State::Closing);
        QVERIFY(!client.sendText(QStringLiteral("after close")));
        QTRY_COMPARE_WITH_TIMEOUT(spies.closed.size(), 1, Patience);
        QTRY_COMPARE_WITH_TIMEOUT(serverSaw.size(), 1, Patience);
        QCOMPARE(int(server.lastPeerCloseCode()), code);
        QCOMPARE(server.lastPeerCloseReason(), sentReason);
        QCOMPARE(server.receivedMessages(), QStringList{QStringLiteral("last words")});
        const CloseInfo info = spies.closeInfo();
        QVERIFY(info.initiatedByClient);
        QVERIFY(!info.connectionLost());
        QCOMPARE(int(info.code), code);  // the server's reply echoes our code
        QCOMPARE(client.state(), WebSocketClient::State::Closed);
    }

    void sendThenCloseFromASlotKeepsOrder()
    {
        TestWebSocketServer server;
        QVERIFY(server.listen());
        QSignalSpy serverSaw(&server, &TestWebSocketServer::clientDisconnected);
        WebSocketClient client;
        ClientSpies spies(client);
        connect(&client, &WebSocketClient::textMessageReceived, this, [&client](const QString &message) {
            if (message != u"trigger")
                return;
            client.sendText(QStringLiteral("last words"));
            client.close(4000, QStringLiteral("done"));
        });
        QVERIFY(client.open(optionsFor(server.url())));
        QTRY_COMPARE_WITH_TIMEOUT(spies.connected.size(), 1, Patience);
        QVERIFY(client.sendText(QStringLiteral("trigger")));
        QTRY_COMPARE_WITH_TIMEOUT(serverSaw.size(), 1, Patience);
        QCOMPARE(server.receivedMessages(), (QStringList{QStringLiteral("trigger"), QStringLiteral("last words")}));
        QCOMPARE(server.lastPeerCloseCode(), quint16(4000));
        QCOMPARE(server.lastPeerCloseReason(), QStringLiteral("done"));
    }

    void misuseIsHarmless()
    {
        WebSocketClient client;
        QVERIFY(!client.sendText(QStringLiteral("not open")));
        client.close();  // nothing to close
        QCOMPARE(client.state(), WebSocketClient::State::Idle);

        TestWebSocketServer server;
        QVERIFY(server.listen());
        ClientSpies spies(client);
        QVERIFY(client.open(optionsFor(server.url())));
        QVERIFY(!client.open(optionsFor(server.url())));  // one open() per object
        QTRY_COMPARE_WITH_TIMEOUT(spies.connected.size(), 1, Patience);
        QCOMPARE(server.acceptedCount(), 1);
        client.close(1005, QStringLiteral("reserved code"));  // not sendable: 1000 instead
        QTRY_COMPARE_WITH_TIMEOUT(spies.closed.size(), 1, Patience);
        QTRY_COMPARE_WITH_TIMEOUT(server.lastPeerCloseCode(), quint16(1000), Patience);
    }

    void clientsShareOneIoThread()
    {
        TestWebSocketServer server;
        QVERIFY(server.listen());
        QSignalSpy serverSaw(&server, &TestWebSocketServer::clientDisconnected);

        // The first client starts the I/O thread (and Qt whatever it starts lazily).
        {
            WebSocketClient client;
            QSignalSpy up(&client, &WebSocketClient::connected);
            QVERIFY(client.open(optionsFor(server.url())));
            QTRY_COMPARE_WITH_TIMEOUT(up.size(), 1, Patience);
        }
        QTRY_COMPARE_WITH_TIMEOUT(serverSaw.size(), 1, Patience);
        const int baseline = threadCount();

        std::vector<std::unique_ptr<WebSocketClient>> clients;
        int up = 0;
        for (int i = 0; i < 5; ++i)
        {
            clients.push_back(std::make_unique<WebSocketClient>());
            connect(clients.back().get(), &WebSocketClient::connected, this, [&up] { ++up; });
            QVERIFY(clients.back()->open(optionsFor(server.url())));
        }
        QTRY_COMPARE_WITH_TIMEOUT(up, 5, Patience);
        QCOMPARE(threadCount(), baseline);  // no thread per connection
        for (int i = 0; i < 5; ++i)
            QVERIFY(clients.at(static_cast<std::size_t>(i))->sendText(QStringLiteral("message %1").arg(i)));
        clients.clear();
        // Each one sent what it had queued, then said goodbye with 1001, after its destructor returned.
        QTRY_COMPARE_WITH_TIMEOUT(serverSaw.size(), 6, Patience);
        QCOMPARE(server.lastPeerCloseCode(), quint16(1001));
        QCOMPARE(server.lastPeerCloseReason(), QStringLiteral("client going away"));
        QCOMPARE(server.receivedMessages().size(), 5);
        QCOMPARE(threadCount(), baseline);
    }

    void destroyingWhileConnectingDropsTheConnection()
    {
        RawServer server(RawServer::Mode::Silent);
        {
            WebSocketClient client;
            QVERIFY(client.open(optionsFor(server.url())));
            QTRY_COMPARE_WITH_TIMEOUT(server.accepted(), 1, Patience);
        }
        QTRY_COMPARE_WITH_TIMEOUT(server.disconnected(), 1, Patience);
    }

    // A server that never answers the close frame: the client gives up after closeTimeout.
    void closeTimeoutEndsTheWait()
    {
        RawServer server(RawServer::Mode::UpgradeThenIgnore);
        ClientOptions options = optionsFor(server.url());
        options.closeTimeout = 300ms;
        options.pingInterval = 0ms;
        WebSocketClient client;
        ClientSpies spies(client);
        QVERIFY(client.open(options));
        QTRY_COMPARE_WITH_TIMEOUT(spies.connected.size(), 1, Patience);
        client.close(4000, QStringLiteral("bye"));
        QTRY_COMPARE_WITH_TIMEOUT(spies.closed.size(), 1, Patience);
        const CloseInfo info = spies.closeInfo();
        QVERIFY(info.initiatedByClient);
        QVERIFY(!info.receivedCloseFrame);
        QCOMPARE(info.code, quint16(4000));
        QCOMPARE(info.reason, QStringLiteral("bye"));
        QCOMPARE(closeCodeOf(firstClientFrame(server.afterUpgrade())), quint16(4000));
        QTRY_COMPARE_WITH_TIMEOUT(server.disconnected(), 1, Patience);
    }

    // The destructor does not wait for a hung server; the I/O thread says
    // goodbye and drops the connection after closeTimeout, alone.
    void destroyedClientLeavesAHungServerAlone()
    {
        RawServer server(RawServer::Mode::UpgradeThenIgnore);
        ClientOptions options = optionsFor(server.url());
        options.closeTimeout = 300ms;
        options.pingInterval = 0ms;
        {
            WebSocketClient client;
            ClientSpies spies(client);
            QVERIFY(client.open(options));
            QTRY_COMPARE_WITH_TIMEOUT(spies.connected.size(), 1, Patience);
        }
        QTRY_COMPARE_WITH_TIMEOUT(closeCodeOf(firstClientFrame(server.afterUpgrade())), quint16(1001), Patience);
        QTRY_COMPARE_WITH_TIMEOUT(server.disconnected(), 1, Patience);
    }

    void slotMayDeleteTheClient()
    {
        TestWebSocketServer server;
        server.setCloseAction(TestWebSocketServer::CloseWhen::Immediately, 1013, LockHeldReason);
        QVERIFY(server.listen());
        auto *client = new WebSocketClient;
        QPointer<WebSocketClient> guard(client);
        connect(client, &WebSocketClient::closed, this, [client](const CloseInfo &) { delete client; });
        QVERIFY(client->open(optionsFor(server.url())));
        QTRY_VERIFY_WITH_TIMEOUT(guard.isNull(), Patience);
    }
};

QTEST_GUILESS_MAIN(TestWebSocketClient)
#include "tst_websocketclient.moc"
