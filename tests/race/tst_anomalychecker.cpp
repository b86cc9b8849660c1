#include <QJsonArray>
#include <QJsonDocument>
#include <QTemporaryDir>
#include <QTest>

#include "race/anomalychecker.h"
#include "race/racereport.h"

using namespace Lockstep::Race;

// The anomaly checker over synthetic histories: each finding kind is found
// where it is, with the sessions, entries and times involved, and nothing is
// found on a clean history. Also the report's JSON: what toJson() writes,
// fromJson() reads back, and a bad file is refused naming the field.
class TestAnomalyChecker : public QObject
{
    Q_OBJECT

private:
    static QDateTime at(const int ms)
    {
        return QDateTime::fromMSecsSinceEpoch(1'700'000'000'000 + ms, Qt::UTC);
    }

    // A session that ran from `start` to `end` (ms) and saw `entries` (content = id).
    static SessionRecord runner(const int index, const int start, const int end, const QStringList &entries = {},
                                const QList<qint64> &fences = {})
    {
        SessionRecord session;
        session.index = index;
        session.message = QStringLiteral("race session %1").arg(index);
        session.connectedAt = at(start - 10);
        session.sentAt = at(start - 5);
        session.ran = true;
        session.outcome = SessionOutcome::Ran;
        session.executionStart = at(start);
        session.executionEnd = at(end);
        session.closedAt = at(end);
        session.closeCode = 1000;
        session.closeReason = QStringLiteral("input_required");
        session.entriesSeen = entries;
        for (const QString &id : entries)
            session.entryContents.insert(id, id);
        for (const qint64 fence : fences)
            session.fences.append(FenceSeen{.fence = fence, .at = at(start)});
        return session;
    }

    static SessionRecord refused(const int index, const int when)
    {
        SessionRecord session;
        session.index = index;
        session.message = QStringLiteral("race session %1").arg(index);
        session.connectedAt = at(when - 10);
        session.sentAt = at(when);
        session.closedAt = at(when + 1);
        session.closeCode = 1013;
        session.closeReason = QStringLiteral("Failed to acquire lock on workflow");
        session.outcome = SessionOutcome::AlreadyRunning;
        return session;
    }

    static RoundRecord round(const int index, const QList<SessionRecord> &sessions, const QStringList &final,
                             const std::optional<qint64> finalFence = std::nullopt,
                             const QString &workflow = QStringLiteral("wf-1"))
    {
        RoundRecord record;
        record.index = index;
        record.workflowId = workflow;
        record.sessions = sessions;
        record.startedAt = at(index * 10000);
        record.finishedAt = at(index * 10000 + 5000);
        record.finalStatus = QStringLiteral("input_required");
        record.statusBefore = QStringLiteral("input_required");
        record.finalFence = finalFence;
        record.finalEntries = final;
        for (const QString &id : final)
            record.finalContents.insert(id, id);
        for (const SessionRecord &session : sessions)
            record.runners += session.ran ? 1 : 0;
        return record;
    }

    // Two clean rounds on one workflow: one runner each, sequential, fences growing.
    static QList<RoundRecord> cleanRounds()
    {
        const QStringList first{QStringLiteral("t1-user"), QStringLiteral("t1-s0")};
        const QStringList second = first + QStringList{QStringLiteral("t2-user"), QStringLiteral("t2-s0")};
        return {round(0, {runner(0, 100, 500, first, {1}), refused(1, 120)}, first, 1),
                round(1, {refused(0, 10110), runner(1, 10100, 10500, second, {2})}, second, 2)};
    }

