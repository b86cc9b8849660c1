#include "tempredis.h"

#include <csignal>

#include <QDeadlineTimer>
#include <QDir>
#include <QProcess>
#include <QStandardPaths>
#include <QTcpSocket>
#include <QTemporaryDir>

#include "childprocess.h"
#include "freeport.h"

namespace Lockstep::Test
{
    namespace
    {
        constexpr int StartTimeoutMs = 15000;
        constexpr int StopTimeoutMs = 10000;
    }  // namespace

    TempRedis::TempRedis() = default;

    TempRedis::~TempRedis()
    {
        kill();
    }

    bool TempRedis::start()
    {
        if (isRunning())
            return true;
        m_error.clear();
        if (m_binary.isEmpty())
        {
            m_binary = QStandardPaths::findExecutable(QStringLiteral("redis-server"));
            if (m_binary.isEmpty())
                m_binary = QStandardPaths::findExecutable(
                    QStringLiteral("redis-server"), {QStringLiteral("/usr/sbin"), QStringLiteral("/usr/local/bin")});
            if (m_binary.isEmpty())
                return fail(QStringLiteral("redis-server is not installed (Debian: apt install redis-server)"));
        }
        if (!m_dir)
        {
            m_dir = std::make_unique<QTemporaryDir>(QDir::tempPath() + QStringLiteral("/lockstep-redis-XXXXXX"));
            if (!m_dir->isValid())
                return fail(QStringLiteral("cannot create a temporary directory: %1").arg(m_dir->errorString()));
        }

        const bool firstStart = (m_port == 0);
        for (int attempt = 0; attempt < 3; ++attempt)
        {
            if (firstStart)
                m_port = freePort();
            m_server = std::make_unique<QProcess>();
            prepareChild(*m_server, std::nullopt);
            const QString why =
                startServer(*m_server, m_binary,
                            {QStringLiteral("--port"), QString::number(m_port), QStringLiteral("--bind"),
                             QStringLiteral("127.0.0.1"), QStringLiteral("--save"), QStringLiteral(""),
                             QStringLiteral("--appendonly"), QStringLiteral("no"), QStringLiteral("--dir"),
                             m_dir->path(), QStringLiteral("--daemonize"), QStringLiteral("no"),
                             QStringLiteral("--protected-mode"), QStringLiteral("yes")},
                            m_dir->path(), m_dir->filePath(QStringLiteral("redis.log")), StartTimeoutMs);
            if (!why.isEmpty())
            {
                m_server.reset();
                return fail(QStringLiteral("cannot start %1: %2").arg(m_binary, why));
            }

            const ServerState state = waitUntilReady(*m_server, StartTimeoutMs, 20, [this] { return ping(500); });
            if (state == ServerState::Ready)
                return true;
            if (state == ServerState::TimedOut)
            {
                kill();
                return fail(QStringLiteral("redis-server did not answer PING within %1 s; log:\n%2")
                                .arg(StartTimeoutMs / 1000)
                                .arg(logTail()));
            }
            m_server.reset();
            const QString log = logTail();
            if (firstStart && log.contains(QStringLiteral("Address already in use")))
                continue;
            return fail(QStringLiteral("redis-server exited during start-up; log:\n%1").arg(log));
        }
        return fail(QStringLiteral("redis-server could not bind a free port; log:\n%1").arg(logTail()));
    }

    void TempRedis::kill()
    {
        if (m_server)
            endServer(*m_server, SIGKILL, StopTimeoutMs);
        m_server.reset();
    }

    void TempRedis::stop()
    {
        if (m_server)
            endServer(*m_server, SIGTERM, StopTimeoutMs);
        m_server.reset();
    }

    bool TempRedis::isRunning() const
    {
        return m_server && (m_server->state() != QProcess::NotRunning);
    }

    bool TempRedis::ping(const int timeoutMs) const
    {
        if (m_port == 0)
            return false;
        const QDeadlineTimer deadline(timeoutMs);
        QTcpSocket socket;
        socket.connectToHost(QHostAddress::LocalHost, m_port);
        if (!socket.waitForConnected(static_cast<int>(deadline.remainingTime())))
            return false;
        socket.write("*1\r\n$4\r\nPING\r\n");
        if (!socket.waitForBytesWritten(static_cast<int>(deadline.remainingTime())))
            return false;
        QByteArray reply;
        while (!reply.contains("\r\n") && !deadline.hasExpired())
        {
            if (!socket.waitForReadyRead(static_cast<int>(deadline.remainingTime())))
                break;
            reply += socket.readAll();
        }
        return reply.startsWith("+PONG\r\n");
    }

    QString TempRedis::errorString() const
    {
        return m_error;
    }

    std::uint16_t TempRedis::port() const
    {
        return m_port;
    }

    qint64 TempRedis::pid() const
    {
        return isRunning() ? m_server->processId() : 0;
    }

    QString TempRedis::url() const
    {
        return QStringLiteral("redis://127.0.0.1:%1").arg(m_port);
    }

    bool TempRedis::fail(const QString &message)
    {
        m_error = QStringLiteral("TempRedis: ") + message;
        return false;
    }

    QString TempRedis::logTail() const
    {
        return m_dir ? readLogTail(m_dir->filePath(QStringLiteral("redis.log"))) : QString();
    }
}  // namespace Lockstep::Test
