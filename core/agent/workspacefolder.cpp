#include "workspacefolder.h"

#include <atomic>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <QDir>
#include <QFileInfo>

#include "agent/agentprotocol.h"

namespace Lockstep::Workspace
{
    namespace
    {
        constexpr qsizetype MaxPathLength = 4096;

        // 1: openat2 works, 0: not known yet, -1: the kernel has none (ENOSYS).
        std::atomic<int> openat2State{0};

        PathError escape(const QString &path, const QString &why)
        {
            return PathError{Wire::Codes::PathEscape, QStringLiteral("'%1' %2").arg(path, why)};
        }

        PathError fromErrno(const QString &path, const int error)
        {
            switch (error)
            {
            case ELOOP: return escape(path, QStringLiteral("passes through a symlink (symlinks are not followed)"));
            case EXDEV: return escape(path, QStringLiteral("leads outside the workspace"));
            case ENOENT: return PathError{Wire::Codes::NotFound, QStringLiteral("'%1' does not exist").arg(path)};
            case ENOTDIR:
                return PathError{Wire::Codes::BadRequest,
                                 QStringLiteral("'%1': a component is not a folder").arg(path)};
            case ENAMETOOLONG:
                return PathError{Wire::Codes::BadRequest, QStringLiteral("'%1': a name is too long").arg(path)};
            default:
                return PathError{
                    Wire::Codes::IoError,
                    QStringLiteral("cannot open '%1': %2").arg(path, QString::fromLocal8Bit(std::strerror(error)))};
            }
        }

        // openat2 from `directory`, never following a symlink and never leaving
        // `directory`. -1 with errno set; ENOSYS: no openat2 in this kernel.
        int openat2Beneath(const int directory, const QByteArray &relative, const int flags)
        {
            open_how how{};
            how.flags = static_cast<quint64>(flags);
            how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
            for (int attempt = 0;; ++attempt)
            {
                const long fd = ::syscall(SYS_openat2, directory, relative.constData(), &how, sizeof how);
                // EAGAIN: a concurrent rename made the kernel unsure; try again.
                if (fd >= 0 || errno != EAGAIN || attempt >= 32)
                    return static_cast<int>(fd);
            }
        }

