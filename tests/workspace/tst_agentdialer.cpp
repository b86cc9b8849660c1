#include <QDir>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include "agentprocess.h"
#include "store/runstore.h"
#include "store/storeworker.h"
#include "store/workspacestore.h"
#include "temppostgres.h"
#include "workspace/agentconnection.h"
#include "workspace/agentdialer.h"
#include "workspace/agentdirectory.h"

using namespace Lockstep;
using namespace Lockstep::Workspace;
using Lockstep::Test::AgentProcess;

// Lazy validation (SPEC fix 4) with real lockstep-agent processes and the
// agent directory on a real run store. Timing is never asserted: the dial
// delay is either long (30 s) with the test's own wait much shorter, so only
// the fast path can pass, or short with the event order proving which path ran.
class TestAgentDialer : public QObject
{
    Q_OBJECT

private:
    static constexpr auto LongDelay = std::chrono::seconds(30);
    static constexpr int FastPathWaitMs = 10000;  // well under LongDelay

    QTemporaryDir m_dir;
    QString m_tokenFile;
    std::unique_ptr<Store::RunStore> m_store;
    std::unique_ptr<Store::StoreWorker> m_worker;  // in place, over m_store
    std::unique_ptr<StoreAgentDirectory> m_directory;
    int m_counter = 0;

    struct Folder
    {
        QString id;
        QString folder;
    };

    Folder newWorkspace()
    {
        ++m_counter;
        Folder ws{.id = QStringLiteral("ws-%1").arg(m_counter),
                  .folder = m_dir.filePath(QStringLiteral("ws-%1").arg(m_counter))};
        QDir().mkpath(ws.folder);
        return ws;
    }

    bool startAgent(AgentProcess &agent, const Folder &ws, const QString &agentId)
    {
        if (!agent.start(ws.folder, ws.id, agentId, m_tokenFile))
        {
            qWarning().noquote() << agent.errorString();
            return false;
        }
        return true;
    }

    // startAgent(), then the agent registered in `store` as the workspace's own.
    bool startRegisteredAgent(AgentProcess &agent, const Folder &ws, const QString &agentId, Store::RunStore &store)
    {
        if (!startAgent(agent, ws, agentId))
            return false;
        const AgentAddress address = agent.address();
        const auto written =
            store.workspaces().registerWorkspaceAgent(ws.id, address.agentId, address.host.toString(), address.port);
        if (!written)
        {
            qWarning().noquote() << written.error().message;
            return false;
        }
        return true;
    }

    // The error of the first failed() signal.
    static DialError firstError(const QSignalSpy &failed)
    {
        return failed.at(0).at(0).value<DialError>();
    }

    DialOptions options(const std::chrono::milliseconds delay,
                        const std::chrono::milliseconds timeout = std::chrono::seconds(60))
    {
        return DialOptions{.dialDelay = delay,
                           .dialTimeout = timeout,
                           .retryInterval = std::chrono::milliseconds(100),
                           .maxSwitches = 3,
                           .lazyValidation = true,
                           .token = Test::AgentTestToken};
    }

    static int indexOf(const QList<DialEvent> &events, const DialEvent event)
    {
        return static_cast<int>(events.indexOf(event));
    }

