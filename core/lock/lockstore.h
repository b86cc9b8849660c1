#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <utility>

#include <QByteArray>
#include <QMetaObject>
#include <QMetaType>
#include <QObject>
#include <QPointer>
#include <QString>

#include "common/result.h"

namespace Lockstep::Lock
{
    class LockKeeper;

    struct LockOptions
    {
        QString keyPrefix = QStringLiteral("lockstep:");  // keys: <prefix>lock:<id>, <prefix>fence:<id>
        std::chrono::milliseconds ttl{30000};             // lock TTL; the heartbeat refreshes every ttl/3
        std::chrono::milliseconds callTimeout{2000};      // every store call answers within this
        QString replicaId;                                // empty: "<host name>:<pid>" (options() has it filled in)
    };

    struct LockError
    {
        enum class Kind
        {
            Unavailable,      // cannot connect, connection lost, host not found
            Timeout,          // no answer within callTimeout (the connection is dropped)
            InvalidArgument,  // empty workflow or session id, bad ttl, ... (caller's bug)
            StoreError,       // the store answered with an error (WRONGTYPE, NOAUTH, OOM, ...)
        };

        Kind kind = Kind::Unavailable;
        QString message;  // readable, never holds a password

        // The store could not be used at all: SPEC "lock store unavailable"
        // (close 1011 when fail-closed, go on without a lock when fail-open).
        bool isUnavailable() const
        {
            return kind != Kind::InvalidArgument;
        }
    };

    QString errorKindName(LockError::Kind kind);

    template <typename T>
    using LockResult = Result<T, LockError>;
    template <typename T>
    using LockCallback = std::function<void(LockResult<T>)>;

    // Who holds a lock, parsed from the stored value
    // {"fence":N,"replica":"...","session":"..."}.
    struct LockHolder
    {
        QString replica;
        QString session;
        qint64 fence = 0;
        QByteArray value;  // the exact stored value; release/refresh compare against it
        // False when the value is not in Lockstep's format (someone else wrote the key):
        // then only `value` is set.
        bool parsed = false;
    };

    struct AcquireResult
    {
        bool acquired = false;  // true: we hold it, `holder` is us with a fresh fence
        LockHolder holder;      // false: the current holder
        qint64 ttlMs = 0;       // TTL left (ours: the full TTL); -1 when the key has no expiry
    };

    // GET /api/v1/workflows/{id}/lock
    struct LockSnapshot
    {
        bool held = false;
        LockHolder holder;  // set when held
        qint64 ttlMs = 0;   // PTTL left when held; -1 when the key has no expiry
    };

    // The stored value for a holder; both stores use it.
    QByteArray encodeLockValue(const QString &replica, const QString &session, qint64 fence);
    LockHolder decodeLockValue(const QByteArray &value);

    // A lock store: acquire / refresh / release / peek of a per-workflow run lock
    // with a fencing token that strictly increases per workflow.
    //
    // Every call is asynchronous and answers exactly once, within callTimeout, on
    // the store's thread and never from inside the call itself. The answer goes to
    // `done` unless `context` is given and has been destroyed meanwhile (then it is
    // dropped). Destroying the store drops the answers of calls still running.
    class LockStore : public QObject
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(LockStore)

    public:
        ~LockStore() override;

        // "redis" or "memory" (GET /healthz lockStore).
        virtual QString kind() const = 0;
        const LockOptions &options() const;

