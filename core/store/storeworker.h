#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>

#include <QObject>
#include <QPointer>
#include <QString>

#include "store/runstore.h"

class QThread;

namespace Lockstep::Store
{
    // Runs store calls one after another on a thread of its own, so a slow or
    // hung database never stalls the caller's event loop (websocket pings,
    // /healthz, lock events, other runs). Each call's result comes back on the
    // thread that created the worker, in the order the calls were made, to a
    // context object; a context deleted meanwhile gets nothing, but the call
    // itself still runs (a write that was asked for is never dropped).
    //
    // One thread and one connection keep the store's semantics exactly as the
    // synchronous calls had them: calls never overtake each other.
    class StoreWorker final : public QObject
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(StoreWorker)

    public:
        // Opens the store: called on the worker's thread (a QSqlDatabase
        // connection belongs to the thread that opened it).
        using Opener = std::function<StoreResult<std::unique_ptr<RunStore>>()>;

        // Starts the thread (named `name`) and opens the store there; waits
        // for the open and returns its error, if any.
        static StoreResult<std::unique_ptr<StoreWorker>> start(Opener open, const QString &name);
        // Calls run on the caller's thread, one event-loop pass after they are
        // made, against a store the caller owns and keeps alive: the same
        // asynchronous contract without a thread (tests inspecting the store).
        static std::unique_ptr<StoreWorker> inPlace(RunStore &store);
        // Runs the calls already made, closes the store and joins the thread.
        ~StoreWorker() override;

        QString kind() const;
        // How long the call in hand has been running; zero when idle.
        std::chrono::milliseconds busyFor() const;

        // Runs `job(RunStore &)` on the worker; then `done(result)` on this
        // worker's thread, if `context` still exists.
        template <typename Job, typename Done>
        void call(QObject *context, Job job, Done done);
        // Runs `job` on the worker; nobody waits for it.
        void post(std::function<void(RunStore &store)> job);
        // RunStore::watchChanges, with `changed` called on this worker's thread
        // while `context` exists. Waits for the worker: call it at start-up.
        bool watchChanges(QObject *context, std::function<void(const QString &workflowId)> changed);

    private:
        StoreWorker();
        // `job` runs on the worker and returns what to run back here.
        void submit(QObject *context, std::function<std::function<void()>(RunStore &store)> job);
        void runJob(const QPointer<QObject> &context, const std::function<std::function<void()>(RunStore &store)> &job);

        QThread *m_thread = nullptr;        // null: in place
        QObject *m_host = nullptr;          // lives on m_thread, receives the calls
        std::unique_ptr<RunStore> m_owned;  // opened on m_thread
        RunStore *m_store = nullptr;
        QString m_kind;
        std::atomic<qint64> m_busySinceMs{0};  // steady clock, 0: idle
    };

    template <typename Job, typename Done>
    void StoreWorker::call(QObject *context, Job job, Done done)
    {
        submit(context,
               [job = std::move(job), done = std::move(done)](RunStore &store) mutable -> std::function<void()> {
                   return [result = job(store), done]() mutable { done(std::move(result)); };
               });
    }
}  // namespace Lockstep::Store
