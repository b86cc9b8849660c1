#include <QFile>
#include <QProcess>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>

#include "common/logging.h"

using namespace Lockstep;

// The bridge from Qt's categories to spdlog: secrets masked, and debug lines
// written exactly when a category lets them through (--debug or QT_LOGGING_RULES),
// in each of the three programs.
class TestLogging : public QObject
{
    Q_OBJECT

private:
    // What a program printed (stdout and stderr) from its start until it had
    // logged `ready` and stopped on SIGTERM.
    struct Run
    {
        bool ready = false;
        bool stopped = false;
        QString output;
    };

    static Run runUntil(const QString &program, const QStringList &arguments, const QProcessEnvironment &environment,
                        const QString &ready)
    {
        Run run;
        QProcess process;
        process.setProcessEnvironment(environment);
        process.setProcessChannelMode(QProcess::MergedChannels);
        process.start(program, arguments);
        if (!process.waitForStarted(10000))
            return run;
        QDeadlineTimer deadline(30000);
        while (!run.output.contains(ready) && !deadline.hasExpired() && (process.state() == QProcess::Running))
        {
            process.waitForReadyRead(200);
            run.output += QString::fromUtf8(process.readAll());
        }
        run.ready = run.output.contains(ready);
        process.terminate();
        run.stopped = process.waitForFinished(20000) && (process.exitStatus() == QProcess::NormalExit);
        if (!run.stopped)
        {
            process.kill();
            process.waitForFinished();
        }
        run.output += QString::fromUtf8(process.readAll());
        return run;
    }

    // spdlog's level column, then our category: "... debug [lockstep.app] ...".
    static bool hasDebugLines(const QString &output)
    {
        static const QRegularExpression line(QStringLiteral(R"(\sdebug \[lockstep\.)"));
        return output.contains(line);
    }

private slots:
    void redactsBearerTokens()
    {
        const QString line =
            Logging::redactSecrets(QStringLiteral("Authorization: Bearer s3cr3t-XYZ and bearer.abc123 token=hunter2"));
        QVERIFY(!line.contains(u"s3cr3t"));
        QVERIFY(!line.contains(u"abc123"));
        QVERIFY(!line.contains(u"hunter2"));
        QVERIFY(line.contains(u"Bearer ***"));
        QVERIFY(line.contains(u"bearer.***"));
    }

    void qtMessagesReachTheFileRedacted()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        Logging::install({.appName = QStringLiteral("tst"),
                          .logDirectory = dir.path(),
                          .toStderr = false,
                          .toFile = true,
                          .debug = false});
        QCOMPARE(Logging::logFilePath(), dir.filePath(QStringLiteral("tst.log")));
        qCWarning(lcTransport) << "handshake with Bearer topsecret failed";
        qCInfo(lcGateway) << "listening";
        qCDebug(lcGateway) << "debug is filtered out by default";
        qDebug() << "plain qDebug is filtered out by default";
        Logging::shutdown();

