#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include "gatewayprocess.h"
#include "race/raceengine.h"

using namespace Lockstep;
using namespace Lockstep::Race;
using namespace Lockstep::Test;

// The race engine in-process against a real gateway, for what the command's
// tests cannot reach: a round that does not end by itself ends at the round
// timeout (the client closes, no finding, no hang), cancel() stops after the
// current round, and a race that cannot run says why.
class TestRaceEngine : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    std::unique_ptr<GatewayProcess> m_gateway;

    RaceOptions options(const QString &flow, const int sessions, const int rounds) const
    {
        RaceOptions options;
        options.webSocketUrl = m_gateway->webSocketUrl();
        options.token = m_gateway->token();
        options.spec = RaceSpec{.workflowId = {}, .flow = flow, .sessions = sessions, .rounds = rounds, .spreadMs = 0};
        options.consoleVersion = QStringLiteral("test");
        return options;
    }

private slots:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        // `long` runs for minutes at scale 1; `hello` about 130 ms at 0.1.
        m_gateway = startGatewayOn(QStringLiteral("sqlite:") + m_dir.filePath(QStringLiteral("engine.db")),
                                   {QStringLiteral("--step-delay-scale"), QStringLiteral("0.1")});
        QVERIFY(m_gateway);
    }

    void roundTimeoutClosesTheSessions()
    {
        RaceOptions longRace = options(QStringLiteral("long"), 2, 1);
        longRace.roundTimeout = std::chrono::milliseconds(1500);
        RaceEngine engine(longRace);
        QSignalSpy finished(&engine, &RaceEngine::finished);
        QSignalSpy failed(&engine, &RaceEngine::failed);
        engine.start();
        QVERIFY(finished.wait(20000));
        QCOMPARE(failed.count(), 0);
        const RaceReport report = finished.constFirst().constFirst().value<RaceReport>();
        QCOMPARE(report.rounds.size(), 1);
        const RoundRecord &round = report.rounds.constFirst();
        QCOMPARE(round.runners, 1);
        for (const SessionRecord &session : round.sessions)
        {
            if (session.ran)
            {
                // The runner was still running: we closed it.
                QCOMPARE(toString(session.closedBy), QStringLiteral("client"));
                QCOMPARE(session.closeReason, QStringLiteral("round timeout"));
                QVERIFY(session.executionEnd.isValid());
            }
            else
                QCOMPARE(session.closeCode, 1013);
        }
        QVERIFY(report.findings.isEmpty());
        // The gateway left the run as a closed tab leaves it.
        QTRY_COMPARE_WITH_TIMEOUT(runOf(*m_gateway, round.workflowId).value(u"status").toString(),
                                  QStringLiteral("paused"), 10000);
    }

    void cancelStopsAfterTheRound()
    {
        RaceEngine engine(options(QStringLiteral("hello"), 2, 50));
        QSignalSpy finished(&engine, &RaceEngine::finished);
        connect(&engine, &RaceEngine::roundFinished, &engine, [&engine](const RoundRecord &) { engine.cancel(); });
        engine.start();
        QVERIFY(finished.wait(30000));
        const RaceReport report = finished.constFirst().constFirst().value<RaceReport>();
        QCOMPARE(report.rounds.size(), 1);
        QVERIFY(!engine.isRunning());
    }

    void missingWorkflowFails()
    {
        RaceOptions missing = options({}, 2, 1);
        missing.spec.workflowId = QStringLiteral("no-such-workflow");
        RaceEngine engine(missing);
        QSignalSpy finished(&engine, &RaceEngine::finished);
        QSignalSpy failed(&engine, &RaceEngine::failed);
        engine.start();
        QVERIFY(failed.wait(30000));
        QVERIFY2(failed.constFirst().constFirst().toString().contains(u"not found"),
                 qPrintable(failed.constFirst().constFirst().toString()));
        QCOMPARE(finished.count(), 0);
    }
};

QTEST_GUILESS_MAIN(TestRaceEngine)
#include "tst_raceengine.moc"
