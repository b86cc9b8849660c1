#include <csignal>

#include <QDeadlineTimer>
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QSignalSpy>
#include <QSslCertificate>
#include <QSslConfiguration>
#include <QTcpSocket>
#include <QTest>
#include <QWebSocket>
#include <QWebSocketHandshakeOptions>

#include "gatewayprocess.h"
#include "protocol/closecode.h"
#include "protocol/runstatus.h"
#include "store/runstore.h"
#include "tlscert.h"

using namespace Lockstep;
using namespace Lockstep::Test;

// Websocket sessions of a real gateway process: driving and subscribing,
// snapshots and deltas, protocol errors, limits, auth, origin, shutdown.
class TestGatewaySessions : public QObject
{
    Q_OBJECT

private:
    StoreBackends m_stores;
    std::unique_ptr<GatewayProcess> m_shared;  // for the rows of one data-driven test
    QTemporaryDir m_flowsDir;

    static constexpr int Timeout = 30000;

    // A gateway on a fresh store of the row's kind; flows sped up 100x.
    std::unique_ptr<GatewayProcess> startGateway(const QString &kind, const QStringList &extra = {},
                                                 QString *storeSpec = nullptr)
    {
        const QString store = newStoreOrWarn(m_stores, kind);
        if (storeSpec)
            *storeSpec = store;
        return startGatewayOn(store, fastFlowArguments(m_flowsDir.path()) + extra);
    }

    static QList<QJsonObject> getChat(const GatewayProcess &gateway, const QString &id)
    {
        const HttpReply reply =
            httpRequest("GET", gateway.baseUrl() + u"/api/v1/workflows/" + id + u"/chat", gateway.token());
        QList<QJsonObject> log;
        for (const QJsonValue &entry : reply.json.value(u"ui_chat_log").toArray())
            log << entry.toObject();
        return log;
    }

    static bool strictlyIncreasing(const QList<qint64> &values)
    {
        for (qsizetype i = 1; i < values.size(); ++i)
        {
            if (values.at(i) <= values.at(i - 1))
                return false;
        }
        return true;
    }

    void writeFlow(const QString &name, const QJsonArray &steps)
    {
        QVERIFY(writeFlowFile(m_flowsDir.path(), name, steps));
    }

private slots:
    void cleanupTestCase()
    {
        m_shared.reset();
    }

    void initTestCase()
    {
        QVERIFY2(!GatewayProcess::binary().isEmpty(), "LOCKSTEP_GATEWAY_BIN");
        QVERIFY(m_flowsDir.isValid());
        // "slow": many short waits between agent messages, so a run stays
        // `running` long enough to be interrupted (100 x 2 s, scaled by 0.01: 2 s).
        writeFlow(QStringLiteral("slow"), agentSteps(100, 2000));
        // About 30 s of `running`: for tests that interrupt a run and must not see it end.
        writeFlow(QStringLiteral("glacial"), agentSteps(100, 30000));
    }

    void helloTurnStreamsDeltas_data()
    {
        addStoreRows();
    }
    void helloTurnStreamsDeltas()
    {
        QFETCH(QString, store);
        auto gateway = startGateway(store);
        QVERIFY(gateway);

        WsProbe driver;
        driver.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(driver.sendJson(WsProbe::startRequest(QStringLiteral("hello-1"),
                                                      QStringLiteral("Create a file called hello.sh that prints hello"),
                                                      QStringLiteral("hello"))));
        QTRY_VERIFY_WITH_TIMEOUT(driver.isClosed(), Timeout);
        QVERIFY(driver.closeInfo().receivedCloseFrame);
        QCOMPARE(driver.closeInfo().code, quint16(1000));
        QCOMPARE(driver.closeInfo().reason, QStringLiteral("input_required"));

        QVERIFY(driver.sawRunStatus(RunStatus::Running));
        QVERIFY(driver.lastRunStatus() == RunStatus::InputRequired);
        const QList<qint64> seqs = driver.seqs();
        QVERIFY(!seqs.isEmpty());
        QVERIFY2(strictlyIncreasing(seqs), "seq values must strictly increase");
        // The deltas rebuild exactly the stored chat log.
        const QList<QJsonObject> stored = getChat(*gateway, QStringLiteral("hello-1"));
        QVERIFY(stored.size() >= 4);  // user message, agent, tool, agent
        QCOMPARE(driver.reconstructedLog(), stored);
        // Each delta only carries new or changed entries: never the same version twice.
        const QList<QJsonObject> delivered = driver.deliveredEntries();
        for (qsizetype i = 0; i < delivered.size(); ++i)
            for (qsizetype j = i + 1; j < delivered.size(); ++j)
                QVERIFY2(delivered.at(i) != delivered.at(j), "an entry version was delivered twice");
        QCOMPARE(runOf(*gateway, QStringLiteral("hello-1")).value(u"status").toString(),
                 QStringLiteral("input_required"));
    }

