// The console's recordings (RecordingStore on the history database): what
// writing frames costs the GUI thread and the disk, and what opening them
// costs the Recordings browser.
//
//   append:  100 000 frames (text frames of 200-1 200 bytes, as newCheckpoint
//            deltas and lockStatus events are, with pings and pongs) in
//            batches of 1 000, each batch one flush (one transaction): what
//            the GUI thread spends per 1 000 (appendFrames + flush: buffer and
//            hand over), and what the writer thread spends per 1 000 (waited
//            for here with sync(); WAL checkpoints included), p50, p99, max;
//            frames per second, the file's size (database + WAL), bytes per frame.
//   trickle: 21 000 frames handed over one at a time, as a session's frames
//            arrive: the time appendFrame() takes (it only buffers).
//   browse:  the Recordings browser (offscreen) opened on that database, the
//            100 000-frame session opened in it (its first page of rows), and
//            read to its end (every page, as scrolling down does): time and RSS growth.
//
//   bench_recording [--frames N]

#include <cstdio>
#include <vector>

#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QLoggingCategory>
#include <QRandomGenerator>
#include <QTableView>
#include <QTemporaryDir>

#include "benchutil.h"
#include "historystore.h"
#include "recordingsbrowser.h"
#include "recordingstore.h"

using namespace Lockstep;
using namespace Lockstep::Ui;

namespace
{
    Transport::FrameRecord frameAt(const qint64 seq, QRandomGenerator &random)
    {
        Transport::FrameRecord frame;
        frame.sequence = seq;
        frame.at = QDateTime::currentDateTimeUtc();
        const int pick = static_cast<int>(random.bounded(100));
        if (pick < 3)
        {
            frame.kind = (pick == 0) ? Transport::FrameKind::Pong : Transport::FrameKind::Ping;
            frame.direction = (pick == 0) ? Transport::FrameDirection::In : Transport::FrameDirection::Out;
            return frame;
        }
        frame.direction = (pick < 10) ? Transport::FrameDirection::Out : Transport::FrameDirection::In;
        const int size = 200 + static_cast<int>(random.bounded(1000));
        QByteArray payload = QByteArrayLiteral(R"({"newCheckpoint":{"status":"RUNNING","checkpoint":")");
        while (payload.size() < size - 3)
            payload.append(static_cast<char>('a' + random.bounded(26)));
        payload.append(R"("}})");
        frame.payloadBytes = payload.size();
        frame.payload = payload;
        return frame;
    }

    qint64 fileBytes(const QString &path)
    {
        return QFileInfo(path).size() + QFileInfo(path + QStringLiteral("-wal")).size();
    }
}  // namespace

