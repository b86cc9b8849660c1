#pragma once

#include <memory>

#include <QByteArray>
#include <QString>

#include "common/result.h"

namespace Lockstep::Workspace
{
    // Why a path was refused; `code` is a Wire::Codes value (path_escape,
    // not_found, bad_request, io_error).
    struct PathError
    {
        QString code;
        QString message;
    };

    // An owned file descriptor (closed on destruction).
    class UniqueFd
    {
    public:
        UniqueFd() = default;
        explicit UniqueFd(int fd);
        ~UniqueFd();
        UniqueFd(UniqueFd &&other) noexcept;
        UniqueFd &operator=(UniqueFd &&other) noexcept;
        UniqueFd(const UniqueFd &) = delete;
        UniqueFd &operator=(const UniqueFd &) = delete;

        int get() const;
        bool isValid() const;
        // Gives the descriptor up without closing it.
        int release();

    private:
        int m_fd = -1;
    };

    // The one folder an agent's tools may touch. Every path a tool gets is
    // opened beneath the workspace's root descriptor, never by name from "/":
    //
    //  - lexically: relative to the root, no ".." component, an absolute path
    //    only if it lies inside the root;
    //  - then by the kernel: openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)
    //    from the root descriptor, or where the kernel lacks openat2 (ENOSYS)
    //    a walk of openat(O_NOFOLLOW) one component at a time.
    //
    // No symlink is ever followed, inside or out (refused: path_escape), so a
    // symlink swapped in while a tool runs (renameat2 RENAME_EXCHANGE) cannot
    // carry a read or a write out of the workspace: there is no check that a
    // later open could disagree with. Hard links: a file with more than one
    // link is not read (it may be a file from outside, linked in), and a write
    // never modifies an existing file in place (it writes a new file and
    // renames it over the name), so it cannot reach another link's file.
    class WorkspaceFolder
    {
    public:
        // `directory` must exist and be a folder.
        static Result<WorkspaceFolder, QString> open(const QString &directory);

        QString root() const;  // canonical, for messages
        int rootFd() const;

        // The path cleaned and relative to the root ("." for the root), after
        // the lexical checks.
        Result<QString, PathError> relativePath(const QString &path) const;

        // Opens an existing file or folder beneath the root (O_CLOEXEC and
        // O_NOFOLLOW are added to `flags`); "" and "." are the root.
        Result<UniqueFd, PathError> openBeneath(const QString &path, int flags) const;

        // A file to (re)write: its folder opened beneath the root and its
        // last component (neither a symlink nor a folder, if it exists).
        struct WriteTarget
        {
            UniqueFd folder;
            QByteArray name;
            QString relative;
        };
        Result<WriteTarget, PathError> openForWrite(const QString &path) const;

        // Whether this kernel has openat2 (else the O_NOFOLLOW walk is used;
        // LOCKSTEP_AGENT_NO_OPENAT2=1 in the environment forces the walk).
        static bool kernelHasOpenat2();

    private:
        WorkspaceFolder(QString root, std::shared_ptr<UniqueFd> rootFd);

        Result<UniqueFd, PathError> openRelative(const QString &shown, const QString &relative, int flags) const;

        QString m_root;
        std::shared_ptr<UniqueFd> m_rootFd;
    };
}  // namespace Lockstep::Workspace
