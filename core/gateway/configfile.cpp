#include "configfile.h"

#include <QCommandLineParser>
#include <QFile>
#include <QHash>
#include <QRegularExpression>

namespace Lockstep::Gateway
{
    namespace
    {
        // A configuration file is a few dozen lines; anything this big is a mistake.
        constexpr qint64 MaxFileBytes = 1024 * 1024;

        QString at(const QString &file, const int line, const QString &problem)
        {
            return QStringLiteral("%1:%2: %3").arg(file).arg(line).arg(problem);
        }
    }  // namespace

    Result<ConfigFiles, QString> ConfigFiles::read(const QStringList &paths, const QList<QCommandLineOption> &options,
                                                   const QStringList &repeatable)
    {
        QHash<QString, bool> isSwitch;  // every key, and whether it is a switch
        ConfigFiles result;
        for (const QCommandLineOption &option : options)
        {
            for (const QString &name : option.names())
            {
                isSwitch.insert(name, option.valueName().isEmpty());
                if (option.valueName().isEmpty())
                    result.m_switches << name;
            }
        }

        for (const QString &path : paths)
        {
            QFile file(path);
            if (!file.open(QIODevice::ReadOnly))
                return unexpected(
                    QStringLiteral("%1: cannot read the configuration file: %2").arg(path, file.errorString()));
            if (file.size() > MaxFileBytes)
                return unexpected(QStringLiteral("%1: larger than 1 MiB, not a configuration file").arg(path));
            const QStringList lines = QString::fromUtf8(file.readAll()).split(u'\n');

            QList<Setting> fileSettings;
            QHash<QString, int> firstLine;  // key -> the line that set it in this file
            for (int index = 0; index < lines.size(); ++index)
            {
                const int lineNumber = index + 1;
                const QString line = lines.at(index).trimmed();
                if (line.isEmpty() || line.startsWith(u'#'))
                    continue;
                const qsizetype equals = line.indexOf(u'=');
                const QString key = (equals < 0) ? QString() : line.left(equals).trimmed();
                if (key.isEmpty())
                    return unexpected(at(path, lineNumber, QStringLiteral("expected 'key = value' or a # comment")));
                const QString value = line.mid(equals + 1).trimmed();
                if (!isSwitch.contains(key))
                {
                    const QString hint = key.startsWith(u'-') ? QStringLiteral(" (keys are flag names without --)")
                                                              : QStringLiteral(" (keys are the flags' long names)");
                    return unexpected(at(path, lineNumber, QStringLiteral("unknown key '%1'%2").arg(key, hint)));
                }
                if (isSwitch.value(key) && (value != u"true") && (value != u"false"))
                    return unexpected(
                        at(path, lineNumber, QStringLiteral("%1: '%2' is not true or false").arg(key, value)));
                if (firstLine.contains(key) && !repeatable.contains(key))
                    return unexpected(
                        at(path, lineNumber,
                           QStringLiteral("%1 is already set on line %2 (only %3 may repeat)")
                               .arg(key)
                               .arg(firstLine.value(key))
                               .arg(repeatable.isEmpty() ? QStringLiteral("nothing") : repeatable.join(u", "))));
                firstLine.insert(key, lineNumber);
                fileSettings << Setting{.key = key, .value = value, .file = path, .line = lineNumber};
            }

            // A key this file sets replaces every line of it from earlier files.
            result.m_settings.removeIf([&](const Setting &setting) { return firstLine.contains(setting.key); });
            result.m_settings << fileSettings;
        }
        return result;
    }

    void ConfigFiles::dropSetBy(const QCommandLineParser &commandLine)
    {
        m_settings.removeIf([&](const Setting &setting) { return commandLine.isSet(setting.key); });
    }

    QStringList ConfigFiles::arguments() const
    {
        QStringList result;
        for (const Setting &setting : m_settings)
        {
            if (!m_switches.contains(setting.key))
                result << (u"--" + setting.key + u'=' + setting.value);
            else if (setting.value == u"true")
                result << (u"--" + setting.key);
        }
        return result;
    }

    QString ConfigFiles::locate(const QString &error) const
    {
        static const QRegularExpression flag(QStringLiteral("^--([A-Za-z0-9-]+):"));
        const QRegularExpressionMatch match = flag.match(error);
        if (!match.hasMatch())
            return error;
        const QString key = match.captured(1);
        const Setting *found = nullptr;
        for (const Setting &setting : m_settings)
        {
            if (setting.key != key)
                continue;
            if (error.contains(u'\'' + setting.value + u'\''))
                return at(setting.file, setting.line, error);
            found = &setting;
        }
        return found ? at(found->file, found->line, error) : error;
    }

    const QList<ConfigFiles::Setting> &ConfigFiles::settings() const
    {
        return m_settings;
    }
}  // namespace Lockstep::Gateway
