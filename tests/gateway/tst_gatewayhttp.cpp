#include <QJsonArray>
#include <QJsonDocument>
#include <QTest>

#include "freeport.h"
#include "gatewayprocess.h"
#include "store/runstore.h"

#include <QDeadlineTimer>
#include <QDir>
#include <QFile>
#include <QProcess>
#include <QTcpSocket>
#include <QTemporaryDir>

#include <sys/stat.h>

using namespace Lockstep;
using namespace Lockstep::Test;

// The HTTP API of a real gateway process: every endpoint, its errors and
// limits, against SQLite and PostgreSQL.
class TestGatewayHttp : public QObject
{
    Q_OBJECT

private:
    StoreBackends m_stores;
    std::unique_ptr<GatewayProcess> m_shared;  // for the rows of one data-driven test
    static constexpr int Timeout = 30000;

    std::unique_ptr<GatewayProcess> startGateway(const QString &kind, const QStringList &extra = {},
                                                 QString *storeSpec = nullptr)
    {
        const QString store = newStoreOrWarn(m_stores, kind);
        if (store.isEmpty())
            return nullptr;
        if (storeSpec)
            *storeSpec = store;
        return startGatewayOn(store, QStringList{QStringLiteral("--step-delay-scale"), QStringLiteral("0.01"),
                                                 QStringLiteral("--replica-id"), QStringLiteral("http-a")} +
                                         extra);
    }

    static HttpReply api(const GatewayProcess &gateway, const QByteArray &method, const QString &path,
                         const QByteArray &body = {})
    {
        return httpRequest(method, gateway.baseUrl() + path, gateway.token(), body);
    }

    static bool isError(const HttpReply &reply, int status, const QString &error)
    {
        if ((reply.status != status) || (reply.json.value(u"error").toString() != error) ||
            reply.json.value(u"message").toString().isEmpty())
        {
            qWarning("got %d %s", reply.status, reply.body.constData());
            return false;
        }
        return true;
    }

    // Writes `bytes` on a fresh connection and reads until the gateway closes it
    // (or 20 s pass): everything it answered.
    static QByteArray exchange(quint16 port, const QByteArray &bytes)
    {
        QTcpSocket socket;
        socket.connectToHost(QStringLiteral("127.0.0.1"), port);
        if (!socket.waitForConnected(10000))
            return {};
        socket.write(bytes);
        QByteArray answer;
        QDeadlineTimer deadline(20000);
        while (!deadline.hasExpired() && (socket.state() == QAbstractSocket::ConnectedState))
        {
            socket.waitForReadyRead(100);
            answer += socket.readAll();
        }
        return answer + socket.readAll();
    }

    static int statusOf(const QByteArray &answer)
    {
        return answer.startsWith("HTTP/1.1 ") ? answer.mid(9, 3).toInt() : 0;
    }

    static int fileMode(const QString &path)
    {
        struct stat info
        {};
        if (::stat(QFile::encodeName(path).constData(), &info) != 0)
            return -1;
        return int(info.st_mode & 07777);
    }

private slots:
    void cleanupTestCase()
    {
        m_shared.reset();
    }

    void initTestCase()
    {
        QVERIFY2(!GatewayProcess::binary().isEmpty(), "LOCKSTEP_GATEWAY_BIN");
    }

    void healthz_data()
    {
        addStoreRows();
    }
    void healthz()
    {
        QFETCH(QString, store);
        auto gateway = startGateway(store);
        QVERIFY(gateway);
        // No token needed: load balancers probe it.
        const HttpReply reply = httpRequest("GET", gateway->baseUrl() + QStringLiteral("/healthz"));
        QCOMPARE(reply.status, 200);
        QCOMPARE(reply.json.value(u"status").toString(), QStringLiteral("ok"));
        QCOMPARE(reply.json.value(u"replica").toString(), QStringLiteral("http-a"));
        QCOMPARE(reply.json.value(u"lockStore").toString(), QStringLiteral("memory"));
        QCOMPARE(reply.json.value(u"store").toString(), store);
    }

