#include "lockfixture.h"

#include <vector>

#include <hiredis/hiredis.h>

#include "lock/memorylockstore.h"
#include "lock/redislockstore.h"

namespace Lockstep::Test
{
    namespace
    {
        QByteArray replyToText(const redisReply *reply)
        {
            switch (reply->type)
            {
            case REDIS_REPLY_STRING:
            case REDIS_REPLY_STATUS: return {reply->str, static_cast<qsizetype>(reply->len)};
            case REDIS_REPLY_ERROR: return "ERR: " + QByteArray(reply->str, static_cast<qsizetype>(reply->len));
            case REDIS_REPLY_INTEGER: return QByteArray::number(reply->integer);
            case REDIS_REPLY_NIL: return "(nil)";
            case REDIS_REPLY_ARRAY:
            {
                QByteArrayList parts;
                for (size_t i = 0; i < reply->elements; ++i)
                    parts.append(replyToText(reply->element[i]));
                return parts.join('\n');
            }
            default: return "(unknown reply)";
            }
        }
    }  // namespace

    RedisAdmin::~RedisAdmin()
    {
        disconnect();
    }

    bool RedisAdmin::connect(std::uint16_t port)
    {
        disconnect();
        const timeval timeout{.tv_sec = 2, .tv_usec = 0};
        m_context = redisConnectWithTimeout("127.0.0.1", port, timeout);
        if (!m_context || m_context->err)
        {
            disconnect();
            return false;
        }
        redisSetTimeout(m_context, timeout);
        return true;
    }

    void RedisAdmin::disconnect()
    {
        if (m_context)
            redisFree(m_context);
        m_context = nullptr;
    }

    QByteArray RedisAdmin::command(const QByteArrayList &args)
    {
        if (!m_context)
            return "(no connection)";
        std::vector<const char *> argv;
        std::vector<size_t> lengths;
        for (const QByteArray &arg : args)
        {
            argv.push_back(arg.constData());
            lengths.push_back(static_cast<size_t>(arg.size()));
        }
        auto *reply = static_cast<redisReply *>(
            redisCommandArgv(m_context, static_cast<int>(argv.size()), argv.data(), lengths.data()));
        if (!reply)
        {
            disconnect();  // a broken synchronous context cannot be reused
            return "(no connection)";
        }
        QByteArray text = replyToText(reply);
        freeReplyObject(reply);
        return text;
    }

    QByteArrayList RedisAdmin::keys(const QByteArray &pattern)
    {
        QByteArrayList found;
        QByteArray cursor = "0";
        do
        {
            if (!m_context)
                return {"(no connection)"};
            auto *reply = static_cast<redisReply *>(redisCommand(
                m_context, "SCAN %b MATCH %b COUNT 1000", cursor.constData(), static_cast<size_t>(cursor.size()),
                pattern.constData(), static_cast<size_t>(pattern.size())));
            if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2)
            {
                if (reply)
                    freeReplyObject(reply);
                return {"(scan failed)"};
            }
            cursor = QByteArray(reply->element[0]->str, static_cast<qsizetype>(reply->element[0]->len));
            for (size_t i = 0; i < reply->element[1]->elements; ++i)
            {
                const redisReply *key = reply->element[1]->element[i];
                found.append(QByteArray(key->str, static_cast<qsizetype>(key->len)));
            }
            freeReplyObject(reply);
        } while (cursor != "0");
        return found;
    }

    void LockFixture::addBackends()
    {
        QTest::addColumn<QString>("backend");
        QTest::newRow("memory") << QStringLiteral("memory");
        QTest::newRow("redis") << QStringLiteral("redis");
    }

    QString LockFixture::ensureRedis()
    {
        if (!m_redis.isRunning() && !m_redis.start())
            return m_redis.errorString();
        if ((m_admin.command({"PING"}) != "PONG") && !m_admin.connect(m_redis.port()))
            return QStringLiteral("cannot connect to Redis on port %1").arg(m_redis.port());
        return {};
    }

    std::unique_ptr<Lock::LockStore> LockFixture::makeStore(const QString &backend, Lock::LockOptions options)
    {
        if (backend == u"memory")
            return std::make_unique<Lock::MemoryLockStore>(std::move(options));
        return std::make_unique<Lock::RedisLockStore>(Lock::parseRedisUrl(m_redis.url()).value(), std::move(options));
    }

    QString LockFixture::newWorkflowId()
    {
        return QStringLiteral("wf-%1-%2")
            .arg(QString::fromLatin1(QTest::currentTestFunction()))
            .arg(++m_workflowCounter);
    }
}  // namespace Lockstep::Test
