// Echo benchmark: the console's WebSocketClient (Boost.Beast's websocket
// stream on the shared I/O thread) against QWebSocket, the websocket client Qt
// itself offers (the console cannot use it: it turns close code 1013 into
// 1002). QWebSocket is the yardstick, not a rival. The comparison is fair: both
// talk to the same QWebSocketServer echo server on loopback in its own thread,
// send the same messages with the same window, take turns going first in every
// round, and hand every message to this (the GUI) thread as a QString signal,
// which is what the console consumes. Prints throughput (a window of messages
// in flight) and round-trip latency (one at a time), plus the CPU time per
// message of the client side and of the server thread (throughput runs), which
// says more than wall time when the machine is busy.
// Goal (issue 11): >= 50 000 messages/s and p99 < 1 ms on loopback; beyond what
// a console can render, speed is not worth protocol code of our own.
//
//   bench_wsecho [--messages N] [--window W] [--roundtrips R] [--size BYTES] [--rounds K]
//                [--only ours|qt] [--tails]

#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>
#include <vector>

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QFile>
#include <QLoggingCategory>
#include <QThread>
#include <QTimer>
#include <QWebSocket>

#include "testwebsocketserver.h"
#include "transport/websocketclient.h"

using namespace Lockstep;
using namespace std::chrono_literals;

namespace
{
    // The two clients behind one face.
    class EchoClient
    {
    public:
        virtual ~EchoClient() = default;
        virtual QString name() const = 0;
        virtual bool connectTo(const QUrl &url) = 0;
        virtual void send(const QString &message) = 0;
        std::function<void(const QString &)> onMessage;
    };

