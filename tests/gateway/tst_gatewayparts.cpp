#include <QCommandLineParser>
#include <QFile>
#include <QTemporaryDir>
#include <QTest>

#include "gateway/gatewayconfig.h"
#include "gateway/httphead.h"
#include "gateway/tokenauth.h"

using namespace Lockstep;
using namespace Lockstep::Gateway;

// The gateway's small pieces in-process: the request-head parser of the front
// door, tokens (file, generated, constant-time check, where a client puts
// them), origins and the command line.
class TestGatewayParts : public QObject
{
    Q_OBJECT

private:
    static Result<GatewayConfig, QString> parse(const QStringList &arguments)
    {
        QCommandLineParser parser;
        addCommandLineOptions(parser);
        if (!parser.parse(QStringList {u"lockstep-gateway"_qs} + arguments))
            return unexpected(parser.errorText());
        return configFromCommandLine(parser);
    }

private slots:
    void headParsesARequest()
    {
        const QByteArray request = "GET /api/v1/ws?x=1 HTTP/1.1\r\nHost: a\r\nUpgrade: WebSocket\r\n"
                                   "Connection: keep-alive, Upgrade\r\nX-Twice: 1\r\nx-twice: 2\r\n\r\nBODY";
        const HeadParse parsed = parseRequestHead(request);
        const auto *head = std::get_if<RequestHead>(&parsed);
        QVERIFY(head);
        QCOMPARE(head->method, QByteArray("GET"));
        QCOMPARE(head->target, QByteArray("/api/v1/ws?x=1"));
        QCOMPARE(head->path, QByteArray("/api/v1/ws"));
        QCOMPARE(head->size, request.indexOf("BODY"));
        QCOMPARE(head->value("x-twice"), QByteArray("1, 2"));
        QVERIFY(head->isWebSocketUpgrade());
        QVERIFY(!head->has("content-length"));
    }

    void headWaitsForTheBlankLine()
    {
        QVERIFY(std::holds_alternative<HeadIncomplete>(parseRequestHead("GET / HTTP/1.1\r\nHost: a\r\n")));
        QVERIFY(std::holds_alternative<HeadIncomplete>(parseRequestHead("")));
    }

    void headRefusesMalformedInput_data()
    {
        QTest::addColumn<QByteArray>("request");
        QTest::addColumn<int>("status");
        QTest::newRow("bare LF") << QByteArray("GET / HTTP/1.1\nHost: a\n\r\n\r\n") << 400;
        QTest::newRow("no version") << QByteArray("GET /\r\n\r\n") << 400;
        QTest::newRow("relative target") << QByteArray("GET x HTTP/1.1\r\n\r\n") << 400;
        QTest::newRow("http/2") << QByteArray("GET / HTTP/2.0\r\n\r\n") << 505;
        QTest::newRow("folded header") << QByteArray("GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n") << 400;
        QTest::newRow("no colon") << QByteArray("GET / HTTP/1.1\r\nAb\r\n\r\n") << 400;
        QTest::newRow("space in name") << QByteArray("GET / HTTP/1.1\r\nA b: c\r\n\r\n") << 400;
        QTest::newRow("control char") << QByteArray("GET / HTTP/1.1\r\nA: b\x01\r\n\r\n") << 400;
        QTest::newRow("huge head") << (QByteArray("GET / HTTP/1.1\r\nA: ") + QByteArray(20000, 'x')) << 431;
        QByteArray many = "GET / HTTP/1.1\r\n";
        for (int i = 0; i < 150; ++i)
            many += "H" + QByteArray::number(i) + ": v\r\n";
        QTest::newRow("too many headers") << (many + "\r\n") << 431;
    }
    void headRefusesMalformedInput()
    {
        QFETCH(QByteArray, request);
        QFETCH(int, status);
        const HeadParse parsed = parseRequestHead(request);
        const auto *error = std::get_if<HeadError>(&parsed);
        QVERIFY(error);
        QCOMPARE(error->httpStatus, status);
        QVERIFY(!error->reason.isEmpty());
    }

