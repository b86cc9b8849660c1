#include "temppostgres.h"

#include <csignal>

#include <unistd.h>

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QProcess>
#include <QRegularExpression>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QVersionNumber>

#include "childprocess.h"
#include "freeport.h"

namespace Lockstep::Test
{
    namespace
    {
        constexpr int StartTimeoutMs = 30000;
        constexpr int StopTimeoutMs = 15000;

        // LOCKSTEP_PG_BINDIR, else the newest /usr/lib/postgresql/<version>/bin
        // (Debian keeps initdb off PATH), else PATH.
        QString findBinDir()
        {
            const auto hasServer = [](const QString &dir) {
                return QFileInfo(dir + QStringLiteral("/initdb")).isExecutable() &&
                       QFileInfo(dir + QStringLiteral("/postgres")).isExecutable();
            };
            const QString fromEnv = qEnvironmentVariable("LOCKSTEP_PG_BINDIR");
            if (!fromEnv.isEmpty())
                return hasServer(fromEnv) ? fromEnv : QString();

            QStringList versions =
                QDir(QStringLiteral("/usr/lib/postgresql")).entryList(QDir::Dirs | QDir::NoDotAndDotDot);
            std::sort(versions.begin(), versions.end(), [](const QString &a, const QString &b) {
                return QVersionNumber::fromString(a) > QVersionNumber::fromString(b);
            });
            for (const QString &version : std::as_const(versions))
            {
                const QString dir = QStringLiteral("/usr/lib/postgresql/%1/bin").arg(version);
                if (hasServer(dir))
                    return dir;
            }
            const QString initdb = QStandardPaths::findExecutable(QStringLiteral("initdb"));
            if (!initdb.isEmpty() && hasServer(QFileInfo(initdb).absolutePath()))
                return QFileInfo(initdb).absolutePath();
            return {};
        }

        // initdb and postgres refuse to run as root.
        std::optional<RunAs> serverUser(QString *error)
        {
            if (::geteuid() != 0)
                return std::nullopt;
            std::optional<RunAs> user = lookUpUser(QStringLiteral("postgres"));
            if (!user)
                *error = QStringLiteral("running as root, but there is no 'postgres' user to run the server as");
            return user;
        }

        QProcessEnvironment toolEnvironment()
        {
            QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
            env.insert(QStringLiteral("LC_ALL"), QStringLiteral("C"));
            env.insert(QStringLiteral("LANG"), QStringLiteral("C"));
            env.remove(QStringLiteral("PGDATA"));
            env.remove(QStringLiteral("PGPASSWORD"));
            return env;
        }
    }  // namespace

    TempPostgres::TempPostgres() = default;

    TempPostgres::~TempPostgres()
    {
        stop();
    }

    bool TempPostgres::start()
    {
        if (isRunning())
            return true;
        m_error.clear();
        if (!m_initialised && !initCluster())
            return false;
        if (!launch())
            return false;
        if (m_databaseCounter == 0)
        {
            ++m_databaseCounter;
            if (!createDatabase(DefaultDatabase))
                return false;
        }
        return true;
    }

    bool TempPostgres::initCluster()
    {
        m_binDir = findBinDir();
        if (m_binDir.isEmpty())
        {
            return fail(
                QStringLiteral("no PostgreSQL server binaries (initdb, postgres) under /usr/lib/postgresql/*/bin,"
                               " on PATH or in LOCKSTEP_PG_BINDIR (Debian: apt install postgresql)"));
        }
        QString userError;
        const std::optional<RunAs> runAs = serverUser(&userError);
        if (!userError.isEmpty())
            return fail(userError);

        m_dir = std::make_unique<QTemporaryDir>(QDir::tempPath() + QStringLiteral("/lockstep-pg-XXXXXX"));
        if (!m_dir->isValid())
            return fail(QStringLiteral("cannot create a temporary directory: %1").arg(m_dir->errorString()));
        if (runAs && (::chown(QFile::encodeName(m_dir->path()).constData(), runAs->uid, runAs->gid) != 0))
            return fail(QStringLiteral("cannot hand %1 to the postgres user").arg(m_dir->path()));

        const QString data = m_dir->filePath(QStringLiteral("data"));
        if (!runTool(QStringLiteral("initdb"),
                     {QStringLiteral("-D"), data, QStringLiteral("-U"), QStringLiteral("postgres"),
                      QStringLiteral("-A"), QStringLiteral("trust"), QStringLiteral("-E"), QStringLiteral("UTF8"),
                      QStringLiteral("--locale=C"), QStringLiteral("--no-sync"), QStringLiteral("--no-instructions")},
                     true, 120000))
        {
            return false;
        }

        // Speed over durability against OS crashes (the cluster is thrown
        // away), room for the 50- and 64-connection races. synchronous_commit
        // stays on: a commit must survive stop() (a process crash), or a
        // restart would lose the last ~200 ms of work.
        QFile conf(data + QStringLiteral("/postgresql.conf"));
        if (!conf.open(QIODevice::Append | QIODevice::Text))
            return fail(QStringLiteral("cannot append to %1").arg(conf.fileName()));
        conf.write("\n# lockstep test cluster\n"
                   "fsync = off\n"
                   "full_page_writes = off\n"
                   "max_connections = 300\n"
                   "shared_buffers = 32MB\n"
                   "logging_collector = off\n"
                   "log_min_messages = warning\n");
        conf.close();
        m_initialised = true;
        return true;
    }

