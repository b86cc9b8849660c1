#include "sqlrunstore.h"

#include <QThread>

#include <atomic>
#include <mutex>
#include <unordered_map>

#include <QDir>
#include <QFileInfo>
#include <QJsonDocument>
#include <QRegularExpression>
#include <QSqlDriver>
#include <QSqlError>

#include "common/logging.h"
#include "common/privatefiles.h"
#include "migrations.h"

namespace Lockstep::Store
{
    namespace
    {
        const QString RunColumns = QStringLiteral(
            "id, status, goal, flow, created_at, last_activity_at, completed_at, fence, last_seq, reason");

        // Serialises schema migrations between processes on PostgreSQL
        // (pg_advisory_xact_lock); "LOCKSTEP" in ASCII.
        constexpr qint64 MigrationLockKey = 0x4C4F434B53544550;
        constexpr int SqliteBusyTimeoutMs = 5000;

        // SQLite lets one writer in at a time and parks the others in its busy
        // handler, which sleeps 1, 2, 5, 10 ... 100 ms between tries: with 64
        // connections the unlucky ones wait hundreds of ms while the file is
        // idle. Connections of this process queue on one mutex per database
        // file instead and go in as soon as the writer before them is done;
        // other processes on the same file still meet the busy handler.
        std::mutex &sqliteWriterLock(const QString &path)
        {
            static std::mutex registryLock;
            static std::unordered_map<QString, std::unique_ptr<std::mutex>> locks;  // one per file, kept
            const std::lock_guard<std::mutex> guard(registryLock);
            std::unique_ptr<std::mutex> &lock = locks[QFileInfo(path).absoluteFilePath()];
            if (!lock)
                lock = std::make_unique<std::mutex>();
            return *lock;
        }
        constexpr int PgStatementTimeoutMs = 30000;
        constexpr int MaxWorkflowIdLength = 256;
        constexpr int MaxListLimit = 1000;
        // PostgreSQL LISTEN/NOTIFY channel; the payload is the workflow ID.
        const QString ChangesChannel = QStringLiteral("lockstep_runs");

        // A bound text value is never NULL: QtSql binds a null QString as SQL NULL.
        QVariant text(const QString &value)
        {
            return value.isNull() ? QVariant(QStringLiteral("")) : QVariant(value);
        }

        QVariant statusValue(const RunStatus status)
        {
            return QVariant(toString(status));
        }

        SqlFragment allOf(const QList<SqlFragment> &parts)
        {
            SqlFragment out;
            QStringList sql;
            for (const SqlFragment &part : parts)
            {
                sql.append(u'(' + part.sql + u')');
                out.binds += part.binds;
            }
            out.sql = sql.join(QStringLiteral(" AND "));
            return out;
        }

        // SPEC "Resumable" — the one place the predicate is spelled out: a
        // resumable status, or `running` whose last activity is older than
        // the stale limit (an orphan). The status classes come from runstatus.h.
        SqlFragment resumablePredicate(const qint64 staleBeforeMs)
        {
            SqlFragment out;
            QStringList names;
            for (const RunStatus status : AllRunStatuses)
            {
                if (!isResumableStatus(status))
                    continue;
                const QString name = QStringLiteral("resumable_%1").arg(names.size());
                names.append(u':' + name);
                out.binds.append({name, statusValue(status)});
            }
            out.sql = QStringLiteral("status IN (%1) OR (status = :stale_status AND last_activity_at < :stale_before)")
                          .arg(names.join(QStringLiteral(", ")));
            out.binds.append({QStringLiteral("stale_status"), statusValue(RunStatus::Running)});
            out.binds.append({QStringLiteral("stale_before"), staleBeforeMs});
            return out;
        }

        // SPEC "Cancellable": anything not final.
        SqlFragment cancellablePredicate()
        {
            SqlFragment out;
            QStringList names;
            for (const RunStatus status : AllRunStatuses)
            {
                if (isCancellable(status))
                    continue;
                const QString name = QStringLiteral("final_%1").arg(names.size());
                names.append(u':' + name);
                out.binds.append({name, statusValue(status)});
            }
            out.sql = QStringLiteral("status NOT IN (%1)").arg(names.join(QStringLiteral(", ")));
            return out;
        }

        StoreError invalidInput(const QString &message)
        {
            return StoreError{message, StoreError::Kind::InvalidInput};
        }

        std::optional<StoreError> checkWorkflowId(const QString &workflowId)
        {
            if (workflowId.isEmpty())
                return invalidInput(QStringLiteral("the workflow ID is empty"));
            if (workflowId.size() > MaxWorkflowIdLength)
                return invalidInput(
                    QStringLiteral("the workflow ID is longer than %1 characters").arg(MaxWorkflowIdLength));
            for (const QChar ch : workflowId)
            {
                if ((ch.unicode() < 0x20) || (ch.unicode() == 0x7f))
                    return invalidInput(QStringLiteral("the workflow ID contains a control character"));
            }
            return std::nullopt;
        }

        // PostgreSQL cannot keep a NUL in text, SQLite can: refuse it on both,
        // so every store answers the same bad input the same way.
        std::optional<StoreError> checkBinds(const SqlBinds &binds)
        {
            for (const auto &[name, value] : binds)
            {
                if ((value.typeId() == QMetaType::QString) && value.toString().contains(QChar(u'\0')))
                    return invalidInput(QStringLiteral("the %1 contains a NUL character").arg(name));
            }
            return std::nullopt;
        }

        // What a client may read about a database failure: the class of the
        // problem, never the statement or the database's own words (those go
        // to the log). PostgreSQL reports SQLSTATEs, SQLite its result codes.
        StoreError classify(const QString &what, const QSqlError &error, const bool sqlite)
        {
            const QString code = error.nativeErrorCode();
            auto failed = [&](const QString &reason, StoreError::Kind kind = StoreError::Kind::Failed) {
                return StoreError{what + QStringLiteral(" failed: ") + reason, kind, reason};
            };
            if (sqlite)
            {
                bool numeric = false;
                const int primary = code.toInt(&numeric) & 0xff;
                if (numeric)
                {
                    switch (primary)
                    {
                    case 5:
                    case 6: return failed(QStringLiteral("the database is busy"));
                    case 8: return failed(QStringLiteral("the database is read-only"));
                    case 10: return failed(QStringLiteral("the database had an I/O error"));
                    case 11:
                    case 26: return failed(QStringLiteral("the database file is damaged or not a database"));
                    case 13: return failed(QStringLiteral("the disk is full"));
                    case 14: return failed(QStringLiteral("the database file cannot be opened"));
                    default: break;
                    }
                }
            }
            else
            {
                if (code == u"57014")
                    return failed(QStringLiteral("the database did not answer in time"));
                if (code == u"53100")
                    return failed(QStringLiteral("the database's disk is full"));
                if (code.startsWith(u"53"))
                    return failed(QStringLiteral("the database is out of resources"));
                if (code == u"25006")
                    return failed(QStringLiteral("the database is read-only"));
                if (code.startsWith(u"08") || code.startsWith(u"57P"))
                    return failed(QStringLiteral("the database is unreachable"));
                if (code.startsWith(u"28"))
                    return failed(QStringLiteral("the database refused the login"));
                if (code == u"3D000")
                    return failed(QStringLiteral("the database does not exist"));
                if (code.startsWith(u"22"))
                    return failed(QStringLiteral("a value cannot be stored"), StoreError::Kind::InvalidInput);
            }
            // libpq reports a lost or refused connection without a SQLSTATE.
            static const QRegularExpression connectionLost(
                QStringLiteral(
                    "server closed the connection|connection to server|could not connect|no connection to the server"
                    "|terminating connection|Connection refused|could not send data|could not receive data"),
                QRegularExpression::CaseInsensitiveOption);
            if ((error.type() == QSqlError::ConnectionError) || connectionLost.match(error.databaseText()).hasMatch() ||
                connectionLost.match(error.driverText()).hasMatch())
                return failed(QStringLiteral("the database is unreachable"));
            return failed(QStringLiteral("database error (the gateway log has the details)"));
        }

