#include <cerrno>
#include <csignal>

#include <QDir>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QTcpSocket>
#include <QTest>

#include "temppostgres.h"
#include "tempredis.h"

using namespace Lockstep::Test;

namespace
{
    // True once no process with that PID exists (our children are reaped by QProcess).
    bool processGone(const qint64 pid)
    {
        return (::kill(static_cast<pid_t>(pid), 0) != 0) && (errno == ESRCH);
    }

    bool portAccepts(const quint16 port)
    {
        QTcpSocket socket;
        socket.connectToHost(QHostAddress::LocalHost, port);
        return socket.waitForConnected(1000);
    }

    // SELECT 1 through QPSQL against `spec`'s host and port; the error text otherwise.
    QString queryPostgres(const TempPostgres &pg, const QString &database)
    {
        static int counter = 0;
        const QString name = QStringLiteral("tempservers-%1").arg(++counter);
        QString error;
        {
            QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QPSQL"), name);
            db.setHostName(QStringLiteral("127.0.0.1"));
            db.setPort(pg.port());
            db.setUserName(QStringLiteral("postgres"));
            db.setDatabaseName(database);
            db.setConnectOptions(QStringLiteral("connect_timeout=3"));
            if (!db.open())
            {
                error = db.lastError().text();
            }
            else
            {
                QSqlQuery query(db);
                if (!query.exec(QStringLiteral("SELECT current_database()")) || !query.next())
                    error = query.lastError().text();
                else if (query.value(0).toString() != database)
                    error = QStringLiteral("connected to %1").arg(query.value(0).toString());
            }
            db.close();
        }
        QSqlDatabase::removeDatabase(name);
        return error;
    }
}  // namespace

class TestTempServers : public QObject
{
    Q_OBJECT

private slots:
    void redisStartsAnswersAndStops()
    {
        qint64 pid = 0;
        quint16 port = 0;
        {
            TempRedis redis;
            QVERIFY2(redis.start(), qPrintable(redis.errorString()));
            pid = redis.pid();
            port = redis.port();
            QVERIFY(pid > 0);
            QCOMPARE(redis.url(), QStringLiteral("redis://127.0.0.1:%1").arg(port));
            QVERIFY(redis.ping());

            // kill(): gone at once; start() brings it back on the same port.
            redis.kill();
            QVERIFY(!redis.isRunning());
            QVERIFY(processGone(pid));
            QVERIFY(!redis.ping(300));
            QVERIFY2(redis.start(), qPrintable(redis.errorString()));
            QCOMPARE(redis.port(), port);
            QVERIFY(redis.ping());

            redis.stop();
            QVERIFY(!redis.isRunning());
            QVERIFY(!redis.ping(300));
            QVERIFY2(redis.start(), qPrintable(redis.errorString()));
            pid = redis.pid();
        }
        // The destructor leaves nothing behind.
        QVERIFY(processGone(pid));
        QVERIFY(!portAccepts(port));
    }

    void postgresStartsAnswersAndStops()
    {
        qint64 pid = 0;
        quint16 port = 0;
        QString directory;
        {
            TempPostgres pg;
            QVERIFY2(pg.start(), qPrintable(pg.errorString()));
            pid = pg.pid();
            port = pg.port();
            directory = pg.directory();
            QVERIFY(pid > 0);
            QVERIFY(QDir(directory).exists());
            QCOMPARE(pg.connectionSpec(), QStringLiteral("postgresql://postgres@127.0.0.1:%1/lockstep_test").arg(port));
            QString error = queryPostgres(pg, TempPostgres::DefaultDatabase);
            QVERIFY2(error.isEmpty(), qPrintable(error));

            const std::optional<QString> spec = pg.createDatabase(QStringLiteral("extra_db"));
            QVERIFY2(spec, qPrintable(pg.errorString()));
            QCOMPARE(*spec, QStringLiteral("postgresql://postgres@127.0.0.1:%1/extra_db").arg(port));
            error = queryPostgres(pg, QStringLiteral("extra_db"));
            QVERIFY2(error.isEmpty(), qPrintable(error));
            QVERIFY(pg.createDatabase());                             // generated name
            QVERIFY(!pg.createDatabase(QStringLiteral("extra_db")));  // exists already
            QVERIFY(!pg.createDatabase(QStringLiteral("bad name; DROP")));

            // stop() drops everything at once; start() brings the same data back.
            QVERIFY(pg.stop());
            QVERIFY(processGone(pid));
            QVERIFY(!queryPostgres(pg, QStringLiteral("extra_db")).isEmpty());
            QVERIFY2(pg.start(), qPrintable(pg.errorString()));
            QCOMPARE(pg.port(), port);
            error = queryPostgres(pg, QStringLiteral("extra_db"));
            QVERIFY2(error.isEmpty(), qPrintable(error));
            pid = pg.pid();
        }
        QVERIFY(processGone(pid));
        QVERIFY(!portAccepts(port));
        QVERIFY(!QDir(directory).exists());
    }
};

QTEST_GUILESS_MAIN(TestTempServers)
#include "tst_tempservers.moc"
