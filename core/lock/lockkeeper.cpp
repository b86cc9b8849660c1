#include "lockkeeper.h"

#include <sys/time.h>

#include <vector>

#include <hiredis/hiredis.h>

#include "common/logging.h"

namespace Lockstep::Lock
{
    namespace
    {
        timeval toTimeval(const std::chrono::milliseconds duration)
        {
            return timeval{.tv_sec = static_cast<time_t>(duration.count() / 1000),
                           .tv_usec = static_cast<suseconds_t>((duration.count() % 1000) * 1000)};
        }

        // A reply of a blocking command, freed on scope exit.
        struct Reply
        {
            explicit Reply(void *raw)
                : reply(static_cast<redisReply *>(raw))
            {}
            ~Reply()
            {
                if (reply)
                    freeReplyObject(reply);
            }
            Reply(const Reply &) = delete;
            Reply &operator=(const Reply &) = delete;
            redisReply *reply;
        };
    }  // namespace

    LockKeeper::LockKeeper(RedisEndpoint endpoint, const std::chrono::milliseconds callTimeout)
        : m_endpoint(std::move(endpoint))
        , m_callTimeout(callTimeout)
        , m_thread([this] { run(); })
    {}

    LockKeeper::~LockKeeper()
    {
        {
            const std::lock_guard<std::mutex> lock(m_mutex);
            m_stop = true;
        }
        m_wake.notify_all();
        m_thread.join();
        disconnect();
    }

    void LockKeeper::keep(const QByteArray &key, const QByteArray &value, const std::chrono::milliseconds ttl,
                          const Clock::time_point acquiredAt)
    {
        {
            const std::lock_guard<std::mutex> lock(m_mutex);
            Entry &entry = m_entries[key];
            entry = Entry{.value = value,
                          .ttl = ttl,
                          .nextDue = acquiredAt + ttl / 3,
                          .status = {},
                          .paused = false,
                          .generation = entry.generation + 1};
            entry.status.lastRefreshSent = acquiredAt;
        }
        m_wake.notify_all();
    }

    void LockKeeper::pause(const QByteArray &key)
    {
        const std::lock_guard<std::mutex> lock(m_mutex);
        if (const auto it = m_entries.find(key); it != m_entries.end())
        {
            it->second.paused = true;
            ++it->second.generation;
        }
    }

    void LockKeeper::setValue(const QByteArray &key, const QByteArray &value)
    {
        {
            const std::lock_guard<std::mutex> lock(m_mutex);
            if (const auto it = m_entries.find(key); it != m_entries.end())
            {
                it->second.value = value;
                it->second.paused = false;
                ++it->second.generation;
            }
        }
        m_wake.notify_all();
    }

    void LockKeeper::drop(const QByteArray &key)
    {
        const std::lock_guard<std::mutex> lock(m_mutex);
        m_entries.erase(key);
    }

    std::optional<LockKeeper::Status> LockKeeper::status(const QByteArray &key) const
    {
        const std::lock_guard<std::mutex> lock(m_mutex);
        const auto it = m_entries.find(key);
        if (it == m_entries.end())
            return std::nullopt;
        return it->second.status;
    }

    void LockKeeper::run()
    {
        std::unique_lock<std::mutex> lock(m_mutex);
        while (!m_stop)
        {
            auto due = m_entries.end();
            for (auto it = m_entries.begin(); it != m_entries.end(); ++it)
            {
                if (!it->second.paused && !it->second.status.lost &&
                    (due == m_entries.end() || it->second.nextDue < due->second.nextDue))
                    due = it;
            }
            if (due == m_entries.end())
            {
                m_wake.wait(lock);
                continue;
            }
            if (const Clock::time_point nextDue = due->second.nextDue; nextDue > Clock::now())
            {
                // A copy: wait_until reads its deadline again after waking, when
                // drop() may have erased the entry meanwhile.
                m_wake.wait_until(lock, nextDue);
                continue;
            }

            const QByteArray key = due->first;
            const QByteArray value = due->second.value;
            const std::chrono::milliseconds ttl = due->second.ttl;
            const quint64 generation = due->second.generation;
            const Clock::time_point sentAt = Clock::now();
            due->second.nextDue = sentAt + std::max(ttl / 3, std::chrono::milliseconds(1));
            lock.unlock();
            QString problem;
            const std::optional<long long> answer = refresh(key, value, ttl, &problem);
            lock.lock();

            const auto it = m_entries.find(key);
            if (it == m_entries.end() || it->second.generation != generation)
                continue;  // dropped, re-kept or its value changed meanwhile: this answer is about the past
            Status &status = it->second.status;
            if (!answer)
            {
                // SPEC: a refresh that fails cancels the execution, as one that answers 0.
                status.lost = true;
                status.problem = problem;
            }
            else if (*answer == 1)
            {
                status.lastRefreshSent = sentAt;
                status.problem.clear();
            }
            else
            {
                status.lost = true;
            }
        }
    }

