#include <functional>

#include <QJsonArray>
#include <QJsonObject>
#include <QtTest>

#include "samplereports.h"

using namespace Lockstep;

// docs/report.schema.json: the reports the race engine and the recordings
// write validate, and the schema refuses a report that breaks the contract
// (missing field, bad enum, typo, wrong timestamp), with the reason named.
class tst_ReportSchema : public QObject
{
    Q_OBJECT

private:
    using Edit = std::function<void(QJsonObject &)>;

    // Edits a nested object in place: QJsonObject holds values, not references.
    static void editRound(QJsonObject &report, int round, const std::function<void(QJsonObject &)> &edit)
    {
        QJsonArray rounds = report.value(u"rounds").toArray();
        QJsonObject object = rounds.at(round).toObject();
        edit(object);
        rounds.replace(round, object);
        report.insert(QStringLiteral("rounds"), rounds);
    }

    static void editSession(QJsonObject &report, int round, int session, const std::function<void(QJsonObject &)> &edit)
    {
        editRound(report, round, [&](QJsonObject &roundObject) {
            QJsonArray sessions = roundObject.value(u"sessions").toArray();
            QJsonObject object = sessions.at(session).toObject();
            edit(object);
            sessions.replace(session, object);
            roundObject.insert(QStringLiteral("sessions"), sessions);
        });
    }

    static void editFrame(QJsonObject &report, int frame, const std::function<void(QJsonObject &)> &edit)
    {
        QJsonArray sessions = report.value(u"sessions").toArray();
        QJsonObject session = sessions.at(0).toObject();
        QJsonArray frames = session.value(u"frames").toArray();
        QJsonObject object = frames.at(frame).toObject();
        edit(object);
        frames.replace(frame, object);
        session.insert(QStringLiteral("frames"), frames);
        sessions.replace(0, session);
        report.insert(QStringLiteral("sessions"), sessions);
    }

private slots:
    void samplesValidate_data()
    {
        QTest::addColumn<QJsonObject>("report");
        QTest::newRow("race, lock on") << Test::raceReport({});
        QTest::newRow("race, lock off, findings") << Test::raceReport(
            {.rounds = 4, .sessions = 3, .doubleRounds = {1, 3}, .lockEnabled = false, .casGuards = false});
        QTest::newRow("race again, with previous") << Test::raceReport({.doubleRounds = {2}, .withPrevious = true});
        QTest::newRow("session export") << Test::exportReport(QStringLiteral("session"));
        QTest::newRow("workflow export") << Test::exportReport(QStringLiteral("workflow"));
    }

    void samplesValidate()
    {
        QFETCH(QJsonObject, report);
        const Test::Validation verdict = Test::validateReport(report);
        QVERIFY2(verdict.exitCode == 0, qPrintable(verdict.output));
    }