        QDateTime fromEpochMs(const QVariant &value)
        {
            return QDateTime::fromMSecsSinceEpoch(value.toLongLong(), Qt::UTC);
        }

        StoreResult<RunStatus> statusFrom(const QVariant &value)
        {
            const QString name = value.toString();
            const std::optional<RunStatus> status = runStatusFromString(name);
            if (!status)
                return unexpected(StoreError{QStringLiteral("the store holds an unknown status \"%1\"").arg(name)});
            return *status;
        }

        // A row of RunColumns.
        StoreResult<Run> runFrom(const QSqlRecord &record)
        {
            StoreResult<RunStatus> status = statusFrom(record.value(1));
            if (!status)
                return unexpected(std::move(status).error());
            Run run;
            run.workflowId = record.value(0).toString();
            run.status = *status;
            run.goal = record.value(2).toString();
            run.flow = record.value(3).toString();
            run.createdAt = fromEpochMs(record.value(4));
            run.lastActivityAt = fromEpochMs(record.value(5));
            if (!record.value(6).isNull())
                run.completedAt = fromEpochMs(record.value(6));
            run.fence = record.value(7).toLongLong();
            run.lastSeq = record.value(8).toLongLong();
            run.reason = record.value(9).toString();
            return run;
        }

        std::atomic<quint64> g_connectionCounter{0};

        // ---- workspace agents ----
        const QString WorkspaceColumns =
            QStringLiteral("workspace_id, build, agent_id, host, port, updated_at, agent_secret");

        std::optional<StoreError> checkKey(const QString &value, const QString &name)
        {
            if (value.isEmpty())
                return invalidInput(QStringLiteral("the %1 is empty").arg(name));
            if (value.size() > MaxWorkflowIdLength)
                return invalidInput(
                    QStringLiteral("the %1 is longer than %2 characters").arg(name).arg(MaxWorkflowIdLength));
            for (const QChar ch : value)
            {
                if ((ch.unicode() < 0x20) || (ch.unicode() == 0x7f))
                    return invalidInput(QStringLiteral("the %1 contains a control character").arg(name));
            }
            return std::nullopt;
        }

        // A row of WorkspaceColumns.
        WorkspaceAgent workspaceFrom(const QSqlRecord &record)
        {
            return WorkspaceAgent{
                .workspaceId = record.value(0).toString(),
                .build = record.value(1).toLongLong(),
                .agentId = record.value(2).isNull() ? QString() : record.value(2).toString(),
                .host = record.value(3).toString(),
                .port = record.value(4).toInt(),
                .updatedAt = fromEpochMs(record.value(5)),
                .secret = record.value(6).toString().toUtf8(),
            };
        }
    }  // namespace

    // The write transaction of one call. SQLite: BEGIN IMMEDIATE, so the write
    // lock is taken (or waited for, up to the busy timeout) before anything is
    // read and a transaction never has to upgrade. PostgreSQL: a single
    // statement is its own transaction; `always` opens one for multi-statement
    // writes. Rolls back unless committed.
    class SqlRunStore::WriteScope
    {
    public:
        WriteScope(SqlRunStore &store, const bool always)
            : m_store(store)
            , m_needed(always || store.isSqlite())
        {}

        ~WriteScope()
        {
            if (m_open)
                rollback();
        }

        WriteScope(const WriteScope &) = delete;
        WriteScope &operator=(const WriteScope &) = delete;

        StoreResult<Ok> begin(const QString &what)
        {
            if (!m_needed)
                return Ok{};
            if (m_store.isSqlite())
                m_writer = std::unique_lock<std::mutex>(sqliteWriterLock(m_store.m_spec.sqlitePath));
            const auto result = m_store.execDirect(
                m_store.isSqlite() ? QStringLiteral("BEGIN IMMEDIATE") : QStringLiteral("BEGIN"), what);
            if (!result)
            {
                releaseWriter();
                return unexpected(result.error());
            }
            m_open = true;
            return Ok{};
        }

        StoreResult<Ok> commit(const QString &what)
        {
            if (!m_open)
                return Ok{};
            const auto result = m_store.execDirect(QStringLiteral("COMMIT"), what);
            if (!result)
            {
                rollback();
                return unexpected(result.error());
            }
            m_open = false;
            releaseWriter();
            return Ok{};
        }

    private:
        void rollback()
        {
            m_open = false;
            QSqlQuery query(m_store.m_db);
            if (!query.exec(QStringLiteral("ROLLBACK")))
                m_store.m_suspect = true;
            releaseWriter();
        }

        void releaseWriter()
        {
            if (m_writer.owns_lock())
                m_writer.unlock();
        }

        SqlRunStore &m_store;
        const bool m_needed;
        bool m_open = false;
        std::unique_lock<std::mutex> m_writer;  // SQLite: this process's writers, one at a time
    };

    SqlRunStore::SqlRunStore(StoreSpec spec, StoreOptions options)
        : m_spec(std::move(spec))
        , m_options(std::move(options))
    {
        createConnection();
    }

    SqlRunStore::~SqlRunStore()
    {
        dropConnection();
    }