    void tokensFromAFile()
    {
        QTemporaryDir dir;
        QFile file(dir.filePath(u"tokens"_qs));
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write("# comment\n\n  first-token-1234  \nsecond-token-5678\n");
        file.close();
        const auto tokens = TokenSet::loadFile(file.fileName());
        QVERIFY(tokens);
        QCOMPARE(tokens->size(), 2);
        QVERIFY(tokens->accepts("first-token-1234"));
        QVERIFY(tokens->accepts("second-token-5678"));
        QVERIFY(!tokens->accepts("first-token-123"));
        QVERIFY(!tokens->accepts(""));
        QVERIFY(!tokens->accepts("first-token-1234 "));

        QVERIFY(file.open(QIODevice::WriteOnly | QIODevice::Truncate));
        file.write("# nothing here\n");
        file.close();
        QVERIFY(!TokenSet::loadFile(file.fileName()));
        QVERIFY(file.open(QIODevice::WriteOnly | QIODevice::Truncate));
        file.write("has spaces in it\n");
        file.close();
        const auto bad = TokenSet::loadFile(file.fileName());
        QVERIFY(!bad);
        QVERIFY2(!bad.error().contains(u"spaces"), "the error must not echo the token");
        QVERIFY(!TokenSet::loadFile(dir.filePath(u"missing"_qs)));
    }

    void generatedTokenIsPrivateAndReused()
    {
        QTemporaryDir dir;
        QString path;
        const auto first = TokenSet::ensureGenerated(dir.path(), &path);
        QVERIFY(first);
        QCOMPARE(path, dir.filePath(u"gateway.token"_qs));
        QFile file(path);
        QCOMPARE(file.permissions() & ~(QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ReadUser | QFileDevice::WriteUser),
                 QFileDevice::Permissions());
        QVERIFY(file.open(QIODevice::ReadOnly));
        const QByteArray token = file.readAll().trimmed();
        file.close();
        QVERIFY(first->accepts(token));
        // Reused while private.
        const auto again = TokenSet::ensureGenerated(dir.path(), &path);
        QVERIFY(again && again->accepts(token));
        // Made readable by others: replaced.
        QVERIFY(file.setPermissions(file.permissions() | QFileDevice::ReadOther));
        const auto replaced = TokenSet::ensureGenerated(dir.path(), &path);
        QVERIFY(replaced && !replaced->accepts(token));
    }

    void presentedTokenPlaces()
    {
        QCOMPARE(presentedToken("Bearer abc-12345678", ""), QByteArray("abc-12345678"));
        QCOMPARE(presentedToken("bearer   abc-12345678 ", ""), QByteArray("abc-12345678"));
        QCOMPARE(presentedToken("Basic Zm9vOmJhcg==", ""), QByteArray());
        QCOMPARE(presentedToken("", "lockstep.v1, bearer.abc-12345678"), QByteArray("abc-12345678"));
        QCOMPARE(presentedToken("", "lockstep.v1"), QByteArray());
        QCOMPARE(presentedToken("", "bearer."), QByteArray());
    }

    void origins()
    {
        QCOMPARE(normalizeOrigin(u"https://Console.Example:443"_qs), u"https://console.example"_qs);
        QCOMPARE(normalizeOrigin(u"http://localhost:8080/"_qs), u"http://localhost:8080"_qs);
        QCOMPARE(normalizeOrigin(u"http://[::1]:3000"_qs), u"http://[::1]:3000"_qs);
        QCOMPARE(normalizeOrigin(u"https://a.example/path"_qs), QString());
        QCOMPARE(normalizeOrigin(u"ftp://a.example"_qs), QString());
        QCOMPARE(normalizeOrigin(u"null"_qs), QString());
        QCOMPARE(normalizeOrigin(u"https://user:pw@a.example"_qs), QString());
    }

    void commandLineDefaults()
    {
        const auto config = parse({});
        QVERIFY2(config, qPrintable(config ? QString() : config.error()));
        QCOMPARE(config->listenPort, quint16(8080));
        QVERIFY(config->listenAddress.isLoopback());
        QCOMPARE(config->lockTtl, std::chrono::milliseconds(30000));
        QCOMPARE(config->workflowDeadline, std::chrono::milliseconds(300000));
        QCOMPARE(config->staleAfter, std::chrono::milliseconds(90000));
        QVERIFY(config->lockConcurrentFlows);
        QVERIFY(config->casGuards);
        QVERIFY(config->lockUnavailable == LockUnavailablePolicy::FailClosed);
        QCOMPARE(config->maxMessageBytes, qint64(1024 * 1024));
        QVERIFY(config->storeSpec.isEmpty());
        QVERIFY(!config->replicaId.isEmpty());
    }

