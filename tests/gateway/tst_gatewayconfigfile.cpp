#include <QCommandLineParser>
#include <QFile>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>

#include "gateway/configfile.h"
#include "gateway/gatewayconfig.h"

using namespace Lockstep;
using namespace Lockstep::Gateway;

namespace
{
    // The error of a failed result, for QVERIFY2 (which evaluates its message either way).
    template <typename T>
    const char *why(const Result<T, QString> &result)
    {
        static QByteArray text;
        text = result ? QByteArray() : result.error().toUtf8();
        return text.constData();
    }
}  // namespace

// The --config reader on its own: lines, keys, switches, repeatable keys, the
// order files and the command line win in, and every error as FILE:LINE.
class TestGatewayConfigFile : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    int m_counter = 0;

    // Writes `content` to a fresh file; its path.
    QString write(const QByteArray &content)
    {
        const QString path = m_dir.filePath(QStringLiteral("gateway-%1.conf").arg(++m_counter));
        QFile file(path);
        if (!file.open(QIODevice::WriteOnly) || (file.write(content) != content.size()))
            qFatal("cannot write %s", qPrintable(path));
        return path;
    }

    static Result<ConfigFiles, QString> read(const QStringList &paths)
    {
        return ConfigFiles::read(paths, settingOptions(), repeatableSettings());
    }

    // The error of reading `content`, which must fail.
    QString errorOf(const QByteArray &content, QString *path = nullptr)
    {
        const QString file = write(content);
        if (path)
            *path = file;
        const auto result = read({file});
        return result ? QString() : result.error();
    }

    // The files layered under `commandLine` and validated, as the gateway does.
    static Result<GatewayConfig, QString> layered(const ConfigFiles &files, const QStringList &commandLine)
    {
        QCommandLineParser first;
        addCommandLineOptions(first);
        if (!first.parse(QStringList{QStringLiteral("lockstep-gateway")} + commandLine))
            return unexpected(first.errorText());
        ConfigFiles effective = files;
        effective.dropSetBy(first);
        QCommandLineParser parser;
        addCommandLineOptions(parser);
        if (!parser.parse(QStringList{QStringLiteral("lockstep-gateway")} + effective.arguments() + commandLine))
            return unexpected(parser.errorText());
        auto config = configFromCommandLine(parser);
        if (!config)
            return unexpected(effective.locate(config.error()));
        return config;
    }

