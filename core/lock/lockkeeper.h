#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include <QByteArray>
#include <QString>

#include "lock/redislockstore.h"

struct redisContext;

namespace Lockstep::Lock
{
    // Refreshes the Redis locks this process holds from a thread of its own,
    // over a blocking hiredis connection of its own. The gateway thread can be
    // stuck for longer than a TTL (a database that hangs mid-statement, the
    // process stopped by a debugger) without losing the locks of runs that are
    // still fine: RunLock reads what the keeper saw instead of refreshing on
    // the event loop. Each kept lock is refreshed every ttl/3 with the same
    // compare-and-set script; an answer 0 or an error marks it lost (SPEC fix 2).
    class LockKeeper
    {
    public:
        using Clock = std::chrono::steady_clock;

        struct Status
        {
            bool lost = false;                  // a refresh answered 0 (the key is gone or someone else's) or failed
            Clock::time_point lastRefreshSent;  // send time of the latest successful refresh
            QString problem;                    // why, when a refresh failed (empty: it answered 0)
        };

        LockKeeper(RedisEndpoint endpoint, std::chrono::milliseconds callTimeout);
        ~LockKeeper();  // stops and joins the thread

        LockKeeper(const LockKeeper &) = delete;
        LockKeeper &operator=(const LockKeeper &) = delete;

        // Keep `key` (holding `value`) alive; `acquiredAt` counts as its first refresh.
        void keep(const QByteArray &key, const QByteArray &value, std::chrono::milliseconds ttl,
                  Clock::time_point acquiredAt);
        // The stored value is about to change (a fence raise): no refresh until setValue().
        void pause(const QByteArray &key);
        void setValue(const QByteArray &key, const QByteArray &value);
        void drop(const QByteArray &key);
        std::optional<Status> status(const QByteArray &key) const;

    private:
        struct Entry
        {
            QByteArray value;
            std::chrono::milliseconds ttl;
            Clock::time_point nextDue;
            Status status;
            bool paused = false;
            quint64 generation = 0;  // bumped by pause/setValue: answers to older sends are ignored
        };

        void run();
        // One refresh over the blocking connection: 1, 0, or an error text.
        std::optional<long long> refresh(const QByteArray &key, const QByteArray &value, std::chrono::milliseconds ttl,
                                         QString *problem);
        bool ensureConnected(QString *problem);
        void disconnect();

        const RedisEndpoint m_endpoint;
        const std::chrono::milliseconds m_callTimeout;
        mutable std::mutex m_mutex;
        std::condition_variable m_wake;
        std::map<QByteArray, Entry> m_entries;
        bool m_stop = false;
        redisContext *m_context = nullptr;  // the keeper thread's only
        std::thread m_thread;               // last: started once everything above exists
    };
}  // namespace Lockstep::Lock