    void schemaBites_data()
    {
        QTest::addColumn<QJsonObject>("report");
        QTest::addColumn<QString>("expected");  // what the error names
        const QJsonObject race = Test::raceReport({.doubleRounds = {1}});
        const QJsonObject workflow = Test::exportReport(QStringLiteral("workflow"));
        const auto edited = [](QJsonObject report, const Edit &edit) {
            edit(report);
            return report;
        };

        QTest::newRow("race without summary")
            << edited(race, [](QJsonObject &r) { r.remove(QStringLiteral("summary")); })
            << QStringLiteral("'summary' is a required property");
        QTest::newRow("no console version")
            << edited(race, [](QJsonObject &r) { r.insert(QStringLiteral("console"), QJsonObject{}); })
            << QStringLiteral("'version' is a required property");
        QTest::newRow("unknown kind") << edited(race, [](QJsonObject &r) {
            r.insert(QStringLiteral("kind"), QStringLiteral("races"));
        }) << QStringLiteral("'races' is not one of");
        QTest::newRow("schema version 2")
            << edited(race, [](QJsonObject &r) { r.insert(QStringLiteral("schemaVersion"), 2); })
            << QStringLiteral("1 was expected");
        QTest::newRow("unknown finding kind") << edited(race, [](QJsonObject &r) {
            QJsonArray findings = r.value(u"findings").toArray();
            QJsonObject finding = findings.at(0).toObject();
            finding.insert(QStringLiteral("kind"), QStringLiteral("double_run"));
            findings.replace(0, finding);
            r.insert(QStringLiteral("findings"), findings);
        }) << QStringLiteral("'double_run' is not one of");
        QTest::newRow("race finding without round") << edited(race, [](QJsonObject &r) {
            QJsonArray findings = r.value(u"findings").toArray();
            QJsonObject finding = findings.at(0).toObject();
            finding.remove(QStringLiteral("round"));
            findings.replace(0, finding);
            r.insert(QStringLiteral("findings"), findings);
        }) << QStringLiteral("'round' is a required property");
        QTest::newRow("bad outcome") << edited(race, [](QJsonObject &r) {
            editSession(r, 0, 1, [](QJsonObject &s) { s.insert(QStringLiteral("outcome"), QStringLiteral("won")); });
        }) << QStringLiteral("'won' is not one of");
        QTest::newRow("bad closedBy") << edited(race, [](QJsonObject &r) {
            editSession(r, 0, 0,
                        [](QJsonObject &s) { s.insert(QStringLiteral("closedBy"), QStringLiteral("nobody")); });
        }) << QStringLiteral("'nobody' is not one of");
        QTest::newRow("session without ran") << edited(race, [](QJsonObject &r) {
            editSession(r, 1, 0, [](QJsonObject &s) { s.remove(QStringLiteral("ran")); });
        }) << QStringLiteral("'ran' is a required property");
        QTest::newRow("typo in a round") << edited(race, [](QJsonObject &r) {
            editRound(r, 0, [](QJsonObject &round) {
                round.insert(QStringLiteral("runner"), round.take(QStringLiteral("runners")));
            });
        }) << QStringLiteral("'runners' is a required property");
        QTest::newRow("timestamp without milliseconds") << edited(race, [](QJsonObject &r) {
            r.insert(QStringLiteral("generatedAt"), QStringLiteral("2024-11-26T19:40:00Z"));
        }) << QStringLiteral("does not match");
        QTest::newRow("switch not a boolean") << edited(race, [](QJsonObject &r) {
            QJsonObject gateway = r.value(u"gateway").toObject();
            QJsonObject switches = gateway.value(u"switches").toObject();
            switches.insert(QStringLiteral("lockEnabled"), QStringLiteral("off"));
            gateway.insert(QStringLiteral("switches"), switches);
            r.insert(QStringLiteral("gateway"), gateway);
        }) << QStringLiteral("is not of type 'boolean'");
        QTest::newRow("race with a session export's field")
            << edited(race, [](QJsonObject &r) { r.insert(QStringLiteral("lockEvents"), QJsonArray{}); })
            << QStringLiteral("False schema does not allow");
        QTest::newRow("workflow without lock events")
            << edited(workflow, [](QJsonObject &r) { r.remove(QStringLiteral("lockEvents")); })
            << QStringLiteral("'lockEvents' is a required property");
        QTest::newRow("workflow export with race rounds")
            << edited(workflow, [](QJsonObject &r) { r.insert(QStringLiteral("rounds"), QJsonArray{}); })
            << QStringLiteral("False schema does not allow");
        QTest::newRow("close frame without its code") << edited(workflow, [](QJsonObject &r) {
            editFrame(r, 3, [](QJsonObject &f) { f.remove(QStringLiteral("closeCode")); });
        }) << QStringLiteral("'closeCode' is a required property");
        QTest::newRow("bad frame direction") << edited(workflow, [](QJsonObject &r) {
            editFrame(r, 0, [](QJsonObject &f) { f.insert(QStringLiteral("direction"), QStringLiteral("up")); });
        }) << QStringLiteral("'up' is not one of");
        QTest::newRow("bad lock state") << edited(workflow, [](QJsonObject &r) {
            QJsonArray events = r.value(u"lockEvents").toArray();
            QJsonObject event = events.at(0).toObject();
            event.insert(QStringLiteral("state"), QStringLiteral("held"));
            events.replace(0, event);
            r.insert(QStringLiteral("lockEvents"), events);
        }) << QStringLiteral("'held' is not one of");
    }

    void schemaBites()
    {
        QFETCH(QJsonObject, report);
        QFETCH(QString, expected);
        const Test::Validation verdict = Test::validateReport(report);
        // 3: the schema said no (1 would be a crash of the check itself).
        QVERIFY2(verdict.exitCode == 3,
                 qPrintable(QStringLiteral("exit %1: %2").arg(verdict.exitCode).arg(verdict.output)));
        QVERIFY2(verdict.output.contains(expected), qPrintable(verdict.output));
    }
};

QTEST_GUILESS_MAIN(tst_ReportSchema)
#include "tst_reportschema.moc"
