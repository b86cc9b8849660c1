#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QProcess>
#include <QProcessEnvironment>
#include <QSet>
#include <QTemporaryDir>
#include <QTest>

#include "gatewayprocess.h"
#include "reportschema.h"

using namespace Lockstep;
using namespace Lockstep::Test;

// `lockstep race` as a process (LOCKSTEP_CONSOLE_BIN) against real gateways
// (LOCKSTEP_GATEWAY_BIN, SQLite store, in-process lock), with no display:
// exit codes, the JSON report, bad arguments, --again, --flow.
//
// Timing: the gateways run `hello` at --step-delay-scale 0.25, about 325 ms
// of steps, while the sessions send within a 50 ms spread. A run clearly
// outlasts the spread, so every session's startRequest arrives while the
// first execution still runs: with the lock on the others must get 1013, and
// with the lock and guards off they must run too. A flow shorter than the
// spread would let a late session start a second turn legitimately after the
// first one ended, and the counts would say nothing.
class TestRaceCommand : public QObject
{
    Q_OBJECT

private:
    struct Outcome
    {
        int exitCode = -1;
        QString out;
        QString err;
    };

    static constexpr int RaceTimeoutMs = 300000;
    QTemporaryDir m_dir;
    std::unique_ptr<GatewayProcess> m_guarded;    // default switches: lock, CAS guards, fencing on
    std::unique_ptr<GatewayProcess> m_unguarded;  // --no-lock-concurrent-flows --no-cas-guards
    int m_files = 0;

    static QString console()
    {
        return qEnvironmentVariable("LOCKSTEP_CONSOLE_BIN");
    }

    static Outcome race(const QStringList &arguments, const QString &token = GatewayTestToken)
    {
        QProcess process;
        QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
        // No display of any kind: a CI job has none.
        for (const char *name : {"DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"})
            environment.remove(QString::fromLatin1(name));
        environment.remove(QStringLiteral("LOCKSTEP_TOKEN"));
        if (!token.isEmpty())
            environment.insert(QStringLiteral("LOCKSTEP_TOKEN"), token);
        process.setProcessEnvironment(environment);
        process.start(console(), QStringList{QStringLiteral("race")} + arguments);
        // The event loop runs meanwhile, not waitForFinished(): the gateways' QProcess
        // must keep draining their logs, or a gateway blocks on a full stderr pipe.
        if (!QTest::qWaitFor([&process] { return process.state() == QProcess::NotRunning; }, RaceTimeoutMs))
        {
            process.kill();
            process.waitForFinished();
            return {};
        }
        return {process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -1,
                QString::fromUtf8(process.readAllStandardOutput()), QString::fromUtf8(process.readAllStandardError())};
    }

    static QJsonObject readJson(const QString &path)
    {
        QFile file(path);
        if (!file.open(QIODevice::ReadOnly))
            return {};
        return QJsonDocument::fromJson(file.readAll()).object();
    }

    // docs/report.schema.json's problems with a report `lockstep race` wrote; empty: valid.
    static QString schemaProblems(const QJsonObject &report)
    {
        const Test::Validation verdict = Test::validateReport(report);
        return (verdict.exitCode == 0) ? QString()
                                       : QStringLiteral("exit %1: %2").arg(verdict.exitCode).arg(verdict.output);
    }

    QString newFile(const QString &suffix)
    {
        return m_dir.filePath(QStringLiteral("report-%1.%2").arg(++m_files).arg(suffix));
    }

    static QString gatewayUrl(const GatewayProcess &gateway)
    {
        return gateway.webSocketUrl().toString();
    }

    static QJsonArray rounds(const QJsonObject &report)
    {
        return report.value(u"rounds").toArray();
    }

    static QList<int> runnersPerRound(const QJsonObject &report)
    {
        QList<int> runners;
        for (const QJsonValue &round : rounds(report))
            runners << round.toObject().value(u"runners").toInt(-1);
        return runners;
    }

    static QStringList findingKinds(const QJsonObject &report)
    {
        QStringList kinds;
        for (const QJsonValue &finding : report.value(u"findings").toArray())
            kinds << finding.toObject().value(u"kind").toString();
        return kinds;
    }

    static QString explain(const Outcome &outcome)
    {
        return QStringLiteral("exit %1\nstdout:\n%2\nstderr:\n%3")
            .arg(outcome.exitCode)
            .arg(outcome.out, outcome.err.right(4000));
    }

