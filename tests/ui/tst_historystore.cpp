#include <QDir>
#include <QFile>
#include <QSignalSpy>
#include <QSqlDatabase>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>

#include "historystore.h"

using namespace std::chrono_literals;
using Lockstep::Ui::HistoryEntry;
using Lockstep::Ui::HistoryStore;
namespace Theme = Lockstep::Ui::Theme;

// The console's local history database: written and read back by a second
// store on the same folder (a restart), pruned by age, rows per workflow and
// size, schema-versioned, and a database that cannot be opened never fails
// the caller (this session's entries are kept in memory).
class TestHistoryStore : public QObject
{
    Q_OBJECT

private:
    static HistoryEntry entry(const QString &workflowId, const QString &text, const QDateTime &at = {},
                              HistoryEntry::Kind kind = HistoryEntry::Kind::Outcome)
    {
        return HistoryEntry{.workflowId = workflowId, .at = at, .kind = kind, .text = text, .tone = Theme::Tone::Good};
    }

    static int userVersion(const QString &path)
    {
        int version = -1;
        {
            QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), QStringLiteral("probe"));
            db.setDatabaseName(path);
            if (db.open())
            {
                QSqlQuery query(db);
                if (query.exec(QStringLiteral("PRAGMA user_version")) && query.next())
                    version = query.value(0).toInt();
                query.finish();
            }
            db.close();
        }
        QSqlDatabase::removeDatabase(QStringLiteral("probe"));
        return version;
    }

