// CAS race: resume attempts per second and p99 latency with 64 concurrent
// clients, on SQLite and on PostgreSQL.
//
// Every client is a thread with its own RunStore (its own connection). Each
// round the run sits in `input_required`; all clients are released together
// on a barrier and call resume() with a fresh fence; exactly one must win.
// Between rounds the winner ends its turn (transition to input_required with
// its fence), as the executor does. Prints attempts/s, latency percentiles and
// the winners per round.
//
//   bench_casrace [--clients 64] [--rounds 200] [--backend both|sqlite|postgresql]

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QLoggingCategory>
#include <QTemporaryDir>

#include "store/runstore.h"
#include "temppostgres.h"

using namespace Lockstep;
using namespace Lockstep::Store;
using Clock = std::chrono::steady_clock;

namespace
{
    struct Figures
    {
        QString backend;
        int clients = 0;
        int rounds = 0;
        qint64 attempts = 0;
        double raceSeconds = 0;  // sum of the rounds' release-to-last-answer times
        double wallSeconds = 0;  // including the winner's reset between rounds
        double p50Ms = 0;
        double p99Ms = 0;
        double maxMs = 0;
        int minWins = 0;
        int maxWins = 0;
        int errors = 0;
        QString firstError;
    };

    double percentile(std::vector<double> &sorted, const double p)
    {
        if (sorted.empty())
            return 0;
        const auto index = static_cast<size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
        return sorted[std::min(index, sorted.size() - 1)];
    }