    // Every round: exactly one session ran (closed 1000 input_required), the
    // others were refused with 1013 and never ran.
    static void verifyOneRunnerEachRound(const QJsonObject &report, const int sessions)
    {
        for (const QJsonValue &value : rounds(report))
        {
            const QJsonObject round = value.toObject();
            QCOMPARE(round.value(u"runners").toInt(), 1);
            QCOMPARE(round.value(u"finalStatus").toString(), QStringLiteral("input_required"));
            const QJsonArray list = round.value(u"sessions").toArray();
            QCOMPARE(list.size(), sessions);
            int ran = 0;
            for (const QJsonValue &sessionValue : list)
            {
                const QJsonObject session = sessionValue.toObject();
                if (session.value(u"ran").toBool())
                {
                    ++ran;
                    QCOMPARE(session.value(u"closeCode").toInt(), 1000);
                    QCOMPARE(session.value(u"closeReason").toString(), QStringLiteral("input_required"));
                    QCOMPARE(session.value(u"outcome").toString(), QStringLiteral("ran"));
                    QVERIFY(!session.value(u"entriesSeen").toArray().isEmpty());
                    QVERIFY(!session.value(u"fences").toArray().isEmpty());
                }
                else
                {
                    QCOMPARE(session.value(u"closeCode").toInt(), 1013);
                    QCOMPARE(session.value(u"outcome").toString(), QStringLiteral("already_running"));
                    QCOMPARE(session.value(u"closedBy").toString(), QStringLiteral("server"));
                }
                const int offset = session.value(u"offsetMs").toInt(-1);
                QVERIFY(offset >= 0 && offset <= 50);
            }
            QCOMPARE(ran, 1);
        }
    }

private slots:
    void initTestCase()
    {
        QVERIFY2(!console().isEmpty(), "LOCKSTEP_CONSOLE_BIN");
        QVERIFY(m_dir.isValid());
        const QStringList slow{QStringLiteral("--step-delay-scale"), QStringLiteral("0.25"),
                               QStringLiteral("--poll-interval"), QStringLiteral("100ms")};
        m_guarded = startGatewayOn(QStringLiteral("sqlite:") + m_dir.filePath(QStringLiteral("guarded.db")), slow);
        QVERIFY(m_guarded);
        m_unguarded = startGatewayOn(
            QStringLiteral("sqlite:") + m_dir.filePath(QStringLiteral("unguarded.db")),
            slow + QStringList{QStringLiteral("--no-lock-concurrent-flows"), QStringLiteral("--no-cas-guards")});
        QVERIFY(m_unguarded);
    }

    void badArguments_data()
    {
        QTest::addColumn<QStringList>("arguments");
        QTest::addColumn<QString>("mentions");
        const QString gateway = QStringLiteral("ws://127.0.0.1:1/api/v1/ws");
        const QStringList base{QStringLiteral("--gateway"), gateway};
        QTest::newRow("neither workflow nor flow") << base << QStringLiteral("--workflow");
        QTest::newRow("both workflow and flow") << base + QStringList{QStringLiteral("--workflow"), QStringLiteral("w"),
                                                                      QStringLiteral("--flow"), QStringLiteral("hello")}
                                                << QStringLiteral("--flow");
        const QStringList flow = base + QStringList{QStringLiteral("--flow"), QStringLiteral("hello")};
        QTest::newRow("one session") << flow + QStringList{QStringLiteral("--sessions"), QStringLiteral("1")}
                                     << QStringLiteral("--sessions");
        QTest::newRow("65 sessions") << flow + QStringList{QStringLiteral("--sessions"), QStringLiteral("65")}
                                     << QStringLiteral("--sessions");
        QTest::newRow("no rounds") << flow + QStringList{QStringLiteral("--rounds"), QStringLiteral("0")}
                                   << QStringLiteral("--rounds");
        QTest::newRow("1001 rounds") << flow + QStringList{QStringLiteral("--rounds"), QStringLiteral("1001")}
                                     << QStringLiteral("--rounds");
        QTest::newRow("spread 501") << flow + QStringList{QStringLiteral("--spread-ms"), QStringLiteral("501")}
                                    << QStringLiteral("--spread-ms");
        QTest::newRow("spread not a number")
            << flow + QStringList{QStringLiteral("--spread-ms"), QStringLiteral("soon")}
            << QStringLiteral("--spread-ms");
        QTest::newRow("http gateway") << QStringList{QStringLiteral("--gateway"), QStringLiteral("http://x:1"),
                                                     QStringLiteral("--flow"), QStringLiteral("hello")}
                                      << QStringLiteral("--gateway");
        QTest::newRow("no gateway") << QStringList{QStringLiteral("--flow"), QStringLiteral("hello")}
                                    << QStringLiteral("--gateway");
        QTest::newRow("bad workflow ID") << base + QStringList{QStringLiteral("--workflow"), QStringLiteral("a b")}
                                         << QStringLiteral("--workflow");
        QTest::newRow("bad flow name") << base + QStringList{QStringLiteral("--flow"), QStringLiteral("../x")}
                                       << QStringLiteral("--flow");
        QTest::newRow("unknown flag") << flow + QStringList{QStringLiteral("--no-such-flag")}
                                      << QStringLiteral("no-such-flag");
        QTest::newRow("again: no such file")
            << QStringList{QStringLiteral("--again"), QStringLiteral("/nonexistent/report.json")}
            << QStringLiteral("--again");
        QTest::newRow("again with --sessions")
            << QStringList{QStringLiteral("--again"), QStringLiteral("/nonexistent/report.json"),
                           QStringLiteral("--sessions"), QStringLiteral("3")}
            << QStringLiteral("--sessions");
        QTest::newRow("again: not a report") << QStringList{QStringLiteral("--again"), QStringLiteral("NOT_A_REPORT")}
                                             << QStringLiteral("not a usable race report");
    }

