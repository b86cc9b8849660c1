// The longest GUI-thread stall around the console's websocket sessions. A
// 2 ms precise QTimer ticks on the GUI thread; the longest gap between two
// ticks is the stall (nothing else runs on that thread while it waits):
//
//   reconnect: 10 tabs of one workflow live in a real MainWindow (offscreen);
//              the gateway is SIGKILLed and started again on the same port and
//              store; from the kill until every tab is live again.
//   quit:      10 live tabs; the MainWindow is destroyed, as when the console quits.
//   destroy:   10 connected WebSocketClients deleted at once, with the gateway
//              answering, and with the gateway SIGSTOPped (hung: no close
//              reply comes, and none can be waited for).
//   idle:      nothing happens for 500 ms: the floor the machine itself sets
//              (on a busy machine the GUI thread is simply not scheduled).
//
// The same program measured the client before and after issue 11 (a client
// that waited on the GUI thread for its goodbye, against one that hands it to
// its I/O thread); every figure is the console's own code path, nothing is
// modelled. Goal (issue 11): every max gap <= 50 ms.
//
//   bench_guistall [--rounds K]

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <memory>
#include <vector>

#include <QApplication>
#include <QCommandLineParser>
#include <QElapsedTimer>
#include <QLoggingCategory>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QTimer>

#include "benchutil.h"
#include "connection.h"
#include "gatewayprocess.h"
#include "mainwindow.h"
#include "testgateway.h"
#include "transport/websocketclient.h"
#include "workflowtab.h"

using namespace std::chrono_literals;
using namespace Lockstep;
using namespace Lockstep::Ui;

namespace
{
    constexpr int Tabs = 10;

    // The longest gap between two ticks of a 2 ms timer on this (the GUI) thread.
    class StallMeter
    {
    public:
        StallMeter()
        {
            m_timer.setTimerType(Qt::PreciseTimer);
            m_timer.setInterval(2);
            QObject::connect(&m_timer, &QTimer::timeout, &m_timer, [this] { tick(); });
        }

        void start()
        {
            m_maxNs = 0;
            m_clock.start();
            m_lastNs = 0;
            m_timer.start();
        }

        // The longest gap in ms, the running one included.
        double stopMs()
        {
            tick();
            m_timer.stop();
            return static_cast<double>(m_maxNs) / 1e6;
        }

    private:
        void tick()
        {
            const qint64 now = m_clock.nsecsElapsed();
            m_maxNs = std::max(m_maxNs, now - m_lastNs);
            m_lastNs = now;
        }

        QTimer m_timer;
        QElapsedTimer m_clock;
        qint64 m_lastNs = 0;
        qint64 m_maxNs = 0;
    };

    void settle(const int ms)
    {
        Bench::spinUntil([] { return false; }, ms);
    }

    void print(const char *what, std::vector<double> gaps, const int errors)
    {
        std::sort(gaps.begin(), gaps.end());
        const double median = gaps.empty() ? 0 : gaps.at(gaps.size() / 2);
        const double worst = gaps.empty() ? 0 : gaps.back();
        std::printf("%-24s rounds=%2zu  max gap: median %7.1f ms  worst %7.1f ms  errors=%d  %s\n", what, gaps.size(),
                    median, worst, errors, (errors == 0 && worst <= 50.0) ? "(goal met)" : "(goal NOT met)");
        std::fflush(stdout);
    }

    bool allConnected(const QList<WorkflowTab *> &tabs)
    {
        return std::all_of(tabs.cbegin(), tabs.cend(), [](WorkflowTab *tab) {
            return tab->liveConnection()->status().state == ConnectionState::Connected;
        });
    }

    bool noneConnected(const QList<WorkflowTab *> &tabs)
    {
        return std::none_of(tabs.cbegin(), tabs.cend(), [](WorkflowTab *tab) {
            return tab->liveConnection()->status().state == ConnectionState::Connected;
        });
    }

    // A real console with Tabs tabs of one workflow on a real gateway.
    class ConsoleBench
    {
    public:
        bool setUp()
        {
            if (!m_dir.isValid() || !m_gateway.start())
                return false;
            if (!openWindow())
                return false;
            m_window->createWorkflow(QStringLiteral("Create a file called hello.sh that prints hello"),
                                     QStringLiteral("hello"));
            if (!Bench::spinUntil([this] { return m_window->tabs().size() == 1; }, 10000))
                return false;
            m_workflowId = m_window->tabs().constFirst()->workflowId();
            return Bench::spinUntil(
                [this] { return m_window->tabs().constFirst()->runStatus() == RunStatus::InputRequired; }, 20000);
        }

        bool openTabs()
        {
            while (m_window->tabs().size() < Tabs)
                m_window->openWorkflow(m_workflowId, true);
            return Bench::spinUntil([this] { return allConnected(m_window->tabs()); }, 10000);
        }

