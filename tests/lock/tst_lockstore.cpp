#include <QScopeGuard>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTest>

#include "lock/lockstore.h"
#include "lock/memorylockstore.h"
#include "lock/redislockstore.h"
#include "lockfixture.h"
#include "tempredis.h"

using namespace std::chrono_literals;
using namespace Lockstep;
using namespace Lockstep::Lock;
using Lockstep::Test::await;
using Lockstep::Test::describe;
using Lockstep::Test::peek;

// The lock store contract, run against the in-process memory store and a real
// redis-server (TempRedis) with the same checks; a few Redis-only cases cover
// what only a network store can do (several replicas, server down, no answer).
class TestLockStore : public QObject, private Test::LockFixture
{
    Q_OBJECT

private:
    static LockResult<AcquireResult> acquire(LockStore &store, const QString &workflowId, const QString &session,
                                             std::chrono::milliseconds ttl = 30s)
    {
        return await<AcquireResult>([&](auto done) { store.acquire(workflowId, session, ttl, nullptr, done); });
    }
    static LockResult<bool> release(LockStore &store, const QString &workflowId, const QByteArray &value)
    {
        return await<bool>([&](auto done) { store.release(workflowId, value, nullptr, done); });
    }
    static LockResult<bool> refresh(LockStore &store, const QString &workflowId, const QByteArray &value,
                                    std::chrono::milliseconds ttl = 30s)
    {
        return await<bool>([&](auto done) { store.refresh(workflowId, value, ttl, nullptr, done); });
    }

private slots:
    void initTestCase()
    {
        const QString redisError = ensureRedis();
        QVERIFY2(redisError.isEmpty(), qPrintable(redisError));
    }

    void init()
    {
        // Every test starts from an empty Redis that is up.
        const QString redisError = ensureRedis();
        QVERIFY2(redisError.isEmpty(), qPrintable(redisError));
        QCOMPARE(m_admin.command({"FLUSHALL"}), QByteArray("OK"));
    }

    void acquireWhenFree_data()
    {
        addBackends();
    }
    void acquireWhenFree()
    {
        QFETCH(QString, backend);
        auto store = makeStore(backend, {.replicaId = QStringLiteral("replica-a")});
        const QString workflow = newWorkflowId();

        const auto result = acquire(*store, workflow, QStringLiteral("session-1"), 30s);
        QVERIFY2(result, describe(result).constData());
        QVERIFY(result->acquired);
        QVERIFY(result->holder.parsed);
        QCOMPARE(result->holder.replica, QStringLiteral("replica-a"));
        QCOMPARE(result->holder.session, QStringLiteral("session-1"));
        QVERIFY(result->holder.fence > 0);
        QCOMPARE(result->ttlMs, qint64(30000));
        // The value names replica, session and fence, and parses back to the same holder.
        const LockHolder decoded = decodeLockValue(result->holder.value);
        QCOMPARE(decoded.fence, result->holder.fence);
        QCOMPARE(decoded.session, QStringLiteral("session-1"));
        if (backend == u"redis")
        {
            QCOMPARE(m_admin.command({"GET", "lockstep:lock:" + workflow.toUtf8()}), result->holder.value);
            const qint64 pttl = m_admin.command({"PTTL", "lockstep:lock:" + workflow.toUtf8()}).toLongLong();
            QVERIFY2(pttl > 0 && pttl <= 30000, QByteArray::number(pttl).constData());
            QCOMPARE(m_admin.command({"GET", "lockstep:fence:" + workflow.toUtf8()}).toLongLong(),
                     result->holder.fence);
        }
    }