    void subscriberReconnectsWithoutGapsOrDuplicates_data()
    {
        addStoreRows();
    }
    void subscriberReconnectsWithoutGapsOrDuplicates()
    {
        QFETCH(QString, store);
        auto gateway = startGateway(store);
        QVERIFY(gateway);

        WsProbe driver;
        driver.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(driver.sendJson(
            WsProbe::startRequest(QStringLiteral("slow-sub"), QStringLiteral("go slowly"), QStringLiteral("slow"))));
        QTRY_VERIFY_WITH_TIMEOUT(driver.sawRunStatus(RunStatus::Running), Timeout);

        // First subscription: take a few deltas, then drop it.
        auto first = std::make_unique<WsProbe>();
        first->open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(first->sendJson(WsProbe::subscribe(QStringLiteral("slow-sub"))));
        QTRY_VERIFY_WITH_TIMEOUT(first->seqs().size() >= 3, Timeout);
        first->close();
        QTRY_VERIFY_WITH_TIMEOUT(first->isClosed(), Timeout);
        const qint64 lastSeen = first->seqs().constLast();

        // Meanwhile the run goes on; the second subscription resumes after lastSeen.
        QTRY_VERIFY_WITH_TIMEOUT(
            runOf(*gateway, QStringLiteral("slow-sub")).value(u"lastSeq").toInteger() > lastSeen + 3, Timeout);
        WsProbe second;
        second.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(second.sendJson(WsProbe::subscribe(QStringLiteral("slow-sub"), lastSeen)));
        QTRY_VERIFY_WITH_TIMEOUT(driver.isClosed(), Timeout);
        QTRY_VERIFY_WITH_TIMEOUT(second.lastRunStatus() == RunStatus::InputRequired, Timeout);

        QList<qint64> seqs = first->seqs();
        seqs << second.seqs();
        QVERIFY2(strictlyIncreasing(seqs), "seq must strictly increase across the reconnect");
        // No duplicates: nothing the first connection had comes again.
        const QList<QJsonObject> before = first->deliveredEntries();
        for (const QJsonObject &entry : second.deliveredEntries())
            QVERIFY2(!before.contains(entry), "an entry was delivered again after the reconnect");
        // No gaps: both together rebuild the stored log.
        QList<QJsonObject> all = first->deliveredEntries();
        all << second.deliveredEntries();
        QHash<QString, QJsonObject> latest;
        for (const QJsonObject &entry : all)
            latest.insert(entry.value(u"message_id").toString(), entry);
        const QList<QJsonObject> stored = getChat(*gateway, QStringLiteral("slow-sub"));
        QCOMPARE(latest.size(), stored.size());
        for (const QJsonObject &entry : stored)
            QCOMPARE(latest.value(entry.value(u"message_id").toString()), entry);
    }

    void unknownWorkflowIs4404_data()
    {
        addStoreRows();
    }
    void unknownWorkflowIs4404()
    {
        QFETCH(QString, store);
        auto gateway = startGateway(store);
        QVERIFY(gateway);

        WsProbe subscriber;
        subscriber.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(subscriber.sendJson(WsProbe::subscribe(QStringLiteral("no-such-run"))));
        QTRY_VERIFY_WITH_TIMEOUT(subscriber.isClosed(), Timeout);
        QCOMPARE(subscriber.closeInfo().code, quint16(4404));

        // An empty goal means "resume": there is nothing to resume.
        WsProbe resumer;
        resumer.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(resumer.sendJson(WsProbe::startRequest(QStringLiteral("no-such-run"), QString())));
        QTRY_VERIFY_WITH_TIMEOUT(resumer.isClosed(), Timeout);
        QCOMPARE(resumer.closeInfo().code, quint16(4404));
        QCOMPARE(runOf(*gateway, QStringLiteral("no-such-run")).value(u"error").toString(),
                 QStringLiteral("not_found"));
    }