    void flowsAreListed()
    {
        // A --flows folder adds its own flows (with their descriptions) to the built-ins.
        QTemporaryDir flows;
        QVERIFY(flows.isValid());
        QFile file(flows.filePath(QStringLiteral("deploy.json")));
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write(
            R"({"description":"Ships the build to staging.","steps":[{"type":"agent","content":"Deploying."}]})");
        file.close();
        auto gateway = startGateway(QStringLiteral("sqlite"), {QStringLiteral("--flows"), flows.path()});
        QVERIFY(gateway);

        const HttpReply reply = api(*gateway, "GET", QStringLiteral("/api/v1/flows"));
        QCOMPARE(reply.status, 200);
        QHash<QString, QString> described;
        QStringList names;
        for (const QJsonValue &flow : reply.jsonArray)
        {
            names << flow.toObject().value(u"name").toString();
            described.insert(names.last(), flow.toObject().value(u"description").toString());
        }
        QCOMPARE(names, (QStringList{QStringLiteral("approval"), QStringLiteral("deploy"), QStringLiteral("failure"),
                                     QStringLiteral("hello"), QStringLiteral("long"), QStringLiteral("workspace")}));
        QCOMPARE(described.value(QStringLiteral("deploy")), QStringLiteral("Ships the build to staging."));
        for (const QString &name : std::as_const(names))
            QVERIFY2(!described.value(name).isEmpty(), qPrintable(name + QStringLiteral(" has no description")));

        // Like every /api/ route: a token, and GET only.
        QVERIFY(isError(httpRequest("GET", gateway->baseUrl() + QStringLiteral("/api/v1/flows")), 401,
                        QStringLiteral("unauthorized")));
        QVERIFY(isError(api(*gateway, "POST", QStringLiteral("/api/v1/flows"), "{}"), 405,
                        QStringLiteral("method_not_allowed")));
    }

    void workflowsLifecycle_data()
    {
        addStoreRows();
    }
    void workflowsLifecycle()
    {
        QFETCH(QString, store);
        auto gateway = startGateway(store);
        QVERIFY(gateway);

        HttpReply created =
            api(*gateway, "POST", QStringLiteral("/api/v1/workflows"), R"({"goal":"say hello","flow":"hello"})");
        QCOMPARE(created.status, 201);
        QCOMPARE(created.json.value(u"status").toString(), QStringLiteral("created"));
        const QString id = created.json.value(u"workflowID").toString();
        QVERIFY(!id.isEmpty());

        const HttpReply run = api(*gateway, "GET", QStringLiteral("/api/v1/workflows/") + id);
        QCOMPARE(run.status, 200);
        for (const char *field :
             {"workflowID", "status", "goal", "flow", "createdAt", "lastActivityAt", "completedAt", "fence"})
            QVERIFY2(run.json.contains(QLatin1StringView(field)), field);
        QCOMPARE(run.json.value(u"goal").toString(), QStringLiteral("say hello"));
        QCOMPARE(run.json.value(u"flow").toString(), QStringLiteral("hello"));
        QVERIFY(run.json.value(u"completedAt").isNull());
        QVERIFY(QDateTime::fromString(run.json.value(u"createdAt").toString(), Qt::ISODateWithMs).isValid());

        const HttpReply named = api(*gateway, "POST", QStringLiteral("/api/v1/workflows"),
                                    R"({"goal":"again","workflowID":"chosen-id.1"})");
        QCOMPARE(named.status, 201);
        QCOMPARE(named.json.value(u"workflowID").toString(), QStringLiteral("chosen-id.1"));
        QVERIFY(isError(api(*gateway, "POST", QStringLiteral("/api/v1/workflows"),
                            R"({"goal":"again","workflowID":"chosen-id.1"})"),
                        409, QStringLiteral("exists")));

        const HttpReply list = api(*gateway, "GET", QStringLiteral("/api/v1/workflows?status=created&limit=10"));
        QCOMPARE(list.status, 200);
        QCOMPARE(list.json.value(u"workflows").toArray().size(), 2);
        QCOMPARE(
            api(*gateway, "GET", QStringLiteral("/api/v1/workflows?limit=1")).json.value(u"workflows").toArray().size(),
            1);
        QCOMPARE(api(*gateway, "GET", QStringLiteral("/api/v1/workflows?status=finished"))
                     .json.value(u"workflows")
                     .toArray()
                     .size(),
                 0);

        const HttpReply chat =
            api(*gateway, "GET", QStringLiteral("/api/v1/workflows/") + id + QStringLiteral("/chat"));
        QCOMPARE(chat.status, 200);
        QVERIFY(chat.json.value(u"ui_chat_log").isArray());

        const HttpReply lock =
            api(*gateway, "GET", QStringLiteral("/api/v1/workflows/") + id + QStringLiteral("/lock"));
        QCOMPARE(lock.status, 200);
        QCOMPARE(lock.json.value(u"state").toString(), QStringLiteral("free"));

        QVERIFY(
            isError(api(*gateway, "GET", QStringLiteral("/api/v1/workflows/nope")), 404, QStringLiteral("not_found")));
        QVERIFY(isError(api(*gateway, "GET", QStringLiteral("/api/v1/workflows/nope/chat")), 404,
                        QStringLiteral("not_found")));
    }

