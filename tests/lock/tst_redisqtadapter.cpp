// RedisQtAdapter's lifetime: hiredis frees a context (and with it the adapter)
// from inside the adapter's own notifier handlers, from reply callbacks and
// when the server vanishes. Each case checks that every callback runs exactly
// once, that the adapter is gone by the time hiredis reports the disconnect
// (not later, from the event loop) and that nothing fires afterwards; in the
// sanitizer build (-DLOCKSTEP_SANITIZE=ON) any touch of the freed context or
// adapter fails the test as well. hiredis's own Qt adapter fails here: it
// outlives its context, and its destructor writes into it.

#include <csignal>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <hiredis/sds.h>

#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <QTest>

#include "lock/redislockstore.h"
#include "lock/redisqtadapter.h"
#include "lockfixture.h"
#include "tempredis.h"

using namespace std::chrono_literals;
using namespace Lockstep;
using namespace Lockstep::Lock;
using Lockstep::Test::await;
using Lockstep::Test::describe;

namespace
{
    // What one hiredis context went through, counted from its callbacks.
    struct Probe
    {
        int connects = 0;
        int disconnects = 0;
        int disconnectStatus = -1;
        int adaptersAtDisconnect = -1;  // RedisQtAdapter::liveCount() inside the disconnect callback
        QByteArrayList replies;         // "(null)" when hiredis gave up on the command
        std::function<void(redisAsyncContext *)> afterReply;
    };

    void onConnect(const redisAsyncContext *context, int status)
    {
        Q_UNUSED(status);
        ++static_cast<Probe *>(context->data)->connects;
    }

    void onDisconnect(const redisAsyncContext *context, int status)
    {
        auto *probe = static_cast<Probe *>(context->data);
        ++probe->disconnects;
        probe->disconnectStatus = status;
        // hiredis frees the event library's part before it reports the disconnect.
        probe->adaptersAtDisconnect = RedisQtAdapter::liveCount();
    }

    void onReply(redisAsyncContext *context, void *reply, void *privdata)
    {
        Q_UNUSED(privdata);
        auto *probe = static_cast<Probe *>(context->data);
        const auto *answer = static_cast<const redisReply *>(reply);
        probe->replies.append(answer ? QByteArray(answer->str, static_cast<qsizetype>(answer->len)) : "(null)");
        if (probe->afterReply)
            std::exchange(probe->afterReply, {})(context);
    }

    redisAsyncContext *openProbed(quint16 port, Probe &probe)
    {
        redisAsyncContext *context = redisAsyncConnect("127.0.0.1", port);
        if (!context || context->err)
        {
            if (context)
                redisAsyncFree(context);
            return nullptr;
        }
        if (!RedisQtAdapter::attach(context))
        {
            redisAsyncFree(context);
            return nullptr;
        }
        context->data = &probe;
        redisAsyncSetConnectCallback(context, onConnect);
        redisAsyncSetDisconnectCallback(context, onDisconnect);
        return context;
    }

    void command(redisAsyncContext *context, const QByteArrayList &args)
    {
        std::vector<const char *> argv;
        std::vector<size_t> lengths;
        for (const QByteArray &arg : args)
        {
            argv.push_back(arg.constData());
            lengths.push_back(static_cast<size_t>(arg.size()));
        }
        QCOMPARE(redisAsyncCommandArgv(context, onReply, nullptr, static_cast<int>(argv.size()), argv.data(),
                                       lengths.data()),
                 REDIS_OK);
    }

    // A TCP listener on loopback that accepts and then only does what the test
    // says: never reads (the client's writes back up) and resets the connection.
    class RawServer
    {
    public:
        RawServer() = default;
        ~RawServer()
        {
            if (m_peer >= 0)
                ::close(m_peer);
            if (m_listener >= 0)
                ::close(m_listener);
        }
        Q_DISABLE_COPY_MOVE(RawServer)

