#include <csignal>
#include <memory>

#include <sys/stat.h>

#include <QDir>
#include <QFile>
#include <QProcess>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>

#include "childprocess.h"
#include "gatewayprocess.h"

using namespace Lockstep;
using namespace Lockstep::Test;

// The gateway as a service, on real processes: started from --config files
// (the shipped installer/gateway.conf too), configuration errors (one line
// naming FILE:LINE, exit 2), SIGHUP re-reading the token file, and the journal
// format when stderr is the journal.
class TestGatewayService : public QObject
{
    Q_OBJECT

private:
    static constexpr int Timeout = 30000;
    QTemporaryDir m_dir;
    int m_counter = 0;

    QString writeFile(const QString &name, const QByteArray &content)
    {
        const QString path = m_dir.filePath(QStringLiteral("%1-%2").arg(++m_counter).arg(name));
        QFile file(path);
        if (!file.open(QIODevice::WriteOnly, QFileDevice::ReadOwner | QFileDevice::WriteOwner) ||
            (file.write(content) != content.size()))
            qFatal("cannot write %s", qPrintable(path));
        return path;
    }

    static bool rewrite(const QString &path, const QByteArray &content)
    {
        QFile file(path);
        return file.open(QIODevice::WriteOnly | QIODevice::Truncate) && (file.write(content) == content.size());
    }

    // A gateway started by the test itself (GatewayProcess adds a token file):
    // waits for "listening on http://127.0.0.1:PORT" on stdout.
    struct Child
    {
        std::unique_ptr<QProcess> process = std::make_unique<QProcess>();
        quint16 port = 0;
        QByteArray out;

        ~Child()
        {
            if (process->state() != QProcess::NotRunning)
            {
                process->kill();
                process->waitForFinished(10000);
            }
        }
    };

    static bool startChild(Child &child, const QStringList &arguments, const QProcessEnvironment &environment,
                           const QString &stderrFile = {})
    {
        prepareChild(*child.process, std::nullopt);
        child.process->setProcessEnvironment(environment);
        if (!stderrFile.isEmpty())
            child.process->setStandardErrorFile(stderrFile);
        child.process->start(GatewayProcess::binary(), arguments);
        if (!child.process->waitForStarted(10000))
            return false;
        static const QRegularExpression listening(QStringLiteral("listening on http://127\\.0\\.0\\.1:(\\d+)"));
        QDeadlineTimer deadline(Timeout);
        while (!deadline.hasExpired() && (child.process->state() == QProcess::Running))
        {
            child.process->waitForReadyRead(100);
            child.out += child.process->readAllStandardOutput();
            if (const auto match = listening.match(QString::fromUtf8(child.out)); match.hasMatch())
            {
                child.port = quint16(match.captured(1).toUInt());
                return true;
            }
        }
        return false;
    }

    // Ends a child with SIGTERM; its exit code (-1: crashed or hung).
    static int stopChild(Child &child)
    {
        child.process->terminate();
        if (!child.process->waitForFinished(Timeout))
            return -1;
        return (child.process->exitStatus() == QProcess::NormalExit) ? child.process->exitCode() : -1;
    }

    static QString healthReplica(const GatewayProcess &gateway)
    {
        return httpRequest("GET", gateway.baseUrl() + u"/healthz").json.value(QStringLiteral("replica")).toString();
    }

    static int listStatus(quint16 port, const QString &token)
    {
        return httpRequest("GET", QStringLiteral("http://127.0.0.1:%1/api/v1/workflows").arg(port), token).status;
    }

    static int upgradeStatus(quint16 port, const QString &token)
    {
        return rawRequest(port, upgradeRequest(port, "/api/v1/ws", {"Authorization: Bearer " + token.toUtf8()})).status;
    }

    static void hangUp(qint64 pid)
    {
        ::kill(pid_t(pid), SIGHUP);
    }

    // "dev:ino" of a file, as systemd writes JOURNAL_STREAM for stderr.
    static QByteArray deviceAndInode(const QString &path, qulonglong inodeOffset = 0)
    {
        struct stat status = {};
        if (::stat(QFile::encodeName(path).constData(), &status) != 0)
            return {};
        return QByteArray::number(qulonglong(status.st_dev)) + ':' +
               QByteArray::number(qulonglong(status.st_ino) + inodeOffset);
    }

