#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>

#include <QList>
#include <QPair>
#include <QSqlDatabase>
#include <QSqlQuery>
#include <QSqlRecord>
#include <QVariant>

#include "store/runstore.h"
#include "store/storespec.h"

class QSqlDriver;
class QSqlError;

namespace Lockstep::Store
{
    // Named values for a statement's :placeholders. Each placeholder occurs
    // once in a statement (QSQLITE's handling of repeated names is fragile).
    using SqlBinds = QList<QPair<QString, QVariant>>;

    // A piece of a WHERE clause with the values it binds.
    struct SqlFragment
    {
        QString sql;
        SqlBinds binds;
    };

    // A bound text value is never NULL: QtSql binds a null QString as SQL NULL.
    QVariant sqlText(const QString &value);
    // Epoch milliseconds as stored -> a UTC QDateTime.
    QDateTime fromEpochMs(const QVariant &value);
    StoreError invalidInput(const QString &message);
    // A key the store is asked about (workflow, workspace or agent ID): not
    // empty, at most 256 characters, no control characters. `name` is how the
    // error calls it ("workflow ID").
    std::optional<StoreError> checkKey(const QString &value, const QString &name);

    // The one database connection of a store (QSQLITE or QPSQL): set-up,
    // schema migrations, reconnection, prepared statements, write transactions
    // and errors a client may read. SqlRunStore and SqlWorkspaceStore run
    // their queries on it. Thread-affine like the stores.
    class SqlDatabase final
    {
    public:
        class WriteScope;

        // Creates the SQLite file (0600) or checks the driver, connects and
        // applies the migrations. `nowMs`: the clock (empty: the system clock).
        static StoreResult<std::unique_ptr<SqlDatabase>> open(const StoreSpec &spec, std::function<qint64()> nowMs);
        ~SqlDatabase();

        SqlDatabase(const SqlDatabase &) = delete;
        SqlDatabase &operator=(const SqlDatabase &) = delete;

        bool isSqlite() const;
        QString kind() const;  // "sqlite" | "postgresql"
        // UTC epoch milliseconds from the store's clock.
        qint64 now() const;

        // Called after every successful connection; `reconnected`: the
        // connection had been lost before (anything may have changed meanwhile).
        void setOnConnected(std::function<void(bool reconnected)> onConnected);
        // The open connection's driver (PostgreSQL notifications); null when closed.
        QSqlDriver *openDriver() const;

        // Reconnects when the previous call failed and the connection no longer answers.
        StoreResult<Ok> ensureConnected();
        // Runs a (cached) prepared statement; returns all rows it produced and
        // leaves the statement reset, so no read or write lock outlives the call.
        StoreResult<QList<QSqlRecord>> exec(const QString &sql, const SqlBinds &binds, const QString &what);
        // Runs a statement that cannot be prepared (BEGIN, COMMIT, SET, PRAGMA).
        StoreResult<QList<QSqlRecord>> execDirect(const QString &sql, const QString &what);

        // A database failure as a client may read it; the details go to the log.
        StoreError sqlError(const QString &what, const QSqlError &error) const;
        // An error of ours (no database text), with the password masked.
        StoreError plainError(const QString &message) const;

    private:
        SqlDatabase(StoreSpec spec, std::function<qint64()> nowMs);

        StoreResult<Ok> connect();
        // A new uniquely named QSqlDatabase (not yet open) / its removal.
        void createConnection();
        void dropConnection();
        StoreResult<Ok> migrate();

        StoreSpec m_spec;
        std::function<qint64()> m_nowMs;
        QString m_connectionName;
        QSqlDatabase m_db;
        std::unordered_map<QString, std::unique_ptr<QSqlQuery>> m_prepared;  // by SQL text; cleared on reconnect
        bool m_suspect = false;  // a call failed: check the connection first
        bool m_lost = false;     // reported lost, not yet back
        std::function<void(bool reconnected)> m_onConnected;
    };

    // The write transaction of one call. SQLite: BEGIN IMMEDIATE, so the write
    // lock is taken (or waited for, up to the busy timeout) before anything is
    // read and a transaction never has to upgrade. PostgreSQL: a single
    // statement is its own transaction; `always` opens one for multi-statement
    // writes. Rolls back unless committed.
    class SqlDatabase::WriteScope
    {
    public:
        WriteScope(SqlDatabase &db, bool always);
        ~WriteScope();

        WriteScope(const WriteScope &) = delete;
        WriteScope &operator=(const WriteScope &) = delete;

        StoreResult<Ok> begin(const QString &what);
        StoreResult<Ok> commit(const QString &what);

    private:
        void rollback();
        void releaseWriter();

        SqlDatabase &m_db;
        const bool m_needed;
        bool m_open = false;
        std::unique_lock<std::mutex> m_writer;  // SQLite: this process's writers, one at a time
    };
}  // namespace Lockstep::Store