    void SqlRunStore::createConnection()
    {
        m_connectionName = QStringLiteral("lockstep-store-%1").arg(g_connectionCounter.fetch_add(1));
        m_db = QSqlDatabase::addDatabase(isSqlite() ? QStringLiteral("QSQLITE") : QStringLiteral("QPSQL"),
                                         m_connectionName);
        if (isSqlite())
        {
            m_db.setDatabaseName(m_spec.sqlitePath);
            m_db.setConnectOptions(QStringLiteral("QSQLITE_BUSY_TIMEOUT=%1").arg(SqliteBusyTimeoutMs));
            return;
        }

        m_db.setHostName(m_spec.host);
        m_db.setPort(m_spec.port);
        m_db.setUserName(m_spec.user);
        m_db.setPassword(m_spec.password);
        m_db.setDatabaseName(m_spec.databaseName);
        // libpq keywords: bounded connect, dead peers noticed within ~25 s;
        // the spec's query parameters override these.
        QList<QPair<QString, QString>> connectOptions = {
            {QStringLiteral("connect_timeout"), QStringLiteral("5")},
            {QStringLiteral("keepalives_idle"), QStringLiteral("10")},
            {QStringLiteral("keepalives_interval"), QStringLiteral("5")},
            {QStringLiteral("keepalives_count"), QStringLiteral("3")},
            {QStringLiteral("application_name"), QStringLiteral("lockstep")},
        };
        for (const auto &[key, value] : m_spec.options)
        {
            const auto it = std::find_if(connectOptions.begin(), connectOptions.end(),
                                         [&key](const auto &pair) { return pair.first == key; });
            if (it != connectOptions.end())
                it->second = value;
            else
                connectOptions.append({key, value});
        }
        QStringList parts;
        for (const auto &[key, value] : std::as_const(connectOptions))
            parts.append(key + u'=' + value);
        m_db.setConnectOptions(parts.join(u';'));
    }

    void SqlRunStore::dropConnection()
    {
        // The driver goes first, so the cached queries die without a last
        // DEALLOCATE round trip (which fails loudly on a lost connection;
        // closing the session frees prepared statements anyway).
        auto queries = std::move(m_prepared);
        m_prepared.clear();
        if (m_db.isOpen())
            m_db.close();
        m_db = QSqlDatabase();
        QSqlDatabase::removeDatabase(m_connectionName);
        queries.clear();
    }

    StoreResult<std::unique_ptr<RunStore>> SqlRunStore::open(const StoreSpec &spec, const StoreOptions &options)
    {
        if (options.staleAfter.count() <= 0)
            return unexpected(StoreError{QStringLiteral("the stale-after duration must be positive")});

        const QString driver =
            (spec.kind == StoreSpec::Kind::Sqlite) ? QStringLiteral("QSQLITE") : QStringLiteral("QPSQL");
        if (!QSqlDatabase::isDriverAvailable(driver))
        {
            return unexpected(StoreError{QStringLiteral("the Qt SQL driver %1 is not installed (Debian: %2)")
                                             .arg(driver, (driver == QStringLiteral("QSQLITE"))
                                                              ? QStringLiteral("libqt6sql6-sqlite")
                                                              : QStringLiteral("libqt6sql6-psql"))});
        }

        if (spec.kind == StoreSpec::Kind::Sqlite)
        {
            // The embedded default should work on a fresh machine.
            const QFileInfo file(spec.sqlitePath);
            if (!file.absoluteDir().exists() && !PrivateFiles::makePath(file.absolutePath()))
            {
                return unexpected(StoreError{
                    QStringLiteral("cannot create the directory \"%1\" for the store").arg(file.absolutePath())});
            }
            // Owner only (0600); SQLite gives its -wal and -shm files the mode of this one.
            if (!PrivateFiles::ensureFile(spec.sqlitePath))
                return unexpected(
                    StoreError{QStringLiteral("cannot create the store file \"%1\"").arg(spec.sqlitePath)});
        }

        std::unique_ptr<SqlRunStore> store(new SqlRunStore(spec, options));
        if (const auto connected = store->connect(); !connected)
            return unexpected(connected.error());
        if (const auto migrated = store->migrate(); !migrated)
            return unexpected(migrated.error());
        qCInfo(lcStore).noquote() << "store open:" << spec.redacted()
                                  << (options.casGuards ? "" : "(CAS guards OFF: --no-cas-guards)")
                                  << (options.fencing ? "" : "(fencing OFF: --no-fencing)");
        return std::unique_ptr<RunStore>(std::move(store));
    }

    bool SqlRunStore::isSqlite() const
    {
        return m_spec.kind == StoreSpec::Kind::Sqlite;
    }

    qint64 SqlRunStore::now() const
    {
        return m_options.nowMs ? m_options.nowMs() : QDateTime::currentMSecsSinceEpoch();
    }

    StoreResult<Ok> SqlRunStore::connect()
    {
        if (!m_db.open())
        {
            return unexpected(
                sqlError(QStringLiteral("cannot open the store %1").arg(m_spec.redacted()), m_db.lastError()));
        }

        QStringList setup;
        if (isSqlite())
        {
            // Switching to WAL needs an exclusive lock, and SQLite answers SQLITE_BUSY
            // at once (without its busy handler) when several processes open a fresh
            // file together; retry within the busy timeout.
            auto mode = execDirect(QStringLiteral("PRAGMA journal_mode=WAL"), QStringLiteral("enabling WAL"));
            for (int waitedMs = 0; !mode && (waitedMs < SqliteBusyTimeoutMs) && mode.error().message.contains(u"busy");
                 waitedMs += 20)
            {
                QThread::msleep(20);
                mode = execDirect(QStringLiteral("PRAGMA journal_mode=WAL"), QStringLiteral("enabling WAL"));
            }
            if (!mode)
            {
                m_db.close();
                return unexpected(mode.error());
            }
            if (mode->isEmpty() || (mode->first().value(0).toString().compare(u"wal", Qt::CaseInsensitive) != 0))
                qCWarning(lcStore).noquote() << "SQLite did not switch to WAL mode for" << m_spec.sqlitePath;
            setup = {QStringLiteral("PRAGMA synchronous=NORMAL"), QStringLiteral("PRAGMA foreign_keys=ON")};
        }
        else
        {
            setup = {QStringLiteral("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED"),
                     QStringLiteral("SET statement_timeout = %1").arg(PgStatementTimeoutMs),
                     // libpq prints NOTICEs ("already exists, skipping") to stderr.
                     QStringLiteral("SET client_min_messages = warning")};
        }
        for (const QString &statement : std::as_const(setup))
        {
            if (const auto result = execDirect(statement, QStringLiteral("setting up the store connection")); !result)
            {
                m_db.close();
                return unexpected(result.error());
            }
        }
        m_suspect = false;
        subscribeToChanges();
        if (m_lost)
        {
            qCInfo(lcStore).noquote() << "store connection re-established:" << m_spec.redacted();
            // Notifications sent while we were away are gone: any run may have
            // changed. Told from the event loop, never inside a store call.
            if (m_changed)
            {
                QMetaObject::invokeMethod(
                    m_db.driver(), [changed = m_changed] { changed(QString()); }, Qt::QueuedConnection);
            }
        }
        m_lost = false;
        return Ok{};
    }

    bool SqlRunStore::watchChanges(std::function<void(const QString &workflowId)> changed)
    {
        if (isSqlite())
            return false;
        m_changed = std::move(changed);
        subscribeToChanges();
        return true;
    }

