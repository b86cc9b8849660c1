// Lock release -> every open tab shows "free", through a real MainWindow
// (offscreen) and a real lockstep-gateway:
//
//   release: a driving session (not a tab) sends the next message of a `hello`
//   chat; the turn ends in input_required and the gateway releases the lock.
//   From the release (the `at` of the gateway's lockStatus "released", epoch
//   ms on this machine's clock) to the moment every open tab's lock panel
//   says "free". 50 turns with 1 and with 10 tabs open.
//
//   reconnect: the gateway is SIGKILLed and started again on the same port
//   and store. From its /healthz answering to every tab showing live values
//   again (no "last known" in the lock panel or the run status). The console
//   uses its real defaults (run list poll every 1.5 s, default backoff).
//
// Figures: p50, p99 and max in ms. Goals (issue 10): release p99 <= 1 s,
// reconnect <= 2 s after /healthz answers.

#include <cstdio>

#include <QApplication>
#include <QDateTime>
#include <QElapsedTimer>
#include <QLabel>
#include <QLoggingCategory>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QTemporaryDir>
#include <QTest>

#include "benchutil.h"
#include "connection.h"
#include "lockpanel.h"
#include "locktracker.h"
#include "mainwindow.h"
#include "testgateway.h"
#include "workflowtab.h"

using namespace std::chrono_literals;
using namespace Lockstep;
using namespace Lockstep::Ui;

namespace
{
    constexpr int ReleaseRuns = 50;
    constexpr int ReconnectRounds = 15;

    struct Figures
    {
        double p50 = 0;
        double p99 = 0;
        double max = 0;
        int samples = 0;
        int errors = 0;
    };

    Figures figuresOf(const std::vector<qint64> &ms, const int errors)
    {
        std::vector<qint64> ns;
        ns.reserve(ms.size());
        for (const qint64 value : ms)
            ns.push_back(value * 1000000);
        const Lockstep::Bench::Latency latency = Lockstep::Bench::summarise(ns, errors);
        return Figures{.p50 = latency.p50Us / 1000.0,
                       .p99 = latency.p99Us / 1000.0,
                       .max = latency.maxUs / 1000.0,
                       .samples = static_cast<int>(ms.size()),
                       .errors = errors};
    }

    void print(const char *what, const int tabs, const Figures &f)
    {
        std::printf("%-10s tabs=%2d  samples=%3d  p50=%7.1f ms  p99=%7.1f ms  max=%7.1f ms  errors=%d\n", what, tabs,
                    f.samples, f.p50, f.p99, f.max, f.errors);
        std::fflush(stdout);
    }

    bool allFree(const QList<WorkflowTab *> &tabs)
    {
        for (WorkflowTab *tab : tabs)
        {
            if (tab->lockPanel()->stateText() != u"free")
                return false;
        }
        return true;
    }

    bool allHeld(const QList<WorkflowTab *> &tabs)
    {
        for (WorkflowTab *tab : tabs)
        {
            if (!tab->lockPanel()->stateText().startsWith(u"held by"))
                return false;
        }
        return true;
    }

    // Live again: the panel's "last known" line is gone and the status is not "last known".
    bool allLive(const QList<WorkflowTab *> &tabs)
    {
        for (WorkflowTab *tab : tabs)
        {
            const auto *lastKnown = tab->lockPanel()->findChild<QLabel *>(QStringLiteral("lockLiveLabel"));
            const auto *status = tab->findChild<QLabel *>(QStringLiteral("runStatusLabel"));
            if (!lastKnown || !lastKnown->isHidden() || !status || status->text().contains(u"last known"))
                return false;
            if (tab->liveConnection()->status().state != ConnectionState::Connected)
                return false;
        }
        return true;
    }

    bool allLastKnown(const QList<WorkflowTab *> &tabs)
    {
        for (WorkflowTab *tab : tabs)
        {
            const auto *lastKnown = tab->lockPanel()->findChild<QLabel *>(QStringLiteral("lockLiveLabel"));
            if (!lastKnown || lastKnown->isHidden())
                return false;
        }
        return true;
    }

    class LockFreeBench
    {
    public:
        bool setUp()
        {
            if (!m_dir.isValid() || !m_gateway.start())
                return false;
            ConsoleOptions options =
                m_gateway.consoleOptions(m_dir.filePath(QStringLiteral("console.ini")), BackoffOptions{});
            // The console as a user runs it: its own poll interval and backoff.
            options.pollInterval = ConsoleOptions{}.pollInterval;
            options.dataDir = m_dir.filePath(QStringLiteral("console-data"));
            options.restoreTabs = false;
            m_window = std::make_unique<MainWindow>(options);
            if (!Test::showConsole(*m_window))
                return false;
            m_endpoint = m_window->api()->endpoint();
            m_window->createWorkflow(QStringLiteral("Create a file called hello.sh that prints hello"),
                                     QStringLiteral("hello"));
            if (!Lockstep::Bench::spinUntil([this] { return m_window->tabs().size() == 1; }, 10000))
                return false;
            m_workflowId = m_window->tabs().constFirst()->workflowId();
            return Lockstep::Bench::spinUntil(
                [this] {
                    return m_window->tabs().constFirst()->runStatus() == RunStatus::InputRequired &&
                           allFree(m_window->tabs());
                },
                20000);
        }

        void openTabs(const int count)
        {
            while (m_window->tabs().size() < count)
                m_window->openWorkflow(m_workflowId, true);
            Lockstep::Bench::spinUntil(
                [this] {
                    for (WorkflowTab *tab : m_window->tabs())
                    {
                        if (tab->liveConnection()->status().state != ConnectionState::Connected)
                            return false;
                    }
                    return allFree(m_window->tabs());
                },
                10000);
        }

