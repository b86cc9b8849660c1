#include "storeworker.h"

#include <QMetaObject>
#include <QThread>

namespace Lockstep::Store
{
    namespace
    {
        qint64 steadyMs()
        {
            using namespace std::chrono;
            // Never 0, which means idle.
            return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count() + 1;
        }
    }  // namespace

    StoreWorker::StoreWorker() = default;

    StoreResult<std::unique_ptr<StoreWorker>> StoreWorker::start(Opener open, const QString &name)
    {
        std::unique_ptr<StoreWorker> worker(new StoreWorker);
        worker->m_thread = new QThread;
        worker->m_thread->setObjectName(name);
        worker->m_host = new QObject;
        worker->m_host->moveToThread(worker->m_thread);
        QObject::connect(worker->m_thread, &QThread::finished, worker->m_host, &QObject::deleteLater);
        worker->m_thread->start();

        StoreResult<Ok> opened = Ok{};
        StoreWorker *raw = worker.get();
        QMetaObject::invokeMethod(
            worker->m_host,
            [raw, &open, &opened] {
                auto store = open();
                if (!store)
                {
                    opened = unexpected(store.error());
                    return;
                }
                raw->m_owned = std::move(*store);
                raw->m_store = raw->m_owned.get();
                raw->m_kind = raw->m_store->kind();
            },
            Qt::BlockingQueuedConnection);
        if (!opened)
            return unexpected(opened.error());  // the destructor stops the thread
        return worker;
    }

    std::unique_ptr<StoreWorker> StoreWorker::inPlace(RunStore &store)
    {
        std::unique_ptr<StoreWorker> worker(new StoreWorker);
        worker->m_store = &store;
        worker->m_kind = store.kind();
        return worker;
    }

    StoreWorker::~StoreWorker()
    {
        if (!m_thread)
            return;
        // Queued behind every call already made: they all run first.
        QMetaObject::invokeMethod(m_host, [this] {
            m_store = nullptr;
            m_owned.reset();
            QThread::currentThread()->quit();
        });
        m_thread->wait();
        delete m_thread;
        // Results posted back to this object and not delivered yet go with it.
    }

    QString StoreWorker::kind() const
    {
        return m_kind;
    }

    std::chrono::milliseconds StoreWorker::busyFor() const
    {
        const qint64 since = m_busySinceMs.load();
        return std::chrono::milliseconds(since == 0 ? 0 : std::max<qint64>(0, steadyMs() - since));
    }

    void StoreWorker::post(std::function<void(RunStore &store)> job)
    {
        submit(nullptr, [job = std::move(job)](RunStore &store) -> std::function<void()> {
            job(store);
            return {};
        });
    }

    bool StoreWorker::watchChanges(QObject *context, std::function<void(const QString &workflowId)> changed)
    {
        if (!m_thread)
            return m_store->watchChanges(std::move(changed));
        QPointer<QObject> guard(context);
        bool watching = false;
        QMetaObject::invokeMethod(
            m_host,
            [this, guard, &changed, &watching] {
                // Announcements arrive on the worker's event loop; each is handed over here.
                watching = m_store && m_store->watchChanges([this, guard, changed](const QString &workflowId) {
                    QMetaObject::invokeMethod(
                        this,
                        [guard, changed, workflowId] {
                            if (guard)
                                changed(workflowId);
                        },
                        Qt::QueuedConnection);
                });
            },
            Qt::BlockingQueuedConnection);
        return watching;
    }

    void StoreWorker::submit(QObject *context, std::function<std::function<void()>(RunStore &store)> job)
    {
        QPointer<QObject> guard(context);
        QObject *host = m_thread ? m_host : this;
        QMetaObject::invokeMethod(
            host, [this, guard, job = std::move(job)] { runJob(guard, job); }, Qt::QueuedConnection);
    }

    void StoreWorker::runJob(const QPointer<QObject> &context,
                             const std::function<std::function<void()>(RunStore &store)> &job)
    {
        if (!m_store)
            return;
        m_busySinceMs = steadyMs();
        std::function<void()> then = job(*m_store);
        m_busySinceMs = 0;
        if (!then)
            return;
        if (!m_thread)
        {
            if (context)
                then();
            return;
        }
        QMetaObject::invokeMethod(
            this,
            [context, then = std::move(then)] {
                if (context)
                    then();
            },
            Qt::QueuedConnection);
    }
}  // namespace Lockstep::Store
