#include "childprocess.h"

#include <csignal>

#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <unistd.h>

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
} // namespace Lockstep::Test