    void commandLineValues()
    {
        const auto config = parse({u"--listen"_qs, u"[::1]:0"_qs, u"--lock-ttl"_qs, u"3s"_qs, u"--no-cas-guards"_qs,
                                   u"--no-lock-concurrent-flows"_qs, u"--lock-unavailable"_qs, u"fail-open"_qs,
                                   u"--allowed-origin"_qs, u"https://a.example"_qs, u"--allowed-origin"_qs, u"http://b.example:81"_qs,
                                   u"--replica-id"_qs, u"r-1"_qs, u"--redis"_qs, u"redis://127.0.0.1:6379/2"_qs,
                                   u"--store"_qs, u"postgresql://u@127.0.0.1:5432/db"_qs, u"--step-delay-scale"_qs, u"0.5"_qs});
        QVERIFY2(config, qPrintable(config ? QString() : config.error()));
        QCOMPARE(config->listenPort, quint16(0));
        QCOMPARE(config->lockTtl, std::chrono::milliseconds(3000));
        QVERIFY(!config->casGuards);
        QVERIFY(!config->lockConcurrentFlows);
        QVERIFY(config->lockUnavailable == LockUnavailablePolicy::FailOpen);
        QCOMPARE(config->allowedOrigins, (QStringList {u"https://a.example"_qs, u"http://b.example:81"_qs}));
        QCOMPARE(config->replicaId, u"r-1"_qs);
        QCOMPARE(config->stepDelayScale, 0.5);
    }

    void commandLineRefusals_data()
    {
        QTest::addColumn<QStringList>("arguments");
        QTest::addColumn<QString>("mentions");
        QTest::newRow("listen") << QStringList {u"--listen"_qs, u"nowhere"_qs} << u"--listen"_qs;
        QTest::newRow("ttl") << QStringList {u"--lock-ttl"_qs, u"0s"_qs} << u"--lock-ttl"_qs;
        QTest::newRow("ttl too short") << QStringList {u"--lock-ttl"_qs, u"100ms"_qs} << u"--lock-ttl"_qs;
        QTest::newRow("deadline") << QStringList {u"--workflow-deadline"_qs, u"later"_qs} << u"--workflow-deadline"_qs;
        QTest::newRow("stale") << QStringList {u"--stale-after"_qs, u"-1"_qs} << u"--stale-after"_qs;
        QTest::newRow("policy") << QStringList {u"--lock-unavailable"_qs, u"fail-maybe"_qs} << u"--lock-unavailable"_qs;
        QTest::newRow("store") << QStringList {u"--store"_qs, u"oracle://x"_qs} << u"--store"_qs;
        QTest::newRow("redis") << QStringList {u"--redis"_qs, u"redis://"_qs} << u"--redis"_qs;
        QTest::newRow("origin") << QStringList {u"--allowed-origin"_qs, u"*"_qs} << u"--allowed-origin"_qs;
        QTest::newRow("replica") << QStringList {u"--replica-id"_qs, u"has space"_qs} << u"--replica-id"_qs;
        QTest::newRow("tls half") << QStringList {u"--tls-cert"_qs, u"a.pem"_qs} << u"--tls-"_qs;
        QTest::newRow("message bytes") << QStringList {u"--max-message-bytes"_qs, u"10"_qs} << u"--max-message-bytes"_qs;
        QTest::newRow("rate") << QStringList {u"--max-messages-per-second"_qs, u"0"_qs} << u"--max-messages-per-second"_qs;
        QTest::newRow("connections") << QStringList {u"--max-connections"_qs, u"x"_qs} << u"--max-connections"_qs;
        QTest::newRow("scale") << QStringList {u"--step-delay-scale"_qs, u"nan"_qs} << u"--step-delay-scale"_qs;
        QTest::newRow("poll") << QStringList {u"--poll-interval"_qs, u"2h"_qs} << u"--poll-interval"_qs;
        QTest::newRow("agent expiry") << QStringList {u"--agent-expiry"_qs, u"100ms"_qs} << u"--agent-expiry"_qs;
        QTest::newRow("agent expiry word") << QStringList {u"--agent-expiry"_qs, u"soon"_qs} << u"--agent-expiry"_qs;
    }
    void commandLineRefusals()
    {
        QFETCH(QStringList, arguments);
        QFETCH(QString, mentions);
        const auto config = parse(arguments);
        QVERIFY(!config);
        QVERIFY2(config.error().contains(mentions), qPrintable(config.error()));
        QVERIFY(!config.error().contains(u'\n'));
    }
};

QTEST_GUILESS_MAIN(TestGatewayParts)
#include "tst_gatewayparts.moc"
