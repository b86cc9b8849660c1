#include "recordingstore.h"

#include <QCoreApplication>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLoggingCategory>
#include <QSet>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QThread>
#include <QVariant>

#include "historystore.h"
#include "outcome.h"

Q_LOGGING_CATEGORY(lcRecording, "lockstep.ui.recording")

namespace Lockstep::Ui
{
    namespace
    {
        using Transport::FrameDirection;
        using Transport::FrameKind;
        using Transport::FrameRecord;

        QVariant optionalCode(const std::optional<quint16> code)
        {
            return code ? QVariant(static_cast<int>(*code)) : QVariant(QMetaType(QMetaType::Int));
        }

        // A null QString binds as SQL NULL: text columns that are NOT NULL get "".
        QString text(const QString &value)
        {
            return value.isNull() ? QStringLiteral("") : value;
        }

        std::optional<quint16> codeFrom(const QVariant &value)
        {
            if (value.isNull())
                return std::nullopt;
            return static_cast<quint16>(value.toInt());
        }

        QDateTime timeFrom(const QVariant &value)
        {
            return value.isNull() ? QDateTime() : QDateTime::fromMSecsSinceEpoch(value.toLongLong(), Qt::UTC);
        }

        void count(Transport::FrameLog::Totals &totals, const FrameRecord &frame)
        {
            if (frame.direction == FrameDirection::In)
            {
                ++totals.framesIn;
                totals.payloadBytesIn += frame.payloadBytes;
            }
            else
            {
                ++totals.framesOut;
                totals.payloadBytesOut += frame.payloadBytes;
            }
            totals.pings += (frame.kind == FrameKind::Ping) ? 1 : 0;
            totals.pongs += (frame.kind == FrameKind::Pong) ? 1 : 0;
        }

        const QString SessionColumns =
            QStringLiteral("id, workflow_id, label, gateway, started_ms, closed_ms, close_code, close_reason, "
                           "closed_by, frames_in, frames_out, bytes_in, bytes_out, pings, pongs");

        RecordedSession sessionFrom(const QSqlQuery &query)
        {
            RecordedSession s;
            s.id = query.value(0).toLongLong();
            s.workflowId = query.value(1).toString();
            s.label = query.value(2).toString();
            s.gateway = QJsonDocument::fromJson(query.value(3).toString().toUtf8()).object();
            s.startedAt = timeFrom(query.value(4));
            s.closedAt = timeFrom(query.value(5));
            s.closeCode = codeFrom(query.value(6));
            s.closeReason = query.value(7).toString();
            s.closedBy = query.value(8).toString();
            s.totals.framesIn = query.value(9).toLongLong();
            s.totals.framesOut = query.value(10).toLongLong();
            s.totals.payloadBytesIn = query.value(11).toLongLong();
            s.totals.payloadBytesOut = query.value(12).toLongLong();
            s.totals.pings = query.value(13).toLongLong();
            s.totals.pongs = query.value(14).toLongLong();
            return s;
        }

        QJsonObject totalsToJson(const Transport::FrameLog::Totals &totals)
        {
            return {{QStringLiteral("framesIn"), totals.framesIn},
                    {QStringLiteral("framesOut"), totals.framesOut},
                    {QStringLiteral("bytesIn"), totals.payloadBytesIn},
                    {QStringLiteral("bytesOut"), totals.payloadBytesOut},
                    {QStringLiteral("pings"), totals.pings},
                    {QStringLiteral("pongs"), totals.pongs}};
        }

        QJsonValue optionalJson(const std::optional<quint16> code)
        {
            return code ? QJsonValue(static_cast<int>(*code)) : QJsonValue();
        }
    }  // namespace

    QJsonValue isoTime(const QDateTime &at)
    {
        if (!at.isValid())
            return QJsonValue();
        return at.toUTC().toString(Qt::ISODateWithMs);
    }