    void badArguments()
    {
        QFETCH(QStringList, arguments);
        QFETCH(QString, mentions);
        const qsizetype placeholder = arguments.indexOf(QStringLiteral("NOT_A_REPORT"));
        if (placeholder >= 0)
        {
            // Valid JSON, but a session report, not a race.
            const QString path = newFile(QStringLiteral("json"));
            QFile file(path);
            QVERIFY(file.open(QIODevice::WriteOnly));
            file.write(R"({"schemaVersion": 1, "kind": "session"})");
            file.close();
            arguments[placeholder] = path;
        }
        const Outcome outcome = race(arguments);
        QCOMPARE(outcome.exitCode, 2);
        QStringList lines;
        for (const QString &line : outcome.err.split(u'\n', Qt::SkipEmptyParts))
        {
            if (line.startsWith(u"lockstep: "))
                lines << line;
        }
        QCOMPARE(lines.size(), 1);
        QVERIFY2(lines.constFirst().contains(mentions), qPrintable(outcome.err));
        QVERIFY(outcome.out.isEmpty());
    }

    void noTokenIsABadArgument()
    {
        const Outcome outcome = race(
            {QStringLiteral("--gateway"), gatewayUrl(*m_guarded), QStringLiteral("--flow"), QStringLiteral("hello")},
            QString());
        QCOMPARE(outcome.exitCode, 2);
        QVERIFY2(outcome.err.contains(u"LOCKSTEP_TOKEN"), qPrintable(outcome.err));
    }

    void unreachableGatewayFails()
    {
        const Outcome outcome = race({QStringLiteral("--gateway"), QStringLiteral("ws://127.0.0.1:1/api/v1/ws"),
                                      QStringLiteral("--flow"), QStringLiteral("hello")});
        QCOMPARE(outcome.exitCode, 1);
        QVERIFY2(outcome.err.contains(u"/healthz"), qPrintable(outcome.err));
    }