    void acquireWhileHeldReportsHolder_data()
    {
        addBackends();
    }
    void acquireWhileHeldReportsHolder()
    {
        QFETCH(QString, backend);
        auto store = makeStore(backend);
        const QString workflow = newWorkflowId();
        const auto first = acquire(*store, workflow, QStringLiteral("tab-1"));
        QVERIFY2(first && first->acquired, describe(first).constData());

        const auto second = acquire(*store, workflow, QStringLiteral("tab-2"));
        QVERIFY2(second, describe(second).constData());
        QVERIFY(!second->acquired);
        QCOMPARE(second->holder.session, QStringLiteral("tab-1"));
        QCOMPARE(second->holder.fence, first->holder.fence);
        QCOMPARE(second->holder.value, first->holder.value);
        QVERIFY2(second->ttlMs > 0 && second->ttlMs <= 30000, QByteArray::number(second->ttlMs).constData());

        // Even the same session does not get it twice: one execution per lock.
        const auto again = acquire(*store, workflow, QStringLiteral("tab-1"));
        QVERIFY2(again && !again->acquired, describe(again).constData());
    }

    void releaseFreesAndFenceGrows_data()
    {
        addBackends();
    }
    void releaseFreesAndFenceGrows()
    {
        QFETCH(QString, backend);
        auto store = makeStore(backend);
        const QString workflow = newWorkflowId();
        const auto first = acquire(*store, workflow, QStringLiteral("s1"));
        QVERIFY2(first && first->acquired, describe(first).constData());

        const auto released = release(*store, workflow, first->holder.value);
        QVERIFY2(released, describe(released).constData());
        QVERIFY(released.value());
        const auto state = peek(*store, workflow);
        QVERIFY2(state, describe(state).constData());
        QVERIFY(!state->held);

        // Releasing twice is harmless and says so.
        const auto twice = release(*store, workflow, first->holder.value);
        QVERIFY2(twice && !twice.value(), describe(twice).constData());

        const auto second = acquire(*store, workflow, QStringLiteral("s2"));
        QVERIFY2(second && second->acquired, describe(second).constData());
        QVERIFY(second->holder.fence > first->holder.fence);
    }

    void fencesStrictlyIncrease_data()
    {
        addBackends();
    }
    void fencesStrictlyIncrease()
    {
        QFETCH(QString, backend);
        auto store = makeStore(backend);
        const QString workflow = newWorkflowId();
        const QString other = newWorkflowId();
        qint64 previous = 0;
        for (int i = 0; i < 300; ++i)
        {
            const auto got = acquire(*store, workflow, QStringLiteral("s%1").arg(i));
            QVERIFY2(got && got->acquired, describe(got).constData());
            QVERIFY2(
                got->holder.fence > previous,
                qPrintable(QStringLiteral("cycle %1: fence %2 after %3").arg(i).arg(got->holder.fence).arg(previous)));
            previous = got->holder.fence;
            // A refused acquire in between must not disturb the sequence.
            const auto refused = acquire(*store, workflow, QStringLiteral("intruder"));
            QVERIFY2(refused && !refused->acquired, describe(refused).constData());
            const auto released = release(*store, workflow, got->holder.value);
            QVERIFY2(released && released.value(), describe(released).constData());
        }
        // Fences are per workflow: another workflow starts its own sequence.
        const auto elsewhere = acquire(*store, other, QStringLiteral("s"));
        QVERIFY2(elsewhere && elsewhere->acquired, describe(elsewhere).constData());
        QCOMPARE(elsewhere->holder.fence, qint64(1));
    }

