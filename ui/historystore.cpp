#include "historystore.h"

#include <algorithm>

#include <QAtomicInteger>
#include <QDir>
#include <QFileInfo>
#include <QLoggingCategory>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QVariant>

// The console's history has its own category: its failures are worth
// filtering on alone (QT_LOGGING_RULES="lockstep.ui.history.debug=true").
Q_LOGGING_CATEGORY(lcHistory, "lockstep.ui.history")

namespace Lockstep::Ui
{
    namespace
    {
        QAtomicInteger<int> g_connectionCounter;

        // Kept as words in the database: readable with the sqlite3 shell.
        std::optional<HistoryEntry::Kind> kindFromString(const QString &text)
        {
            if (text == u"outcome")
                return HistoryEntry::Kind::Outcome;
            if (text == u"lock")
                return HistoryEntry::Kind::Lock;
            if (text == u"session")
                return HistoryEntry::Kind::Session;
            return std::nullopt;
        }

        // Schema steps, by version from 1. Never edit a released step: append.
        const QList<QStringList> &schemaSteps()
        {
            static const QList<QStringList> steps{
                {
                    QStringLiteral("CREATE TABLE history ("
                                   " id INTEGER PRIMARY KEY AUTOINCREMENT,"
                                   " workflow_id TEXT NOT NULL,"
                                   " at_ms INTEGER NOT NULL,"
                                   " kind TEXT NOT NULL,"
                                   " text TEXT NOT NULL,"
                                   " tone INTEGER NOT NULL DEFAULT 0)"),
                    QStringLiteral("CREATE INDEX history_by_workflow ON history (workflow_id, id)"),
                    QStringLiteral("CREATE INDEX history_by_time ON history (at_ms)"),
                },
                // 2: recordings (RecordingStore). Times in ms since the epoch (UTC);
                // directions, kinds and states as words, readable with the sqlite3 shell.
                {
                    QStringLiteral("CREATE TABLE sessions ("
                                   " id INTEGER PRIMARY KEY AUTOINCREMENT,"
                                   " workflow_id TEXT NOT NULL,"
                                   " label TEXT NOT NULL,"                 // "live", "drive", "race r3 s2"
                                   " gateway TEXT NOT NULL DEFAULT '{}',"  // JSON: url and what /healthz said
                                   " started_ms INTEGER NOT NULL,"
                                   " closed_ms INTEGER,"
                                   " close_code INTEGER,"
                                   " close_reason TEXT,"
                                   " closed_by TEXT,"  // server, client, lost, failed
                                   " frames_in INTEGER NOT NULL DEFAULT 0,"
                                   " frames_out INTEGER NOT NULL DEFAULT 0,"
                                   " bytes_in INTEGER NOT NULL DEFAULT 0,"
                                   " bytes_out INTEGER NOT NULL DEFAULT 0,"
                                   " pings INTEGER NOT NULL DEFAULT 0,"
                                   " pongs INTEGER NOT NULL DEFAULT 0)"),
                    QStringLiteral("CREATE INDEX sessions_by_workflow ON sessions (workflow_id, id)"),
                    QStringLiteral("CREATE INDEX sessions_by_time ON sessions (started_ms)"),
                    QStringLiteral("CREATE TABLE frames ("
                                   " id INTEGER PRIMARY KEY,"
                                   " session_id INTEGER NOT NULL,"
                                   " seq INTEGER NOT NULL,"
                                   " at_ms INTEGER NOT NULL,"
                                   " direction TEXT NOT NULL,"  // in, out
                                   " kind TEXT NOT NULL,"       // text, ping, pong, close
                                   " bytes INTEGER NOT NULL,"
                                   " payload BLOB,"
                                   " close_code INTEGER,"
                                   " closed_by_client INTEGER)"),
                    QStringLiteral("CREATE INDEX frames_by_session ON frames (session_id, seq)"),
                    QStringLiteral("CREATE TABLE lock_events ("
                                   " id INTEGER PRIMARY KEY AUTOINCREMENT,"
                                   " workflow_id TEXT NOT NULL,"
                                   " at_ms INTEGER NOT NULL,"
                                   " state TEXT NOT NULL,"  // the wire's states, and expired, refused
                                   " holder TEXT NOT NULL DEFAULT '',"
                                   " fence INTEGER NOT NULL DEFAULT 0,"
                                   " ttl_ms INTEGER NOT NULL DEFAULT 0,"
                                   " close_code INTEGER)"),
                    QStringLiteral("CREATE INDEX lock_events_by_workflow ON lock_events (workflow_id, id)"),
                    QStringLiteral("CREATE INDEX lock_events_by_time ON lock_events (at_ms)"),
                    QStringLiteral("CREATE TABLE races ("
                                   " id INTEGER PRIMARY KEY AUTOINCREMENT,"
                                   " at_ms INTEGER NOT NULL,"
                                   " workflow_id TEXT,"
                                   " flow TEXT,"
                                   " gateway TEXT NOT NULL DEFAULT '',"
                                   " sessions INTEGER NOT NULL DEFAULT 0,"
                                   " rounds INTEGER NOT NULL DEFAULT 0,"
                                   " findings INTEGER NOT NULL DEFAULT 0,"
                                   " passed INTEGER NOT NULL DEFAULT 0,"
                                   " report BLOB NOT NULL)"),  // the report JSON as written
                    QStringLiteral("CREATE INDEX races_by_time ON races (at_ms)"),
                },
            };
            return steps;
        }
    }  // namespace

