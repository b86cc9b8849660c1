// Run lock: latency of a refused acquire under contention, against the bare
// Redis round trip as a floor, and acquire/release churn with process RSS.
//
// The floor is not an old implementation but the least any Redis lock must do
// for a refused acquire: one `SET key value NX PX` round trip on the held key.
// Fair because it runs against the same Redis server and held key over
// loopback TCP, right after the measured paths; "x floor" is what the lock
// store costs on top: its acquire script (which also reads the holder and the
// TTL the console shows) and the answer's way back through the event loop.
//
// (1) Contention: one holder holds the lock of a workflow; a second replica
//     tries to acquire it N times in a row and times each "held" answer.
//     Floors: a bare `SET key value NX PX` on the same held key through
//     hiredis, synchronous (blocking, no event loop) and asynchronous (the lock
//     store's RedisQtAdapter on the same event loop the lock store uses).
// (2) Churn: acquire + release cycles per second, through the store and through
//     RunLock objects (one per cycle, heartbeat armed, as the gateway uses them),
//     with VmRSS from /proc/self/status before and after.
//
//   bench_lock [--tries 1000] [--cycles 10000]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <vector>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QFile>
#include <QLoggingCategory>
#include <QTimer>

#include "benchutil.h"
#include "lock/memorylockstore.h"
#include "lock/redislockstore.h"
#include "lock/redisqtadapter.h"
#include "lock/runlock.h"
#include "tempredis.h"

using namespace std::chrono_literals;
using namespace Lockstep;
using namespace Lockstep::Lock;
using namespace Lockstep::Bench;

namespace
{
    // Runs `count` asynchronous operations one after the other on the event
    // loop; each calls its `done` when answered. Returns the latency of each.
    std::vector<qint64> runSequential(int count, const std::function<void(std::function<void()> done)> &operation)
    {
        std::vector<qint64> ns;
        ns.reserve(static_cast<size_t>(count));
        QEventLoop loop;
        QElapsedTimer timer;
        std::function<void()> next = [&] {
            if (static_cast<int>(ns.size()) == count)
                return loop.quit();
            timer.start();
            operation([&] {
                ns.push_back(timer.nsecsElapsed());
                // Go on from the event loop: no recursion however the answer came.
                QTimer::singleShot(0, &loop, next);
            });
        };
        QTimer::singleShot(0, &loop, next);
        QTimer::singleShot(300000, &loop, [&] {
            std::fprintf(stderr, "bench_lock: an operation did not answer; giving up\n");
            loop.quit();
        });
        loop.exec();
        return ns;
    }

    // Waits for one asynchronous answer (set-up steps, not measured).
    template <typename T, typename Start>
    std::optional<LockResult<T>> awaitOne(Start start)
    {
        std::optional<LockResult<T>> answer;
        QEventLoop loop;
        start([&](LockResult<T> result) {
            answer.emplace(std::move(result));
            loop.quit();
        });
        if (!answer)
        {
            QTimer::singleShot(10000, &loop, &QEventLoop::quit);
            loop.exec();
        }
        return answer;
    }

    struct ContentionRow
    {
        QString what;
        Latency latency;
    };

    // The holder's lock value, or empty when it could not be taken.
    QByteArray hold(LockStore &store, const QString &workflow)
    {
        const auto held = awaitOne<AcquireResult>(
            [&](auto done) { store.acquire(workflow, QStringLiteral("holder"), 10min, nullptr, done); });
        if (!held || !*held || !held->value().acquired)
            return {};
        return held->value().holder.value;
    }

    void letGo(LockStore &store, const QString &workflow, const QByteArray &value)
    {
        (void)awaitOne<bool>([&](auto done) { store.release(workflow, value, nullptr, done); });
    }

    // Another replica (or session) asks for a lock that is held.
    Latency contendStore(LockStore &contender, const QString &workflow, int tries)
    {
        int errors = 0;
        auto ns = runSequential(tries, [&](std::function<void()> done) {
            contender.acquire(workflow, QStringLiteral("contender"), 30s, nullptr,
                              [&errors, done](LockResult<AcquireResult> result) {
                                  if (!result || result->acquired)
                                      ++errors;
                                  done();
                              });
        });
        return summarise(std::move(ns), errors);
    }

    // The same through RunLock: what the gateway waits for before closing with 1013.
    Latency contendRunLock(LockStore &contender, const QString &workflow, int tries)
    {
        int errors = 0;
        auto ns = runSequential(tries, [&](std::function<void()> done) {
            auto *lock = new RunLock(&contender);
            QObject::connect(lock, &RunLock::held, lock, [lock, done] {
                lock->deleteLater();
                done();
            });
            const auto wrong = [lock, done, &errors] {
                ++errors;
                lock->deleteLater();
                done();
            };
            QObject::connect(lock, &RunLock::acquired, lock, wrong);
            QObject::connect(lock, &RunLock::failed, lock, wrong);
            lock->acquire(workflow, QStringLiteral("contender"));
        });
        return summarise(std::move(ns), errors);
    }