        // The same without openat2: one component at a time, O_NOFOLLOW each.
        // Without ".." (refused lexically) and without following symlinks, no
        // step can leave the folder it starts from.
        int walkBeneath(const int directory, const QByteArray &relative, const int flags)
        {
            const QList<QByteArray> parts = relative.split('/');
            UniqueFd current(::openat(directory, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
            if (!current.isValid())
                return -1;
            for (qsizetype i = 0; i < parts.size(); ++i)
            {
                const bool last = i == parts.size() - 1;
                const int stepFlags = last ? flags : (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                const int fd = ::openat(current.get(), parts.at(i).constData(), stepFlags);
                if (fd < 0)
                    return -1;
                if (last)
                    return fd;
                current = UniqueFd(fd);
            }
            return -1;
        }
        // After ENOTDIR (O_DIRECTORY|O_NOFOLLOW on a symlink says so too): ELOOP
        // when the component that stopped the open is a symlink. Looks at each
        // component through an O_PATH descriptor, never following one; best
        // effort only, as the folder may change meanwhile (it only picks the
        // message, never what is opened).
        int classifyNotDirectory(const int directory, const QByteArray &relative)
        {
            UniqueFd current(::openat(directory, ".", O_PATH | O_DIRECTORY | O_CLOEXEC));
            for (const QByteArray &part : relative.split('/'))
            {
                if (!current.isValid())
                    return ENOTDIR;
                UniqueFd next(::openat(current.get(), part.constData(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
                struct stat info
                {};
                if (!next.isValid() || ::fstat(next.get(), &info) != 0)
                    return ENOTDIR;
                if (S_ISLNK(info.st_mode))
                    return ELOOP;
                if (!S_ISDIR(info.st_mode))
                    return ENOTDIR;
                current = std::move(next);
            }
            return ENOTDIR;
        }
    }  // namespace

    // ---- UniqueFd ----

    UniqueFd::UniqueFd(const int fd)
        : m_fd(fd)
    {}

    UniqueFd::~UniqueFd()
    {
        if (m_fd >= 0)
            ::close(m_fd);
    }

    UniqueFd::UniqueFd(UniqueFd &&other) noexcept
        : m_fd(other.release())
    {}

    UniqueFd &UniqueFd::operator=(UniqueFd &&other) noexcept
    {
        if (this != &other)
        {
            if (m_fd >= 0)
                ::close(m_fd);
            m_fd = other.release();
        }
        return *this;
    }

    int UniqueFd::get() const
    {
        return m_fd;
    }

    bool UniqueFd::isValid() const
    {
        return m_fd >= 0;
    }

    int UniqueFd::release()
    {
        const int fd = m_fd;
        m_fd = -1;
        return fd;
    }

    // ---- WorkspaceFolder ----

    Result<WorkspaceFolder, QString> WorkspaceFolder::open(const QString &directory)
    {
        if (directory.isEmpty())
            return unexpected(QStringLiteral("no workspace folder given"));
        const QFileInfo info(directory);
        if (!info.exists())
            return unexpected(QStringLiteral("'%1' does not exist").arg(directory));
        if (!info.isDir())
            return unexpected(QStringLiteral("'%1' is not a folder").arg(directory));
        const QString root = info.canonicalFilePath();
        if (root.isEmpty())
            return unexpected(QStringLiteral("'%1' cannot be resolved").arg(directory));
        auto fd =
            std::make_shared<UniqueFd>(::open(QFile::encodeName(root).constData(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!fd->isValid())
            return unexpected(
                QStringLiteral("cannot open '%1': %2").arg(root, QString::fromLocal8Bit(std::strerror(errno))));
        return WorkspaceFolder(root, std::move(fd));
    }

    WorkspaceFolder::WorkspaceFolder(QString root, std::shared_ptr<UniqueFd> rootFd)
        : m_root(std::move(root))
        , m_rootFd(std::move(rootFd))
    {}

    QString WorkspaceFolder::root() const
    {
        return m_root;
    }

    int WorkspaceFolder::rootFd() const
    {
        return m_rootFd->get();
    }

    bool WorkspaceFolder::kernelHasOpenat2()
    {
        if (openat2State.load() == 0)
        {
            // For tests and diagnosis: the walk instead, on any kernel.
            if (!qEnvironmentVariableIsEmpty("LOCKSTEP_AGENT_NO_OPENAT2"))
            {
                openat2State.store(-1);
                return false;
            }
            UniqueFd probe(openat2Beneath(AT_FDCWD, QByteArrayLiteral("."), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
            openat2State.store((probe.isValid() || errno != ENOSYS) ? 1 : -1);
        }
        return openat2State.load() > 0;
    }

    Result<QString, PathError> WorkspaceFolder::relativePath(const QString &path) const
    {
        if (path.size() > MaxPathLength)
            return unexpected(PathError{Wire::Codes::BadRequest,
                                        QStringLiteral("path is longer than %1 characters").arg(MaxPathLength)});
        if (path.contains(QChar(u'\0')))
            return unexpected(PathError{Wire::Codes::BadRequest, QStringLiteral("path contains a NUL character")});
        const QStringList parts = path.split(u'/');
        for (const QString &part : parts)
        {
            if (part == u"..")
                return unexpected(escape(path, QStringLiteral("contains '..'")));
        }
        QString relative;
        if (QDir::isAbsolutePath(path))
        {
            const QString cleaned = QDir::cleanPath(path);
            if (m_root == u"/")
                relative = cleaned.mid(1);
            else if (cleaned == m_root)
                relative = QString();
            else if (cleaned.startsWith(m_root + u'/'))
                relative = cleaned.mid(m_root.size() + 1);
            else
                return unexpected(escape(path, QStringLiteral("is outside the workspace")));
        }
        else
        {
            relative = QDir::cleanPath(path);
        }
        if (relative.isEmpty() || relative == u".")
            return QStringLiteral(".");
        return relative;
    }

    Result<UniqueFd, PathError> WorkspaceFolder::openRelative(const QString &shown, const QString &relative,
                                                              int flags) const
    {
        flags |= O_CLOEXEC | O_NOFOLLOW;
        const QByteArray encoded = QFile::encodeName(relative);
        int fd = -1;
        if (kernelHasOpenat2())
            fd = openat2Beneath(rootFd(), encoded, flags);
        else
            fd = walkBeneath(rootFd(), encoded, flags);
        if (fd < 0)
        {
            const int error = errno;
            return unexpected(fromErrno(shown, error == ENOTDIR ? classifyNotDirectory(rootFd(), encoded) : error));
        }
        return UniqueFd(fd);
    }

    Result<UniqueFd, PathError> WorkspaceFolder::openBeneath(const QString &path, const int flags) const
    {
        auto relative = relativePath(path);
        if (!relative)
            return unexpected(relative.error());
        return openRelative(path, *relative, flags);
    }

    Result<WorkspaceFolder::WriteTarget, PathError> WorkspaceFolder::openForWrite(const QString &path) const
    {
        auto relative = relativePath(path);
        if (!relative)
            return unexpected(relative.error());
        if (*relative == u".")
            return unexpected(PathError{Wire::Codes::BadRequest,
                                        QStringLiteral("'%1' is the workspace folder, not a file").arg(path)});
        const qsizetype slash = relative->lastIndexOf(u'/');
        const QString parent = slash < 0 ? QStringLiteral(".") : relative->left(slash);
        const QByteArray name = QFile::encodeName(relative->mid(slash + 1));
        auto folder = openRelative(path, parent, O_RDONLY | O_DIRECTORY);
        if (!folder)
        {
            if (folder.error().code == Wire::Codes::NotFound)
                return unexpected(
                    PathError{Wire::Codes::NotFound, QStringLiteral("the folder of '%1' does not exist").arg(path)});
            if (folder.error().code == Wire::Codes::BadRequest)
                return unexpected(
                    PathError{Wire::Codes::BadRequest, QStringLiteral("the parent of '%1' is not a folder").arg(path)});
            return unexpected(folder.error());
        }
        struct stat info
        {};
        if (::fstatat(folder->get(), name.constData(), &info, AT_SYMLINK_NOFOLLOW) == 0)
        {
            if (S_ISLNK(info.st_mode))
                return unexpected(escape(path, QStringLiteral("is a symlink (symlinks are not followed)")));
            if (S_ISDIR(info.st_mode))
                return unexpected(PathError{Wire::Codes::BadRequest, QStringLiteral("'%1' is a folder").arg(path)});
        }
        return WriteTarget{.folder = std::move(*folder), .name = name, .relative = *relative};
    }
}  // namespace Lockstep::Workspace
