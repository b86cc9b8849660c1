#include "benchutil.h"

#include <algorithm>

#include <hiredis/hiredis.h>

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QElapsedTimer>
#include <QFile>
#include <QList>
#include <QString>

namespace Lockstep::Bench
{
    Latency summarise(std::vector<qint64> ns, const int errors)
    {
        Latency result{.errors = errors};
        if (ns.empty())
            return result;
        std::sort(ns.begin(), ns.end());
        const auto at = [&ns](const double p) {
            const auto index = static_cast<size_t>(p * static_cast<double>(ns.size() - 1) + 0.5);
            return static_cast<double>(ns[std::min(index, ns.size() - 1)]) / 1000.0;
        };
        result.p50Us = at(0.50);
        result.p99Us = at(0.99);
        result.maxUs = static_cast<double>(ns.back()) / 1000.0;
        return result;
    }

    qint64 statusKb(const qint64 pid, const char *field)
    {
        // /proc files report size 0, so read to the end rather than trusting atEnd().
        QFile status(QStringLiteral("/proc/%1/status").arg(pid));
        if (!status.open(QIODevice::ReadOnly | QIODevice::Text))
            return -1;
        const QList<QByteArray> lines = status.readAll().split('\n');
        for (const QByteArray &line : lines)
        {
            if (line.startsWith(field))
                return line.mid(qstrlen(field)).trimmed().split(' ').constFirst().toLongLong();
        }
        return -1;
    }

    qint64 rssKb(const qint64 pid)
    {
        return statusKb(pid, "VmRSS:");
    }

    Latency floorSync(const quint16 port, const QByteArray &key, const int tries)
    {
        const timeval timeout{.tv_sec = 2, .tv_usec = 0};
        redisContext *context = redisConnectWithTimeout("127.0.0.1", port, timeout);
        if (!context || context->err)
        {
            if (context)
                redisFree(context);
            return {.errors = tries};
        }
        std::vector<qint64> ns;
        int errors = 0;
        QElapsedTimer timer;
        for (int i = 0; i < tries; ++i)
        {
            timer.start();
            auto *reply = static_cast<redisReply *>(redisCommand(context, "SET %b contender NX PX 30000",
                                                                 key.constData(), static_cast<size_t>(key.size())));
            ns.push_back(timer.nsecsElapsed());
            if (!reply || reply->type != REDIS_REPLY_NIL)
                ++errors;
            if (reply)
                freeReplyObject(reply);
        }
        redisFree(context);
        return summarise(std::move(ns), errors);
    }

    void useGatewayBinary(const char *fallback)
    {
        if (qEnvironmentVariableIsEmpty("LOCKSTEP_GATEWAY_BIN"))
            qputenv("LOCKSTEP_GATEWAY_BIN", fallback);
    }
    bool spinUntil(const std::function<bool()> &done, const int timeoutMs)
    {
        QDeadlineTimer deadline(timeoutMs);
        while (!done())
        {
            if (deadline.hasExpired())
                return false;
            QCoreApplication::processEvents(QEventLoop::AllEvents, 20);
        }
        return true;
    }
}  // namespace Lockstep::Bench
