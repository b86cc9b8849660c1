#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>

#include <QByteArrayList>
#include <QTimer>

#include "lock/lockstore.h"

struct redisAsyncContext;
struct redisReply;

namespace Lockstep::Lock
{
    // A parsed --redis value: redis://[[user]:password@]host[:port][/db]
    struct RedisEndpoint
    {
        QString host;  // name or address literal ([::1] in a URL)
        quint16 port = 6379;
        QString username;  // Redis 6 ACL user; empty: AUTH <password>
        QString password;  // never printed; see redacted()
        int database = 0;

        // The URL without the password, safe for logs and errors.
        QString redacted() const;
    };

    Result<RedisEndpoint, LockError> parseRedisUrl(const QString &url);

    // The refresh script (KEYS[1] lock key; ARGV[1] our value, ARGV[2] ttl ms):
    // 1 if extended, 0 if not ours. Shared with LockKeeper.
    const QByteArray &redisRefreshScript();

    // The lock store on Redis, through hiredis's asynchronous API on the Qt event
    // loop (RedisQtAdapter): nothing here blocks. One connection, opened by the
    // first call and again by the first call after it was lost; calls while the
    // server is down fail fast (connection refused) or at the latest after
    // callTimeout, which also drops a connection that stopped answering.
    // Acquire, refresh, release and peek are Lua scripts (EVALSHA, EVAL once after
    // NOSCRIPT), so each is one atomic round trip.
    class RedisLockStore final : public LockStore
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(RedisLockStore)

    public:
        explicit RedisLockStore(RedisEndpoint endpoint, LockOptions options = {}, QObject *parent = nullptr);
        ~RedisLockStore() override;

        QString kind() const override;
        const RedisEndpoint &endpoint() const;

        bool isConnected() const;
        LockKeeper *keeper() override;
        // Calls still waiting for an answer (0 when idle: nothing leaks).
        qsizetype pendingCalls() const;

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
        using ReplyHandler = std::function<void(LockResult<const redisReply *>)>;

        enum class Script
        {
            None,  // a plain command (AUTH, SELECT)
            Acquire,
            Refresh,
            Release,
            Peek,
            RaiseFence,
        };

        enum class Link
        {
            Down,
            Scheduled,   // a connect runs on the next event loop pass
            Resolving,   // looking up the host name (QHostInfo, asynchronous)
            Connecting,  // hiredis context exists; commands queue in its buffer
            Up,
        };

        struct Call
        {
            Script script = Script::None;
            QByteArrayList args;  // after EVALSHA <sha>: numkeys, keys, argv; or the whole plain command
            ReplyHandler finish;
            Clock::time_point deadline;
            bool sent = false;
            bool useEval = false;  // the server did not know the script (NOSCRIPT)
        };

        template <typename T, typename Parse>
        void runScript(Script script, QByteArrayList args, Completion<T> done, Parse parse);
        void enqueue(Call call);
        void send(quint64 id, Call &call);
        void connectNow();
        void openContext(const QByteArray &address);
        void handleReply(quint64 id, const redisReply *reply);
        void dropConnection(const LockError &error, bool contextDying);
        void failCall(quint64 id, const LockError &error);
        void armTimer(bool restart);
        void onTimer();

        static void replyThunk(redisAsyncContext *context, void *reply, void *privdata);
        static void connectThunk(const redisAsyncContext *context, int status);
        static void disconnectThunk(const redisAsyncContext *context, int status);

        RedisEndpoint m_endpoint;
        redisAsyncContext *m_context = nullptr;
        Link m_link = Link::Down;
        quint64 m_generation = 0;  // bumped on every drop: late host lookups are ignored
        quint64 m_nextId = 0;
        std::map<quint64, Call> m_pending;  // by id, which is also by deadline
        QTimer m_timer;
        bool m_reportedDown = false;
        std::unique_ptr<LockKeeper> m_keeper;  // started by the first keeper() call
    };
}  // namespace Lockstep::Lock
