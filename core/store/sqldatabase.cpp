#include "sqldatabase.h"

#include <QThread>

#include <atomic>

#include <QDir>
#include <QFileInfo>
#include <QRegularExpression>
#include <QSqlDriver>
#include <QSqlError>

#include "common/logging.h"
#include "common/privatefiles.h"
#include "store/migrations.h"

namespace Lockstep::Store
{
    namespace
    {
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
        constexpr int MaxKeyLength = 256;

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

        std::atomic<quint64> g_connectionCounter{0};
    }  // namespace

    QVariant sqlText(const QString &value)
    {
        return value.isNull() ? QVariant(QStringLiteral("")) : QVariant(value);
    }

    QDateTime fromEpochMs(const QVariant &value)
    {
        return QDateTime::fromMSecsSinceEpoch(value.toLongLong(), Qt::UTC);
    }

    StoreError invalidInput(const QString &message)
    {
        return StoreError{message, StoreError::Kind::InvalidInput};
    }

    std::optional<StoreError> checkKey(const QString &value, const QString &name)
    {
        if (value.isEmpty())
            return invalidInput(QStringLiteral("the %1 is empty").arg(name));
        if (value.size() > MaxKeyLength)
            return invalidInput(QStringLiteral("the %1 is longer than %2 characters").arg(name).arg(MaxKeyLength));
        for (const QChar ch : value)
        {
            if ((ch.unicode() < 0x20) || (ch.unicode() == 0x7f))
                return invalidInput(QStringLiteral("the %1 contains a control character").arg(name));
        }
        return std::nullopt;
    }

    SqlDatabase::WriteScope::WriteScope(SqlDatabase &db, const bool always)
        : m_db(db)
        , m_needed(always || db.isSqlite())
    {}

    SqlDatabase::WriteScope::~WriteScope()
    {
        if (m_open)
            rollback();
    }

    StoreResult<Ok> SqlDatabase::WriteScope::begin(const QString &what)
    {
        if (!m_needed)
            return Ok{};
        if (m_db.isSqlite())
            m_writer = std::unique_lock<std::mutex>(sqliteWriterLock(m_db.m_spec.sqlitePath));
        const auto result =
            m_db.execDirect(m_db.isSqlite() ? QStringLiteral("BEGIN IMMEDIATE") : QStringLiteral("BEGIN"), what);
        if (!result)
        {
            releaseWriter();
            return unexpected(result.error());
        }
        m_open = true;
        return Ok{};
    }

    StoreResult<Ok> SqlDatabase::WriteScope::commit(const QString &what)
    {
        if (!m_open)
            return Ok{};
        const auto result = m_db.execDirect(QStringLiteral("COMMIT"), what);
        if (!result)
        {
            rollback();
            return unexpected(result.error());
        }
        m_open = false;
        releaseWriter();
        return Ok{};
    }

    void SqlDatabase::WriteScope::rollback()
    {
        m_open = false;
        QSqlQuery query(m_db.m_db);
        if (!query.exec(QStringLiteral("ROLLBACK")))
            m_db.m_suspect = true;
        releaseWriter();
    }

    void SqlDatabase::WriteScope::releaseWriter()
    {
        if (m_writer.owns_lock())
            m_writer.unlock();
    }

    SqlDatabase::SqlDatabase(StoreSpec spec, std::function<qint64()> nowMs)
        : m_spec(std::move(spec))
        , m_nowMs(std::move(nowMs))
    {
        createConnection();
    }

    SqlDatabase::~SqlDatabase()
    {
        dropConnection();
    }

    void SqlDatabase::createConnection()
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

    void SqlDatabase::dropConnection()
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

    StoreResult<std::unique_ptr<SqlDatabase>> SqlDatabase::open(const StoreSpec &spec, std::function<qint64()> nowMs)
    {
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

        std::unique_ptr<SqlDatabase> db(new SqlDatabase(spec, std::move(nowMs)));
        if (const auto connected = db->connect(); !connected)
            return unexpected(connected.error());
        if (const auto migrated = db->migrate(); !migrated)
            return unexpected(migrated.error());
        return db;
    }

    bool SqlDatabase::isSqlite() const
    {
        return m_spec.kind == StoreSpec::Kind::Sqlite;
    }

    QString SqlDatabase::kind() const
    {
        return isSqlite() ? QStringLiteral("sqlite") : QStringLiteral("postgresql");
    }

    qint64 SqlDatabase::now() const
    {
        return m_nowMs ? m_nowMs() : QDateTime::currentMSecsSinceEpoch();
    }

    void SqlDatabase::setOnConnected(std::function<void(bool reconnected)> onConnected)
    {
        m_onConnected = std::move(onConnected);
    }

    QSqlDriver *SqlDatabase::openDriver() const
    {
        return m_db.isOpen() ? m_db.driver() : nullptr;
    }

    StoreResult<Ok> SqlDatabase::connect()
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
        const bool reconnected = m_lost;
        if (reconnected)
            qCInfo(lcStore).noquote() << "store connection re-established:" << m_spec.redacted();
        m_lost = false;
        if (m_onConnected)
            m_onConnected(reconnected);
        return Ok{};
    }

    StoreResult<Ok> SqlDatabase::ensureConnected()
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

    StoreResult<Ok> SqlDatabase::migrate()
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
        if (version > RunStore::latestSchemaVersion())
        {
            return unexpected(
                plainError(QStringLiteral("the store's schema version %1 is newer than this build knows (%2)")
                               .arg(version)
                               .arg(RunStore::latestSchemaVersion())));
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
                                        {QStringLiteral("description"), sqlText(migration.description)},
                                        {QStringLiteral("applied_at"), now()}},
                                       what);
            if (!recorded)
                return unexpected(recorded.error());
            qCInfo(lcStore).noquote() << "store schema migrated to version" << migration.version
                                      << u'(' + migration.description + u')';
        }
        return scope.commit(what);
    }

    StoreResult<QList<QSqlRecord>> SqlDatabase::exec(const QString &sql, const SqlBinds &binds, const QString &what)
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

    StoreResult<QList<QSqlRecord>> SqlDatabase::execDirect(const QString &sql, const QString &what)
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

    StoreError SqlDatabase::sqlError(const QString &what, const QSqlError &error) const
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

    StoreError SqlDatabase::plainError(const QString &message) const
    {
        QString clean = message;
        if (!m_spec.password.isEmpty())
            clean.replace(m_spec.password, QStringLiteral("***"));
        qCDebug(lcStore).noquote() << clean;
        return StoreError{clean};
    }
}  // namespace Lockstep::Store