    // A run store that carries a fence from elsewhere: the holder takes a
    // fresh fence above it without letting go of the lock.
    void raiseFenceMovesPastTheFloor_data()
    {
        addBackends();
    }
    void raiseFenceMovesPastTheFloor()
    {
        QFETCH(QString, backend);
        auto store = makeStore(backend, {.replicaId = QStringLiteral("gw-r")});
        const QString workflow = newWorkflowId();
        const auto got = acquire(*store, workflow, QStringLiteral("s1"), 20s);
        QVERIFY2(got && got->acquired, describe(got).constData());
        QCOMPARE(got->holder.fence, qint64(1));

        const auto raised = await<std::optional<LockHolder>>(
            [&](auto done) { store->raiseFence(workflow, got->holder.value, 41, nullptr, done); });
        QVERIFY2(raised && raised->has_value(), describe(raised).constData());
        QCOMPARE((*raised)->fence, qint64(42));
        QCOMPARE((*raised)->session, QStringLiteral("s1"));
        QCOMPARE((*raised)->replica, QStringLiteral("gw-r"));

        auto state = peek(*store, workflow);
        QVERIFY2(state && state->held, describe(state).constData());
        QCOMPARE(state->holder.fence, qint64(42));
        QCOMPARE(state->holder.value, (*raised)->value);
        QVERIFY2(state->ttlMs > 1000 && state->ttlMs <= 20000, QByteArray::number(state->ttlMs).constData());

        // The old value no longer holds the lock; the new one does.
        const auto stale = refresh(*store, workflow, got->holder.value);
        QVERIFY2(stale && !stale.value(), describe(stale).constData());
        const auto own = refresh(*store, workflow, (*raised)->value);
        QVERIFY2(own && own.value(), describe(own).constData());

        // A floor below the counter still takes the next fence: fences only grow.
        const auto again = await<std::optional<LockHolder>>(
            [&](auto done) { store->raiseFence(workflow, (*raised)->value, 3, nullptr, done); });
        QVERIFY2(again && again->has_value(), describe(again).constData());
        QCOMPARE((*again)->fence, qint64(43));

        // Someone else's value raises nothing.
        const auto foreign = await<std::optional<LockHolder>>(
            [&](auto done) { store->raiseFence(workflow, got->holder.value, 1000, nullptr, done); });
        QVERIFY2(foreign && !foreign->has_value(), describe(foreign).constData());
        state = peek(*store, workflow);
        QVERIFY2(state && state->held, describe(state).constData());
        QCOMPARE(state->holder.fence, qint64(43));

        // The counter keeps the raise: the next holder is above it.
        QVERIFY(release(*store, workflow, (*again)->value).value());
        const auto next = acquire(*store, workflow, QStringLiteral("s2"));
        QVERIFY2(next && next->acquired, describe(next).constData());
        QCOMPARE(next->holder.fence, qint64(44));

        // A free lock raises nothing either.
        QVERIFY(release(*store, workflow, next->holder.value).value());
        const auto freeRaise = await<std::optional<LockHolder>>(
            [&](auto done) { store->raiseFence(workflow, next->holder.value, 1000, nullptr, done); });
        QVERIFY2(freeRaise && !freeRaise->has_value(), describe(freeRaise).constData());
    }

    void pingAnswers_data()
    {
        addBackends();
    }
    void pingAnswers()
    {
        QFETCH(QString, backend);
        auto store = makeStore(backend);
        const auto pong = await<Ok>([&](auto done) { store->ping(nullptr, done); });
        QVERIFY2(pong, describe(pong).constData());
        if (backend == u"redis")
        {
            m_redis.kill();
            const auto down = await<Ok>([&](auto done) { store->ping(nullptr, done); });
            QVERIFY(!down);
            QVERIFY(down.error().isUnavailable());
            QVERIFY2(ensureRedis().isEmpty(), "redis restart");
        }
    }

    void staleReleaseKeepsNewerHolder_data()
    {
        addBackends();
    }
    void staleReleaseKeepsNewerHolder()
    {
        QFETCH(QString, backend);
        auto store = makeStore(backend);
        const QString workflow = newWorkflowId();
        const auto a = acquire(*store, workflow, QStringLiteral("A"), 300ms);
        QVERIFY2(a && a->acquired, describe(a).constData());

        // A pauses past its TTL; the lock frees by itself.
        QTRY_VERIFY_WITH_TIMEOUT(([&] {
                                     const auto state = peek(*store, workflow);
                                     return state && !state->held;
                                 }()),
                                 10000);
        const auto b = acquire(*store, workflow, QStringLiteral("B"), 30s);
        QVERIFY2(b && b->acquired, describe(b).constData());
        QVERIFY(b->holder.fence > a->holder.fence);

        // A wakes up and releases with its old value: nothing happens to B.
        const auto staleRelease = release(*store, workflow, a->holder.value);
        QVERIFY2(staleRelease, describe(staleRelease).constData());
        QVERIFY(!staleRelease.value());
        const auto staleRefresh = refresh(*store, workflow, a->holder.value);
        QVERIFY2(staleRefresh && !staleRefresh.value(), describe(staleRefresh).constData());
        const auto state = peek(*store, workflow);
        QVERIFY2(state && state->held, describe(state).constData());
        QCOMPARE(state->holder.session, QStringLiteral("B"));
        QCOMPARE(state->holder.fence, b->holder.fence);
    }

