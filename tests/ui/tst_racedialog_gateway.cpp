#include <QAction>
#include <QApplication>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QSignalSpy>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>
#include <QTreeWidget>

#include "frameinspector.h"
#include "framesession.h"
#include "frametablemodel.h"
#include "mainwindow.h"
#include "racedialog.h"
#include "recordingstore.h"
#include "reportschema.h"
#include "testgateway.h"
#include "theme.h"

using namespace std::chrono_literals;
using namespace Lockstep;
using namespace Lockstep::Ui;

// The console's race window (Workflow → Race…) against real gateways: the
// same engine as `lockstep race` (tested as a process in tests/race), seen
// through the window: rounds, sessions, findings, the switches banner, Run
// again with its comparison, and the exports.
class TestRaceDialogGateway : public QObject
{
    Q_OBJECT

private slots:
    void lockOnEveryRoundHasOneRunner();
    void lockOffShowsBannerAndRedRounds();

private:
    // The flow runs clearly longer than the spread (hello ≈ 325 ms at 0.25, spread 30 ms):
    // with the lock on, a later session always finds the run locked, never finished.
    static QStringList slowFlows()
    {
        return {QStringLiteral("--step-delay-scale"), QStringLiteral("0.25")};
    }
    static bool waitForRace(RaceDialog *dialog, QSignalSpy &finished)
    {
        return QTest::qWaitFor([&] { return !finished.isEmpty() && !dialog->isRunning(); }, 120000);
    }
    static bool roundIsRed(const QTableWidget *table, int row)
    {
        return table->item(row, 0)->background().color() == Theme::toneBackground(Theme::Tone::Bad, table->palette());
    }
};