    static QList<Finding> ofKind(const QList<Finding> &findings, const FindingKind kind)
    {
        QList<Finding> found;
        for (const Finding &finding : findings)
        {
            if (finding.kind == kind)
                found << finding;
        }
        return found;
    }

private slots:
    void cleanHistoryHasNoFindings()
    {
        const QList<Finding> findings = checkRounds(cleanRounds());
        QVERIFY2(findings.isEmpty(), qPrintable(findings.value(0).detail));
        // A cancel that did stop the run is no finding, nor is a no-op reported as one.
        History history{.rounds = cleanRounds(), .cancels = {}};
        history.cancels.append(CancelResult{.round = 0,
                                            .session = 0,
                                            .workflowId = QStringLiteral("wf-1"),
                                            .at = at(300),
                                            .outcome = QStringLiteral("cancelled"),
                                            .statusBefore = QStringLiteral("running"),
                                            .statusAfter = QStringLiteral("stopped")});
        history.cancels.append(CancelResult{.round = 1,
                                            .session = 1,
                                            .workflowId = QStringLiteral("wf-1"),
                                            .at = at(10600),
                                            .outcome = QStringLiteral("noop"),
                                            .statusBefore = QStringLiteral("stopped"),
                                            .statusAfter = QStringLiteral("stopped")});
        QVERIFY(checkHistory(history).isEmpty());
    }

    void overlappingExecutions()
    {
        const QStringList entries{QStringLiteral("t1-user")};
        // Sessions 0 and 2 overlap (300..400); session 1 starts exactly when 0 ends: no overlap.
        const QList<RoundRecord> rounds{round(
            0, {runner(0, 100, 400, entries), runner(1, 400, 900, entries), runner(2, 300, 350, entries)}, entries)};
        const QList<Finding> found = ofKind(checkRounds(rounds), FindingKind::OverlappingExecutions);
        QCOMPARE(found.size(), 1);
        QCOMPARE(found.constFirst().sessions, (QList<int>{0, 2}));
        QCOMPARE(found.constFirst().round, std::optional<int>(0));
        QCOMPARE(found.constFirst().at, at(300));
        QCOMPARE(found.constFirst().until, at(350));
        QVERIFY(found.constFirst().detail.contains(u"wf-1"));

        // Across rounds of one workflow too; other workflows never overlap with it.
        QList<RoundRecord> across = cleanRounds();
        across[1].sessions[1] = runner(1, 400, 10500, {}, {2});
        across.append(round(2, {runner(0, 200, 600)}, {}, std::nullopt, QStringLiteral("wf-other")));
        const QList<Finding> crossRound = ofKind(checkRounds(across), FindingKind::OverlappingExecutions);
        QCOMPARE(crossRound.size(), 1);
        QCOMPARE(crossRound.constFirst().sessions, (QList<int>{0, 1}));
        QVERIFY(crossRound.constFirst().detail.contains(u"round 1"));
    }

    void lostEntries()
    {
        QList<RoundRecord> rounds = cleanRounds();
        // Session 0 of round 1 saw t1-s0 and t2-x, the final log lost t2-x.
        rounds[1].sessions[0] = runner(0, 10100, 10200, {QStringLiteral("t1-s0"), QStringLiteral("t2-x")});
        rounds[1].sessions[1] = runner(1, 10300, 10500, rounds[1].finalEntries, {2});
        rounds[1].runners = 2;
        // Session 1 of round 0 saw t1-user with its own content; the final log has it overwritten.
        rounds[0].sessions[1] = runner(1, 600, 700, {QStringLiteral("t1-user")});
        rounds[0].sessions[1].entryContents.insert(QStringLiteral("t1-user"), QStringLiteral("my message"));

        const QList<Finding> found = ofKind(checkRounds(rounds), FindingKind::LostEntries);
        QCOMPARE(found.size(), 2);
        QCOMPARE(found.at(0).round, std::optional<int>(0));
        QCOMPARE(found.at(0).sessions, QList<int>{1});
        QCOMPARE(found.at(0).entries, QStringList{QStringLiteral("t1-user")});
        QVERIFY(found.at(0).detail.contains(u"overwritten"));
        QCOMPARE(found.at(1).round, std::optional<int>(1));
        QCOMPARE(found.at(1).sessions, QList<int>{0});
        QCOMPARE(found.at(1).entries, QStringList{QStringLiteral("t2-x")});
        QCOMPARE(found.at(1).at, at(10100));
        QVERIFY(found.at(1).detail.contains(u"t2-x"));

        // The gateway died with the round: GET .../chat failed, the final log is
        // unknown, not empty, and nothing is reported lost (seen with a killed replica).
        rounds[1].finalChatRead = false;
        rounds[1].finalEntries.clear();
        const QList<Finding> unread = ofKind(checkRounds(rounds), FindingKind::LostEntries);
        QCOMPARE(unread.size(), 1);
        QCOMPARE(unread.at(0).round, std::optional<int>(0));
    }