        // SIGKILL and start again; the longest stall until every tab is live.
        std::optional<double> reconnect()
        {
            const QList<WorkflowTab *> tabs = m_window->tabs();
            m_meter.start();
            m_gateway.kill();
            if (!Bench::spinUntil([&] { return noneConnected(tabs); }, 10000) || !m_gateway.restart())
            {
                m_meter.stopMs();
                return std::nullopt;
            }
            const bool live = Bench::spinUntil([&] { return allConnected(tabs); }, 30000);
            const double gap = m_meter.stopMs();
            if (!live)
                return std::nullopt;
            return gap;
        }

        // Destroys the window with its live tabs, as at quit; opens a new one after.
        std::optional<double> quit()
        {
            m_meter.start();
            settle(20);
            m_window.reset();
            settle(20);
            const double gap = m_meter.stopMs();
            if (!openWindow())
                return std::nullopt;
            return gap;
        }

    private:
        bool openWindow()
        {
            ConsoleOptions options =
                m_gateway.consoleOptions(m_dir.filePath(QStringLiteral("console.ini")), BackoffOptions{});
            options.dataDir = m_dir.filePath(QStringLiteral("console-data"));
            options.restoreTabs = false;
            m_window = std::make_unique<MainWindow>(options);
            return Test::showConsole(*m_window);
        }

        QTemporaryDir m_dir;
        Test::TestGateway m_gateway;
        std::unique_ptr<MainWindow> m_window;
        QString m_workflowId;
        StallMeter m_meter;
    };

    // Tabs bare clients connected to a gateway, deleted in one go.
    std::optional<double> destroyClients(Test::GatewayProcess &gateway, const bool hung, StallMeter &meter)
    {
        std::vector<std::unique_ptr<Transport::WebSocketClient>> clients;
        int up = 0;
        for (int i = 0; i < Tabs; ++i)
        {
            auto client = std::make_unique<Transport::WebSocketClient>();
            QObject::connect(client.get(), &Transport::WebSocketClient::connected, client.get(), [&up] { ++up; });
            Transport::ClientOptions options;
            options.url = gateway.webSocketUrl();
            options.bearerToken = gateway.token();
            client->open(options);
            clients.push_back(std::move(client));
        }
        if (!Bench::spinUntil([&up] { return up == Tabs; }, 10000))
            return std::nullopt;
        if (hung)
            ::kill(static_cast<pid_t>(gateway.pid()), SIGSTOP);
        meter.start();
        settle(20);
        clients.clear();
        settle(20);
        const double gap = meter.stopMs();
        if (hung)
            ::kill(static_cast<pid_t>(gateway.pid()), SIGCONT);
        settle(200);  // let the gateway see the goodbyes before the next round
        return gap;
    }
}  // namespace

int main(int argc, char **argv)
{
    qputenv("QT_QPA_PLATFORM", "offscreen");
    Bench::useGatewayBinary(LOCKSTEP_GATEWAY_BIN_DEFAULT);
    QApplication app(argc, argv);
    QLoggingCategory::setFilterRules(QStringLiteral("lockstep.*.info=false"));
    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Longest GUI-thread stall: reconnects, quit, client teardown"));
    parser.addHelpOption();
    const QCommandLineOption roundsOption(QStringLiteral("rounds"), QStringLiteral("Rounds per scenario."),
                                          QStringLiteral("K"), QStringLiteral("5"));
    parser.addOption(roundsOption);
    parser.process(app);
    const int rounds = std::max(1, parser.value(roundsOption).toInt());

    std::printf("longest GUI-thread stall (2 ms timer), %d sessions, %d rounds per scenario\n", Tabs, rounds);
    {
        StallMeter meter;
        std::vector<double> gaps;
        for (int round = 0; round < rounds; ++round)
        {
            meter.start();
            settle(500);
            gaps.push_back(meter.stopMs());
        }
        print("idle (the floor)", gaps, 0);
    }
    {
        ConsoleBench bench;
        if (!bench.setUp())
        {
            std::fprintf(stderr, "bench_guistall: the gateway or the console did not come up\n");
            return 1;
        }
        std::vector<double> gaps;
        int errors = 0;
        for (int round = 0; round < rounds; ++round)
        {
            const auto gap = bench.openTabs() ? bench.reconnect() : std::nullopt;
            gap ? gaps.push_back(*gap) : void(++errors);
        }
        print("reconnect (SIGKILL)", gaps, errors);
        gaps.clear();
        errors = 0;
        for (int round = 0; round < rounds; ++round)
        {
            const auto gap = bench.openTabs() ? bench.quit() : std::nullopt;
            gap ? gaps.push_back(*gap) : void(++errors);
        }
        print("quit (window destroyed)", gaps, errors);
    }

    Test::GatewayProcess gateway;
    if (!gateway.start({}))
    {
        std::fprintf(stderr, "bench_guistall: %s\n", qPrintable(gateway.errorString()));
        return 1;
    }
    StallMeter meter;
    for (const bool hung : {false, true})
    {
        std::vector<double> gaps;
        int errors = 0;
        for (int round = 0; round < rounds; ++round)
        {
            const auto gap = destroyClients(gateway, hung, meter);
            gap ? gaps.push_back(*gap) : void(++errors);
        }
        print(hung ? "destroy 10, gateway hung" : "destroy 10 clients", gaps, errors);
    }
    return 0;
}
