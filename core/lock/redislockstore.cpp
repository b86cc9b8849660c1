#include "redislockstore.h"

#include <csignal>
#include <cstdint>
#include <mutex>
#include <vector>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <QCryptographicHash>
#include <QHostAddress>
#include <QHostInfo>
#include <QUrl>

#include "common/logging.h"
#include "lock/lockkeeper.h"
#include "lock/redisqtadapter.h"

namespace Lockstep::Lock
{
    namespace
    {
        // KEYS[1] lock key, KEYS[2] fence counter; ARGV[1] replica, ARGV[2] session, ARGV[3] ttl ms.
        // One atomic round trip: the fence is taken only when the lock is free, so
        // fences of successful acquisitions strictly increase and none is wasted.
        // Answers {1, our value, ttl} or {0, holder's value, PTTL}; the value names the fence.
        const QByteArray AcquireScript = QByteArrayLiteral(R"lua(
local current = redis.call('GET', KEYS[1])
if current then
  return {0, current, redis.call('PTTL', KEYS[1])}
end
local fence = redis.call('INCR', KEYS[2])
local value = string.format('{"fence":%d,"replica":%s,"session":%s}', fence, cjson.encode(ARGV[1]), cjson.encode(ARGV[2]))
redis.call('SET', KEYS[1], value, 'NX', 'PX', ARGV[3])
return {1, value, tonumber(ARGV[3])}
)lua");

        // KEYS[1] lock key; ARGV[1] our value, ARGV[2] ttl ms. 1 if extended, 0 if not ours.
        const QByteArray RefreshScript = QByteArrayLiteral(R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
)lua");

        // KEYS[1] lock key; ARGV[1] our value. 1 if deleted, 0 if not ours.
        const QByteArray ReleaseScript = QByteArrayLiteral(R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
)lua");

        // KEYS[1] lock key. nil when free, else {value, PTTL}, read atomically.
        const QByteArray PeekScript = QByteArrayLiteral(R"lua(
local value = redis.call('GET', KEYS[1])
if not value then
  return false
end
return {value, redis.call('PTTL', KEYS[1])}
)lua");

        // KEYS[1] lock key, KEYS[2] fence counter; ARGV[1] our value, ARGV[2] floor.
        // Only while ARGV[1] holds the lock: the counter moves past the floor, the
        // next fence goes into the lock value, the TTL is kept. Answers the new
        // value, or false when the lock is not ours.
        const QByteArray RaiseFenceScript = QByteArrayLiteral(R"lua(
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return false
end
if (tonumber(redis.call('GET', KEYS[2])) or 0) < tonumber(ARGV[2]) then
  redis.call('SET', KEYS[2], ARGV[2])
end
local fence = redis.call('INCR', KEYS[2])
local holder = cjson.decode(ARGV[1])
local value = string.format('{"fence":%d,"replica":%s,"session":%s}', fence, cjson.encode(holder.replica), cjson.encode(holder.session))
redis.call('SET', KEYS[1], value, 'KEEPTTL')
return value
)lua");

        struct ScriptText
        {
            QByteArray body;
            QByteArray sha;
        };

        ScriptText makeScript(const QByteArray &body)
        {
            return {body, QCryptographicHash::hash(body, QCryptographicHash::Sha1).toHex()};
        }

        void *idToPrivdata(quint64 id)
        {
            return reinterpret_cast<void *>(static_cast<std::uintptr_t>(id));
        }

        quint64 privdataToId(void *privdata)
        {
            return static_cast<quint64>(reinterpret_cast<std::uintptr_t>(privdata));
        }

        // ac->errstr is only filled in on some paths; the socket context's buffer always is.
        QString contextError(const redisAsyncContext *context)
        {
            if (context->c.errstr[0] == '\0')
                return QStringLiteral("connection closed");
            return QString::fromLocal8Bit(context->c.errstr);
        }

