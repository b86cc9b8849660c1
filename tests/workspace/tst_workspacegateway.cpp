// End to end: a real lockstep-gateway and a real lockstep-agent that registers
// with it, the shipped `workspace` flow driven over the websocket.

#include <memory>

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QtTest>

#include "agentprocess.h"
#include "gatewayprocess.h"
#include "workspace/agentconnection.h"

using namespace Lockstep;
using namespace Lockstep::Test;

namespace
{
    constexpr int Timeout = 30000;
    const QString WorkspaceId = QStringLiteral("ws-e2e");

    QJsonObject startRequest(const QString &workflowId, const QJsonObject &metadata)
    {
        return QJsonObject{
            {QStringLiteral("startRequest"),
             QJsonObject{{QStringLiteral("workflowID"), workflowId},
                         {QStringLiteral("goal"), QStringLiteral("list my files")},
                         {QStringLiteral("clientVersion"), QStringLiteral("test")},
                         {QStringLiteral("clientCapabilities"), QJsonArray{QStringLiteral("incremental_streaming")}},
                         {QStringLiteral("workflowMetadata"),
                          QString::fromUtf8(QJsonDocument(metadata).toJson(QJsonDocument::Compact))}}}};
    }
}  // namespace

class TestWorkspaceGateway final : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir m_dir;

    std::unique_ptr<GatewayProcess> startGateway(const QStringList &extra = {})
    {
        auto gateway = std::make_unique<GatewayProcess>();
        const QString flows =
            QDir(qEnvironmentVariable("LOCKSTEP_SOURCE_DIR")).filePath(QStringLiteral("resources/flows"));
        if (!gateway->start(QStringList{QStringLiteral("--flows"), flows, QStringLiteral("--step-delay-scale"),
                                        QStringLiteral("0.01"), QStringLiteral("--poll-interval"),
                                        QStringLiteral("100ms")} +
                            extra))
        {
            qWarning("%s", qPrintable(gateway->errorString()));
            return nullptr;
        }
        return gateway;
    }

    static HttpReply currentAgent(const GatewayProcess &gateway)
    {
        return httpRequest("GET", gateway.baseUrl() + u"/api/v1/workspaces/" + WorkspaceId + u"/agent",
                           gateway.token());
    }

    // Drives `workflowId` through the workspace flow; the tool entry as stored, and the close reason.
    static QJsonObject driveWorkspaceFlow(const GatewayProcess &gateway, const QString &workflowId,
                                          QString *closeReason)
    {
        WsProbe driver;
        driver.open(gateway.webSocketUrl(), gateway.token());
        if (!QTest::qWaitFor([&] { return driver.isConnected() || driver.hasFailed(); }, Timeout) ||
            !driver.isConnected())
            return {};
        driver.sendJson(startRequest(workflowId, {{QStringLiteral("flow"), QStringLiteral("workspace")},
                                                  {QStringLiteral("workspaceID"), WorkspaceId}}));
        if (!QTest::qWaitFor([&] { return driver.isClosed(); }, Timeout))
            return {};
        *closeReason = driver.closeInfo().reason;
        const HttpReply chat =
            httpRequest("GET", gateway.baseUrl() + u"/api/v1/workflows/" + workflowId + u"/chat", gateway.token());
        for (const QJsonValue &entry : chat.json.value(u"ui_chat_log").toArray())
        {
            if (entry.toObject().contains(u"tool_info"))
                return entry.toObject();
        }
        return {};
    }

    // One turn of `workflowId` with `metadata`; the close reason ("" when none came).
    static QString driveTurn(const GatewayProcess &gateway, const QString &workflowId, const QJsonObject &metadata)
    {
        WsProbe driver;
        driver.open(gateway.webSocketUrl(), gateway.token());
        if (!QTest::qWaitFor([&] { return driver.isConnected() || driver.hasFailed(); }, Timeout) ||
            !driver.isConnected())
            return {};
        driver.sendJson(startRequest(workflowId, metadata));
        if (!QTest::qWaitFor([&] { return driver.isClosed(); }, Timeout))
            return {};
        return driver.closeInfo().reason;
    }

    // The run's tool entries, in chat-log order.
    static QList<QJsonObject> toolEntries(const GatewayProcess &gateway, const QString &workflowId)
    {
        const HttpReply chat =
            httpRequest("GET", gateway.baseUrl() + u"/api/v1/workflows/" + workflowId + u"/chat", gateway.token());
        QList<QJsonObject> entries;
        for (const QJsonValue &entry : chat.json.value(u"ui_chat_log").toArray())
        {
            if (entry.toObject().contains(u"tool_info"))
                entries.append(entry.toObject());
        }
        return entries;
    }

    static QString runStatus(const GatewayProcess &gateway, const QString &workflowId)
    {
        return httpRequest("GET", gateway.baseUrl() + u"/api/v1/workflows/" + workflowId, gateway.token())
            .json.value(u"status")
            .toString();
    }