    void fenceDown()
    {
        // Round 1 saw fence 1 after round 0 saw fence 5.
        QList<RoundRecord> rounds = cleanRounds();
        rounds[0].sessions[0].fences = {FenceSeen{.fence = 5, .at = at(100)}};
        rounds[0].finalFence = 5;
        const QList<Finding> lower = ofKind(checkRounds(rounds), FindingKind::FenceDown);
        // Round 1's own final fence (2) is what its runner wrote: only the fence seen counts.
        QCOMPARE(lower.size(), 1);
        QCOMPARE(lower.at(0).round, std::optional<int>(1));
        QCOMPARE(lower.at(0).sessions, (QList<int>{1, 0}));
        QCOMPARE(lower.at(0).at, at(10100));
    }

    void finalFenceBelowARunnersFence()
    {
        QList<RoundRecord> rounds = cleanRounds();
        rounds[1].finalFence = 1;  // the runner of round 1 held fence 2
        const QList<Finding> found = ofKind(checkRounds(rounds), FindingKind::FenceDown);
        QCOMPARE(found.size(), 1);
        QCOMPARE(found.constFirst().round, std::optional<int>(1));
        QCOMPARE(found.constFirst().sessions, QList<int>{1});
        QVERIFY(found.constFirst().detail.contains(u"fence 1"));

        // A session that took the lock (fence 3) and was refused wrote nothing: no finding.
        QList<RoundRecord> refusedAfterLock = cleanRounds();
        refusedAfterLock[1].sessions[0].fences = {FenceSeen{.fence = 3, .at = at(10600)}};
        refusedAfterLock[1].sessions[0].closeCode = 4409;
        refusedAfterLock[1].finishedAt = at(10700);
        QVERIFY(ofKind(checkRounds(refusedAfterLock), FindingKind::FenceDown).isEmpty());
    }

    void resumedFinalRun()
    {
        QList<RoundRecord> rounds = cleanRounds();
        rounds[1].statusBefore = QStringLiteral("finished");
        const QList<Finding> found = ofKind(checkRounds(rounds), FindingKind::ResumedFinalRun);
        QCOMPARE(found.size(), 1);
        QCOMPARE(found.constFirst().round, std::optional<int>(1));
        QCOMPARE(found.constFirst().sessions, QList<int>{1});
        QCOMPARE(found.constFirst().at, at(10100));
        // Nobody ran a stopped run: nothing to find.
        rounds[1].sessions[1] = refused(1, 10100);
        rounds[1].statusBefore = QStringLiteral("stopped");
        QVERIFY(ofKind(checkRounds(rounds), FindingKind::ResumedFinalRun).isEmpty());
    }

    void cancelNoop()
    {
        History history{.rounds = cleanRounds(), .cancels = {}};
        // Reported cancelled, the run still running; and reported cancelled on a stopped run.
        history.cancels.append(CancelResult{.round = std::nullopt,
                                            .session = -1,
                                            .workflowId = QStringLiteral("wf-1"),
                                            .at = at(250),
                                            .outcome = QStringLiteral("cancelled"),
                                            .statusBefore = QStringLiteral("running"),
                                            .statusAfter = QStringLiteral("running")});
        history.cancels.append(CancelResult{.round = 1,
                                            .session = 0,
                                            .workflowId = QStringLiteral("wf-1"),
                                            .at = at(10800),
                                            .outcome = QStringLiteral("cancelled"),
                                            .statusBefore = QStringLiteral("stopped"),
                                            .statusAfter = QStringLiteral("stopped")});
        const QList<Finding> found = ofKind(checkHistory(history), FindingKind::CancelNoop);
        QCOMPARE(found.size(), 2);
        QVERIFY(found.at(0).sessions.isEmpty());
        QCOMPARE(found.at(0).at, at(250));
        QVERIFY(found.at(0).detail.contains(u"running to running"));
        QCOMPARE(found.at(1).sessions, QList<int>{0});
        QCOMPARE(found.at(1).round, std::optional<int>(1));
    }