    static QString trace(const AgentDialer &dialer)
    {
        QStringList names;
        for (const DialEvent event : dialer.events())
            names.append(toString(event));
        return names.join(u", ");
    }

private slots:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        QVERIFY2(!AgentProcess::binary().isEmpty(), "LOCKSTEP_AGENT_BIN is not set");
        m_tokenFile = m_dir.filePath(QStringLiteral("tokens"));
        QVERIFY(Test::writeTokenFile(m_tokenFile, Test::AgentTestToken));
        auto store = Store::RunStore::open(QStringLiteral("sqlite:") + m_dir.filePath(QStringLiteral("gateway.db")));
        QVERIFY2(store, store ? "" : qPrintable(store.error().message));
        m_store = std::move(store).value();
        m_worker = Store::StoreWorker::inPlace(*m_store);
        m_directory = std::make_unique<StoreAgentDirectory>(*m_worker);
    }

    void cleanup()
    {
        // Let deleteLater() run, then nothing may be left open.
        QTRY_COMPARE_WITH_TIMEOUT(AgentConnection::liveCount(), 0, 5000);
    }

    void agentUpConnectsWithoutLookingAnythingUp()
    {
        const Folder ws = newWorkspace();
        AgentProcess agent;
        QVERIFY(startRegisteredAgent(agent, ws, QStringLiteral("agent-up"), *m_store));

        AgentDialer dialer(*m_directory, options(LongDelay));
        QSignalSpy connected(&dialer, &AgentDialer::connected);
        QSignalSpy failed(&dialer, &AgentDialer::failed);
        dialer.start({.workspaceId = ws.id, .agent = agent.address()});
        QTRY_COMPARE_WITH_TIMEOUT(connected.count(), 1, FastPathWaitMs);
        QCOMPARE(failed.count(), 0);
        // The happy path never asks the directory.
        QCOMPARE(trace(dialer), QStringLiteral("dial, connected"));
        std::unique_ptr<AgentConnection> connection(dialer.takeConnection());
        QVERIFY(connection && connection->isReady());
        QCOMPARE(connection->agentId(), QStringLiteral("agent-up"));
        QVERIFY(!dialer.takeConnection());
    }

    void stoppedWorkspaceFailsFastWhenTheStoreKnows()
    {
        const Folder ws = newWorkspace();
        AgentProcess agent;
        QVERIFY(startRegisteredAgent(agent, ws, QStringLiteral("agent-stopped"), *m_store));
        const AgentAddress bound = agent.address();
        // The workspace is stopped: the agent is gone and the store knows.
        QCOMPARE(agent.terminate(), 0);
        const auto stopped = m_store->workspaces().stopWorkspace(ws.id, bound.agentId);
        QVERIFY(stopped && stopped->stopped);

        AgentDialer dialer(*m_directory, options(LongDelay));
        QSignalSpy failed(&dialer, &AgentDialer::failed);
        QSignalSpy connected(&dialer, &AgentDialer::connected);
        dialer.start({.workspaceId = ws.id, .agent = bound});
        // Well under the 30 s dial delay: only the quick-failure path fits.
        QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, FastPathWaitMs);
        QCOMPARE(connected.count(), 0);
        const auto error = firstError(failed);
        QCOMPARE(toString(error.failure), toString(DialFailure::NoRunningAgent));
        QVERIFY(error.terminal);
        QVERIFY2(error.message.startsWith(u"workspace has no running agent"), qPrintable(error.message));
        const QList<DialEvent> events = dialer.events();
        QVERIFY2(!events.contains(DialEvent::DelayElapsed), qPrintable(trace(dialer)));
        QVERIFY2(indexOf(events, DialEvent::QuickFailure) < indexOf(events, DialEvent::NoAgent),
                 qPrintable(trace(dialer)));
        QVERIFY(events.constLast() == DialEvent::Failed);
    }

    void stoppedWorkspaceFoundAfterTheDialDelay()
    {
        // The bound agent is frozen: the kernel accepts the connection but
        // nothing answers the hello, so the dial stays pending. The store
        // still lists the agent when the dial starts and learns of the stop
        // only afterwards; the dial delay's validation finds it.
        const Folder ws = newWorkspace();
        AgentProcess agent;
        QVERIFY(startRegisteredAgent(agent, ws, QStringLiteral("agent-frozen"), *m_store));
        QVERIFY(agent.freeze());

        AgentDialer dialer(*m_directory, options(std::chrono::milliseconds(1000), std::chrono::seconds(120)));
        QSignalSpy failed(&dialer, &AgentDialer::failed);
        dialer.start({.workspaceId = ws.id, .agent = agent.address()});
        QTRY_VERIFY_WITH_TIMEOUT(dialer.events().contains(DialEvent::Dial), 5000);
        QVERIFY(!dialer.events().contains(DialEvent::Lookup));
        const auto stopped = m_store->workspaces().stopWorkspace(ws.id, agent.agentId());
        QVERIFY(stopped && stopped->stopped);

        // The delay (1 s) plus a margin, far below the dial timeout (120 s).
        QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 1000 + 10000);
        const auto error = firstError(failed);
        QCOMPARE(toString(error.failure), toString(DialFailure::NoRunningAgent));
        const QList<DialEvent> events = dialer.events();
        QCOMPARE(trace(dialer), QStringLiteral("dial, delay_elapsed, lookup, no_agent, attempt_cancelled, failed"));
        QCOMPARE(dialer.attempts(agent.agentId()), 1);
        QVERIFY(agent.thaw());
    }

    void rebuiltWorkspaceSwitchesToTheNewAgent()
    {
        const Folder ws = newWorkspace();
        AgentProcess oldAgent;
        QVERIFY(startRegisteredAgent(oldAgent, ws, QStringLiteral("agent-old"), *m_store));
        const AgentAddress bound = oldAgent.address();
        // Rebuild: the old agent goes away, a new one with a new ID registers.
        oldAgent.kill();
        AgentProcess newAgent;
        QVERIFY(startRegisteredAgent(newAgent, ws, QStringLiteral("agent-new"), *m_store));

        AgentDialer dialer(*m_directory, options(LongDelay));
        QSignalSpy connected(&dialer, &AgentDialer::connected);
        QSignalSpy switched(&dialer, &AgentDialer::switched);
        dialer.start({.workspaceId = ws.id, .agent = bound});
        QTRY_COMPARE_WITH_TIMEOUT(connected.count(), 1, FastPathWaitMs);
        QCOMPARE(connected.at(0).at(0).value<AgentAddress>().agentId, QStringLiteral("agent-new"));
        QCOMPARE(switched.count(), 1);
        QCOMPARE(switched.at(0).at(0).value<std::optional<AgentAddress>>()->agentId, QStringLiteral("agent-old"));
        QCOMPARE(switched.at(0).at(1).value<AgentAddress>().agentId, QStringLiteral("agent-new"));
        QCOMPARE(dialer.attempts(QStringLiteral("agent-new")), 1);
        QCOMPARE(dialer.switches(), 1);
        QCOMPARE(dialer.currentAgent()->agentId, QStringLiteral("agent-new"));
        std::unique_ptr<AgentConnection> connection(dialer.takeConnection());
        QCOMPARE(connection->agentId(), QStringLiteral("agent-new"));
    }

    void rebuiltWhileTheOldAgentHangs()
    {
        // The old agent is frozen (its dial hangs); the delay's validation
        // finds the new agent, cancels the stale attempt and dials the new one once.
        const Folder ws = newWorkspace();
        AgentProcess oldAgent;
        QVERIFY(startRegisteredAgent(oldAgent, ws, QStringLiteral("agent-hung"), *m_store));
        QVERIFY(oldAgent.freeze());
        AgentProcess newAgent;
        QVERIFY(startRegisteredAgent(newAgent, ws, QStringLiteral("agent-fresh"), *m_store));

        AgentDialer dialer(*m_directory, options(std::chrono::milliseconds(500)));
        QSignalSpy connected(&dialer, &AgentDialer::connected);
        dialer.start({.workspaceId = ws.id, .agent = oldAgent.address()});
        QTRY_COMPARE_WITH_TIMEOUT(connected.count(), 1, 15000);
        QCOMPARE(trace(dialer),
                 QStringLiteral("dial, delay_elapsed, lookup, other_agent, attempt_cancelled, dial, connected"));
        QCOMPARE(dialer.attempts(QStringLiteral("agent-fresh")), 1);
        QCOMPARE(dialer.attempts(QStringLiteral("agent-hung")), 1);
        // Only the connection we were handed is alive; the stale one is gone.
        std::unique_ptr<AgentConnection> connection(dialer.takeConnection());
        QTRY_COMPARE_WITH_TIMEOUT(AgentConnection::liveCount(), 1, 5000);
        connection.reset();
        QVERIFY(oldAgent.thaw());
    }

    void lateConnectionOfACancelledDialIsClosed()
    {
        // A listener that accepts late: the stale dial's TCP handshake completes
        // in the kernel, the accept comes only after the dial was cancelled.
        const Folder ws = newWorkspace();
        Test::ScriptedAgent stale(QStringLiteral("agent-late"));
        QVERIFY(stale.listen());
        stale.pauseAccepting();
        AgentProcess current;
        QVERIFY(startRegisteredAgent(current, ws, QStringLiteral("agent-current"), *m_store));

        AgentDialer dialer(*m_directory, options(std::chrono::milliseconds(300)));
        QSignalSpy connected(&dialer, &AgentDialer::connected);
        dialer.start({.workspaceId = ws.id, .agent = stale.address()});
        QTRY_COMPARE_WITH_TIMEOUT(connected.count(), 1, 15000);
        QVERIFY(dialer.events().contains(DialEvent::AttemptCancelled));
        QCOMPARE(stale.accepted, 0);

        // The late accept finds a connection the dialer already closed.
        stale.resumeAccepting();
        QTRY_COMPARE_WITH_TIMEOUT(stale.accepted, 1, 10000);
        QTRY_COMPARE_WITH_TIMEOUT(stale.closedByPeer, 1, 10000);
        QCOMPARE(stale.callRequests + stale.listToolsRequests, 0);
        std::unique_ptr<AgentConnection> connection(dialer.takeConnection());
        QCOMPARE(AgentConnection::liveCount(), 1);
    }

    void storeUnreachableKeepsWaitingOnTheOriginalDial()
    {
        // The store is PostgreSQL here, so it can really go down.
        Test::TempPostgres pg;
        QVERIFY2(pg.start(), qPrintable(pg.errorString()));
        auto opened = Store::RunStore::open(pg.connectionSpec());
        QVERIFY2(opened, opened ? "" : qPrintable(opened.error().message));
        std::unique_ptr<Store::RunStore> store = std::move(opened).value();
        const auto worker = Store::StoreWorker::inPlace(*store);
        StoreAgentDirectory directory(*worker);

        const Folder ws = newWorkspace();
        AgentProcess agent;
        QVERIFY(startRegisteredAgent(agent, ws, QStringLiteral("agent-patient"), *store));
        QVERIFY(agent.freeze());
        QVERIFY(pg.stop());

        AgentDialer dialer(directory, options(std::chrono::milliseconds(300)));
        QSignalSpy connected(&dialer, &AgentDialer::connected);
        QSignalSpy failed(&dialer, &AgentDialer::failed);
        dialer.start({.workspaceId = ws.id, .agent = agent.address()});
        // The lookup fails: that proves nothing, so the dial goes on.
        QTRY_VERIFY_WITH_TIMEOUT(dialer.events().contains(DialEvent::LookupFailed), 15000);
        QCOMPARE(failed.count(), 0);
        QVERIFY(agent.thaw());
        QTRY_COMPARE_WITH_TIMEOUT(connected.count(), 1, 15000);
        QCOMPARE(failed.count(), 0);
        // The original attempt completed: it was never cancelled or redone.
        QCOMPARE(dialer.attempts(agent.agentId()), 1);
        QVERIFY(!dialer.events().contains(DialEvent::AttemptCancelled));
        QVERIFY(!dialer.events().contains(DialEvent::NoAgent));
        std::unique_ptr<AgentConnection> connection(dialer.takeConnection());
        QCOMPARE(connection->agentId(), QStringLiteral("agent-patient"));
    }

    void storeUnreachableAndAgentSilentTimesOut()
    {
        Test::TempPostgres pg;
        QVERIFY2(pg.start(), qPrintable(pg.errorString()));
        auto opened = Store::RunStore::open(pg.connectionSpec());
        QVERIFY(opened);
        std::unique_ptr<Store::RunStore> store = std::move(opened).value();
        const auto worker = Store::StoreWorker::inPlace(*store);
        StoreAgentDirectory directory(*worker);
        const Folder ws = newWorkspace();
        AgentProcess agent;
        QVERIFY(startRegisteredAgent(agent, ws, QStringLiteral("agent-silent"), *store));
        QVERIFY(agent.freeze());
        QVERIFY(pg.stop());

        AgentDialer dialer(directory, options(std::chrono::milliseconds(300), std::chrono::milliseconds(2000)));
        QSignalSpy failed(&dialer, &AgentDialer::failed);
        dialer.start({.workspaceId = ws.id, .agent = agent.address()});
        QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 20000);
        const auto error = firstError(failed);
        QCOMPARE(toString(error.failure), toString(DialFailure::Timeout));
        QVERIFY(!error.terminal);
        QVERIFY2(error.message.contains(u"could not be checked"), qPrintable(error.message));
        QVERIFY(dialer.events().contains(DialEvent::LookupFailed));
        QVERIFY(dialer.events().constLast() == DialEvent::Failed);
        QVERIFY(agent.thaw());
    }

    void unboundRunLooksUpFirst()
    {
        const Folder ws = newWorkspace();
        AgentProcess agent;
        QVERIFY(startRegisteredAgent(agent, ws, QStringLiteral("agent-found"), *m_store));
        AgentDialer dialer(*m_directory, options(LongDelay));
        QSignalSpy connected(&dialer, &AgentDialer::connected);
        QSignalSpy switched(&dialer, &AgentDialer::switched);
        dialer.start({.workspaceId = ws.id, .agent = std::nullopt});
        QTRY_COMPARE_WITH_TIMEOUT(connected.count(), 1, FastPathWaitMs);
        QVERIFY(dialer.events().constFirst() == DialEvent::Lookup);
        QCOMPARE(switched.count(), 1);
        QVERIFY(!switched.at(0).at(0).value<std::optional<AgentAddress>>().has_value());
        QCOMPARE(dialer.switches(), 0);
        std::unique_ptr<AgentConnection> connection(dialer.takeConnection());
    }

    void neverRegisteredWorkspaceHasNoAgent()
    {
        AgentDialer dialer(*m_directory, options(LongDelay));
        QSignalSpy failed(&dialer, &AgentDialer::failed);
        dialer.start({.workspaceId = QStringLiteral("ws-never"), .agent = std::nullopt});
        QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, FastPathWaitMs);
        QCOMPARE(toString(firstError(failed).failure), toString(DialFailure::NoRunningAgent));
    }

    void wrongTokenIsTerminal()
    {
        const Folder ws = newWorkspace();
        AgentProcess agent;
        QVERIFY(startRegisteredAgent(agent, ws, QStringLiteral("agent-strict"), *m_store));
        DialOptions wrong = options(LongDelay);
        wrong.token = QByteArrayLiteral("someone-elses-token");
        AgentDialer dialer(*m_directory, wrong);
        QSignalSpy failed(&dialer, &AgentDialer::failed);
        dialer.start({.workspaceId = ws.id, .agent = agent.address()});
        QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, FastPathWaitMs);
        const auto error = firstError(failed);
        QCOMPARE(toString(error.failure), toString(DialFailure::Unauthorized));
        QVERIFY(error.terminal);
    }

    void invalidBinding()
    {
        AgentDialer dialer(*m_directory, options(LongDelay));
        QSignalSpy failed(&dialer, &AgentDialer::failed);
        dialer.start({.workspaceId = QStringLiteral("../etc"), .agent = std::nullopt});
        // Never synchronously from start().
        QCOMPARE(failed.count(), 0);
        QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 5000);
        QCOMPARE(toString(firstError(failed).failure), toString(DialFailure::InvalidBinding));
        QVERIFY(!dialer.events().contains(DialEvent::Lookup));
    }

    void cancelStopsEverything()
    {
        const Folder ws = newWorkspace();
        AgentProcess agent;
        QVERIFY(startRegisteredAgent(agent, ws, QStringLiteral("agent-cancel"), *m_store));
        QVERIFY(agent.freeze());
        AgentDialer dialer(*m_directory, options(std::chrono::milliseconds(200), std::chrono::milliseconds(600)));
        QSignalSpy failed(&dialer, &AgentDialer::failed);
        QSignalSpy connected(&dialer, &AgentDialer::connected);
        dialer.start({.workspaceId = ws.id, .agent = agent.address()});
        QTRY_VERIFY_WITH_TIMEOUT(dialer.events().contains(DialEvent::Dial), 5000);
        dialer.cancel();
        QTRY_COMPARE_WITH_TIMEOUT(AgentConnection::liveCount(), 0, 5000);
        // Past the delay and the timeout: no signal, no further events.
        const qsizetype seen = dialer.events().size();
        QTest::qWait(1000);
        QCOMPARE(failed.count() + connected.count(), 0);
        QCOMPARE(dialer.events().size(), seen);
        QVERIFY(dialer.events().constLast() == DialEvent::Cancelled);
        QVERIFY(agent.thaw());
    }

    void baselineWithoutValidationWaitsForTheTimeout()
    {
        // The original behaviour, kept for the benchmark: no lookup, the dial
        // retries the dead agent until its timeout.
        const Folder ws = newWorkspace();
        AgentProcess agent;
        QVERIFY(startRegisteredAgent(agent, ws, QStringLiteral("agent-baseline"), *m_store));
        const AgentAddress bound = agent.address();
        QCOMPARE(agent.terminate(), 0);
        QVERIFY(m_store->workspaces().stopWorkspace(ws.id, bound.agentId));
        DialOptions old = options(std::chrono::milliseconds(100), std::chrono::milliseconds(1500));
        old.lazyValidation = false;
        AgentDialer dialer(*m_directory, old);
        QSignalSpy failed(&dialer, &AgentDialer::failed);
        dialer.start({.workspaceId = ws.id, .agent = bound});
        QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 15000);
        QCOMPARE(toString(firstError(failed).failure), toString(DialFailure::Timeout));
        QVERIFY(!dialer.events().contains(DialEvent::Lookup));
        QVERIFY(dialer.attempts(bound.agentId) > 1);
    }
};

QTEST_GUILESS_MAIN(TestAgentDialer)
#include "tst_agentdialer.moc"