        QFile file(dir.filePath(QStringLiteral("tst.log")));
        QVERIFY(file.open(QIODevice::ReadOnly));
        const QString text = QString::fromUtf8(file.readAll());
        QVERIFY2(text.contains(u"[lockstep.transport]"), qPrintable(text));
        QVERIFY(text.contains(u"Bearer ***"));
        QVERIFY(!text.contains(u"topsecret"));
        QVERIFY(text.contains(u"listening"));
        QVERIFY(!text.contains(u"filtered out"));
    }

    // Options::debug turns our categories' debug lines on, and they reach the file.
    void debugOptionWritesDebugLines()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        Logging::install({.appName = QStringLiteral("tst"),
                          .logDirectory = dir.path(),
                          .toStderr = false,
                          .toFile = true,
                          .debug = true});
        qCDebug(lcStore) << "a store detail";
        Logging::shutdown();

        QFile file(dir.filePath(QStringLiteral("tst.log")));
        QVERIFY(file.open(QIODevice::ReadOnly));
        const QString text = QString::fromUtf8(file.readAll());
        QVERIFY2(text.contains(u"debug [lockstep.store] a store detail"), qPrintable(text));
    }

    void programs_data()
    {
        QTest::addColumn<QString>("program");
        QTest::addColumn<QStringList>("arguments");
        QTest::addColumn<QString>("ready");  // an info line logged after the logging is set up

        QTest::newRow("gateway") << qEnvironmentVariable("LOCKSTEP_GATEWAY_BIN")
                                 << QStringList{QStringLiteral("--listen"), QStringLiteral("127.0.0.1:0"),
                                                QStringLiteral("--data-dir"), QStringLiteral("{dir}")}
                                 << QStringLiteral("[lockstep.gateway] replica");
#if LOCKSTEP_CONSOLE_BUILT  // a server build has no console to run
        // No gateway answers on port 1; the console starts all the same.
        QTest::newRow("console") << qEnvironmentVariable("LOCKSTEP_CONSOLE_BIN")
                                 << QStringList{QStringLiteral("--gateway"),
                                                QStringLiteral("ws://127.0.0.1:1/api/v1/ws")}
                                 << QStringLiteral("[lockstep.ui] gateway");
#endif
        QTest::newRow("agent") << qEnvironmentVariable("LOCKSTEP_AGENT_BIN")
                               << QStringList{QStringLiteral("--workspace"), QStringLiteral("{dir}")}
                               << QStringLiteral("listening on");
    }

    // README: "enable debug with QT_LOGGING_RULES="lockstep.*.debug=true"", or
    // --debug; without either, no debug lines. The rules have the last word.
    void programs()
    {
        QFETCH(QString, program);
        QFETCH(QStringList, arguments);
        QFETCH(QString, ready);
        QVERIFY2(!program.isEmpty(),
                 "LOCKSTEP_GATEWAY_BIN, LOCKSTEP_CONSOLE_BIN and LOCKSTEP_AGENT_BIN come from ctest");

        struct Case
        {
            const char *name;
            QString rules;  // empty: QT_LOGGING_RULES unset
            bool debugFlag;
            bool expectDebug;
        };
        const QList<Case> cases{
            {"plain", {}, false, false},
            {"QT_LOGGING_RULES", QStringLiteral("lockstep.*.debug=true"), false, true},
            {"--debug", {}, true, true},
            {"--debug, all off by QT_LOGGING_RULES", QStringLiteral("lockstep.*.debug=false"), true, false},
        };
        for (const Case &c : cases)
        {
            QTemporaryDir dir;
            QVERIFY(dir.isValid());
            QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
            environment.remove(QStringLiteral("QT_LOGGING_RULES"));
            environment.remove(QStringLiteral("QT_LOGGING_CONF"));
            if (!c.rules.isEmpty())
                environment.insert(QStringLiteral("QT_LOGGING_RULES"), c.rules);
            // The console's settings, history and logs stay in the temporary folder.
            environment.insert(QStringLiteral("HOME"), dir.path());
            environment.insert(QStringLiteral("XDG_CONFIG_HOME"), dir.filePath(QStringLiteral("config")));
            environment.insert(QStringLiteral("XDG_DATA_HOME"), dir.filePath(QStringLiteral("data")));
            environment.insert(QStringLiteral("LOCKSTEP_CONSOLE_DATA_DIR"), dir.filePath(QStringLiteral("console")));
            environment.insert(QStringLiteral("LOCKSTEP_TOKEN"), QStringLiteral("t0ken"));

            QStringList args;
            for (const QString &argument : arguments)
                args << (argument == u"{dir}" ? dir.path() : argument);
            if (c.debugFlag)
                args << QStringLiteral("--debug");

            const Run run = runUntil(program, args, environment, ready);
            QVERIFY2(run.ready,
                     qPrintable(QStringLiteral("%1: never logged '%2':\n%3").arg(c.name, ready, run.output)));
            QVERIFY2(run.stopped,
                     qPrintable(QStringLiteral("%1: did not stop on SIGTERM:\n%2").arg(c.name, run.output)));
            QVERIFY2(hasDebugLines(run.output) == c.expectDebug,
                     qPrintable(QStringLiteral("%1: debug lines %2 expected:\n%3")
                                    .arg(c.name, c.expectDebug ? QStringLiteral("were") : QStringLiteral("were not"),
                                         run.output)));
        }
    }
};

QTEST_GUILESS_MAIN(TestLogging)
#include "tst_logging.moc"