    void cancelTwiceThenNoop_data()
    {
        addStoreRows();
    }
    void cancelTwiceThenNoop()
    {
        QFETCH(QString, store);
        auto gateway = startGateway(store);
        QVERIFY(gateway);
        QCOMPARE(api(*gateway, "POST", QStringLiteral("/api/v1/workflows"), R"({"goal":"x","workflowID":"c1"})").status,
                 201);

        const HttpReply first =
            api(*gateway, "POST", QStringLiteral("/api/v1/workflows/c1/cancel"), R"({"reason":"not needed"})");
        QCOMPARE(first.status, 200);
        QCOMPARE(first.json.value(u"outcome").toString(), QStringLiteral("cancelled"));
        QCOMPARE(first.json.value(u"status").toString(), QStringLiteral("stopped"));
        const HttpReply second = api(*gateway, "POST", QStringLiteral("/api/v1/workflows/c1/cancel"));
        QCOMPARE(second.status, 200);
        QCOMPARE(second.json.value(u"outcome").toString(), QStringLiteral("noop"));
        QCOMPARE(second.json.value(u"status").toString(), QStringLiteral("stopped"));
        const QJsonObject run = api(*gateway, "GET", QStringLiteral("/api/v1/workflows/c1")).json;
        QCOMPARE(run.value(u"reason").toString(), QStringLiteral("not needed"));
        QVERIFY(!run.value(u"completedAt").isNull());

        const HttpReply unknown = api(*gateway, "POST", QStringLiteral("/api/v1/workflows/never-made/cancel"));
        QCOMPARE(unknown.status, 404);
        QCOMPARE(unknown.json.value(u"outcome").toString(), QStringLiteral("not_found"));
    }

    void hostileIdsAreHarmless_data()
    {
        addStoreRows();
    }
    void hostileIdsAreHarmless()
    {
        QFETCH(QString, store);
        QString spec;
        auto gateway = startGateway(store, {}, &spec);
        QVERIFY(gateway);
        QCOMPARE(api(*gateway, "POST", QStringLiteral("/api/v1/workflows"), R"({"goal":"x","workflowID":"survivor"})")
                     .status,
                 201);

        const QStringList hostile{QStringLiteral("'; DROP TABLE runs; --"),
                                  QStringLiteral("\" OR 1=1 --"),
                                  QStringLiteral("a/../../etc/passwd"),
                                  QStringLiteral("x\u0000y"),
                                  QString(300, u'a'),
                                  QStringLiteral("röd")};
        for (const QString &id : hostile)
        {
            const QString encoded = QString::fromLatin1(QUrl::toPercentEncoding(id));
            const HttpReply get = api(*gateway, "GET", QStringLiteral("/api/v1/workflows/") + encoded);
            QVERIFY2((get.status == 400) || (get.status == 404), qPrintable(QString::number(get.status)));
            QVERIFY2(get.status != 400 || get.json.value(u"error").toString() == u"invalid_workflow_id",
                     get.body.constData());
            const HttpReply cancel =
                api(*gateway, "POST", QStringLiteral("/api/v1/workflows/") + encoded + QStringLiteral("/cancel"));
            QVERIFY((cancel.status == 400) || (cancel.status == 404));
            const QByteArray body = QJsonDocument(QJsonObject{{QStringLiteral("goal"), QStringLiteral("x")},
                                                              {QStringLiteral("workflowID"), id}})
                                        .toJson();
            QVERIFY(isError(api(*gateway, "POST", QStringLiteral("/api/v1/workflows"), body), 400,
                            QStringLiteral("invalid_workflow_id")));
        }
        // The tables survived and hold exactly what they held.
        const HttpReply list = api(*gateway, "GET", QStringLiteral("/api/v1/workflows"));
        QCOMPARE(list.status, 200);
        QCOMPARE(list.json.value(u"workflows").toArray().size(), 1);
        QCOMPARE(api(*gateway, "GET", QStringLiteral("/api/v1/workflows/survivor")).status, 200);
    }

