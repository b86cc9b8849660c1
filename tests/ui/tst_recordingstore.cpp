#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSettings>
#include <QSignalSpy>
#include <QSpinBox>
#include <QSqlDatabase>
#include <QSqlQuery>
#include <QTableView>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>
#include <QTreeWidget>

#include "historystore.h"
#include "preferencesdialog.h"
#include "recordingsbrowser.h"
#include "recordingstore.h"
#include "sessionrecorder.h"

using namespace std::chrono_literals;
using namespace Lockstep::Ui;
using Lockstep::Transport::FrameDirection;
using Lockstep::Transport::FrameKind;
using Lockstep::Transport::FrameRecord;

namespace
{
    FrameRecord textFrame(const qint64 seq, const FrameDirection direction, const QByteArray &payload,
                          const QDateTime &at = QDateTime::currentDateTimeUtc())
    {
        return FrameRecord{.sequence = seq,
                           .at = at,
                           .direction = direction,
                           .kind = FrameKind::Text,
                           .payloadBytes = payload.size(),
                           .payload = payload};
    }

    FrameRecord closeFrame(const qint64 seq, const quint16 code, const QByteArray &reason, const bool byClient)
    {
        return FrameRecord{.sequence = seq,
                           .at = QDateTime::currentDateTimeUtc(),
                           .direction = byClient ? FrameDirection::Out : FrameDirection::In,
                           .kind = FrameKind::Close,
                           .payloadBytes = reason.size() + 2,
                           .payload = reason,
                           .closeCode = code,
                           .closedByClient = byClient};
    }

    // A race report as issue 12's contract has it (what `lockstep race --json` writes).
    QJsonObject raceReport(const int rounds, const bool passed)
    {
        QJsonArray roundArray;
        for (int i = 0; i < rounds; ++i)
        {
            const int runners = (!passed && (i == 1)) ? 2 : 1;
            QJsonArray sessions;
            for (int j = 0; j < 2; ++j)
            {
                const bool ran = (j < runners);
                sessions.append(QJsonObject{
                    {QStringLiteral("index"), j},
                    {QStringLiteral("offsetMs"), j * 10},
                    {QStringLiteral("message"), QStringLiteral("go")},
                    {QStringLiteral("closeCode"), ran ? 1000 : 1013},
                    {QStringLiteral("closeReason"),
                     ran ? QStringLiteral("input_required") : QStringLiteral("Failed to acquire lock on workflow")},
                    {QStringLiteral("closedBy"), QStringLiteral("server")},
                    {QStringLiteral("ran"), ran},
                    {QStringLiteral("outcome"), ran ? QStringLiteral("ran") : QStringLiteral("already_running")}});
            }
            roundArray.append(QJsonObject{{QStringLiteral("index"), i},
                                          {QStringLiteral("workflowID"), QStringLiteral("race-w")},
                                          {QStringLiteral("runners"), runners},
                                          {QStringLiteral("finalStatus"), QStringLiteral("input_required")},
                                          {QStringLiteral("finalFence"), i + 1},
                                          {QStringLiteral("sessions"), sessions}});
        }
        return QJsonObject{
            {QStringLiteral("schemaVersion"), 1},
            {QStringLiteral("kind"), QStringLiteral("race")},
            {QStringLiteral("generatedAt"), QStringLiteral("2026-11-20T10:00:00.000Z")},
            {QStringLiteral("console"), QJsonObject{{QStringLiteral("version"), QStringLiteral("0.1.0")}}},
            {QStringLiteral("gateway"),
             QJsonObject{{QStringLiteral("url"), QStringLiteral("ws://127.0.0.1:1/api/v1/ws")},
                         {QStringLiteral("version"), QStringLiteral("0.1.0")}}},
            {QStringLiteral("findings"),
             passed ? QJsonArray()
                    : QJsonArray{QJsonObject{{QStringLiteral("kind"), QStringLiteral("overlapping_executions")},
                                             {QStringLiteral("detail"), QStringLiteral("two ran")},
                                             {QStringLiteral("round"), 1}}}},
            {QStringLiteral("race"), QJsonObject{{QStringLiteral("workflowID"), QStringLiteral("race-w")},
                                                 {QStringLiteral("flow"), QJsonValue()},
                                                 {QStringLiteral("sessions"), 2},
                                                 {QStringLiteral("rounds"), rounds},
                                                 {QStringLiteral("spreadMs"), 20}}},
            {QStringLiteral("summary"),
             QJsonObject{{QStringLiteral("rounds"), rounds},
                         {QStringLiteral("roundsWithOneRunner"), passed ? rounds : rounds - 1},
                         {QStringLiteral("minRunners"), 1},
                         {QStringLiteral("maxRunners"), passed ? 1 : 2},
                         {QStringLiteral("findings"), passed ? 0 : 1},
                         {QStringLiteral("passed"), passed},
                         {QStringLiteral("roundsPerSecond"), 1.5}}},
            {QStringLiteral("rounds"), roundArray},
        };
    }