    // SPEC fix 1 over 100 rounds on one workflow: exactly one runner, every round.
    void lockOnTwoSessionsOneWorkflow()
    {
        const HttpReply created = httpRequest("POST", m_guarded->baseUrl() + QStringLiteral("/api/v1/workflows"),
                                              m_guarded->token(), R"({"goal":"race target","flow":"hello"})");
        QCOMPARE(created.status, 201);
        const QString workflow = created.json.value(u"workflowID").toString();
        const QString json = newFile(QStringLiteral("json"));
        const Outcome outcome =
            race({QStringLiteral("--gateway"), gatewayUrl(*m_guarded), QStringLiteral("--workflow"), workflow,
                  QStringLiteral("--sessions"), QStringLiteral("2"), QStringLiteral("--rounds"), QStringLiteral("100"),
                  QStringLiteral("--spread-ms"), QStringLiteral("50"), QStringLiteral("--json"), json});
        QVERIFY2(outcome.exitCode == 0, qPrintable(explain(outcome)));
        const QJsonObject report = readJson(json);
        const QString reportProblems = schemaProblems(report);
        QVERIFY2(reportProblems.isEmpty(), qPrintable(reportProblems));
        QCOMPARE(rounds(report).size(), 100);
        verifyOneRunnerEachRound(report, 2);
        QCOMPARE(report.value(u"findings").toArray().size(), 0);
        QCOMPARE(report.value(u"summary").toObject().value(u"passed").toBool(), true);
        QCOMPARE(report.value(u"race").toObject().value(u"workflowID").toString(), workflow);
        for (const QJsonValue &round : rounds(report))
            QCOMPARE(round.toObject().value(u"workflowID").toString(), workflow);
        // One turn per round on the one workflow: 100 user messages, all still there.
        const QJsonArray lastEntries = rounds(report).last().toObject().value(u"finalEntries").toArray();
        QVERIFY(lastEntries.contains(QJsonValue(QStringLiteral("t100-user"))));
        const QJsonObject gateway = report.value(u"gateway").toObject();
        QCOMPARE(gateway.value(u"switches").toObject().value(u"lockEnabled").toBool(), true);
        QCOMPARE(gateway.value(u"store").toString(), QStringLiteral("sqlite"));
        QVERIFY(!gateway.value(u"replicas").toArray().isEmpty());
        QVERIFY2(outcome.out.contains(u"PASSED"), qPrintable(outcome.out));
    }

    // Eight sessions, a new workflow of `hello` every round.
    void lockOnEightSessionsNewWorkflows()
    {
        const QString json = newFile(QStringLiteral("json"));
        const QString html = newFile(QStringLiteral("html"));
        const Outcome outcome =
            race({QStringLiteral("--gateway"), gatewayUrl(*m_guarded), QStringLiteral("--flow"),
                  QStringLiteral("hello"), QStringLiteral("--sessions"), QStringLiteral("8"),
                  QStringLiteral("--rounds"), QStringLiteral("100"), QStringLiteral("--spread-ms"),
                  QStringLiteral("50"), QStringLiteral("--json"), json, QStringLiteral("--html"), html});
        QVERIFY2(outcome.exitCode == 0, qPrintable(explain(outcome)));
        const QJsonObject report = readJson(json);
        const QString reportProblems = schemaProblems(report);
        QVERIFY2(reportProblems.isEmpty(), qPrintable(reportProblems));
        QCOMPARE(rounds(report).size(), 100);
        verifyOneRunnerEachRound(report, 8);
        QCOMPARE(report.value(u"findings").toArray().size(), 0);
        // --flow: a new workflow per round, of that flow, each with one turn.
        QSet<QString> workflows;
        for (const QJsonValue &round : rounds(report))
            workflows.insert(round.toObject().value(u"workflowID").toString());
        QCOMPARE(workflows.size(), 100);
        const QString last = rounds(report).last().toObject().value(u"workflowID").toString();
        QCOMPARE(runOf(*m_guarded, last).value(u"flow").toString(), QStringLiteral("hello"));
        QFile page(html);
        QVERIFY(page.open(QIODevice::ReadOnly));
        QVERIFY(page.readAll().contains("<html"));
    }

    // The switches off: the double execution is seen and reported.
    void lockAndGuardsOffShowTheDoubleExecution()
    {
        const QString json = newFile(QStringLiteral("json"));
        const Outcome outcome = race({QStringLiteral("--gateway"), gatewayUrl(*m_unguarded), QStringLiteral("--flow"),
                                      QStringLiteral("hello"), QStringLiteral("--sessions"), QStringLiteral("2"),
                                      QStringLiteral("--rounds"), QStringLiteral("5"), QStringLiteral("--spread-ms"),
                                      QStringLiteral("50"), QStringLiteral("--json"), json});
        QVERIFY2(outcome.exitCode == 1, qPrintable(explain(outcome)));
        const QJsonObject report = readJson(json);
        const QString reportProblems = schemaProblems(report);
        QVERIFY2(reportProblems.isEmpty(), qPrintable(reportProblems));
        const QList<int> runners = runnersPerRound(report);
        QCOMPARE(runners.size(), 5);
        QVERIFY2(*std::max_element(runners.cbegin(), runners.cend()) > 1, qPrintable(explain(outcome)));
        QVERIFY(findingKinds(report).contains(QStringLiteral("overlapping_executions")));
        const QJsonObject switches = report.value(u"gateway").toObject().value(u"switches").toObject();
        QCOMPARE(switches.value(u"lockEnabled").toBool(), false);
        QCOMPARE(switches.value(u"casGuards").toBool(), false);
        QCOMPARE(report.value(u"summary").toObject().value(u"passed").toBool(), false);
        // Each overlap names two sessions and when both ran.
        for (const QJsonValue &value : report.value(u"findings").toArray())
        {
            const QJsonObject finding = value.toObject();
            if (finding.value(u"kind").toString() != u"overlapping_executions")
                continue;
            QCOMPARE(finding.value(u"sessions").toArray().size(), 2);
            QVERIFY(finding.value(u"at").isString());
            QVERIFY(finding.value(u"until").isString());
            QVERIFY(!finding.value(u"detail").toString().isEmpty());
        }
        QVERIFY2(outcome.out.contains(u"overlapping_executions"), qPrintable(outcome.out));
        QVERIFY2(outcome.out.contains(u"FAILED"), qPrintable(outcome.out));
    }

