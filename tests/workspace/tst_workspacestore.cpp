#include <QJsonDocument>
#include <QTemporaryDir>
#include <QTest>

#include "store/runstore.h"
#include "store/storeworker.h"
#include "temppostgres.h"
#include "workspace/agentdirectory.h"
#include "workspace/workspaceroutes.h"

using namespace Lockstep;
using namespace Lockstep::Workspace;

// The workspace_agents table (schema version 2) on SQLite and PostgreSQL, the
// agent directory on top of it, and the gateway's workspace routes.
class TestWorkspaceStore : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    Test::TempPostgres m_pg;
    int m_counter = 0;

    std::unique_ptr<Store::RunStore> open(const QString &backend)
    {
        ++m_counter;
        QString spec;
        if (backend == u"sqlite")
        {
            spec = u"sqlite:"_qs + m_dir.filePath(QStringLiteral("store-%1.db").arg(m_counter));
        }
        else
        {
            const auto created = m_pg.createDatabase();
            if (!created)
                qFatal("createDatabase: %s", qPrintable(m_pg.errorString()));
            spec = *created;
        }
        auto store = Store::RunStore::open(spec);
        if (!store)
            qFatal("open %s: %s", qPrintable(spec), qPrintable(store.error().message));
        return std::move(store).value();
    }

    // The directory's answer, waited for.
    static AgentDirectory::Lookup lookup(AgentDirectory &directory, const QString &workspaceId)
    {
        std::optional<AgentDirectory::Lookup> answer;
        QObject context;
        directory.lookupCurrentAgent(workspaceId, &context, [&answer](const AgentDirectory::Lookup &found) { answer = found; });
        if (!QTest::qWaitFor([&answer] { return answer.has_value(); }, 20000))
            return unexpected(DirectoryError{u"no answer within 20 s"_qs});
        return *answer;
    }

    static QByteArray json(const QJsonObject &object)
    {
        return QJsonDocument(object).toJson(QJsonDocument::Compact);
    }