    int userVersion(const QString &path)
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
            }
            db.close();
        }
        QSqlDatabase::removeDatabase(QStringLiteral("probe"));
        return version;
    }

    bool isIsoUtc(const QJsonValue &value)
    {
        // "2026-11-20T10:00:00.000Z": milliseconds and Z, as the contract says.
        const QString text = value.toString();
        return text.endsWith(u'Z') && (text.size() == 24) && QDateTime::fromString(text, Qt::ISODateWithMs).isValid();
    }
}  // namespace

// The console's recordings in the history database: sessions with their
// frames, lock events and races written and read back by a new store on the
// same folder (a restart); pruned by age, by count and by size (oldest
// sessions with their frames first); a schema 1 file migrates to 2 keeping
// every row; the export has the report contract's fields; the browser shows
// them with no gateway; Preferences round-trips the limits.
class TestRecordingStore : public QObject
{
    Q_OBJECT

private slots:
    void recordedAndReadAfterARestart()
    {
        QTemporaryDir dir;
        qint64 session = 0;
        qint64 race = 0;
        const QDateTime t0 = QDateTime::currentDateTimeUtc().addSecs(-30);
        {
            HistoryStore history(dir.path());
            RecordingStore store(&history);
            QVERIFY(store.isPersistent());
            QSignalSpy changed(&store, &RecordingStore::changed);
            session = store.beginSession(QStringLiteral("w-1"), QStringLiteral("drive"),
                                         QJsonObject{{QStringLiteral("url"), QStringLiteral("ws://h:1/api/v1/ws")},
                                                     {QStringLiteral("version"), QStringLiteral("0.9.0")},
                                                     {QStringLiteral("replica"), QStringLiteral("r1")}},
                                         t0);
            QVERIFY(session > 0);
            store.appendFrames(session, {textFrame(1, FrameDirection::Out, R"({"startRequest":{}})", t0),
                                         textFrame(2, FrameDirection::In, R"({"lockStatus":{}})", t0.addMSecs(5))});
            store.appendFrame(session, FrameRecord{.sequence = 3,
                                                   .at = t0.addMSecs(6),
                                                   .direction = FrameDirection::Out,
                                                   .kind = FrameKind::Ping,
                                                   .payloadBytes = 0});
            store.appendFrame(session, closeFrame(4, 1000, "input_required", false));
            QCOMPARE(store.pendingFrames(), 4);  // buffered, not written one by one
            store.endSession(session, SessionEnd{.at = t0.addSecs(2),
                                                 .code = 1000,
                                                 .reason = QStringLiteral("input_required"),
                                                 .closedBy = QStringLiteral("server")});
            QCOMPARE(store.pendingFrames(), 0);
            store.appendFrame(session, textFrame(5, FrameDirection::In, "late"));  // closed: dropped
            store.recordLockEvent(RecordedLockEvent{.workflowId = QStringLiteral("w-1"),
                                                    .at = t0.addMSecs(5),
                                                    .state = QStringLiteral("acquired"),
                                                    .holder = QStringLiteral("r1#s1"),
                                                    .fence = 7,
                                                    .ttlMs = 3000});
            store.recordLockEvent(RecordedLockEvent{.workflowId = QStringLiteral("w-1"),
                                                    .at = t0.addSecs(1),
                                                    .state = QStringLiteral("refused"),
                                                    .holder = QStringLiteral("r1#s1"),
                                                    .closeCode = 1013});
            race = store.recordRace(raceReport(3, false));
            QVERIFY(race > 0);
            QVERIFY(changed.size() >= 5);
        }

        HistoryStore history(dir.path());
        RecordingStore store(&history);
        const QList<RecordedSession> sessions = store.sessions(QStringLiteral("w-1"));
        QCOMPARE(sessions.size(), 1);
        const RecordedSession &s = sessions.constFirst();
        QCOMPARE(s.id, session);
        QCOMPARE(s.label, QStringLiteral("drive"));
        QCOMPARE(s.startedAt, QDateTime::fromMSecsSinceEpoch(t0.toMSecsSinceEpoch(), Qt::UTC));
        QCOMPARE(s.closedAt, t0.addSecs(2));
        QCOMPARE(s.closeCode, std::optional<quint16>(1000));
        QCOMPARE(s.closeReason, QStringLiteral("input_required"));
        QCOMPARE(s.closedBy, QStringLiteral("server"));
        QCOMPARE(s.gateway.value(QStringLiteral("version")).toString(), QStringLiteral("0.9.0"));
        QCOMPARE(s.totals.framesIn, 2);
        QCOMPARE(s.totals.framesOut, 2);
        QCOMPARE(s.totals.pings, 1);
        QCOMPARE(s.totals.payloadBytesOut, qint64(QByteArray(R"({"startRequest":{}})").size()));

        const QList<FrameRecord> frames = store.frames(session);
        QCOMPARE(frames.size(), 4);
        QCOMPARE(frames.at(0).payload, QByteArray(R"({"startRequest":{}})"));
        QVERIFY(frames.at(0).direction == FrameDirection::Out);
        QCOMPARE(frames.at(1).at, t0.addMSecs(5));
        QVERIFY(frames.at(2).kind == FrameKind::Ping);
        QVERIFY(frames.at(3).kind == FrameKind::Close);
        QCOMPARE(frames.at(3).closeCode, quint16(1000));
        QCOMPARE(frames.at(3).payload, QByteArray("input_required"));
        QVERIFY(!frames.at(3).closedByClient);
        QCOMPARE(store.frames(session, 2).size(), 2);

        const QList<RecordedLockEvent> events = store.lockEvents(QStringLiteral("w-1"));
        QCOMPARE(events.size(), 2);
        QCOMPARE(events.at(0).state, QStringLiteral("acquired"));
        QCOMPARE(events.at(0).fence, 7);
        QCOMPARE(events.at(0).ttlMs, 3000);
        QVERIFY(!events.at(0).closeCode);
        QCOMPARE(events.at(1).state, QStringLiteral("refused"));
        QCOMPARE(events.at(1).closeCode, std::optional<quint16>(1013));

        const QList<RecordedRace> races = store.races();
        QCOMPARE(races.size(), 1);
        QCOMPARE(races.constFirst().rounds, 3);
        QCOMPARE(races.constFirst().sessions, 2);
        QCOMPARE(races.constFirst().findings, 1);
        QVERIFY(!races.constFirst().passed);
        QCOMPARE(races.constFirst().gateway, QStringLiteral("ws://127.0.0.1:1/api/v1/ws"));
        QCOMPARE(store.raceReport(race), raceReport(3, false));  // as written

        const QList<RecordedWorkflow> workflows = store.workflows();
        QCOMPARE(workflows.size(), 1);
        QCOMPARE(workflows.constFirst().sessions, 1);
        QCOMPARE(workflows.constFirst().lockEvents, 2);
    }

