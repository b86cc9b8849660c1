#include <QTest>

#include "common/cli.h"

using namespace std::chrono_literals;
using namespace Lockstep;

class TestCli : public QObject
{
    Q_OBJECT

private slots:
    void durations_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<qint64>("expectedMs");  // -1: must be rejected
        QTest::newRow("ms") << QStringLiteral("250ms") << qint64(250);
        QTest::newRow("seconds") << QStringLiteral("30s") << qint64(30000);
        QTest::newRow("bare seconds") << QStringLiteral("3") << qint64(3000);
        QTest::newRow("minutes") << QStringLiteral("5m") << qint64(300000);
        QTest::newRow("hours") << QStringLiteral("2h") << qint64(7200000);
        QTest::newRow("zero") << QStringLiteral("0s") << qint64(-1);
        QTest::newRow("negative") << QStringLiteral("-5s") << qint64(-1);
        QTest::newRow("unit only") << QStringLiteral("s") << qint64(-1);
        QTest::newRow("unknown unit") << QStringLiteral("5d") << qint64(-1);
        QTest::newRow("over 30 days") << QStringLiteral("721h") << qint64(-1);
        QTest::newRow("huge") << QStringLiteral("999999999999h") << qint64(-1);
        QTest::newRow("empty") << QString() << qint64(-1);
    }
    void durations()
    {
        QFETCH(QString, text);
        QFETCH(qint64, expectedMs);
        const auto result = Cli::parseDuration(text);
        if (expectedMs < 0)
        {
            QVERIFY(!result);
            QVERIFY(!result.error().isEmpty());
        }
        else
        {
            QVERIFY2(result, qPrintable(result ? QString() : result.error()));
            QCOMPARE(result->count(), expectedMs);
        }
    }

    void listenAddresses_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<bool>("valid");
        QTest::addColumn<int>("port");
        QTest::newRow("ipv4") << QStringLiteral("127.0.0.1:8080") << true << 8080;
        QTest::newRow("any port") << QStringLiteral("127.0.0.1:0") << true << 0;
        QTest::newRow("ipv6") << QStringLiteral("[::1]:9000") << true << 9000;
        QTest::newRow("localhost") << QStringLiteral("localhost:1") << true << 1;
        QTest::newRow("no port") << QStringLiteral("127.0.0.1") << false << 0;
        QTest::newRow("port too big") << QStringLiteral("127.0.0.1:65536") << false << 0;
        QTest::newRow("port text") << QStringLiteral("127.0.0.1:http") << false << 0;
        QTest::newRow("host name") << QStringLiteral("example.com:80") << false << 0;
    }
    void listenAddresses()
    {
        QFETCH(QString, text);
        QFETCH(bool, valid);
        QFETCH(int, port);
        const auto result = Cli::parseListenAddress(text);
        QCOMPARE(bool(result), valid);
        if (valid)
            QCOMPARE(int(result->port), port);
        else
            QVERIFY(result.error().contains(u'\''));
    }

    void integers()
    {
        QCOMPARE(*Cli::parseInteger(QStringLiteral("42"), 1, 100), qint64(42));
        QVERIFY(!Cli::parseInteger(QStringLiteral("0"), 1, 100));
        QVERIFY(!Cli::parseInteger(QStringLiteral("101"), 1, 100));
        QVERIFY(!Cli::parseInteger(QStringLiteral("4x"), 1, 100));
    }
};

QTEST_GUILESS_MAIN(TestCli)
#include "tst_cli.moc"