    void refreshOnlyByOwner_data()
    {
        addBackends();
    }
    void refreshOnlyByOwner()
    {
        QFETCH(QString, backend);
        auto store = makeStore(backend);
        const QString workflow = newWorkflowId();
        const auto got = acquire(*store, workflow, QStringLiteral("s"), 1s);
        QVERIFY2(got && got->acquired, describe(got).constData());

        const auto foreign = refresh(
            *store, workflow, encodeLockValue(QStringLiteral("other"), QStringLiteral("s"), got->holder.fence), 60s);
        QVERIFY2(foreign && !foreign.value(), describe(foreign).constData());
        auto state = peek(*store, workflow);
        QVERIFY2(state && state->held, describe(state).constData());
        QVERIFY2(state->ttlMs <= 1000, QByteArray::number(state->ttlMs).constData());

        const auto own = refresh(*store, workflow, got->holder.value, 60s);
        QVERIFY2(own && own.value(), describe(own).constData());
        state = peek(*store, workflow);
        QVERIFY2(state && state->held, describe(state).constData());
        QVERIFY2(state->ttlMs > 1000 && state->ttlMs <= 60000, QByteArray::number(state->ttlMs).constData());

        // Nothing to refresh on a free lock.
        QVERIFY(release(*store, workflow, got->holder.value).value());
        const auto gone = refresh(*store, workflow, got->holder.value);
        QVERIFY2(gone && !gone.value(), describe(gone).constData());
    }

    void peekReportsHolderFenceTtl_data()
    {
        addBackends();
    }
    void peekReportsHolderFenceTtl()
    {
        QFETCH(QString, backend);
        auto store = makeStore(backend, {.replicaId = QStringLiteral("gw-1")});
        const QString workflow = newWorkflowId();
        const auto free = peek(*store, workflow);
        QVERIFY2(free, describe(free).constData());
        QVERIFY(!free->held);

        const auto got = acquire(*store, workflow, QStringLiteral("session-x"), 20s);
        QVERIFY2(got && got->acquired, describe(got).constData());
        const auto state = peek(*store, workflow);
        QVERIFY2(state && state->held, describe(state).constData());
        QVERIFY(state->holder.parsed);
        QCOMPARE(state->holder.replica, QStringLiteral("gw-1"));
        QCOMPARE(state->holder.session, QStringLiteral("session-x"));
        QCOMPARE(state->holder.fence, got->holder.fence);
        QVERIFY2(state->ttlMs > 0 && state->ttlMs <= 20000, QByteArray::number(state->ttlMs).constData());
    }

    void answersNeverInsideTheCall_data()
    {
        addBackends();
    }
    void answersNeverInsideTheCall()
    {
        QFETCH(QString, backend);
        auto store = makeStore(backend);
        const QString workflow = newWorkflowId();
        bool answered = false;
        store->acquire(workflow, QStringLiteral("s"), 30s, nullptr, [&answered](const auto &) { answered = true; });
        QVERIFY(!answered);
        QTRY_VERIFY(answered);
        answered = false;
        store->acquire(QString(), QStringLiteral("s"), 30s, nullptr, [&answered](const auto &) { answered = true; });
        QVERIFY(!answered);  // even a refusal of bad input comes from the event loop
        QTRY_VERIFY(answered);
    }

    void contextGuardsTheAnswer_data()
    {
        addBackends();
    }
    void contextGuardsTheAnswer()
    {
        QFETCH(QString, backend);
        auto store = makeStore(backend);
        const QString workflow = newWorkflowId();
        int answers = 0;
        auto context = std::make_unique<QObject>();
        store->acquire(workflow, QStringLiteral("s"), 30s, context.get(), [&answers](const auto &) { ++answers; });
        context.reset();
        // The call itself still ran: the lock is held, nobody heard about it.
        const auto state = peek(*store, workflow);
        QVERIFY2(state && state->held, describe(state).constData());
        QCOMPARE(answers, 0);
    }