    void framesAreWrittenOnATimerByTheWriter()
    {
        QTemporaryDir dir;
        HistoryStore history(dir.path());
        RecordingStore store(&history, nullptr, 50ms);
        const qint64 session = store.beginSession(QStringLiteral("w"), QStringLiteral("live"), {});
        store.appendFrame(session, textFrame(1, FrameDirection::In, "a"));
        QCOMPARE(store.pendingFrames(), 1);
        // Written with nobody asking, and another connection on the file (another console) sees it.
        {
            QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), QStringLiteral("other"));
            db.setDatabaseName(history.databasePath());
            QVERIFY(db.open());
            const auto frames = [&db] {
                QSqlQuery query(db);
                return (query.exec(QStringLiteral("SELECT COUNT(*) FROM frames")) && query.next())
                           ? query.value(0).toInt()
                           : -1;
            };
            QCOMPARE(frames(), 0);
            QTRY_COMPARE(frames(), 1);
            QCOMPARE(store.pendingFrames(), 0);
            // A big burst goes to the writer at once, not held for the timer.
            QList<FrameRecord> burst;
            for (int i = 0; i < RecordingStore::FlushAtFrames; ++i)
                burst.append(textFrame(i + 2, FrameDirection::In, "b"));
            store.appendFrames(session, burst);
            QCOMPARE(store.pendingFrames(), 0);
            store.sync();
            QCOMPARE(frames(), RecordingStore::FlushAtFrames + 1);
            db.close();
        }
        QSqlDatabase::removeDatabase(QStringLiteral("other"));
        // The running totals are on disk before the session ends.
        QCOMPARE(store.session(session)->totals.framesIn, RecordingStore::FlushAtFrames + 1);
    }

    void sessionRecorderKeepsTheCloseFrameInItsSession()
    {
        QTemporaryDir dir;
        HistoryStore history(dir.path());
        RecordingStore store(&history);
        QObject connection;
        auto *recorder = new SessionRecorder(
            &store, QStringLiteral("w"), QStringLiteral("live"),
            [] {
                return QJsonObject{{QStringLiteral("url"), QStringLiteral("ws://x")}};
            },
            &connection);
        recorder->recordFrame(textFrame(1, FrameDirection::Out, "subscribe"));  // opens one
        const qint64 first = recorder->currentSession();
        QVERIFY(first > 0);
        recorder->opened();  // the connection says it is up: the same session
        QCOMPARE(recorder->currentSession(), first);
        recorder->ended(SessionEnd{.code = 1001, .reason = QStringLiteral("going away")});
        // The transport reports the close frame just after the close.
        recorder->recordFrame(closeFrame(2, 1001, "going away", false));
        QTRY_VERIFY(store.session(first)->closedAt.isValid());
        QCOMPARE(store.frames(first).size(), 2);
        QCOMPARE(store.session(first)->closedBy, QStringLiteral("server"));  // from the close frame
        QCOMPARE(store.session(first)->gateway.value(QStringLiteral("url")).toString(), QStringLiteral("ws://x"));
        // Reconnected: a new session; a console that goes away closes it as the client.
        recorder->opened();
        const qint64 second = recorder->currentSession();
        QVERIFY(second > first);
        delete recorder;
        QCOMPARE(store.session(second)->closedBy, QStringLiteral("client"));
        QCOMPARE(store.sessions(QStringLiteral("w")).size(), 2);
    }

    void prunedByAge()
    {
        QTemporaryDir dir;
        const QDateTime now = QDateTime::currentDateTimeUtc();
        HistoryStore history(dir.path(), {}, nullptr, [&now] { return now; });
        RecordingStore store(&history);
        const qint64 old = store.beginSession(QStringLiteral("w"), QStringLiteral("live"), {}, now.addDays(-31));
        store.appendFrame(old, textFrame(1, FrameDirection::In, "old", now.addDays(-31)));
        store.endSession(old, {.at = now.addDays(-31)});
        const qint64 recent = store.beginSession(QStringLiteral("w"), QStringLiteral("live"), {}, now.addDays(-29));
        store.appendFrame(recent, textFrame(1, FrameDirection::In, "recent"));
        store.recordLockEvent(
            {.workflowId = QStringLiteral("w"), .at = now.addDays(-40), .state = QStringLiteral("lost")});
        store.recordLockEvent({.workflowId = QStringLiteral("w"), .at = now, .state = QStringLiteral("acquired")});
        QJsonObject oldRace = raceReport(1, true);
        oldRace.insert(QStringLiteral("generatedAt"), now.addDays(-31).toString(Qt::ISODateWithMs));
        store.recordRace(oldRace);
        QJsonObject newRace = raceReport(1, true);
        newRace.insert(QStringLiteral("generatedAt"), now.toString(Qt::ISODateWithMs));
        const qint64 kept = store.recordRace(newRace);

        QCOMPARE(history.prune(), 4);  // the old session, its frame, the old lock event, the old race
        QCOMPARE(store.sessions().size(), 1);
        QCOMPARE(store.sessions().constFirst().id, recent);
        QCOMPARE(store.frameCount(old), 0);
        QCOMPARE(store.frameCount(recent), 1);  // flushed before the prune, and kept
        QCOMPARE(store.lockEvents(QStringLiteral("w")).size(), 1);
        QCOMPARE(store.races().size(), 1);
        QCOMPARE(store.races().constFirst().id, kept);
    }

    void prunedByCount()
    {
        QTemporaryDir dir;
        HistoryStore history(dir.path(), HistoryLimits{.maxRowsPerWorkflow = 4, .maxSessionsPerWorkflow = 3});
        RecordingStore store(&history);
        QList<qint64> busy;
        for (int i = 0; i < 5; ++i)
        {
            busy.append(store.beginSession(QStringLiteral("busy"), QStringLiteral("drive"), {}));
            store.appendFrames(busy.constLast(),
                               {textFrame(1, FrameDirection::Out, "x"), textFrame(2, FrameDirection::In, "y")});
        }
        const qint64 quiet = store.beginSession(QStringLiteral("quiet"), QStringLiteral("live"), {});
        store.appendFrame(quiet, textFrame(1, FrameDirection::In, "z"));
        for (int i = 0; i < 6; ++i)
            store.recordLockEvent(
                {.workflowId = QStringLiteral("busy"), .state = QStringLiteral("refreshed"), .fence = i});

        // Two sessions with two frames each, and two lock events.
        QCOMPARE(history.prune(), 2 * 3 + 2);
        QList<qint64> left;
        for (const RecordedSession &s : store.sessions(QStringLiteral("busy")))
            left.prepend(s.id);
        QCOMPARE(left, busy.mid(2));  // the newest three
        QCOMPARE(store.frameCount(), 3 * 2 + 1);
        QCOMPARE(store.frameCount(busy.at(0)), 0);
        QCOMPARE(store.sessions(QStringLiteral("quiet")).size(), 1);
        const QList<RecordedLockEvent> events = store.lockEvents(QStringLiteral("busy"));
        QCOMPARE(events.size(), 4);
        QCOMPARE(events.constFirst().fence, 2);  // the oldest went
    }

    void prunedBySizeOldestSessionsFirst()
    {
        QTemporaryDir dir;
        const qint64 limit = 512 * 1024;
        HistoryStore history(dir.path(), HistoryLimits{.maxBytes = limit});
        RecordingStore store(&history);
        for (int i = 0; i < 20; ++i)
            history.add(HistoryEntry{.workflowId = QStringLiteral("w"), .text = QStringLiteral("line %1").arg(i)});
        const QByteArray big(4000, 'f');
        QList<qint64> sessions;
        for (int s = 0; s < 10; ++s)  // ~2 MB of frames
        {
            sessions.append(store.beginSession(QStringLiteral("w"), QStringLiteral("live"), {}));
            QList<FrameRecord> frames;
            for (int i = 0; i < 50; ++i)
                frames.append(textFrame(i + 1, FrameDirection::In, big));
            store.appendFrames(sessions.constLast(), frames);
        }
        store.sync();
        QVERIFY(history.usedBytes() > limit);
        QVERIFY(history.prune() > 0);
        QVERIFY2(history.usedBytes() <= limit, qPrintable(QString::number(history.usedBytes())));
        // The newest session stayed, the oldest went with its frames, and every history line is still there.
        QVERIFY(store.session(sessions.constLast()).has_value());
        QVERIFY(!store.session(sessions.constFirst()).has_value());
        QCOMPARE(store.frameCount(sessions.constFirst()), 0);
        QCOMPARE(store.frameCount(sessions.constLast()), 50);
        QCOMPARE(history.rowCount(QStringLiteral("w")), 20);
    }

    void migratesAVersion1DatabaseKeepingEveryRow()
    {
        QTemporaryDir dir;
        const QString path = QDir(dir.path()).filePath(HistoryStore::fileName());
        {
            // Schema 1 exactly as the first console wrote it.
            QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), QStringLiteral("v1"));
            db.setDatabaseName(path);
            QVERIFY(db.open());
            QSqlQuery query(db);
            QVERIFY(query.exec(QStringLiteral("PRAGMA auto_vacuum=INCREMENTAL")));
            QVERIFY(
                query.exec(QStringLiteral("CREATE TABLE history (id INTEGER PRIMARY KEY AUTOINCREMENT, workflow_id "
                                          "TEXT NOT NULL, at_ms INTEGER NOT NULL, kind TEXT NOT NULL, text TEXT NOT "
                                          "NULL, tone INTEGER NOT NULL DEFAULT 0)")));
            QVERIFY(query.exec(QStringLiteral("CREATE INDEX history_by_workflow ON history (workflow_id, id)")));
            QVERIFY(query.exec(QStringLiteral("CREATE INDEX history_by_time ON history (at_ms)")));
            const qint64 now = QDateTime::currentMSecsSinceEpoch();
            for (int i = 0; i < 30; ++i)
            {
                query.prepare(QStringLiteral("INSERT INTO history (workflow_id, at_ms, kind, text, tone) VALUES (?, ?, "
                                             "?, ?, ?)"));
                query.addBindValue(QStringLiteral("w-%1").arg(i % 3));
                query.addBindValue(now - 1000 * (30 - i));
                query.addBindValue((i % 2) ? QStringLiteral("lock") : QStringLiteral("outcome"));
                query.addBindValue(QStringLiteral("v1 line %1").arg(i));
                query.addBindValue(i % 4);
                QVERIFY(query.exec());
            }
            QVERIFY(query.exec(QStringLiteral("PRAGMA user_version = 1")));
            query.finish();
            db.close();
        }
        QSqlDatabase::removeDatabase(QStringLiteral("v1"));
        QCOMPARE(userVersion(path), 1);

        {
            HistoryStore history(dir.path());
            QVERIFY2(history.isPersistent(), qPrintable(history.error()));
            QCOMPARE(history.rowCount(), 30);
            const QList<HistoryEntry> w0 = history.entries(QStringLiteral("w-0"));
            QCOMPARE(w0.size(), 10);
            QCOMPARE(w0.constFirst().text, QStringLiteral("v1 line 27"));
            QVERIFY(w0.constFirst().kind == HistoryEntry::Kind::Lock);
            QVERIFY(w0.constFirst().tone == static_cast<Theme::Tone>(27 % 4));
            // The new tables work on the migrated file.
            RecordingStore store(&history);
            const qint64 session = store.beginSession(QStringLiteral("w-0"), QStringLiteral("live"), {});
            store.appendFrame(session, textFrame(1, FrameDirection::In, "after the migration"));
            QCOMPARE(store.frames(session).size(), 1);
        }
        QCOMPARE(userVersion(path), HistoryStore::SchemaVersion);
        QCOMPARE(HistoryStore::SchemaVersion, 2);
        HistoryStore again(dir.path());  // opening a version 2 file changes nothing
        QCOMPARE(again.rowCount(), 30);
        QCOMPARE(RecordingStore(&again).frameCount(), 1);
    }

    void nothingRecordedWithoutADatabase()
    {
        QTemporaryDir dir;
        QVERIFY(QDir().mkpath(QDir(dir.path()).filePath(HistoryStore::fileName())));  // a folder in its place
        HistoryStore history(dir.path());
        RecordingStore store(&history);
        QVERIFY(!store.isPersistent());
        QCOMPARE(store.beginSession(QStringLiteral("w"), QStringLiteral("live"), {}), 0);
        QCOMPARE(store.recordRace(raceReport(1, true)), 0);
        store.recordLockEvent({.workflowId = QStringLiteral("w"), .state = QStringLiteral("acquired")});
        QVERIFY(store.sessions().isEmpty());
        QVERIFY(store.lockEvents(QStringLiteral("w")).isEmpty());
        RecordingsBrowser browser(&store);
        QVERIFY2(browser.detailText().contains(u"could not be opened"), qPrintable(browser.detailText()));
        QVERIFY(!browser.exportJson(QDir(dir.path()).filePath(QStringLiteral("x.json"))));
    }

    void exportHasTheReportContractsFields()
    {
        QTemporaryDir dir;
        HistoryStore history(dir.path());
        RecordingStore store(&history);
        const QDateTime t0 = QDateTime::currentDateTimeUtc().addSecs(-10);
        const QJsonObject gateway{{QStringLiteral("url"), QStringLiteral("ws://127.0.0.1:9/api/v1/ws")},
                                  {QStringLiteral("version"), QStringLiteral("0.9.0")},
                                  {QStringLiteral("replica"), QStringLiteral("r1")},
                                  {QStringLiteral("lockStore"), QStringLiteral("memory")},
                                  {QStringLiteral("store"), QStringLiteral("sqlite")},
                                  {QStringLiteral("lockEnabled"), true},
                                  {QStringLiteral("casGuards"), true},
                                  {QStringLiteral("fencing"), false}};
        const qint64 live = store.beginSession(QStringLiteral("w"), QStringLiteral("live"), gateway, t0);
        store.appendFrames(live, {textFrame(1, FrameDirection::Out, R"({"subscribe":{}})", t0),
                                  closeFrame(2, 1001, "shutting down", false)});
        store.endSession(live, {.at = t0.addSecs(1), .code = 1001, .reason = QStringLiteral("shutting down")});
        const qint64 drive = store.beginSession(QStringLiteral("w"), QStringLiteral("drive"), gateway, t0.addSecs(3));
        store.appendFrame(drive, textFrame(1, FrameDirection::Out, "{}", t0.addSecs(3)));
        store.endSession(drive, {.at = t0.addSecs(5), .code = 1000, .reason = QStringLiteral("input_required")});
        store.recordLockEvent({.workflowId = QStringLiteral("w"),
                               .at = t0.addSecs(4),
                               .state = QStringLiteral("acquired"),
                               .holder = QStringLiteral("r2#s9"),
                               .fence = 3,
                               .ttlMs = 30000});
        history.add(HistoryEntry{
            .workflowId = QStringLiteral("w"), .at = t0.addSecs(4), .text = QStringLiteral("Resume: resumed")});

        const QJsonObject report = store.exportWorkflow(QStringLiteral("w"));
        QCOMPARE(report.value(QStringLiteral("schemaVersion")).toInt(), 1);
        QCOMPARE(report.value(QStringLiteral("kind")).toString(), QStringLiteral("workflow"));
        QVERIFY(isIsoUtc(report.value(QStringLiteral("generatedAt"))));
        QCOMPARE(report.value(QStringLiteral("console")).toObject().value(QStringLiteral("version")).toString(),
                 QStringLiteral(LOCKSTEP_VERSION));
        const QJsonObject gw = report.value(QStringLiteral("gateway")).toObject();
        QCOMPARE(gw.value(QStringLiteral("url")).toString(), QStringLiteral("ws://127.0.0.1:9/api/v1/ws"));
        QCOMPARE(gw.value(QStringLiteral("version")).toString(), QStringLiteral("0.9.0"));
        QCOMPARE(gw.value(QStringLiteral("lockStore")).toString(), QStringLiteral("memory"));
        QCOMPARE(gw.value(QStringLiteral("store")).toString(), QStringLiteral("sqlite"));
        // Replica IDs from /healthz and from the lock holders.
        QCOMPARE(gw.value(QStringLiteral("replicas")).toArray(),
                 (QJsonArray{QStringLiteral("r1"), QStringLiteral("r2")}));
        const QJsonObject switches = gw.value(QStringLiteral("switches")).toObject();
        QCOMPARE(switches.value(QStringLiteral("lockEnabled")), QJsonValue(true));
        QCOMPARE(switches.value(QStringLiteral("casGuards")), QJsonValue(true));
        QCOMPARE(switches.value(QStringLiteral("fencing")), QJsonValue(false));
        QVERIFY(report.value(QStringLiteral("findings")).isArray());
        QCOMPARE(report.value(QStringLiteral("workflowID")).toString(), QStringLiteral("w"));

        const QJsonArray sessions = report.value(QStringLiteral("sessions")).toArray();
        QCOMPARE(sessions.size(), 2);
        const QJsonObject first = sessions.at(0).toObject();  // oldest first
        QCOMPARE(first.value(QStringLiteral("label")).toString(), QStringLiteral("live"));
        QVERIFY(isIsoUtc(first.value(QStringLiteral("startedAt"))));
        QVERIFY(isIsoUtc(first.value(QStringLiteral("closedAt"))));
        QCOMPARE(first.value(QStringLiteral("closeCode")).toInt(), 1001);
        QCOMPARE(first.value(QStringLiteral("closeReason")).toString(), QStringLiteral("shutting down"));
        const QJsonArray frames = first.value(QStringLiteral("frames")).toArray();
        QCOMPARE(frames.size(), 2);
        const QJsonObject text = frames.at(0).toObject();
        for (const char *key : {"seq", "at", "direction", "kind", "bytes", "payload"})
            QVERIFY2(text.contains(QLatin1StringView(key)), key);
        QVERIFY(!text.contains(QStringLiteral("closeCode")));
        QCOMPARE(text.value(QStringLiteral("direction")).toString(), QStringLiteral("out"));
        QCOMPARE(text.value(QStringLiteral("kind")).toString(), QStringLiteral("text"));
        QCOMPARE(text.value(QStringLiteral("payload")).toString(), QStringLiteral(R"({"subscribe":{}})"));
        QVERIFY(isIsoUtc(text.value(QStringLiteral("at"))));
        const QJsonObject close = frames.at(1).toObject();
        QCOMPARE(close.value(QStringLiteral("kind")).toString(), QStringLiteral("close"));
        QCOMPARE(close.value(QStringLiteral("closeCode")).toInt(), 1001);
        QCOMPARE(close.value(QStringLiteral("closedBy")).toString(), QStringLiteral("server"));
        const QJsonObject totals = first.value(QStringLiteral("totals")).toObject();
        QCOMPARE(totals.value(QStringLiteral("framesIn")).toInt(), 1);
        QCOMPARE(totals.value(QStringLiteral("framesOut")).toInt(), 1);
        QCOMPARE(totals.value(QStringLiteral("bytesOut")).toInt(), 16);
        for (const char *key : {"bytesIn", "pings", "pongs"})
            QVERIFY2(totals.contains(QLatin1StringView(key)), key);

        const QJsonArray events = report.value(QStringLiteral("lockEvents")).toArray();
        QCOMPARE(events.size(), 1);
        const QJsonObject event = events.at(0).toObject();
        QCOMPARE(event.value(QStringLiteral("state")).toString(), QStringLiteral("acquired"));
        QCOMPARE(event.value(QStringLiteral("holder")).toString(), QStringLiteral("r2#s9"));
        QCOMPARE(event.value(QStringLiteral("fence")).toInt(), 3);
        QCOMPARE(event.value(QStringLiteral("ttlMs")).toInt(), 30000);
        QVERIFY(isIsoUtc(event.value(QStringLiteral("at"))));
        const QJsonArray lines = report.value(QStringLiteral("history")).toArray();
        QCOMPARE(lines.size(), 1);
        QCOMPARE(lines.at(0).toObject().value(QStringLiteral("kind")).toString(), QStringLiteral("outcome"));
        QCOMPARE(lines.at(0).toObject().value(QStringLiteral("text")).toString(), QStringLiteral("Resume: resumed"));

        // A session's export: that session, and only what happened while it was open.
        const QJsonObject one = store.exportSession(live);
        QCOMPARE(one.value(QStringLiteral("kind")).toString(), QStringLiteral("session"));
        QCOMPARE(one.value(QStringLiteral("sessions")).toArray().size(), 1);
        QCOMPARE(one.value(QStringLiteral("lockEvents")).toArray().size(), 0);  // at +4 s, after it closed
        QCOMPARE(one.value(QStringLiteral("history")).toArray().size(), 0);
        const QJsonObject later = store.exportSession(drive);
        QCOMPARE(later.value(QStringLiteral("lockEvents")).toArray().size(), 1);
        QCOMPARE(later.value(QStringLiteral("history")).toArray().size(), 1);
    }

    void browserShowsRecordingsWithNoGateway()
    {
        QTemporaryDir dir;
        HistoryStore history(dir.path());
        RecordingStore store(&history);
        const qint64 session = store.beginSession(QStringLiteral("w-b"), QStringLiteral("drive"),
                                                  {{QStringLiteral("url"), QStringLiteral("ws://gone:1/api/v1/ws")}});
        store.appendFrames(session, {textFrame(1, FrameDirection::Out, R"({"startRequest":{}})"),
                                     textFrame(2, FrameDirection::In, R"({"newCheckpoint":{}})"),
                                     closeFrame(3, 1013, "Failed to acquire lock on workflow", false)});
        store.endSession(session, {.code = 1013, .reason = QStringLiteral("Failed to acquire lock on workflow")});
        store.recordLockEvent({.workflowId = QStringLiteral("w-b"),
                               .state = QStringLiteral("refused"),
                               .holder = QStringLiteral("r1#s1"),
                               .closeCode = 1013});
        const qint64 race = store.recordRace(raceReport(4, false));

        RecordingsBrowser browser(&store);
        browser.show();
        QVERIFY(QTest::qWaitForWindowExposed(&browser));
        QVERIFY2(browser.detailText().startsWith(u"Recorded sessions: 1 · frames: 3 · races: 1"),
                 qPrintable(browser.detailText()));
        QVERIFY(browser.tree()->topLevelItemCount() == 2);

        QVERIFY(browser.selectSession(session));
        QVERIFY(browser.selection() == RecordingsBrowser::Selection::Session);
        QAbstractItemModel *frames = browser.frameView()->model();
        QCOMPARE(frames->rowCount(), 3);
        QCOMPARE(frames->index(1, 2).data().toString(), QStringLiteral("← in"));
        QCOMPARE(frames->index(1, 3).data().toString(), QStringLiteral("text"));
        // The close frame decoded: code, its meaning, reason and who closed.
        const QString close = frames->index(2, 5).data().toString();
        QVERIFY2(close.contains(u"1013") && close.contains(u"Failed to acquire lock on workflow") &&
                     close.contains(u"gateway"),
                 qPrintable(close));
        QVERIFY2(browser.detailText().contains(u"ws://gone:1/api/v1/ws"), qPrintable(browser.detailText()));

        QVERIFY(browser.selectWorkflow(QStringLiteral("w-b")));
        QCOMPARE(browser.lockEventTable()->rowCount(), 1);
        QCOMPARE(browser.lockEventTable()->item(0, 1)->text(), QStringLiteral("refused"));
        QCOMPARE(browser.lockEventTable()->item(0, 5)->text(), QStringLiteral("1013"));

        QVERIFY(browser.selectRace(race));
        QCOMPARE(browser.roundTable()->rowCount(), 4);
        QCOMPARE(browser.roundTable()->item(1, 2)->text(), QStringLiteral("2"));  // the round with two runners
        QVERIFY(browser.roundTable()->item(1, 2)->foreground() != browser.roundTable()->item(0, 2)->foreground());
        QVERIFY(browser.detailText().contains(u"overlapping_executions"));

        // Export: a race is written back exactly as it was recorded.
        const QString path = QDir(dir.path()).filePath(QStringLiteral("race.json"));
        QString error;
        QVERIFY2(browser.exportJson(path, &error), qPrintable(error));
        QFile file(path);
        QVERIFY(file.open(QIODevice::ReadOnly));
        QCOMPARE(QJsonDocument::fromJson(file.readAll()).object(), raceReport(4, false));
        QVERIFY(browser.selectSession(session));
        QCOMPARE(browser.currentReport().value(QStringLiteral("kind")).toString(), QStringLiteral("session"));
        // Still selected after a refresh (new recordings arrive while it is open).
        browser.refresh();
        QVERIFY(browser.selection() == RecordingsBrowser::Selection::Session);
    }

    // A long session opens with its first page of frames; the rest is read as the view scrolls.
    void browserReadsALongSessionPageByPage()
    {
        QTemporaryDir dir;
        HistoryStore history(dir.path());
        RecordingStore store(&history);
        const qint64 session = store.beginSession(QStringLiteral("w"), QStringLiteral("live"), {});
        QList<FrameRecord> frames;
        for (int i = 1; i <= 4500; ++i)
            frames.append(textFrame(i, FrameDirection::In, QByteArray::number(i)));
        store.appendFrames(session, frames);
        store.endSession(session, {.code = 1000});
        RecordingsBrowser browser(&store);
        QVERIFY(browser.selectSession(session));
        QAbstractItemModel *model = browser.frameView()->model();
        QVERIFY(model->rowCount() < 4500);
        QVERIFY(model->rowCount() > 0);
        QVERIFY(model->canFetchMore({}));
        int pages = 1;
        while (model->canFetchMore({}) && (pages < 100))
        {
            model->fetchMore({});
            ++pages;
        }
        QCOMPARE(model->rowCount(), 4500);
        QVERIFY(pages > 1);
        QCOMPARE(model->index(4499, 0).data().toLongLong(), 4500);  // in order, none twice
        QCOMPARE(model->index(2000, 5).data().toString(), QStringLiteral("2001"));
    }

    void preferencesRoundTrip()
    {
        QTemporaryDir dir;
        QSettings settings(QDir(dir.path()).filePath(QStringLiteral("s.ini")), QSettings::IniFormat);
        const HistoryLimits defaults;
        QCOMPARE(PreferencesDialog::limitsFrom(settings, defaults), defaults);
        QCOMPARE(PreferencesDialog::inspectorMaxFrames(settings), 10000);

        PreferencesDialog dialog(&settings, defaults);
        QSignalSpy applied(&dialog, &PreferencesDialog::applied);
        dialog.findChild<QSpinBox *>(QStringLiteral("maxAgeDays"))->setValue(7);
        dialog.findChild<QSpinBox *>(QStringLiteral("maxMegabytes"))->setValue(64);
        dialog.findChild<QSpinBox *>(QStringLiteral("maxSessionsPerWorkflow"))->setValue(12);
        dialog.findChild<QSpinBox *>(QStringLiteral("inspectorMaxFrames"))->setValue(2500);
        dialog.accept();
        QCOMPARE(applied.size(), 1);
        const HistoryLimits limits = PreferencesDialog::limitsFrom(settings, defaults);
        QCOMPARE(limits.maxAge, std::chrono::hours(7 * 24));
        QCOMPARE(limits.maxBytes, 64LL * 1024 * 1024);
        QCOMPARE(limits.maxSessionsPerWorkflow, 12);
        QCOMPARE(limits.maxRowsPerWorkflow, defaults.maxRowsPerWorkflow);
        QCOMPARE(settings.value(QStringLiteral("inspector/maxFrames")).toInt(), 2500);
        QCOMPARE(PreferencesDialog::inspectorMaxFrames(settings), 2500);
        QVERIFY(!settings.contains(PreferencesDialog::maxRowsPerWorkflowKey()));  // a default is not pinned
        QCOMPARE(applied.constFirst().at(0).value<HistoryLimits>(), limits);
        // A second dialog shows what was saved.
        PreferencesDialog again(&settings, defaults);
        QCOMPARE(again.limits(), limits);
        QCOMPARE(again.maxFrames(), 2500);
        // Garbage in the file falls back to the default, clamped values stay in range.
        settings.setValue(PreferencesDialog::maxAgeDaysKey(), QStringLiteral("soon"));
        settings.setValue(PreferencesDialog::inspectorMaxFramesKey(), 3);
        QCOMPARE(PreferencesDialog::limitsFrom(settings, defaults).maxAge, defaults.maxAge);
        QCOMPARE(PreferencesDialog::inspectorMaxFrames(settings), 100);
    }
};

QTEST_MAIN(TestRecordingStore)
#include "tst_recordingstore.moc"