    static QString readAll(const QString &path)
    {
        QFile file(path);
        return file.open(QIODevice::ReadOnly) ? QString::fromUtf8(file.readAll()) : QString();
    }

private slots:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        QVERIFY2(!GatewayProcess::binary().isEmpty(), "LOCKSTEP_GATEWAY_BIN");
    }

    void startsFromConfigFiles()
    {
        const QString shared = writeFile(QStringLiteral("gateway.conf"), "# shared\n"
                                                                         "replica-id = from-shared\n"
                                                                         "lock-ttl = 12s\n"
                                                                         "no-fencing = true\n");
        const QString instance = writeFile(QStringLiteral("gateway-a.conf"), "replica-id = from-instance\n");
        GatewayProcess gateway;
        QVERIFY2(gateway.start({QStringLiteral("--config"), shared, QStringLiteral("--config"), instance}),
                 qPrintable(gateway.errorString()));
        const HttpReply health = httpRequest("GET", gateway.baseUrl() + u"/healthz");
        QCOMPARE(health.status, 200);
        QCOMPARE(health.json.value(QStringLiteral("replica")).toString(), QStringLiteral("from-instance"));
        QCOMPARE(health.json.value(QStringLiteral("fencing")).toBool(true), false);  // from the shared file
        QCOMPARE(gateway.terminate(), 0);
    }

    void aFlagOverridesTheFile()
    {
        // The file's listen would fail (port 1 needs privileges, and the
        // harness passes its own --listen): the command line's wins.
        const QString config =
            writeFile(QStringLiteral("gateway.conf"), "listen = 127.0.0.1:1\nreplica-id = from-file\n");
        GatewayProcess gateway;
        QVERIFY2(gateway.start(
                     {QStringLiteral("--config"), config, QStringLiteral("--replica-id"), QStringLiteral("from-flag")}),
                 qPrintable(gateway.errorString()));
        QCOMPARE(healthReplica(gateway), QStringLiteral("from-flag"));
        QCOMPARE(gateway.terminate(), 0);
    }

    void configErrorsAreOneLineAndExitTwo_data()
    {
        QTest::addColumn<QByteArray>("content");
        QTest::addColumn<QString>("where");  // ":LINE:" after the file name, or ":" for the file itself
        QTest::addColumn<QString>("problem");
        QTest::newRow("unknown key") << QByteArray("# ok\nlistne = 127.0.0.1:0\n") << QStringLiteral(":2:")
                                     << QStringLiteral("unknown key 'listne'");
        QTest::newRow("bad line") << QByteArray("listen\n") << QStringLiteral(":1:")
                                  << QStringLiteral("expected 'key = value'");
        QTest::newRow("bad switch") << QByteArray("\ndebug = on\n") << QStringLiteral(":2:")
                                    << QStringLiteral("'on' is not true or false");
        QTest::newRow("bad value") << QByteArray("replica-id = ok\nlock-ttl = soon\n") << QStringLiteral(":2:")
                                   << QStringLiteral("--lock-ttl: 'soon' is not a duration");
        // Found when the gateway starts, not by the parser: still the file's line.
        QTest::newRow("start check") << QByteArray("listen = 0.0.0.0:0\n") << QStringLiteral(":1:")
                                     << QStringLiteral("--listen: refusing to listen on 0.0.0.0 without --token-file");
        QTest::newRow("missing file") << QByteArray() << QStringLiteral(":")
                                      << QStringLiteral("cannot read the configuration file");
    }

    void configErrorsAreOneLineAndExitTwo()
    {
        QFETCH(QByteArray, content);
        QFETCH(QString, where);
        QFETCH(QString, problem);
        const QString path = content.isEmpty() ? m_dir.filePath(QStringLiteral("absent.conf"))
                                               : writeFile(QStringLiteral("bad.conf"), content);
        QProcess process;
        process.start(GatewayProcess::binary(), {QStringLiteral("--config"), path, QStringLiteral("--data-dir"),
                                                 m_dir.filePath(QStringLiteral("bad-data"))});
        QVERIFY(process.waitForFinished(Timeout));
        QCOMPARE(process.exitStatus(), QProcess::NormalExit);
        QCOMPARE(process.exitCode(), 2);
        const QStringList lines = QString::fromUtf8(process.readAllStandardError()).split(u'\n', Qt::SkipEmptyParts);
        QVERIFY2(lines.size() == 1, qPrintable(lines.join(u" | ")));
        const QString prefix = u"lockstep-gateway: " + path + where + u' ';
        QVERIFY2(lines.constFirst().startsWith(prefix), qPrintable(lines.constFirst()));
        QVERIFY2(lines.constFirst().contains(problem), qPrintable(lines.constFirst()));
    }

    // As the package's test does: the shipped file, with the address and the
    // data folder given on the command line.
    void shippedConfigFileStarts()
    {
        const QString shipped = qEnvironmentVariable("LOCKSTEP_SOURCE_DIR") + u"/installer/gateway.conf";
        QVERIFY(QFile::exists(shipped));
        const QString data = m_dir.filePath(QStringLiteral("shipped-data"));
        Child child;
        QVERIFY2(startChild(child,
                            {QStringLiteral("--config"), shipped, QStringLiteral("--listen"),
                             QStringLiteral("127.0.0.1:0"), QStringLiteral("--data-dir"), data},
                            QProcessEnvironment::systemEnvironment()),
                 child.out.constData());
        const HttpReply health = httpRequest("GET", QStringLiteral("http://127.0.0.1:%1/healthz").arg(child.port));
        QCOMPARE(health.status, 200);
        QCOMPARE(health.json.value(QStringLiteral("status")).toString(), QStringLiteral("ok"));
        QCOMPARE(health.json.value(QStringLiteral("store")).toString(), QStringLiteral("sqlite"));
        QCOMPARE(health.json.value(QStringLiteral("lockStore")).toString(), QStringLiteral("memory"));
        // As shipped: a generated token in the data folder.
        const QString token = readAll(QDir(data).filePath(QStringLiteral("gateway.token"))).trimmed();
        QVERIFY(!token.isEmpty());
        QCOMPARE(listStatus(child.port, token), 200);
        QCOMPARE(stopChild(child), 0);
    }

    void sighupReloadsTheTokenFile()
    {
        GatewayProcess gateway;
        QVERIFY2(gateway.start({}), qPrintable(gateway.errorString()));
        const QString oldToken = gateway.token();
        const QString newToken = QStringLiteral("rotated-token-9876543210");
        QCOMPARE(listStatus(gateway.port(), oldToken), 200);
        QCOMPARE(listStatus(gateway.port(), newToken), 401);

        QVERIFY(rewrite(gateway.tokenFile(), "# rotated\n" + newToken.toUtf8() + "\n\nsecond-token-abcdefgh\n"));
        hangUp(gateway.pid());
        QTRY_VERIFY_WITH_TIMEOUT(gateway.log().contains(u"reloaded: 2 token(s)"), Timeout);

        QCOMPARE(listStatus(gateway.port(), oldToken), 401);
        QCOMPARE(listStatus(gateway.port(), newToken), 200);
        QCOMPARE(listStatus(gateway.port(), QStringLiteral("second-token-abcdefgh")), 200);
        QCOMPARE(upgradeStatus(gateway.port(), oldToken), 401);
        QCOMPARE(upgradeStatus(gateway.port(), newToken), 101);
        QVERIFY(!gateway.log().contains(newToken));
        QCOMPARE(gateway.terminate(), 0);
    }

    void aBrokenTokenFileKeepsTheOldSet()
    {
        GatewayProcess gateway;
        QVERIFY2(gateway.start({}), qPrintable(gateway.errorString()));
        const QString token = gateway.token();

        // No token in it.
        QVERIFY(rewrite(gateway.tokenFile(), "# nothing here\n"));
        hangUp(gateway.pid());
        QTRY_VERIFY_WITH_TIMEOUT(gateway.log().contains(u"holds no token"), Timeout);
        QVERIFY2(gateway.log().contains(u"not reloaded, the 1 token(s) loaded before stay in use"),
                 qPrintable(gateway.log()));
        QCOMPARE(listStatus(gateway.port(), token), 200);
        QCOMPARE(upgradeStatus(gateway.port(), token), 101);

        // A bad line.
        QVERIFY(rewrite(gateway.tokenFile(), "short\n"));
        hangUp(gateway.pid());
        QTRY_VERIFY_WITH_TIMEOUT(gateway.log().contains(u"line 1: a token is 8 to 4096 characters"), Timeout);
        QCOMPARE(listStatus(gateway.port(), token), 200);

        // Gone.
        QVERIFY(QFile::remove(gateway.tokenFile()));
        hangUp(gateway.pid());
        QTRY_VERIFY_WITH_TIMEOUT(gateway.log().contains(u"cannot read token file"), Timeout);
        QCOMPARE(listStatus(gateway.port(), token), 200);
        QVERIFY(gateway.isRunning());
        QCOMPARE(gateway.terminate(), 0);
    }

    void sighupWithoutTokenFileHasNothingToReload()
    {
        const QString data = m_dir.filePath(QStringLiteral("generated-data"));
        Child child;
        QVERIFY2(
            startChild(child,
                       {QStringLiteral("--listen"), QStringLiteral("127.0.0.1:0"), QStringLiteral("--data-dir"), data},
                       QProcessEnvironment::systemEnvironment()),
            child.out.constData());
        const QString token = readAll(QDir(data).filePath(QStringLiteral("gateway.token"))).trimmed();
        hangUp(child.process->processId());
        QByteArray err;
        QTRY_VERIFY_WITH_TIMEOUT((err += child.process->readAllStandardError()).contains("nothing to reload"), Timeout);
        QCOMPARE(listStatus(child.port, token), 200);
        QCOMPARE(stopChild(child), 0);
    }

    // Under systemd, JOURNAL_STREAM names the journal stream stderr is: lines
    // carry "<N>" priorities and no time, and no log file is written.
    void journalFormatWhenStderrIsTheJournal()
    {
        const QString data = m_dir.filePath(QStringLiteral("journal-data"));
        const QString stderrPath = writeFile(QStringLiteral("journal.stream"), {});
        const QString tokens = writeFile(QStringLiteral("tokens"), "journal-token-0123456789\n");
        QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
        environment.insert(QStringLiteral("JOURNAL_STREAM"), QString::fromLatin1(deviceAndInode(stderrPath)));
        Child child;
        QVERIFY2(startChild(child,
                            {QStringLiteral("--listen"), QStringLiteral("127.0.0.1:0"), QStringLiteral("--data-dir"),
                             data, QStringLiteral("--token-file"), tokens},
                            environment, stderrPath),
                 child.out.constData());
        // A warning: the token file breaks and SIGHUP is refused.
        QVERIFY(rewrite(tokens, "\n"));
        hangUp(child.process->processId());
        QTRY_VERIFY_WITH_TIMEOUT(readAll(stderrPath).contains(u"holds no token"), Timeout);
        QCOMPARE(stopChild(child), 0);

        const QStringList lines = readAll(stderrPath).split(u'\n', Qt::SkipEmptyParts);
        QVERIFY(lines.size() >= 3);
        static const QRegularExpression journalLine(QStringLiteral("^<[0-7]>\\[lockstep\\.[a-z]+\\] \\S"));
        static const QRegularExpression timestamp(QStringLiteral("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d"));
        for (const QString &line : lines)
        {
            QVERIFY2(journalLine.match(line).hasMatch(), qPrintable(line));
            QVERIFY2(!timestamp.match(line).hasMatch(), qPrintable(line));
        }
        QVERIFY(lines.filter(QRegularExpression(QStringLiteral("^<6>\\[lockstep\\.gateway\\] replica "))).size() == 1);
        QVERIFY(lines
                    .filter(QRegularExpression(QStringLiteral("^<4>\\[lockstep\\.gateway\\] SIGHUP: token file not "
                                                              "reloaded")))
                    .size() == 1);
        QVERIFY2(!QFileInfo::exists(QDir(data).filePath(QStringLiteral("logs"))), "no log file under the journal");

        // A configuration error is an error-priority line too.
        const QString badConfig = writeFile(QStringLiteral("bad.conf"), "bogus = 1\n");
        const QString errorPath = writeFile(QStringLiteral("error.stream"), {});
        QProcess failing;
        environment.insert(QStringLiteral("JOURNAL_STREAM"), QString::fromLatin1(deviceAndInode(errorPath)));
        failing.setProcessEnvironment(environment);
        failing.setStandardErrorFile(errorPath);
        failing.start(GatewayProcess::binary(), {QStringLiteral("--config"), badConfig});
        QVERIFY(failing.waitForFinished(Timeout));
        QCOMPARE(failing.exitCode(), 2);
        QVERIFY2(readAll(errorPath).startsWith(u"<3>lockstep-gateway: " + badConfig + u":1: unknown key"),
                 qPrintable(readAll(errorPath)));
    }

    // JOURNAL_STREAM inherited but naming another stream: today's format and log file.
    void ordinaryFormatWhenStderrIsNotTheJournal()
    {
        const QString data = m_dir.filePath(QStringLiteral("plain-data"));
        const QString stderrPath = writeFile(QStringLiteral("plain.stream"), {});
        QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
        environment.insert(QStringLiteral("JOURNAL_STREAM"), QString::fromLatin1(deviceAndInode(stderrPath, 1)));
        Child child;
        QVERIFY2(
            startChild(child,
                       {QStringLiteral("--listen"), QStringLiteral("127.0.0.1:0"), QStringLiteral("--data-dir"), data},
                       environment, stderrPath),
            child.out.constData());
        QCOMPARE(stopChild(child), 0);
        const QString log = readAll(stderrPath);
        QVERIFY2(log.contains(QRegularExpression(
                     QStringLiteral("^\\d{4}-\\d\\d-\\d\\dT[^\\n]* info \\[lockstep\\.gateway\\] replica "),
                     QRegularExpression::MultilineOption)),
                 qPrintable(log));
        QVERIFY(!log.contains(u"<6>"));
        QVERIFY(QFileInfo::exists(QDir(data).filePath(QStringLiteral("logs/lockstep-gateway.log"))));
    }
};

QTEST_GUILESS_MAIN(TestGatewayService)
#include "tst_gatewayservice.moc"