    // --again repeats the offsets and messages: passes on the guarded gateway,
    // fails on the unguarded one, and carries the repeated report's figures.
    void againRepeatsTheRace()
    {
        const QString first = newFile(QStringLiteral("json"));
        const Outcome recorded = race({QStringLiteral("--gateway"), gatewayUrl(*m_guarded), QStringLiteral("--flow"),
                                       QStringLiteral("hello"), QStringLiteral("--sessions"), QStringLiteral("3"),
                                       QStringLiteral("--rounds"), QStringLiteral("3"), QStringLiteral("--spread-ms"),
                                       QStringLiteral("50"), QStringLiteral("--json"), first});
        QVERIFY2(recorded.exitCode == 0, qPrintable(explain(recorded)));
        const QJsonObject original = readJson(first);
        const QString originalProblems = schemaProblems(original);
        QVERIFY2(originalProblems.isEmpty(), qPrintable(originalProblems));

        const auto planOf = [](const QJsonObject &report) {
            QList<QPair<int, QString>> plan;
            for (const QJsonValue &round : report.value(u"rounds").toArray())
            {
                for (const QJsonValue &session : round.toObject().value(u"sessions").toArray())
                    plan.append({session.toObject().value(u"offsetMs").toInt(-1),
                                 session.toObject().value(u"message").toString()});
            }
            return plan;
        };

        // Same gateway (the recorded URL): same plan, exit 0, new workflows.
        const QString again = newFile(QStringLiteral("json"));
        const Outcome repeated = race({QStringLiteral("--again"), first, QStringLiteral("--json"), again});
        QVERIFY2(repeated.exitCode == 0, qPrintable(explain(repeated)));
        const QJsonObject second = readJson(again);
        const QString secondProblems = schemaProblems(second);
        QVERIFY2(secondProblems.isEmpty(), qPrintable(secondProblems));
        QCOMPARE(planOf(second), planOf(original));
        QCOMPARE(planOf(second).size(), 9);
        QCOMPARE(second.value(u"race").toObject(), original.value(u"race").toObject());
        QVERIFY(rounds(second).at(0).toObject().value(u"workflowID") !=
                rounds(original).at(0).toObject().value(u"workflowID"));
        const QJsonObject previous = second.value(u"previous").toObject();
        QCOMPARE(previous.value(u"summary").toObject().value(u"passed").toBool(), true);
        QCOMPARE(previous.value(u"rounds").toArray().size(), 3);
        QCOMPARE(previous.value(u"gateway").toObject().value(u"url").toString(), gatewayUrl(*m_guarded));

        // Another gateway, the switches off: the same race fails there.
        const QString elsewhere = newFile(QStringLiteral("json"));
        const Outcome regressed = race({QStringLiteral("--again"), first, QStringLiteral("--gateway"),
                                        gatewayUrl(*m_unguarded), QStringLiteral("--json"), elsewhere});
        QVERIFY2(regressed.exitCode == 1, qPrintable(explain(regressed)));
        const QJsonObject third = readJson(elsewhere);
        const QString thirdProblems = schemaProblems(third);
        QVERIFY2(thirdProblems.isEmpty(), qPrintable(thirdProblems));
        QCOMPARE(planOf(third), planOf(original));
        QCOMPARE(third.value(u"gateway").toObject().value(u"url").toString(), gatewayUrl(*m_unguarded));
        QVERIFY(findingKinds(third).contains(QStringLiteral("overlapping_executions")));
    }
};

QTEST_GUILESS_MAIN(TestRaceCommand)
#include "tst_racecommand.moc"