private slots:
    void writtenAndReadAfterARestart()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QDateTime t0 = QDateTime::currentDateTime().addSecs(-60);
        {
            HistoryStore store(dir.path());
            QVERIFY2(store.isPersistent(), qPrintable(store.error()));
            QVERIFY(store.error().isEmpty());
            QCOMPARE(store.databasePath(), QDir(dir.path()).filePath(HistoryStore::fileName()));
            QSignalSpy added(&store, &HistoryStore::added);
            store.add(entry(QStringLiteral("w-1"), QStringLiteral("Resume: resumed"), t0));
            store.add(entry(QStringLiteral("w-1"), QStringLiteral("acquired by replica r, session 3 (fence 4)"),
                            t0.addSecs(1), HistoryEntry::Kind::Lock));
            store.add(entry(QStringLiteral("w-2"), QStringLiteral("Cancel: cancelled"), t0.addSecs(2)));
            store.add(entry(QStringLiteral("w-1"), QStringLiteral("Session closed: closed (1000) — input_required"), {},
                            HistoryEntry::Kind::Session));
            QCOMPARE(added.size(), 4);
            QVERIFY(added.constLast().at(0).value<HistoryEntry>().at.isValid());  // stamped
            QVERIFY(added.constLast().at(0).value<HistoryEntry>().id > 0);
        }
        HistoryStore again(dir.path());
        QVERIFY(again.isPersistent());
        const QList<HistoryEntry> rows = again.entries(QStringLiteral("w-1"));
        QCOMPARE(rows.size(), 3);
        // Newest first, every field back as written.
        QCOMPARE(rows.at(0).text, QStringLiteral("Session closed: closed (1000) — input_required"));
        QVERIFY(rows.at(0).kind == HistoryEntry::Kind::Session);
        QVERIFY(rows.at(1).kind == HistoryEntry::Kind::Lock);
        QCOMPARE(rows.at(2).text, QStringLiteral("Resume: resumed"));
        QCOMPARE(rows.at(2).at, QDateTime::fromMSecsSinceEpoch(t0.toMSecsSinceEpoch()));
        QVERIFY(rows.at(2).tone == Theme::Tone::Good);
        QCOMPARE(again.entries(QStringLiteral("w-2")).size(), 1);
        QCOMPARE(again.entries(QStringLiteral("w-1"), 2).size(), 2);
        QCOMPARE(again.rowCount(), 4);
        QCOMPARE(userVersion(again.databasePath()), HistoryStore::SchemaVersion);
    }

    void prunedByAge()
    {
        QTemporaryDir dir;
        QDateTime now = QDateTime::currentDateTime();
        HistoryStore store(dir.path(), {}, nullptr, [&now] { return now; });
        QVERIFY(store.isPersistent());
        store.add(entry(QStringLiteral("w"), QStringLiteral("old"), now.addDays(-31)));
        store.add(entry(QStringLiteral("w"), QStringLiteral("recent"), now.addDays(-29)));
        store.add(entry(QStringLiteral("w"), QStringLiteral("today")));
        QCOMPARE(store.prune(), 1);
        QStringList texts;
        for (const HistoryEntry &e : store.entries(QStringLiteral("w")))
            texts.append(e.text);
        QCOMPARE(texts, (QStringList{QStringLiteral("today"), QStringLiteral("recent")}));
        // Two days later "recent" is past 30 days too; a store opened then prunes at once.
        now = now.addDays(2);
        HistoryStore later(dir.path(), {}, nullptr, [&now] { return now; });
        QCOMPARE(later.rowCount(QStringLiteral("w")), 1);
    }

    void prunedByRowsPerWorkflow()
    {
        QTemporaryDir dir;
        HistoryStore store(dir.path(), HistoryStore::Limits{.maxRowsPerWorkflow = 10});
        for (int i = 0; i < 25; ++i)
            store.add(entry(QStringLiteral("busy"), QString::number(i)));
        for (int i = 0; i < 5; ++i)
            store.add(entry(QStringLiteral("quiet"), QString::number(i)));
        QCOMPARE(store.prune(), 15);
        QCOMPARE(store.rowCount(QStringLiteral("busy")), 10);
        QCOMPARE(store.rowCount(QStringLiteral("quiet")), 5);
        const QList<HistoryEntry> kept = store.entries(QStringLiteral("busy"));
        QCOMPARE(kept.constFirst().text, QStringLiteral("24"));  // the newest stay
        QCOMPARE(kept.constLast().text, QStringLiteral("15"));
    }

    void prunedBySize()
    {
        QTemporaryDir dir;
        const qint64 limit = 256 * 1024;
        HistoryStore store(dir.path(), HistoryStore::Limits{.maxBytes = limit});
        const QString big(2000, u'x');
        for (int i = 0; i < 400; ++i)  // ~800 KB of text
            store.add(entry(QStringLiteral("w-%1").arg(i % 4), big + QString::number(i)));
        QVERIFY(store.usedBytes() > limit);
        QVERIFY(store.prune() > 0);
        QVERIFY2(store.usedBytes() <= limit, qPrintable(QString::number(store.usedBytes())));
        QVERIFY(store.rowCount() > 0);
        // The oldest went first: the newest entry is still there.
        QCOMPARE(store.entries(QStringLiteral("w-3"), 1).constFirst().text, big + QStringLiteral("399"));
    }

    void pruneRunsOnItsOwnAfterManyWrites()
    {
        QTemporaryDir dir;
        HistoryStore store(dir.path(), HistoryStore::Limits{.maxRowsPerWorkflow = 3});
        for (int i = 0; i < HistoryStore::PruneEvery; ++i)
            store.add(entry(QStringLiteral("w"), QString::number(i)));
        QCOMPARE(store.rowCount(QStringLiteral("w")), 3);
    }

    void newerSchemaIsLeftAlone()
    {
        QTemporaryDir dir;
        {
            HistoryStore store(dir.path());
            store.add(entry(QStringLiteral("w"), QStringLiteral("kept")));
        }
        const QString path = QDir(dir.path()).filePath(HistoryStore::fileName());
        {
            QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), QStringLiteral("bump"));
            db.setDatabaseName(path);
            QVERIFY(db.open());
            QSqlQuery(db).exec(QStringLiteral("PRAGMA user_version = 99"));
            db.close();
        }
        QSqlDatabase::removeDatabase(QStringLiteral("bump"));
        HistoryStore store(dir.path());
        QVERIFY(!store.isPersistent());
        QVERIFY2(store.error().contains(u"newer Lockstep"), qPrintable(store.error()));
        store.add(entry(QStringLiteral("w"), QStringLiteral("in memory")));
        QCOMPARE(store.entries(QStringLiteral("w")).size(), 1);
        QCOMPARE(userVersion(path), 99);  // not downgraded
    }

    void unopenableDatabase_data()
    {
        QTest::addColumn<QString>("kind");
        QTest::newRow("a folder where the file goes") << QStringLiteral("folder");
        QTest::newRow("not a database") << QStringLiteral("garbage");
        QTest::newRow("a file where the folder goes") << QStringLiteral("file-as-folder");
    }

    void unopenableDatabase()
    {
        QFETCH(QString, kind);
        QTemporaryDir dir;
        QString folder = dir.path();
        const QString path = QDir(folder).filePath(HistoryStore::fileName());
        if (kind == u"folder")
            QVERIFY(QDir().mkpath(path));
        else if (kind == u"garbage")
        {
            QFile file(path);
            QVERIFY(file.open(QIODevice::WriteOnly));
            file.write(QByteArray(8192, 'z'));
        }
        else
        {
            QFile file(QDir(folder).filePath(QStringLiteral("plain-file")));
            QVERIFY(file.open(QIODevice::WriteOnly));
            folder = file.fileName() + QStringLiteral("/data");
        }
        HistoryStore store(folder);
        QVERIFY(!store.isPersistent());
        QVERIFY(!store.error().isEmpty());
        // Still usable for this session.
        QSignalSpy added(&store, &HistoryStore::added);
        store.add(entry(QStringLiteral("w"), QStringLiteral("first")));
        store.add(entry(QStringLiteral("w"), QStringLiteral("second")));
        QCOMPARE(added.size(), 2);
        QCOMPARE(store.entries(QStringLiteral("w")).constFirst().text, QStringLiteral("second"));
        QCOMPARE(store.prune(), 0);
        QCOMPARE(store.usedBytes(), 0);
    }
};

QTEST_MAIN(TestHistoryStore)
#include "tst_historystore.moc"
