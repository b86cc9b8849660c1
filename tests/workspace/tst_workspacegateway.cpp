// End to end: a real lockstep-gateway and a real lockstep-agent that registers
// with it, the shipped `workspace` flow driven over the websocket.

#include <memory>

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QtTest>

#include "agentprocess.h"
#include "gatewayprocess.h"

using namespace Lockstep;
using namespace Lockstep::Test;

namespace
{
    constexpr int Timeout = 30000;
    const QString WorkspaceId = QStringLiteral("ws-e2e");

    QJsonObject startRequest(const QString &workflowId, const QJsonObject &metadata)
    {
        return QJsonObject {{u"startRequest"_qs,
                             QJsonObject {{u"workflowID"_qs, workflowId},
                                          {u"goal"_qs, u"list my files"_qs},
                                          {u"clientVersion"_qs, u"test"_qs},
                                          {u"clientCapabilities"_qs, QJsonArray {u"incremental_streaming"_qs}},
                                          {u"workflowMetadata"_qs,
                                           QString::fromUtf8(QJsonDocument(metadata).toJson(QJsonDocument::Compact))}}}};
    }
} // namespace

class TestWorkspaceGateway final : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir m_dir;

    std::unique_ptr<GatewayProcess> startGateway()
    {
        auto gateway = std::make_unique<GatewayProcess>();
        const QString flows = QDir(qEnvironmentVariable("LOCKSTEP_SOURCE_DIR")).filePath(u"resources/flows"_qs);
        if (!gateway->start({u"--flows"_qs, flows, u"--step-delay-scale"_qs, u"0.01"_qs, u"--poll-interval"_qs, u"100ms"_qs}))
        {
            qWarning("%s", qPrintable(gateway->errorString()));
            return nullptr;
        }
        return gateway;
    }

    static HttpReply currentAgent(const GatewayProcess &gateway)
    {
        return httpRequest("GET", gateway.baseUrl() + u"/api/v1/workspaces/" + WorkspaceId + u"/agent", gateway.token());
    }

    // Drives `workflowId` through the workspace flow; the tool entry as stored, and the close reason.
    static QJsonObject driveWorkspaceFlow(const GatewayProcess &gateway, const QString &workflowId, QString *closeReason)
    {
        WsProbe driver;
        driver.open(gateway.webSocketUrl(), gateway.token());
        if (!QTest::qWaitFor([&] { return driver.isConnected() || driver.hasFailed(); }, Timeout) || !driver.isConnected())
            return {};
        driver.sendJson(startRequest(workflowId, {{u"flow"_qs, u"workspace"_qs}, {u"workspaceID"_qs, WorkspaceId}}));
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

    static QString runStatus(const GatewayProcess &gateway, const QString &workflowId)
    {
        return httpRequest("GET", gateway.baseUrl() + u"/api/v1/workflows/" + workflowId, gateway.token())
            .json.value(u"status").toString();
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
        const QString tokenFile = m_dir.filePath(u"agent-tokens"_qs);
        QVERIFY(writeTokenFile(tokenFile, GatewayTestToken.toUtf8()));   // the gateway's token
        const QString folder = m_dir.filePath(u"workspace"_qs);
        QVERIFY(QDir().mkpath(folder));
        QFile marker(QDir(folder).filePath(u"marker-file.txt"_qs));
        QVERIFY(marker.open(QIODevice::WriteOnly));
        marker.write("hello\n");
        marker.close();

        AgentProcess agent;
        QVERIFY2(agent.start(folder, WorkspaceId, u"agent-e2e-1"_qs, tokenFile, {u"--gateway"_qs, gateway->baseUrl()}),
                 qPrintable(agent.errorString()));
        QTRY_COMPARE_WITH_TIMEOUT(currentAgent(*gateway).json.value(u"state").toString(), u"running"_qs, Timeout);
        const HttpReply registered = currentAgent(*gateway);
        QCOMPARE(registered.status, 200);
        QCOMPARE(registered.json.value(u"agentID").toString(), u"agent-e2e-1"_qs);
        QCOMPARE(registered.json.value(u"port").toInt(), int(agent.port()));

        QString reason;
        const QJsonObject ok = driveWorkspaceFlow(*gateway, u"ws-run-1"_qs, &reason);
        QVERIFY2(!ok.isEmpty(), qPrintable(gateway->log()));
        QCOMPARE(ok.value(u"status").toString(), u"success"_qs);
        const QString listing = ok.value(u"tool_info").toObject().value(u"tool_response").toString();
        QVERIFY2(listing.contains(u"marker-file.txt"), qPrintable(listing));
        QCOMPARE(ok.value(u"additional_context").toObject().value(u"workspace").toObject().value(u"agentID").toString(),
                 u"agent-e2e-1"_qs);
        QCOMPARE(reason, u"input_required"_qs);
        QCOMPARE(runStatus(*gateway, u"ws-run-1"_qs), u"input_required"_qs);

        QCOMPARE(agent.terminate(), 0);
        const HttpReply stopped = currentAgent(*gateway);
        QCOMPARE(stopped.status, 200);
        QCOMPARE(stopped.json.value(u"state").toString(), u"stopped"_qs);

        const QJsonObject failed = driveWorkspaceFlow(*gateway, u"ws-run-2"_qs, &reason);
        QVERIFY2(!failed.isEmpty(), qPrintable(gateway->log()));
        QCOMPARE(failed.value(u"status").toString(), u"failure"_qs);
        const QString why = failed.value(u"tool_info").toObject().value(u"tool_response").toString();
        QVERIFY2(why.contains(u"workspace has no running agent"), qPrintable(why));
        QCOMPARE(reason, u"failed"_qs);
        QCOMPARE(runStatus(*gateway, u"ws-run-2"_qs), u"failed"_qs);
    }

    void badWorkspaceIdCloses4400_data()
    {
        QTest::addColumn<QJsonValue>("workspaceId");
        QTest::newRow("path") << QJsonValue(u"../etc"_qs);
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
        QVERIFY(probe.sendJson(startRequest(u"ws-bad"_qs, {{u"flow"_qs, u"workspace"_qs}, {u"workspaceID"_qs, workspaceId}})));
        QTRY_VERIFY_WITH_TIMEOUT(probe.isClosed(), Timeout);
        QVERIFY(probe.closeInfo().receivedCloseFrame);
        QCOMPARE(probe.closeInfo().code, quint16(4400));
        QVERIFY2(probe.closeInfo().reason.startsWith(u"startRequest.workflowMetadata.workspaceID: "),
                 qPrintable(probe.closeInfo().reason));
        // Nothing was written.
        QCOMPARE(httpRequest("GET", gateway->baseUrl() + u"/api/v1/workflows/ws-bad"_qs, gateway->token()).status, 404);
    }
};

QTEST_GUILESS_MAIN(TestWorkspaceGateway)
#include "tst_workspacegateway.moc"
