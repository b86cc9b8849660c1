#include "memorylockstore.h"

namespace Lockstep::Lock
{
    MemoryLockStore::MemoryLockStore(LockOptions options, QObject *parent)
        : LockStore(std::move(options), parent)
    {}

    MemoryLockStore::~MemoryLockStore() = default;

    QString MemoryLockStore::kind() const
    {
        return QStringLiteral("memory");
    }

    qsizetype MemoryLockStore::size()
    {
        m_opsSinceSweep = m_locks.size();  // forces a sweep
        sweepSometimes(Clock::now());
        return m_locks.size();
    }

    bool MemoryLockStore::forceRemove(const QString &workflowId)
    {
        return m_locks.remove(lockKey(workflowId));
    }

    void MemoryLockStore::doAcquire(const QString &workflowId, const QString &sessionId, std::chrono::milliseconds ttl,
                                    Completion<AcquireResult> done)
    {
        const auto now = Clock::now();
        sweepSometimes(now);
        const QByteArray key = lockKey(workflowId);
        if (const Entry *current = liveEntry(key, now))
        {
            return answerLater<AcquireResult>(std::move(done), AcquireResult{.acquired = false,
                                                                             .holder = decodeLockValue(current->value),
                                                                             .ttlMs = msLeft(*current, now)});
        }
        const qint64 fence = ++m_fences[fenceKey(workflowId)];
        const QByteArray value = encodeLockValue(options().replicaId, sessionId, fence);
        m_locks.insert(key, Entry{.value = value, .expiresAt = now + ttl});
        answerLater<AcquireResult>(
            std::move(done), AcquireResult{.acquired = true, .holder = decodeLockValue(value), .ttlMs = ttl.count()});
    }

    void MemoryLockStore::doRefresh(const QString &workflowId, const QByteArray &value, std::chrono::milliseconds ttl,
                                    Completion<bool> done)
    {
        const auto now = Clock::now();
        Entry *current = liveEntry(lockKey(workflowId), now);
        const bool ours = current && current->value == value;
        if (ours)
            current->expiresAt = now + ttl;
        answerLater<bool>(std::move(done), ours);
    }

    void MemoryLockStore::doRelease(const QString &workflowId, const QByteArray &value, Completion<bool> done)
    {
        const auto now = Clock::now();
        const QByteArray key = lockKey(workflowId);
        const Entry *current = liveEntry(key, now);
        const bool ours = current && current->value == value;
        if (ours)
            m_locks.remove(key);
        answerLater<bool>(std::move(done), ours);
    }

    void MemoryLockStore::doPeek(const QString &workflowId, Completion<LockSnapshot> done)
    {
        const auto now = Clock::now();
        LockSnapshot snapshot;
        if (const Entry *current = liveEntry(lockKey(workflowId), now))
        {
            snapshot = {.held = true, .holder = decodeLockValue(current->value), .ttlMs = msLeft(*current, now)};
        }
        answerLater<LockSnapshot>(std::move(done), std::move(snapshot));
    }

    void MemoryLockStore::doRaiseFence(const QString &workflowId, const QByteArray &value, const qint64 floor,
                                       Completion<std::optional<LockHolder>> done)
    {
        Entry *current = liveEntry(lockKey(workflowId), Clock::now());
        if (!current || current->value != value)
            return answerLater<std::optional<LockHolder>>(std::move(done), std::optional<LockHolder>());
        qint64 &counter = m_fences[fenceKey(workflowId)];
        counter = std::max(counter, floor) + 1;
        const LockHolder previous = decodeLockValue(current->value);
        current->value = encodeLockValue(previous.replica, previous.session, counter);
        answerLater<std::optional<LockHolder>>(std::move(done),
                                               std::optional<LockHolder>(decodeLockValue(current->value)));
    }

    void MemoryLockStore::doPing(Completion<Ok> done)
    {
        answerLater<Ok>(std::move(done), Ok{});
    }

    MemoryLockStore::Entry *MemoryLockStore::liveEntry(const QByteArray &key, Clock::time_point now)
    {
        const auto it = m_locks.find(key);
        if (it == m_locks.end())
            return nullptr;
        if (it->expiresAt <= now)
        {
            m_locks.erase(it);
            return nullptr;
        }
        return &it.value();
    }

    void MemoryLockStore::sweepSometimes(Clock::time_point now)
    {
        // Amortised O(1): a full pass once per as many operations as there are entries,
        // so locks of crashed sessions that nobody asks about again do not pile up.
        if (++m_opsSinceSweep <= m_locks.size())
            return;
        m_opsSinceSweep = 0;
        for (auto it = m_locks.begin(); it != m_locks.end();)
            it = (it->expiresAt <= now) ? m_locks.erase(it) : std::next(it);
    }

    qint64 MemoryLockStore::msLeft(const Entry &entry, Clock::time_point now)
    {
        // Rounded up: a live key never reports 0 ms left.
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(entry.expiresAt - now);
        return std::max<qint64>(left.count(), 1);
    }
}  // namespace Lockstep::Lock