    void SqlRunStore::subscribeToChanges()
    {
        if (!m_changed || isSqlite() || !m_db.isOpen())
            return;
        QSqlDriver *driver = m_db.driver();
        if (driver->subscribedToNotifications().contains(ChangesChannel))
            return;
        if (!driver->subscribeToNotification(ChangesChannel))
        {
            qCWarning(lcStore).noquote() << "cannot LISTEN for run changes:" << driver->lastError().text();
            return;
        }
        // Our own writes are announced to us as well: the executions here tell
        // their feeds directly, so only other processes' writes matter.
        QObject::connect(driver, &QSqlDriver::notification, driver,
                         [changed = m_changed](const QString &, const QSqlDriver::NotificationSource source,
                                               const QVariant &payload) {
                             if (source == QSqlDriver::OtherSource)
                                 changed(payload.toString());
                         });
    }

    void SqlRunStore::announce(const QString &workflowId)
    {
        if (isSqlite())
            return;
        const auto sent = exec(QStringLiteral("SELECT pg_notify(:channel, :id)"),
                               {{QStringLiteral("channel"), ChangesChannel}, {QStringLiteral("id"), workflowId}},
                               QStringLiteral("announcing a change of \"%1\"").arg(workflowId));
        if (!sent)
            qCDebug(lcStore).noquote() << sent.error().message;
    }

    StoreResult<Ok> SqlRunStore::ensureConnected()
    {
        if (m_db.isOpen() && !m_suspect)
            return Ok{};
        if (m_db.isOpen())
        {
            m_suspect = false;
            QSqlQuery probe(m_db);
            if (probe.exec(QStringLiteral("SELECT 1")))
                return Ok{};
        }
        // QPSQL closes the connection itself when the server went away.
        if (!m_lost)
            qCWarning(lcStore).noquote() << "store connection lost, reconnecting:" << m_spec.redacted();
        m_lost = true;
        dropConnection();
        createConnection();
        return connect();
    }

    StoreResult<Ok> SqlRunStore::migrate()
    {
        const QString what = QStringLiteral("schema migration of %1").arg(m_spec.redacted());
        WriteScope scope(*this, true);
        if (const auto begun = scope.begin(what); !begun)
            return begun;
        if (!isSqlite())
        {
            // Two gateways opening one fresh database at once take turns here.
            const auto locked = exec(QStringLiteral("SELECT pg_advisory_xact_lock(:lock_key)"),
                                     {{QStringLiteral("lock_key"), MigrationLockKey}}, what);
            if (!locked)
                return unexpected(locked.error());
        }
        const auto created = execDirect(QStringLiteral("CREATE TABLE IF NOT EXISTS schema_version ("
                                                       " version INTEGER PRIMARY KEY,"
                                                       " description TEXT NOT NULL,"
                                                       " applied_at BIGINT NOT NULL)"),
                                        what);
        if (!created)
            return unexpected(created.error());

        const auto current = exec(QStringLiteral("SELECT COALESCE(MAX(version), 0) FROM schema_version"), {}, what);
        if (!current)
            return unexpected(current.error());
        const int version = current->isEmpty() ? 0 : current->first().value(0).toInt();
        if (version > latestSchemaVersion())
        {
            return unexpected(
                plainError(QStringLiteral("the store's schema version %1 is newer than this build knows (%2)")
                               .arg(version)
                               .arg(latestSchemaVersion())));
        }

        for (const Migration &migration : migrations())
        {
            if (migration.version <= version)
                continue;
            for (const QString &statement : migration.statements)
            {
                if (const auto result = execDirect(statement, what); !result)
                    return unexpected(result.error());
            }
            const auto recorded = exec(QStringLiteral("INSERT INTO schema_version (version, description, applied_at)"
                                                      " VALUES (:version, :description, :applied_at)"),
                                       {{QStringLiteral("version"), migration.version},
                                        {QStringLiteral("description"), text(migration.description)},
                                        {QStringLiteral("applied_at"), now()}},
                                       what);
            if (!recorded)
                return unexpected(recorded.error());
            qCInfo(lcStore).noquote() << "store schema migrated to version" << migration.version
                                      << u'(' + migration.description + u')';
        }
        return scope.commit(what);
    }

    StoreResult<QList<QSqlRecord>> SqlRunStore::exec(const QString &sql, const SqlBinds &binds, const QString &what)
    {
        if (auto bad = checkBinds(binds))
        {
            bad->cause = bad->message;
            bad->message = what + QStringLiteral(" failed: ") + bad->message;
            return unexpected(*bad);
        }
        auto it = m_prepared.find(sql);
        if (it == m_prepared.end())
        {
            auto query = std::make_unique<QSqlQuery>(m_db);
            query->setForwardOnly(true);
            if (!query->prepare(sql))
            {
                m_suspect = true;
                return unexpected(sqlError(what, query->lastError()));
            }
            it = m_prepared.emplace(sql, std::move(query)).first;
        }

        QSqlQuery &query = *it->second;
        for (const auto &[name, value] : binds)
        {
            Q_ASSERT(sql.contains(u':' + name));
            query.bindValue(u':' + name, value);
        }
        if (!query.exec())
        {
            const QSqlError error = query.lastError();
            query.finish();
            m_suspect = true;
            return unexpected(sqlError(what, error));
        }
        QList<QSqlRecord> rows;
        while (query.next())
            rows.append(query.record());
        const QSqlError error = query.lastError();
        query.finish();
        if (error.type() != QSqlError::NoError)
        {
            m_suspect = true;
            return unexpected(sqlError(what, error));
        }
        return rows;
    }

    StoreResult<QList<QSqlRecord>> SqlRunStore::execDirect(const QString &sql, const QString &what)
    {
        QSqlQuery query(m_db);
        query.setForwardOnly(true);
        if (!query.exec(sql))
        {
            m_suspect = true;
            return unexpected(sqlError(what, query.lastError()));
        }
        QList<QSqlRecord> rows;
        while (query.isSelect() && query.next())
            rows.append(query.record());
        return rows;
    }

    SqlFragment SqlRunStore::guarded(const SqlFragment &fragment) const
    {
        if (!m_options.casGuards)
            return {QStringLiteral("1=1"), {}};
        return fragment;
    }

    SqlFragment SqlRunStore::fenceAtMost(const qint64 fence) const
    {
        if (!m_options.fencing)
            return {QStringLiteral("1=1"), {}};
        return {QStringLiteral("fence <= :guard_fence"), {{QStringLiteral("guard_fence"), fence}}};
    }

    SqlFragment SqlRunStore::executingPredicate(const qint64 fence) const
    {
        return allOf({{QStringLiteral("status = :executing_status"),
                       {{QStringLiteral("executing_status"), statusValue(RunStatus::Running)}}},
                      fenceAtMost(fence)});
    }

