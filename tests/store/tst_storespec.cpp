#include <QTest>

#include "store/storespec.h"

using namespace Lockstep::Store;

class TestStoreSpec : public QObject
{
    Q_OBJECT

private slots:
    void sqlite()
    {
        const auto spec = parseStoreSpec(QStringLiteral("sqlite:/var/lib/lockstep/runs.db"));
        QVERIFY(spec);
        QCOMPARE(spec->kind, StoreSpec::Kind::Sqlite);
        QCOMPARE(spec->sqlitePath, QStringLiteral("/var/lib/lockstep/runs.db"));
        QCOMPARE(spec->redacted(), QStringLiteral("sqlite:/var/lib/lockstep/runs.db"));

        const auto relative = parseStoreSpec(QStringLiteral("sqlite:runs.db"));
        QVERIFY(relative);
        QCOMPARE(relative->sqlitePath, QStringLiteral("runs.db"));

        QVERIFY(!parseStoreSpec(QStringLiteral("sqlite:")));
        QVERIFY(!parseStoreSpec(QStringLiteral("sqlite::memory:")));
        QVERIFY(!parseStoreSpec(QStringLiteral("sqlite:file:x.db?mode=memory")));
    }

    void postgres()
    {
        const auto spec = parseStoreSpec(QStringLiteral(
            "postgresql://lock%40step:p%40ss%3Aw0rd@db.example.org:6543/runs?sslmode=verify-full&connect_timeout=3"));
        QVERIFY2(spec, spec ? "" : qPrintable(spec.error()));
        QCOMPARE(spec->kind, StoreSpec::Kind::PostgreSql);
        QCOMPARE(spec->host, QStringLiteral("db.example.org"));
        QCOMPARE(spec->port, 6543);
        QCOMPARE(spec->user, QStringLiteral("lock@step"));
        QCOMPARE(spec->password, QStringLiteral("p@ss:w0rd"));
        QCOMPARE(spec->databaseName, QStringLiteral("runs"));
        const QList<QPair<QString, QString>> expected = {{QStringLiteral("sslmode"), QStringLiteral("verify-full")},
                                                         {QStringLiteral("connect_timeout"), QStringLiteral("3")}};
        QCOMPARE(spec->options, expected);
        QVERIFY(!spec->redacted().contains(QStringLiteral("w0rd")));
        QVERIFY(spec->redacted().contains(QStringLiteral("***")));

        const auto minimal = parseStoreSpec(QStringLiteral("postgres://me@[::1]/db"));
        QVERIFY(minimal);
        QCOMPARE(minimal->host, QStringLiteral("::1"));
        QCOMPARE(minimal->port, 5432);
        QVERIFY(minimal->password.isEmpty());
        QVERIFY(!minimal->redacted().contains(QStringLiteral("***")));
    }

    void rejected_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("mentions");
        QTest::newRow("empty") << QString() << QStringLiteral("expected sqlite:PATH");
        QTest::newRow("unknown scheme") << QStringLiteral("mysql://u:hunter2@h/db")
                                        << QStringLiteral("expected sqlite:PATH");
        QTest::newRow("no user") << QStringLiteral("postgresql://h:5432/db") << QStringLiteral("missing user");
        QTest::newRow("no host") << QStringLiteral("postgresql://u:hunter2@/db") << QStringLiteral("host");
        QTest::newRow("no database") << QStringLiteral("postgresql://u:hunter2@h:5432")
                                     << QStringLiteral("database name");
        QTest::newRow("nested path") << QStringLiteral("postgresql://u:hunter2@h/a/b")
                                     << QStringLiteral("database name");
        QTest::newRow("bad port") << QStringLiteral("postgresql://u:hunter2@h:99999/db")
                                  << QStringLiteral("not a valid URL");
        QTest::newRow("port zero") << QStringLiteral("postgresql://u:hunter2@h:0/db") << QStringLiteral("port 0");
        QTest::newRow("unknown parameter") << QStringLiteral("postgresql://u:hunter2@h/db?sslmod=require")
                                           << QStringLiteral("unknown parameter \"sslmod\"");
        QTest::newRow("password parameter") << QStringLiteral("postgresql://u@h/db?password=hunter2")
                                            << QStringLiteral("unknown parameter \"password\"");
        QTest::newRow("conninfo smuggling")
            << QStringLiteral("postgresql://u:hunter2@h/db?application_name=x%20host%3Devil")
            << QStringLiteral("bad value");
        QTest::newRow("fragment") << QStringLiteral("postgresql://u:hunter2@h/db#x") << QStringLiteral("fragment");
    }

    void rejected()
    {
        QFETCH(QString, text);
        QFETCH(QString, mentions);
        const auto spec = parseStoreSpec(text);
        QVERIFY(!spec);
        QVERIFY2(spec.error().contains(mentions), qPrintable(spec.error()));
        // The password never shows up in a message.
        QVERIFY2(!spec.error().contains(QStringLiteral("hunter2")), qPrintable(spec.error()));
    }
};

QTEST_GUILESS_MAIN(TestStoreSpec)
#include "tst_storespec.moc"
