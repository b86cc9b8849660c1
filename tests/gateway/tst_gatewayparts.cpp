#include <QCommandLineParser>
#include <QFile>
#include <QTemporaryDir>
#include <QTest>

#include "common/tokenauth.h"
#include "gateway/gatewayconfig.h"
#include "gateway/httphead.h"

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
        if (!parser.parse(QStringList{QStringLiteral("lockstep-gateway")} + arguments))
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
        QFile file(dir.filePath(QStringLiteral("tokens")));
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
        QVERIFY(!TokenSet::loadFile(dir.filePath(QStringLiteral("missing"))));
    }

    void generatedTokenIsPrivateAndReused()
    {
        QTemporaryDir dir;
        QString path;
        const auto first = TokenSet::ensureGenerated(dir.path(), &path);
        QVERIFY(first);
        QCOMPARE(path, dir.filePath(QStringLiteral("gateway.token")));
        QFile file(path);
        QCOMPARE(file.permissions() & ~(QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ReadUser |
                                        QFileDevice::WriteUser),
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
        QCOMPARE(normalizeOrigin(QStringLiteral("https://Console.Example:443")),
                 QStringLiteral("https://console.example"));
        QCOMPARE(normalizeOrigin(QStringLiteral("http://localhost:8080/")), QStringLiteral("http://localhost:8080"));
        QCOMPARE(normalizeOrigin(QStringLiteral("http://[::1]:3000")), QStringLiteral("http://[::1]:3000"));
        QCOMPARE(normalizeOrigin(QStringLiteral("https://a.example/path")), QString());
        QCOMPARE(normalizeOrigin(QStringLiteral("ftp://a.example")), QString());
        QCOMPARE(normalizeOrigin(QStringLiteral("null")), QString());
        QCOMPARE(normalizeOrigin(QStringLiteral("https://user:pw@a.example")), QString());
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
        const auto config = parse({QStringLiteral("--listen"),
                                   QStringLiteral("[::1]:0"),
                                   QStringLiteral("--lock-ttl"),
                                   QStringLiteral("3s"),
                                   QStringLiteral("--no-cas-guards"),
                                   QStringLiteral("--no-lock-concurrent-flows"),
                                   QStringLiteral("--lock-unavailable"),
                                   QStringLiteral("fail-open"),
                                   QStringLiteral("--allowed-origin"),
                                   QStringLiteral("https://a.example"),
                                   QStringLiteral("--allowed-origin"),
                                   QStringLiteral("http://b.example:81"),
                                   QStringLiteral("--replica-id"),
                                   QStringLiteral("r-1"),
                                   QStringLiteral("--redis"),
                                   QStringLiteral("redis://127.0.0.1:6379/2"),
                                   QStringLiteral("--store"),
                                   QStringLiteral("postgresql://u@127.0.0.1:5432/db"),
                                   QStringLiteral("--step-delay-scale"),
                                   QStringLiteral("0.5")});
        QVERIFY2(config, qPrintable(config ? QString() : config.error()));
        QCOMPARE(config->listenPort, quint16(0));
        QCOMPARE(config->lockTtl, std::chrono::milliseconds(3000));
        QVERIFY(!config->casGuards);
        QVERIFY(!config->lockConcurrentFlows);
        QVERIFY(config->lockUnavailable == LockUnavailablePolicy::FailOpen);
        QCOMPARE(config->allowedOrigins,
                 (QStringList{QStringLiteral("https://a.example"), QStringLiteral("http://b.example:81")}));
        QCOMPARE(config->replicaId, QStringLiteral("r-1"));
        QCOMPARE(config->stepDelayScale, 0.5);
    }

    void commandLineRefusals_data()
    {
        QTest::addColumn<QStringList>("arguments");
        QTest::addColumn<QString>("mentions");
        QTest::newRow("listen") << QStringList{QStringLiteral("--listen"), QStringLiteral("nowhere")}
                                << QStringLiteral("--listen");
        QTest::newRow("ttl") << QStringList{QStringLiteral("--lock-ttl"), QStringLiteral("0s")}
                             << QStringLiteral("--lock-ttl");
        QTest::newRow("ttl too short") << QStringList{QStringLiteral("--lock-ttl"), QStringLiteral("100ms")}
                                       << QStringLiteral("--lock-ttl");
        QTest::newRow("deadline") << QStringList{QStringLiteral("--workflow-deadline"), QStringLiteral("later")}
                                  << QStringLiteral("--workflow-deadline");
        QTest::newRow("stale") << QStringList{QStringLiteral("--stale-after"), QStringLiteral("-1")}
                               << QStringLiteral("--stale-after");
        QTest::newRow("policy") << QStringList{QStringLiteral("--lock-unavailable"), QStringLiteral("fail-maybe")}
                                << QStringLiteral("--lock-unavailable");
        QTest::newRow("store") << QStringList{QStringLiteral("--store"), QStringLiteral("oracle://x")}
                               << QStringLiteral("--store");
        QTest::newRow("redis") << QStringList{QStringLiteral("--redis"), QStringLiteral("redis://")}
                               << QStringLiteral("--redis");
        QTest::newRow("origin") << QStringList{QStringLiteral("--allowed-origin"), QStringLiteral("*")}
                                << QStringLiteral("--allowed-origin");
        QTest::newRow("replica") << QStringList{QStringLiteral("--replica-id"), QStringLiteral("has space")}
                                 << QStringLiteral("--replica-id");
        QTest::newRow("tls half") << QStringList{QStringLiteral("--tls-cert"), QStringLiteral("a.pem")}
                                  << QStringLiteral("--tls-");
        QTest::newRow("message bytes") << QStringList{QStringLiteral("--max-message-bytes"), QStringLiteral("10")}
                                       << QStringLiteral("--max-message-bytes");
        QTest::newRow("rate") << QStringList{QStringLiteral("--max-messages-per-second"), QStringLiteral("0")}
                              << QStringLiteral("--max-messages-per-second");
        QTest::newRow("connections") << QStringList{QStringLiteral("--max-connections"), QStringLiteral("x")}
                                     << QStringLiteral("--max-connections");
        QTest::newRow("scale") << QStringList{QStringLiteral("--step-delay-scale"), QStringLiteral("nan")}
                               << QStringLiteral("--step-delay-scale");
        QTest::newRow("poll") << QStringList{QStringLiteral("--poll-interval"), QStringLiteral("2h")}
                              << QStringLiteral("--poll-interval");
        QTest::newRow("agent expiry") << QStringList{QStringLiteral("--agent-expiry"), QStringLiteral("100ms")}
                                      << QStringLiteral("--agent-expiry");
        QTest::newRow("agent expiry word") << QStringList{QStringLiteral("--agent-expiry"), QStringLiteral("soon")}
                                           << QStringLiteral("--agent-expiry");
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
