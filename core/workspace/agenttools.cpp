#include "agenttools.h"

#include <csignal>

#include <sys/prctl.h>
#include <unistd.h>

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QSaveFile>

#include "workspace/workspacelog.h"

namespace Lockstep::Workspace
{
    namespace
    {
        constexpr qsizetype MaxArgvItems = 1024;
        constexpr qsizetype MaxArgvBytes = 256 * 1024;

        Wire::ErrorBody badRequest(const QString &message)
        {
            return Wire::ErrorBody{.code = Wire::Codes::BadRequest, .message = message};
        }

        Wire::ErrorBody fromPathError(const PathError &error)
        {
            return Wire::ErrorBody{.code = error.code, .message = error.message};
        }

        // Every key of `args` must be one of `allowed`: a misspelt argument must
        // not be ignored silently.
        std::optional<Wire::ErrorBody> checkKeys(const QJsonObject &args, const QStringList &allowed)
        {
            for (auto it = args.constBegin(); it != args.constEnd(); ++it)
            {
                if (!allowed.contains(it.key()))
                    return badRequest(QStringLiteral("unknown argument '%1' (expected: %2)").arg(it.key(), allowed.join(u", ")));
            }
            return std::nullopt;
        }

        Result<QString, Wire::ErrorBody> stringArg(const QJsonObject &args, const QString &name, const bool required)
        {
            const QJsonValue value = args.value(name);
            if (value.isUndefined() || value.isNull())
            {
                if (required)
                    return unexpected(badRequest(QStringLiteral("argument '%1' is required").arg(name)));
                return QString();
            }
            if (!value.isString())
                return unexpected(badRequest(QStringLiteral("argument '%1' must be a string").arg(name)));
            return value.toString();
        }

        ToolResult readFile(const WorkspaceFolder &folder, const QJsonObject &args)
        {
            if (auto bad = checkKeys(args, {u"path"_qs}))
                return unexpected(*bad);
            auto path = stringArg(args, u"path"_qs, true);
            if (!path)
                return unexpected(path.error());
            auto resolved = folder.resolveExisting(*path);
            if (!resolved)
                return unexpected(fromPathError(resolved.error()));
            if (QFileInfo(*resolved).isDir())
                return unexpected(badRequest(QStringLiteral("'%1' is a folder (use list_dir)").arg(*path)));
            QFile file(*resolved);
            if (!file.open(QIODevice::ReadOnly))
                return unexpected(Wire::ErrorBody{.code = Wire::Codes::IoError,
                                                  .message = QStringLiteral("cannot read '%1': %2").arg(*path, file.errorString())});
            const QByteArray bytes = file.read(Wire::MaxOutputBytes + 1);
            bool cut = false;
            const QString content = Wire::capOutput(bytes, &cut);
            return QJsonObject{{u"path"_qs, folder.relative(*resolved)},
                               {u"content"_qs, content},
                               {u"size"_qs, file.size()},
                               {u"truncated"_qs, cut}};
        }

        ToolResult writeFile(const WorkspaceFolder &folder, const QJsonObject &args)
        {
            if (auto bad = checkKeys(args, {u"path"_qs, u"content"_qs}))
                return unexpected(*bad);
            auto path = stringArg(args, u"path"_qs, true);
            if (!path)
                return unexpected(path.error());
            auto content = stringArg(args, u"content"_qs, true);
            if (!content)
                return unexpected(content.error());
            const QByteArray bytes = content->toUtf8();
            if (bytes.size() > Wire::MaxFileBytes)
                return unexpected(Wire::ErrorBody{.code = Wire::Codes::TooLarge,
                                                  .message = QStringLiteral("content is larger than 1 MiB")});
            auto resolved = folder.resolveForWrite(*path);
            if (!resolved)
                return unexpected(fromPathError(resolved.error()));
            QSaveFile file(*resolved);
            if (!file.open(QIODevice::WriteOnly) || (file.write(bytes) != bytes.size()) || !file.commit())
                return unexpected(Wire::ErrorBody{.code = Wire::Codes::IoError,
                                                  .message = QStringLiteral("cannot write '%1': %2").arg(*path, file.errorString())});
            return QJsonObject{{u"path"_qs, folder.relative(*resolved)}, {u"bytesWritten"_qs, bytes.size()}};
        }

