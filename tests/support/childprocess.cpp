#include "childprocess.h"

#include <csignal>

#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <QDeadlineTimer>
#include <QFile>
#include <QProcess>

namespace Lockstep::Test
{
    std::optional<RunAs> lookUpUser(const QString &name)
    {
        const QByteArray user = name.toLocal8Bit();
        const passwd *entry = ::getpwnam(user.constData());
        if (!entry)
            return std::nullopt;
        return RunAs{.uid = entry->pw_uid, .gid = entry->pw_gid};
    }

    void prepareChild(QProcess &process, const std::optional<RunAs> &runAs)
    {
        const pid_t parent = ::getpid();
        const bool switchUser = runAs.has_value();
        const uid_t uid = switchUser ? runAs->uid : 0;
        const gid_t gid = switchUser ? runAs->gid : 0;
        // Runs in the child between fork and exec: async-signal-safe calls only.
        process.setChildProcessModifier([parent, switchUser, uid, gid] {
            if (switchUser)
            {
                if ((::setgroups(1, &gid) != 0) || (::setgid(gid) != 0) || (::setuid(uid) != 0))
                    ::_exit(126);
            }
            // After setuid: a credential change clears the death signal.
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (::getppid() != parent)
                ::_exit(125);
        });
    }

    QString startServer(QProcess &process, const QString &program, const QStringList &arguments, const QString &workDir,
                        const QString &logFile, const int timeoutMs)
    {
        process.setWorkingDirectory(workDir);
        process.setStandardOutputFile(logFile, QIODevice::Append);
        process.setStandardErrorFile(logFile, QIODevice::Append);
        process.start(program, arguments);
        if (!process.waitForStarted(timeoutMs))
            return process.errorString();
        return {};
    }

    ServerState waitUntilReady(QProcess &process, const int timeoutMs, const int pollMs,
                               const std::function<bool()> &isReady)
    {
        const QDeadlineTimer deadline(timeoutMs);
        while (!deadline.hasExpired())
        {
            if (process.waitForFinished(pollMs))
                return ServerState::Exited;
            if (isReady())
                return ServerState::Ready;
        }
        return ServerState::TimedOut;
    }

    void endServer(QProcess &process, const int signal, const int timeoutMs)
    {
        if (process.state() == QProcess::NotRunning)
            return;
        ::kill(static_cast<pid_t>(process.processId()), signal);
        if (!process.waitForFinished(timeoutMs))
        {
            process.kill();
            process.waitForFinished(timeoutMs);
        }
    }

    QString readLogTail(const QString &path)
    {
        QFile log(path);
        if (!log.open(QIODevice::ReadOnly | QIODevice::Text))
            return QStringLiteral("(no server log)");
        const qint64 size = log.size();
        if (size > 3000)
            log.seek(size - 3000);
        return QString::fromLocal8Bit(log.readAll()).trimmed();
    }
}  // namespace Lockstep::Test
