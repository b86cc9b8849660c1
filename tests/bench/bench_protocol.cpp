// Wire protocol throughput: parse and serialize rates of typical frames, an
// incremental checkpoint of 50 entries, and the cost of refusing a 10 MB
// frame with invalid UTF-8 or deep nesting. Prints a table.
//
//   bench_protocol [--seconds-per-row 1]

#include <cstdio>

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QElapsedTimer>

#include "protocol/chatlog.h"
#include "protocol/messages.h"

using namespace Lockstep;
using namespace Lockstep::Protocol;

namespace
{
    volatile qsizetype g_sink = 0;  // keeps the work observable

    template <typename Work>
    void row(const char *name, const qsizetype bytes, const double seconds, Work work)
    {
        QElapsedTimer timer;
        timer.start();
        qint64 rounds = 0;
        while (timer.nsecsElapsed() < static_cast<qint64>(seconds * 1e9))
        {
            work();
            ++rounds;
        }
        const double elapsed = static_cast<double>(timer.nsecsElapsed()) / 1e9;
        const double perSecond = static_cast<double>(rounds) / elapsed;
        std::printf("%-44s %10lld B %14.0f /s %10.1f MB/s %10.2f us each\n", name, static_cast<long long>(bytes),
                    perSecond, perSecond * static_cast<double>(bytes) / 1e6, 1e6 / perSecond);
    }

    ChatLogEntry sampleEntry(const int i)
    {
        ChatLogEntry entry;
        entry.messageId = QStringLiteral("m-%1").arg(i);
        entry.messageType = (i % 3 == 0) ? MessageType::Tool : MessageType::Agent;
        entry.content = QStringLiteral("Step %1: wrote hello.sh, ran it, got the expected output.").arg(i);
        entry.timestamp = QDateTime(QDate(2024, 5, 1), QTime(12, 0), Qt::UTC).addMSecs(i);
        entry.status = MessageStatus::Success;
        if (entry.messageType == MessageType::Tool)
            entry.toolInfo = ToolInfo{.name = QStringLiteral("run_command"),
                                      .args = QJsonObject{{QStringLiteral("program"), QStringLiteral("sh")}},
                                      .toolResponse = QString(600, u'x')};
        return entry;
    }
}  // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QCommandLineParser parser;
    parser.addHelpOption();
    const QCommandLineOption secondsOption(QStringLiteral("seconds-per-row"), QStringLiteral("Time per row."),
                                           QStringLiteral("s"), QStringLiteral("1"));
    parser.addOption(secondsOption);
    parser.process(app);
    const double seconds = parser.value(secondsOption).toDouble();

    StartRequest start;
    start.workflowID = QStringLiteral("0b6f2c1e-8a4d-4d3e-9a53-2f1c3b7e9d10");
    start.goal = QStringLiteral("Create a file called hello.sh that prints hello");
    start.clientVersion = QStringLiteral("1.0.0");
    start.clientCapabilities = {QStringLiteral("incremental_streaming")};
    start.workflowMetadata = QJsonObject{{QStringLiteral("extended_logging"), true}};
    const QByteArray startFrame = serialize(start);
    const QByteArray heartbeatFrame = serialize(Heartbeat{.timestamp = 1714557600123});
    const QByteArray lockFrame = serialize(LockStatus{.workflowID = QStringLiteral("hello-1"),
                                                      .state = LockState::Refreshed,
                                                      .holder = QStringLiteral("replica-a"),
                                                      .fence = 17,
                                                      .ttlMs = 30000,
                                                      .at = 1714557600123});
    QList<ChatLogEntry> entries;
    for (int i = 0; i < 50; ++i)
        entries.append(sampleEntry(i));
    const QString checkpoint = buildIncrementalCheckpoint(entries, 50);
    const QByteArray checkpointFrame = serialize(NewCheckpoint{.status = RunStatus::Running, .checkpoint = checkpoint});
    const QByteArray checkpointUtf8 = checkpoint.toUtf8();

    QByteArray invalidUtf8 =
        "{\"startRequest\":{\"workflowID\":\"w\",\"goal\":\"" + QByteArray(10 * 1024 * 1024, 'x') + "\"}}";
    invalidUtf8[invalidUtf8.size() - 10] = '\xff';
    const QByteArray deep = QByteArray(10 * 1024 * 1024, '[');
    const QByteArray bigValid =
        "{\"startRequest\":{\"workflowID\":\"w\",\"goal\":\"" + QByteArray(10 * 1024 * 1024, 'x') + "\"}}";

    std::printf("%-44s %12s %17s %15s %18s\n", "row", "frame", "rate", "throughput", "latency");
    row("parse startRequest", startFrame.size(), seconds,
        [&] { g_sink = g_sink + parseClientMessage(startFrame).hasValue(); });
    row("serialize startRequest", startFrame.size(), seconds, [&] { g_sink = g_sink + serialize(start).size(); });
    row("parse heartbeat", heartbeatFrame.size(), seconds,
        [&] { g_sink = g_sink + parseClientMessage(heartbeatFrame).hasValue(); });
    row("parse lockStatus", lockFrame.size(), seconds,
        [&] { g_sink = g_sink + parseServerMessage(lockFrame).hasValue(); });
    row("parse newCheckpoint (50 entries, frame only)", checkpointFrame.size(), seconds,
        [&] { g_sink = g_sink + parseServerMessage(checkpointFrame).hasValue(); });
    row("parse checkpoint payload (50 entries)", checkpointUtf8.size(), seconds,
        [&] { g_sink = g_sink + parseCheckpointPayload(QByteArrayView(checkpointUtf8))->uiChatLog.size(); });
    row("build checkpoint payload (50 entries)", checkpointUtf8.size(), seconds,
        [&] { g_sink = g_sink + buildIncrementalCheckpoint(entries, 50).size(); });
    row("refuse 10 MB frame, invalid UTF-8", invalidUtf8.size(), seconds,
        [&] { g_sink = g_sink + parseClientMessage(invalidUtf8).hasValue(); });
    row("refuse 10 MB of '['", deep.size(), seconds, [&] { g_sink = g_sink + parseClientMessage(deep).hasValue(); });
    row("parse 10 MB valid startRequest", bigValid.size(), seconds,
        [&] { g_sink = g_sink + parseClientMessage(bigValid).hasValue(); });
    return 0;
}