        // hiredis writes with write(2), not send(MSG_NOSIGNAL): writing to a Redis
        // that just died would raise SIGPIPE and kill the process. Ignore it, as
        // Qt's own sockets do, unless the application installed a handler.
        void ignoreSigpipe()
        {
            static std::once_flag once;
            std::call_once(once, [] {
                struct sigaction current
                {};
                if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL)
                {
                    struct sigaction ignore
                    {};
                    ignore.sa_handler = SIG_IGN;
                    sigemptyset(&ignore.sa_mask);
                    sigaction(SIGPIPE, &ignore, nullptr);
                }
            });
        }

        QString replyText(const redisReply &reply)
        {
            return QString::fromUtf8(reply.str, static_cast<qsizetype>(reply.len));
        }

        QByteArray replyBytes(const redisReply &reply)
        {
            return {reply.str, static_cast<qsizetype>(reply.len)};
        }

        LockError unexpectedReply(const char *what)
        {
            return {.kind = LockError::Kind::StoreError,
                    .message = QStringLiteral("unexpected answer from Redis to %1").arg(QLatin1String(what))};
        }

        LockResult<AcquireResult> parseAcquire(const redisReply &reply)
        {
            if (reply.type != REDIS_REPLY_ARRAY || reply.elements != 3 ||
                reply.element[0]->type != REDIS_REPLY_INTEGER || reply.element[1]->type != REDIS_REPLY_STRING ||
                reply.element[2]->type != REDIS_REPLY_INTEGER)
                return unexpected(unexpectedReply("acquire"));
            AcquireResult result{.acquired = reply.element[0]->integer == 1,
                                 .holder = decodeLockValue(replyBytes(*reply.element[1])),
                                 .ttlMs = reply.element[2]->integer};
            if (result.acquired && !result.holder.parsed)
                return unexpected(unexpectedReply("acquire"));
            return result;
        }

        LockResult<bool> parseFlag(const redisReply &reply)
        {
            if (reply.type != REDIS_REPLY_INTEGER)
                return unexpected(unexpectedReply("a compare-and-set script"));
            return reply.integer == 1;
        }

        LockResult<LockSnapshot> parsePeek(const redisReply &reply)
        {
            if (reply.type == REDIS_REPLY_NIL)
                return LockSnapshot{};
            if (reply.type != REDIS_REPLY_ARRAY || reply.elements != 2 ||
                reply.element[0]->type != REDIS_REPLY_STRING || reply.element[1]->type != REDIS_REPLY_INTEGER)
                return unexpected(unexpectedReply("peek"));
            return LockSnapshot{.held = true,
                                .holder = decodeLockValue(replyBytes(*reply.element[0])),
                                .ttlMs = reply.element[1]->integer};
        }

        LockResult<std::optional<LockHolder>> parseRaisedFence(const redisReply &reply)
        {
            if (reply.type == REDIS_REPLY_NIL)
                return std::optional<LockHolder>();
            if (reply.type != REDIS_REPLY_STRING)
                return unexpected(unexpectedReply("raise fence"));
            LockHolder holder = decodeLockValue(replyBytes(reply));
            if (!holder.parsed)
                return unexpected(unexpectedReply("raise fence"));
            return std::optional<LockHolder>(std::move(holder));
        }

        LockResult<Ok> parsePong(const redisReply &reply)
        {
            if (reply.type != REDIS_REPLY_STATUS || replyBytes(reply) != "PONG")
                return unexpected(unexpectedReply("PING"));
            return Ok{};
        }