        ToolResult listDir(const WorkspaceFolder &folder, const QJsonObject &args)
        {
            if (auto bad = checkKeys(args, {u"path"_qs}))
                return unexpected(*bad);
            auto path = stringArg(args, u"path"_qs, false);
            if (!path)
                return unexpected(path.error());
            auto resolved = folder.resolveExisting(*path);
            if (!resolved)
                return unexpected(fromPathError(resolved.error()));
            if (!QFileInfo(*resolved).isDir())
                return unexpected(badRequest(QStringLiteral("'%1' is not a folder").arg(*path)));
            const QFileInfoList entries = QDir(*resolved).entryInfoList(
                QDir::AllEntries | QDir::NoDotAndDotDot | QDir::Hidden | QDir::System, QDir::Name);
            QJsonArray list;
            for (const QFileInfo &entry : entries)
            {
                if (list.size() >= Wire::MaxDirEntries)
                    break;
                QString type = u"other"_qs;
                if (entry.isSymLink())
                    type = u"symlink"_qs;
                else if (entry.isDir())
                    type = u"dir"_qs;
                else if (entry.isFile())
                    type = u"file"_qs;
                QJsonObject item{{u"name"_qs, entry.fileName()}, {u"type"_qs, type}};
                if (type == u"file")
                    item.insert(u"size"_qs, entry.size());
                list.append(item);
            }
            return QJsonObject{{u"path"_qs, folder.relative(*resolved)},
                               {u"entries"_qs, list},
                               {u"truncated"_qs, entries.size() > Wire::MaxDirEntries}};
        }

        Result<QStringList, Wire::ErrorBody> stringList(const QJsonValue &value, const QString &name)
        {
            if (!value.isArray())
                return unexpected(badRequest(QStringLiteral("argument '%1' must be an array of strings").arg(name)));
            const QJsonArray array = value.toArray();
            if (array.size() > MaxArgvItems)
                return unexpected(badRequest(QStringLiteral("argument '%1' has more than %2 items").arg(name).arg(MaxArgvItems)));
            QStringList list;
            for (const QJsonValue &item : array)
            {
                if (!item.isString())
                    return unexpected(badRequest(QStringLiteral("argument '%1' must be an array of strings").arg(name)));
                list.append(item.toString());
            }
            return list;
        }
    } // namespace

    ToolResult runFileTool(const WorkspaceFolder &folder, const QString &tool, const QJsonObject &args)
    {
        if (tool == Wire::Tools::ReadFile)
            return readFile(folder, args);
        if (tool == Wire::Tools::WriteFile)
            return writeFile(folder, args);
        if (tool == Wire::Tools::ListDir)
            return listDir(folder, args);
        return unexpected(Wire::ErrorBody{.code = Wire::Codes::UnknownTool, .message = QStringLiteral("no tool '%1'").arg(tool)});
    }

    Result<CommandSpec, Wire::ErrorBody> parseCommand(const WorkspaceFolder &folder, const QJsonObject &args,
                                                      const ToolLimits &limits)
    {
        if (auto bad = checkKeys(args, {u"argv"_qs, u"program"_qs, u"arguments"_qs, u"timeoutMs"_qs, u"cwd"_qs}))
            return unexpected(*bad);
        CommandSpec spec;
        if (args.contains(u"argv"))
        {
            if (args.contains(u"program") || args.contains(u"arguments"))
                return unexpected(badRequest(QStringLiteral("give either 'argv' or 'program' (+ 'arguments'), not both")));
            auto argv = stringList(args.value(u"argv"), u"argv"_qs);
            if (!argv)
                return unexpected(argv.error());
            spec.argv = *argv;
        }
        else
        {
            auto program = stringArg(args, u"program"_qs, true);
            if (!program)
                return unexpected(badRequest(QStringLiteral("argument 'argv' (or 'program') is required")));
            spec.argv.append(*program);
            if (args.contains(u"arguments"))
            {
                auto rest = stringList(args.value(u"arguments"), u"arguments"_qs);
                if (!rest)
                    return unexpected(rest.error());
                spec.argv += *rest;
            }
        }
        if (spec.argv.isEmpty() || spec.argv.constFirst().isEmpty())
            return unexpected(badRequest(QStringLiteral("the program name is empty")));
        qsizetype bytes = 0;
        for (const QString &item : std::as_const(spec.argv))
        {
            if (item.contains(QChar(u'\0')))
                return unexpected(badRequest(QStringLiteral("an argument contains a NUL character")));
            bytes += item.size();
        }
        if (bytes > MaxArgvBytes)
            return unexpected(badRequest(QStringLiteral("the command line is longer than 256 KiB")));

        spec.timeout = limits.defaultCommandTimeout;
        if (args.contains(u"timeoutMs"))
        {
            const QJsonValue value = args.value(u"timeoutMs");
            const double ms = value.toDouble(-1);
            const qint64 max = limits.maxCommandTimeout.count();
            if (!value.isDouble() || ms != static_cast<double>(static_cast<qint64>(ms)) || ms < 1 || ms > static_cast<double>(max))
                return unexpected(badRequest(QStringLiteral("argument 'timeoutMs' must be an integer from 1 to %1").arg(max)));
            spec.timeout = std::chrono::milliseconds{static_cast<qint64>(ms)};
        }

        auto cwd = stringArg(args, u"cwd"_qs, false);
        if (!cwd)
            return unexpected(cwd.error());
        auto directory = folder.resolveExisting(*cwd);
        if (!directory)
            return unexpected(fromPathError(directory.error()));
        if (!QFileInfo(*directory).isDir())
            return unexpected(badRequest(QStringLiteral("cwd '%1' is not a folder").arg(*cwd)));
        spec.workingDirectory = *directory;
        return spec;
    }