        bool listen()
        {
            m_listener = ::socket(AF_INET, SOCK_STREAM, 0);
            sockaddr_in address{};
            address.sin_family = AF_INET;
            address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            socklen_t length = sizeof(address);
            return m_listener >= 0 && ::bind(m_listener, reinterpret_cast<sockaddr *>(&address), length) == 0 &&
                   ::listen(m_listener, 1) == 0 &&
                   ::getsockname(m_listener, reinterpret_cast<sockaddr *>(&address), &length) == 0 &&
                   (m_port = ntohs(address.sin_port)) != 0;
        }
        quint16 port() const
        {
            return m_port;
        }
        bool accept()
        {
            m_peer = ::accept(m_listener, nullptr, nullptr);
            return m_peer >= 0;
        }
        int unread() const
        {
            int bytes = 0;
            ::ioctl(m_peer, FIONREAD, &bytes);
            return bytes;
        }
        // RST instead of FIN: the client's next read and write both fail.
        void reset()
        {
            const linger resetOnClose{.l_onoff = 1, .l_linger = 0};
            ::setsockopt(m_peer, SOL_SOCKET, SO_LINGER, &resetOnClose, sizeof(resetOnClose));
            ::close(std::exchange(m_peer, -1));
        }

    private:
        int m_listener = -1;
        int m_peer = -1;
        quint16 m_port = 0;
    };
}  // namespace