    void protocolErrorsClose4400_data()
    {
        QTest::addColumn<QString>("frame");
        QTest::addColumn<QString>("mentions");
        QTest::newRow("not json") << QStringLiteral("hello there") << QStringLiteral("invalid JSON");
        QTest::newRow("array") << QStringLiteral("[1,2]") << QStringLiteral("not an object");
        QTest::newRow("empty object") << QStringLiteral("{}") << QStringLiteral("");
        QTest::newRow("unknown kind") << QStringLiteral("{\"launchMissiles\":{}}") << QStringLiteral("launchMissiles");
        QTest::newRow("missing workflowID")
            << QStringLiteral("{\"startRequest\":{\"goal\":\"x\"}}") << QStringLiteral("workflowID");
        QTest::newRow("wrong type") << QStringLiteral("{\"subscribe\":{\"workflowID\":42}}")
                                    << QStringLiteral("workflowID");
        QTest::newRow("sql in id") << QStringLiteral("{\"subscribe\":{\"workflowID\":\"'; DROP TABLE runs; --\"}}")
                                   << QStringLiteral("workflowID");
        QTest::newRow("heartbeat first") << QStringLiteral("{\"heartbeat\":{\"timestamp\":1}}")
                                         << QStringLiteral("first message");
        QTest::newRow("bad afterSeq") << QStringLiteral("{\"subscribe\":{\"workflowID\":\"a\",\"afterSeq\":\"x\"}}")
                                      << QStringLiteral("afterSeq");
        QTest::newRow("flow not a string")
            << QStringLiteral(
                   "{\"startRequest\":{\"workflowID\":\"a\",\"goal\":\"x\",\"workflowMetadata\":\"{\\\"flow\\\":5}\"}}")
            << QStringLiteral("flow");
        QTest::newRow("unknown flow")
            << QStringLiteral(
                   "{\"startRequest\":{\"workflowID\":\"a\",\"goal\":\"x\",\"workflowMetadata\":\"{\\\"flow\\\":\\\"nope\\\"}\"}}")
            << QStringLiteral("nope");
        // "." and ".." name no run by URL: refused (the rule is in the reason).
        QTest::newRow("dot id") << QStringLiteral("{\"startRequest\":{\"workflowID\":\".\",\"goal\":\"x\"}}")
                                << QStringLiteral("only of dots");
        QTest::newRow("dots id") << QStringLiteral("{\"subscribe\":{\"workflowID\":\"..\"}}")
                                 << QStringLiteral("only of dots");
    }
    void protocolErrorsClose4400()
    {
        QFETCH(QString, frame);
        QFETCH(QString, mentions);
        if (!m_shared)
            m_shared = startGateway(QStringLiteral("sqlite"));
        GatewayProcess *gateway = m_shared.get();
        QVERIFY(gateway);

        WsProbe probe;
        probe.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(probe.sendText(frame));
        QTRY_VERIFY_WITH_TIMEOUT(probe.isClosed(), Timeout);
        QVERIFY(probe.closeInfo().receivedCloseFrame);
        QCOMPARE(probe.closeInfo().code, quint16(4400));
        QVERIFY2(!probe.closeInfo().reason.isEmpty(), "a readable reason");
        QVERIFY2(probe.closeInfo().reason.contains(mentions), qPrintable(probe.closeInfo().reason));
        // Nothing was created by a refused request, and the tables are intact.
        const HttpReply list =
            httpRequest("GET", gateway->baseUrl() + QStringLiteral("/api/v1/workflows"), gateway->token());
        QCOMPARE(list.status, 200);
        QVERIFY(list.json.value(u"workflows").toArray().isEmpty());
    }

    // startRequest with an approval answering the request entry `requestId` ("" goal).
    static QJsonObject approvalRequest(const QString &workflowId, const QString &decision, const QString &requestId)
    {
        QJsonObject message = WsProbe::startRequest(workflowId, QString());
        QJsonObject body = message.value(u"startRequest").toObject();
        body.insert(QStringLiteral("approval"),
                    QJsonObject{{QStringLiteral("decision"), decision}, {QStringLiteral("requestID"), requestId}});
        return QJsonObject{{QStringLiteral("startRequest"), body}};
    }

    // Drives `message` on a fresh session until it closes; the close code and reason.
    static std::pair<quint16, QString> driveOnce(const GatewayProcess &gateway, const QJsonObject &message)
    {
        WsProbe driver;
        driver.open(gateway.webSocketUrl(), gateway.token());
        if (!driver.sendJson(message) || !QTest::qWaitFor([&driver] { return driver.isClosed(); }, Timeout))
            return {0, QStringLiteral("no close")};
        return {driver.closeInfo().code, driver.closeInfo().reason};
    }

    static QStringList idsOf(const QList<QJsonObject> &log)
    {
        QStringList ids;
        for (const QJsonObject &entry : log)
            ids << entry.value(u"message_id").toString();
        return ids;
    }