    void malformedRequests_data()
    {
        QTest::addColumn<QByteArray>("method");
        QTest::addColumn<QString>("path");
        QTest::addColumn<QByteArray>("body");
        QTest::addColumn<int>("status");
        QTest::addColumn<QString>("error");
        QTest::newRow("bad json") << QByteArray("POST") << QStringLiteral("/api/v1/workflows")
                                  << QByteArray("{\"goal\":") << 400 << QStringLiteral("invalid_request");
        QTest::newRow("array body") << QByteArray("POST") << QStringLiteral("/api/v1/workflows") << QByteArray("[1]")
                                    << 400 << QStringLiteral("invalid_request");
        QTest::newRow("empty body") << QByteArray("POST") << QStringLiteral("/api/v1/workflows") << QByteArray() << 400
                                    << QStringLiteral("invalid_request");
        QTest::newRow("goal wrong type") << QByteArray("POST") << QStringLiteral("/api/v1/workflows")
                                         << QByteArray("{\"goal\":[]}") << 400 << QStringLiteral("invalid_request");
        QTest::newRow("goal missing") << QByteArray("POST") << QStringLiteral("/api/v1/workflows")
                                      << QByteArray("{\"flow\":\"hello\"}") << 400 << QStringLiteral("invalid_request");
        QTest::newRow("goal empty") << QByteArray("POST") << QStringLiteral("/api/v1/workflows")
                                    << QByteArray("{\"goal\":\"  \"}") << 400 << QStringLiteral("invalid_request");
        QTest::newRow("unknown flow") << QByteArray("POST") << QStringLiteral("/api/v1/workflows")
                                      << QByteArray("{\"goal\":\"x\",\"flow\":\"nope\"}") << 400
                                      << QStringLiteral("unknown_flow");
        QTest::newRow("flow wrong type") << QByteArray("POST") << QStringLiteral("/api/v1/workflows")
                                         << QByteArray("{\"goal\":\"x\",\"flow\":1}") << 400
                                         << QStringLiteral("invalid_request");
        QTest::newRow("bad status filter") << QByteArray("GET") << QStringLiteral("/api/v1/workflows?status=dancing")
                                           << QByteArray() << 400 << QStringLiteral("invalid_request");
        QTest::newRow("bad limit") << QByteArray("GET") << QStringLiteral("/api/v1/workflows?limit=0") << QByteArray()
                                   << 400 << QStringLiteral("invalid_request");
        QTest::newRow("cancel bad body") << QByteArray("POST") << QStringLiteral("/api/v1/workflows/x/cancel")
                                         << QByteArray("{\"reason\":5}") << 400 << QStringLiteral("invalid_request");
        QTest::newRow("wrong method") << QByteArray("DELETE") << QStringLiteral("/api/v1/workflows/x") << QByteArray()
                                      << 405 << QStringLiteral("method_not_allowed");
        QTest::newRow("get cancel") << QByteArray("GET") << QStringLiteral("/api/v1/workflows/x/cancel") << QByteArray()
                                    << 405 << QStringLiteral("method_not_allowed");
        QTest::newRow("unknown path") << QByteArray("GET") << QStringLiteral("/api/v1/nothing") << QByteArray() << 404
                                      << QStringLiteral("not_found");
        QTest::newRow("unknown leaf") << QByteArray("GET") << QStringLiteral("/api/v1/workflows/x/nothing")
                                      << QByteArray() << 404 << QStringLiteral("not_found");
    }
    void malformedRequests()
    {
        QFETCH(QByteArray, method);
        QFETCH(QString, path);
        QFETCH(QByteArray, body);
        QFETCH(int, status);
        QFETCH(QString, error);
        if (!m_shared)
            m_shared = startGateway(QStringLiteral("sqlite"));
        GatewayProcess *gateway = m_shared.get();
        QVERIFY(gateway);
        QVERIFY(isError(api(*gateway, method, path, body), status, error));
        QVERIFY(gateway->isRunning());
    }