        // SET NX PX with a fresh fence. acquired=false reports the holder: not an error.
        void acquire(const QString &workflowId, const QString &sessionId, std::chrono::milliseconds ttl,
                     QObject *context, LockCallback<AcquireResult> done);
        // Extends the TTL only if `value` still holds the lock: true, else false.
        void refresh(const QString &workflowId, const QByteArray &value, std::chrono::milliseconds ttl,
                     QObject *context, LockCallback<bool> done);
        // Deletes the lock only if `value` still holds it: true when deleted, else false.
        void release(const QString &workflowId, const QByteArray &value, QObject *context, LockCallback<bool> done);
        // Who holds the lock and for how long still.
        void peek(const QString &workflowId, QObject *context, LockCallback<LockSnapshot> done);
        // Only while `value` still holds the lock: moves the workflow's fence
        // counter past `floor`, takes the next fence and stores it in the lock
        // value (TTL kept). Answers the new holder, or nullopt when `value` no
        // longer holds the lock. For a run store that carries a fence from
        // another source (an HTTP create, a reset lock store, a fail-open run):
        // fences of a run only ever grow.
        void raiseFence(const QString &workflowId, const QByteArray &value, qint64 floor, QObject *context,
                        LockCallback<std::optional<LockHolder>> done);
        // A cheap round trip (/healthz): Ok when the store answers.
        void ping(QObject *context, LockCallback<Ok> done);

        // Refreshes held locks from a thread of its own (Redis), so a stuck
        // event loop does not cost them; nullptr: the holder refreshes on the
        // event loop (the in-process store, where nobody else can take a lock
        // while this thread is stuck).
        virtual LockKeeper *keeper();

        QByteArray lockKey(const QString &workflowId) const;

    protected:
        explicit LockStore(LockOptions options, QObject *parent = nullptr);

        // The answer of one call: runs `done` unless the context is gone.
        template <typename T>
        class Completion
        {
        public:
            Completion() = default;
            Completion(QObject *context, LockCallback<T> done)
                : m_context(context)
                , m_guarded(context != nullptr)
                , m_done(std::move(done))
            {}

            void operator()(LockResult<T> result) const
            {
                if ((m_guarded && !m_context) || !m_done)
                    return;
                m_done(std::move(result));
            }

        private:
            QPointer<QObject> m_context;
            bool m_guarded = false;
            LockCallback<T> m_done;
        };

        // Posts the answer to the event loop: callers never see a callback run
        // inside their own call.
        template <typename T>
        void answerLater(Completion<T> completion, LockResult<T> result)
        {
            QMetaObject::invokeMethod(
                this,
                [completion = std::move(completion), result = std::move(result)]() mutable {
                    completion(std::move(result));
                },
                Qt::QueuedConnection);
        }

        // Arguments are already validated.
        virtual void doAcquire(const QString &workflowId, const QString &sessionId, std::chrono::milliseconds ttl,
                               Completion<AcquireResult> done) = 0;
        virtual void doRefresh(const QString &workflowId, const QByteArray &value, std::chrono::milliseconds ttl,
                               Completion<bool> done) = 0;
        virtual void doRelease(const QString &workflowId, const QByteArray &value, Completion<bool> done) = 0;
        virtual void doPeek(const QString &workflowId, Completion<LockSnapshot> done) = 0;
        virtual void doRaiseFence(const QString &workflowId, const QByteArray &value, qint64 floor,
                                  Completion<std::optional<LockHolder>> done) = 0;
        virtual void doPing(Completion<Ok> done) = 0;

        QByteArray fenceKey(const QString &workflowId) const;

    private:
        LockOptions m_options;
    };

    // Workflow and session ids: 1 to 512 characters, no control characters.
    // TTLs: 1 ms to 1 day. Returns a description of the problem, or an empty string.
    QString checkWorkflowId(const QString &workflowId);
    QString checkSessionId(const QString &sessionId);
    QString checkTtl(std::chrono::milliseconds ttl);

    // The --redis URL or, when empty, the in-process memory store (one replica only).
    Result<std::unique_ptr<LockStore>, LockError> createLockStore(const QString &redisUrl, const LockOptions &options);
}  // namespace Lockstep::Lock

Q_DECLARE_METATYPE(Lockstep::Lock::LockError)
Q_DECLARE_METATYPE(Lockstep::Lock::LockHolder)
