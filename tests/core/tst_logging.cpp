#include <QFile>
#include <QTemporaryDir>
#include <QTest>

#include "common/logging.h"

using namespace Lockstep;

class TestLogging : public QObject
{
    Q_OBJECT

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
};

QTEST_GUILESS_MAIN(TestLogging)
#include "tst_logging.moc"