    StoreError SqlRunStore::sqlError(const QString &what, const QSqlError &error) const
    {
        QString detail = error.databaseText().trimmed();
        const QString driver = error.driverText().trimmed();
        if (detail.isEmpty())
            detail = driver;
        else if (!driver.isEmpty() && !detail.contains(driver))
            detail = driver + QStringLiteral(": ") + detail;
        if (detail.isEmpty())
            detail = QStringLiteral("unknown database error");
        QString logged = what + QStringLiteral(" failed: ") + detail.simplified();
        if (!m_spec.password.isEmpty())
            logged.replace(m_spec.password, QStringLiteral("***"));
        qCWarning(lcStore).noquote() << logged << u"(code " + error.nativeErrorCode() + u')';
        return classify(what, error, isSqlite());
    }

    StoreError SqlRunStore::plainError(const QString &message) const
    {
        QString clean = message;
        if (!m_spec.password.isEmpty())
            clean.replace(m_spec.password, QStringLiteral("***"));
        qCDebug(lcStore).noquote() << clean;
        return StoreError{clean};
    }

    QString SqlRunStore::kind() const
    {
        return isSqlite() ? QStringLiteral("sqlite") : QStringLiteral("postgresql");
    }

    StoreResult<Ok> SqlRunStore::ping()
    {
        if (const auto connected = ensureConnected(); !connected)
            return connected;
        const auto result = execDirect(QStringLiteral("SELECT 1"), QStringLiteral("store ping"));
        if (!result)
            return unexpected(result.error());
        return Ok{};
    }

    StoreResult<int> SqlRunStore::schemaVersion()
    {
        if (const auto connected = ensureConnected(); !connected)
            return unexpected(connected.error());
        const auto rows = exec(QStringLiteral("SELECT COALESCE(MAX(version), 0) FROM schema_version"), {},
                               QStringLiteral("reading the schema version"));
        if (!rows)
            return unexpected(rows.error());
        return rows->isEmpty() ? 0 : rows->first().value(0).toInt();
    }

    StoreResult<qint64> SqlRunStore::nextFence(const qint64 above)
    {
        if (const auto connected = ensureConnected(); !connected)
            return unexpected(connected.error());
        const QString what = QStringLiteral("taking a fence");
        WriteScope scope(*this, false);
        if (const auto begun = scope.begin(what); !begun)
            return unexpected(begun.error());
        // SQLite's two-argument MAX is PostgreSQL's GREATEST.
        const QString larger = isSqlite() ? QStringLiteral("MAX") : QStringLiteral("GREATEST");
        const auto rows =
            exec(QStringLiteral("UPDATE fence_counter SET value = %1(value, :above) + 1"
                                " WHERE id = :counter_id RETURNING value")
                     .arg(larger),
                 {{QStringLiteral("above"), std::max<qint64>(above, 0)}, {QStringLiteral("counter_id"), 1}}, what);
        if (!rows)
            return unexpected(rows.error());
        if (rows->isEmpty())
            return unexpected(plainError(QStringLiteral("%1 failed: the fence_counter row is missing").arg(what)));
        const qint64 fence = rows->first().value(0).toLongLong();
        if (const auto committed = scope.commit(what); !committed)
            return unexpected(committed.error());
        return fence;
    }

    StoreResult<Run> SqlRunStore::createRun(const QString &workflowId, const QString &goal, const QString &flow,
                                            const qint64 fence)
    {
        if (const auto bad = checkWorkflowId(workflowId))
            return unexpected(*bad);
        if (const auto connected = ensureConnected(); !connected)
            return unexpected(connected.error());

        const QString what = QStringLiteral("creating workflow \"%1\"").arg(workflowId);
        const qint64 t = now();
        WriteScope scope(*this, false);
        if (const auto begun = scope.begin(what); !begun)
            return unexpected(begun.error());
        const auto rows =
            exec(QStringLiteral(
                     "INSERT INTO runs (id, status, goal, flow, created_at, last_activity_at, completed_at,"
                     " fence, last_seq, reason)"
                     " VALUES (:id, :status, :goal, :flow, :created_at, :last_activity_at, NULL, :fence, 0, :reason)"
                     " ON CONFLICT (id) DO NOTHING RETURNING ") +
                     RunColumns,
                 {{QStringLiteral("id"), workflowId},
                  {QStringLiteral("status"), statusValue(RunStatus::Created)},
                  {QStringLiteral("goal"), text(goal)},
                  {QStringLiteral("flow"), text(flow)},
                  {QStringLiteral("created_at"), t},
                  {QStringLiteral("last_activity_at"), t},
                  {QStringLiteral("fence"), fence},
                  {QStringLiteral("reason"), text(QString())}},
                 what);
        if (!rows)
            return unexpected(rows.error());
        if (rows->isEmpty())
            return unexpected(StoreError{QStringLiteral("%1 failed: the workflow already exists").arg(what),
                                         StoreError::Kind::Exists});
        StoreResult<Run> run = runFrom(rows->first());
        if (!run)
            return run;
        announce(workflowId);
        if (const auto committed = scope.commit(what); !committed)
            return unexpected(committed.error());
        return run;
    }

    StoreResult<std::optional<Run>> SqlRunStore::getRun(const QString &workflowId)
    {
        if (const auto bad = checkWorkflowId(workflowId))
            return unexpected(*bad);
        if (const auto connected = ensureConnected(); !connected)
            return unexpected(connected.error());

        const auto rows =
            exec(QStringLiteral("SELECT ") + RunColumns + QStringLiteral(" FROM runs WHERE id = :id"),
                 {{QStringLiteral("id"), workflowId}}, QStringLiteral("reading workflow \"%1\"").arg(workflowId));
        if (!rows)
            return unexpected(rows.error());
        if (rows->isEmpty())
            return std::optional<Run>();
        StoreResult<Run> run = runFrom(rows->first());
        if (!run)
            return unexpected(std::move(run).error());
        return std::optional<Run>(std::move(run).value());
    }

    StoreResult<QList<Run>> SqlRunStore::listRuns(const std::optional<RunStatus> status, const int limit)
    {
        if ((limit < 1) || (limit > MaxListLimit))
            return unexpected(invalidInput(QStringLiteral("the list limit must be within 1..%1").arg(MaxListLimit)));
        if (const auto connected = ensureConnected(); !connected)
            return unexpected(connected.error());

        SqlBinds binds = {{QStringLiteral("limit"), limit}};
        QString where;
        if (status)
        {
            where = QStringLiteral(" WHERE status = :status");
            binds.append({QStringLiteral("status"), statusValue(*status)});
        }
        const auto rows = exec(QStringLiteral("SELECT ") + RunColumns + QStringLiteral(" FROM runs") + where +
                                   QStringLiteral(" ORDER BY last_activity_at DESC, id LIMIT :limit"),
                               binds, QStringLiteral("listing workflows"));
        if (!rows)
            return unexpected(rows.error());
        QList<Run> runs;
        runs.reserve(rows->size());
        for (const QSqlRecord &record : *rows)
        {
            StoreResult<Run> run = runFrom(record);
            if (!run)
                return unexpected(std::move(run).error());
            runs.append(std::move(run).value());
        }
        return runs;
    }