private slots:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        QVERIFY2(m_pg.start(), qPrintable(m_pg.errorString()));
    }

    void builds_data()
    {
        QTest::addColumn<QString>("backend");
        QTest::newRow("sqlite") << u"sqlite"_qs;
        QTest::newRow("postgresql") << u"postgresql"_qs;
    }

    void builds()
    {
        QFETCH(QString, backend);
        const auto store = open(backend);
        QCOMPARE(store->schemaVersion().value(), Store::RunStore::latestSchemaVersion());
        QVERIFY(Store::RunStore::latestSchemaVersion() >= 2);

        QVERIFY(!store->workspaceState(u"ws"_qs).value().has_value());
        auto first = store->registerWorkspaceAgent(u"ws"_qs, u"a1"_qs, u"127.0.0.1"_qs, 4001);
        QVERIFY2(first, first ? "" : qPrintable(first.error().message));
        QCOMPARE(first->build, 1);
        QCOMPARE(first->agentId, u"a1"_qs);
        QCOMPARE(first->port, 4001);

        // The same agent again (periodic re-registration): same build.
        auto again = store->registerWorkspaceAgent(u"ws"_qs, u"a1"_qs, u"127.0.0.1"_qs, 4002);
        QCOMPARE(again->build, 1);
        QCOMPARE(again->port, 4002);

        // A rebuild: a new agent ID is a new build.
        auto rebuilt = store->registerWorkspaceAgent(u"ws"_qs, u"a2"_qs, u"127.0.0.1"_qs, 4003);
        QCOMPARE(rebuilt->build, 2);
        QCOMPARE(store->workspaceState(u"ws"_qs).value()->agentId, u"a2"_qs);

        // A late stop from the replaced agent must not stop the new build.
        auto stale = store->stopWorkspace(u"ws"_qs, u"a1"_qs);
        QVERIFY(stale);
        QVERIFY(!stale->stopped);
        QCOMPARE(stale->workspace->agentId, u"a2"_qs);
        QCOMPARE(stale->workspace->build, 2);

        // Stopping: the latest build has no agent.
        auto stopped = store->stopWorkspace(u"ws"_qs, u"a2"_qs);
        QVERIFY(stopped->stopped);
        QCOMPARE(stopped->workspace->build, 3);
        QVERIFY(stopped->workspace->agentId.isEmpty());
        const auto state = store->workspaceState(u"ws"_qs).value();
        QVERIFY(state.has_value());
        QVERIFY(state->agentId.isEmpty());
        QCOMPARE(state->port, 0);

        // Stopping again is a no-op; starting again is a new build.
        auto twice = store->stopWorkspace(u"ws"_qs, std::nullopt);
        QVERIFY(!twice->stopped);
        QCOMPARE(twice->workspace->build, 3);
        auto restarted = store->registerWorkspaceAgent(u"ws"_qs, u"a2"_qs, u"127.0.0.1"_qs, 4004);
        QCOMPARE(restarted->build, 4);

        // An unknown workspace: nothing to stop.
        auto unknown = store->stopWorkspace(u"never"_qs, std::nullopt);
        QVERIFY(!unknown->stopped);
        QVERIFY(!unknown->workspace.has_value());

        // Bad input is a typed error, not a crash.
        QVERIFY(!store->registerWorkspaceAgent(u""_qs, u"a"_qs, u"127.0.0.1"_qs, 1));
        QVERIFY(!store->registerWorkspaceAgent(u"ws"_qs, u""_qs, u"127.0.0.1"_qs, 1));
        QVERIFY(!store->registerWorkspaceAgent(u"ws"_qs, u"a"_qs, u"127.0.0.1"_qs, 0));
        QVERIFY(!store->registerWorkspaceAgent(u"ws"_qs, u"a"_qs, u"127.0.0.1"_qs, 70000));
        QVERIFY(!store->workspaceState(u"w"_qs + QChar(u'\n')));
    }

    void directory_data()
    {
        builds_data();
    }

    void directory()
    {
        QFETCH(QString, backend);
        const auto store = open(backend);
        const auto worker = Store::StoreWorker::inPlace(*store);
        StoreAgentDirectory directory(*worker);
        QVERIFY(!lookup(directory, u"ws"_qs).value().has_value());
        QVERIFY(store->registerWorkspaceAgent(u"ws"_qs, u"a1"_qs, u"127.0.0.1"_qs, 4001));
        const auto current = lookup(directory, u"ws"_qs);
        QVERIFY(current && current->has_value());
        QCOMPARE(current.value()->agentId, u"a1"_qs);
        QCOMPARE(current.value()->host, QHostAddress(QHostAddress::LocalHost));
        QCOMPARE(current.value()->port, 4001);
        QVERIFY(store->stopWorkspace(u"ws"_qs, std::nullopt)->stopped);
        QVERIFY(!lookup(directory, u"ws"_qs).value().has_value());
    }

    void directoryReportsAStoreThatIsDown()
    {
        Test::TempPostgres pg;
        QVERIFY2(pg.start(), qPrintable(pg.errorString()));
        auto store = Store::RunStore::open(pg.connectionSpec());
        QVERIFY(store);
        const auto worker = Store::StoreWorker::inPlace(**store);
        StoreAgentDirectory directory(*worker);
        QVERIFY(lookup(directory, u"ws"_qs));
        QVERIFY(pg.stop());
        const auto down = lookup(directory, u"ws"_qs);
        QVERIFY(!down);
        QVERIFY(!down.error().message.isEmpty());
        // It comes back when the store does.
        QVERIFY2(pg.start(), qPrintable(pg.errorString()));
        QTRY_VERIFY_WITH_TIMEOUT(lookup(directory, u"ws"_qs).hasValue(), 20000);
    }

    void runWorkspaceBinding_data()
    {
        builds_data();
    }

    // A run remembers its workspace and the agent it used last (migration 4);
    // the secret of an agent is stored with its registration (migration 3).
    void runWorkspaceBinding()
    {
        QFETCH(QString, backend);
        const auto store = open(backend);
        QVERIFY(store->createRun(u"wf-1"_qs, u"goal"_qs, u"workspace"_qs, 1));
        QVERIFY(!store->runWorkspace(u"wf-1"_qs).value().has_value());
        QCOMPARE(store->setRunWorkspace(u"wf-1"_qs, {.workspaceId = u"ws"_qs, .agentId = QString()}).value(), true);
        auto bound = store->runWorkspace(u"wf-1"_qs).value();
        QVERIFY(bound);
        QCOMPARE(bound->workspaceId, u"ws"_qs);
        QVERIFY(bound->agentId.isEmpty());
        QCOMPARE(store->setRunWorkspace(u"wf-1"_qs, {.workspaceId = u"ws"_qs, .agentId = u"a1"_qs}).value(), true);
        QCOMPARE(store->runWorkspace(u"wf-1"_qs).value()->agentId, u"a1"_qs);
        QCOMPARE(store->setRunWorkspace(u"nope"_qs, {.workspaceId = u"ws"_qs, .agentId = u"a1"_qs}).value(), false);
        QVERIFY(!store->runWorkspace(u"nope"_qs).value().has_value());
        QVERIFY(!store->setRunWorkspace(u"wf-1"_qs, {.workspaceId = QString(), .agentId = QString()}));

        auto registered = store->registerWorkspaceAgent(u"ws"_qs, u"a1"_qs, u"127.0.0.1"_qs, 4001, "secret-of-a1");
        QVERIFY(registered);
        QCOMPARE(store->workspaceState(u"ws"_qs).value()->secret, QByteArray("secret-of-a1"));
        QVERIFY(store->stopWorkspace(u"ws"_qs, std::nullopt));
        QVERIFY(store->workspaceState(u"ws"_qs).value()->secret.isEmpty());
    }

    void routes()
    {
        const auto store = open(u"sqlite"_qs);
        Routes::Reply reply = Routes::currentAgent(*store, u"ws"_qs);
        QCOMPARE(reply.status, 404);

        reply = Routes::registerAgent(*store, u"ws"_qs, json({{u"agentID"_qs, u"a1"_qs}, {u"host"_qs, u"127.0.0.1"_qs}, {u"port"_qs, 4100}, {u"secret"_qs, u"agent-secret-0123"_qs}}));
        QCOMPARE(reply.status, 200);
        QCOMPARE(reply.body.value(u"build").toInteger(), 1);
        QCOMPARE(reply.body.value(u"state").toString(), u"running"_qs);

        reply = Routes::currentAgent(*store, u"ws"_qs);
        QCOMPARE(reply.status, 200);
        QCOMPARE(reply.body.value(u"agentID").toString(), u"a1"_qs);
        QCOMPARE(reply.body.value(u"port").toInt(), 4100);

        reply = Routes::stopWorkspace(*store, u"ws"_qs, u"someone-else"_qs);
        QCOMPARE(reply.body.value(u"outcome").toString(), u"noop"_qs);
        reply = Routes::stopWorkspace(*store, u"ws"_qs, u"a1"_qs);
        QCOMPARE(reply.status, 200);
        QCOMPARE(reply.body.value(u"outcome").toString(), u"stopped"_qs);
        reply = Routes::currentAgent(*store, u"ws"_qs);
        QCOMPARE(reply.body.value(u"state").toString(), u"stopped"_qs);
        QVERIFY(!reply.body.contains(u"agentID"));
    }

    void routesRefuseBadInput_data()
    {
        QTest::addColumn<QString>("workspaceId");
        QTest::addColumn<QByteArray>("body");
        const QByteArray good = R"({"agentID": "a1", "host": "127.0.0.1", "port": 4100, "secret": "agent-secret-0123"})";
        QTest::newRow("bad workspace id") << u"../x"_qs << good;
        QTest::newRow("not json") << u"ws"_qs << QByteArray("nope");
        QTest::newRow("array") << u"ws"_qs << QByteArray("[]");
        QTest::newRow("no agent") << u"ws"_qs << QByteArray(R"({"host": "127.0.0.1", "port": 4100})");
        QTest::newRow("bad agent") << u"ws"_qs << QByteArray(R"({"agentID": "a b", "host": "127.0.0.1", "port": 4100})");
        QTest::newRow("host name") << u"ws"_qs << QByteArray(R"({"agentID": "a1", "host": "localhost", "port": 4100})");
        QTest::newRow("any address") << u"ws"_qs << QByteArray(R"({"agentID": "a1", "host": "0.0.0.0", "port": 4100})");
        QTest::newRow("not loopback") << u"ws"_qs << QByteArray(R"({"agentID": "a1", "host": "10.1.2.3", "port": 4100})");
        QTest::newRow("port string") << u"ws"_qs << QByteArray(R"({"agentID": "a1", "host": "127.0.0.1", "port": "4100"})");
        QTest::newRow("port 0") << u"ws"_qs << QByteArray(R"({"agentID": "a1", "host": "127.0.0.1", "port": 0})");
        QTest::newRow("port too big") << u"ws"_qs << QByteArray(R"({"agentID": "a1", "host": "127.0.0.1", "port": 65536})");
        QTest::newRow("no secret") << u"ws"_qs << QByteArray(R"({"agentID": "a1", "host": "127.0.0.1", "port": 4100})");
        QTest::newRow("short secret") << u"ws"_qs << QByteArray(R"({"agentID": "a1", "host": "127.0.0.1", "port": 4100, "secret": "abc"})");
    }

    void routesRefuseBadInput()
    {
        QFETCH(QString, workspaceId);
        QFETCH(QByteArray, body);
        const auto store = open(u"sqlite"_qs);
        const Routes::Reply reply = Routes::registerAgent(*store, workspaceId, body);
        QCOMPARE(reply.status, 400);
        QCOMPARE(reply.body.value(u"error").toString(), u"invalid_request"_qs);
        QVERIFY(!reply.body.value(u"message").toString().isEmpty());
    }

    void routesReportAStoreThatIsDown()
    {
        Test::TempPostgres pg;
        QVERIFY2(pg.start(), qPrintable(pg.errorString()));
        auto store = Store::RunStore::open(pg.connectionSpec());
        QVERIFY(store);
        QVERIFY(pg.stop());
        const Routes::Reply reply = Routes::registerAgent(**store, u"ws"_qs, R"({"agentID": "a1", "host": "127.0.0.1", "port": 4100, "secret": "agent-secret-0123"})");
        QCOMPARE(reply.status, 503);
        QCOMPARE(reply.body.value(u"error").toString(), u"store_unavailable"_qs);
    }
};

QTEST_GUILESS_MAIN(TestWorkspaceStore)
#include "tst_workspacestore.moc"