        LockError invalidUrl(const QString &message)
        {
            return {.kind = LockError::Kind::InvalidArgument, .message = QStringLiteral("--redis: ") + message};
        }
    }  // namespace

    const QByteArray &redisRefreshScript()
    {
        return RefreshScript;
    }

    QString RedisEndpoint::redacted() const
    {
        QString text = QStringLiteral("redis://");
        if (!username.isEmpty() || !password.isEmpty())
            text += username + (password.isEmpty() ? QString() : QStringLiteral(":***")) + u'@';
        text += host.contains(u':') ? u'[' + host + u']' : host;
        text += u':' + QString::number(port);
        if (database != 0)
            text += u'/' + QString::number(database);
        return text;
    }

    Result<RedisEndpoint, LockError> parseRedisUrl(const QString &url)
    {
        const QUrl parsed(url, QUrl::StrictMode);
        if (!parsed.isValid())
            return unexpected(invalidUrl(QStringLiteral("not a URL (expected redis://HOST:PORT)")));
        if (parsed.scheme() == u"rediss")
            return unexpected(invalidUrl(QStringLiteral("TLS (rediss://) is not supported; use redis://")));
        if (parsed.scheme() != u"redis")
            return unexpected(invalidUrl(QStringLiteral("expected redis://HOST:PORT")));
        RedisEndpoint endpoint;
        endpoint.host = parsed.host(QUrl::FullyDecoded);
        if (endpoint.host.isEmpty())
            return unexpected(invalidUrl(QStringLiteral("no host (expected redis://HOST:PORT)")));
        const int port = parsed.port(6379);
        if (port < 1 || port > 65535)
            return unexpected(invalidUrl(QStringLiteral("port must be 1 to 65535")));
        endpoint.port = static_cast<quint16>(port);
        endpoint.username = parsed.userName(QUrl::FullyDecoded);
        endpoint.password = parsed.password(QUrl::FullyDecoded);
        if (!endpoint.username.isEmpty() && endpoint.password.isEmpty())
            return unexpected(invalidUrl(QStringLiteral("a user name needs a password (redis://user:password@host)")));
        const QString path = parsed.path();
        if (!path.isEmpty() && path != u"/")
        {
            bool ok = false;
            endpoint.database = path.mid(1).toInt(&ok);
            if (!ok || endpoint.database < 0)
                return unexpected(invalidUrl(QStringLiteral("the path must be a database number, e.g. /0")));
        }
        if (parsed.hasQuery() || parsed.hasFragment())
            return unexpected(invalidUrl(QStringLiteral("query and fragment are not supported")));
        return endpoint;
    }

    RedisLockStore::RedisLockStore(RedisEndpoint endpoint, LockOptions options, QObject *parent)
        : LockStore(std::move(options), parent)
        , m_endpoint(std::move(endpoint))
    {
        ignoreSigpipe();
        m_timer.setSingleShot(true);
        m_timer.setTimerType(Qt::PreciseTimer);
        connect(&m_timer, &QTimer::timeout, this, &RedisLockStore::onTimer);
    }

    RedisLockStore::~RedisLockStore()
    {
        m_pending.clear();  // their answers are dropped, as documented
        ++m_generation;
        if (redisAsyncContext *context = std::exchange(m_context, nullptr))
        {
            context->data = nullptr;  // late hiredis callbacks find no store
            redisAsyncFree(context);  // deferred by hiredis when inside its callback
        }
    }

    QString RedisLockStore::kind() const
    {
        return QStringLiteral("redis");
    }

    const RedisEndpoint &RedisLockStore::endpoint() const
    {
        return m_endpoint;
    }

    LockKeeper *RedisLockStore::keeper()
    {
        if (!m_keeper)
            m_keeper = std::make_unique<LockKeeper>(m_endpoint, options().callTimeout);
        return m_keeper.get();
    }

    bool RedisLockStore::isConnected() const
    {
        return m_link == Link::Up;
    }

    qsizetype RedisLockStore::pendingCalls() const
    {
        return static_cast<qsizetype>(m_pending.size());
    }

    void RedisLockStore::doAcquire(const QString &workflowId, const QString &sessionId, std::chrono::milliseconds ttl,
                                   Completion<AcquireResult> done)
    {
        runScript(Script::Acquire,
                  {"2", lockKey(workflowId), fenceKey(workflowId), options().replicaId.toUtf8(), sessionId.toUtf8(),
                   QByteArray::number(ttl.count())},
                  std::move(done), parseAcquire);
    }

    void RedisLockStore::doRefresh(const QString &workflowId, const QByteArray &value, std::chrono::milliseconds ttl,
                                   Completion<bool> done)
    {
        runScript(Script::Refresh, {"1", lockKey(workflowId), value, QByteArray::number(ttl.count())}, std::move(done),
                  parseFlag);
    }

    void RedisLockStore::doRelease(const QString &workflowId, const QByteArray &value, Completion<bool> done)
    {
        runScript(Script::Release, {"1", lockKey(workflowId), value}, std::move(done), parseFlag);
    }

    void RedisLockStore::doPeek(const QString &workflowId, Completion<LockSnapshot> done)
    {
        runScript(Script::Peek, {"1", lockKey(workflowId)}, std::move(done), parsePeek);
    }

    void RedisLockStore::doRaiseFence(const QString &workflowId, const QByteArray &value, const qint64 floor,
                                      Completion<std::optional<LockHolder>> done)
    {
        runScript(Script::RaiseFence,
                  {"2", lockKey(workflowId), fenceKey(workflowId), value, QByteArray::number(floor)}, std::move(done),
                  parseRaisedFence);
    }

    void RedisLockStore::doPing(Completion<Ok> done)
    {
        runScript(Script::None, {"PING"}, std::move(done), parsePong);
    }

    template <typename T, typename Parse>
    void RedisLockStore::runScript(Script script, QByteArrayList args, Completion<T> done, Parse parse)
    {
        Call call{.script = script, .args = std::move(args)};
        call.finish = [done = std::move(done), parse](LockResult<const redisReply *> reply) {
            if (!reply)
                return done(unexpected(std::move(reply).error()));
            const redisReply &answer = *reply.value();
            if (answer.type == REDIS_REPLY_ERROR)
            {
                return done(unexpected(
                    LockError{.kind = LockError::Kind::StoreError, .message = u"Redis: " + replyText(answer)}));
            }
            done(parse(answer));
        };
        enqueue(std::move(call));
    }

    void RedisLockStore::enqueue(Call call)
    {
        const quint64 id = ++m_nextId;
        call.deadline = Clock::now() + options().callTimeout;
        Call &stored = m_pending.emplace(id, std::move(call)).first->second;
        armTimer(false);
        switch (m_link)
        {
        case Link::Down:
            // Connect from the event loop, so a refused connection never answers
            // inside the caller's own call.
            m_link = Link::Scheduled;
            QMetaObject::invokeMethod(this, &RedisLockStore::connectNow, Qt::QueuedConnection);
            break;
        case Link::Scheduled:
        case Link::Resolving: break;  // sent once the context exists
        case Link::Connecting:
        case Link::Up: send(id, stored); break;
        }
    }

    void RedisLockStore::send(quint64 id, Call &call)
    {
        static const ScriptText scripts[] = {
            {},
            makeScript(AcquireScript),
            makeScript(RefreshScript),
            makeScript(ReleaseScript),
            makeScript(PeekScript),
            makeScript(RaiseFenceScript),
        };
        std::vector<const char *> argv;
        std::vector<size_t> lengths;
        argv.reserve(static_cast<size_t>(call.args.size()) + 2);
        lengths.reserve(argv.capacity());
        const auto push = [&](const QByteArray &arg) {
            argv.push_back(arg.constData());
            lengths.push_back(static_cast<size_t>(arg.size()));
        };
        static const QByteArray evalsha = QByteArrayLiteral("EVALSHA");
        static const QByteArray eval = QByteArrayLiteral("EVAL");
        if (call.script != Script::None)
        {
            const ScriptText &script = scripts[static_cast<int>(call.script)];
            push(call.useEval ? eval : evalsha);
            push(call.useEval ? script.body : script.sha);
        }
        for (const QByteArray &arg : std::as_const(call.args))
            push(arg);
        call.sent = true;
        if (redisAsyncCommandArgv(m_context, &RedisLockStore::replyThunk, idToPrivdata(id),
                                  static_cast<int>(argv.size()), argv.data(), lengths.data()) != REDIS_OK)
        {
            // Only when hiredis is tearing the context down; answer from the event loop.
            const LockError error{.kind = LockError::Kind::Unavailable,
                                  .message = QStringLiteral("lock store connection is closing")};
            QMetaObject::invokeMethod(
                this, [this, id, error] { failCall(id, error); }, Qt::QueuedConnection);
        }
    }

    void RedisLockStore::connectNow()
    {
        if (m_link != Link::Scheduled)
            return;
        if (m_pending.empty())
        {
            m_link = Link::Down;  // everything timed out meanwhile: nothing to connect for
            return;
        }
        if (QHostAddress literal; literal.setAddress(m_endpoint.host))
            return openContext(literal.toString().toLatin1());

        // hiredis would resolve the name with a blocking getaddrinfo(); do it asynchronously.
        m_link = Link::Resolving;
        const quint64 generation = m_generation;
        QHostInfo::lookupHost(m_endpoint.host, this, [this, generation](const QHostInfo &info) {
            if (generation != m_generation || m_link != Link::Resolving)
                return;
            const QList<QHostAddress> addresses = info.addresses();
            if (info.error() != QHostInfo::NoError || addresses.isEmpty())
            {
                return dropConnection({.kind = LockError::Kind::Unavailable,
                                       .message = QStringLiteral("cannot resolve lock store host %1: %2")
                                                      .arg(m_endpoint.host, info.errorString())},
                                      false);
            }
            QHostAddress chosen = addresses.constFirst();
            for (const QHostAddress &address : addresses)
            {
                if (address.protocol() == QAbstractSocket::IPv4Protocol)
                {
                    chosen = address;
                    break;
                }
            }
            openContext(chosen.toString().toLatin1());
        });
    }

    void RedisLockStore::openContext(const QByteArray &address)
    {
        redisAsyncContext *context = redisAsyncConnect(address.constData(), m_endpoint.port);
        if (!context || context->err)
        {
            const QString reason = context ? contextError(context) : QStringLiteral("out of memory");
            if (context)
                redisAsyncFree(context);
            return dropConnection(
                {.kind = LockError::Kind::Unavailable,
                 .message = QStringLiteral("cannot connect to lock store %1: %2").arg(m_endpoint.redacted(), reason)},
                false);
        }
        RedisQtAdapter::attach(context);  // a fresh context has no event library yet
        context->data = this;
        redisAsyncSetConnectCallback(context, &RedisLockStore::connectThunk);
        redisAsyncSetDisconnectCallback(context, &RedisLockStore::disconnectThunk);
        m_context = context;
        m_link = Link::Connecting;

        // Pipelined ahead of the waiting calls; a failure drops the connection with a clear reason.
        const auto setup = [this](QByteArrayList command, QString what) {
            Call call{.args = std::move(command)};
            call.finish = [this, what](LockResult<const redisReply *> reply) {
                if (reply && reply.value()->type == REDIS_REPLY_ERROR)
                {
                    dropConnection({.kind = LockError::Kind::StoreError,
                                    .message = what + QStringLiteral(" failed: ") + replyText(*reply.value())},
                                   false);
                }
            };
            enqueue(std::move(call));
        };
        if (!m_endpoint.password.isEmpty())
        {
            QByteArrayList auth{"AUTH"};
            if (!m_endpoint.username.isEmpty())
                auth.append(m_endpoint.username.toUtf8());
            auth.append(m_endpoint.password.toUtf8());
            setup(std::move(auth), QStringLiteral("lock store authentication"));
        }
        if (m_endpoint.database != 0)
            setup({"SELECT", QByteArray::number(m_endpoint.database)}, QStringLiteral("lock store SELECT"));
        // The setup calls have the newest ids: send the waiting ones after them, in order.
        for (auto &[id, call] : m_pending)
        {
            if (!call.sent)
                send(id, call);
        }
    }

    void RedisLockStore::handleReply(quint64 id, const redisReply *reply)
    {
        const auto it = m_pending.find(id);
        if (it == m_pending.end())
            return;
        Call &call = it->second;
        if (call.script != Script::None && !call.useEval && reply->type == REDIS_REPLY_ERROR &&
            replyText(*reply).startsWith(QLatin1String("NOSCRIPT")))
        {
            // A fresh server (or SCRIPT FLUSH): send the body once; it is cached from then on.
            call.useEval = true;
            return send(id, call);
        }
        const ReplyHandler finish = std::move(call.finish);
        m_pending.erase(it);
        finish(reply);  // may destroy this store: touch nothing after it
    }

    void RedisLockStore::dropConnection(const LockError &error, bool contextDying)
    {
        ++m_generation;
        const bool wasUp = m_link == Link::Up;
        m_link = Link::Down;
        if (redisAsyncContext *context = std::exchange(m_context, nullptr))
        {
            context->data = nullptr;
            if (!contextDying)
                redisAsyncFree(context);  // deferred by hiredis when inside its callback
        }
        if (wasUp || !m_reportedDown)
            qCWarning(lcLock).noquote() << error.message;
        m_reportedDown = true;

        std::map<quint64, Call> calls = std::exchange(m_pending, {});
        m_timer.stop();
        const QPointer<RedisLockStore> alive(this);
        for (auto &[id, call] : calls)
        {
            call.finish(unexpected(error));
            if (!alive)
                return;
        }
    }

    void RedisLockStore::failCall(quint64 id, const LockError &error)
    {
        const auto it = m_pending.find(id);
        if (it == m_pending.end())
            return;
        const ReplyHandler finish = std::move(it->second.finish);
        m_pending.erase(it);
        finish(unexpected(error));
    }

    void RedisLockStore::armTimer(bool restart)
    {
        if (m_pending.empty())
            return m_timer.stop();
        if (m_timer.isActive() && !restart)
            return;
        const auto left =
            std::chrono::ceil<std::chrono::milliseconds>(m_pending.begin()->second.deadline - Clock::now());
        m_timer.start(std::max(left, std::chrono::milliseconds(0)));
    }

    void RedisLockStore::onTimer()
    {
        if (m_pending.empty() || m_pending.begin()->second.deadline > Clock::now())
            return armTimer(true);
        // The store stopped answering: give up on this connection; the next call opens a new one.
        dropConnection({.kind = LockError::Kind::Timeout,
                        .message = QStringLiteral("lock store %1 did not answer within %2 ms")
                                       .arg(m_endpoint.redacted())
                                       .arg(options().callTimeout.count())},
                       false);
    }

    void RedisLockStore::replyThunk(redisAsyncContext *context, void *reply, void *privdata)
    {
        auto *self = static_cast<RedisLockStore *>(context->data);
        if (!self)
            return;
        if (!reply)
        {
            // hiredis is freeing the context (connection lost): every call fails now.
            return self->dropConnection({.kind = LockError::Kind::Unavailable,
                                         .message = QStringLiteral("lost the connection to lock store %1: %2")
                                                        .arg(self->m_endpoint.redacted(), contextError(context))},
                                        true);
        }
        self->handleReply(privdataToId(privdata), static_cast<const redisReply *>(reply));
    }

    void RedisLockStore::connectThunk(const redisAsyncContext *context, int status)
    {
        auto *self = static_cast<RedisLockStore *>(context->data);
        if (!self)
            return;
        if (status == REDIS_OK)
        {
            self->m_link = Link::Up;
            if (std::exchange(self->m_reportedDown, false))
                qCInfo(lcLock).noquote() << "connected to lock store" << self->m_endpoint.redacted() << "again";
            return;
        }
        self->dropConnection({.kind = LockError::Kind::Unavailable,
                              .message = QStringLiteral("cannot connect to lock store %1: %2")
                                             .arg(self->m_endpoint.redacted(), contextError(context))},
                             true);
    }

    void RedisLockStore::disconnectThunk(const redisAsyncContext *context, int status)
    {
        Q_UNUSED(status);
        auto *self = static_cast<RedisLockStore *>(context->data);
        if (!self)
            return;
        self->dropConnection({.kind = LockError::Kind::Unavailable,
                              .message = QStringLiteral("lost the connection to lock store %1: %2")
                                             .arg(self->m_endpoint.redacted(), contextError(context))},
                             true);
    }
}  // namespace Lockstep::Lock
