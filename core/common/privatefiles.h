#pragma once

#include <QString>

// Files and folders only their owner may read: the run store, the logs, the
// data folder. Created with these modes from the start, whatever the umask.
namespace Lockstep::PrivateFiles
{
    // Creates the folder `path` and every missing parent with mode 0700.
    // Folders that already exist keep their mode. false: it cannot be created.
    bool makePath(const QString &path);
    // Creates `path` as an empty file with mode 0600 unless it exists (an
    // existing file keeps its mode). false: it does not exist and cannot be created.
    bool ensureFile(const QString &path);
}  // namespace Lockstep::PrivateFiles