    StoreResult<ResumeResult> SqlRunStore::resume(const QString &workflowId, const qint64 fence,
                                                  const std::optional<QString> &newGoal)
    {
        if (const auto bad = checkWorkflowId(workflowId))
            return unexpected(*bad);
        if (const auto connected = ensureConnected(); !connected)
            return unexpected(connected.error());

        const QString what = QStringLiteral("resuming workflow \"%1\"").arg(workflowId);
        const qint64 t = now();
        const SqlFragment guard =
            guarded(allOf({resumablePredicate(t - m_options.staleAfter.count()), fenceAtMost(fence)}));
        QString set = QStringLiteral("status = :to_status, last_activity_at = :now, fence = :new_fence,"
                                     " completed_at = NULL, reason = :reason");
        SqlBinds binds = {{QStringLiteral("to_status"), statusValue(RunStatus::Running)},
                          {QStringLiteral("now"), t},
                          {QStringLiteral("new_fence"), fence},
                          {QStringLiteral("reason"), text(QString())},
                          {QStringLiteral("id"), workflowId}};
        if (newGoal)
        {
            set += QStringLiteral(", goal = :goal");
            binds.append({QStringLiteral("goal"), text(*newGoal)});
        }
        binds += guard.binds;

        WriteScope scope(*this, false);
        if (const auto begun = scope.begin(what); !begun)
            return unexpected(begun.error());
        // The CAS: one conditional UPDATE; under READ COMMITTED a concurrent
        // resumer waits for the row lock and re-checks the predicate on the
        // winner's row, so exactly one matches.
        const auto rows = exec(QStringLiteral("UPDATE runs SET ") + set + QStringLiteral(" WHERE id = :id AND (") +
                                   guard.sql + QStringLiteral(") RETURNING ") + RunColumns,
                               binds, what);
        if (!rows)
            return unexpected(rows.error());

        ResumeResult result;
        if (!rows->isEmpty())
        {
            StoreResult<Run> run = runFrom(rows->first());
            if (!run)
                return unexpected(std::move(run).error());
            result.outcome = ResumeOutcome::Resumed;
            result.status = run->status;
            result.fence = run->fence;
            result.run = std::move(run).value();
            announce(workflowId);
        }
        else
        {
            const auto probe = exec(QStringLiteral("SELECT status, fence FROM runs WHERE id = :id"),
                                    {{QStringLiteral("id"), workflowId}}, what);
            if (!probe)
                return unexpected(probe.error());
            if (probe->isEmpty())
            {
                result.outcome = ResumeOutcome::NotFound;
            }
            else
            {
                StoreResult<RunStatus> status = statusFrom(probe->first().value(0));
                if (!status)
                    return unexpected(std::move(status).error());
                result.outcome = ResumeOutcome::NotResumable;
                result.status = *status;
                result.fence = probe->first().value(1).toLongLong();
            }
        }
        if (const auto committed = scope.commit(what); !committed)
            return unexpected(committed.error());
        return result;
    }

    StoreResult<CancelResult> SqlRunStore::cancel(const QString &workflowId, const QString &reason)
    {
        if (const auto bad = checkWorkflowId(workflowId))
            return unexpected(*bad);
        if (const auto connected = ensureConnected(); !connected)
            return unexpected(connected.error());

        const QString what = QStringLiteral("cancelling workflow \"%1\"").arg(workflowId);
        const qint64 t = now();
        const SqlFragment guard = guarded(cancellablePredicate());
        SqlBinds binds = {{QStringLiteral("to_status"), statusValue(RunStatus::Stopped)},
                          {QStringLiteral("reason"), text(reason)},
                          {QStringLiteral("completed_at"), t},
                          {QStringLiteral("now"), t},
                          {QStringLiteral("id"), workflowId}};
        binds += guard.binds;

        WriteScope scope(*this, false);
        if (const auto begun = scope.begin(what); !begun)
            return unexpected(begun.error());
        const auto rows = exec(QStringLiteral("UPDATE runs SET status = :to_status, reason = :reason,"
                                              " completed_at = :completed_at, last_activity_at = :now"
                                              " WHERE id = :id AND (") +
                                   guard.sql + QStringLiteral(") RETURNING status"),
                               binds, what);
        if (!rows)
            return unexpected(rows.error());

        // A miss is a no-op on a final run (or an unknown ID): probe which.
        const bool cancelled = !rows->isEmpty();
        auto statusRows = rows;
        if (!cancelled)
            statusRows = exec(QStringLiteral("SELECT status FROM runs WHERE id = :id"),
                              {{QStringLiteral("id"), workflowId}}, what);
        if (!statusRows)
            return unexpected(statusRows.error());

        CancelResult result;
        if (!statusRows->isEmpty())
        {
            StoreResult<RunStatus> status = statusFrom(statusRows->first().value(0));
            if (!status)
                return unexpected(std::move(status).error());
            result.outcome = cancelled ? CancelOutcome::Cancelled : CancelOutcome::Noop;
            result.status = *status;
        }
        if (cancelled)
            announce(workflowId);
        if (const auto committed = scope.commit(what); !committed)
            return unexpected(committed.error());
        return result;
    }

    StoreResult<bool> SqlRunStore::transition(const QString &workflowId, const qint64 fence, const RunStatus to,
                                              const QString &reason)
    {
        if (const auto bad = checkWorkflowId(workflowId))
            return unexpected(*bad);
        if ((to == RunStatus::Created) || (to == RunStatus::Running))
        {
            return unexpected(StoreError{
                QStringLiteral("a run cannot transition to \"%1\" (use createRun/resume)").arg(toString(to))});
        }
        if (const auto connected = ensureConnected(); !connected)
            return unexpected(connected.error());

        const QString what = QStringLiteral("moving workflow \"%1\" to %2").arg(workflowId, toString(to));
        const qint64 t = now();
        const SqlFragment guard = guarded(executingPredicate(fence));
        SqlBinds binds = {{QStringLiteral("to_status"), statusValue(to)},
                          {QStringLiteral("reason"), text(reason)},
                          {QStringLiteral("now"), t},
                          {QStringLiteral("new_fence"), fence},
                          {QStringLiteral("id"), workflowId}};
        QString completed = QStringLiteral("NULL");
        if (isFinal(to))
        {
            completed = QStringLiteral(":completed_at");
            binds.append({QStringLiteral("completed_at"), t});
        }
        binds += guard.binds;

        WriteScope scope(*this, false);
        if (const auto begun = scope.begin(what); !begun)
            return unexpected(begun.error());
        const auto rows =
            exec(QStringLiteral("UPDATE runs SET status = :to_status, reason = :reason,"
                                " last_activity_at = :now, fence = :new_fence, completed_at = ") +
                     completed + QStringLiteral(" WHERE id = :id AND (") + guard.sql + QStringLiteral(") RETURNING id"),
                 binds, what);
        if (!rows)
            return unexpected(rows.error());
        if (!rows->isEmpty())
            announce(workflowId);
        if (const auto committed = scope.commit(what); !committed)
            return unexpected(committed.error());
        return !rows->isEmpty();
    }