void TestRaceDialogGateway::lockOnEveryRoundHasOneRunner()
{
    Test::TestGateway gateway;
    QVERIFY(gateway.start(slowFlows()));
    QTemporaryDir dir;
    MainWindow window(gateway.consoleOptions(dir.filePath(QStringLiteral("settings.ini")), {}));
    QVERIFY(Test::showConsole(window));
    QVERIFY(window.action(QStringLiteral("raceAction")));

    RaceDialog *dialog = window.showRace();
    QVERIFY(dialog->isVisible());
    QVERIFY(window.showRace() == dialog);  // one race window
    QTest::qWait(300);                     // the /healthz answer: every switch on, so no banner
    QVERIFY(dialog->switchesBanner()->isHidden());
    dialog->setFlowTarget(QStringLiteral("hello"));
    dialog->setSessions(4);
    dialog->setRounds(5);
    dialog->setSpreadMs(30);
    QSignalSpy finished(dialog, &RaceDialog::raceFinished);
    dialog->run();
    QVERIFY(dialog->isRunning());
    QVERIFY(waitForRace(dialog, finished));

    const Race::RaceReport report = dialog->lastReport();  // a copy: Run again replaces it
    QCOMPARE(report.rounds.size(), 5);
    QVERIFY2(report.findings.isEmpty(), qPrintable(report.findings.value(0).detail));
    QTableWidget *rounds = dialog->roundsTable();
    QCOMPARE(rounds->rowCount(), 5);
    for (int row = 0; row < 5; ++row)
    {
        QCOMPARE(rounds->item(row, 2)->data(Qt::DisplayRole).toInt(), 1);  // runners
        QCOMPARE(rounds->item(row, 4)->data(Qt::DisplayRole).toInt(), 3);  // the other three got 1013
        QVERIFY(!roundIsRed(rounds, row));
    }
    QVERIFY(dialog->switchesBanner()->isHidden());
    QVERIFY(dialog->summaryLabel()->text().contains(QStringLiteral("passed")));

    // The sessions of the selected round: one ran, three were refused with 1013.
    rounds->selectRow(2);
    QTableWidget *sessions = dialog->sessionsTable();
    QCOMPARE(sessions->rowCount(), 4);
    int lockHeld = 0;
    for (int row = 0; row < sessions->rowCount(); ++row)
        lockHeld += sessions->item(row, 3)->text().startsWith(QStringLiteral("1013 ")) ? 1 : 0;
    QCOMPARE(lockHeld, 3);

    // Every frame of every race session is kept: a 1013 session's last frame is
    // the server's close, and the wire counts cover more than the payloads.
    for (const Race::SessionRecord &session : report.rounds.at(2).sessions)
    {
        QVERIFY(session.frameLog);
        const auto &frames = session.frameLog->frames();
        QCOMPARE(qint64(frames.size()), session.frames);
        QVERIFY(session.bytesIn > session.frameLog->totals().payloadBytesIn);
        QVERIFY(session.bytesOut > session.frameLog->totals().payloadBytesOut);
        const auto close = std::find_if(frames.begin(), frames.end(), [](const Transport::FrameRecord &frame) {
            return (frame.kind == Transport::FrameKind::Close) && (frame.direction == Transport::FrameDirection::In);
        });
        QVERIFY(close != frames.end());
        QCOMPARE(int(close->closeCode), session.closeCode);
        QVERIFY(!close->closedByClient);
    }
    sessions->selectRow(1);
    FrameInspector *inspector = dialog->showFrames();
    QVERIFY(inspector);
    QVERIFY(inspector->isVisible());
    QVERIFY(inspector->currentSession());
    QCOMPARE(qint64(inspector->currentSession()->log().frames().size()), report.rounds.at(2).sessions.at(1).frames);
    QCOMPARE(inspector->frameModel()->rowCount(), int(report.rounds.at(2).sessions.at(1).frames));

    // Run again: the same offsets and messages, and the comparison with the first race.
    QVERIFY(dialog->comparisonTable()->isHidden());
    dialog->runAgain();
    QVERIFY(waitForRace(dialog, finished));
    const Race::RaceReport &again = dialog->lastReport();
    QCOMPARE(again.rounds.size(), 5);
    QVERIFY(!again.previous.isEmpty());
    QCOMPARE(again.rounds.at(3).sessions.at(1).offsetMs, report.rounds.at(3).sessions.at(1).offsetMs);
    QCOMPARE(again.rounds.at(3).sessions.at(1).message, report.rounds.at(3).sessions.at(1).message);
    QVERIFY(again.rounds.at(3).workflowId != report.rounds.at(3).workflowId);  // --flow: new workflows
    QVERIFY(dialog->comparisonTable()->isVisible());
    QVERIFY(dialog->comparisonTable()->rowCount() > 5);

    // Both races are in the console's recordings, reports and all.
    const auto races = window.recordings()->races();
    QCOMPARE(races.size(), 2);
    QStringList recorded;
    for (const auto &race : races)
        recorded << window.recordings()
                        ->raceReport(race.id)
                        .value(u"rounds")
                        .toArray()
                        .at(4)
                        .toObject()
                        .value(u"workflowID")
                        .toString();
    QVERIFY(recorded.contains(report.rounds.at(4).workflowId));
    QVERIFY(recorded.contains(again.rounds.at(4).workflowId));

    // Exports: the JSON reads back as the same race, the HTML is one page.
    QString error;
    const QString json = dir.filePath(QStringLiteral("race.json"));
    QVERIFY2(dialog->exportJson(json, &error), qPrintable(error));
    const Test::Validation verdict = Test::validateReport(again.toJson());
    QVERIFY2(verdict.exitCode == 0, qPrintable(verdict.output));
    const auto loaded = Race::RaceReport::load(json);
    QVERIFY2(loaded, qPrintable(loaded ? QString() : loaded.error()));
    QCOMPARE(loaded->rounds.size(), 5);
    QCOMPARE(loaded->rounds.at(4).workflowId, again.rounds.at(4).workflowId);
    const QString html = dir.filePath(QStringLiteral("race.html"));
    QVERIFY2(dialog->exportHtml(html, &error), qPrintable(error));
    QFile page(html);
    QVERIFY(page.open(QIODevice::ReadOnly));
    const QByteArray body = page.readAll();
    QVERIFY(body.startsWith("<!DOCTYPE html>") || body.startsWith("<!doctype html>"));
    QVERIFY(body.contains(again.rounds.at(4).workflowId.toUtf8()));

    // A loaded report can be run again too; a broken one says why.
    QVERIFY(!dialog->loadReport(dir.filePath(QStringLiteral("missing.json")), &error));
    QVERIFY(!error.isEmpty());
    QVERIFY2(dialog->loadReport(json, &error), qPrintable(error));
    QCOMPARE(dialog->roundsTable()->rowCount(), 5);
}