    std::optional<Figures> race(const QString &backend, const QString &spec, const int clients, const int rounds)
    {
        Figures figures{.backend = backend, .clients = clients, .rounds = rounds, .minWins = clients};
        const QString id = QStringLiteral("bench-race");

        auto ownerOpened = RunStore::open(spec);
        if (!ownerOpened)
        {
            std::fprintf(stderr, "%s: %s\n", qPrintable(backend), qPrintable(ownerOpened.error().message));
            return std::nullopt;
        }
        std::unique_ptr<RunStore> owner = std::move(ownerOpened).value();
        std::atomic<qint64> nextFence{1};
        // The run starts in input_required: a chat turn that ended.
        const qint64 setupFence = nextFence++;
        const auto created = owner->createRun(id, QStringLiteral("race"), QStringLiteral("hello"), setupFence);
        const auto resumed =
            created ? owner->resume(id, setupFence, std::nullopt) : StoreResult<ResumeResult>(ResumeResult{});
        const auto moved = (resumed && (resumed->outcome == ResumeOutcome::Resumed))
                               ? owner->transition(id, setupFence, RunStatus::InputRequired, QString())
                               : StoreResult<bool>(false);
        const bool ready = moved && *moved;
        if (!ready)
        {
            std::fprintf(stderr, "%s: cannot set up the run\n", qPrintable(backend));
            return std::nullopt;
        }

        std::barrier sync(clients + 1);
        std::vector<std::vector<double>> latencies(clients);
        std::vector<ResumeOutcome> outcomes(clients, ResumeOutcome::NotFound);
        std::vector<qint64> fences(clients, 0);
        std::vector<QString> errors(clients);
        std::vector<Clock::time_point> finished(clients);
        std::atomic<int> openFailures{0};

        std::vector<std::thread> threads;
        threads.reserve(clients);
        for (int c = 0; c < clients; ++c)
        {
            latencies[c].reserve(rounds);
            threads.emplace_back([&, c] {
                auto store = RunStore::open(spec);
                if (!store)
                {
                    errors[c] = store.error().message;
                    openFailures.fetch_add(1);
                }
                sync.arrive_and_wait();  // everyone connected
                for (int r = 0; r < rounds; ++r)
                {
                    sync.arrive_and_wait();  // start of the round
                    outcomes[c] = ResumeOutcome::NotFound;
                    if (store)
                    {
                        const qint64 fence = nextFence.fetch_add(1);
                        const Clock::time_point begin = Clock::now();
                        const auto result = (*store)->resume(id, fence, std::nullopt);
                        finished[c] = Clock::now();
                        latencies[c].push_back(std::chrono::duration<double, std::milli>(finished[c] - begin).count());
                        if (result)
                        {
                            outcomes[c] = result->outcome;
                            fences[c] = fence;
                        }
                        else if (errors[c].isEmpty())
                        {
                            errors[c] = result.error().message;
                        }
                    }
                    sync.arrive_and_wait();  // end of the round
                }
            });
        }

        sync.arrive_and_wait();
        const Clock::time_point wallStart = Clock::now();
        for (int r = 0; r < rounds; ++r)
        {
            const Clock::time_point released = Clock::now();
            sync.arrive_and_wait();
            sync.arrive_and_wait();
            const Clock::time_point last = *std::max_element(finished.begin(), finished.end());
            figures.raceSeconds += std::chrono::duration<double>(last - released).count();

            int wins = 0;
            qint64 winnerFence = 0;
            for (int c = 0; c < clients; ++c)
            {
                if (outcomes[c] == ResumeOutcome::Resumed)
                {
                    ++wins;
                    winnerFence = fences[c];
                }
            }
            figures.minWins = std::min(figures.minWins, wins);
            figures.maxWins = std::max(figures.maxWins, wins);
            // The winner ends its turn so the next round has something to race for.
            if (wins >= 1)
            {
                const auto reset = owner->transition(id, winnerFence, RunStatus::InputRequired, QString());
                if (!reset || !*reset)
                {
                    std::fprintf(stderr, "%s: round %d: the winner could not end its turn\n", qPrintable(backend), r);
                    figures.minWins = 0;
                }
            }
        }
        figures.wallSeconds = std::chrono::duration<double>(Clock::now() - wallStart).count();
        for (std::thread &thread : threads)
            thread.join();

        std::vector<double> all;
        for (int c = 0; c < clients; ++c)
        {
            all.insert(all.end(), latencies[c].begin(), latencies[c].end());
            if (!errors[c].isEmpty())
            {
                ++figures.errors;
                if (figures.firstError.isEmpty())
                    figures.firstError = errors[c];
            }
        }
        std::sort(all.begin(), all.end());
        figures.attempts = static_cast<qint64>(all.size());
        figures.p50Ms = percentile(all, 0.50);
        figures.p99Ms = percentile(all, 0.99);
        figures.maxMs = all.empty() ? 0 : all.back();
        return figures;
    }
}  // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("CAS race on the run store: N clients resume one run at once."));
    parser.addHelpOption();
    parser.addOption({QStringLiteral("clients"), QStringLiteral("Concurrent clients (threads, connections)."),
                      QStringLiteral("n"), QStringLiteral("64")});
    parser.addOption(
        {QStringLiteral("rounds"), QStringLiteral("Races per backend."), QStringLiteral("n"), QStringLiteral("200")});
    parser.addOption({QStringLiteral("backend"), QStringLiteral("both, sqlite or postgresql."), QStringLiteral("name"),
                      QStringLiteral("both")});
    parser.process(app);

    bool clientsOk = false;
    bool roundsOk = false;
    const int clients = parser.value(QStringLiteral("clients")).toInt(&clientsOk);
    const int rounds = parser.value(QStringLiteral("rounds")).toInt(&roundsOk);
    const QString backend = parser.value(QStringLiteral("backend"));
    if (!clientsOk || !roundsOk || (clients < 1) || (clients > 250) || (rounds < 1) ||
        !QStringList{QStringLiteral("both"), QStringLiteral("sqlite"), QStringLiteral("postgresql")}.contains(backend))
    {
        std::fprintf(stderr, "bench_casrace: bad arguments (see --help)\n");
        return 2;
    }
    QLoggingCategory::setFilterRules(QStringLiteral("lockstep.store.info=false"));

    std::vector<Figures> results;
    bool failed = false;
    if (backend != u"postgresql")
    {
        QTemporaryDir dir;
        const auto figures =
            race(QStringLiteral("sqlite"), QStringLiteral("sqlite:") + dir.filePath(QStringLiteral("casrace.db")),
                 clients, rounds);
        failed |= !figures;
        if (figures)
            results.push_back(*figures);
    }
    if (backend != u"sqlite")
    {
        Test::TempPostgres pg;
        std::optional<QString> spec;
        if (pg.start())
            spec = pg.createDatabase(QStringLiteral("casrace"));
        if (!spec)
        {
            std::fprintf(stderr, "%s\n", qPrintable(pg.errorString()));
            failed = true;
        }
        else if (const auto figures = race(QStringLiteral("postgresql"), *spec, clients, rounds))
        {
            results.push_back(*figures);
        }
        else
        {
            failed = true;
        }
    }

    std::printf("\nCAS race: %d concurrent clients (one connection each), %d rounds, one run\n\n", clients, rounds);
    std::printf("%-11s %9s %10s %11s %8s %8s %8s %12s %7s\n", "backend", "attempts", "race s", "attempts/s", "p50 ms",
                "p99 ms", "max ms", "wins/round", "errors");
    for (const Figures &f : results)
    {
        const QString wins = (f.minWins == f.maxWins) ? QString::number(f.minWins)
                                                      : QStringLiteral("%1..%2").arg(f.minWins).arg(f.maxWins);
        std::printf("%-11s %9lld %10.2f %11.0f %8.2f %8.2f %8.2f %12s %7d\n", qPrintable(f.backend),
                    static_cast<long long>(f.attempts), f.raceSeconds,
                    (f.raceSeconds > 0) ? static_cast<double>(f.attempts) / f.raceSeconds : 0.0, f.p50Ms, f.p99Ms,
                    f.maxMs, qPrintable(wins), f.errors);
        if (!f.firstError.isEmpty())
            std::printf("  first error: %s\n", qPrintable(f.firstError));
        if ((f.minWins != 1) || (f.maxWins != 1) || (f.errors != 0))
            failed = true;
    }
    std::printf("\nrace s: sum over rounds of release-to-last-answer; attempts/s = attempts / race s.\n"
                "Every round must have exactly 1 winner.%s\n",
                failed ? " FAILED" : " OK");
    return failed ? 1 : 0;
}
