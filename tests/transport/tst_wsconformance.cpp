// WebSocketClient against a second, independent websocket implementation:
// conformance_server.py on python3-websockets (neither Beast nor Qt). The
// server sends what QWebSocketServer never does (fragmented messages, pings
// between fragments, a close frame without a code, a TCP reset in the middle
// of a frame) and reports the close code and reason it got from the client.

#include <memory>

#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QSignalSpy>
#include <QTest>

#include "clientspies.h"
#include "transport/websocketclient.h"

using namespace Lockstep::Transport;
using namespace std::chrono_literals;
using Lockstep::Test::ClientSpies;

namespace
{
    constexpr int Patience = 15000;  // ms; generous, the machine may be busy
    // Debian's interpreter: python3-websockets is installed for it, not for another python3 on PATH.
    const QString Python = QStringLiteral("/usr/bin/python3");

    // The letters a..z over and over, as the server's big_message() makes them.
    QString letters(const qsizetype size)
    {
        QString text(size, Qt::Uninitialized);
        for (qsizetype i = 0; i < size; ++i)
            text[i] = QChar(static_cast<char16_t>(u'a' + i % 26));
        return text;
    }

    class ConformanceServer
    {
    public:
        ~ConformanceServer()
        {
            m_process.kill();
            m_process.waitForFinished(5000);
        }

        QString start()
        {
            m_process.setProcessChannelMode(QProcess::ForwardedErrorChannel);
            m_process.start(Python, {QStringLiteral(LOCKSTEP_CONFORMANCE_SERVER)});
            if (!m_process.waitForStarted(10000))
                return QStringLiteral("cannot start %1: %2").arg(Python, m_process.errorString());
            while (m_process.waitForReadyRead(10000) || m_process.canReadLine())
            {
                if (!m_process.canReadLine())
                    continue;
                const QJsonObject line = QJsonDocument::fromJson(m_process.readLine()).object();
                if (line.value(QStringLiteral("event")).toString() == u"listening")
                {
                    m_port = line.value(QStringLiteral("port")).toInt();
                    qInfo("python3-websockets %s on port %d",
                          qPrintable(line.value(QStringLiteral("version")).toString()), m_port);
                    return {};
                }
            }
            return QStringLiteral("the server did not start (is python3-websockets installed? "
                                  "apt-get install python3-websockets)");
        }

        // `target`: a path, maybe with a percent-encoded query.
        QUrl url(const QString &target) const
        {
            return QUrl(QStringLiteral("ws://127.0.0.1:%1%2").arg(m_port).arg(target), QUrl::StrictMode);
        }

        // The server's report of the connection to `path`, once it has ended there.
        std::optional<QJsonObject> closedAt(const QString &path)
        {
            while (m_process.canReadLine())
                m_reports.append(QJsonDocument::fromJson(m_process.readLine()).object());
            for (qsizetype i = 0; i < m_reports.size(); ++i)
            {
                if (m_reports.at(i).value(QStringLiteral("path")).toString() == path)
                    return m_reports.takeAt(i);
            }
            return std::nullopt;
        }

    private:
        QProcess m_process;
        int m_port = 0;
        QList<QJsonObject> m_reports;
    };

    ClientOptions optionsFor(const QUrl &url)
    {
        ClientOptions options;
        options.url = url;
        options.subprotocols.clear();
        return options;
    }
}  // namespace