    void authAndOrigin()
    {
        auto gateway = startGateway(QStringLiteral("sqlite"),
                                    {QStringLiteral("--allowed-origin"), QStringLiteral("https://console.example")});
        QVERIFY(gateway);
        const QString url = gateway->baseUrl() + QStringLiteral("/api/v1/workflows");
        QVERIFY(isError(httpRequest("GET", url), 401, QStringLiteral("unauthorized")));
        QVERIFY(
            isError(httpRequest("GET", url, QStringLiteral("wrong-token-000")), 401, QStringLiteral("unauthorized")));
        QCOMPARE(httpRequest("GET", url, gateway->token()).status, 200);
        QVERIFY(isError(httpRequest("GET", url, gateway->token(), {}, {{"Origin", "https://evil.example"}}), 403,
                        QStringLiteral("origin_refused")));
        QCOMPARE(httpRequest("GET", url, gateway->token(), {}, {{"Origin", "https://console.example"}}).status, 200);
        QVERIFY(!gateway->log().contains(gateway->token()));
    }

    void limitsOnTheWire()
    {
        auto gateway =
            startGateway(QStringLiteral("sqlite"), {QStringLiteral("--max-body-bytes"), QStringLiteral("2048")});
        QVERIFY(gateway);
        const QByteArray auth = "Authorization: Bearer " + gateway->token().toUtf8() + "\r\n";
        const QByteArray host = "Host: 127.0.0.1\r\n";

        // A body larger than the limit: 413 without reading it.
        RawReply big =
            rawRequest(gateway->port(), "POST /api/v1/workflows HTTP/1.1\r\n" + host + auth +
                                            "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{");
        QCOMPARE(big.status, 413);
        QVERIFY(big.raw.contains("payload_too_large"));
        // The same through a real client that sends the whole body.
        QByteArray huge = "{\"goal\":\"" + QByteArray(50000, 'x') + "\"}";
        QCOMPARE(httpRequest("POST", gateway->baseUrl() + QStringLiteral("/api/v1/workflows"), gateway->token(), huge)
                     .status,
                 413);
        // Chunked bodies: 411.
        QCOMPARE(rawRequest(gateway->port(), "POST /api/v1/workflows HTTP/1.1\r\n" + host + auth +
                                                 "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
                     .status,
                 411);
        // Garbage instead of a request line; a head without CRLF; a huge head.
        QCOMPARE(rawRequest(gateway->port(), "HELLO\r\n\r\n").status, 400);
        QCOMPARE(rawRequest(gateway->port(), "GET /healthz HTTP/1.1\nHost: x\n\n\r\n\r\n").status, 400);
        QCOMPARE(
            rawRequest(gateway->port(), "GET /healthz HTTP/1.1\r\nX: " + QByteArray(20000, 'a') + "\r\n\r\n").status,
            431);
        QCOMPARE(rawRequest(gateway->port(), "GET /healthz HTTP/2.0\r\n\r\n").status, 505);
        // Still serving.
        QCOMPARE(httpRequest("GET", gateway->baseUrl() + QStringLiteral("/healthz")).status, 200);
    }

    void tooManyConnections()
    {
        auto gateway =
            startGateway(QStringLiteral("sqlite"), {QStringLiteral("--max-connections"), QStringLiteral("3")});
        QVERIFY(gateway);
        QList<WsProbe *> held;
        for (int i = 0; i < 3; ++i)
        {
            held << new WsProbe(this);
            held.constLast()->open(gateway->webSocketUrl(), gateway->token());
        }
        QTRY_VERIFY_WITH_TIMEOUT(std::all_of(held.cbegin(), held.cend(), [](WsProbe *p) { return p->isConnected(); }),
                                 Timeout);
        const QString list = gateway->baseUrl() + QStringLiteral("/api/v1/workflows");
        QVERIFY(isError(httpRequest("GET", list, gateway->token()), 503, QStringLiteral("too_many_connections")));
        // A few slots past the cap are kept for /healthz (SPEC: served even at the cap).
        const HttpReply health = httpRequest("GET", gateway->baseUrl() + QStringLiteral("/healthz"));
        QCOMPARE(health.status, 200);
        QCOMPARE(health.json.value(u"sessions").toInt(), 3);
        qDeleteAll(held);
        QTRY_COMPARE_WITH_TIMEOUT(httpRequest("GET", list, gateway->token()).status, 200, Timeout);
    }

    // Clients without a token cannot hold connections: a head that promises a
    // body is answered 401 at once, before any body byte.
    void headWithoutTokenIs401BeforeTheBody()
    {
        auto gateway =
            startGateway(QStringLiteral("sqlite"), {QStringLiteral("--max-connections"), QStringLiteral("4")});
        QVERIFY(gateway);
        const QByteArray head = "POST /api/v1/workflows HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                "Content-Type: application/json\r\nContent-Length: 10\r\n\r\n";
        std::vector<std::unique_ptr<QTcpSocket>> clients;
        for (int i = 0; i < 4; ++i)
        {
            auto &client = clients.emplace_back(std::make_unique<QTcpSocket>());
            client->connectToHost(QStringLiteral("127.0.0.1"), gateway->port());
            QVERIFY(client->waitForConnected(10000));
            client->write(i == 3 ? QByteArray(head).replace("Host:", "Authorization: Bearer wrong-token-0\r\nHost:")
                                 : head);
            QVERIFY(client->waitForBytesWritten(10000));
        }
        for (auto &client : clients)
        {
            QByteArray answer;
            QTRY_VERIFY_WITH_TIMEOUT((answer += client->readAll()).contains("\r\n\r\n") ||
                                         client->state() != QAbstractSocket::ConnectedState,
                                     Timeout);
            QVERIFY2(answer.startsWith("HTTP/1.1 401 "), answer.constData());
            QVERIFY(answer.contains("WWW-Authenticate: Bearer"));
            QVERIFY(answer.contains("\"unauthorized\""));
        }
        clients.clear();
        QTRY_COMPARE_WITH_TIMEOUT(
            httpRequest("GET", gateway->baseUrl() + QStringLiteral("/api/v1/workflows"), gateway->token()).status, 200,
            Timeout);
    }

    // An authenticated client that does not send the body it announced is cut
    // with 408 after a few seconds.
    void incompleteBodyIs408()
    {
        auto gateway = startGateway(QStringLiteral("sqlite"));
        QVERIFY(gateway);
        const QByteArray request = "POST /api/v1/workflows HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
                                   gateway->token().toUtf8() +
                                   "\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n{\"go";
        const QByteArray answer = exchange(gateway->port(), request);
        QCOMPARE(statusOf(answer), 408);
        QVERIFY2(answer.contains("\"request_timeout\""), answer.constData());
        QCOMPARE(api(*gateway, "GET", QStringLiteral("/api/v1/workflows")).json.value(u"workflows").toArray().size(),
                 0);
    }

    // A second request on the same connection never reaches the HTTP server
    // behind the limits: refused (400) or dropped, never served.
    void pipelinedRequestIsNotServed_data()
    {
        QTest::addColumn<QByteArray>("second");
        const QByteArray auth = "Authorization: Bearer " + GatewayTestToken.toUtf8() + "\r\n";
        const QByteArray body = R"({"goal":"x","workflowID":"second"})";
        QTest::newRow("chunked") << "POST /api/v1/workflows HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth +
                                        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
                                        QByteArray::number(body.size(), 16) + "\r\n" + body + "\r\n0\r\n\r\n";
        const QByteArray big = "{\"goal\":\"" + QByteArray(50000, 'x') + "\",\"workflowID\":\"second\"}";
        QTest::newRow("over max-body-bytes")
            << "POST /api/v1/workflows HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth +
                   "Content-Type: application/json\r\nContent-Length: " + QByteArray::number(big.size()) + "\r\n\r\n" +
                   big;
    }
    void pipelinedRequestIsNotServed()
    {
        QFETCH(QByteArray, second);
        auto gateway =
            startGateway(QStringLiteral("sqlite"), {QStringLiteral("--max-body-bytes"), QStringLiteral("1024")});
        QVERIFY(gateway);
        const QByteArray firstBody = R"({"goal":"x","workflowID":"first"})";
        const QByteArray first =
            "POST /api/v1/workflows HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + gateway->token().toUtf8() +
            "\r\nContent-Type: application/json\r\nContent-Length: " + QByteArray::number(firstBody.size()) +
            "\r\n\r\n" + firstBody;

        // Both in one write, and the second a moment after the first.
        const QByteArray together = exchange(gateway->port(), first + second);
        QVERIFY2((statusOf(together) == 400) || (statusOf(together) == 201), together.constData());
        QCOMPARE(together.count("HTTP/1.1 "), 1);

        QTcpSocket socket;
        socket.connectToHost(QStringLiteral("127.0.0.1"), gateway->port());
        QVERIFY(socket.waitForConnected(10000));
        socket.write(QByteArray(first).replace("\"first\"", "\"first-2\""));
        QVERIFY(socket.waitForBytesWritten(10000));
        socket.write(second);
        QByteArray apart;
        QTRY_VERIFY_WITH_TIMEOUT((apart += socket.readAll(), socket.state() != QAbstractSocket::ConnectedState),
                                 Timeout);
        apart += socket.readAll();
        QVERIFY2((statusOf(apart) == 400) || (statusOf(apart) == 201), apart.constData());
        QCOMPARE(apart.count("HTTP/1.1 "), 1);

        QCOMPARE(api(*gateway, "GET", QStringLiteral("/api/v1/workflows/second")).status, 404);
        QVERIFY(gateway->isRunning());
    }

    // "." and ".." are path segments: a run named so could not be reached by its URL.
    void dotOnlyWorkflowIdsAreRefused()
    {
        auto gateway = startGateway(QStringLiteral("sqlite"));
        QVERIFY(gateway);
        for (const QString &id : {QStringLiteral("."), QStringLiteral(".."), QStringLiteral("...")})
        {
            const QByteArray body = QJsonDocument(QJsonObject{{QStringLiteral("goal"), QStringLiteral("x")},
                                                              {QStringLiteral("workflowID"), id}})
                                        .toJson();
            const HttpReply created = api(*gateway, "POST", QStringLiteral("/api/v1/workflows"), body);
            QVERIFY(isError(created, 400, QStringLiteral("invalid_workflow_id")));
            QVERIFY2(created.json.value(u"message").toString().contains(u"only of dots"), created.body.constData());
        }
        const RawReply get = rawRequest(
            gateway->port(), "GET /api/v1/workflows/%2E%2E%2E HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
                                 gateway->token().toUtf8() + "\r\n\r\n");
        QCOMPARE(get.status, 400);
        QVERIFY2(get.raw.contains("invalid_workflow_id"), get.raw.constData());
        QCOMPARE(api(*gateway, "GET", QStringLiteral("/api/v1/workflows")).json.value(u"workflows").toArray().size(),
                 0);
    }

    // The store and the logs are the owner's only, whatever the umask.
    void storeAndLogsArePrivate()
    {
        const mode_t previous = ::umask(022);
        GatewayProcess gateway;  // the default store: sqlite in <data-dir>
        const bool started = gateway.start({});
        ::umask(previous);
        QVERIFY2(started, qPrintable(gateway.errorString()));
        QCOMPARE(
            api(gateway, "POST", QStringLiteral("/api/v1/workflows"), R"({"goal":"x","workflowID":"private"})").status,
            201);
        const QDir data(gateway.dataDir());
        QCOMPARE(fileMode(data.path()), 0700);
        QCOMPARE(fileMode(data.filePath(QStringLiteral("logs"))), 0700);
        QCOMPARE(fileMode(data.filePath(QStringLiteral("gateway.db"))), 0600);
        QCOMPARE(fileMode(data.filePath(QStringLiteral("logs/lockstep-gateway.log"))), 0600);
        for (const QString &name : data.entryList(QDir::Files))
            QVERIFY2(fileMode(data.filePath(name)) == 0600, qPrintable(name));
    }

    void commandLine()
    {
        // Bad values: one line, exit 2.
        const QList<QStringList> bad{
            {QStringLiteral("--lock-ttl"), QStringLiteral("soon")},
            {QStringLiteral("--lock-unavailable"), QStringLiteral("maybe")},
            {QStringLiteral("--store"), QStringLiteral("mysql://x")},
            {QStringLiteral("--redis"), QStringLiteral("http://x")},
            {QStringLiteral("--allowed-origin"), QStringLiteral("not an origin")},
            {QStringLiteral("--max-message-bytes"), QStringLiteral("-1")},
            {QStringLiteral("--step-delay-scale"), QStringLiteral("fast")},
            {QStringLiteral("--tls-cert"), QStringLiteral("/nonexistent.pem")},
            {QStringLiteral("--listen"), QStringLiteral("0.0.0.0:0")},  // no token file: loopback only
            {QStringLiteral("--token-file"), QStringLiteral("/nonexistent/tokens")},
        };
        for (const QStringList &arguments : bad)
        {
            QProcess process;
            process.start(GatewayProcess::binary(), arguments);
            QVERIFY(process.waitForFinished(30000));
            QCOMPARE(process.exitCode(), 2);
            const QStringList lines =
                QString::fromUtf8(process.readAllStandardError()).split(u'\n', Qt::SkipEmptyParts);
            QStringList ours;
            for (const QString &line : lines)
            {
                if (line.startsWith(u"lockstep-gateway: "))
                    ours << line;
            }
            QVERIFY2(ours.size() == 1, qPrintable(lines.join(u" | ")));
            QVERIFY2(ours.constFirst().contains(arguments.constFirst()), qPrintable(ours.constFirst()));
        }
    }

    void generatedTokenForLoopback()
    {
        QTemporaryDir dir;
        QProcess process;
        const quint16 port = freePort();
        process.start(GatewayProcess::binary(), {QStringLiteral("--listen"), QStringLiteral("127.0.0.1:%1").arg(port),
                                                 QStringLiteral("--data-dir"), dir.path()});
        QVERIFY(process.waitForStarted());
        QByteArray out;
        QTRY_VERIFY_WITH_TIMEOUT((out += process.readAllStandardOutput()).contains("listening on"), Timeout);
        const QString tokenPath = dir.filePath(QStringLiteral("gateway.token"));
        QVERIFY2(out.contains(tokenPath.toUtf8()), out.constData());
        QFile file(tokenPath);
        QVERIFY(file.open(QIODevice::ReadOnly));
        const QString token = QString::fromUtf8(file.readAll()).trimmed();
        QVERIFY(token.size() >= 32);
        QCOMPARE(file.permissions() & (QFileDevice::ReadGroup | QFileDevice::ReadOther | QFileDevice::WriteGroup |
                                       QFileDevice::WriteOther),
                 QFileDevice::Permissions());
        QVERIFY(!out.contains(token.toUtf8()));
        QCOMPARE(httpRequest("GET", QStringLiteral("http://127.0.0.1:%1/api/v1/workflows").arg(port), token).status,
                 200);
        process.terminate();
        QVERIFY(process.waitForFinished(Timeout));
        QCOMPARE(process.exitCode(), 0);
        QVERIFY(!process.readAllStandardError().contains(token.toUtf8()));
    }
};

QTEST_GUILESS_MAIN(TestGatewayHttp)
#include "tst_gatewayhttp.moc"
