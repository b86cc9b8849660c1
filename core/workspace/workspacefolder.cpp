#include "workspacefolder.h"

#include <QDir>
#include <QFileInfo>

#include "workspace/agentprotocol.h"

namespace Lockstep::Workspace
{
    namespace
    {
        constexpr qsizetype MaxPathLength = 4096;

        PathError escape(const QString &path, const QString &why)
        {
            return PathError{Wire::Codes::PathEscape, QStringLiteral("'%1' %2").arg(path, why)};
        }
    } // namespace

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
        return WorkspaceFolder(root);
    }

    WorkspaceFolder::WorkspaceFolder(QString root)
        : m_root(std::move(root))
    {
    }

    QString WorkspaceFolder::root() const
    {
        return m_root;
    }

    bool WorkspaceFolder::contains(const QString &canonicalPath) const
    {
        if (canonicalPath.isEmpty())
            return false;
        if (m_root == u"/")
            return canonicalPath.startsWith(u'/');
        return (canonicalPath == m_root) || canonicalPath.startsWith(m_root + u'/');
    }

    QString WorkspaceFolder::relative(const QString &canonicalPath) const
    {
        const QString path = QDir(m_root).relativeFilePath(canonicalPath);
        return path.isEmpty() ? QStringLiteral(".") : path;
    }

    Result<QString, PathError> WorkspaceFolder::lexical(const QString &path) const
    {
        if (path.size() > MaxPathLength)
            return unexpected(PathError{Wire::Codes::BadRequest, QStringLiteral("path is longer than %1 characters").arg(MaxPathLength)});
        if (path.contains(QChar(u'\0')))
            return unexpected(PathError{Wire::Codes::BadRequest, QStringLiteral("path contains a NUL character")});
        const QStringList parts = path.split(u'/');
        for (const QString &part : parts)
        {
            if (part == u"..")
                return unexpected(escape(path, QStringLiteral("contains '..'")));
        }
        if (QDir::isAbsolutePath(path))
        {
            const QString cleaned = QDir::cleanPath(path);
            if (!contains(cleaned))
                return unexpected(escape(path, QStringLiteral("is outside the workspace")));
            return cleaned;
        }
        if (path.isEmpty() || path == u".")
            return m_root;
        return QDir::cleanPath(m_root + u'/' + path);
    }

    Result<QString, PathError> WorkspaceFolder::resolveExisting(const QString &path) const
    {
        auto joined = lexical(path);
        if (!joined)
            return joined;
        const QFileInfo info(*joined);
        if (!info.exists())
        {
            if (info.isSymLink())
                return unexpected(PathError{Wire::Codes::NotFound, QStringLiteral("'%1' is a dangling symlink").arg(path)});
            return unexpected(PathError{Wire::Codes::NotFound, QStringLiteral("'%1' does not exist").arg(path)});
        }
        const QString canonical = info.canonicalFilePath();
        if (!contains(canonical))
            return unexpected(escape(path, QStringLiteral("leads outside the workspace")));
        return canonical;
    }

    Result<QString, PathError> WorkspaceFolder::resolveForWrite(const QString &path) const
    {
        auto joined = lexical(path);
        if (!joined)
            return joined;
        if (*joined == m_root)
            return unexpected(PathError{Wire::Codes::BadRequest, QStringLiteral("'%1' is the workspace folder, not a file").arg(path)});
        const QFileInfo info(*joined);
        if (info.isSymLink() && !info.exists())
            return unexpected(escape(path, QStringLiteral("is a dangling symlink")));
        if (info.exists())
        {
            const QString canonical = info.canonicalFilePath();
            if (!contains(canonical))
                return unexpected(escape(path, QStringLiteral("leads outside the workspace")));
            if (QFileInfo(canonical).isDir())
                return unexpected(PathError{Wire::Codes::BadRequest, QStringLiteral("'%1' is a folder").arg(path)});
            return canonical;
        }
        const QFileInfo parent(info.absolutePath());
        if (!parent.exists())
            return unexpected(PathError{Wire::Codes::NotFound, QStringLiteral("the folder of '%1' does not exist").arg(path)});
        const QString canonicalParent = parent.canonicalFilePath();
        if (!contains(canonicalParent))
            return unexpected(escape(path, QStringLiteral("leads outside the workspace")));
        if (!parent.isDir())
            return unexpected(PathError{Wire::Codes::BadRequest, QStringLiteral("the parent of '%1' is not a folder").arg(path)});
        return QString(canonicalParent + u'/' + info.fileName());
    }
} // namespace Lockstep::Workspace