    void approvalContinuesOrEndsTheTurn_data()
    {
        addStoreRows();
    }
    void approvalContinuesOrEndsTheTurn()
    {
        QFETCH(QString, store);
        auto gateway = startGateway(store);
        QVERIFY(gateway);
        using Reply = std::pair<quint16, QString>;

        // The approval flow stops at its request: the entry every client shows buttons for.
        QCOMPARE(driveOnce(*gateway, WsProbe::startRequest(QStringLiteral("appr-yes"), QStringLiteral("greet"),
                                                           QStringLiteral("approval"))),
                 Reply(1000, QStringLiteral("plan_approval_required")));
        QList<QJsonObject> log = getChat(*gateway, QStringLiteral("appr-yes"));
        QVERIFY(!log.isEmpty());
        QCOMPARE(log.last().value(u"message_type").toString(), QStringLiteral("request"));
        const QString requestId = log.last().value(u"message_id").toString();
        QCOMPARE(requestId, QStringLiteral("t1-s1"));

        // Not the pending request: refused, nothing written.
        const Reply wrong = driveOnce(
            *gateway, approvalRequest(QStringLiteral("appr-yes"), QStringLiteral("approved"), QStringLiteral("t1-s0")));
        QCOMPARE(wrong.first, quint16(4400));
        QVERIFY2(wrong.second.contains(u"pending request is t1-s1"), qPrintable(wrong.second));
        QCOMPARE(getChat(*gateway, QStringLiteral("appr-yes")).size(), log.size());
        // Malformed: refused before any lock.
        const Reply malformed =
            driveOnce(*gateway, approvalRequest(QStringLiteral("appr-yes"), QStringLiteral("maybe"), requestId));
        QCOMPARE(malformed.first, quint16(4400));
        QVERIFY2(malformed.second.contains(u"decision"), qPrintable(malformed.second));

        // Approved: the decision is in the log, then the rest of the plan runs.
        QCOMPARE(
            driveOnce(*gateway, approvalRequest(QStringLiteral("appr-yes"), QStringLiteral("approved"), requestId)),
            Reply(1000, QStringLiteral("finished")));
        log = getChat(*gateway, QStringLiteral("appr-yes"));
        const QStringList ids = idsOf(log);
        const qsizetype decision = ids.indexOf(QStringLiteral("t1-s1-decision"));
        QVERIFY2(decision > ids.indexOf(requestId) && decision < ids.indexOf(QStringLiteral("t1-s2")),
                 qPrintable(ids.join(u' ')));
        QCOMPARE(log.at(decision).value(u"message_type").toString(), QStringLiteral("user"));
        QCOMPARE(log.at(decision).value(u"message_sub_type").toString(), QStringLiteral("approval"));
        QCOMPARE(log.at(decision).value(u"correlation_id").toString(), requestId);
        QCOMPARE(log.last().value(u"message_type").toString(), QStringLiteral("workflow_end"));

        // The run waits for nothing now: a second approval is refused with the status.
        const Reply again =
            driveOnce(*gateway, approvalRequest(QStringLiteral("appr-yes"), QStringLiteral("approved"), requestId));
        QCOMPARE(again.first, quint16(4400));
        QVERIFY2(again.second.contains(u"not waiting for approval (status: finished)"), qPrintable(again.second));

        // Rejected: the decision is in the log and the turn ends waiting for input.
        QCOMPARE(driveOnce(*gateway, WsProbe::startRequest(QStringLiteral("appr-no"), QStringLiteral("greet"),
                                                           QStringLiteral("approval"))),
                 Reply(1000, QStringLiteral("plan_approval_required")));
        QCOMPARE(driveOnce(*gateway, approvalRequest(QStringLiteral("appr-no"), QStringLiteral("rejected"),
                                                     QStringLiteral("t1-s1"))),
                 Reply(1000, QStringLiteral("input_required")));
        log = getChat(*gateway, QStringLiteral("appr-no"));
        QCOMPARE(idsOf(log), (QStringList{QStringLiteral("t1-user"), QStringLiteral("t1-s0"), QStringLiteral("t1-s1"),
                                          QStringLiteral("t1-s1-decision")}));
        QCOMPARE(log.last().value(u"message_sub_type").toString(), QStringLiteral("rejection"));
        QCOMPARE(runOf(*gateway, QStringLiteral("appr-no")).value(u"status").toString(),
                 QStringLiteral("input_required"));
        // A plain resume after a rejection does not carry the plan out.
        QCOMPARE(driveOnce(*gateway, WsProbe::startRequest(QStringLiteral("appr-no"), QString())),
                 Reply(1000, QStringLiteral("input_required")));
        QCOMPARE(getChat(*gateway, QStringLiteral("appr-no")).size(), log.size());
    }

    void driverLeavingPausesTheRun_data()
    {
        addStoreRows();
    }
    void driverLeavingPausesTheRun()
    {
        QFETCH(QString, store);
        auto gateway = startGateway(store);
        QVERIFY(gateway);

        WsProbe driver;
        driver.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(driver.sendJson(
            WsProbe::startRequest(QStringLiteral("leaver"), QStringLiteral("go slowly"), QStringLiteral("glacial"))));
        QTRY_VERIFY_WITH_TIMEOUT(driver.seqs().size() >= 2, Timeout);
        driver.close();
        QTRY_VERIFY_WITH_TIMEOUT(driver.isClosed(), Timeout);
        QTRY_COMPARE_WITH_TIMEOUT(runOf(*gateway, QStringLiteral("leaver")).value(u"status").toString(),
                                  QStringLiteral("paused"), Timeout);

        // A paused run resumes (empty goal) and carries on where it stopped.
        const qint64 seqBefore = runOf(*gateway, QStringLiteral("leaver")).value(u"lastSeq").toInteger();
        WsProbe again;
        again.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(again.sendJson(WsProbe::startRequest(QStringLiteral("leaver"), QString())));
        QTRY_VERIFY_WITH_TIMEOUT(again.sawRunStatus(RunStatus::Running), Timeout);
        QTRY_VERIFY_WITH_TIMEOUT(runOf(*gateway, QStringLiteral("leaver")).value(u"lastSeq").toInteger() > seqBefore,
                                 Timeout);
    }