        // One turn driven from outside the tabs; the release time is the gateway's.
        std::optional<qint64> releaseToFree(const int turn)
        {
            const QList<WorkflowTab *> tabs = m_window->tabs();
            qint64 releasedAt = 0;
            qint64 freeAt = 0;
            bool sawHeld = false;
            DriveSession drive(m_endpoint, m_workflowId, QStringLiteral("Turn %1: print the date").arg(turn), 0);
            // The driving session is closed by the time the lock goes: the release
            // time comes from the event the tabs' live sessions get (the gateway's clock).
            std::vector<QMetaObject::Connection> feeds;
            for (WorkflowTab *tab : tabs)
            {
                feeds.push_back(QObject::connect(tab->liveConnection(), &LiveConnection::lockStatusReceived, tab,
                                                 [&releasedAt](const Protocol::LockStatus &status) {
                                                     if ((status.state == Protocol::LockState::Released) &&
                                                         (releasedAt == 0))
                                                         releasedAt = status.at;
                                                 }));
            }
            // The one lock model of the workflow: every tab's panel refreshes on its changed().
            LockTracker *tracker = m_window->lockTracker(m_workflowId);
            const QMetaObject::Connection watch = QObject::connect(tracker, &LockTracker::changed, tracker, [&] {
                if (allHeld(tabs))
                    sawHeld = true;
                else if (sawHeld && (freeAt == 0) && allFree(tabs))
                    freeAt = QDateTime::currentMSecsSinceEpoch();
            });
            drive.start();
            const bool done = Lockstep::Bench::spinUntil([&] { return (freeAt != 0) && (releasedAt != 0); }, 20000);
            QObject::disconnect(watch);
            for (const QMetaObject::Connection &feed : feeds)
                QObject::disconnect(feed);
            // Let the driving session's close land before the next turn.
            Lockstep::Bench::spinUntil([&] { return !drive.isActive(); }, 5000);
            if (!done)
                return std::nullopt;
            return freeAt - releasedAt;
        }

        std::optional<qint64> reconnect()
        {
            const QList<WorkflowTab *> tabs = m_window->tabs();
            m_gateway.kill();
            if (!Lockstep::Bench::spinUntil([&] { return allLastKnown(tabs); }, 10000))
                return std::nullopt;
            // Long enough for the tabs' reconnect backoff to have grown.
            Lockstep::Bench::spinUntil([] { return false; }, 1500);
            if (!m_gateway.restart())
                return std::nullopt;
            const QUrl healthz = m_endpoint.apiUrl(QStringLiteral("/healthz"));
            qint64 answeredAt = 0;
            QElapsedTimer clock;
            clock.start();
            while ((answeredAt == 0) && (clock.elapsed() < 10000))
            {
                std::unique_ptr<QNetworkReply> reply(m_network.get(QNetworkRequest(healthz)));
                Lockstep::Bench::spinUntil([&] { return reply->isFinished(); }, 1000);
                if (reply->isFinished() && (reply->error() == QNetworkReply::NoError))
                    answeredAt = QDateTime::currentMSecsSinceEpoch();
            }
            if (answeredAt == 0)
                return std::nullopt;
            qint64 liveAt = 0;
            if (!Lockstep::Bench::spinUntil(
                    [&] {
                        if (allLive(tabs))
                            liveAt = QDateTime::currentMSecsSinceEpoch();
                        return liveAt != 0;
                    },
                    20000))
                return std::nullopt;
            return liveAt - answeredAt;
        }

        void closeTabs()
        {
            QTabWidget *tabs = m_window->tabWidget();
            while (tabs->count() > 1)
            {
                QWidget *tab = tabs->widget(tabs->count() - 1);
                tabs->removeTab(tabs->count() - 1);
                delete tab;
            }
        }

    private:
        QTemporaryDir m_dir;
        Test::TestGateway m_gateway;
        std::unique_ptr<MainWindow> m_window;
        GatewayEndpoint m_endpoint;
        QString m_workflowId;
        QNetworkAccessManager m_network;
    };
}  // namespace

int main(int argc, char **argv)
{
    qputenv("QT_QPA_PLATFORM", "offscreen");
    Lockstep::Bench::useGatewayBinary(LOCKSTEP_GATEWAY_BIN_DEFAULT);
    QApplication app(argc, argv);
    QLoggingCategory::setFilterRules(QStringLiteral("lockstep.*.info=false"));

    LockFreeBench bench;
    if (!bench.setUp())
    {
        std::fprintf(stderr, "bench_lockfree: the gateway or the console did not come up\n");
        return 1;
    }
    std::printf("lock release -> every tab shows \"free\" (gateway lockStatus.at -> all panels free), %d turns\n",
                ReleaseRuns);
    for (const int tabs : {1, 10})
    {
        bench.openTabs(tabs);
        std::vector<qint64> samples;
        int errors = 0;
        for (int turn = 0; turn < ReleaseRuns; ++turn)
        {
            if (const std::optional<qint64> ms = bench.releaseToFree(turn))
                samples.push_back(*ms);
            else
                ++errors;
        }
        print("release", tabs, figuresOf(samples, errors));
    }
    bench.closeTabs();
    std::printf("gateway killed and restarted -> every tab live again (after /healthz answers), %d rounds\n",
                ReconnectRounds);
    for (const int tabs : {1, 10})
    {
        bench.closeTabs();
        bench.openTabs(tabs);
        std::vector<qint64> samples;
        int errors = 0;
        for (int round = 0; round < ReconnectRounds; ++round)
        {
            if (const std::optional<qint64> ms = bench.reconnect())
                samples.push_back(*ms);
            else
                ++errors;
        }
        print("reconnect", tabs, figuresOf(samples, errors));
    }
    return 0;
}
