// Live events across replicas: two gateways on one PostgreSQL; the run
// executes on A, its subscribers sit on B.
//
//  1. Latency: N subscribers (default 200) on B watch one `long` run on A.
//     For every chat-log entry: its timestamp (set by A's executor just before
//     the write) to its arrival at each subscriber on B; p50 / p99 / max.
//  2. At rest: N idle workflows, one subscriber each on B. Statements the
//     database runs per second, counted from its own log
//     (log_min_duration_statement = 0) over a quiet window: what the feeds
//     cost when nothing happens.
//
//   bench_crossreplica [--subscribers N] [--scale F] [--rest-seconds S]
//
// LOCKSTEP_GATEWAY_BIN picks the gateway binary. The baseline is not a model:
// it is this program against a real earlier build (before LISTEN/NOTIFY feeds,
// commit a08aaf9^, where replicas polled), on the same PostgreSQL set-up,
// flows, subscriber count and machine; only the gateway binary differs. The
// table says "poll (older gateway)" when /healthz names no feed mechanism.

#include <algorithm>
#include <cstdio>

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDateTime>
#include <QDeadlineTimer>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QNetworkRequest>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QUrl>
#include <QWebSocket>

#include "benchutil.h"
#include "gatewayprocess.h"
#include "temppostgres.h"

using namespace Lockstep;
using namespace Lockstep::Test;
using namespace Lockstep::Bench;

namespace
{
    struct Subscriber
    {
        std::unique_ptr<QWebSocket> socket;
        bool snapshot = false;
        bool ended = false;
    };

    // One websocket subscribing to `workflowId` on `gateway`; `onEntry` gets every
    // delta entry (not the snapshot) as it arrives.
    void subscribe(Subscriber &subscriber, const GatewayProcess &gateway, const QString &workflowId,
                   const std::function<void(const QJsonObject &entry)> &onEntry)
    {
        subscriber.socket = std::make_unique<QWebSocket>();
        Subscriber *s = &subscriber;
        QObject::connect(s->socket.get(), &QWebSocket::connected, s->socket.get(), [s, workflowId] {
            s->socket->sendTextMessage(QString::fromUtf8(
                QJsonDocument(
                    QJsonObject{{QStringLiteral("subscribe"), QJsonObject{{QStringLiteral("workflowID"), workflowId}}}})
                    .toJson(QJsonDocument::Compact)));
        });
        QObject::connect(
            s->socket.get(), &QWebSocket::textMessageReceived, s->socket.get(), [s, onEntry](const QString &text) {
                const QJsonObject message = QJsonDocument::fromJson(text.toUtf8()).object();
                if (message.contains(u"newCheckpoint"))
                {
                    const QJsonObject payload =
                        QJsonDocument::fromJson(
                            message.value(u"newCheckpoint").toObject().value(u"checkpoint").toString().toUtf8())
                            .object();
                    if (s->snapshot && onEntry)
                    {
                        for (const QJsonValue &entry :
                             payload.value(u"channel_values").toObject().value(u"ui_chat_log").toArray())
                            onEntry(entry.toObject());
                    }
                    s->snapshot = true;
                }
                else if (message.value(u"runStatus").toObject().value(u"status").toString() == u"input_required")
                {
                    s->ended = true;
                }
            });
        QNetworkRequest request(gateway.webSocketUrl());
        request.setRawHeader("Authorization", "Bearer " + gateway.token().toUtf8());
        s->socket->open(request);
    }