    void stopWorkflowCancels_data()
    {
        addStoreRows();
    }
    void stopWorkflowCancels()
    {
        QFETCH(QString, store);
        auto gateway = startGateway(store);
        QVERIFY(gateway);

        WsProbe driver;
        driver.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(driver.sendJson(
            WsProbe::startRequest(QStringLiteral("stopper"), QStringLiteral("go slowly"), QStringLiteral("glacial"))));
        WsProbe watcher;
        QTRY_VERIFY_WITH_TIMEOUT(driver.sawRunStatus(RunStatus::Running), Timeout);
        watcher.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(watcher.sendJson(WsProbe::subscribe(QStringLiteral("stopper"))));
        QTRY_VERIFY_WITH_TIMEOUT(watcher.sawRunStatus(RunStatus::Running), Timeout);

        QVERIFY(driver.sendJson(
            QJsonObject{{QStringLiteral("stopWorkflow"),
                         QJsonObject{{QStringLiteral("reason"), QStringLiteral("user pressed stop")}}}}));
        QTRY_VERIFY_WITH_TIMEOUT(driver.isClosed(), Timeout);
        QCOMPARE(driver.closeInfo().code, quint16(1000));
        QCOMPARE(driver.closeInfo().reason, QStringLiteral("stopped"));
        QTRY_VERIFY_WITH_TIMEOUT(watcher.sawRunStatus(RunStatus::Stopped), Timeout);
        const QJsonObject run = runOf(*gateway, QStringLiteral("stopper"));
        QCOMPARE(run.value(u"status").toString(), QStringLiteral("stopped"));
        QCOMPARE(run.value(u"reason").toString(), QStringLiteral("user pressed stop"));
        // Nothing is written after the cancel.
        const qint64 seq = run.value(u"lastSeq").toInteger();
        QTest::qWait(300);
        QCOMPARE(runOf(*gateway, QStringLiteral("stopper")).value(u"lastSeq").toInteger(), seq);

        // A second stop from a subscriber is an idempotent no-op.
        QVERIFY(watcher.sendJson(QJsonObject{{QStringLiteral("stopWorkflow"), QJsonObject{}}}));
        QTRY_VERIFY_WITH_TIMEOUT(watcher.runStatuses().constLast().reason.contains(u"nothing to do"), Timeout);
        QVERIFY(watcher.runStatuses().constLast().status == RunStatus::Stopped);
    }

    void legacyClientsGetWholeCheckpoints()
    {
        auto gateway = startGateway(QStringLiteral("sqlite"));
        QVERIFY(gateway);

        WsProbe legacy;
        legacy.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(legacy.sendJson(WsProbe::startRequest(QStringLiteral("legacy-1"),
                                                      QStringLiteral("Create a file called hello.sh that prints hello"),
                                                      QStringLiteral("hello"), false)));
        QTRY_VERIFY_WITH_TIMEOUT(legacy.isClosed(), Timeout);
        QCOMPARE(legacy.closeInfo().code, quint16(1000));
        const auto checkpoints = legacy.checkpoints();
        QVERIFY(checkpoints.size() >= 3);
        // Every legacy checkpoint is the whole state: no seq, the full chat log so far.
        QVERIFY(legacy.seqs().isEmpty());
        const QJsonObject last = QJsonDocument::fromJson(checkpoints.constLast().checkpoint.toUtf8()).object();
        const QJsonArray log = last.value(u"channel_values").toObject().value(u"ui_chat_log").toArray();
        QCOMPARE(log.size(), getChat(*gateway, QStringLiteral("legacy-1")).size());
    }

    void authIsCheckedAtTheHandshake()
    {
        auto gateway = startGateway(QStringLiteral("sqlite"));
        QVERIFY(gateway);
        const QByteArray path = "/api/v1/ws";

        // No token, a wrong token: 401 before any upgrade.
        QCOMPARE(rawRequest(gateway->port(), upgradeRequest(gateway->port(), path, {})).status, 401);
        QCOMPARE(rawRequest(gateway->port(),
                            upgradeRequest(gateway->port(), path, {"Authorization: Bearer wrong-token-123"}))
                     .status,
                 401);
        QCOMPARE(
            rawRequest(gateway->port(), upgradeRequest(gateway->port(), path,
                                                       {"Sec-WebSocket-Protocol: lockstep.v1, bearer.wrong-token-123"}))
                .status,
            401);
        // The right token: 101.
        QCOMPARE(rawRequest(gateway->port(), upgradeRequest(gateway->port(), path,
                                                            {"Authorization: Bearer " + gateway->token().toUtf8()}))
                     .status,
                 101);
        // Another path: 404.
        QCOMPARE(rawRequest(gateway->port(), upgradeRequest(gateway->port(), "/ws",
                                                            {"Authorization: Bearer " + gateway->token().toUtf8()}))
                     .status,
                 404);

        WsProbe wrong;
        wrong.open(gateway->webSocketUrl(), QStringLiteral("not-the-token-42"));
        QTRY_VERIFY_WITH_TIMEOUT(wrong.hasFailed(), Timeout);
        QCOMPARE(wrong.failure().kind, Transport::ConnectError::HandshakeRejected);
        QCOMPARE(wrong.failure().httpStatus, 401);
        // The token never shows up in the gateway's log.
        QVERIFY(!gateway->log().contains(gateway->token()));
    }

