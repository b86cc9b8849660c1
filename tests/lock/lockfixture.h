#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include <QByteArrayList>
#include <QString>
#include <QTest>

#include "lock/lockstore.h"
#include "tempredis.h"

struct redisContext;

namespace Lockstep::Test
{
    // A plain synchronous hiredis connection, to look at (and meddle with) Redis
    // behind the lock store's back, as a second replica or an operator would.
    class RedisAdmin
    {
    public:
        RedisAdmin() = default;
        ~RedisAdmin();
        RedisAdmin(const RedisAdmin &) = delete;
        RedisAdmin &operator=(const RedisAdmin &) = delete;

        bool connect(std::uint16_t port);
        void disconnect();
        // The reply as text: strings and status as they are, integers in decimal,
        // nil as "(nil)", errors as "ERR: ...", arrays joined with '\n'.
        // "(no connection)" when the connection is down.
        QByteArray command(const QByteArrayList &args);
        // SCAN MATCH pattern, all of it.
        QByteArrayList keys(const QByteArray &pattern);

    private:
        redisContext *m_context = nullptr;
    };

    // What the lock tests share: a real redis-server next to the memory store,
    // data rows per backend and workflow ids unique within the run.
    class LockFixture
    {
    protected:
        // The "backend" column with a "memory" and a "redis" row.
        static void addBackends();
        // Starts Redis if it is down and (re)connects the admin connection;
        // empty on success, else what failed.
        QString ensureRedis();
        std::unique_ptr<Lock::LockStore> makeStore(const QString &backend, Lock::LockOptions options = {});
        QString newWorkflowId();

        TempRedis m_redis;
        RedisAdmin m_admin;
        int m_workflowCounter = 0;
    };

    // Waits for the single answer of one asynchronous lock store call; a hang
    // becomes a Timeout error the test's checks catch.
    template <typename T, typename Start>
    Lock::LockResult<T> await(Start start, int timeoutMs = 15000)
    {
        auto answer = std::make_shared<std::optional<Lock::LockResult<T>>>();
        start([answer](Lock::LockResult<T> result) { answer->emplace(std::move(result)); });
        if (!QTest::qWaitFor([&answer] { return answer->has_value(); }, timeoutMs))
        {
            return Lockstep::unexpected(
                Lock::LockError{.kind = Lock::LockError::Kind::Timeout,
                                .message = QStringLiteral("test: no answer within %1 ms").arg(timeoutMs)});
        }
        return std::move(**answer);
    }

    inline Lock::LockResult<Lock::LockSnapshot> peek(Lock::LockStore &store, const QString &workflowId)
    {
        return await<Lock::LockSnapshot>([&](auto done) { store.peek(workflowId, nullptr, done); });
    }

    template <typename T>
    QByteArray describe(const Lock::LockResult<T> &result)
    {
        if (result)
            return "ok";
        return (Lock::errorKindName(result.error().kind) + QStringLiteral(": ") + result.error().message).toUtf8();
    }
}  // namespace Lockstep::Test
