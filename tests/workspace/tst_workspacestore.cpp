#include <QJsonDocument>
#include <QTemporaryDir>
#include <QTest>

#include "store/runstore.h"
#include "store/storeworker.h"
#include "store/workspacestore.h"
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
            spec = QStringLiteral("sqlite:") + m_dir.filePath(QStringLiteral("store-%1.db").arg(m_counter));
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
        directory.lookupCurrentAgent(workspaceId, &context,
                                     [&answer](const AgentDirectory::Lookup &found) { answer = found; });
        if (!QTest::qWaitFor([&answer] { return answer.has_value(); }, 20000))
            return unexpected(DirectoryError{QStringLiteral("no answer within 20 s")});
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
        QTest::newRow("sqlite") << QStringLiteral("sqlite");
        QTest::newRow("postgresql") << QStringLiteral("postgresql");
    }

    void builds()
    {
        QFETCH(QString, backend);
        const auto store = open(backend);
        QCOMPARE(store->schemaVersion().value(), Store::RunStore::latestSchemaVersion());
        QVERIFY(Store::RunStore::latestSchemaVersion() >= 2);

        QVERIFY(!store->workspaces().workspaceState(QStringLiteral("ws")).value().has_value());
        auto first = store->workspaces().registerWorkspaceAgent(QStringLiteral("ws"), QStringLiteral("a1"),
                                                                QStringLiteral("127.0.0.1"), 4001);
        QVERIFY2(first, first ? "" : qPrintable(first.error().message));
        QCOMPARE(first->build, 1);
        QCOMPARE(first->agentId, QStringLiteral("a1"));
        QCOMPARE(first->port, 4001);

        // The same agent again (periodic re-registration): same build.
        auto again = store->workspaces().registerWorkspaceAgent(QStringLiteral("ws"), QStringLiteral("a1"),
                                                                QStringLiteral("127.0.0.1"), 4002);
        QCOMPARE(again->build, 1);
        QCOMPARE(again->port, 4002);

        // A rebuild: a new agent ID is a new build.
        auto rebuilt = store->workspaces().registerWorkspaceAgent(QStringLiteral("ws"), QStringLiteral("a2"),
                                                                  QStringLiteral("127.0.0.1"), 4003);
        QCOMPARE(rebuilt->build, 2);
        QCOMPARE(store->workspaces().workspaceState(QStringLiteral("ws")).value()->agentId, QStringLiteral("a2"));

        // A late stop from the replaced agent must not stop the new build.
        auto stale = store->workspaces().stopWorkspace(QStringLiteral("ws"), QStringLiteral("a1"));
        QVERIFY(stale);
        QVERIFY(!stale->stopped);
        QCOMPARE(stale->workspace->agentId, QStringLiteral("a2"));
        QCOMPARE(stale->workspace->build, 2);

        // Stopping: the latest build has no agent.
        auto stopped = store->workspaces().stopWorkspace(QStringLiteral("ws"), QStringLiteral("a2"));
        QVERIFY(stopped->stopped);
        QCOMPARE(stopped->workspace->build, 3);
        QVERIFY(stopped->workspace->agentId.isEmpty());
        const auto state = store->workspaces().workspaceState(QStringLiteral("ws")).value();
        QVERIFY(state.has_value());
        QVERIFY(state->agentId.isEmpty());
        QCOMPARE(state->port, 0);

        // Stopping again is a no-op; starting again is a new build.
        auto twice = store->workspaces().stopWorkspace(QStringLiteral("ws"), std::nullopt);
        QVERIFY(!twice->stopped);
        QCOMPARE(twice->workspace->build, 3);
        auto restarted = store->workspaces().registerWorkspaceAgent(QStringLiteral("ws"), QStringLiteral("a2"),
                                                                    QStringLiteral("127.0.0.1"), 4004);
        QCOMPARE(restarted->build, 4);

        // An unknown workspace: nothing to stop.
        auto unknown = store->workspaces().stopWorkspace(QStringLiteral("never"), std::nullopt);
        QVERIFY(!unknown->stopped);
        QVERIFY(!unknown->workspace.has_value());

        // Bad input is a typed error, not a crash.
        QVERIFY(!store->workspaces().registerWorkspaceAgent(QStringLiteral(""), QStringLiteral("a"),
                                                            QStringLiteral("127.0.0.1"), 1));
        QVERIFY(!store->workspaces().registerWorkspaceAgent(QStringLiteral("ws"), QStringLiteral(""),
                                                            QStringLiteral("127.0.0.1"), 1));
        QVERIFY(!store->workspaces().registerWorkspaceAgent(QStringLiteral("ws"), QStringLiteral("a"),
                                                            QStringLiteral("127.0.0.1"), 0));
        QVERIFY(!store->workspaces().registerWorkspaceAgent(QStringLiteral("ws"), QStringLiteral("a"),
                                                            QStringLiteral("127.0.0.1"), 70000));
        QVERIFY(!store->workspaces().workspaceState(QStringLiteral("w") + QChar(u'\n')));
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
        QVERIFY(!lookup(directory, QStringLiteral("ws")).value().has_value());
        QVERIFY(store->workspaces().registerWorkspaceAgent(QStringLiteral("ws"), QStringLiteral("a1"),
                                                           QStringLiteral("127.0.0.1"), 4001));
        const auto current = lookup(directory, QStringLiteral("ws"));
        QVERIFY(current && current->has_value());
        QCOMPARE(current.value()->agentId, QStringLiteral("a1"));
        QCOMPARE(current.value()->host, QHostAddress(QHostAddress::LocalHost));
        QCOMPARE(current.value()->port, 4001);
        QVERIFY(store->workspaces().stopWorkspace(QStringLiteral("ws"), std::nullopt)->stopped);
        QVERIFY(!lookup(directory, QStringLiteral("ws")).value().has_value());
    }

    void directoryReportsAStoreThatIsDown()
    {
        Test::TempPostgres pg;
        QVERIFY2(pg.start(), qPrintable(pg.errorString()));
        auto store = Store::RunStore::open(pg.connectionSpec());
        QVERIFY(store);
        const auto worker = Store::StoreWorker::inPlace(**store);
        StoreAgentDirectory directory(*worker);
        QVERIFY(lookup(directory, QStringLiteral("ws")));
        QVERIFY(pg.stop());
        const auto down = lookup(directory, QStringLiteral("ws"));
        QVERIFY(!down);
        QVERIFY(!down.error().message.isEmpty());
        // It comes back when the store does.
        QVERIFY2(pg.start(), qPrintable(pg.errorString()));
        QTRY_VERIFY_WITH_TIMEOUT(lookup(directory, QStringLiteral("ws")).hasValue(), 20000);
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
        QVERIFY(store->createRun(QStringLiteral("wf-1"), QStringLiteral("goal"), QStringLiteral("workspace"), 1));
        QVERIFY(!store->workspaces().runWorkspace(QStringLiteral("wf-1")).value().has_value());
        QCOMPARE(
            store->workspaces()
                .setRunWorkspace(QStringLiteral("wf-1"), {.workspaceId = QStringLiteral("ws"), .agentId = QString()})
                .value(),
            true);
        auto bound = store->workspaces().runWorkspace(QStringLiteral("wf-1")).value();
        QVERIFY(bound);
        QCOMPARE(bound->workspaceId, QStringLiteral("ws"));
        QVERIFY(bound->agentId.isEmpty());
        QCOMPARE(store->workspaces()
                     .setRunWorkspace(QStringLiteral("wf-1"),
                                      {.workspaceId = QStringLiteral("ws"), .agentId = QStringLiteral("a1")})
                     .value(),
                 true);
        QCOMPARE(store->workspaces().runWorkspace(QStringLiteral("wf-1")).value()->agentId, QStringLiteral("a1"));
        QCOMPARE(store->workspaces()
                     .setRunWorkspace(QStringLiteral("nope"),
                                      {.workspaceId = QStringLiteral("ws"), .agentId = QStringLiteral("a1")})
                     .value(),
                 false);
        QVERIFY(!store->workspaces().runWorkspace(QStringLiteral("nope")).value().has_value());
        QVERIFY(!store->workspaces().setRunWorkspace(QStringLiteral("wf-1"),
                                                     {.workspaceId = QString(), .agentId = QString()}));

        auto registered = store->workspaces().registerWorkspaceAgent(QStringLiteral("ws"), QStringLiteral("a1"),
                                                                     QStringLiteral("127.0.0.1"), 4001, "secret-of-a1");
        QVERIFY(registered);
        QCOMPARE(store->workspaces().workspaceState(QStringLiteral("ws")).value()->secret, QByteArray("secret-of-a1"));
        QVERIFY(store->workspaces().stopWorkspace(QStringLiteral("ws"), std::nullopt));
        QVERIFY(store->workspaces().workspaceState(QStringLiteral("ws")).value()->secret.isEmpty());
    }

    void routes()
    {
        const auto store = open(QStringLiteral("sqlite"));
        Routes::Reply reply = Routes::currentAgent(store->workspaces(), QStringLiteral("ws"));
        QCOMPARE(reply.status, 404);

        reply = Routes::registerAgent(store->workspaces(), QStringLiteral("ws"),
                                      json({{QStringLiteral("agentID"), QStringLiteral("a1")},
                                            {QStringLiteral("host"), QStringLiteral("127.0.0.1")},
                                            {QStringLiteral("port"), 4100},
                                            {QStringLiteral("secret"), QStringLiteral("agent-secret-0123")}}));
        QCOMPARE(reply.status, 200);
        QCOMPARE(reply.body.value(u"build").toInteger(), 1);
        QCOMPARE(reply.body.value(u"state").toString(), QStringLiteral("running"));

        reply = Routes::currentAgent(store->workspaces(), QStringLiteral("ws"));
        QCOMPARE(reply.status, 200);
        QCOMPARE(reply.body.value(u"agentID").toString(), QStringLiteral("a1"));
        QCOMPARE(reply.body.value(u"port").toInt(), 4100);

        reply = Routes::stopWorkspace(store->workspaces(), QStringLiteral("ws"), QStringLiteral("someone-else"));
        QCOMPARE(reply.body.value(u"outcome").toString(), QStringLiteral("noop"));
        reply = Routes::stopWorkspace(store->workspaces(), QStringLiteral("ws"), QStringLiteral("a1"));
        QCOMPARE(reply.status, 200);
        QCOMPARE(reply.body.value(u"outcome").toString(), QStringLiteral("stopped"));
        reply = Routes::currentAgent(store->workspaces(), QStringLiteral("ws"));
        QCOMPARE(reply.body.value(u"state").toString(), QStringLiteral("stopped"));
        QVERIFY(!reply.body.contains(u"agentID"));
    }

    void routesRefuseBadInput_data()
    {
        QTest::addColumn<QString>("workspaceId");
        QTest::addColumn<QByteArray>("body");
        const QByteArray good =
            R"({"agentID": "a1", "host": "127.0.0.1", "port": 4100, "secret": "agent-secret-0123"})";
        QTest::newRow("bad workspace id") << QStringLiteral("../x") << good;
        QTest::newRow("not json") << QStringLiteral("ws") << QByteArray("nope");
        QTest::newRow("array") << QStringLiteral("ws") << QByteArray("[]");
        QTest::newRow("no agent") << QStringLiteral("ws") << QByteArray(R"({"host": "127.0.0.1", "port": 4100})");
        QTest::newRow("bad agent") << QStringLiteral("ws")
                                   << QByteArray(R"({"agentID": "a b", "host": "127.0.0.1", "port": 4100})");
        QTest::newRow("host name") << QStringLiteral("ws")
                                   << QByteArray(R"({"agentID": "a1", "host": "localhost", "port": 4100})");
        QTest::newRow("any address") << QStringLiteral("ws")
                                     << QByteArray(R"({"agentID": "a1", "host": "0.0.0.0", "port": 4100})");
        QTest::newRow("not loopback") << QStringLiteral("ws")
                                      << QByteArray(R"({"agentID": "a1", "host": "10.1.2.3", "port": 4100})");
        QTest::newRow("port string") << QStringLiteral("ws")
                                     << QByteArray(R"({"agentID": "a1", "host": "127.0.0.1", "port": "4100"})");
        QTest::newRow("port 0") << QStringLiteral("ws")
                                << QByteArray(R"({"agentID": "a1", "host": "127.0.0.1", "port": 0})");
        QTest::newRow("port too big") << QStringLiteral("ws")
                                      << QByteArray(R"({"agentID": "a1", "host": "127.0.0.1", "port": 65536})");
        QTest::newRow("no secret") << QStringLiteral("ws")
                                   << QByteArray(R"({"agentID": "a1", "host": "127.0.0.1", "port": 4100})");
        QTest::newRow("short secret")
            << QStringLiteral("ws")
            << QByteArray(R"({"agentID": "a1", "host": "127.0.0.1", "port": 4100, "secret": "abc"})");
    }

    void routesRefuseBadInput()
    {
        QFETCH(QString, workspaceId);
        QFETCH(QByteArray, body);
        const auto store = open(QStringLiteral("sqlite"));
        const Routes::Reply reply = Routes::registerAgent(store->workspaces(), workspaceId, body);
        QCOMPARE(reply.status, 400);
        QCOMPARE(reply.body.value(u"error").toString(), QStringLiteral("invalid_request"));
        QVERIFY(!reply.body.value(u"message").toString().isEmpty());
    }

    void routesReportAStoreThatIsDown()
    {
        Test::TempPostgres pg;
        QVERIFY2(pg.start(), qPrintable(pg.errorString()));
        auto store = Store::RunStore::open(pg.connectionSpec());
        QVERIFY(store);
        QVERIFY(pg.stop());
        const Routes::Reply reply = Routes::registerAgent(
            (*store)->workspaces(), QStringLiteral("ws"),
            R"({"agentID": "a1", "host": "127.0.0.1", "port": 4100, "secret": "agent-secret-0123"})");
        QCOMPARE(reply.status, 503);
        QCOMPARE(reply.body.value(u"error").toString(), QStringLiteral("store_unavailable"));
    }
};

QTEST_GUILESS_MAIN(TestWorkspaceStore)
#include "tst_workspacestore.moc"