    struct AsyncFloor
    {
        std::function<void()> done;
        int errors = 0;
    };

    void asyncFloorReply(redisAsyncContext *, void *reply, void *privdata)
    {
        auto *state = static_cast<AsyncFloor *>(privdata);
        if (!reply || static_cast<redisReply *>(reply)->type != REDIS_REPLY_NIL)
            ++state->errors;
        if (state->done)
            std::exchange(state->done, {})();
    }

    Latency floorAsync(quint16 port, const QByteArray &key, int tries)
    {
        redisAsyncContext *context = redisAsyncConnect("127.0.0.1", port);
        if (!context || context->err)
        {
            if (context)
                redisAsyncFree(context);
            return {.errors = tries};
        }
        RedisQtAdapter::attach(context);  // freed with the context
        AsyncFloor state;
        auto ns = runSequential(tries, [&](std::function<void()> done) {
            state.done = std::move(done);
            redisAsyncCommand(context, asyncFloorReply, &state, "SET %b contender NX PX 30000", key.constData(),
                              static_cast<size_t>(key.size()));
        });
        redisAsyncFree(context);
        return summarise(std::move(ns), state.errors);
    }

    struct ChurnRow
    {
        QString what;
        int cycles = 0;
        double cyclesPerSecond = 0;
        qint64 rssBeforeKb = 0;
        qint64 rssAfterKb = 0;
        int errors = 0;
    };