    void invalidArguments_data()
    {
        QTest::addColumn<QString>("backend");
        QTest::addColumn<QString>("workflow");
        QTest::addColumn<QString>("session");
        QTest::addColumn<qint64>("ttlMs");
        for (const QString &backend : {QStringLiteral("memory"), QStringLiteral("redis")})
        {
            const QByteArray tag = backend.toUtf8();
            QTest::addRow("%s empty workflow", tag.constData())
                << backend << QString() << QStringLiteral("s") << qint64(1000);
            QTest::addRow("%s empty session", tag.constData())
                << backend << QStringLiteral("wf") << QString() << qint64(1000);
            QTest::addRow("%s control char", tag.constData())
                << backend << QStringLiteral("wf\nx") << QStringLiteral("s") << qint64(1000);
            QTest::addRow("%s too long", tag.constData())
                << backend << QString(513, u'a') << QStringLiteral("s") << qint64(1000);
            QTest::addRow("%s zero ttl", tag.constData())
                << backend << QStringLiteral("wf") << QStringLiteral("s") << qint64(0);
            QTest::addRow("%s negative ttl", tag.constData())
                << backend << QStringLiteral("wf") << QStringLiteral("s") << qint64(-5);
            QTest::addRow("%s ttl over a day", tag.constData())
                << backend << QStringLiteral("wf") << QStringLiteral("s") << qint64(86400001);
        }
    }
    void invalidArguments()
    {
        QFETCH(QString, backend);
        QFETCH(QString, workflow);
        QFETCH(QString, session);
        QFETCH(qint64, ttlMs);
        auto store = makeStore(backend);
        const auto result = acquire(*store, workflow, session, std::chrono::milliseconds(ttlMs));
        QVERIFY(!result);
        QCOMPARE(result.error().kind, LockError::Kind::InvalidArgument);
        QVERIFY(!result.error().isUnavailable());
        QVERIFY(!result.error().message.isEmpty());
        if (backend == u"redis")
            QCOMPARE(m_admin.command({"DBSIZE"}), QByteArray("0"));  // nothing reached Redis

        const auto released = release(*store, QStringLiteral("wf"), QByteArray());
        QVERIFY(!released);
        QCOMPARE(released.error().kind, LockError::Kind::InvalidArgument);
    }

    // ---- Redis only ----

    void twoReplicasShareTheLock()
    {
        auto replicaA = makeStore(QStringLiteral("redis"), {.replicaId = QStringLiteral("replica-a")});
        auto replicaB = makeStore(QStringLiteral("redis"), {.replicaId = QStringLiteral("replica-b")});
        const QString workflow = newWorkflowId();
        const auto a = acquire(*replicaA, workflow, QStringLiteral("tab-1"));
        QVERIFY2(a && a->acquired, describe(a).constData());
        const auto b = acquire(*replicaB, workflow, QStringLiteral("tab-2"));
        QVERIFY2(b && !b->acquired, describe(b).constData());
        QCOMPARE(b->holder.replica, QStringLiteral("replica-a"));
        QCOMPARE(b->holder.session, QStringLiteral("tab-1"));
        const auto seenFromB = peek(*replicaB, workflow);
        QVERIFY2(seenFromB && seenFromB->held, describe(seenFromB).constData());
        QCOMPARE(seenFromB->holder.fence, a->holder.fence);

        QVERIFY(release(*replicaA, workflow, a->holder.value).value());
        const auto b2 = acquire(*replicaB, workflow, QStringLiteral("tab-2"));
        QVERIFY2(b2 && b2->acquired, describe(b2).constData());
        QVERIFY(b2->holder.fence > a->holder.fence);
    }