    QString toString(const HistoryEntry::Kind kind)
    {
        switch (kind)
        {
        case HistoryEntry::Kind::Outcome: return QStringLiteral("outcome");
        case HistoryEntry::Kind::Lock: return QStringLiteral("lock");
        case HistoryEntry::Kind::Session: return QStringLiteral("session");
        }
        return QStringLiteral("outcome");
    }

    QString HistoryStore::fileName()
    {
        return QStringLiteral("history.sqlite");
    }

    HistoryStore::HistoryStore(const QString &folder, const Limits limits, QObject *parent,
                               std::function<QDateTime()> now)
        : QObject(parent)
        , m_limits(limits)
        , m_now(now ? std::move(now) : std::function<QDateTime()>([] { return QDateTime::currentDateTime(); }))
        , m_connection(QStringLiteral("lockstep-history-%1").arg(g_connectionCounter.fetchAndAddRelaxed(1)))
    {
        m_open = open(folder);
        if (m_open)
        {
            const int removed = prune();
            qCInfo(lcHistory).noquote() << "history" << m_path << "open," << rowCount() << "rows," << removed
                                        << "pruned";
        }
    }

    HistoryStore::~HistoryStore()
    {
        if (QSqlDatabase::contains(m_connection))
        {
            QSqlDatabase::database(m_connection, false).close();
            QSqlDatabase::removeDatabase(m_connection);
        }
    }

