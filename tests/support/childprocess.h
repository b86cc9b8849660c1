#pragma once

#include <functional>
#include <optional>

#include <QString>
#include <QStringList>

class QProcess;

namespace Lockstep::Test
{
    // A Unix account a child process switches to (root cannot run initdb/postgres).
    struct RunAs
    {
        unsigned uid = 0;
        unsigned gid = 0;
    };

    // Looks `name` up in the passwd database.
    std::optional<RunAs> lookUpUser(const QString &name);

    // Makes the children `process` starts die with the thread that starts
    // them (PR_SET_PDEATHSIG), so a crashed test leaves no server behind, and
    // optionally run them as another user (instead of `runuser`, which would sit
    // between us and the server and defeat the death signal).
    void prepareChild(QProcess &process, const std::optional<RunAs> &runAs);

    // Starts a server with stdout and stderr appended to `logFile`, in `workDir`.
    // Empty on success, else why it did not start.
    QString startServer(QProcess &process, const QString &program, const QStringList &arguments, const QString &workDir,
                        const QString &logFile, int timeoutMs);

    enum class ServerState
    {
        Ready,
        Exited,
        TimedOut
    };

    // Polls `isReady` every `pollMs` until it says yes, the server exits or
    // `timeoutMs` pass.
    ServerState waitUntilReady(QProcess &process, int timeoutMs, int pollMs, const std::function<bool()> &isReady);

    // Sends `signal` to a running server and waits; SIGKILL if it outlives `timeoutMs`.
    void endServer(QProcess &process, int signal, int timeoutMs);

    // The last few KB of a server log, for error messages.
    QString readLogTail(const QString &path);
}  // namespace Lockstep::Test