    void acquireWhileRedisDownFailsFast()
    {
        // callTimeout is long: the answer must come from "connection refused", not the timer.
        auto connected = makeStore(QStringLiteral("redis"), {.callTimeout = 60s});
        const QString workflow = newWorkflowId();
        const auto before = acquire(*connected, workflow, QStringLiteral("s"));
        QVERIFY2(before && before->acquired, describe(before).constData());

        m_redis.kill();
        auto fresh = makeStore(QStringLiteral("redis"), {.callTimeout = 60s});
        for (LockStore *store : {connected.get(), fresh.get()})
        {
            for (int attempt = 0; attempt < 3; ++attempt)
            {
                const auto result = acquire(*store, newWorkflowId(), QStringLiteral("s"));
                QVERIFY(!result);
                QCOMPARE(result.error().kind, LockError::Kind::Unavailable);
                QVERIFY(result.error().isUnavailable());
                QVERIFY2(result.error().message.contains(QStringLiteral("127.0.0.1")),
                         qPrintable(result.error().message));
            }
            const auto peeked = peek(*store, workflow);
            QVERIFY(!peeked);
            QCOMPARE(peeked.error().kind, LockError::Kind::Unavailable);
        }
        QCOMPARE(static_cast<RedisLockStore *>(connected.get())->pendingCalls(), 0);

        // Back up: the next call reconnects by itself.
        QVERIFY2(m_redis.start(), qPrintable(m_redis.errorString()));
        for (LockStore *store : {connected.get(), fresh.get()})
        {
            const auto after = acquire(*store, newWorkflowId(), QStringLiteral("s"));
            QVERIFY2(after && after->acquired, describe(after).constData());
        }
        QVERIFY(static_cast<RedisLockStore *>(connected.get())->isConnected());
    }

    void silentServerTimesOut()
    {
        // Accepts connections and never answers: a hung Redis or a black-holed network.
        QTcpServer silent;
        QList<QTcpSocket *> accepted;
        connect(&silent, &QTcpServer::newConnection, this, [&] {
            while (QTcpSocket *socket = silent.nextPendingConnection())
                accepted.append(socket);
        });
        QVERIFY(silent.listen(QHostAddress::LocalHost));
        const auto endpoint = parseRedisUrl(QStringLiteral("redis://127.0.0.1:%1").arg(silent.serverPort()));
        QVERIFY(endpoint);
        RedisLockStore store(endpoint.value(), {.callTimeout = 300ms});

        for (int attempt = 0; attempt < 2; ++attempt)
        {
            const auto result = acquire(store, QStringLiteral("wf"), QStringLiteral("s"));
            QVERIFY(!result);
            QCOMPARE(result.error().kind, LockError::Kind::Timeout);
            QVERIFY(result.error().isUnavailable());
            QCOMPARE(store.pendingCalls(), 0);
        }
        // Each timeout dropped its connection; the next call opened a new one.
        QTRY_COMPARE(accepted.size(), 2);
        QTRY_VERIFY(std::all_of(accepted.cbegin(), accepted.cend(), [](QTcpSocket *socket) {
            return socket->state() == QAbstractSocket::UnconnectedState;
        }));
    }

    void unresolvableHostFails()
    {
        const auto endpoint = parseRedisUrl(QStringLiteral("redis://no-such-host.invalid:6379"));
        QVERIFY(endpoint);
        RedisLockStore store(endpoint.value(), {.callTimeout = 10s});
        const auto result = acquire(store, QStringLiteral("wf"), QStringLiteral("s"));
        QVERIFY(!result);
        QVERIFY2(result.error().kind == LockError::Kind::Unavailable || result.error().kind == LockError::Kind::Timeout,
                 describe(result).constData());
    }

    void hostNameIsResolved()
    {
        const auto endpoint = parseRedisUrl(QStringLiteral("redis://localhost:%1").arg(m_redis.port()));
        QVERIFY(endpoint);
        RedisLockStore store(endpoint.value());
        const auto got = acquire(store, newWorkflowId(), QStringLiteral("s"));
        QVERIFY2(got && got->acquired, describe(got).constData());
    }

