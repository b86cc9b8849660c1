#pragma once

#include <QJsonObject>
#include <QString>

// Reports as docs/report.schema.json describes them, built by hand for the
// report tests: what the race engine and the recordings write, without a gateway.
namespace Lockstep::Test
{
    struct RaceSample
    {
        int rounds = 3;
        int sessions = 2;
        // These rounds had two runners (the lock off) and a lost entry finding.
        QList<int> doubleRounds;
        bool lockEnabled = true;
        bool casGuards = true;
        bool withPrevious = false;
        // Goes into a session's message and a finding's detail (escaping checks).
        QString message = QStringLiteral("Create a file called hello.sh that prints hello");
    };

    QJsonObject raceReport(const RaceSample &sample);
    // kind "session" (one session) or "workflow" (two sessions, a handover, a 1013).
    QJsonObject exportReport(const QString &kind);

    // docs/report.schema.json's verdict on `report`, from python3-jsonschema
    // (/usr/bin/python3 -c …). exitCode 0: valid; 3: invalid, `output` lists
    // each error as "path: message"; anything else: the check itself failed.
    struct Validation
    {
        int exitCode = -1;
        QString output;
    };
    Validation validateReport(const QJsonObject &report);

    // ISO 8601 UTC with milliseconds and "Z", as every report timestamp.
    QString isoAt(qint64 msSinceEpoch);
}  // namespace Lockstep::Test
