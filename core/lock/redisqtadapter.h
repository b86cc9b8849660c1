#pragma once

#include <QSocketNotifier>

struct redisAsyncContext;

namespace Lockstep::Lock
{
    // Runs a hiredis asynchronous context on the Qt event loop of the thread that
    // attaches it: a read and a write QSocketNotifier on the context's socket,
    // switched on and off by hiredis's addRead/delRead/addWrite/delWrite hooks.
    //
    // Why not hiredis's own adapters/qt.h: its RedisQtAdapter is a QObject in a
    // system header (AUTOMOC skips it, so moc had to be run on /usr/include), and
    // the caller owns it while hiredis owns the context. hiredis frees the context
    // on its own (connection lost, redisAsyncFree from a reply callback), and the
    // adapter's destructor then writes into the freed context: every caller had
    // to re-point it at a dummy "parking" context first. Here hiredis owns the
    // adapter: its cleanup hook, called once while the context is still valid,
    // is the only place that frees it, and it unhooks itself from the context
    // first, so no hook and no notifier can reach either afterwards.
    class RedisQtAdapter final
    {
    public:
        // Call right after redisAsyncConnect, before redisAsyncSetConnectCallback
        // (which asks for the first write event to see the connection complete).
        // false when an event library is attached already.
        static bool attach(redisAsyncContext *context);
        // Adapters alive in this process: 0 once every attached context is freed.
        static int liveCount();

        Q_DISABLE_COPY_MOVE(RedisQtAdapter)

    private:
        explicit RedisQtAdapter(redisAsyncContext *context);
        ~RedisQtAdapter();

        // hiredis's ev hooks; `adapter` is ev.data.
        static void addRead(void *adapter);
        static void delRead(void *adapter);
        static void addWrite(void *adapter);
        static void delWrite(void *adapter);
        static void cleanup(void *adapter);

        redisAsyncContext *m_context;
        QSocketNotifier m_read;
        QSocketNotifier m_write;
    };
}  // namespace Lockstep::Lock