    void foreignValueIsReportedRaw()
    {
        auto store = makeStore(QStringLiteral("redis"));
        const QString workflow = newWorkflowId();
        QCOMPARE(m_admin.command({"SET", "lockstep:lock:" + workflow.toUtf8(), "not-lockstep", "PX", "30000"}),
                 QByteArray("OK"));
        const auto state = peek(*store, workflow);
        QVERIFY2(state && state->held, describe(state).constData());
        QVERIFY(!state->holder.parsed);
        QCOMPARE(state->holder.value, QByteArray("not-lockstep"));
        const auto got = acquire(*store, workflow, QStringLiteral("s"));
        QVERIFY2(got && !got->acquired, describe(got).constData());

        // A key of the wrong type is a store error, not a crash or a false "free".
        QCOMPARE(m_admin.command({"DEL", "lockstep:lock:" + workflow.toUtf8()}), QByteArray("1"));
        QCOMPARE(m_admin.command({"HSET", "lockstep:fence:" + workflow.toUtf8(), "a", "b"}), QByteArray("1"));
        const auto broken = acquire(*store, workflow, QStringLiteral("s"));
        QVERIFY(!broken);
        QCOMPARE(broken.error().kind, LockError::Kind::StoreError);
    }

    void scriptCacheFlushIsSurvived()
    {
        auto store = makeStore(QStringLiteral("redis"));
        const QString workflow = newWorkflowId();
        QVERIFY(acquire(*store, workflow, QStringLiteral("s"))->acquired);
        QCOMPARE(m_admin.command({"SCRIPT", "FLUSH"}), QByteArray("OK"));
        const auto state = peek(*store, workflow);  // NOSCRIPT, then EVAL
        QVERIFY2(state && state->held, describe(state).constData());
    }

    void passwordAndDatabase()
    {
        QCOMPARE(m_admin.command({"CONFIG", "SET", "requirepass", "s3cret-pw"}), QByteArray("OK"));
        const auto restore = qScopeGuard([this] {
            m_admin.command({"AUTH", "s3cret-pw"});
            m_admin.command({"CONFIG", "SET", "requirepass", ""});
        });
        const QString workflow = newWorkflowId();
        {
            RedisLockStore store(
                parseRedisUrl(QStringLiteral("redis://:s3cret-pw@127.0.0.1:%1/3").arg(m_redis.port())).value());
            const auto got = acquire(store, workflow, QStringLiteral("s"));
            QVERIFY2(got && got->acquired, describe(got).constData());
        }
        m_admin.command({"AUTH", "s3cret-pw"});
        QCOMPARE(m_admin.command({"SELECT", "3"}), QByteArray("OK"));
        QCOMPARE(m_admin.command({"EXISTS", "lockstep:lock:" + workflow.toUtf8()}), QByteArray("1"));
        QCOMPARE(m_admin.command({"SELECT", "0"}), QByteArray("OK"));

        RedisLockStore wrong(parseRedisUrl(QStringLiteral("redis://:nope@127.0.0.1:%1").arg(m_redis.port())).value());
        const auto refused = acquire(wrong, newWorkflowId(), QStringLiteral("s"));
        QVERIFY(!refused);
        QCOMPARE(refused.error().kind, LockError::Kind::StoreError);
        QVERIFY2(refused.error().message.contains(QStringLiteral("authentication")),
                 qPrintable(refused.error().message));
        QVERIFY(!refused.error().message.contains(QStringLiteral("nope")));
    }

    // ---- no backend ----