private slots:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
    }

    void readsKeysCommentsAndBlankLines()
    {
        const QString path = write("# a comment\n"
                                   "\n"
                                   "   # an indented comment\n"
                                   "listen = 127.0.0.1:9000\n"
                                   "lock-ttl=45s\n"
                                   "  replica-id   =   gw-one  \r\n"
                                   "token-file = /etc/lockstep/a b#c\n");
        const auto files = read({path});
        QVERIFY2(files, why(files));
        QCOMPARE(
            files->arguments(),
            (QStringList{QStringLiteral("--listen=127.0.0.1:9000"), QStringLiteral("--lock-ttl=45s"),
                         QStringLiteral("--replica-id=gw-one"), QStringLiteral("--token-file=/etc/lockstep/a b#c")}));
        QCOMPARE(files->settings().at(2).line, 6);
        QCOMPARE(files->settings().at(2).file, path);

        const auto config = layered(*files, {});
        QVERIFY2(config, why(config));
        QCOMPARE(config->listenPort, 9000);
        QCOMPARE(config->lockTtl, std::chrono::seconds(45));
        QCOMPARE(config->replicaId, QStringLiteral("gw-one"));
        QCOMPARE(config->tokenFile, QStringLiteral("/etc/lockstep/a b#c"));
    }

    void switchesTakeTrueOrFalse()
    {
        const auto on = read({write("no-cas-guards = true\ndebug = true\nno-fencing = false\n")});
        QVERIFY2(on, why(on));
        QCOMPARE(on->arguments(), (QStringList{QStringLiteral("--no-cas-guards"), QStringLiteral("--debug")}));
        const auto config = layered(*on, {});
        QVERIFY2(config, why(config));
        QVERIFY(!config->casGuards);
        QVERIFY(config->debugLog);
        QVERIFY(config->fencing);

        // A later file's false turns an earlier file's true off.
        const auto off = read({write("no-cas-guards = true\n"), write("no-cas-guards = false\n")});
        QVERIFY2(off, why(off));
        QVERIFY(off->arguments().isEmpty());
        QVERIFY(layered(*off, {})->casGuards);
    }

    void repeatableKeysCollectLines()
    {
        const auto files = read({write("allowed-origin = https://a.example\n"
                                       "allowed-origin = https://b.example:8443\n")});
        QVERIFY2(files, why(files));
        const auto config = layered(*files, {});
        QVERIFY2(config, why(config));
        QCOMPARE(config->allowedOrigins,
                 (QStringList{QStringLiteral("https://a.example"), QStringLiteral("https://b.example:8443")}));
    }

    void laterFilesWinPerKey()
    {
        const QString shared = write("listen = 127.0.0.1:9000\n"
                                     "lock-ttl = 45s\n"
                                     "allowed-origin = https://a.example\n"
                                     "allowed-origin = https://b.example\n");
        const QString instance = write("listen = 127.0.0.1:9001\n"
                                       "allowed-origin = https://c.example\n");
        const auto files = read({shared, instance});
        QVERIFY2(files, why(files));
        const auto config = layered(*files, {});
        QVERIFY2(config, why(config));
        QCOMPARE(config->listenPort, 9001);
        QCOMPARE(config->lockTtl, std::chrono::seconds(45));  // only the first file sets it
        // The later file's lines replace the earlier file's, they do not add to them.
        QCOMPARE(config->allowedOrigins, QStringList{QStringLiteral("https://c.example")});

        // The other order: the shared file wins.
        const auto reversed = layered(*read({instance, shared}), {});
        QCOMPARE(reversed->listenPort, 9000);
        QCOMPARE(reversed->allowedOrigins.size(), 2);
    }

    void commandLineWinsOverEveryFile()
    {
        const auto files = read({write("listen = 127.0.0.1:9000\n"
                                       "lock-ttl = soon\n"  // bad, but the command line replaces it
                                       "allowed-origin = https://a.example\n"
                                       "replica-id = from-file\n"),
                                 write("listen = 127.0.0.1:9001\n")});
        QVERIFY2(files, why(files));
        const auto config = layered(*files, {QStringLiteral("--listen"), QStringLiteral("127.0.0.1:9100"),
                                             QStringLiteral("--lock-ttl"), QStringLiteral("20s"),
                                             QStringLiteral("--allowed-origin"), QStringLiteral("https://z.example")});
        QVERIFY2(config, why(config));
        QCOMPARE(config->listenPort, 9100);
        QCOMPARE(config->lockTtl, std::chrono::seconds(20));
        QCOMPARE(config->allowedOrigins, QStringList{QStringLiteral("https://z.example")});
        QCOMPARE(config->replicaId, QStringLiteral("from-file"));  // not on the command line: the file's
    }

    void lineErrorsNameFileAndLine_data()
    {
        QTest::addColumn<QByteArray>("content");
        QTest::addColumn<int>("line");
        QTest::addColumn<QString>("problem");
        QTest::newRow("no equals sign") << QByteArray("# ok\nlisten 127.0.0.1:1\n") << 2
                                        << QStringLiteral("expected 'key = value'");
        QTest::newRow("no key") << QByteArray("= 5\n") << 1 << QStringLiteral("expected 'key = value'");
        QTest::newRow("unknown key") << QByteArray("\n\nlistne = 127.0.0.1:1\n") << 3
                                     << QStringLiteral("unknown key 'listne'");
        QTest::newRow("flag spelling") << QByteArray("--listen = 127.0.0.1:1\n") << 1
                                       << QStringLiteral("unknown key '--listen' (keys are flag names without --)");
        QTest::newRow("config is no key")
            << QByteArray("config = /etc/other.conf\n") << 1 << QStringLiteral("unknown key 'config'");
        QTest::newRow("help is no key") << QByteArray("help = true\n") << 1 << QStringLiteral("unknown key 'help'");
        QTest::newRow("version is no key")
            << QByteArray("version = true\n") << 1 << QStringLiteral("unknown key 'version'");
        QTest::newRow("switch value") << QByteArray("debug = yes\n") << 1
                                      << QStringLiteral("debug: 'yes' is not true or false");
        QTest::newRow("empty switch") << QByteArray("listen = 127.0.0.1:1\nno-fencing =\n") << 2
                                      << QStringLiteral("no-fencing: '' is not true or false");
        QTest::newRow("key twice") << QByteArray("lock-ttl = 30s\n#\nlock-ttl = 40s\n") << 3
                                   << QStringLiteral(
                                          "lock-ttl is already set on line 1 (only allowed-origin may repeat)");
    }

    void lineErrorsNameFileAndLine()
    {
        QFETCH(QByteArray, content);
        QFETCH(int, line);
        QFETCH(QString, problem);
        QString path;
        const QString error = errorOf(content, &path);
        QCOMPARE(error.left(error.indexOf(u' ')), QStringLiteral("%1:%2:").arg(path).arg(line));
        QVERIFY2(error.contains(problem), qPrintable(error));
        QVERIFY(!error.contains(u'\n'));
    }

    void unreadableFilesAreErrors()
    {
        const QString missing = m_dir.filePath(QStringLiteral("missing.conf"));
        const auto absent = read({write("listen = 127.0.0.1:1\n"), missing});
        QVERIFY(!absent);
        QVERIFY2(absent.error().startsWith(missing + u": cannot read the configuration file: "),
                 qPrintable(absent.error()));

        const auto folder = read({m_dir.path()});
        QVERIFY(!folder);
        QVERIFY2(folder.error().startsWith(m_dir.path() + u": cannot read"), qPrintable(folder.error()));

        // Not readable by us (root reads everything: then there is nothing to test).
        const QString secret = write("listen = 127.0.0.1:1\n");
        QVERIFY(QFile::setPermissions(secret, QFileDevice::WriteOwner));
        QFile probe(secret);
        if (!probe.open(QIODevice::ReadOnly))
        {
            const auto unreadable = read({secret});
            QVERIFY(!unreadable);
            QVERIFY2(unreadable.error().startsWith(secret + u": cannot read"), qPrintable(unreadable.error()));
        }
    }

    void valueErrorsPointAtTheLine_data()
    {
        QTest::addColumn<QByteArray>("content");
        QTest::addColumn<int>("line");
        QTest::addColumn<QString>("problem");
        QTest::newRow("duration") << QByteArray("listen = 127.0.0.1:1\nlock-ttl = soon\n") << 2
                                  << QStringLiteral("--lock-ttl: 'soon' is not a duration");
        QTest::newRow("range") << QByteArray("#\n#\n#\nmax-connections = 0\n") << 4
                               << QStringLiteral("--max-connections: 0 is out of range");
        QTest::newRow("listen") << QByteArray("listen = nowhere\n") << 1 << QStringLiteral("--listen: 'nowhere'");
        QTest::newRow("empty value") << QByteArray("flows =\n") << 1 << QStringLiteral("--flows: must not be empty");
        QTest::newRow("store") << QByteArray("store = mysql://x\n") << 1 << QStringLiteral("--store: ");
        QTest::newRow("policy") << QByteArray("lock-unavailable = maybe\n") << 1
                                << QStringLiteral("--lock-unavailable: 'maybe' is not fail-closed or fail-open");
        // Of several lines of a repeatable key, the bad one.
        QTest::newRow("second origin") << QByteArray("allowed-origin = https://a.example\n"
                                                     "allowed-origin = not an origin\n"
                                                     "allowed-origin = https://c.example\n")
                                       << 2 << QStringLiteral("--allowed-origin: 'not an origin'");
    }

    void valueErrorsPointAtTheLine()
    {
        QFETCH(QByteArray, content);
        QFETCH(int, line);
        QFETCH(QString, problem);
        const QString path = write(content);
        const auto files = read({path});
        QVERIFY2(files, why(files));
        const auto config = layered(*files, {});
        QVERIFY(!config);
        QVERIFY2(config.error().startsWith(QStringLiteral("%1:%2: ").arg(path).arg(line)), qPrintable(config.error()));
        QVERIFY2(config.error().contains(problem), qPrintable(config.error()));
    }

    void valueErrorsFromTheCommandLineNameNoFile()
    {
        const auto files = read({write("lock-ttl = 30s\nreplica-id = gw\n")});
        QVERIFY2(files, why(files));
        const auto config = layered(*files, {QStringLiteral("--lock-ttl"), QStringLiteral("soon")});
        QVERIFY(!config);
        QVERIFY2(config.error().startsWith(u"--lock-ttl: 'soon'"), qPrintable(config.error()));
        // An error about a key no file set is left alone too.
        QCOMPARE(files->locate(QStringLiteral("--redis: bad")), QStringLiteral("--redis: bad"));
        QCOMPARE(files->locate(QStringLiteral("something else")), QStringLiteral("something else"));
    }

    // installer/gateway.conf, as the package installs it: valid, loopback only,
    // SQLite, the in-process lock and a generated token; and every setting is
    // in it, with its default when it has one.
    void shippedFileIsValidAndComplete()
    {
        const QString path = qEnvironmentVariable("LOCKSTEP_SOURCE_DIR") + u"/installer/gateway.conf";
        const auto files = read({path});
        QVERIFY2(files, why(files));
        const auto config = layered(*files, {});
        QVERIFY2(config, why(config));
        QVERIFY(config->listenAddress.isLoopback());
        QCOMPARE(config->listenPort, 8080);
        QVERIFY(config->storeSpec.isEmpty());
        QVERIFY(config->redisUrl.isEmpty());
        QVERIFY(config->tokenFile.isEmpty());
        QVERIFY(config->lockConcurrentFlows && config->casGuards && config->fencing);

        QFile file(path);
        QVERIFY(file.open(QIODevice::ReadOnly));
        const QStringList lines = QString::fromUtf8(file.readAll()).split(u'\n');
        for (const QCommandLineOption &option : settingOptions())
        {
            const QString name = option.names().constFirst();
            const QRegularExpression line(QStringLiteral("^#?%1 = (.*)$").arg(QRegularExpression::escape(name)));
            QStringList shown;
            for (const QString &text : lines)
            {
                if (const QRegularExpressionMatch match = line.match(text); match.hasMatch())
                    shown << match.captured(1);
            }
            QVERIFY2(!shown.isEmpty(), qPrintable(name + u" is not in gateway.conf"));
            if (!option.defaultValues().isEmpty())
                QVERIFY2(shown.contains(option.defaultValues().constFirst()),
                         qPrintable(name + u": the default " + option.defaultValues().constFirst() + u" is not shown"));
            if (option.valueName().isEmpty())
                QVERIFY2(shown.contains(QStringLiteral("false")), qPrintable(name + u": a switch, off by default"));
        }
    }

    void everyFlagIsAKey()
    {
        // A file that sets every setting once (values that validate) is accepted
        // and ends up in the config.
        QByteArray content;
        for (const QCommandLineOption &option : settingOptions())
        {
            const QString name = option.names().constFirst();
            QString value = option.defaultValues().value(0);
            if (option.valueName().isEmpty())
                value = QStringLiteral("false");
            else if (name == u"tls-cert" || name == u"tls-key" || name == u"redis" || name == u"store")
                continue;  // checked at start or needing a server: covered elsewhere
            else if (value.isEmpty())
                value = QStringLiteral("x1");
            if (name == u"allowed-origin")
                value = QStringLiteral("https://console.example");
            content += name.toUtf8() + " = " + value.toUtf8() + '\n';
        }
        const auto files = read({write(content)});
        QVERIFY2(files, why(files));
        const auto config = layered(*files, {});
        QVERIFY2(config, why(config));
        QCOMPARE(config->replicaId, QStringLiteral("x1"));
        QCOMPARE(config->tokenFile, QStringLiteral("x1"));
        QCOMPARE(config->allowedOrigins, QStringList{QStringLiteral("https://console.example")});
    }
};

QTEST_GUILESS_MAIN(TestGatewayConfigFile)
#include "tst_gatewayconfigfile.moc"