    void reportRoundTrip()
    {
        RaceReport report;
        report.generatedAt = at(99999);
        report.consoleVersion = QStringLiteral("0.1.0");
        report.gateway = GatewayInfo{.url = QStringLiteral("ws://127.0.0.1:1/api/v1/ws"),
                                     .version = QStringLiteral("0.1.0"),
                                     .replicas = {QStringLiteral("r1")},
                                     .lockStore = QStringLiteral("memory"),
                                     .store = QStringLiteral("sqlite"),
                                     .switches = GatewaySwitches{.lockEnabled = true, .casGuards = false}};
        report.race = RaceSpec{.workflowId = QStringLiteral("wf-1"), .sessions = 2, .rounds = 2, .spreadMs = 50};
        report.rounds = cleanRounds();
        report.rounds[0].sessions[0].offsetMs = 17;
        report.rounds[0].sessions[0].replica = QStringLiteral("r1");
        report.roundsPerSecond = 2.5;
        report.findings = checkRounds(report.rounds);
        QJsonObject json = report.toJson();
        QCOMPARE(json.value(u"schemaVersion").toInt(), 1);
        QCOMPARE(json.value(u"kind").toString(), QStringLiteral("race"));
        QCOMPARE(json.value(u"summary").toObject().value(u"passed").toBool(), true);
        QCOMPARE(json.value(u"race").toObject().value(u"flow"), QJsonValue(QJsonValue::Null));
        const QJsonObject session =
            json.value(u"rounds").toArray().at(0).toObject().value(u"sessions").toArray().at(1).toObject();
        QCOMPARE(session.value(u"executionStart"), QJsonValue(QJsonValue::Null));
        QCOMPARE(session.value(u"outcome").toString(), QStringLiteral("already_running"));
        QCOMPARE(session.value(u"sentAt").toString(), QStringLiteral("2023-11-14T22:13:20.120Z"));

        // Through a file, as --again reads it.
        QTemporaryDir dir;
        QFile file(dir.filePath(QStringLiteral("report.json")));
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write(QJsonDocument(json).toJson());
        file.close();
        const auto back = RaceReport::load(file.fileName());
        QVERIFY2(back, qPrintable(back ? QString() : back.error()));
        QCOMPARE(back->toJson(), json);
        QCOMPARE(back->rounds.at(0).sessions.at(0).offsetMs, 17);
        QCOMPARE(back->race, report.race);
        QCOMPARE(back->gateway, report.gateway);

        // A bad field is named.
        QJsonObject bad = json;
        QJsonArray rounds = bad.value(u"rounds").toArray();
        QJsonObject first = rounds.at(0).toObject();
        QJsonArray sessions = first.value(u"sessions").toArray();
        QJsonObject badSession = sessions.at(1).toObject();
        badSession.insert(QStringLiteral("offsetMs"), QStringLiteral("soon"));
        sessions.replace(1, badSession);
        first.insert(QStringLiteral("sessions"), sessions);
        rounds.replace(0, first);
        bad.insert(QStringLiteral("rounds"), rounds);
        const auto refusedReport = RaceReport::fromJson(bad);
        QVERIFY(!refusedReport);
        QVERIFY2(refusedReport.error().startsWith(u"rounds[0].sessions[1].offsetMs:"),
                 qPrintable(refusedReport.error()));

        QJsonObject notRace = json;
        notRace.insert(QStringLiteral("kind"), QStringLiteral("session"));
        QVERIFY(!RaceReport::fromJson(notRace));
        QVERIFY(!RaceReport::load(dir.filePath(QStringLiteral("missing.json"))));
    }
};

QTEST_GUILESS_MAIN(TestAnomalyChecker)
#include "tst_anomalychecker.moc"
