#include "privatefiles.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QStringList>

namespace Lockstep::PrivateFiles
{
    bool makePath(const QString &path)
    {
        const QString absolute = QFileInfo(path).absoluteFilePath();
        QStringList missing;
        for (QString current = absolute; !QFileInfo::exists(current);)
        {
            missing.prepend(current);
            const QString parent = QFileInfo(current).absolutePath();
            if (parent == current)
                break;
            current = parent;
        }
        for (const QString &folder : std::as_const(missing))
        {
            // Another process may create it meanwhile: that is fine too.
            if (!QDir().mkdir(folder, QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ExeOwner) &&
                !QFileInfo(folder).isDir())
                return false;
        }
        return QFileInfo(absolute).isDir();
    }

    bool ensureFile(const QString &path)
    {
        QFile file(path);
        if (file.exists())
            return true;
        if (file.open(QIODevice::WriteOnly | QIODevice::NewOnly, QFileDevice::ReadOwner | QFileDevice::WriteOwner))
            return true;
        return file.exists();
    }
}  // namespace Lockstep::PrivateFiles
