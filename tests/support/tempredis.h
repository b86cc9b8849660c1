#pragma once

#include <cstdint>
#include <memory>

#include <QString>

class QProcess;
class QTemporaryDir;

namespace Lockstep::Test
{
    // A throwaway redis-server on 127.0.0.1 and a free port, no persistence
    // (--save "" --appendonly no), working directory in a temporary folder.
    // The server is our child process and dies with us.
    //
    //     TempRedis redis;
    //     if (!redis.start())
    //         QFAIL(qPrintable(redis.errorString()));
    //     ... redis.url() ...
    class TempRedis
    {
    public:
        TempRedis();
        ~TempRedis();

        TempRedis(const TempRedis &) = delete;
        TempRedis &operator=(const TempRedis &) = delete;

        // Starts the server (again, on the same port, after kill()/stop()) and
        // waits until it answers PING. false: see errorString().
        bool start();
        // SIGKILL: the server vanishes mid-conversation, as in a crash.
        void kill();
        // SIGTERM and wait: an orderly shutdown.
        void stop();
        bool isRunning() const;

        // PING over RESP on a fresh connection; true on +PONG.
        bool ping(int timeoutMs = 1000) const;

        QString errorString() const;
        std::uint16_t port() const;
        qint64 pid() const;   // 0 when not running
        QString url() const;  // "redis://127.0.0.1:PORT"

    private:
        bool fail(const QString &message);
        QString logTail() const;

        std::unique_ptr<QTemporaryDir> m_dir;
        std::unique_ptr<QProcess> m_server;
        QString m_binary;
        QString m_error;
        std::uint16_t m_port = 0;
    };
}  // namespace Lockstep::Test
