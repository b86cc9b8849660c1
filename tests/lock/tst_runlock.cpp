#include <thread>

#include <QLoggingCategory>
#include <QPointer>
#include <QSignalSpy>
#include <QTest>

#include "lock/memorylockstore.h"
#include "lock/redislockstore.h"
#include "lock/runlock.h"
#include "lockfixture.h"
#include "tempredis.h"

using namespace std::chrono_literals;
using namespace Lockstep;
using namespace Lockstep::Lock;
using Lockstep::Test::await;
using Lockstep::Test::describe;
using Lockstep::Test::peek;

namespace
{
    // Answers acquire at once and never answers a refresh: a store that hangs
    // mid-heartbeat for longer than the call timeout covers.
    class HangingRefreshStore final : public LockStore
    {
    public:
        HangingRefreshStore()
            : LockStore({.replicaId = QStringLiteral("hang")})
        {}
        QString kind() const override
        {
            return QStringLiteral("hanging");
        }
        int refreshes = 0;

    protected:
        void doAcquire(const QString &, const QString &session, std::chrono::milliseconds ttl,
                       Completion<AcquireResult> done) override
        {
            const QByteArray value = encodeLockValue(options().replicaId, session, 1);
            answerLater<AcquireResult>(
                std::move(done),
                AcquireResult{.acquired = true, .holder = decodeLockValue(value), .ttlMs = ttl.count()});
        }
        void doRefresh(const QString &, const QByteArray &, std::chrono::milliseconds, Completion<bool>) override
        {
            ++refreshes;
        }
        void doRelease(const QString &, const QByteArray &, Completion<bool> done) override
        {
            answerLater<bool>(std::move(done), true);
        }
        void doPeek(const QString &, Completion<LockSnapshot> done) override
        {
            answerLater<LockSnapshot>(std::move(done), LockSnapshot{});
        }
        void doRaiseFence(const QString &, const QByteArray &, qint64,
                          Completion<std::optional<LockHolder>> done) override
        {
            answerLater<std::optional<LockHolder>>(std::move(done), std::optional<LockHolder>());
        }
        void doPing(Completion<Ok> done) override
        {
            answerLater<Ok>(std::move(done), Ok{});
        }
    };
}  // namespace

// RunLock: acquisition, heartbeat, loss and release of one execution's lock,
// against the memory store and a real Redis.
class TestRunLock : public QObject, private Test::LockFixture
{
    Q_OBJECT

private:
    static bool isFree(LockStore &store, const QString &workflowId)
    {
        const auto state = peek(store, workflowId);
        return state && !state->held;
    }

    // Deletes the key whoever holds it, as an operator or a bug would.
    void deleteBehindTheBack(const QString &backend, LockStore &store, const QString &workflowId)
    {
        if (backend == u"memory")
            QVERIFY(static_cast<MemoryLockStore &>(store).forceRemove(workflowId));
        else
            QCOMPARE(m_admin.command({"DEL", "lockstep:lock:" + workflowId.toUtf8()}), QByteArray("1"));
    }

private slots:
    void initTestCase()
    {
        // One debug line per acquisition would drown the 10 000-cycle leak check.
        QLoggingCategory::setFilterRules(QStringLiteral("lockstep.lock.debug=false"));
        const QString redisError = ensureRedis();
        QVERIFY2(redisError.isEmpty(), qPrintable(redisError));
    }

    void init()
    {
        QCOMPARE(RunLock::liveHeartbeats(), 0);
        const QString redisError = ensureRedis();
        QVERIFY2(redisError.isEmpty(), qPrintable(redisError));
        QCOMPARE(m_admin.command({"FLUSHALL"}), QByteArray("OK"));
    }

