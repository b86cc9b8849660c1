#pragma once

#include <QString>

#include "common/result.h"

namespace Lockstep::Workspace
{
    // Why a path was refused; `code` is a Wire::Codes value (path_escape,
    // not_found, bad_request).
    struct PathError
    {
        QString code;
        QString message;
    };

    // The one folder an agent's tools may touch. Every path a tool gets is
    // resolved here: relative to the root, no ".." component, an absolute path
    // only if it lies inside, and after following symlinks (canonical paths)
    // the target must still be inside. A file that does not exist yet is
    // checked through its canonical parent.
    //
    // Checks and the later open are not atomic: a process that can change the
    // workspace concurrently could swap a folder for a symlink in between. The
    // agent guards against a confused caller, not against code already running
    // inside the workspace (run_command runs with the agent's rights anyway).
    class WorkspaceFolder
    {
    public:
        // `directory` must exist and be a folder.
        static Result<WorkspaceFolder, QString> open(const QString &directory);

        QString root() const;   // canonical

        // An existing file or folder inside the workspace; "" and "." mean the root.
        Result<QString, PathError> resolveExisting(const QString &path) const;
        // A file that may not exist yet, for writing: its parent folder must exist
        // inside the workspace; an existing target must resolve inside, and a
        // dangling symlink is refused (writing through it would create its target).
        Result<QString, PathError> resolveForWrite(const QString &path) const;
        // The path as shown to the client: relative to the root, "." for the root.
        QString relative(const QString &canonicalPath) const;

    private:
        explicit WorkspaceFolder(QString root);

        Result<QString, PathError> lexical(const QString &path) const;
        bool contains(const QString &canonicalPath) const;

        QString m_root;
    };
} // namespace Lockstep::Workspace
