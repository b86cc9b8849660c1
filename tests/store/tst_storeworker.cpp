#include <atomic>
#include <memory>
#include <semaphore>

#include <QTemporaryDir>
#include <QTest>
#include <QThread>
#include <QTimer>

#include "store/runstore.h"
#include "store/storeworker.h"

using namespace Lockstep;
using namespace Lockstep::Store;

// The StoreWorker: store calls off the caller's thread, answers back on it,
// in order, never to a context that is gone, and a call that hangs leaves
// the caller's event loop running.
class TestStoreWorker : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<QTemporaryDir> m_dir;

    QString spec() const
    {
        return QStringLiteral("sqlite:") + m_dir->filePath(QStringLiteral("runs.db"));
    }

    std::unique_ptr<StoreWorker> startWorker()
    {
        auto worker =
            StoreWorker::start([spec = spec()] { return RunStore::open(spec); }, QStringLiteral("test-store"));
        if (!worker)
            qFatal("cannot start the worker: %s", qPrintable(worker.error().message));
        return std::move(worker).value();
    }

private slots:
    void init()
    {
        m_dir = std::make_unique<QTemporaryDir>();
        QVERIFY(m_dir->isValid());
    }

    void answersComeBackInOrderOnTheCallersThread()
    {
        auto worker = startWorker();
        QCOMPARE(worker->kind(), QStringLiteral("sqlite"));
        QList<int> order;
        QList<QThread *> jobThreads;
        bool allOnThisThread = true;
        constexpr int Calls = 50;
        for (int i = 0; i < Calls; ++i)
        {
            const QString id = QStringLiteral("wf-%1").arg(i);
            worker->call(
                this,
                [id, &jobThreads](RunStore &store) {
                    jobThreads.append(QThread::currentThread());
                    return store.createRun(id, QStringLiteral("goal"), QStringLiteral("hello"), 0);
                },
                [i, &order, &allOnThisThread, this](const StoreResult<Run> &created) {
                    allOnThisThread = allOnThisThread && (QThread::currentThread() == thread());
                    if (created)
                        order.append(i);
                });
        }
        QTRY_COMPARE_WITH_TIMEOUT(order.size(), Calls, 10000);
        QVERIFY(allOnThisThread);
        for (int i = 0; i < Calls; ++i)
            QCOMPARE(order.at(i), i);
        QVERIFY(!jobThreads.contains(QThread::currentThread()));
    }

    void aContextGoneGetsNothingButTheCallRuns()
    {
        auto worker = startWorker();
        auto context = std::make_unique<QObject>();
        bool answered = false;
        worker->call(
            context.get(),
            [](RunStore &store) {
                return store.createRun(QStringLiteral("wf-orphan"), QStringLiteral("goal"), QStringLiteral("hello"), 0);
            },
            [&answered](const StoreResult<Run> &) { answered = true; });
        context.reset();
        std::optional<bool> exists;
        worker->call(
            this, [](RunStore &store) { return store.getRun(QStringLiteral("wf-orphan")); },
            [&exists](const StoreResult<std::optional<Run>> &run) { exists = run && run->has_value(); });
        QTRY_VERIFY_WITH_TIMEOUT(exists.has_value(), 10000);
        QVERIFY(*exists);
        QVERIFY(!answered);
    }

    void aHungCallLeavesTheCallerRunning()
    {
        auto worker = startWorker();
        std::binary_semaphore release(0);
        std::atomic<bool> entered = false;
        bool answered = false;
        worker->call(
            this,
            [&release, &entered](RunStore &store) {
                entered = true;
                release.acquire();  // a database that does not answer
                return store.ping();
            },
            [&answered](const StoreResult<Ok> &) { answered = true; });
        int ticks = 0;
        QTimer ticker;
        connect(&ticker, &QTimer::timeout, this, [&ticks] { ++ticks; });
        ticker.start(10);
        QTRY_VERIFY_WITH_TIMEOUT(entered.load() && (ticks >= 20), 10000);
        QVERIFY(!answered);
        QTRY_VERIFY_WITH_TIMEOUT(worker->busyFor() >= std::chrono::milliseconds(50), 10000);
        release.release();
        QTRY_VERIFY_WITH_TIMEOUT(answered, 10000);
        QCOMPARE(worker->busyFor(), std::chrono::milliseconds(0));
    }

    void destroyingRunsWhatWasAsked()
    {
        {
            auto worker = startWorker();
            for (int i = 0; i < 20; ++i)
                worker->post([i](RunStore &store) {
                    (void)store.createRun(QStringLiteral("wf-late-%1").arg(i), QStringLiteral("goal"),
                                          QStringLiteral("hello"), 0);
                });
        }
        auto store = RunStore::open(spec());
        QVERIFY(store);
        const auto runs = (*store)->listRuns(std::nullopt, 100);
        QVERIFY(runs);
        QCOMPARE(runs->size(), 20);
    }

    void openFailureIsReported()
    {
        // Nothing listens on port 1.
        auto worker = StoreWorker::start(
            [] {
                return RunStore::open(QStringLiteral("postgresql://lockstep@127.0.0.1:1/lockstep?connect_timeout=2"));
            },
            QStringLiteral("bad"));
        QVERIFY(!worker);
        QVERIFY(!worker.error().message.isEmpty());
    }

    void inPlaceAnswersOnALaterPass()
    {
        auto store = RunStore::open(spec());
        QVERIFY(store);
        auto worker = StoreWorker::inPlace(**store);
        bool answered = false;
        worker->call(
            this, [](RunStore &runStore) { return runStore.ping(); },
            [&answered](const StoreResult<Ok> &pinged) { answered = bool(pinged); });
        QVERIFY(!answered);  // never from inside call()
        QTRY_VERIFY_WITH_TIMEOUT(answered, 10000);
    }
};

QTEST_GUILESS_MAIN(TestStoreWorker)
#include "tst_storeworker.moc"
