#include "agenttools.h"

#include <atomic>
#include <csignal>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <dirent.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <QCoreApplication>
#include <QSet>

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QRandomGenerator>

#include "agent/workspacelog.h"

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
                    return badRequest(
                        QStringLiteral("unknown argument '%1' (expected: %2)").arg(it.key(), allowed.join(u", ")));
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

        Wire::ErrorBody ioError(const QString &what, const QString &path, const int error)
        {
            return Wire::ErrorBody{
                .code = Wire::Codes::IoError,
                .message =
                    QStringLiteral("cannot %1 '%2': %3").arg(what, path, QString::fromLocal8Bit(std::strerror(error)))};
        }

        ToolResult readFile(const WorkspaceFolder &folder, const QJsonObject &args)
        {
            if (auto bad = checkKeys(args, {QStringLiteral("path")}))
                return unexpected(*bad);
            auto path = stringArg(args, QStringLiteral("path"), true);
            if (!path)
                return unexpected(path.error());
            // O_NONBLOCK: opening a FIFO must not hang the agent (and it is refused below).
            auto opened = folder.openBeneath(*path, O_RDONLY | O_NONBLOCK);
            if (!opened)
                return unexpected(fromPathError(opened.error()));
            struct stat info
            {};
            if (::fstat(opened->get(), &info) != 0)
                return unexpected(ioError(QStringLiteral("read"), *path, errno));
            if (S_ISDIR(info.st_mode))
                return unexpected(badRequest(QStringLiteral("'%1' is a folder (use list_dir)").arg(*path)));
            if (!S_ISREG(info.st_mode))
                return unexpected(badRequest(QStringLiteral("'%1' is not a regular file").arg(*path)));
            // A hard link may be a file from outside the workspace: not read.
            if (info.st_nlink > 1)
                return unexpected(Wire::ErrorBody{
                    .code = Wire::Codes::PathEscape,
                    .message =
                        QStringLiteral("'%1' has %2 hard links (it may be a file from outside the workspace); not read")
                            .arg(*path)
                            .arg(info.st_nlink)});
            QFile file;
            if (!file.open(opened->release(), QIODevice::ReadOnly, QFileDevice::AutoCloseHandle))
                return unexpected(
                    Wire::ErrorBody{.code = Wire::Codes::IoError,
                                    .message = QStringLiteral("cannot read '%1': %2").arg(*path, file.errorString())});
            const QByteArray bytes = file.read(Wire::MaxOutputBytes + 1);
            bool cut = false;
            const QString content = Wire::capOutput(bytes, &cut);
            return QJsonObject{{QStringLiteral("path"), folder.relativePath(*path).value()},
                               {QStringLiteral("content"), content},
                               {QStringLiteral("size"), static_cast<qint64>(info.st_size)},
                               {QStringLiteral("truncated"), cut}};
        }

        // Writes `bytes` to a new file next to the target and renames it over
        // the target's name: an existing file (or another link to it) is never
        // modified in place, and a name swapped for a symlink meanwhile is
        // replaced, not followed.
        Result<Ok, int> replaceFile(const WorkspaceFolder::WriteTarget &target, const QByteArray &bytes)
        {
            const int folder = target.folder.get();
            mode_t mode = 0666;  // minus the umask, for a new file
            struct stat existing
            {};
            const bool exists = ::fstatat(folder, target.name.constData(), &existing, AT_SYMLINK_NOFOLLOW) == 0 &&
                                S_ISREG(existing.st_mode);
            const QByteArray temporary =
                ".lockstep-write-" + QByteArray::number(QRandomGenerator::system()->generate64(), 16);
            UniqueFd fd(
                ::openat(folder, temporary.constData(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
            if (!fd.isValid())
                return unexpected(errno);
            const auto fail = [&](const int error) -> Result<Ok, int> {
                ::unlinkat(folder, temporary.constData(), 0);
                return unexpected(error);
            };
            if (exists && ::fchmod(fd.get(), existing.st_mode & 07777) != 0)
                return fail(errno);
            qsizetype written = 0;
            while (written < bytes.size())
            {
                const ssize_t n =
                    ::write(fd.get(), bytes.constData() + written, static_cast<size_t>(bytes.size() - written));
                if (n < 0 && errno == EINTR)
                    continue;
                if (n <= 0)
                    return fail(n < 0 ? errno : EIO);
                written += n;
            }
            if (::fsync(fd.get()) != 0)
                return fail(errno);
            if (::renameat(folder, temporary.constData(), folder, target.name.constData()) != 0)
                return fail(errno);
            return Ok{};
        }

        ToolResult writeFile(const WorkspaceFolder &folder, const QJsonObject &args)
        {
            if (auto bad = checkKeys(args, {QStringLiteral("path"), QStringLiteral("content")}))
                return unexpected(*bad);
            auto path = stringArg(args, QStringLiteral("path"), true);
            if (!path)
                return unexpected(path.error());
            auto content = stringArg(args, QStringLiteral("content"), true);
            if (!content)
                return unexpected(content.error());
            const QByteArray bytes = content->toUtf8();
            if (bytes.size() > Wire::MaxFileBytes)
                return unexpected(Wire::ErrorBody{.code = Wire::Codes::TooLarge,
                                                  .message = QStringLiteral("content is larger than 1 MiB")});
            auto target = folder.openForWrite(*path);
            if (!target)
                return unexpected(fromPathError(target.error()));
            if (auto written = replaceFile(*target, bytes); !written)
                return unexpected(ioError(QStringLiteral("write"), *path, written.error()));
            return QJsonObject{{QStringLiteral("path"), target->relative},
                               {QStringLiteral("bytesWritten"), bytes.size()}};
        }

        ToolResult listDir(const WorkspaceFolder &folder, const QJsonObject &args)
        {
            if (auto bad = checkKeys(args, {QStringLiteral("path")}))
                return unexpected(*bad);
            auto path = stringArg(args, QStringLiteral("path"), false);
            if (!path)
                return unexpected(path.error());
            auto opened = folder.openBeneath(*path, O_RDONLY | O_DIRECTORY);
            if (!opened)
            {
                if (opened.error().code == Wire::Codes::BadRequest)
                    return unexpected(badRequest(QStringLiteral("'%1' is not a folder").arg(*path)));
                return unexpected(fromPathError(opened.error()));
            }
            // The entries of the opened folder itself, each looked at without
            // following it (a symlink is listed as one).
            DIR *directory = ::fdopendir(opened->get());
            if (!directory)
                return unexpected(ioError(QStringLiteral("list"), *path, errno));
            opened->release();  // the DIR owns it now
            const int fd = ::dirfd(directory);
            struct Entry
            {
                QString name;
                QString type;
                qint64 size = -1;
            };
            QList<Entry> entries;
            while (const dirent *item = ::readdir(directory))
            {
                const QByteArray name(item->d_name);
                if (name == "." || name == "..")
                    continue;
                Entry entry{.name = QFile::decodeName(name), .type = QStringLiteral("other")};
                struct stat info
                {};
                if (::fstatat(fd, item->d_name, &info, AT_SYMLINK_NOFOLLOW) == 0)
                {
                    if (S_ISLNK(info.st_mode))
                        entry.type = QStringLiteral("symlink");
                    else if (S_ISDIR(info.st_mode))
                        entry.type = QStringLiteral("dir");
                    else if (S_ISREG(info.st_mode))
                    {
                        entry.type = QStringLiteral("file");
                        entry.size = info.st_size;
                    }
                }
                entries.append(entry);
            }
            ::closedir(directory);
            std::sort(entries.begin(), entries.end(), [](const Entry &a, const Entry &b) { return a.name < b.name; });
            QJsonArray list;
            for (const Entry &entry : std::as_const(entries))
            {
                if (list.size() >= Wire::MaxDirEntries)
                    break;
                QJsonObject item{{QStringLiteral("name"), entry.name}, {QStringLiteral("type"), entry.type}};
                if (entry.size >= 0)
                    item.insert(QStringLiteral("size"), entry.size);
                list.append(item);
            }
            return QJsonObject{{QStringLiteral("path"), folder.relativePath(*path).value()},
                               {QStringLiteral("entries"), list},
                               {QStringLiteral("truncated"), entries.size() > Wire::MaxDirEntries}};
        }

        Result<QStringList, Wire::ErrorBody> stringList(const QJsonValue &value, const QString &name)
        {
            if (!value.isArray())
                return unexpected(badRequest(QStringLiteral("argument '%1' must be an array of strings").arg(name)));
            const QJsonArray array = value.toArray();
            if (array.size() > MaxArgvItems)
                return unexpected(
                    badRequest(QStringLiteral("argument '%1' has more than %2 items").arg(name).arg(MaxArgvItems)));
            QStringList list;
            for (const QJsonValue &item : array)
            {
                if (!item.isString())
                    return unexpected(
                        badRequest(QStringLiteral("argument '%1' must be an array of strings").arg(name)));
                list.append(item.toString());
            }
            return list;
        }
        // The leaders of the running commands: QProcess reaps those itself.
        QSet<pid_t> &commandLeaders()
        {
            static QSet<pid_t> leaders;
            return leaders;
        }

        std::atomic<quint64> commandCounter{0};

        struct ProcessEntry
        {
            pid_t pid = 0;
            pid_t parent = 0;
            char state = '?';
        };

        // Every process of /proc with its parent and state.
        QList<ProcessEntry> processTable()
        {
            QList<ProcessEntry> table;
            const QStringList names = QDir(QStringLiteral("/proc")).entryList(QDir::Dirs | QDir::NoDotAndDotDot);
            for (const QString &name : names)
            {
                bool numeric = false;
                const pid_t pid = static_cast<pid_t>(name.toInt(&numeric));
                if (!numeric || pid <= 0)
                    continue;
                QFile stat(QStringLiteral("/proc/") + name + QStringLiteral("/stat"));
                if (!stat.open(QIODevice::ReadOnly))
                    continue;  // gone meanwhile
                // "pid (comm) S ppid ...": comm may hold spaces and parentheses.
                const QByteArray line = stat.readAll();
                const qsizetype close = line.lastIndexOf(')');
                if (close < 0)
                    continue;
                const QList<QByteArray> fields = line.mid(close + 2).split(' ');
                if (fields.size() < 2 || fields.at(0).isEmpty())
                    continue;
                table.append(ProcessEntry{
                    .pid = pid, .parent = static_cast<pid_t>(fields.at(1).toInt()), .state = fields.at(0).at(0)});
            }
            return table;
        }

        bool carriesMarker(const pid_t pid, const QByteArray &marker)
        {
            QFile environ(QStringLiteral("/proc/%1/environ").arg(pid));
            if (!environ.open(QIODevice::ReadOnly))
                return false;
            const QByteArray all = environ.readAll();
            const QByteArray entry = marker + QByteArray(1, '\0');
            const QByteArray inner = QByteArray(1, '\0') + entry;
            return all.startsWith(entry) || all.contains(inner);
        }
    }  // namespace

    bool becomeSubreaper()
    {
        return ::prctl(PR_SET_CHILD_SUBREAPER, 1) == 0;
    }

    void reapAdoptedZombies()
    {
        const pid_t self = ::getpid();
        for (const ProcessEntry &entry : processTable())
        {
            if (entry.parent == self && entry.state == 'Z' && !commandLeaders().contains(entry.pid))
                ::waitpid(entry.pid, nullptr, WNOHANG);
        }
    }

    ToolResult runFileTool(const WorkspaceFolder &folder, const QString &tool, const QJsonObject &args)
    {
        if (tool == Wire::Tools::ReadFile)
            return readFile(folder, args);
        if (tool == Wire::Tools::WriteFile)
            return writeFile(folder, args);
        if (tool == Wire::Tools::ListDir)
            return listDir(folder, args);
        return unexpected(
            Wire::ErrorBody{.code = Wire::Codes::UnknownTool, .message = QStringLiteral("no tool '%1'").arg(tool)});
    }

    Result<CommandSpec, Wire::ErrorBody> parseCommand(const WorkspaceFolder &folder, const QJsonObject &args,
                                                      const ToolLimits &limits)
    {
        if (auto bad = checkKeys(args, {QStringLiteral("argv"), QStringLiteral("program"), QStringLiteral("arguments"),
                                        QStringLiteral("timeoutMs"), QStringLiteral("cwd")}))
            return unexpected(*bad);
        CommandSpec spec;
        if (args.contains(u"argv"))
        {
            if (args.contains(u"program") || args.contains(u"arguments"))
                return unexpected(
                    badRequest(QStringLiteral("give either 'argv' or 'program' (+ 'arguments'), not both")));
            auto argv = stringList(args.value(u"argv"), QStringLiteral("argv"));
            if (!argv)
                return unexpected(argv.error());
            spec.argv = *argv;
        }
        else
        {
            auto program = stringArg(args, QStringLiteral("program"), true);
            if (!program)
                return unexpected(badRequest(QStringLiteral("argument 'argv' (or 'program') is required")));
            spec.argv.append(*program);
            if (args.contains(u"arguments"))
            {
                auto rest = stringList(args.value(u"arguments"), QStringLiteral("arguments"));
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
            if (!value.isDouble() || ms != static_cast<double>(static_cast<qint64>(ms)) || ms < 1 ||
                ms > static_cast<double>(max))
                return unexpected(
                    badRequest(QStringLiteral("argument 'timeoutMs' must be an integer from 1 to %1").arg(max)));
            spec.timeout = std::chrono::milliseconds{static_cast<qint64>(ms)};
        }

        auto cwd = stringArg(args, QStringLiteral("cwd"), false);
        if (!cwd)
            return unexpected(cwd.error());
        // Opened beneath the root like every path; the command changes into
        // this descriptor (fchdir), so a folder swapped meanwhile cannot move it.
        auto directory = folder.openBeneath(*cwd, O_RDONLY | O_DIRECTORY);
        if (!directory)
        {
            if (directory.error().code == Wire::Codes::BadRequest)
                return unexpected(badRequest(QStringLiteral("cwd '%1' is not a folder").arg(*cwd)));
            return unexpected(fromPathError(directory.error()));
        }
        spec.workingDirectory = folder.relativePath(*cwd).value();
        spec.directory = std::make_shared<UniqueFd>(std::move(*directory));
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
        if (m_pid > 0)
            commandLeaders().remove(static_cast<pid_t>(m_pid));
    }

    void CommandRun::start()
    {
        m_process.setProgram(m_spec.argv.constFirst());
        m_process.setArguments(m_spec.argv.mid(1));
        m_process.setProcessChannelMode(QProcess::MergedChannels);
        m_process.setStandardInputFile(QProcess::nullDevice());
        m_marker = QByteArray(CommandMarkerVariable) + '=' + QByteArray::number(::getpid()) + '-' +
                   QByteArray::number(++commandCounter);
        QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
        environment.insert(QString::fromLatin1(CommandMarkerVariable),
                           QString::fromLatin1(m_marker.mid(m_marker.indexOf('=') + 1)));
        m_process.setProcessEnvironment(environment);
        // Between fork and exec: async-signal-safe calls only. Its own process
        // group, so the limit can kill everything it starts; and it dies with us.
        const int directory = m_spec.directory ? m_spec.directory->get() : -1;
        m_process.setChildProcessModifier([directory] {
            ::setpgid(0, 0);
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (directory >= 0 && ::fchdir(directory) != 0)
                ::_exit(127);
        });
        m_timer.start(m_spec.timeout);
        m_process.start();
        // Synchronous: QProcess has forked and exec'd (or failed) by now, and
        // the reaper only runs from the event loop, so it never sees the
        // leader before it is listed here.
        if (m_process.processId() > 0)
        {
            m_pid = m_process.processId();
            commandLeaders().insert(static_cast<pid_t>(m_pid));
        }
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
        killGroup();  // background children of the command
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
        QJsonObject result{{QStringLiteral("exitCode"), status == QProcess::NormalExit ? exitCode : -1},
                           {QStringLiteral("output"), output},
                           {QStringLiteral("truncated"), cut || m_cut}};
        if (status == QProcess::CrashExit)
            result.insert(QStringLiteral("crashed"), true);
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
            .message =
                QStringLiteral("cannot start '%1': %2").arg(m_spec.argv.constFirst(), m_process.errorString())}));
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
        if (m_pid <= 0)
            return;
        ::kill(static_cast<pid_t>(-m_pid), SIGKILL);
        killDescendants();
        // The adopted ones die asynchronously: reap them shortly (AgentServer
        // also reaps periodically).
        for (const int delayMs : {50, 500, 2000})
            QTimer::singleShot(delayMs, QCoreApplication::instance(), [] { reapAdoptedZombies(); });
    }

    void CommandRun::killDescendants()
    {
        const pid_t self = ::getpid();
        // The tree under the leader only while it runs: once QProcess reaped
        // it, its pid may belong to another process. Its orphans are the
        // agent's (subreaper) then, and carry the marker.
        const auto leader = m_process.state() != QProcess::NotRunning ? static_cast<pid_t>(m_pid) : pid_t(0);
        // Rounds until nothing is left: a process forked between the scan and
        // the kill is found by the next one (a killed process forks no more).
        for (int round = 0; round < 100; ++round)
        {
            const QList<ProcessEntry> table = processTable();
            QHash<pid_t, pid_t> parentOf;
            for (const ProcessEntry &entry : table)
                parentOf.insert(entry.pid, entry.parent);
            const auto descends = [&](pid_t pid, const pid_t ancestor) {
                for (int depth = 0; depth < 4096 && pid > 1; ++depth)
                {
                    if (pid == ancestor)
                        return true;
                    pid = parentOf.value(pid, 0);
                }
                return false;
            };
            QList<pid_t> victims;
            for (const ProcessEntry &entry : table)
            {
                if (entry.pid == self || entry.state == 'Z')
                    continue;
                if ((leader > 0 && entry.pid != leader && descends(entry.pid, leader)) ||
                    (descends(entry.pid, self) && carriesMarker(entry.pid, m_marker)))
                    victims.append(entry.pid);
            }
            if (victims.isEmpty())
                return;
            for (const pid_t pid : std::as_const(victims))
                ::kill(pid, SIGKILL);
        }
        qCWarning(lcWorkspace).noquote() << "command" << m_spec.argv.constFirst()
                                         << "keeps starting processes; gave up killing them";
    }

    void CommandRun::complete(ToolResult result)
    {
        if (m_outcome)
            return;
        m_outcome = std::move(result);
        emit done();
    }
}  // namespace Lockstep::Workspace
