#pragma once

#include <chrono>
#include <memory>
#include <optional>

#include <QDateTime>
#include <QHash>
#include <QJsonObject>
#include <QList>
#include <QObject>
#include <QPointer>
#include <QString>
#include <QTimer>

#include "transport/framelog.h"

namespace Lockstep::Ui
{
    class HistoryStore;
    class FrameWriter;

    // A recorded websocket session of the console.
    struct RecordedSession
    {
        qint64 id = 0;
        QString workflowId;
        QString label;        // "live", "drive", "race r3 s2"
        QJsonObject gateway;  // {"url", and what /healthz said: "version", "replica", ...}
        QDateTime startedAt;
        QDateTime closedAt;                // null while open (or never closed: the console died)
        std::optional<quint16> closeCode;  // unset: no close frame (lost, failed)
        QString closeReason;
        QString closedBy;  // "server", "client", "lost", "failed"; empty while open
        Transport::FrameLog::Totals totals;
    };

    // How a session ended.
    struct SessionEnd
    {
        QDateTime at;  // null: now
        std::optional<quint16> code;
        QString reason;
        QString closedBy;  // "server", "client", "lost", "failed"
    };

    // A lock event of a workflow: a lockStatus the console saw (the wire's
    // states) or one it derived: "expired" (no heartbeat within the TTL) and
    // "refused" (a driving session got 1013; closeCode says so).
    struct RecordedLockEvent
    {
        qint64 id = 0;
        QString workflowId;
        QDateTime at;
        QString state;  // acquired, refreshed, lost, released, unavailable, expired, refused
        QString holder;
        qint64 fence = 0;
        qint64 ttlMs = 0;
        std::optional<quint16> closeCode;

        bool operator==(const RecordedLockEvent &) const = default;
    };

    // The summary columns of a recorded race; the report itself is raceReport().
    struct RecordedRace
    {
        qint64 id = 0;
        QDateTime at;  // the report's generatedAt
        QString workflowId;
        QString flow;
        QString gateway;  // its URL
        int sessions = 0;
        int rounds = 0;
        int findings = 0;
        bool passed = false;
    };

    // A workflow that has recordings, newest activity first.
    struct RecordedWorkflow
    {
        QString workflowId;
        QDateTime lastAt;
        int sessions = 0;
        int lockEvents = 0;
    };

    // The console's recordings: sessions with their frames, lock events and
    // races, in the tables of schema 2 of the history database, on the
    // HistoryStore's own connection (same thread, same file, one owner of the
    // schema and of the limits: HistoryStore::prune() prunes these too).
    // A class of its own so HistoryStore stays the small history of outcomes.
    //
    // Frames are buffered and handed to a writer thread (its own connection
    // on the same file) in one transaction per flush: on a timer
    // (flushInterval) and when the buffer reaches FlushAtFrames. Writing
    // 1 000 frames takes ~10 ms and a WAL checkpoint up to ~90 ms
    // (bench_recording): too long for the GUI thread, nothing for the
    // writer. A read, endSession() and a prune wait for the writer first.
    //
    // When the history database could not be opened nothing is recorded:
    // isPersistent() is false and every reader answers empty.
    class RecordingStore final : public QObject
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(RecordingStore)

    public:
        static constexpr int FlushAtFrames = 2000;
        static constexpr std::chrono::milliseconds DefaultFlushInterval{250};

        explicit RecordingStore(HistoryStore *history, QObject *parent = nullptr,
                                std::chrono::milliseconds flushInterval = DefaultFlushInterval);
        ~RecordingStore() override;

        bool isPersistent() const;
        HistoryStore *history() const;

        // ---- writing ----
        // A new session; returns its id (0: not recorded).
        qint64 beginSession(const QString &workflowId, const QString &label, const QJsonObject &gateway,
                            const QDateTime &at = {});
        // Buffered; frames of a session id that is not open are dropped.
        void appendFrames(qint64 session, const QList<Transport::FrameRecord> &frames);
        void appendFrame(qint64 session, const Transport::FrameRecord &frame);
        void endSession(qint64 session, const SessionEnd &end);
        void recordLockEvent(const RecordedLockEvent &event);
        // Stores a race report (the JSON of issue 12's contract) as is, with
        // its summary columns; returns its id (0: not recorded).
        qint64 recordRace(const QJsonObject &report);
        // Hands the buffered frames to the writer now (one transaction); does not wait.
        void flush();
        // flush(), then waits until the writer has written everything.
        void sync() const;
        // Frames buffered here, not yet handed to the writer.
        int pendingFrames() const;

        // ---- reading (flushes first) ----
        QList<RecordedWorkflow> workflows() const;
        // Newest first; an empty workflowId: every workflow.
        QList<RecordedSession> sessions(const QString &workflowId = {}, int limit = 1000) const;
        std::optional<RecordedSession> session(qint64 id) const;
        // In order of seq, from the first after `afterSeq`; limit < 0: all.
        QList<Transport::FrameRecord> frames(qint64 session, int limit = -1, qint64 afterSeq = 0) const;
        qint64 frameCount(qint64 session = 0) const;  // 0: every session
        // Oldest first.
        QList<RecordedLockEvent> lockEvents(const QString &workflowId, int limit = 10000) const;
        // Newest first.
        QList<RecordedRace> races(int limit = 1000) const;
        QJsonObject raceReport(qint64 race) const;

        // ---- export (issue 12's report contract, kind "session" / "workflow") ----
        QJsonObject exportSession(qint64 session) const;
        QJsonObject exportWorkflow(const QString &workflowId) const;

    signals:
        // A session, lock event or race was written (the browser refreshes).
        void changed();

    private:
        struct Pending
        {
            qint64 session = 0;
            Transport::FrameRecord frame;
        };
        friend class FrameWriter;

        QString connection() const;
        void post() const;
        QJsonObject exportOf(const QString &workflowId, const QList<RecordedSession> &sessions,
                             const QString &kind) const;

        QPointer<HistoryStore> m_history;
        // Written from const readers too (a read flushes first).
        mutable QList<Pending> m_pending;
        mutable QHash<qint64, Transport::FrameLog::Totals> m_open;  // open sessions' totals so far
        mutable QTimer m_flushTimer;
        std::unique_ptr<FrameWriter> m_writer;  // null: not persistent
    };

    // The fields of the contract's "frames" entries, for one frame.
    QJsonObject frameToJson(const Transport::FrameRecord &frame);
    // ISO 8601 UTC with milliseconds and "Z"; null for an invalid time.
    QJsonValue isoTime(const QDateTime &at);
}  // namespace Lockstep::Ui
