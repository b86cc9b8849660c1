// Fan-out: N subscribers (default 200) on one workflow running the `long`
// flow through a real gateway. Prints chat-log entries delivered per second
// (over all subscribers), the delivery lag of the last entry, and the
// gateway's peak memory (VmHWM from /proc/<pid>/status).
//
//   bench_fanout [--subscribers N] [--scale F] [--store sqlite|postgresql]
//
// Subscribers are QWebSocket clients on this thread (no 1013 needed here).

#include <cstdio>

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QNetworkRequest>
#include <QThread>
#include <QWebSocket>

#include "benchutil.h"
#include "gatewayprocess.h"

using namespace Lockstep;
using namespace Lockstep::Test;
using namespace Lockstep::Bench;

namespace
{
    struct Subscriber
    {
        std::unique_ptr<QWebSocket> socket;
        qint64 entries = 0;
        qint64 bytes = 0;
        qint64 lastSeq = 0;
        bool snapshot = false;
        bool ended = false;  // saw the turn end (input_required)
        qint64 lastEntryAtMs = 0;
    };
}  // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    Bench::useGatewayBinary(LOCKSTEP_GATEWAY_BIN_DEFAULT);
    QCommandLineParser parser;
    parser.addOptions({
        {QStringLiteral("subscribers"), QStringLiteral("subscribers on the workflow"), QStringLiteral("N"),
         QStringLiteral("200")},
        {QStringLiteral("scale"), QStringLiteral("--step-delay-scale of the gateway (0: as fast as it goes)"),
         QStringLiteral("F"), QStringLiteral("0.01")},
        {QStringLiteral("store"), QStringLiteral("sqlite or postgresql"), QStringLiteral("KIND"),
         QStringLiteral("sqlite")},
    });
    parser.process(app);
    const int count = qBound(1, parser.value(QStringLiteral("subscribers")).toInt(), 5000);

    StoreBackends stores;
    QString error;
    const QString store = stores.newStore(parser.value(QStringLiteral("store")), &error);
    if (store.isEmpty())
        qFatal("%s", qPrintable(error));
    GatewayProcess gateway;
    if (!gateway.start({QStringLiteral("--store"), store, QStringLiteral("--step-delay-scale"),
                        parser.value(QStringLiteral("scale")), QStringLiteral("--max-connections"),
                        QString::number(count + 64)}))
        qFatal("%s", qPrintable(gateway.errorString()));
    const qint64 idleHwm = statusKb(gateway.pid(), "VmHWM:");

    const HttpReply created =
        httpRequest("POST", gateway.baseUrl() + QStringLiteral("/api/v1/workflows"), gateway.token(),
                    R"({"goal":"a long one","flow":"long","workflowID":"fanout"})");
    if (created.status != 201)
        qFatal("cannot create the workflow: %s", created.body.constData());

    QElapsedTimer clock;
    clock.start();
    std::vector<Subscriber> subscribers(count);
    for (Subscriber &subscriber : subscribers)
    {
        subscriber.socket = std::make_unique<QWebSocket>();
        Subscriber *s = &subscriber;
        QObject::connect(s->socket.get(), &QWebSocket::connected, s->socket.get(), [s] {
            s->socket->sendTextMessage(QStringLiteral("{\"subscribe\":{\"workflowID\":\"fanout\"}}"));
        });
        QObject::connect(
            s->socket.get(), &QWebSocket::textMessageReceived, s->socket.get(), [s, &clock](const QString &text) {
                s->bytes += text.size();
                const QJsonObject message = QJsonDocument::fromJson(text.toUtf8()).object();
                if (message.contains(u"newCheckpoint"))
                {
                    const QJsonObject payload =
                        QJsonDocument::fromJson(
                            message.value(u"newCheckpoint").toObject().value(u"checkpoint").toString().toUtf8())
                            .object();
                    const qint64 n = payload.value(u"channel_values").toObject().value(u"ui_chat_log").toArray().size();
                    if (s->snapshot)
                    {
                        s->entries += n;
                        if (n > 0)
                            s->lastEntryAtMs = clock.elapsed();
                    }
                    s->snapshot = true;
                    s->lastSeq = payload.value(u"seq").toInteger();
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
    if (!spinUntil(
            [&] {
                return std::all_of(subscribers.cbegin(), subscribers.cend(),
                                   [](const Subscriber &s) { return s.snapshot; });
            },
            120000))
        qFatal("not every subscriber got its snapshot");
    const qint64 connectMs = clock.elapsed();

    WsProbe driver;
    driver.open(gateway.webSocketUrl(), gateway.token());
    driver.sendJson(WsProbe::startRequest(QStringLiteral("fanout"), QString()));
    const qint64 startMs = clock.elapsed();
    qint64 peakRssKb = 0;
    QElapsedTimer sampler;
    sampler.start();
    const bool ended = spinUntil(
        [&] {
            if (sampler.elapsed() > 200)
            {
                peakRssKb = qMax(peakRssKb, statusKb(gateway.pid(), "VmRSS:"));
                sampler.restart();
            }
            return driver.isClosed() &&
                   std::all_of(subscribers.cbegin(), subscribers.cend(), [](const Subscriber &s) { return s.ended; });
        },
        600000);
    if (!ended)
        qFatal("the run did not reach every subscriber");
    const qint64 runMs = clock.elapsed() - startMs;
    const qint64 hwmKb = statusKb(gateway.pid(), "VmHWM:");

    qint64 entries = 0;
    qint64 bytes = 0;
    qint64 lastDelivery = 0;
    qint64 perSubscriber = subscribers.front().entries;
    bool allSame = true;
    for (const Subscriber &s : subscribers)
    {
        entries += s.entries;
        bytes += s.bytes;
        lastDelivery = qMax(lastDelivery, s.lastEntryAtMs);
        allSame = allSame && (s.entries == perSubscriber) && (s.lastSeq == subscribers.front().lastSeq);
    }

    printf("bench_fanout: %d subscribers on one `long` run (--step-delay-scale %s, %s store)\n", count,
           qPrintable(parser.value(QStringLiteral("scale"))), qPrintable(parser.value(QStringLiteral("store"))));
    printf("  connect + snapshot of all subscribers: %lld ms\n", connectMs);
    printf("  run: %lld ms, %lld entry versions per subscriber (seq %lld), identical for all: %s\n", runMs,
           perSubscriber, subscribers.front().lastSeq, allSame ? "yes" : "NO");
    printf("  delivered: %lld entries, %.1f MiB to all subscribers\n", entries, double(bytes) / (1024.0 * 1024.0));
    printf(
        "  throughput: %.0f entries/s delivered (over all subscribers); last entry delivered %lld ms after the start\n",
        1000.0 * double(entries) / double(qMax<qint64>(1, runMs)), lastDelivery - startMs);
    printf("  gateway memory: VmHWM %lld KiB peak (%lld KiB idle before subscribers), VmRSS sampled peak %lld KiB\n",
           hwmKb, idleHwm, peakRssKb);
    for (Subscriber &s : subscribers)
        s.socket->close();
    gateway.terminate();
    return 0;
}