int main(int argc, char *argv[])
{
    qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    QLoggingCategory::setFilterRules(QStringLiteral("lockstep.*.info=false"));
    QCommandLineParser parser;
    parser.addHelpOption();
    parser.addOption({QStringLiteral("frames"), QStringLiteral("frames to append (100000)"), QStringLiteral("N"),
                      QStringLiteral("100000")});
    parser.process(app);
    const int total = std::max(1000, parser.value(QStringLiteral("frames")).toInt());

    QTemporaryDir dir;
    QRandomGenerator random(12);
    // No pruning in the way: the limits are far above what is written.
    const HistoryLimits limits{.maxSessionsPerWorkflow = 1000000, .maxBytes = 1LL << 40};
    auto history = std::make_unique<HistoryStore>(dir.path(), limits);
    auto store = std::make_unique<RecordingStore>(history.get());
    if (!store->isPersistent())
    {
        std::fprintf(stderr, "cannot open the database: %s\n", qPrintable(history->error()));
        return 1;
    }

    // ---- append ----
    const qint64 session = store->beginSession(QStringLiteral("bench"), QStringLiteral("live"), {});
    std::vector<qint64> perBatch;
    std::vector<qint64> guiPerBatch;
    qint64 payloadBytes = 0;
    QElapsedTimer all;
    all.start();
    for (int done = 0; done < total; done += 1000)
    {
        QList<Transport::FrameRecord> batch;
        batch.reserve(1000);
        for (int i = 0; i < 1000; ++i)
        {
            batch.append(frameAt(done + i + 1, random));
            payloadBytes += batch.constLast().payloadBytes;
        }
        QElapsedTimer clock;
        clock.start();
        store->appendFrames(session, batch);
        store->flush();
        guiPerBatch.push_back(clock.nsecsElapsed());
        clock.restart();
        store->sync();
        perBatch.push_back(clock.nsecsElapsed());
    }
    const double seconds = static_cast<double>(all.nsecsElapsed()) / 1e9;
    store->endSession(session, {.code = 1000, .reason = QStringLiteral("input_required")});
    const Bench::Latency batch = Bench::summarise(perBatch, 0);
    const Bench::Latency gui = Bench::summarise(guiPerBatch, 0);
    const qint64 bytes = fileBytes(history->databasePath());
    std::printf("append  %d frames (%.1f MB of payload) in batches of 1000; %.0f frames/s (frame generation "
                "included)\n  GUI thread per 1000 (buffer, hand over): p50 %.2f ms, p99 %.2f ms, max %.2f ms\n"
                "  writer thread per 1000 (one transaction):  p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
                total, static_cast<double>(payloadBytes) / 1e6, total / seconds, gui.p50Us / 1000, gui.p99Us / 1000,
                gui.maxUs / 1000, batch.p50Us / 1000, batch.p99Us / 1000, batch.maxUs / 1000);
    std::printf("file    %.1f MB (database + WAL), %.0f bytes per frame, used pages %.1f MB\n",
                static_cast<double>(bytes) / 1e6, static_cast<double>(bytes) / total,
                static_cast<double>(history->usedBytes()) / 1e6);

    // ---- trickle ----
    const qint64 trickleSession = store->beginSession(QStringLiteral("bench"), QStringLiteral("drive"), {});
    std::vector<qint64> perFrame;
    std::vector<qint64> handovers;
    for (int i = 0; i < 21000; ++i)
    {
        const Transport::FrameRecord frame = frameAt(i + 1, random);
        QElapsedTimer clock;
        clock.start();
        store->appendFrame(trickleSession, frame);
        perFrame.push_back(clock.nsecsElapsed());
        if (store->pendingFrames() == 0)
            handovers.push_back(perFrame.back());  // the call that reached FlushAtFrames
    }
    QElapsedTimer flushClock;
    flushClock.start();
    store->flush();
    const qint64 lastFlush = flushClock.nsecsElapsed();
    store->sync();
    const Bench::Latency trickle = Bench::summarise(perFrame, 0);
    const Bench::Latency handover = Bench::summarise(handovers, 0);
    std::printf("trickle 21000 single frames, GUI thread: appendFrame p50 %.1f us, p99 %.1f us; the %zu calls that "
                "handed %d frames over: p50 %.2f ms, max %.2f ms; flush() of the last %d %.2f ms\n",
                trickle.p50Us, trickle.p99Us, handovers.size(), RecordingStore::FlushAtFrames, handover.p50Us / 1000,
                handover.maxUs / 1000, 21000 % RecordingStore::FlushAtFrames, static_cast<double>(lastFlush) / 1e6);
    store->endSession(trickleSession, {.code = 1000});

    // ---- browse: a console restarted on that database ----
    store.reset();
    history.reset();
    const qint64 rssBefore = Bench::rssKb(QCoreApplication::applicationPid());
    QElapsedTimer open;
    open.start();
    HistoryStore reopened(dir.path(), limits);
    RecordingStore recordings(&reopened);
    RecordingsBrowser browser(&recordings);
    browser.show();
    QCoreApplication::processEvents();
    const double openMs = static_cast<double>(open.nsecsElapsed()) / 1e6;
    QElapsedTimer select;
    select.start();
    browser.selectSession(session);
    QCoreApplication::processEvents();
    const double selectMs = static_cast<double>(select.nsecsElapsed()) / 1e6;
    const qint64 rssOpen = Bench::rssKb(QCoreApplication::applicationPid());
    QAbstractItemModel *model = browser.frameView()->model();
    const int firstRows = model->rowCount();
    // Every page, as scrolling to the end reads them.
    QElapsedTimer scroll;
    scroll.start();
    while (model->canFetchMore({}))
        model->fetchMore({});
    browser.frameView()->scrollToBottom();
    QCoreApplication::processEvents();
    const double scrollMs = static_cast<double>(scroll.nsecsElapsed()) / 1e6;
    const qint64 rssAll = Bench::rssKb(QCoreApplication::applicationPid());
    const int rows = model->rowCount();
    std::printf(
        "browse  open the browser (database, lists) %.0f ms; open the %d-frame session (first %d rows) %.0f ms, "
        "RSS +%.1f MB; read to its end %.0f ms, RSS +%.1f MB\n",
        openMs, rows, firstRows, selectMs, static_cast<double>(rssOpen - rssBefore) / 1024, scrollMs,
        static_cast<double>(rssAll - rssBefore) / 1024);
    return (rows == total) ? 0 : 1;
}