private slots:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        QVERIFY2(QFileInfo(GatewayProcess::binary()).isExecutable(), "LOCKSTEP_GATEWAY_BIN");
        QVERIFY2(QFileInfo(AgentProcess::binary()).isExecutable(), "LOCKSTEP_AGENT_BIN");
    }

    // The agent registers with the gateway, a workspace step runs through it;
    // once the agent is stopped (SIGTERM: it deregisters) the next run's step
    // fails at once with "workspace has no running agent".
    void workspaceStepRunsThroughTheRegisteredAgentUntilItStops()
    {
        auto gateway = startGateway();
        QVERIFY(gateway);
        const QString tokenFile = m_dir.filePath(QStringLiteral("agent-tokens"));
        QVERIFY(writeTokenFile(tokenFile, GatewayTestToken.toUtf8()));  // the gateway's token
        const QString folder = m_dir.filePath(QStringLiteral("workspace"));
        QVERIFY(QDir().mkpath(folder));
        QFile marker(QDir(folder).filePath(QStringLiteral("marker-file.txt")));
        QVERIFY(marker.open(QIODevice::WriteOnly));
        marker.write("hello\n");
        marker.close();

        AgentProcess agent;
        QVERIFY2(agent.start(folder, WorkspaceId, QStringLiteral("agent-e2e-1"), tokenFile,
                             {QStringLiteral("--gateway"), gateway->baseUrl()}),
                 qPrintable(agent.errorString()));
        QTRY_COMPARE_WITH_TIMEOUT(currentAgent(*gateway).json.value(u"state").toString(), QStringLiteral("running"),
                                  Timeout);
        const HttpReply registered = currentAgent(*gateway);
        QCOMPARE(registered.status, 200);
        QCOMPARE(registered.json.value(u"agentID").toString(), QStringLiteral("agent-e2e-1"));
        QCOMPARE(registered.json.value(u"port").toInt(), int(agent.port()));

        QString reason;
        const QJsonObject ok = driveWorkspaceFlow(*gateway, QStringLiteral("ws-run-1"), &reason);
        QVERIFY2(!ok.isEmpty(), qPrintable(gateway->log()));
        QCOMPARE(ok.value(u"status").toString(), QStringLiteral("success"));
        const QString listing = ok.value(u"tool_info").toObject().value(u"tool_response").toString();
        QVERIFY2(listing.contains(u"marker-file.txt"), qPrintable(listing));
        QCOMPARE(ok.value(u"additional_context").toObject().value(u"workspace").toObject().value(u"agentID").toString(),
                 QStringLiteral("agent-e2e-1"));
        QCOMPARE(reason, QStringLiteral("input_required"));
        QCOMPARE(runStatus(*gateway, QStringLiteral("ws-run-1")), QStringLiteral("input_required"));

        QCOMPARE(agent.terminate(), 0);
        const HttpReply stopped = currentAgent(*gateway);
        QCOMPARE(stopped.status, 200);
        QCOMPARE(stopped.json.value(u"state").toString(), QStringLiteral("stopped"));

        const QJsonObject failed = driveWorkspaceFlow(*gateway, QStringLiteral("ws-run-2"), &reason);
        QVERIFY2(!failed.isEmpty(), qPrintable(gateway->log()));
        QCOMPARE(failed.value(u"status").toString(), QStringLiteral("failure"));
        const QString why = failed.value(u"tool_info").toObject().value(u"tool_response").toString();
        QVERIFY2(why.contains(u"workspace has no running agent"), qPrintable(why));
        QCOMPARE(reason, QStringLiteral("failed"));
        QCOMPARE(runStatus(*gateway, QStringLiteral("ws-run-2")), QStringLiteral("failed"));
    }

    // Issue 9: a crashed agent (SIGKILL: no deregistration) left its workspace
    // "running" and a turn waited the whole 30 s dial timeout. Registrations
    // now expire after two missed renewals (--agent-expiry, here 3 s with the
    // agent renewing every 1 s); the next turn fails at once.
    void crashedAgentExpiresAndTheTurnFailsFast()
    {
        auto gateway = startGateway({QStringLiteral("--agent-expiry"), QStringLiteral("3s")});
        QVERIFY(gateway);
        const QString tokenFile = m_dir.filePath(QStringLiteral("agent-tokens-crash"));
        QVERIFY(writeTokenFile(tokenFile, GatewayTestToken.toUtf8()));
        const QString folder = m_dir.filePath(QStringLiteral("workspace-crash"));
        QVERIFY(QDir().mkpath(folder));

        AgentProcess agent;
        QVERIFY2(agent.start(folder, WorkspaceId, QStringLiteral("agent-crash-1"), tokenFile,
                             {QStringLiteral("--gateway"), gateway->baseUrl(), QStringLiteral("--register-interval"),
                              QStringLiteral("1s")}),
                 qPrintable(agent.errorString()));
        QTRY_COMPARE_WITH_TIMEOUT(currentAgent(*gateway).json.value(u"state").toString(), QStringLiteral("running"),
                                  Timeout);
        QString reason;
        const QJsonObject ok = driveWorkspaceFlow(*gateway, QStringLiteral("ws-crash-1"), &reason);
        QVERIFY2(!ok.isEmpty(), qPrintable(gateway->log()));
        QCOMPARE(ok.value(u"status").toString(), QStringLiteral("success"));
        // Renewals keep a live agent's registration fresh past the expiry.
        QTest::qWait(4000);
        QCOMPARE(currentAgent(*gateway).json.value(u"state").toString(), QStringLiteral("running"));

        agent.kill();  // SIGKILL: no deregistration
        QCOMPARE(currentAgent(*gateway).json.value(u"state").toString(), QStringLiteral("running"));
        QTRY_COMPARE_WITH_TIMEOUT(currentAgent(*gateway).json.value(u"state").toString(), QStringLiteral("expired"),
                                  Timeout);

        const QJsonObject failed = driveWorkspaceFlow(*gateway, QStringLiteral("ws-crash-2"), &reason);
        QVERIFY2(!failed.isEmpty(), qPrintable(gateway->log()));
        QCOMPARE(failed.value(u"status").toString(), QStringLiteral("failure"));
        const QString why = failed.value(u"tool_info").toObject().value(u"tool_response").toString();
        QVERIFY2(why.contains(u"workspace has no running agent"), qPrintable(why));
        QCOMPARE(reason, QStringLiteral("failed"));
    }

    // Issue 9 (section 5): any gateway token holder could register an "agent"
    // at any loopback port and receive the gateway's first token in the hello.
    // Now agents have their own secret (sent in the registration), the
    // gateway presents that secret, never its token, and it accepts a
    // registration only after the agent there proved it holds the secret.
    void registrationOfSomethingThatIsNotAnAgentIsRefused()
    {
        auto gateway = startGateway();
        QVERIFY(gateway);
        // A listener that records what it is sent and never answers.
        QTcpServer fake;
        QVERIFY(fake.listen(QHostAddress(QHostAddress::LocalHost), 0));
        QByteArray captured;
        connect(&fake, &QTcpServer::newConnection, this, [&] {
            while (QTcpSocket *socket = fake.nextPendingConnection())
            {
                connect(socket, &QTcpSocket::readyRead, this, [&captured, socket] { captured += socket->readAll(); });
                captured += socket->readAll();
            }
        });
        const QJsonObject body{{QStringLiteral("agentID"), QStringLiteral("agent-fake")},
                               {QStringLiteral("host"), QStringLiteral("127.0.0.1")},
                               {QStringLiteral("port"), int(fake.serverPort())},
                               {QStringLiteral("secret"), QStringLiteral("fake-agent-secret-1")}};
        const QString route = gateway->baseUrl() + QStringLiteral("/api/v1/workspaces/ws-fake/agent");
        const HttpReply refused =
            httpRequest("POST", route, gateway->token(), QJsonDocument(body).toJson(QJsonDocument::Compact),
                        {{"Content-Type", "application/json"}});
        QCOMPARE(refused.status, 409);
        QCOMPARE(refused.json.value(u"error").toString(), QStringLiteral("agent_unverified"));
        QVERIFY2(refused.json.value(u"message").toString().contains(u"agent-fake"), refused.body.constData());
        // The gateway presented the registered secret, not its own token.
        QTRY_VERIFY_WITH_TIMEOUT(captured.contains("fake-agent-secret-1"), Timeout);
        QVERIFY(!captured.contains(GatewayTestToken.toUtf8()));
        QCOMPARE(httpRequest("GET", route, gateway->token()).status, 404);

        // A registration without a secret (an old agent) is refused readably.
        QJsonObject noSecret = body;
        noSecret.remove(QStringLiteral("secret"));
        const HttpReply old =
            httpRequest("POST", route, gateway->token(), QJsonDocument(noSecret).toJson(QJsonDocument::Compact),
                        {{"Content-Type", "application/json"}});
        QCOMPARE(old.status, 400);
        QVERIFY2(old.json.value(u"message").toString().contains(u"secret"), old.body.constData());

        // A real agent's port with a secret that is not the agent's: refused too.
        const QString tokenFile = m_dir.filePath(QStringLiteral("agent-tokens-fake"));
        QVERIFY(writeTokenFile(tokenFile, GatewayTestToken.toUtf8()));
        const QString secretFile = m_dir.filePath(QStringLiteral("agent-secret-fake"));
        QVERIFY(writeTokenFile(secretFile, "the-real-agent-secret-42"));
        const QString folder = m_dir.filePath(QStringLiteral("workspace-fake"));
        QVERIFY(QDir().mkpath(folder));
        AgentProcess agent;
        QVERIFY2(agent.start(folder, QStringLiteral("ws-real"), QStringLiteral("agent-real"), tokenFile,
                             {QStringLiteral("--secret-file"), secretFile}),
                 qPrintable(agent.errorString()));
        QJsonObject hijack{{QStringLiteral("agentID"), QStringLiteral("agent-real")},
                           {QStringLiteral("host"), QStringLiteral("127.0.0.1")},
                           {QStringLiteral("port"), int(agent.port())},
                           {QStringLiteral("secret"), QStringLiteral("a-guessed-secret-7")}};
        const HttpReply hijacked = httpRequest(
            "POST", gateway->baseUrl() + QStringLiteral("/api/v1/workspaces/ws-real/agent"), gateway->token(),
            QJsonDocument(hijack).toJson(QJsonDocument::Compact), {{"Content-Type", "application/json"}});
        QCOMPARE(hijacked.status, 409);
        QCOMPARE(agent.terminate(), 0);
    }

    // The agent registers with its own random secret; the gateway dials it
    // with that secret (the agent no longer accepts gateway tokens).
    void theGatewayPresentsTheAgentsSecret()
    {
        auto gateway = startGateway();
        QVERIFY(gateway);
        const QString tokenFile = m_dir.filePath(QStringLiteral("agent-tokens-secret"));
        QVERIFY(writeTokenFile(tokenFile, GatewayTestToken.toUtf8()));
        const QString secretFile = m_dir.filePath(QStringLiteral("agent-secret-own"));
        QVERIFY(writeTokenFile(secretFile, "this-agents-own-secret-99"));
        const QString folder = m_dir.filePath(QStringLiteral("workspace-secret"));
        QVERIFY(QDir().mkpath(folder));
        AgentProcess agent;
        QVERIFY2(
            agent.start(folder, WorkspaceId, QStringLiteral("agent-secret-1"), tokenFile,
                        {QStringLiteral("--gateway"), gateway->baseUrl(), QStringLiteral("--secret-file"), secretFile}),
            qPrintable(agent.errorString()));
        QTRY_COMPARE_WITH_TIMEOUT(currentAgent(*gateway).json.value(u"agentID").toString(),
                                  QStringLiteral("agent-secret-1"), Timeout);
        QVERIFY(!currentAgent(*gateway).body.contains("this-agents-own-secret-99"));  // never shown

        // The gateway's token does not open the agent.
        auto connection = std::make_unique<Workspace::AgentConnection>();
        QSignalSpy failed(connection.get(), &Workspace::AgentConnection::failed);
        connection->open(agent.address(), GatewayTestToken.toUtf8());
        QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, Timeout);

        QString reason;
        const QJsonObject ok = driveWorkspaceFlow(*gateway, QStringLiteral("ws-secret-1"), &reason);
        QVERIFY2(!ok.isEmpty(), qPrintable(gateway->log()));
        QCOMPARE(ok.value(u"status").toString(), QStringLiteral("success"));
        QCOMPARE(agent.terminate(), 0);
    }

    // Issue 9: the workspace ID was read from every startRequest and not
    // stored, so a later turn without it had no workspace. The run now
    // remembers its workspace and the agent it used last (runs.workspace_id,
    // runs.workspace_agent_id) and the next turn dials that agent.
    void theRunRemembersItsWorkspace()
    {
        auto gateway = startGateway();
        QVERIFY(gateway);
        const QString tokenFile = m_dir.filePath(QStringLiteral("agent-tokens-remember"));
        QVERIFY(writeTokenFile(tokenFile, GatewayTestToken.toUtf8()));
        const QString folder = m_dir.filePath(QStringLiteral("workspace-remember"));
        QVERIFY(QDir().mkpath(folder));
        AgentProcess agent;
        QVERIFY2(agent.start(folder, WorkspaceId, QStringLiteral("agent-remember-1"), tokenFile,
                             {QStringLiteral("--gateway"), gateway->baseUrl()}),
                 qPrintable(agent.errorString()));
        QTRY_COMPARE_WITH_TIMEOUT(currentAgent(*gateway).json.value(u"agentID").toString(),
                                  QStringLiteral("agent-remember-1"), Timeout);

        const QString workflowId = QStringLiteral("ws-remember");
        QCOMPARE(driveTurn(*gateway, workflowId,
                           {{QStringLiteral("flow"), QStringLiteral("workspace")},
                            {QStringLiteral("workspaceID"), WorkspaceId}}),
                 QStringLiteral("input_required"));
        // The second turn names no workspace at all.
        QCOMPARE(driveTurn(*gateway, workflowId, {}), QStringLiteral("input_required"));
        const QList<QJsonObject> tools = toolEntries(*gateway, workflowId);
        QCOMPARE(tools.size(), 2);
        for (const QJsonObject &entry : tools)
        {
            QCOMPARE(entry.value(u"status").toString(), QStringLiteral("success"));
            const QJsonObject workspace = entry.value(u"additional_context").toObject().value(u"workspace").toObject();
            QCOMPARE(workspace.value(u"workspaceID").toString(), WorkspaceId);
            QCOMPARE(workspace.value(u"agentID").toString(), QStringLiteral("agent-remember-1"));
        }
        QCOMPARE(agent.terminate(), 0);
    }

    void badWorkspaceIdCloses4400_data()
    {
        QTest::addColumn<QJsonValue>("workspaceId");
        QTest::newRow("path") << QJsonValue(QStringLiteral("../etc"));
        QTest::newRow("number") << QJsonValue(5);
    }

    void badWorkspaceIdCloses4400()
    {
        QFETCH(QJsonValue, workspaceId);
        auto gateway = startGateway();
        QVERIFY(gateway);
        WsProbe probe;
        probe.open(gateway->webSocketUrl(), gateway->token());
        QTRY_VERIFY_WITH_TIMEOUT(probe.isConnected(), Timeout);
        QVERIFY(probe.sendJson(
            startRequest(QStringLiteral("ws-bad"), {{QStringLiteral("flow"), QStringLiteral("workspace")},
                                                    {QStringLiteral("workspaceID"), workspaceId}})));
        QTRY_VERIFY_WITH_TIMEOUT(probe.isClosed(), Timeout);
        QVERIFY(probe.closeInfo().receivedCloseFrame);
        QCOMPARE(probe.closeInfo().code, quint16(4400));
        QVERIFY2(probe.closeInfo().reason.startsWith(u"startRequest.workflowMetadata.workspaceID: "),
                 qPrintable(probe.closeInfo().reason));
        // Nothing was written.
        QCOMPARE(httpRequest("GET", gateway->baseUrl() + QStringLiteral("/api/v1/workflows/ws-bad"), gateway->token())
                     .status,
                 404);
    }
};

QTEST_GUILESS_MAIN(TestWorkspaceGateway)
#include "tst_workspacegateway.moc"
