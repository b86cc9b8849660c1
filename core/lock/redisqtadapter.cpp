#include "redisqtadapter.h"

#include <atomic>

#include <hiredis/async.h>

namespace Lockstep::Lock
{
    namespace
    {
        std::atomic<int> g_liveAdapters{0};

        RedisQtAdapter *adapterOf(void *data)
        {
            return static_cast<RedisQtAdapter *>(data);
        }
    }  // namespace

    bool RedisQtAdapter::attach(redisAsyncContext *context)
    {
        if (context->ev.data != nullptr)
            return false;
        // Owned by the context from here on: freed by cleanup(), never by anyone else.
        auto *adapter = new RedisQtAdapter(context);
        context->ev.data = adapter;
        context->ev.addRead = &RedisQtAdapter::addRead;
        context->ev.delRead = &RedisQtAdapter::delRead;
        context->ev.addWrite = &RedisQtAdapter::addWrite;
        context->ev.delWrite = &RedisQtAdapter::delWrite;
        context->ev.cleanup = &RedisQtAdapter::cleanup;
        // No scheduleTimer (hiredis >= 1.0 only): hiredis asks for it only when a
        // command or connect timeout is set on the context; the lock store keeps
        // its own deadlines instead.
        return true;
    }

    int RedisQtAdapter::liveCount()
    {
        return g_liveAdapters.load();
    }

    RedisQtAdapter::RedisQtAdapter(redisAsyncContext *context)
        : m_context(context)
        , m_read(QSocketNotifier::Read)
        , m_write(QSocketNotifier::Write)
    {
        // Both start switched off; hiredis switches them on when it wants to read or write.
        m_read.setSocket(context->c.fd);
        m_write.setSocket(context->c.fd);
        // The handlers hold the context, not the adapter: hiredis may free both from
        // inside the call (cleanup() deletes these notifiers, which Qt allows from
        // their own activated signal), and nothing runs after it returns.
        QObject::connect(&m_read, &QSocketNotifier::activated, &m_read, [context] { redisAsyncHandleRead(context); });
        QObject::connect(&m_write, &QSocketNotifier::activated, &m_write,
                         [context] { redisAsyncHandleWrite(context); });
        ++g_liveAdapters;
    }

    RedisQtAdapter::~RedisQtAdapter()
    {
        --g_liveAdapters;
    }

    void RedisQtAdapter::addRead(void *adapter)
    {
        adapterOf(adapter)->m_read.setEnabled(true);
    }

    void RedisQtAdapter::delRead(void *adapter)
    {
        adapterOf(adapter)->m_read.setEnabled(false);
    }

    void RedisQtAdapter::addWrite(void *adapter)
    {
        adapterOf(adapter)->m_write.setEnabled(true);
    }

    void RedisQtAdapter::delWrite(void *adapter)
    {
        adapterOf(adapter)->m_write.setEnabled(false);
    }

    void RedisQtAdapter::cleanup(void *adapter)
    {
        // hiredis calls this once, while the context is still valid and just before
        // it frees it. Unhook first, so nothing hiredis does with the context from
        // here on can reach the adapter; deleting it takes its notifiers out of the
        // event loop, including any activation still due in this pass.
        RedisQtAdapter *self = adapterOf(adapter);
        redisAsyncContext *context = self->m_context;
        context->ev.data = nullptr;
        context->ev.addRead = nullptr;
        context->ev.delRead = nullptr;
        context->ev.addWrite = nullptr;
        context->ev.delWrite = nullptr;
        context->ev.cleanup = nullptr;
        delete self;
    }
}  // namespace Lockstep::Lock
