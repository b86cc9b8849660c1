// Bytes on the wire per flow run: legacy mode (the whole internal checkpoint
// in every newCheckpoint) against incremental_streaming (only the new or
// changed ui_chat_log entries), plus the cost of one persisted step on SQLite.
// Runs every shipped flow through a real Execution with no delays.
//
// The legacy side is a model, not a recording: Execution::legacyCheckpoint()
// (core/flows/legacycheckpoint.h says what it holds). It is fair because both
// frames of a step are built from the same execution at the same moment, in
// the same newCheckpoint envelope; the legacy payload is derived from that
// execution's state only, with nothing padded, and it stays far below the
// 3 MiB SPEC.md reports for the original (hello: 21 KB at most). For short
// flows the ratio mostly shows the fixed part of every legacy frame (prompts,
// plan, agent histories), for `long` the history resent at every step.
//
//   bench_checkpointbytes [--flows DIR]

#include <chrono>
#include <cstdio>

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QJsonDocument>
#include <QTemporaryDir>

#include "flows/execution.h"
#include "flows/flowlibrary.h"
#include "protocol/chatlog.h"
#include "protocol/messages.h"
#include "store/runstore.h"
#include "store/storeworker.h"

using namespace Lockstep;
using namespace Lockstep::Flows;

namespace
{
    struct Figures
    {
        int frames = 0;
        qint64 legacyBytes = 0;
        qint64 incrementalBytes = 0;
        qint64 largestLegacyFrame = 0;
        double msPerEntry = 0;
        QString finalStatus;
    };

    QByteArray frame(const QString &goal, RunStatus status, const QString &checkpoint)
    {
        return Protocol::serialize(Protocol::ServerMessage{Protocol::NewCheckpoint{
            .status = status, .goal = goal, .errors = {}, .checkpoint = checkpoint, .requestID = {}}});
    }

    // One turn; a turn that stops at an approval is resumed once.
    // measureBytes false: nothing is connected but finished(), so the time is
    // the executor's and the store's alone.
    Figures runFlow(Store::RunStore &store, const Flow &flow, const QString &goal, bool measureBytes)
    {
        Figures figures;
        const QString id =
            QStringLiteral("bench-") + flow.name + (measureBytes ? QStringLiteral("-bytes") : QStringLiteral("-time"));
        int entries = 0;
        qint64 fence = 1;
        if (!store.createRun(id, goal, flow.name, fence))
            qFatal("createRun failed");
        QElapsedTimer timer;
        timer.start();
        for (int round = 0; round < 2; ++round)
        {
            const auto resumed = store.resume(id, fence, std::nullopt);
            if (!resumed || !resumed->run)
                break;
            const auto worker = Store::StoreWorker::inPlace(store);
            Execution execution(*worker, *resumed->run, flow, fence, ExecutionOptions{.delayScale = 0.0});
            QObject::connect(
                &execution, &Execution::entryPersisted, &execution,
                [&](const QString &, const Store::StoredEntry &entry) {
                    ++entries;
                    if (!measureBytes)
                        return;
                    const auto parsed = Protocol::ChatLogEntry::fromJson(entry.entry);
                    if (!parsed)
                        qFatal("entry does not parse");
                    const QByteArray legacy = frame(
                        goal, RunStatus::Running,
                        QString::fromUtf8(QJsonDocument(execution.legacyCheckpoint()).toJson(QJsonDocument::Compact)));
                    const QByteArray incremental = frame(
                        goal, RunStatus::Running, Protocol::buildIncrementalCheckpoint({parsed.value()}, entry.seq));
                    ++figures.frames;
                    figures.legacyBytes += legacy.size();
                    figures.largestLegacyFrame = std::max<qint64>(figures.largestLegacyFrame, legacy.size());
                    figures.incrementalBytes += incremental.size();
                });
            bool done = false;
            RunStatus status = RunStatus::Running;
            QObject::connect(&execution, &Execution::finished, &execution,
                             [&](const QString &, StopCause, RunStatus finalStatus) {
                                 done = true;
                                 status = finalStatus;
                             });
            execution.start();
            while (!done)
                QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents);
            figures.finalStatus = toString(status);
            if (status != RunStatus::PlanApprovalRequired && status != RunStatus::ToolCallApprovalRequired)
                break;
            ++fence;
        }
        figures.msPerEntry = entries ? static_cast<double>(timer.nsecsElapsed()) / 1e6 / entries : 0;
        return figures;
    }
}  // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QString folder;
    const QStringList args = app.arguments();
    if (const qsizetype i = args.indexOf(QStringLiteral("--flows")); i >= 0 && i + 1 < args.size())
        folder = args.at(i + 1);
    const FlowLibrary library = FlowLibrary::load(folder);

    QTemporaryDir dir;
    auto store = Store::RunStore::open(QStringLiteral("sqlite:") + dir.filePath(QStringLiteral("bench.db")));
    if (!store)
    {
        std::fprintf(stderr, "cannot open the store: %s\n", qPrintable(store.error().message));
        return 1;
    }

    std::printf("%-10s %6s %14s %14s %8s %16s %10s  %s\n", "flow", "frames", "legacy bytes", "incr. bytes", "ratio",
                "largest legacy", "ms/entry*", "final status");
    for (const QString &name : library.names())
    {
        const Flow flow = *library.find(name);
        const QString goal = QStringLiteral("Create a file called hello.sh that prints hello");
        Figures f = runFlow(**store, flow, goal, true);
        f.msPerEntry = runFlow(**store, flow, goal, false).msPerEntry;
        std::printf("%-10s %6d %14lld %14lld %7.1fx %16lld %10.3f  %s\n", qPrintable(name), f.frames,
                    static_cast<long long>(f.legacyBytes), static_cast<long long>(f.incrementalBytes),
                    f.incrementalBytes ? static_cast<double>(f.legacyBytes) / static_cast<double>(f.incrementalBytes)
                                       : 0.0,
                    static_cast<long long>(f.largestLegacyFrame), f.msPerEntry, qPrintable(f.finalStatus));
    }
    std::printf("* one persisted entry incl. its step-boundary re-read, SQLite in a temporary folder, no delays\n");
    return 0;
}