    void cleanup()
    {
        // No test may leave a heartbeat timer behind.
        QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete);
        QCOMPARE(RunLock::liveHeartbeats(), 0);
    }

    // A gateway thread stuck past the TTL (a database that hangs mid-statement)
    // keeps its Redis locks: the store's keeper refreshes them from a thread
    // of its own, and the heartbeat reads what it saw.
    void stuckEventLoopKeepsTheRedisLock()
    {
        auto store = makeStore(QStringLiteral("redis"), {.ttl = 300ms});
        const QString workflow = newWorkflowId();
        RunLock lock(store.get());
        QSignalSpy acquired(&lock, &RunLock::acquired);
        QSignalSpy refreshed(&lock, &RunLock::refreshed);
        QSignalSpy lost(&lock, &RunLock::lost);
        QSignalSpy released(&lock, &RunLock::released);
        lock.acquire(workflow, QStringLiteral("stuck"));
        QVERIFY(acquired.wait(10000));

        std::this_thread::sleep_for(1500ms);  // five TTLs without an event loop
        QTest::qWait(400);                    // the heartbeat runs again
        QCOMPARE(lost.size(), 0);
        QVERIFY(!refreshed.isEmpty());
        QCOMPARE(lock.state(), RunLock::State::Holding);
        const auto state = peek(*store, workflow);
        QVERIFY2(state && state->held, describe(state).constData());
        QCOMPARE(state->holder.value, lock.holder().value);

        lock.release();
        QVERIFY(released.wait(10000));
        QCOMPARE(released.at(0).at(0).toBool(), true);
        QVERIFY(isFree(*store, workflow));
    }

    // A raised fence is the one the lock holds afterwards: heartbeats keep it,
    // and a release sent while the raise is still out deletes the key.
    void raisedFenceIsKeptAndReleased_data()
    {
        addBackends();
    }
    void raisedFenceIsKeptAndReleased()
    {
        QFETCH(QString, backend);
        auto store = makeStore(backend, {.ttl = 300ms});
        const QString workflow = newWorkflowId();
        RunLock lock(store.get());
        QSignalSpy acquired(&lock, &RunLock::acquired);
        QSignalSpy lost(&lock, &RunLock::lost);
        QSignalSpy released(&lock, &RunLock::released);
        lock.acquire(workflow, QStringLiteral("session-r"));
        QVERIFY(acquired.wait(10000));
        QCOMPARE(lock.fence(), qint64(1));

        std::optional<Lock::LockResult<std::optional<qint64>>> answer;
        lock.raiseFence(99, [&](Lock::LockResult<std::optional<qint64>> result) { answer = std::move(result); });
        QTRY_VERIFY_WITH_TIMEOUT(answer.has_value(), 10000);
        QVERIFY2(*answer && (*answer)->has_value(), describe(*answer).constData());
        QCOMPARE(***answer, qint64(100));
        QCOMPARE(lock.fence(), qint64(100));

        // Heartbeats go on with the new value for several TTLs.
        QTest::qWait(3 * 300 + 150);
        QCOMPARE(lost.size(), 0);
        auto state = peek(*store, workflow);
        QVERIFY2(state && state->held, describe(state).constData());
        QCOMPARE(state->holder.fence, qint64(100));

        // Release right behind a raise: the release waits for the raise's value.
        answer.reset();
        lock.raiseFence(500, [&](Lock::LockResult<std::optional<qint64>> result) { answer = std::move(result); });
        lock.release();
        QVERIFY(released.wait(10000));
        QCOMPARE(released.at(0).at(0).toBool(), true);
        QTRY_VERIFY_WITH_TIMEOUT(answer.has_value(), 10000);
        QVERIFY2(*answer && !(*answer)->has_value(), describe(*answer).constData());
        QVERIFY(isFree(*store, workflow));
        QCOMPARE(lost.size(), 0);
    }

    void heartbeatKeepsTheLockAcrossTtls_data()
    {
        addBackends();
    }
    void heartbeatKeepsTheLockAcrossTtls()
    {
        QFETCH(QString, backend);
        auto store = makeStore(backend, {.ttl = 300ms});
        const QString workflow = newWorkflowId();
        RunLock lock(store.get());
        QCOMPARE(lock.ttl(), 300ms);
        QSignalSpy acquired(&lock, &RunLock::acquired);
        QSignalSpy refreshed(&lock, &RunLock::refreshed);
        QSignalSpy lost(&lock, &RunLock::lost);
        QSignalSpy released(&lock, &RunLock::released);

        lock.acquire(workflow, QStringLiteral("session-1"));
        QCOMPARE(lock.state(), RunLock::State::Acquiring);
        QVERIFY(acquired.wait(10000));
        QCOMPARE(acquired.size(), 1);
        QCOMPARE(lock.state(), RunLock::State::Holding);
        QVERIFY(lock.fence() > 0);
        QCOMPARE(acquired.at(0).at(0).toLongLong(), lock.fence());
        QCOMPARE(acquired.at(0).at(1).toLongLong(), qint64(300));
        QCOMPARE(RunLock::liveHeartbeats(), 1);

        // Three TTLs later the key would long be gone without the heartbeat.
        QTest::qWait(3 * 300 + 150);
        const auto state = peek(*store, workflow);
        QVERIFY2(state && state->held, describe(state).constData());
        QCOMPARE(state->holder.session, QStringLiteral("session-1"));
        QCOMPARE(state->holder.fence, lock.fence());
        QVERIFY(!refreshed.isEmpty());
        QCOMPARE(refreshed.constLast().at(0).toLongLong(), qint64(300));
        QCOMPARE(lost.size(), 0);

        lock.release();
        QCOMPARE(released.size(), 0);  // never from inside release()
        QVERIFY(released.wait(10000));
        QCOMPARE(released.size(), 1);
        QCOMPARE(released.at(0).at(0).toBool(), true);
        QCOMPARE(lock.state(), RunLock::State::Released);
        QCOMPARE(RunLock::liveHeartbeats(), 0);
        QVERIFY(isFree(*store, workflow));

        // The heartbeat really stopped: nothing refreshes (or re-creates) the key.
        const qsizetype refreshesAtRelease = refreshed.size();
        QTest::qWait(2 * 300);
        QCOMPARE(refreshed.size(), refreshesAtRelease);
        QVERIFY(isFree(*store, workflow));
        QCOMPARE(lost.size(), 0);
    }

    void secondSessionIsToldWhoHolds_data()
    {
        addBackends();
    }
    void secondSessionIsToldWhoHolds()
    {
        QFETCH(QString, backend);
        auto store = makeStore(backend, {.replicaId = QStringLiteral("gw-a")});
        const QString workflow = newWorkflowId();
        RunLock first(store.get());
        QSignalSpy firstAcquired(&first, &RunLock::acquired);
        first.acquire(workflow, QStringLiteral("tab-1"));
        QVERIFY(firstAcquired.wait(10000));

        RunLock second(store.get());
        QSignalSpy held(&second, &RunLock::held);
        QSignalSpy secondAcquired(&second, &RunLock::acquired);
        second.acquire(workflow, QStringLiteral("tab-2"));
        QVERIFY(held.wait(10000));
        QCOMPARE(secondAcquired.size(), 0);
        QCOMPARE(second.state(), RunLock::State::HeldElsewhere);
        const auto holder = held.at(0).at(0).value<LockHolder>();
        QCOMPARE(holder.session, QStringLiteral("tab-1"));
        QCOMPARE(holder.replica, QStringLiteral("gw-a"));
        QCOMPARE(holder.fence, first.fence());
        QVERIFY(held.at(0).at(1).toLongLong() > 0);
        QCOMPARE(RunLock::liveHeartbeats(), 1);  // only the holder's

        // Acquire is single use; release() of a refused lock does nothing.
        second.acquire(workflow, QStringLiteral("tab-2"));
        second.release();
        QTest::qWait(50);
        QCOMPARE(second.state(), RunLock::State::HeldElsewhere);
        const auto state = peek(*store, workflow);
        QVERIFY2(state && state->held && state->holder.session == QStringLiteral("tab-1"), describe(state).constData());
        first.release();
        QTRY_COMPARE(first.state(), RunLock::State::Released);
    }

    void deletedKeyIsLostOnce_data()
    {
        addBackends();
    }
    void deletedKeyIsLostOnce()
    {
        QFETCH(QString, backend);
        auto store = makeStore(backend, {.ttl = 300ms});
        const QString workflow = newWorkflowId();
        RunLock lock(store.get());
        QSignalSpy acquired(&lock, &RunLock::acquired);
        QSignalSpy refreshed(&lock, &RunLock::refreshed);
        QSignalSpy lost(&lock, &RunLock::lost);
        QSignalSpy released(&lock, &RunLock::released);
        lock.acquire(workflow, QStringLiteral("s"));
        QVERIFY(acquired.wait(10000));

        deleteBehindTheBack(backend, *store, workflow);
        if (QTest::currentTestFailed())
            return;
        QVERIFY(lost.wait(10000));
        QCOMPARE(lost.size(), 1);
        QCOMPARE(lost.at(0).at(0).toString(), QStringLiteral("lock expired or was taken over"));
        QCOMPARE(lock.state(), RunLock::State::Lost);
        QCOMPARE(RunLock::liveHeartbeats(), 0);

        // Stopped for good: no more refreshes, no second lost, and the key stays gone.
        const qsizetype refreshesAtLoss = refreshed.size();
        QTest::qWait(3 * 300);
        QCOMPARE(lost.size(), 1);
        QCOMPARE(refreshed.size(), refreshesAtLoss);
        QVERIFY(isFree(*store, workflow));
        // Releasing a lost lock is a no-op: nothing to delete, nothing emitted.
        lock.release();
        QTest::qWait(50);
        QCOMPARE(released.size(), 0);
        QCOMPARE(lock.state(), RunLock::State::Lost);
    }

    void takenOverKeyIsLost_data()
    {
        addBackends();
    }
    void takenOverKeyIsLost()
    {
        QFETCH(QString, backend);
        auto store = makeStore(backend, {.ttl = 300ms});
        const QString workflow = newWorkflowId();
        RunLock lock(store.get());
        QSignalSpy acquired(&lock, &RunLock::acquired);
        QSignalSpy lost(&lock, &RunLock::lost);
        lock.acquire(workflow, QStringLiteral("old"));
        QVERIFY(acquired.wait(10000));
        deleteBehindTheBack(backend, *store, workflow);
        if (QTest::currentTestFailed())
            return;
        // Someone else gets in before our next refresh.
        const auto intruder = await<AcquireResult>(
            [&](auto done) { store->acquire(workflow, QStringLiteral("new"), 30s, nullptr, done); });
        QVERIFY2(intruder && intruder->acquired, describe(intruder).constData());
        QVERIFY(lost.wait(10000));
        QCOMPARE(lost.size(), 1);
        // Our release must not remove the newer holder.
        lock.release();
        QTest::qWait(100);
        const auto state = peek(*store, workflow);
        QVERIFY2(state && state->held, describe(state).constData());
        QCOMPARE(state->holder.session, QStringLiteral("new"));
        QVERIFY(state->holder.fence > lock.fence());
    }

    void redisKilledMidHeartbeat()
    {
        auto store = makeStore(QStringLiteral("redis"), {.ttl = 600ms});
        const QString workflow = newWorkflowId();
        RunLock lock(store.get());
        QSignalSpy acquired(&lock, &RunLock::acquired);
        QSignalSpy refreshed(&lock, &RunLock::refreshed);
        QSignalSpy lost(&lock, &RunLock::lost);
        lock.acquire(workflow, QStringLiteral("s"));
        QVERIFY(acquired.wait(10000));
        QVERIFY(refreshed.wait(10000));  // mid-heartbeat

        m_redis.kill();
        QVERIFY(lost.wait(10000));
        QCOMPARE(lost.size(), 1);
        const QString reason = lost.at(0).at(0).toString();
        QVERIFY2(reason.startsWith(QStringLiteral("lock store unavailable: ")), qPrintable(reason));
        QCOMPARE(lock.state(), RunLock::State::Lost);
        QCOMPARE(RunLock::liveHeartbeats(), 0);
        QTest::qWait(3 * 200);
        QCOMPARE(lost.size(), 1);

        // Redis back: the same store serves new locks again.
        QVERIFY2(m_redis.start(), qPrintable(m_redis.errorString()));
        RunLock next(store.get());
        QSignalSpy nextAcquired(&next, &RunLock::acquired);
        next.acquire(workflow, QStringLiteral("s2"));
        QVERIFY(nextAcquired.wait(10000));
        next.release();
        QTRY_COMPARE(next.state(), RunLock::State::Released);
    }

    void acquireWhileRedisDownFails()
    {
        auto store = makeStore(QStringLiteral("redis"), {.callTimeout = 60s});
        m_redis.kill();
        RunLock lock(store.get());
        QSignalSpy failed(&lock, &RunLock::failed);
        QSignalSpy acquired(&lock, &RunLock::acquired);
        lock.acquire(newWorkflowId(), QStringLiteral("s"));
        QVERIFY(failed.wait(10000));  // refused at once; the 60 s call timeout never matters
        const auto error = failed.at(0).at(0).value<LockError>();
        QCOMPARE(error.kind, LockError::Kind::Unavailable);
        QVERIFY(error.isUnavailable());
        QCOMPARE(lock.state(), RunLock::State::Failed);
        QCOMPARE(acquired.size(), 0);
        QCOMPARE(RunLock::liveHeartbeats(), 0);
    }

    void hangingRefreshLosesAtTtl()
    {
        HangingRefreshStore store;
        RunLock lock(&store);
        lock.setTtl(300ms);
        QSignalSpy acquired(&lock, &RunLock::acquired);
        QSignalSpy lost(&lock, &RunLock::lost);
        lock.acquire(QStringLiteral("wf"), QStringLiteral("s"));
        QVERIFY(acquired.wait(10000));
        QVERIFY(lost.wait(10000));
        QCOMPARE(lost.size(), 1);
        QVERIFY2(lost.at(0).at(0).toString().startsWith(QStringLiteral("no refresh succeeded within the lock TTL")),
                 qPrintable(lost.at(0).at(0).toString()));
        QCOMPARE(store.refreshes, 1);  // one hung refresh, none stacked behind it
    }

    void releaseWhileAcquiringNeverAnnounces_data()
    {
        addBackends();
    }
    void releaseWhileAcquiringNeverAnnounces()
    {
        QFETCH(QString, backend);
        auto store = makeStore(backend);
        const QString workflow = newWorkflowId();
        RunLock lock(store.get());
        QSignalSpy acquired(&lock, &RunLock::acquired);
        QSignalSpy released(&lock, &RunLock::released);
        lock.acquire(workflow, QStringLiteral("s"));
        lock.release();  // the websocket closed before the lock answered
        QVERIFY(released.wait(10000));
        QCOMPARE(released.size(), 1);
        QCOMPARE(released.at(0).at(0).toBool(), true);  // it had been acquired, and was deleted
        QCOMPARE(acquired.size(), 0);
        QCOMPARE(lock.state(), RunLock::State::Released);
        QVERIFY(isFree(*store, workflow));
    }

    void destroyingReleases_data()
    {
        addBackends();
    }
    void destroyingReleases()
    {
        QFETCH(QString, backend);
        auto store = makeStore(backend);
        const QString workflow = newWorkflowId();
        auto lock = std::make_unique<RunLock>(store.get());
        QSignalSpy acquired(lock.get(), &RunLock::acquired);
        lock->acquire(workflow, QStringLiteral("s"));
        QVERIFY(acquired.wait(10000));
        QCOMPARE(RunLock::liveHeartbeats(), 1);
        lock.reset();
        QCOMPARE(RunLock::liveHeartbeats(), 0);
        QTRY_VERIFY(isFree(*store, workflow));
    }

    void destroyingWhileAcquiringGivesItBack_data()
    {
        addBackends();
    }
    void destroyingWhileAcquiringGivesItBack()
    {
        QFETCH(QString, backend);
        auto store = makeStore(backend);
        const QString workflow = newWorkflowId();
        auto lock = std::make_unique<RunLock>(store.get());
        lock->acquire(workflow, QStringLiteral("s"));
        lock.reset();
        // The acquire went through (the store runs calls in order)...
        const auto state = peek(*store, workflow);
        QVERIFY2(state && state->held, describe(state).constData());
        // ...and the answer, with nobody left to hear it, handed the lock straight back.
        QTRY_VERIFY(isFree(*store, workflow));
    }

    void releasedWhenBothPartiesLetGo_data()
    {
        addBackends();
    }
    void releasedWhenBothPartiesLetGo()
    {
        QFETCH(QString, backend);
        auto store = makeStore(backend);
        const QString workflow = newWorkflowId();
        RunLock lock(store.get());
        QSignalSpy acquired(&lock, &RunLock::acquired);
        QSignalSpy released(&lock, &RunLock::released);
        lock.acquire(workflow, QStringLiteral("s"));
        lock.retain(QStringLiteral("websocket"));
        lock.retain(QStringLiteral("execution"));
        lock.retain(QStringLiteral("execution"));  // idempotent
        QVERIFY(acquired.wait(10000));

        lock.relinquish(QStringLiteral("websocket"));
        lock.relinquish(QStringLiteral("websocket"));  // idempotent
        lock.relinquish(QStringLiteral("nobody"));
        QTest::qWait(100);
        QCOMPARE(released.size(), 0);
        QCOMPARE(lock.state(), RunLock::State::Holding);
        QCOMPARE(lock.parties(), QStringList{QStringLiteral("execution")});
        QVERIFY(!isFree(*store, workflow));

        lock.relinquish(QStringLiteral("execution"));
        QVERIFY(released.wait(10000));
        QCOMPARE(lock.state(), RunLock::State::Released);
        QVERIFY(isFree(*store, workflow));
    }

    void noLeaksOverManyCycles_data()
    {
        QTest::addColumn<QString>("backend");
        QTest::addColumn<int>("cycles");
        QTest::newRow("memory") << QStringLiteral("memory") << 10000;
        QTest::newRow("redis") << QStringLiteral("redis") << 2000;
    }
    void noLeaksOverManyCycles()
    {
        QFETCH(QString, backend);
        QFETCH(int, cycles);
        auto store = makeStore(backend);
        QObject owner;
        int completed = 0;
        qint64 lastFence = 0;
        QString problem;
        QEventLoop loop;
        const QString workflow = newWorkflowId();

        // One RunLock object per cycle, as the gateway makes one per execution.
        std::function<void()> next = [&] {
            if (completed == cycles || !problem.isEmpty())
                return loop.quit();
            auto *lock = new RunLock(store.get(), &owner);
            connect(lock, &RunLock::acquired, lock, [&, lock](qint64 fence) {
                if (fence <= lastFence)
                    problem = QStringLiteral("fence %1 after %2").arg(fence).arg(lastFence);
                lastFence = fence;
                lock->release();
            });
            connect(lock, &RunLock::released, lock, [&, lock](bool deleted) {
                if (!deleted)
                    problem = QStringLiteral("release did not delete the key");
                ++completed;
                lock->deleteLater();
                next();
            });
            connect(lock, &RunLock::held, lock, [&] {
                problem = QStringLiteral("held by someone else");
                loop.quit();
            });
            connect(lock, &RunLock::failed, lock, [&](const LockError &error) {
                problem = error.message;
                loop.quit();
            });
            connect(lock, &RunLock::lost, lock, [&](const QString &reason) {
                problem = reason;
                loop.quit();
            });
            lock->acquire(workflow, QStringLiteral("s%1").arg(completed));
        };
        QTimer::singleShot(0, &loop, next);
        QTimer::singleShot(120000, &loop, [&] {
            problem = QStringLiteral("did not finish in time");
            loop.quit();
        });
        loop.exec();
        QVERIFY2(problem.isEmpty(), qPrintable(problem));
        QCOMPARE(completed, cycles);

        QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete);
        QCOMPARE(owner.children().size(), 0);
        QCOMPARE(RunLock::liveHeartbeats(), 0);
        if (backend == u"memory")
        {
            QCOMPARE(static_cast<MemoryLockStore *>(store.get())->size(), 0);
        }
        else
        {
            QCOMPARE(m_admin.keys("lockstep:lock:*"), QByteArrayList());
            QCOMPARE(static_cast<RedisLockStore *>(store.get())->pendingCalls(), 0);
        }
        QVERIFY(isFree(*store, workflow));
    }
};

QTEST_GUILESS_MAIN(TestRunLock)
#include "tst_runlock.moc"
