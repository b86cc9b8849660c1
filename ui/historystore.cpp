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

        // Age.
        const qint64 cutoff = m_now().toMSecsSinceEpoch() -
                              std::chrono::duration_cast<std::chrono::milliseconds>(m_limits.maxAge).count();
        run(QStringLiteral("DELETE FROM history WHERE at_ms < ?"), {cutoff});

        // Rows per workflow: keep the newest maxRowsPerWorkflow.
        QStringList crowded;
        query.prepare(QStringLiteral("SELECT workflow_id FROM history GROUP BY workflow_id HAVING COUNT(*) > ?"));
        query.addBindValue(m_limits.maxRowsPerWorkflow);
        if (query.exec())
        {
            while (query.next())
                crowded.append(query.value(0).toString());
        }
        for (const QString &workflowId : std::as_const(crowded))
        {
            run(QStringLiteral("DELETE FROM history WHERE workflow_id = ? AND id <= (SELECT id FROM history WHERE "
                               "workflow_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)"),
                {workflowId, workflowId, m_limits.maxRowsPerWorkflow});
        }

        // Size: drop the oldest tenth until the used pages fit.
        for (int round = 0; (round < 50) && (usedBytes() > m_limits.maxBytes); ++round)
        {
            const qint64 rows = rowCount();
            if (rows == 0)
                break;
            const int before = removed;
            run(QStringLiteral("DELETE FROM history WHERE id IN (SELECT id FROM history ORDER BY id LIMIT ?)"),
                {std::max<qint64>(1, rows / 10)});
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
