#include <QProcess>
#include <QTest>

// The three mains answer --help and --version, and reject unknown flags and bad
// values with one line on stderr and exit code 2. A server build
// (LOCKSTEP_BUILD_CONSOLE=OFF) has two mains: the console's rows are left out.
class TestCommandLine : public QObject
{
    Q_OBJECT

private:
    struct Outcome
    {
        int exitCode = -1;
        QString out;
        QString err;
    };

    static Outcome run(const QString &program, const QStringList &arguments)
    {
        QProcess process;
        process.start(program, arguments);
        if (!process.waitForFinished(30000))
        {
            process.kill();
            process.waitForFinished();
            return {};
        }
        return {process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -1,
                QString::fromUtf8(process.readAllStandardOutput()), QString::fromUtf8(process.readAllStandardError())};
    }

    // The one error line the program printed ("<name>: ..."). Qt itself may add
    // unrelated platform notes on stderr; those are not ours to judge.
    static QStringList errorLines(const Outcome &outcome, const QString &name)
    {
        QStringList lines;
        for (const QString &line : outcome.err.split(u'\n', Qt::SkipEmptyParts))
        {
            if (line.startsWith(name + u": "))
                lines << line;
        }
        return lines;
    }

    static QString binary(const char *variable)
    {
        return qEnvironmentVariable(variable);
    }

    static bool consoleBuilt()
    {
        return LOCKSTEP_CONSOLE_BUILT != 0;
    }

private slots:
    void initTestCase()
    {
        for (const char *variable : {"LOCKSTEP_GATEWAY_BIN", "LOCKSTEP_AGENT_BIN"})
            QVERIFY2(!binary(variable).isEmpty(), variable);
        if (consoleBuilt())
            QVERIFY2(!binary("LOCKSTEP_CONSOLE_BIN").isEmpty(), "LOCKSTEP_CONSOLE_BIN");
    }

    void answers_data()
    {
        QTest::addColumn<QString>("program");
        QTest::addColumn<QString>("name");
        QTest::newRow("gateway") << binary("LOCKSTEP_GATEWAY_BIN") << QStringLiteral("lockstep-gateway");
        QTest::newRow("agent") << binary("LOCKSTEP_AGENT_BIN") << QStringLiteral("lockstep-agent");
        if (consoleBuilt())
            QTest::newRow("console") << binary("LOCKSTEP_CONSOLE_BIN") << QStringLiteral("lockstep");
    }

    void answers()
    {
        QFETCH(QString, program);
        QFETCH(QString, name);

        const Outcome help = run(program, {QStringLiteral("--help")});
        QCOMPARE(help.exitCode, 0);
        QVERIFY2(help.out.contains(u"--version"), qPrintable(help.out));

        const Outcome version = run(program, {QStringLiteral("--version")});
        QCOMPARE(version.exitCode, 0);
        QCOMPARE(version.out.trimmed(), name + u' ' + QStringLiteral(LOCKSTEP_VERSION));

        const Outcome unknown = run(program, {QStringLiteral("--no-such-flag")});
        QCOMPARE(unknown.exitCode, 2);
        const QStringList unknownLines = errorLines(unknown, name);
        QCOMPARE(unknownLines.size(), 1);
        QVERIFY2(unknownLines.constFirst().contains(u"no-such-flag"), qPrintable(unknown.err));

        const Outcome stray = run(program, {QStringLiteral("stray-argument")});
        QCOMPARE(stray.exitCode, 2);
        const QStringList strayLines = errorLines(stray, name);
        QCOMPARE(strayLines.size(), 1);
        QVERIFY2(strayLines.constFirst().contains(u"stray-argument"), qPrintable(stray.err));
    }

    void badValues_data()
    {
        QTest::addColumn<QString>("program");
        QTest::addColumn<QStringList>("arguments");
        QTest::addColumn<QString>("name");
        QTest::addColumn<QString>("mentions");
        QTest::newRow("agent --listen") << binary("LOCKSTEP_AGENT_BIN")
                                        << QStringList{QStringLiteral("--listen"), QStringLiteral("nowhere")}
                                        << QStringLiteral("lockstep-agent") << QStringLiteral("--listen");
        if (consoleBuilt())
            QTest::newRow("console --gateway") << binary("LOCKSTEP_CONSOLE_BIN")
                                               << QStringList{QStringLiteral("--gateway"), QStringLiteral("http://x")}
                                               << QStringLiteral("lockstep") << QStringLiteral("--gateway");
    }

    void badValues()
    {
        QFETCH(QString, program);
        QFETCH(QStringList, arguments);
        QFETCH(QString, name);
        QFETCH(QString, mentions);
        const Outcome outcome = run(program, arguments);
        QCOMPARE(outcome.exitCode, 2);
        const QStringList lines = errorLines(outcome, name);
        QCOMPARE(lines.size(), 1);
        QVERIFY2(lines.constFirst().contains(mentions), qPrintable(outcome.err));
    }

    // `lockstep race` is a command of the console, not a stray argument: it has
    // its own --help and rejects its own bad values (tests/race/tst_racecommand
    // runs it against gateways).
    void consoleRace()
    {
        if (!consoleBuilt())
            QSKIP("server build: no console");
        const QString console = binary("LOCKSTEP_CONSOLE_BIN");
        const Outcome help = run(console, {QStringLiteral("race"), QStringLiteral("--help")});
        QCOMPARE(help.exitCode, 0);
        QVERIFY2(help.out.contains(u"--spread-ms"), qPrintable(help.out));
        QVERIFY2(help.out.contains(u"--again"), qPrintable(help.out));

        const Outcome bad = run(console, {QStringLiteral("race"), QStringLiteral("--gateway"),
                                          QStringLiteral("ws://127.0.0.1:1/api/v1/ws"), QStringLiteral("--flow"),
                                          QStringLiteral("hello"), QStringLiteral("--sessions"), QStringLiteral("99")});
        QCOMPARE(bad.exitCode, 2);
        const QStringList lines = errorLines(bad, QStringLiteral("lockstep"));
        QCOMPARE(lines.size(), 1);
        QVERIFY2(lines.constFirst().contains(u"--sessions"), qPrintable(bad.err));
    }
};

QTEST_GUILESS_MAIN(TestCommandLine)
#include "tst_commandline.moc"