    void redisUrls_data()
    {
        QTest::addColumn<QString>("url");
        QTest::addColumn<bool>("valid");
        QTest::addColumn<QString>("host");
        QTest::addColumn<int>("port");
        QTest::addColumn<int>("database");
        QTest::addColumn<QString>("redacted");
        QTest::newRow("plain") << QStringLiteral("redis://127.0.0.1:6380") << true << QStringLiteral("127.0.0.1")
                               << 6380 << 0 << QStringLiteral("redis://127.0.0.1:6380");
        QTest::newRow("default port") << QStringLiteral("redis://cache.internal") << true
                                      << QStringLiteral("cache.internal") << 6379 << 0
                                      << QStringLiteral("redis://cache.internal:6379");
        QTest::newRow("ipv6") << QStringLiteral("redis://[::1]:7000/2") << true << QStringLiteral("::1") << 7000 << 2
                              << QStringLiteral("redis://[::1]:7000/2");
        QTest::newRow("password") << QStringLiteral("redis://:pa%40ss@h:1") << true << QStringLiteral("h") << 1 << 0
                                  << QStringLiteral("redis://:***@h:1");
        QTest::newRow("acl user") << QStringLiteral("redis://app:pw@h:2/1") << true << QStringLiteral("h") << 2 << 1
                                  << QStringLiteral("redis://app:***@h:2/1");
        QTest::newRow("tls") << QStringLiteral("rediss://h:1") << false << QString() << 0 << 0 << QString();
        QTest::newRow("http") << QStringLiteral("http://h:1") << false << QString() << 0 << 0 << QString();
        QTest::newRow("no scheme") << QStringLiteral("127.0.0.1:6379") << false << QString() << 0 << 0 << QString();
        QTest::newRow("no host") << QStringLiteral("redis://:6379") << false << QString() << 0 << 0 << QString();
        QTest::newRow("bad port") << QStringLiteral("redis://h:99999") << false << QString() << 0 << 0 << QString();
        QTest::newRow("bad db") << QStringLiteral("redis://h:1/x") << false << QString() << 0 << 0 << QString();
        QTest::newRow("user without password")
            << QStringLiteral("redis://app@h:1") << false << QString() << 0 << 0 << QString();
        QTest::newRow("query") << QStringLiteral("redis://h:1?timeout=1") << false << QString() << 0 << 0 << QString();
        QTest::newRow("empty") << QString() << false << QString() << 0 << 0 << QString();
    }
    void redisUrls()
    {
        QFETCH(QString, url);
        QFETCH(bool, valid);
        const auto parsed = parseRedisUrl(url);
        QCOMPARE(bool(parsed), valid);
        if (!valid)
        {
            QCOMPARE(parsed.error().kind, LockError::Kind::InvalidArgument);
            QVERIFY(parsed.error().message.startsWith(QStringLiteral("--redis: ")));
            return;
        }
        QFETCH(QString, host);
        QFETCH(int, port);
        QFETCH(int, database);
        QFETCH(QString, redacted);
        QCOMPARE(parsed->host, host);
        QCOMPARE(int(parsed->port), port);
        QCOMPARE(parsed->database, database);
        QCOMPARE(parsed->redacted(), redacted);
        if (url.contains(QStringLiteral("pa%40ss")))
            QCOMPARE(parsed->password, QStringLiteral("pa@ss"));
    }

    void createLockStoreChoosesBackend()
    {
        auto memory = createLockStore(QString(), {});
        QVERIFY(memory);
        QCOMPARE(memory.value()->kind(), QStringLiteral("memory"));
        QVERIFY(!memory.value()->options().replicaId.isEmpty());
        auto redis = createLockStore(m_redis.url(), {.replicaId = QStringLiteral("r9")});
        QVERIFY(redis);
        QCOMPARE(redis.value()->kind(), QStringLiteral("redis"));
        QCOMPARE(redis.value()->options().replicaId, QStringLiteral("r9"));
        QVERIFY(!createLockStore(QStringLiteral("memcached://x"), {}));
        QVERIFY(!createLockStore(QString(), {.ttl = 0ms}));
        QVERIFY(!createLockStore(QString(), {.callTimeout = 0ms}));
    }

    void lockValueCodec()
    {
        const QByteArray value = encodeLockValue(QStringLiteral("rép\"lica"), QStringLiteral("s/1 \\ x"), 42);
        const LockHolder holder = decodeLockValue(value);
        QVERIFY(holder.parsed);
        QCOMPARE(holder.replica, QStringLiteral("rép\"lica"));
        QCOMPARE(holder.session, QStringLiteral("s/1 \\ x"));
        QCOMPARE(holder.fence, qint64(42));
        QCOMPARE(holder.value, value);
        for (const QByteArray &junk : {QByteArray(), QByteArray("x"), QByteArray("[]"),
                                       QByteArray(R"({"fence":"1","replica":"r","session":"s"})")})
        {
            const LockHolder bad = decodeLockValue(junk);
            QVERIFY(!bad.parsed);
            QCOMPARE(bad.value, junk);
            QCOMPARE(bad.fence, qint64(0));
        }
    }
};

QTEST_GUILESS_MAIN(TestLockStore)
#include "tst_lockstore.moc"