    QJsonObject frameToJson(const FrameRecord &frame)
    {
        QJsonObject json{{QStringLiteral("seq"), frame.sequence},
                         {QStringLiteral("at"), isoTime(frame.at)},
                         {QStringLiteral("direction"), Transport::toString(frame.direction)},
                         {QStringLiteral("kind"), Transport::toString(frame.kind)},
                         {QStringLiteral("bytes"), frame.payloadBytes},
                         {QStringLiteral("payload"), QString::fromUtf8(frame.payload)}};
        if (frame.kind == FrameKind::Close)
        {
            json.insert(QStringLiteral("closeCode"), static_cast<int>(frame.closeCode));
            json.insert(QStringLiteral("closedBy"),
                        frame.closedByClient ? QStringLiteral("client") : QStringLiteral("server"));
        }
        return json;
    }

    // Writes frames on its own thread and connection (a QSqlDatabase belongs
    // to the thread that made it): batches arrive queued, in order.
    class FrameWriter
    {
    public:
        using Frame = RecordingStore::Pending;

        explicit FrameWriter(QString path)
            : m_path(std::move(path))
            , m_connection(QStringLiteral("lockstep-recording-writer-%1").arg(quintptr(this), 0, 16))
        {
            m_thread.setObjectName(QStringLiteral("recording writer"));
            m_context.moveToThread(&m_thread);
            m_thread.start(QThread::LowPriority);
        }

        ~FrameWriter()
        {
            QMetaObject::invokeMethod(
                &m_context,
                [this] {
                    {
                        QSqlDatabase db = QSqlDatabase::database(m_connection, false);
                        if (db.isValid())
                            db.close();
                    }
                    QSqlDatabase::removeDatabase(m_connection);
                },
                Qt::BlockingQueuedConnection);
            m_thread.quit();
            m_thread.wait();
        }

        FrameWriter(const FrameWriter &) = delete;
        FrameWriter &operator=(const FrameWriter &) = delete;

        void post(QList<Frame> frames, QHash<qint64, Transport::FrameLog::Totals> totals)
        {
            QMetaObject::invokeMethod(
                &m_context, [this, frames = std::move(frames), totals = std::move(totals)] { write(frames, totals); },
                Qt::QueuedConnection);
        }

        void endSession(const qint64 session, const SessionEnd &end, const Transport::FrameLog::Totals &totals)
        {
            QMetaObject::invokeMethod(
                &m_context,
                [this, session, end, totals] {
                    QSqlQuery query(database());
                    query.prepare(QStringLiteral(
                        "UPDATE sessions SET closed_ms = ?, close_code = ?, close_reason = ?, closed_by = ?, "
                        "frames_in = ?, frames_out = ?, bytes_in = ?, bytes_out = ?, pings = ?, pongs = ? WHERE id = ?"));
                    query.addBindValue(end.at.toMSecsSinceEpoch());
                    query.addBindValue(optionalCode(end.code));
                    query.addBindValue(end.reason);
                    query.addBindValue(end.closedBy);
                    query.addBindValue(totals.framesIn);
                    query.addBindValue(totals.framesOut);
                    query.addBindValue(totals.payloadBytesIn);
                    query.addBindValue(totals.payloadBytesOut);
                    query.addBindValue(totals.pings);
                    query.addBindValue(totals.pongs);
                    query.addBindValue(session);
                    if (!query.exec())
                        qCWarning(lcRecording).noquote() << "session end not recorded:" << query.lastError().text();
                },
                Qt::QueuedConnection);
        }

        // Returns once every batch posted before has been written.
        void wait()
        {
            QMetaObject::invokeMethod(
                &m_context, [] {}, Qt::BlockingQueuedConnection);
        }