class TestWsConformance : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase()
    {
        const QString error = m_server.start();
        QVERIFY2(error.isEmpty(), qPrintable(error));
    }

    void echoOfEveryFrameLength_data()
    {
        QTest::addColumn<QString>("message");
        QTest::newRow("empty") << QString();
        QTest::newRow("non-ASCII") << QStringLiteral("grüße — 日本語 🚀");
        // The edges of the three payload length encodings (RFC 6455 5.2).
        for (const int size : {125, 126, 65535, 65536})
            QTest::addRow("%d bytes", size) << letters(size);
        QTest::newRow("1 MiB") << letters(1 << 20);
    }

    // The server checks the client's frames (masked, valid UTF-8) and echoes them.
    void echoOfEveryFrameLength()
    {
        QFETCH(QString, message);
        WebSocketClient client;
        ClientSpies spies(client);
        QVERIFY(client.open(optionsFor(m_server.url(QStringLiteral("/echo")))));
        QTRY_COMPARE_WITH_TIMEOUT(spies.connected.size(), 1, Patience);
        QVERIFY(client.sendText(message));
        QVERIFY(client.sendText(QStringLiteral("after")));
        QTRY_COMPARE_WITH_TIMEOUT(spies.text.size(), 2, Patience);
        QCOMPARE(spies.textAt(0), message);
        QCOMPARE(spies.textAt(1), QStringLiteral("after"));
        client.close(1000);
        QTRY_COMPARE_WITH_TIMEOUT(spies.closed.size(), 1, Patience);
        QCOMPARE(spies.closeInfo().code, quint16(1000));
        QVERIFY(spies.closeInfo().receivedCloseFrame);
        expectServerSaw(QStringLiteral("/echo"), 1000, QString());
    }

    void fragmentedMessages()
    {
        WebSocketClient client;
        ClientSpies spies(client);
        QVERIFY(client.open(optionsFor(m_server.url(QStringLiteral("/fragments")))));
        QTRY_COMPARE_WITH_TIMEOUT(spies.text.size(), 2, Patience);
        QCOMPARE(spies.textAt(0), QStringLiteral("Hello, fragmented wörld ✓"));
        QString big;
        for (int i = 0; i < 64; ++i)
            big += letters(4096);
        QCOMPARE(spies.textAt(1), big);
        client.close(1000);
        QTRY_COMPARE_WITH_TIMEOUT(spies.closed.size(), 1, Patience);
        expectServerSaw(QStringLiteral("/fragments"), 1000, QString());
    }

    // The server pings after the first and the second of three fragments and
    // counts the pongs: the client answers them in the middle of a message.
    void pingsBetweenFragments()
    {
        WebSocketClient client;
        ClientSpies spies(client);
        QVERIFY(client.open(optionsFor(m_server.url(QStringLiteral("/ping-between-fragments")))));
        QTRY_COMPARE_WITH_TIMEOUT(spies.text.size(), 2, Patience);
        QCOMPARE(spies.textAt(0), QStringLiteral("first part, second part, third part"));
        QCOMPARE(spies.textAt(1), QStringLiteral("pongs: 2"));
        client.close(1000);
        QTRY_COMPARE_WITH_TIMEOUT(spies.closed.size(), 1, Patience);
        expectServerSaw(QStringLiteral("/ping-between-fragments"), 1000, QString());
    }

    void oneMebibyteMessage()
    {
        WebSocketClient client;
        ClientSpies spies(client);
        QVERIFY(client.open(optionsFor(m_server.url(QStringLiteral("/big")))));
        QTRY_COMPARE_WITH_TIMEOUT(spies.text.size(), 1, Patience);
        QCOMPARE(spies.textAt(0).size(), 1 << 20);
        QCOMPARE(spies.textAt(0), letters(1 << 20));
        client.close(1000);
        QTRY_COMPARE_WITH_TIMEOUT(spies.closed.size(), 1, Patience);
        expectServerSaw(QStringLiteral("/big"), 1000, QString());
    }

    void closeCodes_data()
    {
        QTest::addColumn<int>("code");
        QTest::addColumn<QString>("reason");
        // Every code of SPEC.md's table, with the reasons the gateway gives.
        QTest::newRow("1000") << 1000 << QStringLiteral("finished");
        QTest::newRow("1001") << 1001 << QStringLiteral("gateway shutting down");
        QTest::newRow("1008") << 1008 << QStringLiteral("authentication failed");
        QTest::newRow("1009") << 1009 << QStringLiteral("message too big");
        QTest::newRow("1011") << 1011 << QStringLiteral("lock store unavailable");
        QTest::newRow("1013") << 1013 << QStringLiteral("Failed to acquire lock on workflow");
        QTest::newRow("4400") << 4400 << QStringLiteral("invalid request: missing workflowID");
        QTest::newRow("4404") << 4404 << QStringLiteral("workflow not found");
        QTest::newRow("4409") << 4409 << QStringLiteral("not resumable (status: finished)");
        // Beyond the table: 1012 (what QWebSocket turns into 1002), the edges of
        // the application range, a non-ASCII reason, the longest reason, no reason.
        QTest::newRow("1012") << 1012 << QStringLiteral("service restart");
        QTest::newRow("3000") << 3000 << QStringLiteral("registered range");
        QTest::newRow("4999") << 4999 << QStringLiteral("last application code");
        QTest::newRow("4409 non-ASCII") << 4409 << QStringLiteral("nicht fortsetzbar — Status: »beendet« ✓");
        QTest::newRow("123-byte reason") << 4400 << letters(123);
        QTest::newRow("1000 without reason") << 1000 << QString();
    }

    void closeCodes()
    {
        QFETCH(int, code);
        QFETCH(QString, reason);
        const QString target = QStringLiteral("/close?code=%1&reason=%2")
                                   .arg(code)
                                   .arg(QString::fromLatin1(QUrl::toPercentEncoding(reason)));
        WebSocketClient client;
        ClientSpies spies(client);
        QVERIFY(client.open(optionsFor(m_server.url(target))));
        QTRY_COMPARE_WITH_TIMEOUT(spies.closed.size(), 1, Patience);
        const CloseInfo info = spies.closeInfo();
        QVERIFY(info.receivedCloseFrame);
        QVERIFY(!info.initiatedByClient);
        QCOMPARE(int(info.code), code);
        QCOMPARE(info.reason, reason);
        QCOMPARE(spies.connected.size(), 1);
        QCOMPARE(spies.failed.size(), 0);
        QCOMPARE(spies.text.size(), 0);
        // The client's reply echoes the code (RFC 6455 5.5.1).
        const auto seen = waitForServer(QStringLiteral("/close"));
        QVERIFY(seen);
        QCOMPARE(seen->value(QStringLiteral("code")).toInt(), code);
    }

    void closeWithoutStatus()
    {
        WebSocketClient client;
        ClientSpies spies(client);
        QVERIFY(client.open(optionsFor(m_server.url(QStringLiteral("/close-no-status")))));
        QTRY_COMPARE_WITH_TIMEOUT(spies.closed.size(), 1, Patience);
        const CloseInfo info = spies.closeInfo();
        QVERIFY(info.receivedCloseFrame);
        QVERIFY(!info.initiatedByClient);
        QVERIFY(!info.connectionLost());
        QCOMPARE(info.code, quint16(1005));
        QCOMPARE(info.reason, QStringLiteral("no status"));
        QVERIFY(waitForServer(QStringLiteral("/close-no-status")));
    }

    void tcpResetInTheMiddleOfAFrame()
    {
        WebSocketClient client;
        ClientSpies spies(client);
        QVERIFY(client.open(optionsFor(m_server.url(QStringLiteral("/reset-mid-frame")))));
        QTRY_COMPARE_WITH_TIMEOUT(spies.text.size(), 1, Patience);
        QCOMPARE(spies.textAt(0), QStringLiteral("before reset"));
        QVERIFY(client.sendText(QStringLiteral("ready")));
        QTRY_COMPARE_WITH_TIMEOUT(spies.closed.size(), 1, Patience);
        const CloseInfo info = spies.closeInfo();
        QVERIFY(info.connectionLost());
        QVERIFY(!info.receivedCloseFrame);
        QCOMPARE(info.code, ConnectionLostCode);
        QVERIFY2(info.reason.startsWith(u"connection lost"), qPrintable(info.reason));
        QCOMPARE(spies.text.size(), 1);  // nothing of the half frame
        QVERIFY(waitForServer(QStringLiteral("/reset-mid-frame")));
    }

    void messageOverTheCapClosesWith1009()
    {
        ClientOptions options = optionsFor(m_server.url(QStringLiteral("/too-big?bytes=65537")));
        options.maxMessageSize = 65536;
        WebSocketClient client;
        ClientSpies spies(client);
        QVERIFY(client.open(options));
        QTRY_COMPARE_WITH_TIMEOUT(spies.closed.size(), 1, Patience);
        const CloseInfo info = spies.closeInfo();
        QCOMPARE(info.code, quint16(1009));
        QVERIFY(info.initiatedByClient);
        QCOMPARE(spies.text.size(), 0);
        const auto seen = waitForServer(QStringLiteral("/too-big"));
        QVERIFY(seen);
        QCOMPARE(seen->value(QStringLiteral("code")).toInt(), 1009);
    }

    void clientCloseReachesTheServer()
    {
        WebSocketClient client;
        ClientSpies spies(client);
        QVERIFY(client.open(optionsFor(m_server.url(QStringLiteral("/wait")))));
        QTRY_COMPARE_WITH_TIMEOUT(spies.connected.size(), 1, Patience);
        client.close(4000, QStringLiteral("tab closed ✓"));
        QTRY_COMPARE_WITH_TIMEOUT(spies.closed.size(), 1, Patience);
        const CloseInfo info = spies.closeInfo();
        QVERIFY(info.initiatedByClient);
        QVERIFY(info.receivedCloseFrame);
        QCOMPARE(info.code, quint16(4000));
        expectServerSaw(QStringLiteral("/wait"), 4000, QStringLiteral("tab closed ✓"));
    }

    // Destroying a connected client returns at once; its goodbye still reaches the server.
    void destroyedClientSaysGoodbye()
    {
        auto client = std::make_unique<WebSocketClient>();
        QSignalSpy up(client.get(), &WebSocketClient::connected);
        QVERIFY(client->open(optionsFor(m_server.url(QStringLiteral("/wait")))));
        QTRY_COMPARE_WITH_TIMEOUT(up.size(), 1, Patience);
        QVERIFY(client->sendText(QStringLiteral("last words")));
        client.reset();
        expectServerSaw(QStringLiteral("/wait"), 1001, QStringLiteral("client going away"));
    }

private:
    std::optional<QJsonObject> waitForServer(const QString &path)
    {
        std::optional<QJsonObject> seen;
        if (!QTest::qWaitFor([&] { return (seen = m_server.closedAt(path)).has_value(); }, Patience))
            return std::nullopt;
        return seen;
    }

    void expectServerSaw(const QString &path, const int code, const QString &reason)
    {
        const auto seen = waitForServer(path);
        QVERIFY2(seen, qPrintable(QStringLiteral("the server did not report the end of %1").arg(path)));
        QCOMPARE(seen->value(QStringLiteral("code")).toInt(), code);
        QCOMPARE(seen->value(QStringLiteral("reason")).toString(), reason);
    }

    ConformanceServer m_server;
};

QTEST_GUILESS_MAIN(TestWsConformance)
#include "tst_wsconformance.moc"