    bool HistoryStore::open(const QString &folder)
    {
        if (folder.isEmpty())
        {
            fail(tr("no data folder"));
            return false;
        }
        m_path = QDir(folder).filePath(fileName());
        if (!QDir().mkpath(folder))
        {
            fail(tr("cannot create the folder %1").arg(QDir::toNativeSeparators(folder)));
            return false;
        }
        if (QFileInfo(m_path).isDir())
        {
            fail(tr("%1 is a folder, not a database").arg(QDir::toNativeSeparators(m_path)));
            return false;
        }
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), m_connection);
        if (!db.isValid())
        {
            fail(tr("the Qt SQLite driver (QSQLITE) is not available"));
            return false;
        }
        db.setDatabaseName(m_path);
        // Another console on the same folder writes now and then: wait a little, never long.
        db.setConnectOptions(QStringLiteral("QSQLITE_BUSY_TIMEOUT=250"));
        if (!db.open())
        {
            fail(tr("cannot open %1: %2").arg(QDir::toNativeSeparators(m_path), db.lastError().text()));
            return false;
        }
        return migrate();
    }

    bool HistoryStore::migrate()
    {
        QSqlDatabase db = QSqlDatabase::database(m_connection, false);
        QSqlQuery query(db);
        // The first statement that reads the file: a file that is not a database fails here.
        if (!query.exec(QStringLiteral("PRAGMA user_version")) || !query.next())
        {
            fail(tr("cannot read %1: %2").arg(QDir::toNativeSeparators(m_path), query.lastError().text()));
            return false;
        }
        const int version = query.value(0).toInt();
        if (version > SchemaVersion)
        {
            fail(tr("%1 was written by a newer Lockstep (schema %2, this one knows %3)")
                     .arg(QDir::toNativeSeparators(m_path))
                     .arg(version)
                     .arg(SchemaVersion));
            return false;
        }
        // WAL: a reader (another console) never blocks the writer; NORMAL is durable enough for a log.
        query.exec(QStringLiteral("PRAGMA journal_mode=WAL"));
        query.exec(QStringLiteral("PRAGMA synchronous=NORMAL"));
        if (version == 0)
        {
            // Only takes effect before the first table: freed pages go back to the file system when pruned.
            query.exec(QStringLiteral("PRAGMA auto_vacuum=INCREMENTAL"));
        }
        const QList<QStringList> &steps = schemaSteps();
        for (int step = version; step < static_cast<int>(steps.size()); ++step)
        {
            if (!db.transaction())
            {
                fail(tr("cannot write %1: %2").arg(QDir::toNativeSeparators(m_path), db.lastError().text()));
                return false;
            }
            for (const QString &statement : steps.at(step))
            {
                if (!query.exec(statement))
                {
                    const QString why = query.lastError().text();
                    db.rollback();
                    fail(tr("cannot set up %1: %2").arg(QDir::toNativeSeparators(m_path), why));
                    return false;
                }
            }
            if (!query.exec(QStringLiteral("PRAGMA user_version = %1").arg(step + 1)) || !db.commit())
            {
                const QString why = query.lastError().isValid() ? query.lastError().text() : db.lastError().text();
                db.rollback();
                fail(tr("cannot set up %1: %2").arg(QDir::toNativeSeparators(m_path), why));
                return false;
            }
        }
        return true;
    }

    void HistoryStore::fail(const QString &what)
    {
        m_error = what;
        m_open = false;
        qCWarning(lcHistory).noquote() << "history is kept for this session only:" << what;
    }

    bool HistoryStore::isPersistent() const
    {
        return m_open;
    }

    QString HistoryStore::error() const
    {
        return m_error;
    }

    QString HistoryStore::databasePath() const
    {
        return m_path;
    }

    const HistoryStore::Limits &HistoryStore::limits() const
    {
        return m_limits;
    }

    void HistoryStore::setLimits(const Limits &limits)
    {
        m_limits = limits;
    }

    QString HistoryStore::connectionName() const
    {
        return m_open ? m_connection : QString();
    }

    void HistoryStore::add(HistoryEntry entry)
    {
        if (!entry.at.isValid())
            entry.at = m_now();
        if (m_open)
        {
            QSqlQuery query(QSqlDatabase::database(m_connection, false));
            query.prepare(
                QStringLiteral("INSERT INTO history (workflow_id, at_ms, kind, text, tone) VALUES (?, ?, ?, ?, ?)"));
            query.addBindValue(entry.workflowId);
            query.addBindValue(entry.at.toMSecsSinceEpoch());
            query.addBindValue(toString(entry.kind));
            query.addBindValue(entry.text);
            query.addBindValue(static_cast<int>(entry.tone));
            if (query.exec())
                entry.id = query.lastInsertId().toLongLong();
            else
                qCWarning(lcHistory).noquote() << "not written:" << query.lastError().text();
            if (++m_writesSincePrune >= PruneEvery)
                prune();
        }
        else
        {
            entry.id = m_nextMemoryId++;
            m_memory.append(entry);
            // The same row cap as on disk, so a long session stays small.
            const qsizetype mine = std::count_if(m_memory.cbegin(), m_memory.cend(), [&entry](const HistoryEntry &e) {
                return e.workflowId == entry.workflowId;
            });
            if (mine > m_limits.maxRowsPerWorkflow)
            {
                const auto oldest = std::find_if(m_memory.begin(), m_memory.end(), [&entry](const HistoryEntry &e) {
                    return e.workflowId == entry.workflowId;
                });
                m_memory.erase(oldest);
            }
        }
        emit added(entry);
    }

    QList<HistoryEntry> HistoryStore::entries(const QString &workflowId, const int limit) const
    {
        QList<HistoryEntry> result;
        if (!m_open)
        {
            for (auto it = m_memory.crbegin(); (it != m_memory.crend()) && (result.size() < limit); ++it)
            {
                if (it->workflowId == workflowId)
                    result.append(*it);
            }
            return result;
        }
        QSqlQuery query(QSqlDatabase::database(m_connection, false));
        query.setForwardOnly(true);
        query.prepare(QStringLiteral("SELECT id, at_ms, kind, text, tone FROM history WHERE workflow_id = ? "
                                     "ORDER BY id DESC LIMIT ?"));
        query.addBindValue(workflowId);
        query.addBindValue(limit);
        if (!query.exec())
        {
            qCWarning(lcHistory).noquote() << "cannot read:" << query.lastError().text();
            return result;
        }
        while (query.next())
        {
            HistoryEntry entry;
            entry.id = query.value(0).toLongLong();
            entry.workflowId = workflowId;
            entry.at = QDateTime::fromMSecsSinceEpoch(query.value(1).toLongLong());
            entry.kind = kindFromString(query.value(2).toString()).value_or(HistoryEntry::Kind::Outcome);
            entry.text = query.value(3).toString();
            const int tone = query.value(4).toInt();
            entry.tone = ((tone >= 0) && (tone <= static_cast<int>(Theme::Tone::Bad))) ? static_cast<Theme::Tone>(tone)
                                                                                       : Theme::Tone::Neutral;
            result.append(entry);
        }
        return result;
    }

    qint64 HistoryStore::rowCount(const QString &workflowId) const
    {
        if (!m_open)
        {
            if (workflowId.isEmpty())
                return m_memory.size();
            return std::count_if(m_memory.cbegin(), m_memory.cend(),
                                 [&workflowId](const HistoryEntry &e) { return e.workflowId == workflowId; });
        }
        QSqlQuery query(QSqlDatabase::database(m_connection, false));
        if (workflowId.isEmpty())
            query.prepare(QStringLiteral("SELECT COUNT(*) FROM history"));
        else
        {
            query.prepare(QStringLiteral("SELECT COUNT(*) FROM history WHERE workflow_id = ?"));
            query.addBindValue(workflowId);
        }
        if (!query.exec() || !query.next())
            return 0;
        return query.value(0).toLongLong();
    }

    qint64 HistoryStore::usedBytes() const
    {
        if (!m_open)
            return 0;
        QSqlQuery query(QSqlDatabase::database(m_connection, false));
        const auto pragma = [&query](const char *name) -> qint64 {
            if (!query.exec(QStringLiteral("PRAGMA %1").arg(QLatin1StringView(name))) || !query.next())
                return 0;
            return query.value(0).toLongLong();
        };
        const qint64 pages = pragma("page_count") - pragma("freelist_count");
        return std::max<qint64>(0, pages) * pragma("page_size");
    }

    int HistoryStore::prune()
    {
        m_writesSincePrune = 0;
        if (!m_open)
            return 0;
        emit aboutToPrune();
        QSqlDatabase db = QSqlDatabase::database(m_connection, false);
        QSqlQuery query(db);
        int removed = 0;
        const auto run = [&query, &removed](const QString &sql, const QVariantList &values) {
            query.prepare(sql);
            for (const QVariant &value : values)
                query.addBindValue(value);
            if (!query.exec())
            {
                qCWarning(lcHistory).noquote() << "prune:" << query.lastError().text();
                return false;
            }
            removed += std::max(0, query.numRowsAffected());
            return true;
        };
        const auto count = [&query](const QString &table) -> qint64 {
            if (!query.exec(QStringLiteral("SELECT COUNT(*) FROM %1").arg(table)) || !query.next())
                return 0;
            return query.value(0).toLongLong();
        };
        // Sessions go with their frames, in one transaction (a reader never sees frames without a session).
        const auto dropSessions = [&run, &db](const QString &which, const QVariantList &values) {
            db.transaction();
            run(QStringLiteral("DELETE FROM frames WHERE session_id IN (%1)").arg(which), values);
            run(QStringLiteral("DELETE FROM sessions WHERE id IN (%1)").arg(which), values);
            db.commit();
        };
        const auto dropRows = [&run](const QString &table) {
            return [&run, table](const QString &which, const QVariantList &values) {
                run(QStringLiteral("DELETE FROM %1 WHERE id IN (%2)").arg(table, which), values);
            };
        };
        // Keeps the newest `keep` rows of `table` per workflow.
        const auto capPerWorkflow = [&query](const QString &table, const int keep,
                                             const std::function<void(const QString &, const QVariantList &)> &drop) {
            QStringList crowded;
            query.prepare(
                QStringLiteral("SELECT workflow_id FROM %1 GROUP BY workflow_id HAVING COUNT(*) > ?").arg(table));
            query.addBindValue(keep);
            if (query.exec())
            {
                while (query.next())
                    crowded.append(query.value(0).toString());
            }
            for (const QString &workflowId : std::as_const(crowded))
            {
                drop(QStringLiteral("SELECT id FROM %1 WHERE workflow_id = ? AND id <= (SELECT id FROM %1 WHERE "
                                    "workflow_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)")
                         .arg(table),
                     {workflowId, workflowId, keep});
            }
        };

        // Age.
        const qint64 cutoff = m_now().toMSecsSinceEpoch() -
                              std::chrono::duration_cast<std::chrono::milliseconds>(m_limits.maxAge).count();
        run(QStringLiteral("DELETE FROM history WHERE at_ms < ?"), {cutoff});
        run(QStringLiteral("DELETE FROM lock_events WHERE at_ms < ?"), {cutoff});
        run(QStringLiteral("DELETE FROM races WHERE at_ms < ?"), {cutoff});
        dropSessions(QStringLiteral("SELECT id FROM sessions WHERE started_ms < ?"), {cutoff});

        // Count: the newest rows and sessions of each workflow stay.
        capPerWorkflow(QStringLiteral("history"), m_limits.maxRowsPerWorkflow, dropRows(QStringLiteral("history")));
        capPerWorkflow(QStringLiteral("lock_events"), m_limits.maxRowsPerWorkflow,
                       dropRows(QStringLiteral("lock_events")));
        capPerWorkflow(QStringLiteral("sessions"), m_limits.maxSessionsPerWorkflow, dropSessions);

        // Size: drop the oldest tenth until the used pages fit; recordings before history lines.
        for (int round = 0; (round < 100) && (usedBytes() > m_limits.maxBytes); ++round)
        {
            const int before = removed;
            if (const qint64 sessions = count(QStringLiteral("sessions")); sessions > 0)
                dropSessions(QStringLiteral("SELECT id FROM sessions ORDER BY id LIMIT ?"),
                             {std::max<qint64>(1, sessions / 10)});
            else if (const qint64 races = count(QStringLiteral("races")); races > 0)
                run(QStringLiteral("DELETE FROM races WHERE id IN (SELECT id FROM races ORDER BY id LIMIT ?)"),
                    {std::max<qint64>(1, races / 10)});
            else
            {
                if (const qint64 rows = count(QStringLiteral("history")); rows > 0)
                    run(QStringLiteral("DELETE FROM history WHERE id IN (SELECT id FROM history ORDER BY id LIMIT ?)"),
                        {std::max<qint64>(1, rows / 10)});
                if (const qint64 events = count(QStringLiteral("lock_events")); events > 0)
                    run(QStringLiteral(
                            "DELETE FROM lock_events WHERE id IN (SELECT id FROM lock_events ORDER BY id LIMIT ?)"),
                        {std::max<qint64>(1, events / 10)});
            }
            if (removed == before)
                break;
        }
        if (removed > 0)
        {
            query.exec(QStringLiteral("PRAGMA incremental_vacuum"));
            qCDebug(lcHistory) << "pruned" << removed << "rows";
        }
        return removed;
    }
}  // namespace Lockstep::Ui