    ChurnRow churnStore(const QString &what, LockStore &store, const QString &workflow, int cycles)
    {
        ChurnRow row{.what = what, .cycles = cycles};
        const auto cycle = [&](std::function<void()> done) {
            store.acquire(workflow, QStringLiteral("churn"), 30s, nullptr,
                          [&store, &row, workflow, done](LockResult<AcquireResult> got) {
                              if (!got || !got->acquired)
                              {
                                  ++row.errors;
                                  return done();
                              }
                              store.release(workflow, got->holder.value, nullptr, [&row, done](LockResult<bool> gone) {
                                  if (!gone || !gone.value())
                                      ++row.errors;
                                  done();
                              });
                          });
        };
        runSequential(cycles / 10, cycle);  // warm-up: allocator pools, script cache, connection
        row.rssBeforeKb = rssKb(QCoreApplication::applicationPid());
        QElapsedTimer timer;
        timer.start();
        runSequential(cycles, cycle);
        row.cyclesPerSecond = cycles / (static_cast<double>(timer.nsecsElapsed()) / 1e9);
        QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete);
        row.rssAfterKb = rssKb(QCoreApplication::applicationPid());
        return row;
    }

    ChurnRow churnRunLock(const QString &what, LockStore &store, const QString &workflow, int cycles)
    {
        ChurnRow row{.what = what, .cycles = cycles};
        const auto cycle = [&](std::function<void()> done) {
            auto *lock = new RunLock(&store);
            QObject::connect(lock, &RunLock::acquired, lock, [lock] { lock->release(); });
            QObject::connect(lock, &RunLock::released, lock, [lock, done, &row](bool deleted) {
                if (!deleted)
                    ++row.errors;
                lock->deleteLater();
                done();
            });
            const auto wrong = [lock, done, &row] {
                ++row.errors;
                lock->deleteLater();
                done();
            };
            QObject::connect(lock, &RunLock::held, lock, wrong);
            QObject::connect(lock, &RunLock::failed, lock, wrong);
            lock->acquire(workflow, QStringLiteral("churn"));
        };
        runSequential(cycles / 10, cycle);
        QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete);
        row.rssBeforeKb = rssKb(QCoreApplication::applicationPid());
        QElapsedTimer timer;
        timer.start();
        runSequential(cycles, cycle);
        row.cyclesPerSecond = cycles / (static_cast<double>(timer.nsecsElapsed()) / 1e9);
        QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete);
        row.rssAfterKb = rssKb(QCoreApplication::applicationPid());
        if (RunLock::liveHeartbeats() != 0)
            ++row.errors;
        return row;
    }
}  // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QLoggingCategory::setFilterRules(QStringLiteral("lockstep.lock.debug=false\nlockstep.lock.info=false"));
    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Run lock latency under contention and churn."));
    parser.addHelpOption();
    parser.addOption({QStringLiteral("tries"), QStringLiteral("Refused acquires to time (default 1000)."),
                      QStringLiteral("n"), QStringLiteral("1000")});
    parser.addOption({QStringLiteral("cycles"), QStringLiteral("Acquire/release cycles (default 10000)."),
                      QStringLiteral("n"), QStringLiteral("10000")});
    parser.process(app);
    const int tries = std::max(1, parser.value(QStringLiteral("tries")).toInt());
    const int cycles = std::max(10, parser.value(QStringLiteral("cycles")).toInt());

    Test::TempRedis redis;
    if (!redis.start())
    {
        std::fprintf(stderr, "bench_lock: %s\n", qPrintable(redis.errorString()));
        return 1;
    }
    const RedisEndpoint endpoint = parseRedisUrl(redis.url()).value();
    RedisLockStore replicaA(endpoint, {.replicaId = QStringLiteral("replica-a")});
    RedisLockStore replicaB(endpoint, {.replicaId = QStringLiteral("replica-b")});
    MemoryLockStore memory({.replicaId = QStringLiteral("embedded")});

    // ---- (1) contention ----
    std::vector<ContentionRow> contention;
    const QString contended = QStringLiteral("bench-contended");
    const QByteArray contendedKey = "lockstep:lock:" + contended.toUtf8();
    const QByteArray redisHolder = hold(replicaA, contended);
    const QByteArray memoryHolder = hold(memory, contended);
    if (redisHolder.isEmpty() || memoryHolder.isEmpty())
    {
        std::fprintf(stderr, "bench_lock: could not take the contended lock\n");
        return 1;
    }
    contention.push_back(
        {QStringLiteral("Redis: LockStore::acquire -> held"), contendStore(replicaB, contended, tries)});
    contention.push_back(
        {QStringLiteral("Redis: RunLock::acquire -> held()"), contendRunLock(replicaB, contended, tries)});
    contention.push_back(
        {QStringLiteral("floor: hiredis sync SET NX PX"), floorSync(redis.port(), contendedKey, tries)});
    contention.push_back(
        {QStringLiteral("floor: hiredis async (Qt) SET NX PX"), floorAsync(redis.port(), contendedKey, tries)});
    contention.push_back(
        {QStringLiteral("memory: LockStore::acquire -> held"), contendStore(memory, contended, tries)});
    contention.push_back(
        {QStringLiteral("memory: RunLock::acquire -> held()"), contendRunLock(memory, contended, tries)});
    letGo(replicaA, contended, redisHolder);
    letGo(memory, contended, memoryHolder);

    std::printf("\nRun lock contention: %d refused acquires of a held lock, one at a time (microseconds)\n\n", tries);
    std::printf("%-40s %10s %10s %10s %8s %8s\n", "path", "p50 us", "p99 us", "max us", "x floor", "errors");
    const double floorP50 = contention[2].latency.p50Us;
    const double floorP99 = contention[2].latency.p99Us;
    for (const ContentionRow &row : contention)
    {
        const bool onRedis =
            row.what.startsWith(QStringLiteral("Redis")) || row.what.startsWith(QStringLiteral("floor"));
        char ratio[32] = "-";
        if (onRedis && floorP50 > 0)
            std::snprintf(ratio, sizeof ratio, "%.2f", row.latency.p50Us / floorP50);
        std::printf("%-40s %10.1f %10.1f %10.1f %8s %8d\n", qPrintable(row.what), row.latency.p50Us, row.latency.p99Us,
                    row.latency.maxUs, ratio, row.latency.errors);
    }
    if (floorP99 > 0)
    {
        std::printf("\np99 ratio to the sync floor: LockStore %.2f, RunLock %.2f, async hiredis %.2f\n",
                    contention[0].latency.p99Us / floorP99, contention[1].latency.p99Us / floorP99,
                    contention[3].latency.p99Us / floorP99);
    }

    // ---- (2) churn ----
    std::vector<ChurnRow> churn;
    churn.push_back(
        churnStore(QStringLiteral("memory: store acquire+release"), memory, QStringLiteral("churn-m1"), cycles));
    churn.push_back(
        churnRunLock(QStringLiteral("memory: RunLock acquire+release"), memory, QStringLiteral("churn-m2"), cycles));
    churn.push_back(
        churnStore(QStringLiteral("Redis: store acquire+release"), replicaA, QStringLiteral("churn-r1"), cycles));
    churn.push_back(
        churnRunLock(QStringLiteral("Redis: RunLock acquire+release"), replicaA, QStringLiteral("churn-r2"), cycles));

    std::printf("\nChurn: %d acquire/release cycles each (after %d warm-up cycles), one at a time\n\n", cycles,
                cycles / 10);
    std::printf("%-40s %12s %12s %12s %10s %8s\n", "path", "cycles/s", "RSS before", "RSS after", "delta kB", "errors");
    for (const ChurnRow &row : churn)
    {
        std::printf("%-40s %12.0f %9lld kB %9lld kB %10lld %8d\n", qPrintable(row.what), row.cyclesPerSecond,
                    static_cast<long long>(row.rssBeforeKb), static_cast<long long>(row.rssAfterKb),
                    static_cast<long long>(row.rssAfterKb - row.rssBeforeKb), row.errors);
    }
    std::printf("\nleft behind: memory store locks %lld, Redis calls pending %lld, live heartbeats %d\n",
                static_cast<long long>(memory.size()), static_cast<long long>(replicaA.pendingCalls()),
                RunLock::liveHeartbeats());

    int errors = 0;
    for (const ContentionRow &row : contention)
        errors += row.latency.errors;
    for (const ChurnRow &row : churn)
        errors += row.errors;
    return errors == 0 ? 0 : 1;
}
