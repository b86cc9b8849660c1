#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include <QString>
#include <QStringList>

class QProcess;
class QTemporaryDir;

namespace Lockstep::Test
{
    // A throwaway PostgreSQL cluster for one test executable: initdb into a
    // temporary directory, loopback only (127.0.0.1 and a socket inside that
    // directory), trust authentication, fsync off. As root (CI) the server runs
    // as the `postgres` user. The server is our child process and dies with us.
    //
    //     TempPostgres pg;
    //     if (!pg.start())
    //         QFAIL(qPrintable(pg.errorString()));
    //     RunStore::open(pg.connectionSpec());
    class TempPostgres
    {
    public:
        static inline const QString DefaultDatabase = QStringLiteral("lockstep_test");

        TempPostgres();
        ~TempPostgres();

        TempPostgres(const TempPostgres &) = delete;
        TempPostgres &operator=(const TempPostgres &) = delete;

        // First call: initdb, start, create DefaultDatabase. After stop():
        // starts the same cluster again on the same port. false: see errorString().
        bool start();
        // Immediate shutdown (what `pg_ctl stop -m immediate` does: SIGQUIT to
        // the postmaster): every connection drops at once. The data stays.
        bool stop();
        bool isRunning() const;

        QString errorString() const;
        std::uint16_t port() const;
        qint64 pid() const;  // the postmaster, 0 when not running
        // The postmaster and its children (the backends), from postmaster.pid and /proc.
        QList<qint64> clusterPids() const;
        // SIGSTOP to every process of the cluster, as a stuck disk or a paused
        // VM would stop it (connections stay open, nothing answers); thaw()
        // sends SIGCONT to the same processes. false: no process was stopped.
        bool freeze();
        void thaw();
        QString directory() const;  // the temporary directory (data/ and the socket)

        // "postgresql://postgres@127.0.0.1:PORT/lockstep_test"
        QString connectionSpec() const;
        QString connectionSpec(const QString &database) const;
        // A new empty database ([a-z0-9_], at most 63 characters; empty: a
        // generated name); returns its spec, or nullopt (see errorString()).
        std::optional<QString> createDatabase(const QString &name = {});

    private:
        bool initCluster();
        bool launch();
        bool runTool(const QString &tool, const QStringList &arguments, bool asServerUser, int timeoutMs);
        QString logTail() const;
        bool fail(const QString &message);

        std::unique_ptr<QTemporaryDir> m_dir;
        std::unique_ptr<QProcess> m_server;
        QString m_binDir;
        QString m_error;
        QList<qint64> m_frozen;
        std::uint16_t m_port = 0;
        bool m_initialised = false;
        int m_databaseCounter = 0;
    };
}  // namespace Lockstep::Test