    void bearerSubprotocolEchoesLockstepV1()
    {
        auto gateway = startGateway(QStringLiteral("sqlite"));
        QVERIFY(gateway);
        // A browser cannot set headers: token as a subprotocol, and only that.
        QWebSocket socket;
        QWebSocketHandshakeOptions options;
        options.setSubprotocols({QStringLiteral("lockstep.v1"), QStringLiteral("bearer.") + gateway->token()});
        QSignalSpy connected(&socket, &QWebSocket::connected);
        socket.open(QNetworkRequest(gateway->webSocketUrl()), options);
        QTRY_COMPARE_WITH_TIMEOUT(connected.size(), 1, Timeout);
        QCOMPARE(socket.subprotocol(), QStringLiteral("lockstep.v1"));
        socket.close();
    }

    void originMustBeAllowed()
    {
        auto gateway = startGateway(QStringLiteral("sqlite"),
                                    {QStringLiteral("--allowed-origin"), QStringLiteral("https://console.example")});
        QVERIFY(gateway);
        const QByteArray auth = "Authorization: Bearer " + gateway->token().toUtf8();
        QCOMPARE(rawRequest(gateway->port(),
                            upgradeRequest(gateway->port(), "/api/v1/ws", {auth, "Origin: https://evil.example"}))
                     .status,
                 403);
        QCOMPARE(rawRequest(gateway->port(),
                            upgradeRequest(gateway->port(), "/api/v1/ws", {auth, "Origin: https://console.example"}))
                     .status,
                 101);
        QCOMPARE(rawRequest(gateway->port(), upgradeRequest(gateway->port(), "/api/v1/ws",
                                                            {auth, "Origin: https://console.example:443"}))
                     .status,
                 101);
        QCOMPARE(httpRequest("GET", gateway->baseUrl() + QStringLiteral("/api/v1/workflows"), gateway->token(), {},
                             {{"Origin", "http://console.example"}})
                     .status,
                 403);
    }

    void tlsServesHttpsAndWss()
    {
        const TlsCert cert = makeSelfSignedCert();
        QVERIFY(!cert.certificatePem.isEmpty());
        QTemporaryDir dir;
        const QString certFile = dir.filePath(QStringLiteral("cert.pem"));
        const QString keyFile = dir.filePath(QStringLiteral("key.pem"));
        QVERIFY(writePemFile(certFile, cert.certificatePem));
        QVERIFY(writePemFile(keyFile, cert.privateKeyPem));
        auto gateway = startGateway(QStringLiteral("sqlite"),
                                    {QStringLiteral("--tls-cert"), certFile, QStringLiteral("--tls-key"), keyFile});
        QVERIFY(gateway);

        // https, trusting only our certificate.
        QNetworkAccessManager manager;
        QNetworkRequest request(QUrl(QStringLiteral("https://localhost:%1/api/v1/workflows").arg(gateway->port())));
        QSslConfiguration ssl = QSslConfiguration::defaultConfiguration();
        ssl.setCaCertificates(QSslCertificate::fromData(cert.certificatePem));
        request.setSslConfiguration(ssl);
        request.setRawHeader("Authorization", "Bearer " + gateway->token().toUtf8());
        std::unique_ptr<QNetworkReply> reply(manager.get(request));
        QTRY_VERIFY_WITH_TIMEOUT(reply->isFinished(), Timeout);
        QCOMPARE(reply->error(), QNetworkReply::NoError);
        QCOMPARE(reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), 200);

        // wss: a whole turn over TLS.
        WsProbe driver;
        driver.open(QUrl(QStringLiteral("wss://localhost:%1/api/v1/ws").arg(gateway->port())), gateway->token(), false,
                    certFile);
        QVERIFY(driver.sendJson(
            WsProbe::startRequest(QStringLiteral("over-tls"), QStringLiteral("hello"), QStringLiteral("hello"))));
        QTRY_VERIFY_WITH_TIMEOUT(driver.isClosed() || driver.hasFailed(), Timeout);
        QVERIFY2(!driver.hasFailed(), qPrintable(driver.failure().message));
        QCOMPARE(driver.closeInfo().code, quint16(1000));
        QCOMPARE(driver.closeInfo().reason, QStringLiteral("input_required"));

