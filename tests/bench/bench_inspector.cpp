// The frame inspector on a full session: 100 000 frames recorded (a realistic
// mix of sizes), then the window opened on them. Prints the time to open
// (model, view shown, first paint of the frame table), the RSS the frames and
// the window take, and how long a type filter and a payload search take.
//
//   QT_QPA_PLATFORM=offscreen build/tests/bench/bench_inspector [frames]

#include <cstdio>

#include <QApplication>
#include <QComboBox>
#include <QElapsedTimer>
#include <QEvent>
#include <QLineEdit>
#include <QRandomGenerator>
#include <QTableView>

#include "benchutil.h"
#include "frameinspector.h"
#include "frametablemodel.h"

using namespace Lockstep;

namespace
{
    // Sets `painted` once the watched widget has handled its first paint event.
    class PaintWatch final : public QObject
    {
    public:
        bool painted = false;

    protected:
        bool eventFilter(QObject *watched, QEvent *event) override
        {
            if (event->type() == QEvent::Paint)
            {
                // Let the view paint first, then count it.
                static_cast<QWidget *>(watched)->removeEventFilter(this);
                QCoreApplication::sendEvent(watched, event);
                painted = true;
                return true;
            }
            return QObject::eventFilter(watched, event);
        }
    };

    QByteArray filler(const int bytes)
    {
        return QByteArray(std::max(0, bytes), 'x');
    }

    // The shapes and sizes a `long` run's live session sees: incremental
    // checkpoints of 0.3-3 KB, lock refreshes, heartbeats, run statuses, pings.
    Transport::FrameRecord frame(const int i, QRandomGenerator &random)
    {
        Transport::FrameRecord record;
        const int pick = static_cast<int>(random.bounded(100));
        if (pick < 40)
        {
            const int size = 300 + static_cast<int>(random.bounded(2700));
            record.payload = QByteArrayLiteral("{\"newCheckpoint\":{\"checkpoint\":\"{\\\"channel_values\\\":{"
                                               "\\\"ui_chat_log\\\":[{\\\"content\\\":\\\"") +
                             filler(size - 160) + QByteArrayLiteral("\\\"}]},\\\"seq\\\":") + QByteArray::number(i) +
                             QByteArrayLiteral("}\",\"errors\":[],\"goal\":\"Create a file\",\"status\":\"RUNNING\"}}");
        }
        else if (pick < 65)
        {
            record.payload = QByteArrayLiteral("{\"lockStatus\":{\"at\":\"2025-01-01T00:00:00.000Z\",\"fence\":") +
                             QByteArray::number(i) +
                             QByteArrayLiteral(",\"holder\":\"test-replica#4f0c2b7a\",\"state\":\"refreshed\","
                                               "\"ttlMs\":30000,\"workflowID\":\"wf-0123456789abcdef\"}}");
        }
        else if (pick < 90)
        {
            record.direction = Transport::FrameDirection::Out;
            record.payload = QByteArrayLiteral("{\"heartbeat\":{\"timestamp\":") +
                             QByteArray::number(1735689600000 + i) + QByteArrayLiteral("}}");
        }
        else if (pick < 95)
        {
            record.payload = QByteArrayLiteral("{\"runStatus\":{\"reason\":\"\",\"status\":\"running\","
                                               "\"workflowID\":\"wf-0123456789abcdef\"}}");
        }
        else
        {
            record.kind = (pick < 98) ? Transport::FrameKind::Ping : Transport::FrameKind::Pong;
            record.direction = (pick < 98) ? Transport::FrameDirection::Out : Transport::FrameDirection::In;
        }
        record.payloadBytes = record.payload.size();
        return record;
    }

    double ms(const QElapsedTimer &clock)
    {
        return static_cast<double>(clock.nsecsElapsed()) / 1e6;
    }
}  // namespace

int main(int argc, char *argv[])
{
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    const int count = (argc > 1) ? QByteArray(argv[1]).toInt() : 100000;
    const qint64 pid = QCoreApplication::applicationPid();

    const qint64 rssStart = Bench::rssKb(pid);
    Ui::FrameSessionList sessions;
    sessions.setFrameCapacity(count);
    auto session = std::make_shared<Ui::FrameSession>(Ui::FrameSession::Role::Live, count);
    sessions.add(session);
    QRandomGenerator random(12);
    QElapsedTimer clock;
    clock.start();
    for (int i = 0; i < count; ++i)
        session->record(frame(i, random));
    const double recordMs = ms(clock);
    const qint64 rssRecorded = Bench::rssKb(pid);
    const auto &totals = session->log().totals();

    clock.restart();
    auto *inspector = new Ui::FrameInspector(&sessions);
    auto *table = inspector->frameView();
    PaintWatch watch;
    table->viewport()->installEventFilter(&watch);
    inspector->show();
    const double constructMs = ms(clock);
    if (!Bench::spinUntil([&watch] { return watch.painted; }, 60000))
    {
        std::fprintf(stderr, "the frame table was not painted within 60 s\n");
        return 1;
    }
    const double openMs = ms(clock);
    const qint64 rssOpen = Bench::rssKb(pid);

    auto *type = inspector->findChild<QComboBox *>(QStringLiteral("typeFilter"));
    clock.restart();
    type->setCurrentIndex(type->findData(QStringLiteral("lockStatus")));
    const double typeMs = ms(clock);
    const int lockRows = inspector->filterModel()->rowCount();
    clock.restart();
    type->setCurrentIndex(0);
    const double unfilterMs = ms(clock);
    clock.restart();
    inspector->filterModel()->setSearchText(QStringLiteral("SEQ\\\":4242"));
    const double searchMs = ms(clock);
    const int searchRows = inspector->filterModel()->rowCount();
    const qint64 rssEnd = Bench::rssKb(pid);

    std::printf("bench_inspector: %d frames recorded (%lld in, %lld out; payload %.1f MB in, %.1f MB out), "
                "%.0f ms to record\n",
                count, static_cast<long long>(totals.framesIn), static_cast<long long>(totals.framesOut),
                static_cast<double>(totals.payloadBytesIn) / 1e6, static_cast<double>(totals.payloadBytesOut) / 1e6,
                recordMs);
    std::printf("  open the inspector: %.0f ms (constructor and show %.0f ms, to the first paint of the table)\n",
                openMs, constructMs);
    std::printf(
        "  RSS: %.1f MB at start, %.1f MB with the frames (+%.1f MB), %.1f MB with the window open (+%.1f MB)\n",
        static_cast<double>(rssStart) / 1024.0, static_cast<double>(rssRecorded) / 1024.0,
        static_cast<double>(rssRecorded - rssStart) / 1024.0, static_cast<double>(rssOpen) / 1024.0,
        static_cast<double>(rssOpen - rssRecorded) / 1024.0);
    std::printf("  filter by type (lockStatus): %.0f ms, %d rows; back to every frame: %.0f ms; search a payload: "
                "%.0f ms, %d rows; RSS after: %.1f MB\n",
                typeMs, lockRows, unfilterMs, searchMs, searchRows, static_cast<double>(rssEnd) / 1024.0);
    delete inspector;
    return 0;
}