    bool TempPostgres::launch()
    {
        QString userError;
        const std::optional<RunAs> runAs = serverUser(&userError);
        const QString data = m_dir->filePath(QStringLiteral("data"));
        const QString pidFile = data + QStringLiteral("/postmaster.pid");
        const bool firstStart = (m_port == 0);

        for (int attempt = 0; attempt < 3; ++attempt)
        {
            if (firstStart)
                m_port = freePort();
            m_server = std::make_unique<QProcess>();
            prepareChild(*m_server, runAs);
            m_server->setProcessEnvironment(toolEnvironment());
            const QString why =
                startServer(*m_server, m_binDir + QStringLiteral("/postgres"),
                            {QStringLiteral("-D"), data, QStringLiteral("-p"), QString::number(m_port),
                             QStringLiteral("-h"), QStringLiteral("127.0.0.1"), QStringLiteral("-k"), m_dir->path()},
                            m_dir->path(), m_dir->filePath(QStringLiteral("server.log")), StartTimeoutMs);
            if (!why.isEmpty())
            {
                m_server.reset();
                return fail(QStringLiteral("cannot start %1/postgres: %2").arg(m_binDir, why));
            }

            // postmaster.pid: line 1 is the PID, line 8 turns "ready" once
            // connections are accepted (a stale file names another PID).
            const QString pid = QString::number(m_server->processId());
            const ServerState state = waitUntilReady(*m_server, StartTimeoutMs, 50, [&pidFile, &pid] {
                QFile file(pidFile);
                if (!file.open(QIODevice::ReadOnly | QIODevice::Text))
                    return false;
                const QStringList lines = QString::fromLocal8Bit(file.readAll()).split(u'\n');
                return (lines.size() >= 8) && (lines.at(0).trimmed() == pid) && (lines.at(7).trimmed() == u"ready");
            });
            if (state == ServerState::Ready)
                return true;
            if (state == ServerState::TimedOut)
            {
                stop();
                return fail(QStringLiteral("PostgreSQL was not ready within %1 s; log:\n%2")
                                .arg(StartTimeoutMs / 1000)
                                .arg(logTail()));
            }
            m_server.reset();
            const QString log = logTail();
            // Someone took the port between freePort() and bind(): try another one.
            if (firstStart && log.contains(QStringLiteral("could not bind")))
                continue;
            return fail(QStringLiteral("PostgreSQL exited during start-up; log:\n%1").arg(log));
        }
        return fail(QStringLiteral("PostgreSQL could not bind a free port; log:\n%1").arg(logTail()));
    }

    bool TempPostgres::stop()
    {
        if (m_server)
            endServer(*m_server, SIGQUIT, StopTimeoutMs);
        m_server.reset();
        return true;
    }

    bool TempPostgres::isRunning() const
    {
        return m_server && (m_server->state() != QProcess::NotRunning);
    }

    QString TempPostgres::errorString() const
    {
        return m_error;
    }

    std::uint16_t TempPostgres::port() const
    {
        return m_port;
    }

    qint64 TempPostgres::pid() const
    {
        return isRunning() ? m_server->processId() : 0;
    }