    qint64 statementsLogged(const QString &logPath)
    {
        QFile file(logPath);
        if (!file.open(QIODevice::ReadOnly))
            return -1;
        return file.readAll().count("duration: ");
    }
}  // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    Bench::useGatewayBinary(LOCKSTEP_GATEWAY_BIN_DEFAULT);
    QCommandLineParser parser;
    parser.addOptions({
        {QStringLiteral("subscribers"), QStringLiteral("subscribers on B"), QStringLiteral("N"), QStringLiteral("200")},
        {QStringLiteral("scale"), QStringLiteral("--step-delay-scale of the gateways"), QStringLiteral("F"),
         QStringLiteral("0.01")},
        {QStringLiteral("rest-seconds"), QStringLiteral("length of the quiet window"), QStringLiteral("S"),
         QStringLiteral("10")},
    });
    parser.process(app);
    const int count = qBound(1, parser.value(QStringLiteral("subscribers")).toInt(), 2000);
    const int restSeconds = qBound(1, parser.value(QStringLiteral("rest-seconds")).toInt(), 600);

    TempPostgres postgres;
    if (!postgres.start())
        qFatal("%s", qPrintable(postgres.errorString()));
    const auto spec = postgres.createDatabase();
    if (!spec)
        qFatal("cannot create a database");
    const QStringList common{QStringLiteral("--store"),
                             *spec,
                             QStringLiteral("--step-delay-scale"),
                             parser.value(QStringLiteral("scale")),
                             QStringLiteral("--max-connections"),
                             QString::number(2 * count + 64)};
    GatewayProcess a;
    GatewayProcess b;
    if (!a.start(common + QStringList{QStringLiteral("--replica-id"), QStringLiteral("a")}) ||
        !b.start(common + QStringList{QStringLiteral("--replica-id"), QStringLiteral("b")}))
        qFatal("%s %s", qPrintable(a.errorString()), qPrintable(b.errorString()));
    const QString feedUpdates =
        httpRequest("GET", b.baseUrl() + QStringLiteral("/healthz")).json.value(u"feedUpdates").toString();

    // ---- 1. latency: A writes, B delivers ----
    if (httpRequest("POST", a.baseUrl() + QStringLiteral("/api/v1/workflows"), a.token(),
                    R"({"goal":"a long one","flow":"long","workflowID":"crossed"})")
            .status != 201)
        qFatal("cannot create the workflow");
    std::vector<qint64> latenciesNs;
    std::vector<Subscriber> watchers(count);
    for (Subscriber &watcher : watchers)
    {
        subscribe(watcher, b, QStringLiteral("crossed"), [&latenciesNs](const QJsonObject &entry) {
            const QDateTime written = QDateTime::fromString(entry.value(u"timestamp").toString(), Qt::ISODateWithMs);
            if (written.isValid())
                latenciesNs.push_back((QDateTime::currentMSecsSinceEpoch() - written.toMSecsSinceEpoch()) * 1000000);
        });
    }
    if (!spinUntil(
            [&] {
                return std::all_of(watchers.cbegin(), watchers.cend(), [](const Subscriber &s) { return s.snapshot; });
            },
            120000))
        qFatal("not every subscriber got its snapshot");
    WsProbe driver;
    driver.open(a.webSocketUrl(), a.token());
    driver.sendJson(WsProbe::startRequest(QStringLiteral("crossed"), QString()));
    QElapsedTimer runClock;
    runClock.start();
    if (!spinUntil(
            [&] {
                return driver.isClosed() &&
                       std::all_of(watchers.cbegin(), watchers.cend(), [](const Subscriber &s) { return s.ended; });
            },
            600000))
        qFatal("the run did not reach every subscriber on B");
    const qint64 runMs = runClock.elapsed();
    const qint64 deliveries = static_cast<qint64>(latenciesNs.size());
    const Latency latency = summarise(std::move(latenciesNs), 0);
    for (Subscriber &watcher : watchers)
        watcher.socket->close();

    // ---- 2. at rest: N idle workflows, one subscriber each on B ----
    std::vector<Subscriber> idle(count);
    for (int i = 0; i < count; ++i)
    {
        const QString id = QStringLiteral("idle-%1").arg(i);
        if (httpRequest("POST", a.baseUrl() + QStringLiteral("/api/v1/workflows"), a.token(),
                        QJsonDocument(QJsonObject{{QStringLiteral("goal"), QStringLiteral("wait")},
                                                  {QStringLiteral("workflowID"), id}})
                            .toJson())
                .status != 201)
            qFatal("cannot create %s", qPrintable(id));
        subscribe(idle[i], b, id, {});
    }
    if (!spinUntil(
            [&] { return std::all_of(idle.cbegin(), idle.cend(), [](const Subscriber &s) { return s.snapshot; }); },
            120000))
        qFatal("not every idle subscriber got its snapshot");

    // Every statement the server runs from now on is logged with its duration.
    {
        QSqlDatabase admin = QSqlDatabase::addDatabase(QStringLiteral("QPSQL"), QStringLiteral("admin"));
        const QUrl url(*spec);
        admin.setHostName(url.host());
        admin.setPort(url.port());
        admin.setUserName(url.userName());
        admin.setDatabaseName(url.path().mid(1));
        if (!admin.open())
            qFatal("admin connection: %s", qPrintable(admin.lastError().text()));
        QSqlQuery query(admin);
        if (!query.exec(QStringLiteral("ALTER SYSTEM SET log_min_duration_statement = 0")) ||
            !query.exec(QStringLiteral("SELECT pg_reload_conf()")))
            qFatal("cannot turn statement logging on");
        admin.close();
    }
    QSqlDatabase::removeDatabase(QStringLiteral("admin"));
    spinUntil([] { return false; }, 2000);  // settle: the reload reaches every backend
    const QString logPath = postgres.directory() + QStringLiteral("/server.log");
    const qint64 before = statementsLogged(logPath);
    spinUntil([] { return false; }, restSeconds * 1000);
    const qint64 after = statementsLogged(logPath);

    printf("bench_crossreplica: gateways A and B on one PostgreSQL (--step-delay-scale %s); B's feeds: %s\n",
           qPrintable(parser.value(QStringLiteral("scale"))),
           qPrintable(feedUpdates.isEmpty() ? QStringLiteral("poll (older gateway)") : feedUpdates));
    printf("  1. %d subscribers on B, one `long` run on A (%lld ms): %lld entry deliveries\n", count, runMs,
           deliveries);
    printf("     entry written on A -> delivered on B: p50 %.1f ms, p99 %.1f ms, max %.1f ms\n", latency.p50Us / 1000.0,
           latency.p99Us / 1000.0, latency.maxUs / 1000.0);
    printf("  2. %d idle workflows with one subscriber each on B, %d s quiet: %lld statements, %.1f per second\n",
           count, restSeconds, after - before, double(after - before) / restSeconds);
    for (Subscriber &s : idle)
        s.socket->close();
    a.terminate();
    b.terminate();
    return 0;
}
