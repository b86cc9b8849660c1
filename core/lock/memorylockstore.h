#pragma once

#include <chrono>

#include <QHash>

#include "lock/lockstore.h"

namespace Lockstep::Lock
{
    // The embedded default: the same semantics as the Redis store, inside one
    // process, so it serves one replica only. Expiry is checked on access and
    // expired entries are swept as operations go by.
    class MemoryLockStore final : public LockStore
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(MemoryLockStore)

    public:
        explicit MemoryLockStore(LockOptions options = {}, QObject *parent = nullptr);
        ~MemoryLockStore() override;

        QString kind() const override;

        // Locks held right now (expired ones are not counted).
        qsizetype size();
        // Deletes a lock whoever holds it, as `DEL` would on Redis. For tests and
        // for an operator breaking a stuck lock; the holder's next refresh answers 0.
        bool forceRemove(const QString &workflowId);

    protected:
        void doAcquire(const QString &workflowId, const QString &sessionId, std::chrono::milliseconds ttl,
                       Completion<AcquireResult> done) override;
        void doRefresh(const QString &workflowId, const QByteArray &value, std::chrono::milliseconds ttl,
                       Completion<bool> done) override;
        void doRelease(const QString &workflowId, const QByteArray &value, Completion<bool> done) override;
        void doPeek(const QString &workflowId, Completion<LockSnapshot> done) override;
        void doRaiseFence(const QString &workflowId, const QByteArray &value, qint64 floor,
                          Completion<std::optional<LockHolder>> done) override;
        void doPing(Completion<Ok> done) override;

    private:
        using Clock = std::chrono::steady_clock;
        struct Entry
        {
            QByteArray value;
            Clock::time_point expiresAt;
        };

        // The live entry for `key`, or nullptr (dropping it when it has expired).
        Entry *liveEntry(const QByteArray &key, Clock::time_point now);
        void sweepSometimes(Clock::time_point now);
        static qint64 msLeft(const Entry &entry, Clock::time_point now);

        QHash<QByteArray, Entry> m_locks;
        QHash<QByteArray, qint64> m_fences;  // never shrinks: fences only grow
        qsizetype m_opsSinceSweep = 0;
    };
}  // namespace Lockstep::Lock
