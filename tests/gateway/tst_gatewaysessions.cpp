#include <csignal>

#include <QDeadlineTimer>
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QSslConfiguration>
#include <QSslCertificate>
#include <QSignalSpy>
#include <QTcpSocket>
#include <QTest>
#include <QWebSocket>
#include <QWebSocketHandshakeOptions>

#include "gatewayprocess.h"
#include "tlscert.h"
#include "protocol/closecode.h"
#include "protocol/runstatus.h"
#include "store/runstore.h"

using namespace Lockstep;
using namespace Lockstep::Test;

// Websocket sessions of a real gateway process: driving and subscribing,
// snapshots and deltas, protocol errors, limits, auth, origin, shutdown.
class TestGatewaySessions : public QObject
{
    Q_OBJECT

private:
    StoreBackends m_stores;
    std::unique_ptr<GatewayProcess> m_shared;   // for the rows of one data-driven test
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
        const HttpReply reply = httpRequest("GET", gateway.baseUrl() + u"/api/v1/workflows/" + id + u"/chat", gateway.token());
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
        writeFlow(u"slow"_qs, agentSteps(100, 2000));
        // About 30 s of `running`: for tests that interrupt a run and must not see it end.
        writeFlow(u"glacial"_qs, agentSteps(100, 30000));
    }

    void helloTurnStreamsDeltas_data() { addStoreRows(); }
    void helloTurnStreamsDeltas()
    {
        QFETCH(QString, store);
        auto gateway = startGateway(store);
        QVERIFY(gateway);

        WsProbe driver;
        driver.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(driver.sendJson(WsProbe::startRequest(u"hello-1"_qs, u"Create a file called hello.sh that prints hello"_qs, u"hello"_qs)));
        QTRY_VERIFY_WITH_TIMEOUT(driver.isClosed(), Timeout);
        QVERIFY(driver.closeInfo().receivedCloseFrame);
        QCOMPARE(driver.closeInfo().code, quint16(1000));
        QCOMPARE(driver.closeInfo().reason, u"input_required"_qs);

        QVERIFY(driver.sawRunStatus(RunStatus::Running));
        QVERIFY(driver.lastRunStatus() == RunStatus::InputRequired);
        const QList<qint64> seqs = driver.seqs();
        QVERIFY(!seqs.isEmpty());
        QVERIFY2(strictlyIncreasing(seqs), "seq values must strictly increase");
        // The deltas rebuild exactly the stored chat log.
        const QList<QJsonObject> stored = getChat(*gateway, u"hello-1"_qs);
        QVERIFY(stored.size() >= 4);   // user message, agent, tool, agent
        QCOMPARE(driver.reconstructedLog(), stored);
        // Each delta only carries new or changed entries: never the same version twice.
        const QList<QJsonObject> delivered = driver.deliveredEntries();
        for (qsizetype i = 0; i < delivered.size(); ++i)
            for (qsizetype j = i + 1; j < delivered.size(); ++j)
                QVERIFY2(delivered.at(i) != delivered.at(j), "an entry version was delivered twice");
        QCOMPARE(runOf(*gateway, u"hello-1"_qs).value(u"status").toString(), u"input_required"_qs);
    }

    void subscriberReconnectsWithoutGapsOrDuplicates_data() { addStoreRows(); }
    void subscriberReconnectsWithoutGapsOrDuplicates()
    {
        QFETCH(QString, store);
        auto gateway = startGateway(store);
        QVERIFY(gateway);

        WsProbe driver;
        driver.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(driver.sendJson(WsProbe::startRequest(u"slow-sub"_qs, u"go slowly"_qs, u"slow"_qs)));
        QTRY_VERIFY_WITH_TIMEOUT(driver.sawRunStatus(RunStatus::Running), Timeout);

        // First subscription: take a few deltas, then drop it.
        auto first = std::make_unique<WsProbe>();
        first->open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(first->sendJson(WsProbe::subscribe(u"slow-sub"_qs)));
        QTRY_VERIFY_WITH_TIMEOUT(first->seqs().size() >= 3, Timeout);
        first->close();
        QTRY_VERIFY_WITH_TIMEOUT(first->isClosed(), Timeout);
        const qint64 lastSeen = first->seqs().constLast();

        // Meanwhile the run goes on; the second subscription resumes after lastSeen.
        QTRY_VERIFY_WITH_TIMEOUT(runOf(*gateway, u"slow-sub"_qs).value(u"lastSeq").toInteger() > lastSeen + 3, Timeout);
        WsProbe second;
        second.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(second.sendJson(WsProbe::subscribe(u"slow-sub"_qs, lastSeen)));
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
        const QList<QJsonObject> stored = getChat(*gateway, u"slow-sub"_qs);
        QCOMPARE(latest.size(), stored.size());
        for (const QJsonObject &entry : stored)
            QCOMPARE(latest.value(entry.value(u"message_id").toString()), entry);
    }

    void unknownWorkflowIs4404_data() { addStoreRows(); }
    void unknownWorkflowIs4404()
    {
        QFETCH(QString, store);
        auto gateway = startGateway(store);
        QVERIFY(gateway);

        WsProbe subscriber;
        subscriber.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(subscriber.sendJson(WsProbe::subscribe(u"no-such-run"_qs)));
        QTRY_VERIFY_WITH_TIMEOUT(subscriber.isClosed(), Timeout);
        QCOMPARE(subscriber.closeInfo().code, quint16(4404));

        // An empty goal means "resume": there is nothing to resume.
        WsProbe resumer;
        resumer.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(resumer.sendJson(WsProbe::startRequest(u"no-such-run"_qs, QString())));
        QTRY_VERIFY_WITH_TIMEOUT(resumer.isClosed(), Timeout);
        QCOMPARE(resumer.closeInfo().code, quint16(4404));
        QCOMPARE(runOf(*gateway, u"no-such-run"_qs).value(u"error").toString(), u"not_found"_qs);
    }

    void protocolErrorsClose4400_data()
    {
        QTest::addColumn<QString>("frame");
        QTest::addColumn<QString>("mentions");
        QTest::newRow("not json") << u"hello there"_qs << u"invalid JSON"_qs;
        QTest::newRow("array") << u"[1,2]"_qs << u"not an object"_qs;
        QTest::newRow("empty object") << u"{}"_qs << u""_qs;
        QTest::newRow("unknown kind") << u"{\"launchMissiles\":{}}"_qs << u"launchMissiles"_qs;
        QTest::newRow("missing workflowID") << u"{\"startRequest\":{\"goal\":\"x\"}}"_qs << u"workflowID"_qs;
        QTest::newRow("wrong type") << u"{\"subscribe\":{\"workflowID\":42}}"_qs << u"workflowID"_qs;
        QTest::newRow("sql in id") << u"{\"subscribe\":{\"workflowID\":\"'; DROP TABLE runs; --\"}}"_qs << u"workflowID"_qs;
        QTest::newRow("heartbeat first") << u"{\"heartbeat\":{\"timestamp\":1}}"_qs << u"first message"_qs;
        QTest::newRow("bad afterSeq") << u"{\"subscribe\":{\"workflowID\":\"a\",\"afterSeq\":\"x\"}}"_qs << u"afterSeq"_qs;
        QTest::newRow("flow not a string")
            << u"{\"startRequest\":{\"workflowID\":\"a\",\"goal\":\"x\",\"workflowMetadata\":\"{\\\"flow\\\":5}\"}}"_qs << u"flow"_qs;
        QTest::newRow("unknown flow")
            << u"{\"startRequest\":{\"workflowID\":\"a\",\"goal\":\"x\",\"workflowMetadata\":\"{\\\"flow\\\":\\\"nope\\\"}\"}}"_qs << u"nope"_qs;
        // "." and ".." name no run by URL: refused (the rule is in the reason).
        QTest::newRow("dot id") << u"{\"startRequest\":{\"workflowID\":\".\",\"goal\":\"x\"}}"_qs << u"only of dots"_qs;
        QTest::newRow("dots id") << u"{\"subscribe\":{\"workflowID\":\"..\"}}"_qs << u"only of dots"_qs;
    }
    void protocolErrorsClose4400()
    {
        QFETCH(QString, frame);
        QFETCH(QString, mentions);
        if (!m_shared)
            m_shared = startGateway(u"sqlite"_qs);
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
        const HttpReply list = httpRequest("GET", gateway->baseUrl() + u"/api/v1/workflows"_qs, gateway->token());
        QCOMPARE(list.status, 200);
        QVERIFY(list.json.value(u"workflows").toArray().isEmpty());
    }

    // startRequest with an approval answering the request entry `requestId` ("" goal).
    static QJsonObject approvalRequest(const QString &workflowId, const QString &decision, const QString &requestId)
    {
        QJsonObject message = WsProbe::startRequest(workflowId, QString());
        QJsonObject body = message.value(u"startRequest").toObject();
        body.insert(u"approval"_qs, QJsonObject{{u"decision"_qs, decision}, {u"requestID"_qs, requestId}});
        return QJsonObject{{u"startRequest"_qs, body}};
    }

    // Drives `message` on a fresh session until it closes; the close code and reason.
    static std::pair<quint16, QString> driveOnce(const GatewayProcess &gateway, const QJsonObject &message)
    {
        WsProbe driver;
        driver.open(gateway.webSocketUrl(), gateway.token());
        if (!driver.sendJson(message) || !QTest::qWaitFor([&driver] { return driver.isClosed(); }, Timeout))
            return {0, u"no close"_qs};
        return {driver.closeInfo().code, driver.closeInfo().reason};
    }

    static QStringList idsOf(const QList<QJsonObject> &log)
    {
        QStringList ids;
        for (const QJsonObject &entry : log)
            ids << entry.value(u"message_id").toString();
        return ids;
    }

    void approvalContinuesOrEndsTheTurn_data() { addStoreRows(); }
    void approvalContinuesOrEndsTheTurn()
    {
        QFETCH(QString, store);
        auto gateway = startGateway(store);
        QVERIFY(gateway);
        using Reply = std::pair<quint16, QString>;

        // The approval flow stops at its request: the entry every client shows buttons for.
        QCOMPARE(driveOnce(*gateway, WsProbe::startRequest(u"appr-yes"_qs, u"greet"_qs, u"approval"_qs)),
                 Reply(1000, u"plan_approval_required"_qs));
        QList<QJsonObject> log = getChat(*gateway, u"appr-yes"_qs);
        QVERIFY(!log.isEmpty());
        QCOMPARE(log.last().value(u"message_type").toString(), u"request"_qs);
        const QString requestId = log.last().value(u"message_id").toString();
        QCOMPARE(requestId, u"t1-s1"_qs);

        // Not the pending request: refused, nothing written.
        const Reply wrong = driveOnce(*gateway, approvalRequest(u"appr-yes"_qs, u"approved"_qs, u"t1-s0"_qs));
        QCOMPARE(wrong.first, quint16(4400));
        QVERIFY2(wrong.second.contains(u"pending request is t1-s1"), qPrintable(wrong.second));
        QCOMPARE(getChat(*gateway, u"appr-yes"_qs).size(), log.size());
        // Malformed: refused before any lock.
        const Reply malformed = driveOnce(*gateway, approvalRequest(u"appr-yes"_qs, u"maybe"_qs, requestId));
        QCOMPARE(malformed.first, quint16(4400));
        QVERIFY2(malformed.second.contains(u"decision"), qPrintable(malformed.second));

        // Approved: the decision is in the log, then the rest of the plan runs.
        QCOMPARE(driveOnce(*gateway, approvalRequest(u"appr-yes"_qs, u"approved"_qs, requestId)), Reply(1000, u"finished"_qs));
        log = getChat(*gateway, u"appr-yes"_qs);
        const QStringList ids = idsOf(log);
        const qsizetype decision = ids.indexOf(u"t1-s1-decision"_qs);
        QVERIFY2(decision > ids.indexOf(requestId) && decision < ids.indexOf(u"t1-s2"_qs), qPrintable(ids.join(u' ')));
        QCOMPARE(log.at(decision).value(u"message_type").toString(), u"user"_qs);
        QCOMPARE(log.at(decision).value(u"message_sub_type").toString(), u"approval"_qs);
        QCOMPARE(log.at(decision).value(u"correlation_id").toString(), requestId);
        QCOMPARE(log.last().value(u"message_type").toString(), u"workflow_end"_qs);

        // The run waits for nothing now: a second approval is refused with the status.
        const Reply again = driveOnce(*gateway, approvalRequest(u"appr-yes"_qs, u"approved"_qs, requestId));
        QCOMPARE(again.first, quint16(4400));
        QVERIFY2(again.second.contains(u"not waiting for approval (status: finished)"), qPrintable(again.second));

        // Rejected: the decision is in the log and the turn ends waiting for input.
        QCOMPARE(driveOnce(*gateway, WsProbe::startRequest(u"appr-no"_qs, u"greet"_qs, u"approval"_qs)),
                 Reply(1000, u"plan_approval_required"_qs));
        QCOMPARE(driveOnce(*gateway, approvalRequest(u"appr-no"_qs, u"rejected"_qs, u"t1-s1"_qs)),
                 Reply(1000, u"input_required"_qs));
        log = getChat(*gateway, u"appr-no"_qs);
        QCOMPARE(idsOf(log), (QStringList{u"t1-user"_qs, u"t1-s0"_qs, u"t1-s1"_qs, u"t1-s1-decision"_qs}));
        QCOMPARE(log.last().value(u"message_sub_type").toString(), u"rejection"_qs);
        QCOMPARE(runOf(*gateway, u"appr-no"_qs).value(u"status").toString(), u"input_required"_qs);
        // A plain resume after a rejection does not carry the plan out.
        QCOMPARE(driveOnce(*gateway, WsProbe::startRequest(u"appr-no"_qs, QString())), Reply(1000, u"input_required"_qs));
        QCOMPARE(getChat(*gateway, u"appr-no"_qs).size(), log.size());
    }

    void driverLeavingPausesTheRun_data() { addStoreRows(); }
    void driverLeavingPausesTheRun()
    {
        QFETCH(QString, store);
        auto gateway = startGateway(store);
        QVERIFY(gateway);

        WsProbe driver;
        driver.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(driver.sendJson(WsProbe::startRequest(u"leaver"_qs, u"go slowly"_qs, u"glacial"_qs)));
        QTRY_VERIFY_WITH_TIMEOUT(driver.seqs().size() >= 2, Timeout);
        driver.close();
        QTRY_VERIFY_WITH_TIMEOUT(driver.isClosed(), Timeout);
        QTRY_COMPARE_WITH_TIMEOUT(runOf(*gateway, u"leaver"_qs).value(u"status").toString(), u"paused"_qs, Timeout);

        // A paused run resumes (empty goal) and carries on where it stopped.
        const qint64 seqBefore = runOf(*gateway, u"leaver"_qs).value(u"lastSeq").toInteger();
        WsProbe again;
        again.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(again.sendJson(WsProbe::startRequest(u"leaver"_qs, QString())));
        QTRY_VERIFY_WITH_TIMEOUT(again.sawRunStatus(RunStatus::Running), Timeout);
        QTRY_VERIFY_WITH_TIMEOUT(runOf(*gateway, u"leaver"_qs).value(u"lastSeq").toInteger() > seqBefore, Timeout);
    }

    void stopWorkflowCancels_data() { addStoreRows(); }
    void stopWorkflowCancels()
    {
        QFETCH(QString, store);
        auto gateway = startGateway(store);
        QVERIFY(gateway);

        WsProbe driver;
        driver.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(driver.sendJson(WsProbe::startRequest(u"stopper"_qs, u"go slowly"_qs, u"glacial"_qs)));
        WsProbe watcher;
        QTRY_VERIFY_WITH_TIMEOUT(driver.sawRunStatus(RunStatus::Running), Timeout);
        watcher.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(watcher.sendJson(WsProbe::subscribe(u"stopper"_qs)));
        QTRY_VERIFY_WITH_TIMEOUT(watcher.sawRunStatus(RunStatus::Running), Timeout);

        QVERIFY(driver.sendJson(QJsonObject {{u"stopWorkflow"_qs, QJsonObject {{u"reason"_qs, u"user pressed stop"_qs}}}}));
        QTRY_VERIFY_WITH_TIMEOUT(driver.isClosed(), Timeout);
        QCOMPARE(driver.closeInfo().code, quint16(1000));
        QCOMPARE(driver.closeInfo().reason, u"stopped"_qs);
        QTRY_VERIFY_WITH_TIMEOUT(watcher.sawRunStatus(RunStatus::Stopped), Timeout);
        const QJsonObject run = runOf(*gateway, u"stopper"_qs);
        QCOMPARE(run.value(u"status").toString(), u"stopped"_qs);
        QCOMPARE(run.value(u"reason").toString(), u"user pressed stop"_qs);
        // Nothing is written after the cancel.
        const qint64 seq = run.value(u"lastSeq").toInteger();
        QTest::qWait(300);
        QCOMPARE(runOf(*gateway, u"stopper"_qs).value(u"lastSeq").toInteger(), seq);

        // A second stop from a subscriber is an idempotent no-op.
        QVERIFY(watcher.sendJson(QJsonObject {{u"stopWorkflow"_qs, QJsonObject {}}}));
        QTRY_VERIFY_WITH_TIMEOUT(watcher.runStatuses().constLast().reason.contains(u"nothing to do"), Timeout);
        QVERIFY(watcher.runStatuses().constLast().status == RunStatus::Stopped);
    }

    void legacyClientsGetWholeCheckpoints()
    {
        auto gateway = startGateway(u"sqlite"_qs);
        QVERIFY(gateway);

        WsProbe legacy;
        legacy.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(legacy.sendJson(WsProbe::startRequest(u"legacy-1"_qs, u"Create a file called hello.sh that prints hello"_qs,
                                                      u"hello"_qs, false)));
        QTRY_VERIFY_WITH_TIMEOUT(legacy.isClosed(), Timeout);
        QCOMPARE(legacy.closeInfo().code, quint16(1000));
        const auto checkpoints = legacy.checkpoints();
        QVERIFY(checkpoints.size() >= 3);
        // Every legacy checkpoint is the whole state: no seq, the full chat log so far.
        QVERIFY(legacy.seqs().isEmpty());
        const QJsonObject last = QJsonDocument::fromJson(checkpoints.constLast().checkpoint.toUtf8()).object();
        const QJsonArray log = last.value(u"channel_values").toObject().value(u"ui_chat_log").toArray();
        QCOMPARE(log.size(), getChat(*gateway, u"legacy-1"_qs).size());
    }

    void authIsCheckedAtTheHandshake()
    {
        auto gateway = startGateway(u"sqlite"_qs);
        QVERIFY(gateway);
        const QByteArray path = "/api/v1/ws";

        // No token, a wrong token: 401 before any upgrade.
        QCOMPARE(rawRequest(gateway->port(), upgradeRequest(gateway->port(), path, {})).status, 401);
        QCOMPARE(rawRequest(gateway->port(), upgradeRequest(gateway->port(), path, {"Authorization: Bearer wrong-token-123"})).status, 401);
        QCOMPARE(rawRequest(gateway->port(), upgradeRequest(gateway->port(), path, {"Sec-WebSocket-Protocol: lockstep.v1, bearer.wrong-token-123"})).status, 401);
        // The right token: 101.
        QCOMPARE(rawRequest(gateway->port(), upgradeRequest(gateway->port(), path,
                                                            {"Authorization: Bearer " + gateway->token().toUtf8()})).status, 101);
        // Another path: 404.
        QCOMPARE(rawRequest(gateway->port(), upgradeRequest(gateway->port(), "/ws",
                                                            {"Authorization: Bearer " + gateway->token().toUtf8()})).status, 404);

        WsProbe wrong;
        wrong.open(gateway->webSocketUrl(), u"not-the-token-42"_qs);
        QTRY_VERIFY_WITH_TIMEOUT(wrong.hasFailed(), Timeout);
        QCOMPARE(wrong.failure().kind, Transport::ConnectError::HandshakeRejected);
        QCOMPARE(wrong.failure().httpStatus, 401);
        // The token never shows up in the gateway's log.
        QVERIFY(!gateway->log().contains(gateway->token()));
    }

    void bearerSubprotocolEchoesLockstepV1()
    {
        auto gateway = startGateway(u"sqlite"_qs);
        QVERIFY(gateway);
        // A browser cannot set headers: token as a subprotocol, and only that.
        QWebSocket socket;
        QWebSocketHandshakeOptions options;
        options.setSubprotocols({u"lockstep.v1"_qs, u"bearer."_qs + gateway->token()});
        QSignalSpy connected(&socket, &QWebSocket::connected);
        socket.open(QNetworkRequest(gateway->webSocketUrl()), options);
        QTRY_COMPARE_WITH_TIMEOUT(connected.size(), 1, Timeout);
        QCOMPARE(socket.subprotocol(), u"lockstep.v1"_qs);
        socket.close();
    }

    void originMustBeAllowed()
    {
        auto gateway = startGateway(u"sqlite"_qs, {u"--allowed-origin"_qs, u"https://console.example"_qs});
        QVERIFY(gateway);
        const QByteArray auth = "Authorization: Bearer " + gateway->token().toUtf8();
        QCOMPARE(rawRequest(gateway->port(), upgradeRequest(gateway->port(), "/api/v1/ws", {auth, "Origin: https://evil.example"})).status, 403);
        QCOMPARE(rawRequest(gateway->port(), upgradeRequest(gateway->port(), "/api/v1/ws", {auth, "Origin: https://console.example"})).status, 101);
        QCOMPARE(rawRequest(gateway->port(), upgradeRequest(gateway->port(), "/api/v1/ws", {auth, "Origin: https://console.example:443"})).status, 101);
        QCOMPARE(httpRequest("GET", gateway->baseUrl() + u"/api/v1/workflows"_qs, gateway->token(), {},
                             {{"Origin", "http://console.example"}}).status, 403);
    }

    void tlsServesHttpsAndWss()
    {
        const TlsCert cert = makeSelfSignedCert();
        QVERIFY(!cert.certificatePem.isEmpty());
        QTemporaryDir dir;
        const QString certFile = dir.filePath(u"cert.pem"_qs);
        const QString keyFile = dir.filePath(u"key.pem"_qs);
        QVERIFY(writePemFile(certFile, cert.certificatePem));
        QVERIFY(writePemFile(keyFile, cert.privateKeyPem));
        auto gateway = startGateway(u"sqlite"_qs, {u"--tls-cert"_qs, certFile, u"--tls-key"_qs, keyFile});
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
        driver.open(QUrl(QStringLiteral("wss://localhost:%1/api/v1/ws").arg(gateway->port())), gateway->token(), false, certFile);
        QVERIFY(driver.sendJson(WsProbe::startRequest(u"over-tls"_qs, u"hello"_qs, u"hello"_qs)));
        QTRY_VERIFY_WITH_TIMEOUT(driver.isClosed() || driver.hasFailed(), Timeout);
        QVERIFY2(!driver.hasFailed(), qPrintable(driver.failure().message));
        QCOMPARE(driver.closeInfo().code, quint16(1000));
        QCOMPARE(driver.closeInfo().reason, u"input_required"_qs);

        // Plain HTTP on the TLS port is not served.
        QCOMPARE(rawRequest(gateway->port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").status, 0);
        QVERIFY(gateway->isRunning());
    }

    void oversizeMessageCloses1009()
    {
        auto gateway = startGateway(u"sqlite"_qs, {u"--max-message-bytes"_qs, u"4096"_qs});
        QVERIFY(gateway);
        WsProbe probe;
        probe.open(gateway->webSocketUrl(), gateway->token());
        QTRY_VERIFY_WITH_TIMEOUT(probe.isConnected(), Timeout);
        QVERIFY(probe.sendJson(WsProbe::startRequest(u"big"_qs, QString(8000, u'x'))));
        QTRY_VERIFY_WITH_TIMEOUT(probe.isClosed(), Timeout);
        QCOMPARE(probe.closeInfo().code, quint16(1009));
        QCOMPARE(runOf(*gateway, u"big"_qs).value(u"error").toString(), u"not_found"_qs);
    }

    void rateLimitCloses1008()
    {
        auto gateway = startGateway(u"sqlite"_qs, {u"--max-messages-per-second"_qs, u"5"_qs});
        QVERIFY(gateway);
        QVERIFY(httpRequest("POST", gateway->baseUrl() + u"/api/v1/workflows"_qs, gateway->token(),
                            R"({"goal":"x","workflowID":"rated"})").status == 201);
        WsProbe probe;
        probe.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(probe.sendJson(WsProbe::subscribe(u"rated"_qs)));
        for (int i = 0; i < 50; ++i)
            probe.sendJson(QJsonObject {{u"heartbeat"_qs, QJsonObject {{u"timestamp"_qs, 1000 + i}}}});
        QTRY_VERIFY_WITH_TIMEOUT(probe.isClosed(), Timeout);
        QCOMPARE(probe.closeInfo().code, quint16(1008));
        QVERIFY(probe.closeInfo().reason.contains(u"rate"));
    }

    // RFC 6455 5.1: a client frame without a mask fails the connection.
    void unmaskedFrameCloses1002()
    {
        if (!m_shared)
            m_shared = startGateway(u"sqlite"_qs);
        GatewayProcess *gateway = m_shared.get();
        QVERIFY(gateway);
        QVERIFY(httpRequest("POST", gateway->baseUrl() + u"/api/v1/workflows"_qs, gateway->token(),
                            R"({"goal":"x","workflowID":"unmasked"})").status == 201);
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
            m_shared = startGateway(u"sqlite"_qs);
        GatewayProcess *gateway = m_shared.get();
        QVERIFY(gateway);
        const QByteArray upgrade = upgradeRequest(gateway->port(), "/api/v1/ws", {"Authorization: Bearer " + gateway->token().toUtf8()});
        const RawReply reply = rawRequest(gateway->port(), upgrade + RawWsClient::clientFrame(0x1, R"({"subscribe":{"workflowID":"x"}})"));
        QCOMPARE(reply.status, 400);
        QVERIFY2(reply.raw.contains("101"), reply.raw.constData());
    }

    // A client that pings as fast as it can and never reads: pings count
    // against --max-messages-per-second, the session is closed and the
    // gateway's memory stays bounded (it was 25 MB -> 224 MB in 2 s).
    void pingFloodIsCutOff()
    {
        auto gateway = startGateway(u"sqlite"_qs);
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
        QTRY_VERIFY2_WITH_TIMEOUT(gateway->log().contains(u"closed with 1008"), qPrintable(gateway->log().right(3000)), Timeout);
        QTRY_COMPARE_WITH_TIMEOUT(httpRequest("GET", gateway->baseUrl() + u"/healthz"_qs).json.value(u"sessions").toInt(-1), 0, Timeout);
    }

    // Over --max-message-bytes: always a clean 1009, even while the client is
    // still sending the rest of the message (it used to see 1006: the gateway
    // closed the socket with the rest unread, and the reset overtook the close
    // frame).
    void oversizeMessageAlwaysGets1009_data()
    {
        QTest::addColumn<QString>("maxMessageBytes");
        QTest::addColumn<QList<qsizetype>>("sizes");
        const QList<qsizetype> sizes {2 * 1024 * 1024, qsizetype(1.2 * 1024 * 1024)};
        QTest::newRow("default 1 MiB") << QString() << sizes;
        QTest::newRow("64 KiB, 16 MiB message") << u"65536"_qs << QList<qsizetype> {16 * 1024 * 1024};
    }
    void oversizeMessageAlwaysGets1009()
    {
        QFETCH(QString, maxMessageBytes);
        QFETCH(QList<qsizetype>, sizes);
        auto gateway = startGateway(u"sqlite"_qs, maxMessageBytes.isEmpty() ? QStringList()
                                                                            : QStringList {u"--max-message-bytes"_qs, maxMessageBytes});
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
                QVERIFY2(probe.closeInfo().receivedCloseFrame,
                         qPrintable(QStringLiteral("%1 bytes: %2 %3").arg(size).arg(probe.closeInfo().code).arg(probe.closeInfo().reason)));
                QCOMPARE(probe.closeInfo().code, quint16(1009));

                // A client that writes the whole message before it reads anything.
                RawWsClient raw;
                QVERIFY(raw.open(gateway->port(), gateway->token()));
                const bool written = raw.writeRaw(RawWsClient::clientFrame(0x1, QByteArray(size, 'x')), Timeout);
                QVERIFY2(written, qPrintable(QStringLiteral("%1 bytes: the connection was reset while sending").arg(size)));
                QCOMPARE(raw.waitForCloseOr({}, Timeout), 1009);
            }
        }
        QTRY_COMPARE_WITH_TIMEOUT(httpRequest("GET", gateway->baseUrl() + u"/healthz"_qs).json.value(u"sessions").toInt(-1), 0, Timeout);
    }

    void sigtermClosesWith1001AndPausesRuns_data() { addStoreRows(); }
    void sigtermClosesWith1001AndPausesRuns()
    {
        QFETCH(QString, store);
        QString spec;
        auto gateway = startGateway(store, {}, &spec);
        QVERIFY(gateway);

        WsProbe driver;
        driver.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(driver.sendJson(WsProbe::startRequest(u"sigterm-1"_qs, u"go slowly"_qs, u"glacial"_qs)));
        WsProbe watcher;
        QTRY_VERIFY_WITH_TIMEOUT(driver.seqs().size() >= 2, Timeout);
        watcher.open(gateway->webSocketUrl(), gateway->token());
        QVERIFY(watcher.sendJson(WsProbe::subscribe(u"sigterm-1"_qs)));
        QTRY_VERIFY_WITH_TIMEOUT(watcher.sawRunStatus(RunStatus::Running), Timeout);

        QCOMPARE(gateway->terminate(), 0);
        QTRY_VERIFY_WITH_TIMEOUT(driver.isClosed() && watcher.isClosed(), Timeout);
        QVERIFY(driver.closeInfo().receivedCloseFrame);
        QCOMPARE(driver.closeInfo().code, quint16(1001));
        QCOMPARE(watcher.closeInfo().code, quint16(1001));
        // The gateway is gone; the store says the run was paused at a step boundary.
        auto opened = Store::RunStore::open(spec);
        QVERIFY2(opened, qPrintable(opened ? QString() : opened.error().message));
        const auto run = (*opened)->getRun(u"sigterm-1"_qs);
        QVERIFY(run && run->has_value());
        QCOMPARE(toString((*run)->status), u"paused"_qs);
    }
};

QTEST_GUILESS_MAIN(TestGatewaySessions)
#include "tst_gatewaysessions.moc"
