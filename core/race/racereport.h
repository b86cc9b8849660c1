#pragma once

#include <memory>
#include <optional>

#include <QDateTime>
#include <QHash>
#include <QJsonObject>
#include <QList>
#include <QMetaType>
#include <QString>
#include <QStringList>

#include "common/result.h"
#include "transport/framelog.h"

// The record of a race: what `lockstep race` writes as JSON, what --again
// reads back and what the anomaly checker reads. toJson()/fromJson() follow
// the report contract (docs/report.schema.json) field by field. A few things
// the checker uses are kept in memory only (marked "not in the JSON"): the
// contract has no field for them, so a report read back from a file is
// checked without them.
namespace Lockstep::Race
{
    inline constexpr int SchemaVersion = 1;

    // ISO 8601 UTC with milliseconds and "Z"; a null QDateTime is written as null.
    QString isoTime(const QDateTime &time);

    struct RaceSpec
    {
        QString workflowId;  // race on this workflow, or (empty) ...
        QString flow;        // ... on a new workflow of this flow every round
        int sessions = 2;
        int rounds = 1;
        int spreadMs = 0;

        bool operator==(const RaceSpec &) const = default;
    };

    struct GatewaySwitches
    {
        bool lockEnabled = true;
        bool casGuards = true;
        bool fencing = true;

        // From a /healthz answer (a switch it does not name is on).
        static GatewaySwitches fromHealth(const QJsonObject &health);
        bool allOn() const;

        bool operator==(const GatewaySwitches &) const = default;
    };

    struct GatewayInfo
    {
        QString url;  // ws://HOST:PORT/api/v1/ws
        QString version;
        QStringList replicas;  // from /healthz and the lock holders seen
        QString lockStore;     // "redis" | "memory"
        QString store;         // "sqlite" | "postgresql"
        GatewaySwitches switches;

        bool operator==(const GatewayInfo &) const = default;
    };

    enum class ClosedBy
    {
        Server,
        Client,
        Lost,    // no close frame: the connection dropped
        Failed,  // never connected
    };
    QString toString(ClosedBy closedBy);  // "server", ...

    enum class SessionOutcome
    {
        Ran,
        AlreadyRunning,  // 1013
        NotResumable,    // 4409
        Closed,          // any other close
        Failed,          // never connected
    };
    QString toString(SessionOutcome outcome);  // "ran", "already_running", ...

    struct FenceSeen
    {
        qint64 fence = 0;
        QDateTime at;

        bool operator==(const FenceSeen &) const = default;
    };

    struct SessionRecord
    {
        int index = 0;
        int offsetMs = 0;  // when it sent, from the round start (--again reuses it)
        QString message;   // the goal it sent
        QString replica;   // from the lock holder it saw; empty: null
        QDateTime connectedAt;
        QDateTime sentAt;
        QDateTime closedAt;
        int closeCode = 0;
        QString closeReason;
        ClosedBy closedBy = ClosedBy::Server;
        bool ran = false;
        SessionOutcome outcome = SessionOutcome::Closed;
        QDateTime executionStart;
        QDateTime executionEnd;
        QStringList entriesSeen;  // message_ids, first-seen order
        QList<FenceSeen> fences;  // in the JSON: the fences only, in order
        qint64 bytesIn = 0;       // every byte read from the socket (upgrade, frame headers, TLS included)
        qint64 bytesOut = 0;      // every byte written to it
        qint64 frames = 0;        // frames in and out: text, ping, pong, close
        // Not in the JSON: the frames themselves, for the frame inspector.
        std::shared_ptr<Transport::FrameLog> frameLog;
        // Not in the JSON: the latest content seen per message_id (an entry
        // overwritten by another execution keeps its ID but not its content).
        QHash<QString, QString> entryContents;

        bool operator==(const SessionRecord &) const = default;
    };

    struct RoundRecord
    {
        int index = 0;
        QString workflowId;
        QDateTime startedAt;
        QDateTime finishedAt;
        int runners = 0;
        QString finalStatus;  // empty: not read (null)
        std::optional<qint64> finalFence;
        QStringList finalEntries;  // GET .../chat after the round
        // false: that GET failed (e.g. the gateway died with the round), so
        // finalEntries says nothing and no entry can be called lost. Not in the
        // JSON: a loaded report keeps the findings it was written with.
        bool finalChatRead = true;
        QList<SessionRecord> sessions;
        // Not in the JSON: the run's status before the round (empty: unknown)
        // and the final content per message_id.
        QString statusBefore;
        QHash<QString, QString> finalContents;

        bool operator==(const RoundRecord &) const = default;
    };

    enum class FindingKind
    {
        OverlappingExecutions,
        LostEntries,
        FenceDown,
        ResumedFinalRun,
        CancelNoop,
    };
    QString toString(FindingKind kind);  // "overlapping_executions", ...
    std::optional<FindingKind> findingKindFromString(const QString &text);

    struct Finding
    {
        FindingKind kind = FindingKind::OverlappingExecutions;
        QString detail;  // one readable sentence
        std::optional<int> round;
        QList<int> sessions;
        QStringList entries;
        QDateTime at;
        QDateTime until;  // null: not written

        bool operator==(const Finding &) const = default;
    };

    struct RaceSummary
    {
        int rounds = 0;
        int roundsWithOneRunner = 0;
        int minRunners = 0;
        int maxRunners = 0;
        int findings = 0;
        bool passed = false;  // every round had exactly one runner and nothing was found
        double roundsPerSecond = 0;
    };

    struct RaceReport
    {
        QDateTime generatedAt;
        QString consoleVersion;
        GatewayInfo gateway;
        QList<Finding> findings;
        RaceSpec race;
        QList<RoundRecord> rounds;
        double roundsPerSecond = 0;
        // --again: {"gateway", "summary", "rounds": [{"index", "runners"}]} of the repeated report.
        QJsonObject previous;

        RaceSummary summary() const;
        QJsonObject toJson() const;
        // Checks the shape and types of every field the race needs; the error
        // names the field ("rounds[2].sessions[0].offsetMs: ...").
        static Result<RaceReport, QString> fromJson(const QJsonObject &object);
        // Reads and checks a report file (for --again); the error is one line naming the file.
        static Result<RaceReport, QString> load(const QString &path);
        // The "previous" object of a report that repeats this one.
        QJsonObject asPrevious() const;
    };
}  // namespace Lockstep::Race

Q_DECLARE_METATYPE(Lockstep::Race::RoundRecord)
Q_DECLARE_METATYPE(Lockstep::Race::RaceReport)