void TestRaceDialogGateway::lockOffShowsBannerAndRedRounds()
{
    Test::TestGateway gateway;
    QVERIFY(gateway.start(
        slowFlows() + QStringList{QStringLiteral("--no-lock-concurrent-flows"), QStringLiteral("--no-cas-guards")}));
    QTemporaryDir dir;
    MainWindow window(gateway.consoleOptions(dir.filePath(QStringLiteral("settings.ini")), {}));
    QVERIFY(Test::showConsole(window));
    RaceDialog *dialog = window.showRace();
    // The switches come from /healthz as soon as the window opens, before any race.
    QVERIFY(QTest::qWaitFor([dialog] { return dialog->switchesBanner()->isVisible(); }, 10000));
    dialog->setFlowTarget(QStringLiteral("hello"));
    dialog->setSessions(4);
    dialog->setRounds(3);
    dialog->setSpreadMs(0);
    QSignalSpy finished(dialog, &RaceDialog::raceFinished);
    dialog->run();
    QVERIFY(waitForRace(dialog, finished));

    QVERIFY(dialog->switchesBanner()->isVisible());
    QVERIFY(dialog->switchesBanner()->text().contains(QStringLiteral("--no-lock-concurrent-flows")));
    QVERIFY(dialog->switchesBanner()->text().contains(QStringLiteral("--no-cas-guards")));
    const Race::RaceReport &report = dialog->lastReport();
    QVERIFY(report.summary().maxRunners > 1);
    QVERIFY(!report.summary().passed);
    bool someRed = false;
    for (int row = 0; row < dialog->roundsTable()->rowCount(); ++row)
    {
        const bool wrong = dialog->roundsTable()->item(row, 2)->data(Qt::DisplayRole).toInt() != 1;
        if (wrong)
            QVERIFY(roundIsRed(dialog->roundsTable(), row));
        someRed = someRed || wrong;
    }
    QVERIFY(someRed);
    QVERIFY(dialog->findingsView()->topLevelItemCount() > 0);
    QCOMPARE(dialog->findingsView()->topLevelItem(0)->text(0), QStringLiteral("overlapping_executions"));
    QVERIFY(dialog->summaryLabel()->text().contains(QStringLiteral("FAILED")));

    // The chat entries of a round with several runners, side by side: a column per
    // runner and one for the final log, each entry a runner saw is listed.
    int wrongRow = 0;
    while (report.rounds.at(wrongRow).runners < 2)
        ++wrongRow;
    dialog->roundsTable()->selectRow(wrongRow);
    const Race::RoundRecord &round = report.rounds.at(wrongRow);
    QTableWidget *entries = dialog->entriesTable();
    QCOMPARE(entries->columnCount(), round.runners + 2);
    QStringList listed;
    for (int row = 0; row < entries->rowCount(); ++row)
        listed << entries->item(row, 0)->text();
    for (const Race::SessionRecord &session : round.sessions)
    {
        for (const QString &id : session.entriesSeen)
            QVERIFY2(listed.contains(id), qPrintable(id));
    }
}

QTEST_MAIN(TestRaceDialogGateway)
#include "tst_racedialog_gateway.moc"
