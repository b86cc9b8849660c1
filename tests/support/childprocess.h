#pragma once

#include <optional>

#include <QString>

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
} // namespace Lockstep::Test