    StoreResult<bool> SqlRunStore::touch(const QString &workflowId, const qint64 fence)
    {
        if (const auto bad = checkWorkflowId(workflowId))
            return unexpected(*bad);
        if (const auto connected = ensureConnected(); !connected)
            return unexpected(connected.error());

        const QString what = QStringLiteral("touching workflow \"%1\"").arg(workflowId);
        const SqlFragment guard = guarded(executingPredicate(fence));
        SqlBinds binds = {
            {QStringLiteral("now"), now()}, {QStringLiteral("new_fence"), fence}, {QStringLiteral("id"), workflowId}};
        binds += guard.binds;

        WriteScope scope(*this, false);
        if (const auto begun = scope.begin(what); !begun)
            return unexpected(begun.error());
        const auto rows = exec(QStringLiteral("UPDATE runs SET last_activity_at = :now, fence = :new_fence"
                                              " WHERE id = :id AND (") +
                                   guard.sql + QStringLiteral(") RETURNING id"),
                               binds, what);
        if (!rows)
            return unexpected(rows.error());
        if (const auto committed = scope.commit(what); !committed)
            return unexpected(committed.error());
        return !rows->isEmpty();
    }

    StoreResult<std::optional<qint64>> SqlRunStore::appendEntry(const QString &workflowId, const qint64 fence,
                                                                const QJsonObject &entry)
    {
        if (const auto bad = checkWorkflowId(workflowId))
            return unexpected(*bad);
        const QJsonValue messageId = entry.value(QStringLiteral("message_id"));
        if (!messageId.isString() || messageId.toString().isEmpty())
            return unexpected(invalidInput(QStringLiteral("a chat-log entry needs a non-empty string \"message_id\"")));
        const QJsonValue messageType = entry.value(QStringLiteral("message_type"));
        if (!messageType.isUndefined() && !messageType.isString())
            return unexpected(invalidInput(QStringLiteral("the chat-log entry's \"message_type\" must be a string")));
        if (const auto connected = ensureConnected(); !connected)
            return unexpected(connected.error());

        const QString what = QStringLiteral("appending to the chat log of workflow \"%1\"").arg(workflowId);
        const qint64 t = now();
        const SqlFragment guard = guarded(executingPredicate(fence));
        SqlBinds binds = {
            {QStringLiteral("now"), t}, {QStringLiteral("new_fence"), fence}, {QStringLiteral("id"), workflowId}};
        binds += guard.binds;

        // The guard check and the seq bump are one statement, and the entry
        // is written in the same transaction: no writer can slip in between.
        WriteScope scope(*this, true);
        if (const auto begun = scope.begin(what); !begun)
            return unexpected(begun.error());
        const auto bumped = exec(QStringLiteral("UPDATE runs SET last_seq = last_seq + 1, last_activity_at = :now,"
                                                " fence = :new_fence WHERE id = :id AND (") +
                                     guard.sql + QStringLiteral(") RETURNING last_seq"),
                                 binds, what);
        if (!bumped)
            return unexpected(bumped.error());
        if (bumped->isEmpty())
            return std::optional<qint64>();  // the scope rolls back
        const qint64 seq = bumped->first().value(0).toLongLong();

        const auto upserted = exec(
            QStringLiteral("INSERT INTO chat_entries (workflow_id, message_id, seq, message_type, entry, updated_at)"
                           " VALUES (:id, :message_id, :seq, :message_type, :entry, :updated_at)"
                           " ON CONFLICT (workflow_id, message_id) DO UPDATE SET seq = excluded.seq,"
                           " message_type = excluded.message_type, entry = excluded.entry,"
                           " updated_at = excluded.updated_at"),
            {{QStringLiteral("id"), workflowId},
             {QStringLiteral("message_id"), messageId.toString()},
             {QStringLiteral("seq"), seq},
             {QStringLiteral("message_type"), text(messageType.toString())},
             {QStringLiteral("entry"), QString::fromUtf8(QJsonDocument(entry).toJson(QJsonDocument::Compact))},
             {QStringLiteral("updated_at"), t}},
            what);
        if (!upserted)
            return unexpected(upserted.error());
        announce(workflowId);
        if (const auto committed = scope.commit(what); !committed)
            return unexpected(committed.error());
        return std::optional<qint64>(seq);
    }

    StoreResult<QList<StoredEntry>> SqlRunStore::entriesSince(const QString &workflowId, const qint64 afterSeq)
    {
        if (const auto bad = checkWorkflowId(workflowId))
            return unexpected(*bad);
        if (const auto connected = ensureConnected(); !connected)
            return unexpected(connected.error());

        const QString what = QStringLiteral("reading the chat log of workflow \"%1\"").arg(workflowId);
        const auto rows = exec(QStringLiteral("SELECT seq, entry FROM chat_entries"
                                              " WHERE workflow_id = :id AND seq > :after_seq ORDER BY seq"),
                               {{QStringLiteral("id"), workflowId}, {QStringLiteral("after_seq"), afterSeq}}, what);
        if (!rows)
            return unexpected(rows.error());
        QList<StoredEntry> entries;
        entries.reserve(rows->size());
        for (const QSqlRecord &record : *rows)
        {
            QJsonParseError parseError;
            const QJsonDocument document = QJsonDocument::fromJson(record.value(1).toString().toUtf8(), &parseError);
            if (!document.isObject())
            {
                return unexpected(plainError(QStringLiteral("%1 failed: entry %2 is not a JSON object (%3)")
                                                 .arg(what)
                                                 .arg(record.value(0).toLongLong())
                                                 .arg(parseError.errorString())));
            }
            entries.append({.seq = record.value(0).toLongLong(), .entry = document.object()});
        }
        return entries;
    }

    // ---- workspace agents ----

