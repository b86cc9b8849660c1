#pragma once

#include <chrono>
#include <functional>
#include <optional>

#include <QDateTime>
#include <QList>
#include <QObject>
#include <QString>

#include "theme.h"

namespace Lockstep::Ui
{
    // One line of a workflow's history.
    struct HistoryEntry
    {
        enum class Kind
        {
            Outcome,  // Resume / Send / Cancel results, close codes with their reasons
            Lock,     // lock events (acquired, refreshed, released, lost, checked …)
            Session,  // a session of a tab closed (code and reason)
        };

        qint64 id = 0;  // set by the store
        QString workflowId;
        QDateTime at;  // when it happened
        Kind kind = Kind::Outcome;
        QString text;  // "Resume: already running (1013) — held by …"
        Theme::Tone tone = Theme::Tone::Neutral;

        bool operator==(const HistoryEntry &) const = default;
    };

    QString toString(HistoryEntry::Kind kind);  // "outcome", "lock", "session"

    // How much history and how many recordings are kept (see HistoryStore;
    // Preferences edits them).
    struct HistoryLimits
    {
        // History lines, lock events, sessions (by their start) and races.
        std::chrono::hours maxAge{30 * 24};  // 30 days
        // History lines per workflow, and lock events per workflow.
        int maxRowsPerWorkflow = 10000;
        // Recorded sessions per workflow (the oldest go with their frames).
        int maxSessionsPerWorkflow = 200;
        // The whole file: the oldest sessions with their frames go first, then
        // the oldest races, then the oldest history lines and lock events.
        qint64 maxBytes = 200LL * 1024 * 1024;  // 200 MB

        bool operator==(const HistoryLimits &) const = default;
    };

    // The console's local history: outcomes and lock events per workflow in a
    // SQLite database (Qt Sql, QSQLITE) in the app data folder, so a tab's
    // History survives a restart. The schema is versioned (PRAGMA
    // user_version); a database written by a newer console is left alone.
    // Schema 2 adds the recordings (sessions, frames, lock events, races),
    // written and read by RecordingStore on this store's connection: one
    // owner for the file's schema and its limits.
    //
    // Pruned at open and every PruneEvery writes: rows older than maxAge,
    // beyond maxRowsPerWorkflow / maxSessionsPerWorkflow per workflow (oldest
    // first), and while the file's used pages exceed maxBytes: the oldest
    // sessions with their frames, then races, then history lines.
    //
    // A database that cannot be opened never stops the console: the store
    // keeps this session's entries in memory and error() says why.
    class HistoryStore final : public QObject
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(HistoryStore)

    public:
        using Limits = HistoryLimits;

        static constexpr int SchemaVersion = 2;
        static constexpr int PruneEvery = 500;
        // The newest rows a view asks for by default.
        static constexpr int DefaultReadLimit = 1000;
        static QString fileName();  // "history.sqlite"

        // `folder`: where the database lives (created if missing).
        explicit HistoryStore(const QString &folder, Limits limits = {}, QObject *parent = nullptr,
                              std::function<QDateTime()> now = {});
        ~HistoryStore() override;

        bool isPersistent() const;  // false: the database could not be opened
        QString error() const;      // why, one line; empty when persistent
        QString databasePath() const;
        const Limits &limits() const;
        // New limits apply at the next prune().
        void setLimits(const Limits &limits);
        // The Qt Sql connection (this thread's) of the database; empty when not persistent.
        QString connectionName() const;

        // Stamps `entry.at` when invalid; emits added().
        void add(HistoryEntry entry);
        // Newest first.
        QList<HistoryEntry> entries(const QString &workflowId, int limit = DefaultReadLimit) const;
        qint64 rowCount(const QString &workflowId = {}) const;
        // Applies the limits now; returns the rows removed.
        int prune();
        // Bytes in the database's used pages (0 when not persistent).
        qint64 usedBytes() const;

    signals:
        void added(const Lockstep::Ui::HistoryEntry &entry);
        // Before prune() deletes anything: writers with rows in memory flush them.
        void aboutToPrune();

    private:
        bool open(const QString &folder);
        bool migrate();
        void fail(const QString &what);

        Limits m_limits;
        std::function<QDateTime()> m_now;
        QString m_connection;  // QSqlDatabase connection name, unique per store
        QString m_path;
        QString m_error;
        bool m_open = false;
        int m_writesSincePrune = 0;
        qint64 m_nextMemoryId = 1;
        QList<HistoryEntry> m_memory;  // without a database: this session only
    };
}  // namespace Lockstep::Ui

Q_DECLARE_METATYPE(Lockstep::Ui::HistoryEntry)