    private:
        QSqlDatabase database()
        {
            QSqlDatabase db = QSqlDatabase::database(m_connection, false);
            if (db.isValid())
                return db;
            db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), m_connection);
            db.setDatabaseName(m_path);
            // Off the GUI thread: waiting for another writer (a prune, another console) is fine here.
            db.setConnectOptions(QStringLiteral("QSQLITE_BUSY_TIMEOUT=5000"));
            if (db.open())
                QSqlQuery(db).exec(QStringLiteral("PRAGMA synchronous=NORMAL"));
            else
                qCWarning(lcRecording).noquote() << "the writer cannot open the database:" << db.lastError().text();
            return db;
        }

        void write(const QList<Frame> &frames, const QHash<qint64, Transport::FrameLog::Totals> &totals)
        {
            QSqlDatabase db = database();
            if (!db.isOpen() || !db.transaction())
            {
                qCWarning(lcRecording).noquote() << frames.size() << "frames not written:" << db.lastError().text();
                return;
            }
            QSqlQuery insert(db);
            insert.prepare(
                QStringLiteral("INSERT INTO frames (session_id, seq, at_ms, direction, kind, bytes, payload, "
                               "close_code, closed_by_client) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"));
            for (const Frame &pending : frames)
            {
                const FrameRecord &frame = pending.frame;
                const bool close = (frame.kind == FrameKind::Close);
                insert.bindValue(0, pending.session);
                insert.bindValue(1, frame.sequence);
                insert.bindValue(2,
                                 (frame.at.isValid() ? frame.at : QDateTime::currentDateTimeUtc()).toMSecsSinceEpoch());
                insert.bindValue(3, Transport::toString(frame.direction));
                insert.bindValue(4, Transport::toString(frame.kind));
                insert.bindValue(5, frame.payloadBytes);
                insert.bindValue(6, frame.payload);
                insert.bindValue(7, close ? QVariant(static_cast<int>(frame.closeCode))
                                          : QVariant(QMetaType(QMetaType::Int)));
                insert.bindValue(8,
                                 close ? QVariant(frame.closedByClient ? 1 : 0) : QVariant(QMetaType(QMetaType::Int)));
                if (!insert.exec())
                    qCWarning(lcRecording).noquote() << "frame not written:" << insert.lastError().text();
            }
            QSqlQuery update(db);
            update.prepare(
                QStringLiteral("UPDATE sessions SET frames_in = ?, frames_out = ?, bytes_in = ?, bytes_out = "
                               "?, pings = ?, pongs = ? WHERE id = ?"));
            for (auto it = totals.cbegin(); it != totals.cend(); ++it)
            {
                update.addBindValue(it->framesIn);
                update.addBindValue(it->framesOut);
                update.addBindValue(it->payloadBytesIn);
                update.addBindValue(it->payloadBytesOut);
                update.addBindValue(it->pings);
                update.addBindValue(it->pongs);
                update.addBindValue(it.key());
                update.exec();
            }
            if (!db.commit())
                qCWarning(lcRecording).noquote() << "frames not written:" << db.lastError().text();
        }

        QString m_path;
        QString m_connection;
        QThread m_thread;
        QObject m_context;  // lives in m_thread: what runs there is invoked on it
    };

    RecordingStore::RecordingStore(HistoryStore *history, QObject *parent,
                                   const std::chrono::milliseconds flushInterval)
        : QObject(parent)
        , m_history(history)
    {
        m_flushTimer.setSingleShot(true);
        m_flushTimer.setInterval(flushInterval);
        connect(&m_flushTimer, &QTimer::timeout, this, &RecordingStore::flush);
        if (history)
        {
            // A prune deletes what it must with every frame on disk.
            connect(history, &HistoryStore::aboutToPrune, this, &RecordingStore::sync);
            if (history->isPersistent())
                m_writer = std::make_unique<FrameWriter>(history->databasePath());
        }
    }

    RecordingStore::~RecordingStore()
    {
        sync();
        m_writer.reset();
    }

    bool RecordingStore::isPersistent() const
    {
        return m_history && m_history->isPersistent();
    }

    HistoryStore *RecordingStore::history() const
    {
        return m_history;
    }

    QString RecordingStore::connection() const
    {
        return m_history ? m_history->connectionName() : QString();
    }

    qint64 RecordingStore::beginSession(const QString &workflowId, const QString &label, const QJsonObject &gateway,
                                        const QDateTime &at)
    {
        if (!isPersistent())
            return 0;
        QSqlQuery query(QSqlDatabase::database(connection(), false));
        query.prepare(
            QStringLiteral("INSERT INTO sessions (workflow_id, label, gateway, started_ms) VALUES (?, ?, ?, ?)"));
        query.addBindValue(text(workflowId));
        query.addBindValue(text(label));
        query.addBindValue(QString::fromUtf8(QJsonDocument(gateway).toJson(QJsonDocument::Compact)));
        query.addBindValue((at.isValid() ? at : QDateTime::currentDateTimeUtc()).toMSecsSinceEpoch());
        if (!query.exec())
        {
            qCWarning(lcRecording).noquote() << "session not recorded:" << query.lastError().text();
            return 0;
        }
        const qint64 id = query.lastInsertId().toLongLong();
        m_open.insert(id, {});
        emit changed();
        return id;
    }

    void RecordingStore::appendFrame(const qint64 session, const FrameRecord &frame)
    {
        appendFrames(session, {frame});
    }

    void RecordingStore::appendFrames(const qint64 session, const QList<FrameRecord> &frames)
    {
        auto totals = m_open.find(session);
        if (totals == m_open.end())
            return;
        for (const FrameRecord &frame : frames)
        {
            count(*totals, frame);
            m_pending.append(Pending{.session = session, .frame = frame});
        }
        if (m_pending.size() >= FlushAtFrames)
            flush();
        else if (!m_pending.isEmpty() && !m_flushTimer.isActive())
            m_flushTimer.start();
    }

    int RecordingStore::pendingFrames() const
    {
        return static_cast<int>(m_pending.size());
    }

    void RecordingStore::flush()
    {
        post();
    }

    void RecordingStore::post() const
    {
        m_flushTimer.stop();
        if (m_pending.isEmpty())
            return;
        if (!m_writer)
        {
            m_pending.clear();
            return;
        }
        // The sessions' running totals go along, so a session the console never closed still has them.
        QHash<qint64, Transport::FrameLog::Totals> totals;
        for (const Pending &pending : std::as_const(m_pending))
            totals.insert(pending.session, m_open.value(pending.session));
        // The buffer itself goes to the writer (and is freed there): nothing copied.
        m_writer->post(std::exchange(m_pending, {}), std::move(totals));
    }

    void RecordingStore::sync() const
    {
        post();
        if (m_writer)
            m_writer->wait();
    }

    void RecordingStore::endSession(const qint64 session, const SessionEnd &end)
    {
        if (!m_open.contains(session))
            return;
        // After its frames, on the writer: a session's end never waits for a write in progress.
        post();
        const Transport::FrameLog::Totals totals = m_open.take(session);
        if (!m_writer)
            return;
        SessionEnd closed = end;
        if (!closed.at.isValid())
            closed.at = QDateTime::currentDateTimeUtc();
        m_writer->endSession(session, closed, totals);
        emit changed();
    }

    void RecordingStore::recordLockEvent(const RecordedLockEvent &event)
    {
        if (!isPersistent())
            return;
        QSqlQuery query(QSqlDatabase::database(connection(), false));
        query.prepare(QStringLiteral("INSERT INTO lock_events (workflow_id, at_ms, state, holder, fence, ttl_ms, "
                                     "close_code) VALUES (?, ?, ?, ?, ?, ?, ?)"));
        query.addBindValue(text(event.workflowId));
        query.addBindValue((event.at.isValid() ? event.at : QDateTime::currentDateTimeUtc()).toMSecsSinceEpoch());
        query.addBindValue(text(event.state));
        query.addBindValue(text(event.holder));
        query.addBindValue(event.fence);
        query.addBindValue(event.ttlMs);
        query.addBindValue(optionalCode(event.closeCode));
        if (!query.exec())
        {
            qCWarning(lcRecording).noquote() << "lock event not recorded:" << query.lastError().text();
            return;
        }
        emit changed();
    }

    qint64 RecordingStore::recordRace(const QJsonObject &report)
    {
        if (!isPersistent())
            return 0;
        const QJsonObject race = report.value(QStringLiteral("race")).toObject();
        const QJsonObject summary = report.value(QStringLiteral("summary")).toObject();
        QDateTime at = QDateTime::fromString(report.value(QStringLiteral("generatedAt")).toString(), Qt::ISODateWithMs);
        if (!at.isValid())
            at = QDateTime::currentDateTimeUtc();
        QSqlQuery query(QSqlDatabase::database(connection(), false));
        query.prepare(
            QStringLiteral("INSERT INTO races (at_ms, workflow_id, flow, gateway, sessions, rounds, findings, "
                           "passed, report) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"));
        query.addBindValue(at.toMSecsSinceEpoch());
        query.addBindValue(race.value(QStringLiteral("workflowID")).toString());
        query.addBindValue(race.value(QStringLiteral("flow")).toString());
        query.addBindValue(
            text(report.value(QStringLiteral("gateway")).toObject().value(QStringLiteral("url")).toString()));
        query.addBindValue(race.value(QStringLiteral("sessions")).toInt());
        query.addBindValue(summary.value(QStringLiteral("rounds")).toInt(race.value(QStringLiteral("rounds")).toInt()));
        query.addBindValue(
            summary.value(QStringLiteral("findings")).toInt(report.value(QStringLiteral("findings")).toArray().size()));
        query.addBindValue(summary.value(QStringLiteral("passed")).toBool() ? 1 : 0);
        // As written: the browser's export gives back the very report the race produced.
        query.addBindValue(QJsonDocument(report).toJson(QJsonDocument::Compact));
        if (!query.exec())
        {
            qCWarning(lcRecording).noquote() << "race not recorded:" << query.lastError().text();
            return 0;
        }
        emit changed();
        return query.lastInsertId().toLongLong();
    }

    QList<RecordedWorkflow> RecordingStore::workflows() const
    {
        QList<RecordedWorkflow> result;
        if (!isPersistent())
            return result;
        sync();
        QSqlQuery query(QSqlDatabase::database(connection(), false));
        query.setForwardOnly(true);
        if (!query.exec(QStringLiteral(
                "SELECT workflow_id, MAX(at), SUM(s), SUM(e) FROM ("
                " SELECT workflow_id, MAX(started_ms) AS at, COUNT(*) AS s, 0 AS e FROM sessions GROUP BY workflow_id"
                " UNION ALL"
                " SELECT workflow_id, MAX(at_ms), 0, COUNT(*) FROM lock_events GROUP BY workflow_id)"
                " GROUP BY workflow_id ORDER BY 2 DESC")))
        {
            qCWarning(lcRecording).noquote() << "cannot read:" << query.lastError().text();
            return result;
        }
        while (query.next())
        {
            result.append(RecordedWorkflow{.workflowId = query.value(0).toString(),
                                           .lastAt = timeFrom(query.value(1)),
                                           .sessions = query.value(2).toInt(),
                                           .lockEvents = query.value(3).toInt()});
        }
        return result;
    }

    QList<RecordedSession> RecordingStore::sessions(const QString &workflowId, const int limit) const
    {
        QList<RecordedSession> result;
        if (!isPersistent())
            return result;
        sync();
        QSqlQuery query(QSqlDatabase::database(connection(), false));
        query.setForwardOnly(true);
        if (workflowId.isEmpty())
            query.prepare(QStringLiteral("SELECT %1 FROM sessions ORDER BY id DESC LIMIT ?").arg(SessionColumns));
        else
        {
            query.prepare(QStringLiteral("SELECT %1 FROM sessions WHERE workflow_id = ? ORDER BY id DESC LIMIT ?")
                              .arg(SessionColumns));
            query.addBindValue(workflowId);
        }
        query.addBindValue(limit);
        if (!query.exec())
        {
            qCWarning(lcRecording).noquote() << "cannot read:" << query.lastError().text();
            return result;
        }
        while (query.next())
            result.append(sessionFrom(query));
        return result;
    }

    std::optional<RecordedSession> RecordingStore::session(const qint64 id) const
    {
        if (!isPersistent())
            return std::nullopt;
        sync();
        QSqlQuery query(QSqlDatabase::database(connection(), false));
        query.prepare(QStringLiteral("SELECT %1 FROM sessions WHERE id = ?").arg(SessionColumns));
        query.addBindValue(id);
        if (!query.exec() || !query.next())
            return std::nullopt;
        return sessionFrom(query);
    }

    QList<FrameRecord> RecordingStore::frames(const qint64 session, const int limit, const qint64 afterSeq) const
    {
        QList<FrameRecord> result;
        if (!isPersistent())
            return result;
        sync();
        QSqlQuery query(QSqlDatabase::database(connection(), false));
        query.setForwardOnly(true);
        query.prepare(QStringLiteral("SELECT seq, at_ms, direction, kind, bytes, payload, close_code, closed_by_client "
                                     "FROM frames WHERE session_id = ? AND seq > ? ORDER BY seq LIMIT ?"));
        query.addBindValue(session);
        query.addBindValue(afterSeq);
        query.addBindValue(limit);
        if (!query.exec())
        {
            qCWarning(lcRecording).noquote() << "cannot read:" << query.lastError().text();
            return result;
        }
        while (query.next())
        {
            FrameRecord frame;
            frame.sequence = query.value(0).toLongLong();
            frame.at = timeFrom(query.value(1));
            frame.direction = (query.value(2).toString() == u"out") ? FrameDirection::Out : FrameDirection::In;
            const QString kind = query.value(3).toString();
            frame.kind = (kind == u"ping")    ? FrameKind::Ping
                         : (kind == u"pong")  ? FrameKind::Pong
                         : (kind == u"close") ? FrameKind::Close
                                              : FrameKind::Text;
            frame.payloadBytes = query.value(4).toLongLong();
            frame.payload = query.value(5).toByteArray();
            frame.closeCode = static_cast<quint16>(query.value(6).toInt());
            frame.closedByClient = (query.value(7).toInt() != 0);
            result.append(frame);
        }
        return result;
    }

    qint64 RecordingStore::frameCount(const qint64 session) const
    {
        if (!isPersistent())
            return 0;
        sync();
        QSqlQuery query(QSqlDatabase::database(connection(), false));
        if (session == 0)
            query.prepare(QStringLiteral("SELECT COUNT(*) FROM frames"));
        else
        {
            query.prepare(QStringLiteral("SELECT COUNT(*) FROM frames WHERE session_id = ?"));
            query.addBindValue(session);
        }
        if (!query.exec() || !query.next())
            return 0;
        return query.value(0).toLongLong();
    }

    QList<RecordedLockEvent> RecordingStore::lockEvents(const QString &workflowId, const int limit) const
    {
        QList<RecordedLockEvent> result;
        if (!isPersistent())
            return result;
        QSqlQuery query(QSqlDatabase::database(connection(), false));
        query.setForwardOnly(true);
        // The newest `limit`, handed back oldest first.
        query.prepare(QStringLiteral("SELECT * FROM (SELECT id, at_ms, state, holder, fence, ttl_ms, close_code FROM "
                                     "lock_events WHERE workflow_id = ? ORDER BY id DESC LIMIT ?) ORDER BY id"));
        query.addBindValue(workflowId);
        query.addBindValue(limit);
        if (!query.exec())
        {
            qCWarning(lcRecording).noquote() << "cannot read:" << query.lastError().text();
            return result;
        }
        while (query.next())
        {
            result.append(RecordedLockEvent{.id = query.value(0).toLongLong(),
                                            .workflowId = workflowId,
                                            .at = timeFrom(query.value(1)),
                                            .state = query.value(2).toString(),
                                            .holder = query.value(3).toString(),
                                            .fence = query.value(4).toLongLong(),
                                            .ttlMs = query.value(5).toLongLong(),
                                            .closeCode = codeFrom(query.value(6))});
        }
        return result;
    }

    QList<RecordedRace> RecordingStore::races(const int limit) const
    {
        QList<RecordedRace> result;
        if (!isPersistent())
            return result;
        QSqlQuery query(QSqlDatabase::database(connection(), false));
        query.setForwardOnly(true);
        query.prepare(QStringLiteral("SELECT id, at_ms, workflow_id, flow, gateway, sessions, rounds, findings, passed "
                                     "FROM races ORDER BY id DESC LIMIT ?"));
        query.addBindValue(limit);
        if (!query.exec())
        {
            qCWarning(lcRecording).noquote() << "cannot read:" << query.lastError().text();
            return result;
        }
        while (query.next())
        {
            result.append(RecordedRace{.id = query.value(0).toLongLong(),
                                       .at = timeFrom(query.value(1)),
                                       .workflowId = query.value(2).toString(),
                                       .flow = query.value(3).toString(),
                                       .gateway = query.value(4).toString(),
                                       .sessions = query.value(5).toInt(),
                                       .rounds = query.value(6).toInt(),
                                       .findings = query.value(7).toInt(),
                                       .passed = (query.value(8).toInt() != 0)});
        }
        return result;
    }

    QJsonObject RecordingStore::raceReport(const qint64 race) const
    {
        if (!isPersistent())
            return {};
        QSqlQuery query(QSqlDatabase::database(connection(), false));
        query.prepare(QStringLiteral("SELECT report FROM races WHERE id = ?"));
        query.addBindValue(race);
        if (!query.exec() || !query.next())
            return {};
        return QJsonDocument::fromJson(query.value(0).toByteArray()).object();
    }

    QJsonObject RecordingStore::exportSession(const qint64 session) const
    {
        const std::optional<RecordedSession> s = this->session(session);
        if (!s)
            return {};
        return exportOf(s->workflowId, {*s}, QStringLiteral("session"));
    }

    QJsonObject RecordingStore::exportWorkflow(const QString &workflowId) const
    {
        QList<RecordedSession> list = sessions(workflowId, std::numeric_limits<int>::max());
        std::reverse(list.begin(), list.end());  // oldest first, as they happened
        return exportOf(workflowId, list, QStringLiteral("workflow"));
    }

    QJsonObject RecordingStore::exportOf(const QString &workflowId, const QList<RecordedSession> &sessions,
                                         const QString &kind) const
    {
        // A session's export holds what happened while it was open; a workflow's, everything.
        QDateTime from;
        QDateTime until;
        if (kind == u"session" && !sessions.isEmpty())
        {
            from = sessions.constFirst().startedAt;
            until = sessions.constFirst().closedAt;
        }
        const auto inRange = [&from, &until](const QDateTime &at) {
            return (!from.isValid() || (at >= from)) && (!until.isValid() || (at <= until));
        };

        // The gateway as the newest session saw it; replicas from /healthz and the lock holders.
        QJsonObject seen;
        QStringList replicas;
        const auto addReplica = [&replicas](const QString &replica) {
            if (!replica.isEmpty() && !replicas.contains(replica))
                replicas.append(replica);
        };
        QJsonArray sessionArray;
        for (const RecordedSession &s : sessions)
        {
            if (!s.gateway.isEmpty())
                seen = s.gateway;
            addReplica(s.gateway.value(QStringLiteral("replica")).toString());
            QJsonArray frameArray;
            for (const FrameRecord &frame : frames(s.id))
                frameArray.append(frameToJson(frame));
            sessionArray.append(QJsonObject{{QStringLiteral("label"), s.label},
                                            {QStringLiteral("startedAt"), isoTime(s.startedAt)},
                                            {QStringLiteral("closedAt"), isoTime(s.closedAt)},
                                            {QStringLiteral("closeCode"), optionalJson(s.closeCode)},
                                            {QStringLiteral("closeReason"), s.closeReason},
                                            {QStringLiteral("frames"), frameArray},
                                            {QStringLiteral("totals"), totalsToJson(s.totals)}});
        }
        QJsonArray lockArray;
        for (const RecordedLockEvent &event : lockEvents(workflowId, std::numeric_limits<int>::max()))
        {
            if (!inRange(event.at))
                continue;
            addReplica(LockHolder::parse(event.holder).replica);
            lockArray.append(QJsonObject{{QStringLiteral("at"), isoTime(event.at)},
                                         {QStringLiteral("state"), event.state},
                                         {QStringLiteral("holder"), event.holder},
                                         {QStringLiteral("fence"), event.fence},
                                         {QStringLiteral("ttlMs"), event.ttlMs}});
        }
        QJsonArray historyArray;
        if (m_history)
        {
            QList<HistoryEntry> entries = m_history->entries(workflowId, std::numeric_limits<int>::max());
            std::reverse(entries.begin(), entries.end());
            for (const HistoryEntry &entry : std::as_const(entries))
            {
                if (!inRange(entry.at))
                    continue;
                historyArray.append(QJsonObject{{QStringLiteral("at"), isoTime(entry.at)},
                                                {QStringLiteral("kind"), toString(entry.kind)},
                                                {QStringLiteral("text"), entry.text}});
            }
        }
        const auto valueOrNull = [&seen](const QString &key) {
            return seen.contains(key) ? seen.value(key) : QJsonValue();
        };
        const QJsonObject gateway{
            {QStringLiteral("url"), valueOrNull(QStringLiteral("url"))},
            {QStringLiteral("version"), valueOrNull(QStringLiteral("version"))},
            {QStringLiteral("replicas"), QJsonArray::fromStringList(replicas)},
            {QStringLiteral("lockStore"), valueOrNull(QStringLiteral("lockStore"))},
            {QStringLiteral("store"), valueOrNull(QStringLiteral("store"))},
            {QStringLiteral("switches"),
             QJsonObject{{QStringLiteral("lockEnabled"), valueOrNull(QStringLiteral("lockEnabled"))},
                         {QStringLiteral("casGuards"), valueOrNull(QStringLiteral("casGuards"))},
                         {QStringLiteral("fencing"), valueOrNull(QStringLiteral("fencing"))}}},
        };
        return QJsonObject{
            {QStringLiteral("schemaVersion"), 1},
            {QStringLiteral("kind"), kind},
            {QStringLiteral("generatedAt"), isoTime(QDateTime::currentDateTimeUtc())},
            {QStringLiteral("console"), QJsonObject{{QStringLiteral("version"), QStringLiteral(LOCKSTEP_VERSION)}}},
            {QStringLiteral("gateway"), gateway},
            // The anomaly checker (core/race) reads recorded histories; until it runs here: none.
            {QStringLiteral("findings"), QJsonArray()},
            {QStringLiteral("workflowID"), workflowId},
            {QStringLiteral("sessions"), sessionArray},
            {QStringLiteral("lockEvents"), lockArray},
            {QStringLiteral("history"), historyArray},
        };
    }
}  // namespace Lockstep::Ui