    CommandRun::CommandRun(CommandSpec spec, QObject *parent)
        : QObject(parent)
        , m_spec(std::move(spec))
    {
        m_timer.setSingleShot(true);
        connect(&m_timer, &QTimer::timeout, this, &CommandRun::onTimeout);
        connect(&m_process, &QProcess::started, this, [this] { m_pid = m_process.processId(); });
        connect(&m_process, &QProcess::readyReadStandardOutput, this, &CommandRun::onOutput);
        connect(&m_process, &QProcess::finished, this, &CommandRun::onFinished);
        connect(&m_process, &QProcess::errorOccurred, this, &CommandRun::onError);
    }

    CommandRun::~CommandRun()
    {
        if (m_process.state() != QProcess::NotRunning)
        {
            m_process.disconnect(this);
            killGroup();
            m_process.waitForFinished(5000);
        }
    }

    void CommandRun::start()
    {
        m_process.setProgram(m_spec.argv.constFirst());
        m_process.setArguments(m_spec.argv.mid(1));
        m_process.setWorkingDirectory(m_spec.workingDirectory);
        m_process.setProcessChannelMode(QProcess::MergedChannels);
        m_process.setStandardInputFile(QProcess::nullDevice());
        // Between fork and exec: async-signal-safe calls only. Its own process
        // group, so the limit can kill everything it starts; and it dies with us.
        m_process.setChildProcessModifier([] {
            ::setpgid(0, 0);
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        });
        m_timer.start(m_spec.timeout);
        m_process.start();
    }

    qint64 CommandRun::pid() const
    {
        return m_pid;
    }

    const std::optional<ToolResult> &CommandRun::outcome() const
    {
        return m_outcome;
    }

    void CommandRun::onOutput()
    {
        const QByteArray data = m_process.readAllStandardOutput();
        // Keep one byte beyond the cap so capOutput() knows it cut; drop the
        // rest but keep draining the pipe, or the command would block on it.
        const qsizetype room = Wire::MaxOutputBytes + 1 - m_output.size();
        if (room > 0)
            m_output.append(data.left(room));
        if (data.size() > room)
            m_cut = true;
    }

    void CommandRun::onFinished(const int exitCode, const QProcess::ExitStatus status)
    {
        onOutput();
        killGroup();   // background children of the command
        m_timer.stop();
        bool cut = false;
        const QString output = Wire::capOutput(m_output, &cut);
        if (m_timedOut)
        {
            complete(unexpected(Wire::ErrorBody{
                .code = Wire::Codes::TimedOut,
                .message = QStringLiteral("command killed after %1 ms (its time limit)").arg(m_spec.timeout.count()),
                .output = output}));
            return;
        }
        QJsonObject result{{u"exitCode"_qs, status == QProcess::NormalExit ? exitCode : -1},
                           {u"output"_qs, output},
                           {u"truncated"_qs, cut || m_cut}};
        if (status == QProcess::CrashExit)
            result.insert(u"crashed"_qs, true);
        complete(result);
    }

    void CommandRun::onError(const QProcess::ProcessError error)
    {
        // Only a failed start is not followed by finished().
        if (error != QProcess::FailedToStart)
            return;
        m_timer.stop();
        complete(unexpected(Wire::ErrorBody{
            .code = Wire::Codes::StartFailed,
            .message = QStringLiteral("cannot start '%1': %2").arg(m_spec.argv.constFirst(), m_process.errorString())}));
    }

    void CommandRun::onTimeout()
    {
        qCInfo(lcWorkspace).noquote() << "command" << m_spec.argv.constFirst() << "passed its limit of"
                                << m_spec.timeout.count() << "ms; killing its process group";
        m_timedOut = true;
        killGroup();
        m_process.kill();
    }

    void CommandRun::killGroup()
    {
        if (m_pid > 0)
            ::kill(static_cast<pid_t>(-m_pid), SIGKILL);
    }

    void CommandRun::complete(ToolResult result)
    {
        if (m_outcome)
            return;
        m_outcome = std::move(result);
        emit done();
    }
} // namespace Lockstep::Workspace
