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
        QTest::addColumn<qint64>("expectedMs");   // -1: must be rejected
        QTest::newRow("ms") << u"250ms"_qs << qint64(250);
        QTest::newRow("seconds") << u"30s"_qs << qint64(30000);
        QTest::newRow("bare seconds") << u"3"_qs << qint64(3000);
        QTest::newRow("minutes") << u"5m"_qs << qint64(300000);
        QTest::newRow("hours") << u"2h"_qs << qint64(7200000);
        QTest::newRow("zero") << u"0s"_qs << qint64(-1);
        QTest::newRow("negative") << u"-5s"_qs << qint64(-1);
        QTest::newRow("unit only") << u"s"_qs << qint64(-1);
        QTest::newRow("unknown unit") << u"5d"_qs << qint64(-1);
        QTest::newRow("over 30 days") << u"721h"_qs << qint64(-1);
        QTest::newRow("huge") << u"999999999999h"_qs << qint64(-1);
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
        QTest::newRow("ipv4") << u"127.0.0.1:8080"_qs << true << 8080;
        QTest::newRow("any port") << u"127.0.0.1:0"_qs << true << 0;
        QTest::newRow("ipv6") << u"[::1]:9000"_qs << true << 9000;
        QTest::newRow("localhost") << u"localhost:1"_qs << true << 1;
        QTest::newRow("no port") << u"127.0.0.1"_qs << false << 0;
        QTest::newRow("port too big") << u"127.0.0.1:65536"_qs << false << 0;
        QTest::newRow("port text") << u"127.0.0.1:http"_qs << false << 0;
        QTest::newRow("host name") << u"example.com:80"_qs << false << 0;
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
        QCOMPARE(*Cli::parseInteger(u"42"_qs, 1, 100), qint64(42));
        QVERIFY(!Cli::parseInteger(u"0"_qs, 1, 100));
        QVERIFY(!Cli::parseInteger(u"101"_qs, 1, 100));
        QVERIFY(!Cli::parseInteger(u"4x"_qs, 1, 100));
    }
};

QTEST_GUILESS_MAIN(TestCli)
#include "tst_cli.moc"
