#pragma once

#include <QJsonObject>
#include <QString>

#include "reportschema.h"

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

    // ISO 8601 UTC with milliseconds and "Z", as every report timestamp.
    QString isoAt(qint64 msSinceEpoch);
}  // namespace Lockstep::Test
