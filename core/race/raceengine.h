#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>

#include <QElapsedTimer>
#include <QJsonObject>
#include <QList>
#include <QObject>
#include <QString>
#include <QUrl>

#include "race/racereport.h"

class QNetworkAccessManager;
class QNetworkReply;
class QTimer;

namespace Lockstep::Race
{
    // What one session of a round sends and when (--again repeats a report's).
    struct SessionPlan
    {
        int offsetMs = 0;
        QString message;
    };
    using RoundPlan = QList<SessionPlan>;

    struct RaceOptions
    {
        QUrl webSocketUrl;  // ws[s]://HOST:PORT/api/v1/ws; the HTTP API is on the same host and port
        QString token;      // bearer token; never logged
        QString caFile;     // extra trusted CA (PEM) for wss/https
        bool verifyPeer = true;
        RaceSpec spec;
        // Per round, per session: offsets and messages. Empty: random offsets in
        // 0..spreadMs and "race round R session S". Otherwise one plan a round.
        QList<RoundPlan> plan;
        // A round whose sessions have not all closed by then is ended: the
        // sessions still open are closed by the client ("round timeout").
        std::chrono::milliseconds roundTimeout{120000};
        // Keep every session's frames (SessionRecord::frameLog) for the frame
        // inspector. Off for `lockstep race`: the report has counts only, and
        // 1 000 rounds × 64 sessions of frames would be hundreds of MB.
        bool keepFrames = false;
        std::chrono::milliseconds httpTimeout{30000};
        QString consoleVersion = QStringLiteral(LOCKSTEP_VERSION);  // this build
        QJsonObject previous;  // --again: RaceReport::asPrevious() of the repeated report

        // What --again (and the console's "Run again") runs: `report`'s race with
        // its sessions' offsets and messages, compared with it. The gateway URL
        // is the recorded one; set webSocketUrl and token to race another.
        static RaceOptions repeating(const RaceReport &report);
    };

    // The race runner: N sessions send a startRequest to one workflow within a
    // spread, round after round; every session's frames, close and execution
    // are recorded, then the anomaly checker reads the history. Asynchronous on
    // the caller's event loop (no thread of its own); the websockets are the
    // console's Beast client (Transport::WebSocketClient: it reports 1013 as sent).
    //
    // A round: (--flow: POST /api/v1/workflows) -> GET the run (its status
    // before) -> open every session and wait until all are connected -> each
    // sends its startRequest at its offset -> every session closed (or the round
    // timeout) -> GET .../chat and GET the run (final entries, status, fence).
    // A session "ran" when the gateway sent it a newCheckpoint or a runStatus
    // `running`: the gateway adds a driving session to the run's feed only in
    // Drive::startExecution(), after its CAS resume succeeded, so refused
    // sessions (1013, 4409, 4404) never get either. Its execution lasts from that
    // first frame to its close (the gateway closes the driving session when the
    // execution ends).
    class RaceEngine final : public QObject
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(RaceEngine)

    public:
        explicit RaceEngine(RaceOptions options, QObject *parent = nullptr);
        ~RaceEngine() override;

        // Starts (once). roundFinished() per round, then finished(); or failed()
        // when the race cannot go on (gateway unreachable, workflow not found, ...).
        void start();
        // Stops after closing the sessions of the current round; finished() follows
        // with the rounds completed so far.
        void cancel();
        bool isRunning() const;
        const RaceReport &report() const;

    signals:
        void roundFinished(const Lockstep::Race::RoundRecord &round);
        void finished(const Lockstep::Race::RaceReport &report);
        void failed(const QString &message);

    private:
        class RoundSession;
        using JsonDone = std::function<void(int status, const QJsonDocument &body, const QString &error)>;

        void request(const QByteArray &method, const QString &path, const QJsonObject &body, JsonDone done);
        void readHealth();
        void startRound();
        void openSessions(const QString &statusBefore);
        void sessionConnected();
        void sessionEnded();
        void roundTimedOut();
        void giveUpLater();
        void readFinalState();
        void finishRound(const QJsonDocument &chat, const QJsonDocument &run);
        void finish();
        void fail(const QString &message);
        void noteReplica(const QString &replica);

        RaceOptions m_options;
        QUrl m_httpBase;
        std::unique_ptr<QNetworkAccessManager> m_http;
        RaceReport m_report;
        QList<RoundSession *> m_sessions;  // the current round's; children
        RoundRecord m_round;
        QTimer *m_roundTimer = nullptr;
        QElapsedTimer m_clock;
        int m_open = 0;
        bool m_sending = false;
        bool m_started = false;
        bool m_running = false;
        bool m_cancelled = false;
    };
}  // namespace Lockstep::Race