    QList<qint64> TempPostgres::clusterPids() const
    {
        QFile pidFile(directory() + QStringLiteral("/data/postmaster.pid"));
        if (!pidFile.open(QIODevice::ReadOnly))
            return {};
        const qint64 postmaster = pidFile.readLine().trimmed().toLongLong();
        QList<qint64> pids{postmaster};
        const QStringList entries = QDir(QStringLiteral("/proc")).entryList(QDir::Dirs);
        for (const QString &entry : entries)
        {
            bool numeric = false;
            const qint64 pid = entry.toLongLong(&numeric);
            if (!numeric)
                continue;
            QFile stat(QStringLiteral("/proc/") + entry + QStringLiteral("/stat"));
            if (!stat.open(QIODevice::ReadOnly))
                continue;
            // pid (comm) state ppid ...: the fields after the last ')'.
            const QByteArray line = stat.readAll();
            const QList<QByteArray> fields = line.mid(line.lastIndexOf(')') + 2).split(' ');
            if ((fields.size() > 1) && (fields.at(1).toLongLong() == postmaster))
                pids.append(pid);
        }
        return pids;
    }

    bool TempPostgres::freeze()
    {
        m_frozen.clear();
        for (const qint64 pid : clusterPids())
        {
            if (::kill(pid_t(pid), SIGSTOP) == 0)
                m_frozen.append(pid);
        }
        return !m_frozen.isEmpty();
    }

    void TempPostgres::thaw()
    {
        for (const qint64 pid : std::as_const(m_frozen))
            ::kill(pid_t(pid), SIGCONT);
        m_frozen.clear();
    }

    QString TempPostgres::directory() const
    {
        return m_dir ? m_dir->path() : QString();
    }

    QString TempPostgres::connectionSpec() const
    {
        return connectionSpec(DefaultDatabase);
    }

    QString TempPostgres::connectionSpec(const QString &database) const
    {
        return QStringLiteral("postgresql://postgres@127.0.0.1:%1/%2").arg(m_port).arg(database);
    }

    std::optional<QString> TempPostgres::createDatabase(const QString &name)
    {
        static const QRegularExpression plainName(QStringLiteral("^[a-z_][a-z0-9_]{0,62}$"));
        const QString database = name.isEmpty() ? QStringLiteral("db_%1").arg(++m_databaseCounter) : name;
        if (!plainName.match(database).hasMatch())
        {
            fail(QStringLiteral("bad database name \"%1\" (use [a-z0-9_])").arg(database));
            return std::nullopt;
        }
        if (!isRunning())
        {
            fail(QStringLiteral("the server is not running"));
            return std::nullopt;
        }
        if (!runTool(QStringLiteral("createdb"),
                     {QStringLiteral("-h"), QStringLiteral("127.0.0.1"), QStringLiteral("-p"), QString::number(m_port),
                      QStringLiteral("-U"), QStringLiteral("postgres"), database},
                     false, 60000))
        {
            return std::nullopt;
        }
        return connectionSpec(database);
    }

    bool TempPostgres::runTool(const QString &tool, const QStringList &arguments, const bool asServerUser,
                               const int timeoutMs)
    {
        QString userError;
        const std::optional<RunAs> runAs = asServerUser ? serverUser(&userError) : std::nullopt;
        QProcess process;
        prepareChild(process, runAs);
        process.setProcessEnvironment(toolEnvironment());
        if (m_dir)
            process.setWorkingDirectory(m_dir->path());
        process.start(m_binDir + u'/' + tool, arguments);
        if (!process.waitForStarted(timeoutMs))
            return fail(QStringLiteral("cannot run %1/%2: %3").arg(m_binDir, tool, process.errorString()));
        if (!process.waitForFinished(timeoutMs))
        {
            process.kill();
            process.waitForFinished();
            return fail(QStringLiteral("%1 did not finish within %2 s").arg(tool).arg(timeoutMs / 1000));
        }
        if ((process.exitStatus() != QProcess::NormalExit) || (process.exitCode() != 0))
        {
            return fail(QStringLiteral("%1 failed (exit %2): %3")
                            .arg(tool)
                            .arg(process.exitCode())
                            .arg(QString::fromLocal8Bit(process.readAllStandardError()).trimmed()));
        }
        return true;
    }

    QString TempPostgres::logTail() const
    {
        return m_dir ? readLogTail(m_dir->filePath(QStringLiteral("server.log"))) : QString();
    }

    bool TempPostgres::fail(const QString &message)
    {
        m_error = QStringLiteral("TempPostgres: ") + message;
        return false;
    }
}  // namespace Lockstep::Test