    StoreResult<WorkspaceAgent> SqlRunStore::registerWorkspaceAgent(const QString &workspaceId, const QString &agentId,
                                                                    const QString &host, const int port,
                                                                    const QByteArray &secret)
    {
        if (const auto bad = checkKey(workspaceId, QStringLiteral("workspace ID")))
            return unexpected(*bad);
        if (const auto bad = checkKey(agentId, QStringLiteral("agent ID")))
            return unexpected(*bad);
        if ((port < 1) || (port > 65535))
            return unexpected(StoreError{QStringLiteral("the agent's port %1 is out of range").arg(port)});
        if (const auto connected = ensureConnected(); !connected)
            return unexpected(connected.error());

        const QString what = QStringLiteral("registering agent \"%1\" of workspace \"%2\"").arg(agentId, workspaceId);
        WriteScope scope(*this, false);
        if (const auto begun = scope.begin(what); !begun)
            return unexpected(begun.error());
        // One statement: a new agent (or one after a stop, agent_id NULL) is a
        // new build; the same agent again only refreshes its row.
        const auto rows = exec(
            QStringLiteral(
                "INSERT INTO workspace_agents (workspace_id, build, agent_id, host, port, updated_at, agent_secret)"
                " VALUES (:workspace_id, 1, :agent_id, :host, :port, :now, :secret)"
                " ON CONFLICT (workspace_id) DO UPDATE SET"
                " build = CASE WHEN workspace_agents.agent_id = excluded.agent_id"
                "  THEN workspace_agents.build ELSE workspace_agents.build + 1 END,"
                " agent_id = excluded.agent_id, host = excluded.host, port = excluded.port,"
                " updated_at = excluded.updated_at, agent_secret = excluded.agent_secret RETURNING ") +
                WorkspaceColumns,
            {{QStringLiteral("workspace_id"), workspaceId},
             {QStringLiteral("agent_id"), agentId},
             {QStringLiteral("host"), text(host)},
             {QStringLiteral("port"), port},
             {QStringLiteral("now"), now()},
             {QStringLiteral("secret"), text(QString::fromUtf8(secret))}},
            what);
        if (!rows)
            return unexpected(rows.error());
        if (rows->isEmpty())
            return unexpected(plainError(QStringLiteral("%1 failed: no row came back").arg(what)));
        const WorkspaceAgent written = workspaceFrom(rows->first());
        if (const auto committed = scope.commit(what); !committed)
            return unexpected(committed.error());
        return written;
    }

    StoreResult<StopWorkspaceResult> SqlRunStore::stopWorkspace(const QString &workspaceId,
                                                                const std::optional<QString> &agentId)
    {
        if (const auto bad = checkKey(workspaceId, QStringLiteral("workspace ID")))
            return unexpected(*bad);
        if (agentId)
        {
            if (const auto bad = checkKey(*agentId, QStringLiteral("agent ID")))
                return unexpected(*bad);
        }
        if (const auto connected = ensureConnected(); !connected)
            return unexpected(connected.error());

        const QString what = QStringLiteral("stopping workspace \"%1\"").arg(workspaceId);
        SqlBinds binds = {{QStringLiteral("now"), now()}, {QStringLiteral("workspace_id"), workspaceId}};
        QString sql =
            QStringLiteral("UPDATE workspace_agents SET agent_id = NULL, host = '', port = 0, agent_secret = '',"
                           " build = build + 1, updated_at = :now"
                           " WHERE workspace_id = :workspace_id AND agent_id IS NOT NULL");
        if (agentId)
        {
            sql += QStringLiteral(" AND agent_id = :agent_id");
            binds.append({QStringLiteral("agent_id"), *agentId});
        }
        sql += QStringLiteral(" RETURNING ") + WorkspaceColumns;

        WriteScope scope(*this, false);
        if (const auto begun = scope.begin(what); !begun)
            return unexpected(begun.error());
        const auto rows = exec(sql, binds, what);
        if (!rows)
            return unexpected(rows.error());
        StopWorkspaceResult result;
        if (!rows->isEmpty())
        {
            result.stopped = true;
            result.workspace = workspaceFrom(rows->first());
        }
        if (const auto committed = scope.commit(what); !committed)
            return unexpected(committed.error());
        if (result.stopped)
            return result;
        // Nothing changed: say what the workspace is.
        auto state = workspaceState(workspaceId);
        if (!state)
            return unexpected(state.error());
        result.workspace = state.value();
        return result;
    }

    StoreResult<std::optional<WorkspaceAgent>> SqlRunStore::workspaceState(const QString &workspaceId)
    {
        if (const auto bad = checkKey(workspaceId, QStringLiteral("workspace ID")))
            return unexpected(*bad);
        if (const auto connected = ensureConnected(); !connected)
            return unexpected(connected.error());
        const auto rows = exec(QStringLiteral("SELECT ") + WorkspaceColumns +
                                   QStringLiteral(" FROM workspace_agents WHERE workspace_id = :workspace_id"),
                               {{QStringLiteral("workspace_id"), workspaceId}},
                               QStringLiteral("reading workspace \"%1\"").arg(workspaceId));
        if (!rows)
            return unexpected(rows.error());
        if (rows->isEmpty())
            return std::optional<WorkspaceAgent>();
        return std::optional<WorkspaceAgent>(workspaceFrom(rows->first()));
    }

    // ---- the workspace binding of a run ----

    StoreResult<std::optional<RunWorkspace>> SqlRunStore::runWorkspace(const QString &workflowId)
    {
        if (const auto bad = checkKey(workflowId, QStringLiteral("workflow ID")))
            return unexpected(*bad);
        if (const auto connected = ensureConnected(); !connected)
            return unexpected(connected.error());
        const auto rows = exec(QStringLiteral("SELECT workspace_id, workspace_agent_id FROM runs WHERE id = :id"),
                               {{QStringLiteral("id"), workflowId}},
                               QStringLiteral("reading the workspace of workflow \"%1\"").arg(workflowId));
        if (!rows)
            return unexpected(rows.error());
        if (rows->isEmpty() || rows->first().value(0).isNull())
            return std::optional<RunWorkspace>();
        const QSqlRecord &record = rows->first();
        return std::optional<RunWorkspace>(RunWorkspace{
            .workspaceId = record.value(0).toString(),
            .agentId = record.value(1).isNull() ? QString() : record.value(1).toString(),
        });
    }

    StoreResult<bool> SqlRunStore::setRunWorkspace(const QString &workflowId, const RunWorkspace &binding)
    {
        if (const auto bad = checkKey(workflowId, QStringLiteral("workflow ID")))
            return unexpected(*bad);
        if (const auto bad = checkKey(binding.workspaceId, QStringLiteral("workspace ID")))
            return unexpected(*bad);
        if (const auto connected = ensureConnected(); !connected)
            return unexpected(connected.error());
        const QString what = QStringLiteral("remembering the workspace of workflow \"%1\"").arg(workflowId);
        WriteScope scope(*this, false);
        if (const auto begun = scope.begin(what); !begun)
            return unexpected(begun.error());
        const auto rows =
            exec(QStringLiteral("UPDATE runs SET workspace_id = :workspace_id, workspace_agent_id = :agent_id"
                                " WHERE id = :id RETURNING id"),
                 {{QStringLiteral("workspace_id"), binding.workspaceId},
                  {QStringLiteral("agent_id"), binding.agentId.isEmpty() ? QVariant() : QVariant(binding.agentId)},
                  {QStringLiteral("id"), workflowId}},
                 what);
        if (!rows)
            return unexpected(rows.error());
        if (const auto committed = scope.commit(what); !committed)
            return unexpected(committed.error());
        return !rows->isEmpty();
    }
}  // namespace Lockstep::Store
