#include "samplereports.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>

namespace Lockstep::Test
{
    namespace
    {
        constexpr qint64 Start = 1'732'650'000'000;  // 2024-11-26T19:40:00Z

        QJsonObject gateway(bool lockEnabled, bool casGuards, const QString &url)
        {
            return QJsonObject{
                {QStringLiteral("url"), url},
                {QStringLiteral("version"), QStringLiteral("0.12.0")},
                {QStringLiteral("replicas"), QJsonArray{QStringLiteral("r1")}},
                {QStringLiteral("lockStore"), QStringLiteral("memory")},
                {QStringLiteral("store"), QStringLiteral("sqlite")},
                {QStringLiteral("switches"), QJsonObject{{QStringLiteral("lockEnabled"), lockEnabled},
                                                         {QStringLiteral("casGuards"), casGuards},
                                                         {QStringLiteral("fencing"), true}}},
            };
        }

        QJsonObject top(const QString &kind, const QJsonObject &gatewayObject)
        {
            return QJsonObject{
                {QStringLiteral("schemaVersion"), 1},
                {QStringLiteral("kind"), kind},
                {QStringLiteral("generatedAt"), isoAt(Start + 600'000)},
                {QStringLiteral("console"), QJsonObject{{QStringLiteral("version"), QStringLiteral("0.12.0")}}},
                {QStringLiteral("gateway"), gatewayObject},
            };
        }

        QJsonObject summary(int rounds, int oneRunner, int minRunners, int maxRunners, int findings)
        {
            return QJsonObject{
                {QStringLiteral("rounds"), rounds},
                {QStringLiteral("roundsWithOneRunner"), oneRunner},
                {QStringLiteral("minRunners"), minRunners},
                {QStringLiteral("maxRunners"), maxRunners},
                {QStringLiteral("findings"), findings},
                {QStringLiteral("passed"), (oneRunner == rounds) && (findings == 0)},
                {QStringLiteral("roundsPerSecond"), 0.75},
            };
        }
    }  // namespace

    QString isoAt(const qint64 msSinceEpoch)
    {
        return QDateTime::fromMSecsSinceEpoch(msSinceEpoch, Qt::UTC).toString(Qt::ISODateWithMs);
    }

    QJsonObject raceReport(const RaceSample &sample)
    {
        QJsonObject report = top(QStringLiteral("race"), gateway(sample.lockEnabled, sample.casGuards,
                                                                 QStringLiteral("ws://127.0.0.1:8080/api/v1/ws")));
        report.insert(QStringLiteral("race"), QJsonObject{{QStringLiteral("workflowID"), QJsonValue::Null},
                                                          {QStringLiteral("flow"), QStringLiteral("hello")},
                                                          {QStringLiteral("sessions"), sample.sessions},
                                                          {QStringLiteral("rounds"), sample.rounds},
                                                          {QStringLiteral("spreadMs"), 50}});
        QJsonArray rounds;
        QJsonArray findings;
        QJsonArray previousRounds;
        int oneRunner = 0;
        int minRunners = sample.sessions;
        int maxRunners = 0;
        for (int r = 0; r < sample.rounds; ++r)
        {
            const qint64 t0 = Start + (r * 2000);
            const bool twice = sample.doubleRounds.contains(r);
            const int runners = twice ? 2 : 1;
            QJsonArray sessions;
            for (int s = 0; s < sample.sessions; ++s)
            {
                const bool ran = (s == 0) || (twice && (s == 1));
                const qint64 sent = t0 + 20 + (s * 25);
                const qint64 closed = ran ? (t0 + 1300 + (s * 40)) : (sent + 4);
                const QString id = QStringLiteral("m-%1-%2").arg(r).arg(s);
                sessions.append(QJsonObject{
                    {QStringLiteral("index"), s},
                    {QStringLiteral("offsetMs"), s * 25},
                    {QStringLiteral("message"), sample.message},
                    {QStringLiteral("replica"), QStringLiteral("r1")},
                    {QStringLiteral("connectedAt"), isoAt(t0 + 5)},
                    {QStringLiteral("sentAt"), isoAt(sent)},
                    {QStringLiteral("closedAt"), isoAt(closed)},
                    {QStringLiteral("closeCode"), ran ? 1000 : 1013},
                    {QStringLiteral("closeReason"),
                     ran ? QStringLiteral("input_required") : QStringLiteral("Failed to acquire lock on workflow")},
                    {QStringLiteral("closedBy"), QStringLiteral("server")},
                    {QStringLiteral("ran"), ran},
                    {QStringLiteral("outcome"), ran ? QStringLiteral("ran") : QStringLiteral("already_running")},
                    {QStringLiteral("executionStart"), ran ? QJsonValue(isoAt(sent + 3)) : QJsonValue()},
                    {QStringLiteral("executionEnd"), ran ? QJsonValue(isoAt(closed - 2)) : QJsonValue()},
                    {QStringLiteral("entriesSeen"), ran ? QJsonArray{id} : QJsonArray{}},
                    {QStringLiteral("fences"), ran ? QJsonArray{r + 1} : QJsonArray{}},
                    {QStringLiteral("bytesIn"), ran ? 2400 : 0},
                    {QStringLiteral("bytesOut"), 180},
                    {QStringLiteral("frames"), ran ? 9 : 2},
                });
            }
            rounds.append(QJsonObject{
                {QStringLiteral("index"), r},
                {QStringLiteral("workflowID"), QStringLiteral("race-%1").arg(r)},
                {QStringLiteral("startedAt"), isoAt(t0)},
                {QStringLiteral("finishedAt"), isoAt(t0 + 1500)},
                {QStringLiteral("runners"), runners},
                {QStringLiteral("finalStatus"), QStringLiteral("input_required")},
                {QStringLiteral("finalFence"), r + 1},
                {QStringLiteral("finalEntries"), QJsonArray{QStringLiteral("m-%1-0").arg(r)}},
                {QStringLiteral("sessions"), sessions},
            });
            previousRounds.append(QJsonObject{{QStringLiteral("index"), r}, {QStringLiteral("runners"), 1}});
            if (twice)
            {
                findings.append(QJsonObject{
                    {QStringLiteral("kind"), QStringLiteral("overlapping_executions")},
                    {QStringLiteral("detail"), QStringLiteral("Sessions 0 and 1 ran at once: %1").arg(sample.message)},
                    {QStringLiteral("round"), r},
                    {QStringLiteral("sessions"), QJsonArray{0, 1}},
                    {QStringLiteral("entries"), QJsonArray{}},
                    {QStringLiteral("at"), isoAt(t0 + 48)},
                    {QStringLiteral("until"), isoAt(t0 + 1298)},
                });
                findings.append(QJsonObject{
                    {QStringLiteral("kind"), QStringLiteral("lost_entries")},
                    {QStringLiteral("detail"), QStringLiteral("Session 1 saw an entry the final chat log lacks")},
                    {QStringLiteral("round"), r},
                    {QStringLiteral("sessions"), QJsonArray{1}},
                    {QStringLiteral("entries"), QJsonArray{QStringLiteral("m-%1-1").arg(r)}},
                    {QStringLiteral("at"), isoAt(t0 + 1340)},
                });
            }
            oneRunner += (runners == 1) ? 1 : 0;
            minRunners = std::min(minRunners, runners);
            maxRunners = std::max(maxRunners, runners);
        }
        report.insert(QStringLiteral("rounds"), rounds);
        report.insert(QStringLiteral("findings"), findings);
        report.insert(QStringLiteral("summary"),
                      summary(sample.rounds, oneRunner, minRunners, maxRunners, static_cast<int>(findings.size())));
        if (sample.withPrevious)
            report.insert(QStringLiteral("previous"),
                          QJsonObject{{QStringLiteral("gateway"),
                                       gateway(true, true, QStringLiteral("ws://staging.example:8080/api/v1/ws"))},
                                      {QStringLiteral("summary"), summary(sample.rounds, sample.rounds, 1, 1, 0)},
                                      {QStringLiteral("rounds"), previousRounds}});
        return report;
    }

    QJsonObject exportReport(const QString &kind)
    {
        QJsonObject report = top(kind, gateway(true, true, QStringLiteral("ws://127.0.0.1:8080/api/v1/ws")));
        report.insert(QStringLiteral("workflowID"), QStringLiteral("hello-1"));
        report.insert(QStringLiteral("findings"), QJsonArray{});
        const auto frame = [](int seq, qint64 at, const QString &direction, const QString &frameKind,
                              const QString &payload) {
            return QJsonObject{{QStringLiteral("seq"), seq},
                               {QStringLiteral("at"), isoAt(at)},
                               {QStringLiteral("direction"), direction},
                               {QStringLiteral("kind"), frameKind},
                               {QStringLiteral("bytes"), static_cast<int>(payload.toUtf8().size())},
                               {QStringLiteral("payload"), payload}};
        };
        const auto session = [&frame](const QString &label, qint64 t0, int code, const QString &reason) {
            QJsonObject close = frame(4, t0 + 1300, QStringLiteral("in"), QStringLiteral("close"), reason);
            close.insert(QStringLiteral("closeCode"), code);
            close.insert(QStringLiteral("closedBy"), QStringLiteral("server"));
            const QString big = QStringLiteral("{\"newCheckpoint\":{\"status\":\"RUNNING\",\"checkpoint\":\"%1\"}}")
                                    .arg(QString(600, QLatin1Char('x')));
            return QJsonObject{
                {QStringLiteral("label"), label},
                {QStringLiteral("startedAt"), isoAt(t0)},
                {QStringLiteral("closedAt"), isoAt(t0 + 1300)},
                {QStringLiteral("closeCode"), code},
                {QStringLiteral("closeReason"), reason},
                {QStringLiteral("frames"),
                 QJsonArray{
                     frame(
                         1, t0 + 2, QStringLiteral("out"), QStringLiteral("text"),
                         QStringLiteral(
                             "{\"startRequest\":{\"workflowID\":\"hello-1\",\"goal\":\"<script>alert(1)</script>\"}}")),
                     frame(2, t0 + 40, QStringLiteral("in"), QStringLiteral("text"), big),
                     frame(3, t0 + 600, QStringLiteral("in"), QStringLiteral("ping"), QString()), close}},
                {QStringLiteral("totals"), QJsonObject{{QStringLiteral("framesIn"), 3},
                                                       {QStringLiteral("framesOut"), 1},
                                                       {QStringLiteral("bytesIn"), 700},
                                                       {QStringLiteral("bytesOut"), 80},
                                                       {QStringLiteral("pings"), 1},
                                                       {QStringLiteral("pongs"), 1}}},
            };
        };
        QJsonArray sessions{session(QStringLiteral("tab 1 · driving"), Start, 1000, QStringLiteral("input_required"))};
        if (kind == u"workflow")
            sessions.append(session(QStringLiteral("tab 2 · driving"), Start + 200, 1013,
                                    QStringLiteral("Failed to acquire lock on workflow")));
        report.insert(QStringLiteral("sessions"), sessions);
        const auto lockEvent = [](qint64 at, const QString &state, const QString &holder, qint64 fence) {
            return QJsonObject{{QStringLiteral("at"), isoAt(at)},
                               {QStringLiteral("state"), state},
                               {QStringLiteral("holder"), holder.isEmpty() ? QJsonValue() : QJsonValue(holder)},
                               {QStringLiteral("fence"), fence},
                               {QStringLiteral("ttlMs"), 3000}};
        };
        report.insert(QStringLiteral("lockEvents"),
                      QJsonArray{lockEvent(Start + 10, QStringLiteral("acquired"), QStringLiteral("r1#1"), 7),
                                 lockEvent(Start + 210, QStringLiteral("refused"), QString(), 7),
                                 lockEvent(Start + 1010, QStringLiteral("refreshed"), QStringLiteral("r1#1"), 7),
                                 lockEvent(Start + 2010, QStringLiteral("refreshed"), QStringLiteral("r1#1"), 7),
                                 lockEvent(Start + 2500, QStringLiteral("lost"), QStringLiteral("r1#1"), 7),
                                 lockEvent(Start + 2600, QStringLiteral("acquired"), QStringLiteral("r2#4"), 8),
                                 lockEvent(Start + 3600, QStringLiteral("refreshed"), QStringLiteral("r2#4"), 8),
                                 lockEvent(Start + 4200, QStringLiteral("released"), QStringLiteral("r2#4"), 8)});
        report.insert(
            QStringLiteral("history"),
            QJsonArray{QJsonObject{{QStringLiteral("at"), isoAt(Start + 1300)},
                                   {QStringLiteral("kind"), QStringLiteral("outcome")},
                                   {QStringLiteral("text"), QStringLiteral("Send: sent — the run continues")}},
                       QJsonObject{{QStringLiteral("at"), isoAt(Start + 1500)},
                                   {QStringLiteral("kind"), QStringLiteral("outcome")},
                                   {QStringLiteral("text"), QStringLiteral("Send: already running (1013)")}}});
        return report;
    }
}  // namespace Lockstep::Test