class TestRedisQtAdapter : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase()
    {
        // hiredis writes with write(2): a write to a reset connection must fail, not kill us.
        std::signal(SIGPIPE, SIG_IGN);
        QVERIFY2(m_redis.start(), qPrintable(m_redis.errorString()));
    }

    void init()
    {
        if (!m_redis.isRunning())
            QVERIFY2(m_redis.start(), qPrintable(m_redis.errorString()));
    }

    void cleanup()
    {
        // Every case frees its contexts: no adapter may outlive its context.
        QCOMPARE(RedisQtAdapter::liveCount(), 0);
    }

    void roundTripAndFree()
    {
        Probe probe;
        redisAsyncContext *context = openProbed(m_redis.port(), probe);
        QVERIFY(context);
        QCOMPARE(RedisQtAdapter::liveCount(), 1);
        QVERIFY2(!RedisQtAdapter::attach(context), "a second event library on the same context");
        command(context, {"PING"});
        command(context, {"ECHO", "hello"});
        QTRY_COMPARE(probe.replies.size(), 2);
        QCOMPARE(probe.replies, (QByteArrayList{"PONG", "hello"}));
        QCOMPARE(probe.connects, 1);

        redisAsyncFree(context);
        QCOMPARE(probe.disconnects, 1);
        QCOMPARE(probe.disconnectStatus, REDIS_OK);
        QCOMPARE(probe.adaptersAtDisconnect, 0);
        QTest::qWait(50);
        QCOMPARE(probe.replies.size(), 2);
    }

    void freeInsideReplyCallback()
    {
        // Freed from the read notifier's own handler, with a pipelined reply
        // possibly in the same read: hiredis defers the free until the callback
        // returns, then fails the second command and frees context and adapter
        // before the handler returns.
        Probe probe;
        redisAsyncContext *context = openProbed(m_redis.port(), probe);
        QVERIFY(context);
        probe.afterReply = [](redisAsyncContext *self) { redisAsyncFree(self); };
        command(context, {"PING"});
        command(context, {"ECHO", "never seen"});
        QTRY_COMPARE(probe.disconnects, 1);
        QCOMPARE(probe.replies, (QByteArrayList{"PONG", "(null)"}));
        QCOMPARE(probe.disconnectStatus, REDIS_OK);
        QCOMPARE(probe.adaptersAtDisconnect, 0);
        QTest::qWait(50);
        QCOMPARE(probe.replies.size(), 2);
        QCOMPARE(probe.disconnects, 1);
    }

    void disconnectInsideReplyCallback()
    {
        // A clean disconnect asked for from a callback: the pipelined command is
        // still answered, then hiredis frees everything from inside the handler.
        Probe probe;
        redisAsyncContext *context = openProbed(m_redis.port(), probe);
        QVERIFY(context);
        probe.afterReply = [](redisAsyncContext *self) { redisAsyncDisconnect(self); };
        command(context, {"PING"});
        command(context, {"ECHO", "still answered"});
        QTRY_COMPARE(probe.disconnects, 1);
        QCOMPARE(probe.replies, (QByteArrayList{"PONG", "still answered"}));
        QCOMPARE(probe.disconnectStatus, REDIS_OK);
        QCOMPARE(probe.adaptersAtDisconnect, 0);
        QTest::qWait(50);
        QCOMPARE(probe.replies.size(), 2);
    }

    void freeWhileConnecting()
    {
        // The write notifier is armed (connect in progress, a command queued) when
        // the context goes: nothing may fire for it afterwards.
        Probe probe;
        redisAsyncContext *context = openProbed(m_redis.port(), probe);
        QVERIFY(context);
        command(context, {"PING"});
        redisAsyncFree(context);
        QCOMPARE(probe.replies, QByteArrayList{"(null)"});
        QCOMPARE(RedisQtAdapter::liveCount(), 0);
        QTest::qWait(100);
        QCOMPARE(probe.connects, 0);
        QCOMPARE(probe.disconnects, 0);  // never connected: hiredis reports no disconnect
        QCOMPARE(probe.replies.size(), 1);
    }

    void freeWhileAnswerPending()
    {
        // Sent and waiting for an answer that never comes (BLPOP on an empty key):
        // the read notifier is armed when the context is freed from outside.
        Probe probe;
        redisAsyncContext *context = openProbed(m_redis.port(), probe);
        QVERIFY(context);
        command(context, {"BLPOP", "tst_redisqtadapter:never", "0"});
        QTRY_COMPARE(probe.connects, 1);
        QTRY_VERIFY(sdslen(context->c.obuf) == 0);
        redisAsyncFree(context);
        QCOMPARE(probe.replies, QByteArrayList{"(null)"});
        QCOMPARE(probe.disconnects, 1);
        QCOMPARE(probe.adaptersAtDisconnect, 0);
        QTest::qWait(100);
        QCOMPARE(probe.replies.size(), 1);
    }

    void serverKilledMidCommand()
    {
        // The server is stopped with the commands in its socket, then killed: the
        // connection drops under hiredis, which fails both commands and frees the
        // context from inside the read handler.
        Probe probe;
        redisAsyncContext *context = openProbed(m_redis.port(), probe);
        QVERIFY(context);
        command(context, {"PING"});
        QTRY_COMPARE(probe.replies.size(), 1);
        ::kill(static_cast<pid_t>(m_redis.pid()), SIGSTOP);
        command(context, {"ECHO", "one"});
        command(context, {"ECHO", "two"});
        QTRY_VERIFY(sdslen(context->c.obuf) == 0);
        m_redis.kill();
        QTRY_COMPARE(probe.disconnects, 1);
        QCOMPARE(probe.replies, (QByteArrayList{"PONG", "(null)", "(null)"}));
        QCOMPARE(probe.disconnectStatus, REDIS_ERR);
        QCOMPARE(probe.adaptersAtDisconnect, 0);
        QTest::qWait(100);
        QCOMPARE(probe.replies.size(), 3);
    }

    void resetWithBothNotifiersDue()
    {
        // A command larger than the socket buffers keeps the write notifier armed
        // next to the read notifier; a reset makes both due in the same event loop
        // pass. The first handler frees the context; the second must not run.
        RawServer server;
        QVERIFY(server.listen());
        Probe probe;
        redisAsyncContext *context = openProbed(server.port(), probe);
        QVERIFY(context);
        QVERIFY(server.accept());
        command(context, {"SET", "big", QByteArray(32 * 1024 * 1024, 'x')});
        QTRY_VERIFY(probe.connects == 1 && server.unread() > 0);
        QTest::qWait(50);  // let the socket buffers fill up
        QVERIFY(sdslen(context->c.obuf) > 0);
        server.reset();
        QTRY_COMPARE(probe.disconnects, 1);
        QCOMPARE(probe.replies, QByteArrayList{"(null)"});
        QCOMPARE(probe.disconnectStatus, REDIS_ERR);
        QCOMPARE(probe.adaptersAtDisconnect, 0);
        QTest::qWait(100);
        QCOMPARE(probe.replies.size(), 1);
    }

    void storeDestroyedInsideItsAnswer()
    {
        // The lock store's owner deletes it from the answer's callback, which runs
        // inside hiredis's reply callback inside the read handler.
        auto endpoint = parseRedisUrl(m_redis.url());
        QVERIFY(endpoint);
        auto *store = new RedisLockStore(endpoint.value());
        bool answered = false;
        store->ping(nullptr, [&](LockResult<Ok> result) {
            answered = result.hasValue();
            QCOMPARE(RedisQtAdapter::liveCount(), 1);
            delete store;
        });
        QTRY_VERIFY(answered);
        QCOMPARE(RedisQtAdapter::liveCount(), 0);
    }

    void storeSurvivesServerKilledMidCall()
    {
        auto endpoint = parseRedisUrl(m_redis.url());
        QVERIFY(endpoint);
        RedisLockStore store(endpoint.value(), {.callTimeout = 30s});
        const auto first = await<Ok>([&](auto done) { store.ping(nullptr, done); });
        QVERIFY2(first, describe(first).constData());
        QCOMPARE(RedisQtAdapter::liveCount(), 1);

        // Killed with the call in its socket: it fails at once, not at the timeout.
        ::kill(static_cast<pid_t>(m_redis.pid()), SIGSTOP);
        std::optional<LockResult<Ok>> lost;
        store.ping(nullptr, [&](LockResult<Ok> result) { lost = std::move(result); });
        QTest::qWait(50);
        QVERIFY(!lost);
        m_redis.kill();
        QTRY_VERIFY(lost.has_value());
        QVERIFY(!*lost);
        QCOMPARE(lost->error().kind, LockError::Kind::Unavailable);
        QCOMPARE(RedisQtAdapter::liveCount(), 0);
        QCOMPARE(store.pendingCalls(), 0);

        // The same store reconnects once the server is back.
        QVERIFY2(m_redis.start(), qPrintable(m_redis.errorString()));
        const auto again = await<Ok>([&](auto done) { store.ping(nullptr, done); });
        QVERIFY2(again, describe(again).constData());
        QVERIFY(store.isConnected());
        QCOMPARE(RedisQtAdapter::liveCount(), 1);
    }

    void storeDestroyedInsideAFailedAnswer()
    {
        // The connection drops with calls pending; the first failed answer deletes
        // the store while hiredis is still failing the others and has yet to free
        // the context and the adapter.
        auto endpoint = parseRedisUrl(m_redis.url());
        QVERIFY(endpoint);
        auto *store = new RedisLockStore(endpoint.value(), {.callTimeout = 30s});
        const auto first = await<Ok>([&](auto done) { store->ping(nullptr, done); });
        QVERIFY2(first, describe(first).constData());

        ::kill(static_cast<pid_t>(m_redis.pid()), SIGSTOP);
        int answers = 0;
        bool failed = false;
        const auto deleteOnFailure = [&](LockResult<Ok> result) {
            ++answers;
            failed = !result.hasValue();
            delete store;
        };
        store->ping(nullptr, deleteOnFailure);
        store->ping(nullptr, deleteOnFailure);  // dropped: the store is gone by then
        QTest::qWait(50);
        m_redis.kill();
        QTRY_VERIFY(failed);
        QTest::qWait(100);
        QCOMPARE(answers, 1);
        QCOMPARE(RedisQtAdapter::liveCount(), 0);
    }

private:
    Lockstep::Test::TempRedis m_redis;
};

QTEST_GUILESS_MAIN(TestRedisQtAdapter)
#include "tst_redisqtadapter.moc"