        // Plain HTTP on the TLS port is not served.
        QCOMPARE(rawRequest(gateway->port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").status, 0);
        QVERIFY(gateway->isRunning());
    }

    void oversizeMessageCloses1009()
    {
        auto gateway =
            startGateway(QStringLiteral("sqlite"), {QStringLiteral("--max-message-bytes"), QStringLiteral("4096")});
        QVERIFY(gateway);
        WsProbe probe;
        probe.open(gateway->webSocketUrl(), gateway->token());
        QTRY_VERIFY_WITH_TIMEOUT(probe.isConnected(), Timeout);
        QVERIFY(probe.sendJson(WsProbe::startRequest(QStringLiteral("big"), QString(8000, u'x'))));
        QTRY_VERIFY_WITH_TIMEOUT(probe.isClosed(), Timeout);
        QCOMPARE(probe.closeInfo().code, quint16(1009));
        QCOMPARE(runOf(*gateway, QStringLiteral("big")).value(u"error").toString(), QStringLiteral("not_found"));
    }

    void rateLimitCloses1008()
    {
        auto gateway =
            startGateway(QStringLiteral("sqlite"), {QStringLiteral("--max-messages-per-second"), QStringLiteral("5")});
        QVERIFY(gateway);
        QVERIFY(httpRequest("POST", gateway->baseUrl() + QStringLiteral("/api/v1/workflows"), gateway->token(),
                            R"({"goal":"x","workflowID":"rated"})")
                    .status == 201);
        WsProbe probe;
        probe.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(probe.sendJson(WsProbe::subscribe(QStringLiteral("rated"))));
        for (int i = 0; i < 50; ++i)
            probe.sendJson(
                QJsonObject{{QStringLiteral("heartbeat"), QJsonObject{{QStringLiteral("timestamp"), 1000 + i}}}});
        QTRY_VERIFY_WITH_TIMEOUT(probe.isClosed(), Timeout);
        QCOMPARE(probe.closeInfo().code, quint16(1008));
        QVERIFY(probe.closeInfo().reason.contains(u"rate"));
    }

    // RFC 6455 5.1: a client frame without a mask fails the connection.
    void unmaskedFrameCloses1002()
    {
        if (!m_shared)
            m_shared = startGateway(QStringLiteral("sqlite"));
        GatewayProcess *gateway = m_shared.get();
        QVERIFY(gateway);
        QVERIFY(httpRequest("POST", gateway->baseUrl() + QStringLiteral("/api/v1/workflows"), gateway->token(),
                            R"({"goal":"x","workflowID":"unmasked"})")
                    .status == 201);
        RawWsClient client;
        QVERIFY(client.open(gateway->port(), gateway->token()));
        QVERIFY(client.sendFrame(0x1, R"({"subscribe":{"workflowID":"unmasked"}})", false));
        QCOMPARE(client.waitForCloseOr({}, Timeout), 1002);
        QVERIFY2(client.closeReason().contains(u"masked"), qPrintable(client.closeReason()));
        // Nothing of it was served: no snapshot went out.
        QVERIFY(client.texts().isEmpty());
    }

    // Frames sent before the 101 would reach the websocket unchecked: refused.
    void framesBeforeThe101AreRefused()
    {
        if (!m_shared)
            m_shared = startGateway(QStringLiteral("sqlite"));
        GatewayProcess *gateway = m_shared.get();
        QVERIFY(gateway);
        const QByteArray upgrade =
            upgradeRequest(gateway->port(), "/api/v1/ws", {"Authorization: Bearer " + gateway->token().toUtf8()});
        const RawReply reply =
            rawRequest(gateway->port(), upgrade + RawWsClient::clientFrame(0x1, R"({"subscribe":{"workflowID":"x"}})"));
        QCOMPARE(reply.status, 400);
        QVERIFY2(reply.raw.contains("101"), reply.raw.constData());
    }

    // A client that pings as fast as it can and never reads: pings count
    // against --max-messages-per-second, the session is closed and the
    // gateway's memory stays bounded (it was 25 MB -> 224 MB in 2 s).
    void pingFloodIsCutOff()
    {
        auto gateway = startGateway(QStringLiteral("sqlite"));
        QVERIFY(gateway);
        auto residentMiB = [&] {
            QFile status(QStringLiteral("/proc/%1/status").arg(gateway->pid()));
            if (!status.open(QIODevice::ReadOnly))
                return qint64(-1);
            for (const QByteArray &line : status.readAll().split('\n'))
            {
                if (line.startsWith("VmRSS:"))
                    return line.mid(6).trimmed().split(' ').constFirst().toLongLong() / 1024;
            }
            return qint64(-1);
        };
        const qint64 before = residentMiB();
        QVERIFY(before > 0);

        RawWsClient client;
        QVERIFY(client.open(gateway->port(), gateway->token()));
        QByteArray burst;
        for (int i = 0; i < 1000; ++i)
            burst += RawWsClient::clientFrame(0x9, QByteArray(125, 'p'));
        qint64 sent = 0;
        qint64 peak = before;
        // Until the gateway cuts us off, or (the hole) its memory has grown by
        // 150 MiB, or 30 s have passed.
        QDeadlineTimer deadline(30000);
        while (client.isOpen() && (peak - before < 150) && !deadline.hasExpired())
        {
            if (client.writeRaw(burst, 1000))
                sent += burst.size();
            peak = std::max(peak, residentMiB());
        }
        QVERIFY2(!client.isOpen(), qPrintable(QStringLiteral("still open after %1 MB of pings").arg(sent >> 20)));
        QVERIFY2(peak - before < 100, qPrintable(QStringLiteral("RSS %1 -> %2 MiB").arg(before).arg(peak)));
        QTRY_VERIFY2_WITH_TIMEOUT(gateway->log().contains(u"closed with 1008"), qPrintable(gateway->log().right(3000)),
                                  Timeout);
        QTRY_COMPARE_WITH_TIMEOUT(
            httpRequest("GET", gateway->baseUrl() + QStringLiteral("/healthz")).json.value(u"sessions").toInt(-1), 0,
            Timeout);
    }

    // Over --max-message-bytes: always a clean 1009, even while the client is
    // still sending the rest of the message (it used to see 1006: the gateway
    // closed the socket with the rest unread, and the reset overtook the close
    // frame).
    void oversizeMessageAlwaysGets1009_data()
    {
        QTest::addColumn<QString>("maxMessageBytes");
        QTest::addColumn<QList<qsizetype>>("sizes");
        const QList<qsizetype> sizes{2 * 1024 * 1024, qsizetype(1.2 * 1024 * 1024)};
        QTest::newRow("default 1 MiB") << QString() << sizes;
        QTest::newRow("64 KiB, 16 MiB message") << QStringLiteral("65536") << QList<qsizetype>{16 * 1024 * 1024};
    }
    void oversizeMessageAlwaysGets1009()
    {
        QFETCH(QString, maxMessageBytes);
        QFETCH(QList<qsizetype>, sizes);
        auto gateway = startGateway(QStringLiteral("sqlite"),
                                    maxMessageBytes.isEmpty()
                                        ? QStringList()
                                        : QStringList{QStringLiteral("--max-message-bytes"), maxMessageBytes});
        QVERIFY(gateway);
        for (int round = 0; round < 3; ++round)
        {
            for (const qsizetype size : sizes)
            {
                WsProbe probe;
                probe.open(gateway->webSocketUrl(), gateway->token());
                QTRY_VERIFY_WITH_TIMEOUT(probe.isConnected(), Timeout);
                QVERIFY(probe.sendText(QString(size, u'x')));
                QTRY_VERIFY_WITH_TIMEOUT(probe.isClosed() || probe.hasFailed(), Timeout);
                QVERIFY2(probe.closeInfo().receivedCloseFrame, qPrintable(QStringLiteral("%1 bytes: %2 %3")
                                                                              .arg(size)
                                                                              .arg(probe.closeInfo().code)
                                                                              .arg(probe.closeInfo().reason)));
                QCOMPARE(probe.closeInfo().code, quint16(1009));

                // A client that writes the whole message before it reads anything.
                RawWsClient raw;
                QVERIFY(raw.open(gateway->port(), gateway->token()));
                const bool written = raw.writeRaw(RawWsClient::clientFrame(0x1, QByteArray(size, 'x')), Timeout);
                QVERIFY2(written,
                         qPrintable(QStringLiteral("%1 bytes: the connection was reset while sending").arg(size)));
                QCOMPARE(raw.waitForCloseOr({}, Timeout), 1009);
            }
        }
        QTRY_COMPARE_WITH_TIMEOUT(
            httpRequest("GET", gateway->baseUrl() + QStringLiteral("/healthz")).json.value(u"sessions").toInt(-1), 0,
            Timeout);
    }

    void sigtermClosesWith1001AndPausesRuns_data()
    {
        addStoreRows();
    }
    void sigtermClosesWith1001AndPausesRuns()
    {
        QFETCH(QString, store);
        QString spec;
        auto gateway = startGateway(store, {}, &spec);
        QVERIFY(gateway);

        WsProbe driver;
        driver.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(driver.sendJson(WsProbe::startRequest(QStringLiteral("sigterm-1"), QStringLiteral("go slowly"),
                                                      QStringLiteral("glacial"))));
        WsProbe watcher;
        QTRY_VERIFY_WITH_TIMEOUT(driver.seqs().size() >= 2, Timeout);
        watcher.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(watcher.sendJson(WsProbe::subscribe(QStringLiteral("sigterm-1"))));
        QTRY_VERIFY_WITH_TIMEOUT(watcher.sawRunStatus(RunStatus::Running), Timeout);

        QCOMPARE(gateway->terminate(), 0);
        QTRY_VERIFY_WITH_TIMEOUT(driver.isClosed() && watcher.isClosed(), Timeout);
        QVERIFY(driver.closeInfo().receivedCloseFrame);
        QCOMPARE(driver.closeInfo().code, quint16(1001));
        QCOMPARE(watcher.closeInfo().code, quint16(1001));
        // The gateway is gone; the store says the run was paused at a step boundary.
        auto opened = Store::RunStore::open(spec);
        QVERIFY2(opened, qPrintable(opened ? QString() : opened.error().message));
        const auto run = (*opened)->getRun(QStringLiteral("sigterm-1"));
        QVERIFY(run && run->has_value());
        QCOMPARE(toString((*run)->status), QStringLiteral("paused"));
    }
};

QTEST_GUILESS_MAIN(TestGatewaySessions)
#include "tst_gatewaysessions.moc"