    bool waitFor(const std::function<bool()> &done, const int timeoutMs)
    {
        QElapsedTimer timer;
        timer.start();
        while (!done() && timer.elapsed() < timeoutMs)
            QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents, 50);
        return done();
    }

    class OurClient final : public EchoClient
    {
    public:
        QString name() const override
        {
            return QStringLiteral("WebSocketClient");
        }

        bool connectTo(const QUrl &url) override
        {
            bool up = false;
            QObject::connect(&m_client, &Transport::WebSocketClient::connected, &m_client, [&up] { up = true; });
            QObject::connect(&m_client, &Transport::WebSocketClient::textMessageReceived, &m_client,
                             [this](const QString &message) { onMessage(message); });
            Transport::ClientOptions options;
            options.url = url;
            m_client.open(options);
            return waitFor([&up] { return up; }, 10000);
        }

        void send(const QString &message) override
        {
            m_client.sendText(message);
        }

    private:
        Transport::WebSocketClient m_client;
    };

    class QtClient final : public EchoClient
    {
    public:
        QString name() const override
        {
            return QStringLiteral("QWebSocket (baseline)");
        }

        bool connectTo(const QUrl &url) override
        {
            QObject::connect(&m_socket, &QWebSocket::textMessageReceived, &m_socket,
                             [this](const QString &message) { onMessage(message); });
            m_socket.open(url);
            return waitFor([this] { return m_socket.state() == QAbstractSocket::ConnectedState; }, 10000);
        }

        void send(const QString &message) override
        {
            m_socket.sendTextMessage(message);
        }

    private:
        QWebSocket m_socket;
    };

    // CPU time (ns) of this process's threads, split into the echo server's
    // thread and everything else (the client side), from /proc (Linux).
    struct CpuTime
    {
        double clientNs = 0;
        double serverNs = 0;
        double clientSwitches = 0;  // voluntary context switches: sleeps, roughly wakeups
    };

    CpuTime cpuTime()
    {
        CpuTime total;
        const QDir tasks(QStringLiteral("/proc/self/task"));
        for (const QString &tid : tasks.entryList(QDir::Dirs | QDir::NoDotAndDotDot))
        {
            QFile comm(tasks.filePath(tid + QStringLiteral("/comm")));
            QFile schedstat(tasks.filePath(tid + QStringLiteral("/schedstat")));
            if (!comm.open(QIODevice::ReadOnly) || !schedstat.open(QIODevice::ReadOnly))
                continue;
            const double ns = schedstat.readAll().split(' ').value(0).toDouble();
            if (comm.readAll().trimmed() == "echo-server")
            {
                total.serverNs += ns;
                continue;
            }
            total.clientNs += ns;
            QFile status(tasks.filePath(tid + QStringLiteral("/status")));
            if (!status.open(QIODevice::ReadOnly))
                continue;
            for (const QByteArray &line : status.readAll().split('\n'))
            {
                if (line.startsWith("voluntary_ctxt_switches:"))
                    total.clientSwitches += line.mid(24).trimmed().toDouble();
            }
        }
        return total;
    }

    struct Figures
    {
        double messagesPerSecond = 0;
        double mibPerSecond = 0;
        double p50us = 0;
        double p99us = 0;
        double clientCpuUs = 0;  // per message, client threads (GUI thread and, for ours, the I/O thread)
        double serverCpuUs = 0;
        double clientSwitches = 0;  // per message
    };

    // N messages, at most `window` in flight.
    double throughput(EchoClient &client, const QString &payload, const int count, const int window)
    {
        int sent = 0;
        int received = 0;
        QEventLoop loop;
        client.onMessage = [&](const QString &) {
            ++received;
            if (sent < count)
            {
                client.send(payload);
                ++sent;
            }
            if (received == count)
                loop.quit();
        };
        QElapsedTimer timer;
        timer.start();
        for (; sent < std::min(window, count); ++sent)
            client.send(payload);
        QTimer::singleShot(120s, &loop, [&loop] { loop.exit(1); });
        if (loop.exec() != 0)
            qFatal("throughput run timed out (%d of %d echoes)", received, count);
        return static_cast<double>(count) / (static_cast<double>(timer.nsecsElapsed()) / 1e9);
    }

    // One message at a time; returns every round trip in microseconds.
    std::vector<double> latencies(EchoClient &client, const QString &payload, const int count)
    {
        std::vector<double> samples;
        samples.reserve(static_cast<std::size_t>(count));
        QElapsedTimer timer;
        QEventLoop loop;
        client.onMessage = [&](const QString &) {
            samples.push_back(static_cast<double>(timer.nsecsElapsed()) / 1000.0);
            if (static_cast<int>(samples.size()) == count)
            {
                loop.quit();
                return;
            }
            timer.start();
            client.send(payload);
        };
        QTimer::singleShot(120s, &loop, [&loop] { loop.exit(1); });
        timer.start();
        client.send(payload);
        if (loop.exec() != 0)
            qFatal("latency run timed out (%zu of %d round trips)", samples.size(), count);
        return samples;
    }

    double percentile(std::vector<double> values, const double p)
    {
        std::sort(values.begin(), values.end());
        const auto index = static_cast<std::size_t>(p * static_cast<double>(values.size() - 1) + 0.5);
        return values.at(std::min(index, values.size() - 1));
    }

    double median(std::vector<double> values)
    {
        return percentile(std::move(values), 0.5);
    }
}  // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QLoggingCategory::setFilterRules(QStringLiteral("lockstep.transport.debug=false\nlockstep.transport.info=false"));
    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Websocket echo benchmark: WebSocketClient vs QWebSocket"));
    parser.addHelpOption();
    const QCommandLineOption messagesOption(QStringLiteral("messages"), QStringLiteral("Messages per throughput run."),
                                            QStringLiteral("N"), QStringLiteral("20000"));
    const QCommandLineOption windowOption(QStringLiteral("window"), QStringLiteral("Messages in flight."),
                                          QStringLiteral("W"), QStringLiteral("64"));
    const QCommandLineOption roundTripsOption(QStringLiteral("roundtrips"),
                                              QStringLiteral("Round trips per latency run."), QStringLiteral("R"),
                                              QStringLiteral("5000"));
    const QCommandLineOption sizeOption(QStringLiteral("size"), QStringLiteral("Message size in bytes."),
                                        QStringLiteral("BYTES"), QStringLiteral("1024"));
    const QCommandLineOption roundsOption(QStringLiteral("rounds"),
                                          QStringLiteral("Repetitions, alternating the clients; medians are shown."),
                                          QStringLiteral("K"), QStringLiteral("3"));
    const QCommandLineOption onlyOption(QStringLiteral("only"), QStringLiteral("Run one client only (for profiling)."),
                                        QStringLiteral("ours|qt"));
    const QCommandLineOption tailsOption(QStringLiteral("tails"),
                                         QStringLiteral("Print the latency tail (p90..max) of every run."));
    parser.addOptions(
        {messagesOption, windowOption, roundTripsOption, sizeOption, roundsOption, onlyOption, tailsOption});
    parser.process(app);
    const int messages = std::max(1, parser.value(messagesOption).toInt());
    const int window = std::max(1, parser.value(windowOption).toInt());
    const int roundTrips = std::max(1, parser.value(roundTripsOption).toInt());
    const int size = std::max(1, parser.value(sizeOption).toInt());
    const int rounds = std::max(1, parser.value(roundsOption).toInt());
    const bool tails = parser.isSet(tailsOption);

    // The echo server in its own thread with its own event loop.
    QThread serverThread;
    serverThread.setObjectName(QStringLiteral("echo-server"));
    auto *server = new Test::TestWebSocketServer;
    server->setRecordMessages(false);
    server->moveToThread(&serverThread);
    QObject::connect(&serverThread, &QThread::finished, server, &QObject::deleteLater);
    serverThread.start();
    QUrl url;
    QMetaObject::invokeMethod(
        server,
        [server, &url] {
            if (!server->listen())
                qFatal("echo server cannot listen: %s", qPrintable(server->errorString()));
            url = server->url(QStringLiteral("/echo"));
        },
        Qt::BlockingQueuedConnection);

    const QString payload(size, u'x');
    std::vector<std::unique_ptr<EchoClient>> clients;
    const QString only = parser.value(onlyOption);
    if (only.isEmpty() || only == u"ours")
        clients.push_back(std::make_unique<OurClient>());
    if (only.isEmpty() || only == u"qt")
        clients.push_back(std::make_unique<QtClient>());
    for (auto &client : clients)
    {
        if (!client->connectTo(url))
            qFatal("%s cannot connect to %s", qPrintable(client->name()), qPrintable(url.toString()));
        throughput(*client, payload, 2000, window);  // warm up
        latencies(*client, payload, 500);
    }

    std::vector<std::vector<double>> rates(clients.size());
    std::vector<std::vector<double>> p50s(clients.size());
    std::vector<std::vector<double>> p99s(clients.size());
    std::vector<std::vector<double>> clientCpu(clients.size());
    std::vector<std::vector<double>> serverCpu(clients.size());
    std::vector<std::vector<double>> switches(clients.size());
    for (int round = 0; round < rounds; ++round)
    {
        for (std::size_t i = 0; i < clients.size(); ++i)
        {
            // Alternate who goes first, so neither always runs on a warmer machine.
            const std::size_t k = (round % 2 == 0) ? i : clients.size() - 1 - i;
            const CpuTime before = cpuTime();
            rates[k].push_back(throughput(*clients[k], payload, messages, window));
            const CpuTime after = cpuTime();
            clientCpu[k].push_back((after.clientNs - before.clientNs) / 1000.0 / messages);
            serverCpu[k].push_back((after.serverNs - before.serverNs) / 1000.0 / messages);
            switches[k].push_back((after.clientSwitches - before.clientSwitches) / messages);
            const std::vector<double> samples = latencies(*clients[k], payload, roundTrips);
            if (tails)
                std::printf("%s: p90 %.1f p95 %.1f p98 %.1f p99 %.1f p99.9 %.1f max %.1f\n",
                            qPrintable(clients[k]->name()), percentile(samples, 0.90), percentile(samples, 0.95),
                            percentile(samples, 0.98), percentile(samples, 0.99), percentile(samples, 0.999),
                            percentile(samples, 1.0));
            p50s[k].push_back(percentile(samples, 0.50));
            p99s[k].push_back(percentile(samples, 0.99));
        }
    }

    std::printf("websocket echo over loopback: %d-byte text messages; throughput %d messages with %d in flight; "
                "latency %d round trips one at a time; median of %d rounds\n",
                size, messages, window, roundTrips, rounds);
    std::printf("%-26s %11s %8s %8s %8s %18s %18s %16s\n", "client", "messages/s", "MiB/s", "p50 us", "p99 us",
                "client CPU us/msg", "server CPU us/msg", "client sleeps/msg");
    std::vector<Figures> figures;
    for (std::size_t k = 0; k < clients.size(); ++k)
    {
        Figures f;
        f.messagesPerSecond = median(rates[k]);
        f.mibPerSecond = f.messagesPerSecond * size / (1024.0 * 1024.0);
        f.p50us = median(p50s[k]);
        f.p99us = median(p99s[k]);
        f.clientCpuUs = median(clientCpu[k]);
        f.serverCpuUs = median(serverCpu[k]);
        f.clientSwitches = median(switches[k]);
        figures.push_back(f);
        std::printf("%-26s %11.0f %8.2f %8.1f %8.1f %18.2f %18.2f %16.3f\n", qPrintable(clients[k]->name()),
                    f.messagesPerSecond, f.mibPerSecond, f.p50us, f.p99us, f.clientCpuUs, f.serverCpuUs,
                    f.clientSwitches);
    }
    if (only.isEmpty() || only == u"ours")
    {
        std::printf("goal for WebSocketClient: >= 50000 messages/s and p99 < 1000 us: %s\n",
                    (figures[0].messagesPerSecond >= 50000.0 && figures[0].p99us < 1000.0) ? "met" : "not met");
    }
    std::fflush(stdout);

    clients.clear();
    serverThread.quit();
    serverThread.wait();
    return 0;
}