    std::optional<long long> LockKeeper::refresh(const QByteArray &key, const QByteArray &value,
                                                 const std::chrono::milliseconds ttl, QString *problem)
    {
        if (!ensureConnected(problem))
            return std::nullopt;
        const QByteArray &script = redisRefreshScript();
        const QByteArray ttlText = QByteArray::number(static_cast<qint64>(ttl.count()));
        const char *argv[] = {"EVAL", script.constData(), "1", key.constData(), value.constData(), ttlText.constData()};
        const size_t lengths[] = {4,
                                  static_cast<size_t>(script.size()),
                                  1,
                                  static_cast<size_t>(key.size()),
                                  static_cast<size_t>(value.size()),
                                  static_cast<size_t>(ttlText.size())};
        const Reply reply(redisCommandArgv(m_context, 6, argv, lengths));
        if (!reply.reply)
        {
            *problem = QStringLiteral("lock keeper: %1").arg(QString::fromLocal8Bit(m_context->errstr));
            disconnect();
            return std::nullopt;
        }
        if (reply.reply->type != REDIS_REPLY_INTEGER)
        {
            *problem = QStringLiteral("lock keeper: unexpected answer to a refresh");
            return std::nullopt;
        }
        return reply.reply->integer;
    }

    bool LockKeeper::ensureConnected(QString *problem)
    {
        if (m_context)
            return true;
        const QByteArray host = m_endpoint.host.toUtf8();
        m_context = redisConnectWithTimeout(host.constData(), m_endpoint.port, toTimeval(m_callTimeout));
        if (!m_context || m_context->err)
        {
            *problem = QStringLiteral("lock keeper: cannot connect to %1: %2")
                           .arg(m_endpoint.redacted(), m_context ? QString::fromLocal8Bit(m_context->errstr)
                                                                 : QStringLiteral("out of memory"));
            disconnect();
            return false;
        }
        redisSetTimeout(m_context, toTimeval(m_callTimeout));
        auto setup = [&](std::vector<QByteArray> words, const QString &what) {
            std::vector<const char *> argv;
            std::vector<size_t> lengths;
            for (const QByteArray &word : words)
            {
                argv.push_back(word.constData());
                lengths.push_back(static_cast<size_t>(word.size()));
            }
            const Reply reply(redisCommandArgv(m_context, static_cast<int>(argv.size()), argv.data(), lengths.data()));
            if (reply.reply && reply.reply->type != REDIS_REPLY_ERROR)
                return true;
            *problem = QStringLiteral("lock keeper: %1 failed").arg(what);
            return false;
        };
        if (!m_endpoint.password.isEmpty())
        {
            std::vector<QByteArray> auth{"AUTH"};
            if (!m_endpoint.username.isEmpty())
                auth.push_back(m_endpoint.username.toUtf8());
            auth.push_back(m_endpoint.password.toUtf8());
            if (!setup(auth, QStringLiteral("AUTH")))
            {
                disconnect();
                return false;
            }
        }
        if ((m_endpoint.database != 0) &&
            !setup({"SELECT", QByteArray::number(m_endpoint.database)}, QStringLiteral("SELECT")))
        {
            disconnect();
            return false;
        }
        return true;
    }

    void LockKeeper::disconnect()
    {
        if (m_context)
            redisFree(m_context);
        m_context = nullptr;
    }
}  // namespace Lockstep::Lock
