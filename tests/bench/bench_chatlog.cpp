// Chat-log rendering benchmark (offscreen): load a long log, then stream
// entries into a visible view, for the console's delegate-painted view and a
// naive QTextEdit::append baseline. Each variant runs in its own child process
// so its peak memory (VmHWM) is its own. Prints a table.
//
// The baseline models the obvious first chat view: one QTextEdit, every entry
// appended as a line of HTML as it arrives (sender in bold, then the content).
// The comparison is fair to it: both variants get the same entries from the
// same seeded generator, at the same rate, in a window of the same size, and
// the baseline gets the simpler job per entry (escaped text, no Markdown, no
// tool details); only its load is cut, after --baseline-budget seconds, and
// the table says so.
//
//   bench_chatlog [--entries 100000] [--rate 5000] [--seconds 10] [--baseline-budget 60]

#include <algorithm>
#include <cstdio>

#include <QApplication>
#include <QCommandLineParser>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRandomGenerator>
#include <QScrollBar>
#include <QTextEdit>
#include <QTimer>

#include "chatlogdelegate.h"
#include "chatlogmodel.h"
#include "chatlogview.h"
#include "protocol/chatlog.h"

using Lockstep::Protocol::ChatLogEntry;
using Lockstep::Protocol::MessageStatus;
using Lockstep::Protocol::MessageType;
using Lockstep::Protocol::ToolInfo;

namespace
{
    struct Settings
    {
        int entries = 100000;
        int rate = 5000;
        int seconds = 10;
        int baselineBudget = 60;
    };

    class EntryFactory
    {
    public:
        ChatLogEntry make(const int n)
        {
            ChatLogEntry e;
            e.messageId = QStringLiteral("m-%1").arg(n);
            e.timestamp = m_start.addMSecs(n * 37LL);
            const int kind = static_cast<int>(m_random.bounded(100));
            if (kind < 10)
            {
                e.messageType = MessageType::User;
                e.content = sentence(8 + static_cast<int>(m_random.bounded(20)));
            }
            else if (kind < 55)
            {
                e.messageType = MessageType::Agent;
                e.content = QStringLiteral("I'll update `src/file%1.cpp` next. **Plan:**\n\n- %2\n- %3\n\n%4")
                                .arg(n)
                                .arg(sentence(8), sentence(10), sentence(20 + static_cast<int>(m_random.bounded(40))));
            }
            else if (kind < 95)
            {
                e.messageType = MessageType::Tool;
                e.content = QStringLiteral("Run tests for module %1").arg(n % 97);
                e.status = MessageStatus::Success;
                ToolInfo tool;
                tool.name = QStringLiteral("run_command");
                tool.args = QJsonObject{{QStringLiteral("command"), QStringLiteral("ctest -R module_%1").arg(n % 97)},
                                        {QStringLiteral("timeout"), 120}};
                tool.toolResponse = sentence(30 + static_cast<int>(m_random.bounded(60)));
                e.toolInfo = tool;
            }
            else
            {
                e.messageType = MessageType::Request;
                e.content = QStringLiteral("Approve running `make install`? ") + sentence(6);
            }
            return e;
        }

    private:
        QString sentence(const int words)
        {
            static const QStringList vocabulary =
                QStringLiteral(
                    "the agent reads file writes patch test passes build lock fence gateway replica session workflow "
                    "resume cancel status heartbeat deadline compiles quickly carefully then again output error")
                    .split(u' ');
            QString text;
            for (int i = 0; i < words; ++i)
            {
                if (i > 0)
                    text += u' ';
                text += vocabulary.at(static_cast<int>(m_random.bounded(static_cast<quint32>(vocabulary.size()))));
            }
            return text + u'.';
        }

        QRandomGenerator m_random{42};
        QDateTime m_start = QDateTime::fromString(QStringLiteral("2024-05-01T10:00:00Z"), Qt::ISODate);
    };

    QString naiveHtml(const ChatLogEntry &e)
    {
        return QStringLiteral("<b>%1</b> %2")
            .arg(Lockstep::Ui::ChatLogModel::senderLabel(e).toHtmlEscaped(), e.content.toHtmlEscaped());
    }

    qint64 procStatusKb(const char *field)
    {
        QFile file(QStringLiteral("/proc/self/status"));
        if (!file.open(QIODevice::ReadOnly))
            return -1;
        const QByteArray key = QByteArray(field) + ':';
        for (const QByteArray &line : file.readAll().split('\n'))
        {
            if (line.startsWith(key))
                return line.mid(key.size()).trimmed().split(' ').value(0).toLongLong();
        }
        return -1;
    }

    // Measures the longest gap between ticks of a 1 ms timer.
    class StallMeter
    {
    public:
        StallMeter()
        {
            m_timer.setTimerType(Qt::PreciseTimer);
            m_timer.setInterval(1);
            QObject::connect(&m_timer, &QTimer::timeout, &m_timer, [this] {
                const qint64 now = m_clock.nsecsElapsed();
                m_longest = std::max(m_longest, now - m_last);
                if ((now - m_last) > 50'000'000)
                    ++m_over50;
                m_last = now;
                ++m_ticks;
            });
        }
        void start()
        {
            m_clock.start();
            m_last = 0;
            m_longest = 0;
            m_timer.start();
        }
        void stop()
        {
            m_timer.stop();
        }
        double longestMs() const
        {
            return static_cast<double>(m_longest) / 1e6;
        }
        int over50() const
        {
            return m_over50;
        }

    private:
        QTimer m_timer;
        QElapsedTimer m_clock;
        qint64 m_last = 0;
        qint64 m_longest = 0;
        int m_over50 = 0;
        qint64 m_ticks = 0;
    };

    void drainEvents()
    {
        for (int i = 0; i < 5; ++i)
            QCoreApplication::processEvents(QEventLoop::AllEvents);
    }

    // Runs one variant in this process and prints one JSON line.
    int runVariant(const QString &variant, const Settings &settings)
    {
        EntryFactory factory;
        QList<ChatLogEntry> initial;
        initial.reserve(settings.entries);
        for (int i = 0; i < settings.entries; ++i)
            initial.append(factory.make(i));
        const qint64 rssBeforeKb = procStatusKb("VmRSS");

        const bool delegateView = (variant == u"delegate");
        Lockstep::Ui::ChatLogModel model;
        std::unique_ptr<QWidget> widget;
        Lockstep::Ui::ChatLogView *view = nullptr;
        QTextEdit *edit = nullptr;
        if (delegateView)
        {
            view = new Lockstep::Ui::ChatLogView(&model);
            widget.reset(view);
        }
        else
        {
            edit = new QTextEdit;
            edit->setReadOnly(true);
            widget.reset(edit);
        }
        widget->resize(1000, 800);
        widget->show();
        drainEvents();

        // ---- load ----
        QElapsedTimer clock;
        clock.start();
        int loaded = 0;
        bool loadCut = false;
        if (delegateView)
        {
            model.enqueue(std::move(initial));
            model.flush();
            view->scrollToBottom();
            loaded = model.rowCount();
        }
        else
        {
            const qint64 budgetMs = settings.baselineBudget * 1000LL;
            for (const ChatLogEntry &e : std::as_const(initial))
            {
                edit->append(naiveHtml(e));
                ++loaded;
                if ((loaded % 1000 == 0) && (clock.elapsed() > budgetMs))
                {
                    loadCut = true;
                    break;
                }
            }
            edit->verticalScrollBar()->setValue(edit->verticalScrollBar()->maximum());
        }
        drainEvents();
        widget->repaint();
        const double loadSeconds = static_cast<double>(clock.nsecsElapsed()) / 1e9;
        initial.clear();
        initial.squeeze();

        // ---- stream ----
        StallMeter meter;
        QTimer producer;
        producer.setTimerType(Qt::PreciseTimer);
        producer.setInterval(5);
        QElapsedTimer streamClock;
        int produced = 0;
        const qint64 total = static_cast<qint64>(settings.rate) * settings.seconds;
        QEventLoop loop;
        QObject::connect(&producer, &QTimer::timeout, &producer, [&] {
            // Produce what the rate asks for by now, so a stalled loop falls behind visibly.
            const qint64 due = std::min(total, (streamClock.elapsed() * settings.rate) / 1000);
            while (produced < due)
            {
                const ChatLogEntry e = factory.make(settings.entries + produced);
                if (delegateView)
                    model.enqueue(e);
                else
                    edit->append(naiveHtml(e));
                ++produced;
            }
            if (streamClock.elapsed() >= (settings.seconds * 1000LL))
                loop.quit();
        });
        // The model's own batch cost: from beginInsertRows to after the view laid out.
        QElapsedTimer batchClock;
        qint64 longestBatchNs = 0;
        int batches = 0;
        if (delegateView)
        {
            QObject::connect(&model, &QAbstractItemModel::rowsAboutToBeInserted, &producer,
                             [&] { batchClock.start(); });
            QObject::connect(&model, &Lockstep::Ui::ChatLogModel::batchApplied, &producer, [&](const int inserted) {
                if (inserted > 0)
                {
                    longestBatchNs = std::max(longestBatchNs, batchClock.nsecsElapsed());
                    ++batches;
                }
            });
        }
        streamClock.start();
        meter.start();
        producer.start();
        loop.exec();
        producer.stop();
        meter.stop();
        if (delegateView)
            model.flush();
        drainEvents();
        const double streamSeconds = static_cast<double>(streamClock.elapsed()) / 1000.0;

        const int shown = delegateView ? model.rowCount() : edit->document()->blockCount();
        QJsonObject result{
            {QStringLiteral("variant"), variant},
            {QStringLiteral("loadSeconds"), loadSeconds},
            {QStringLiteral("loaded"), loaded},
            {QStringLiteral("loadCut"), loadCut},
            {QStringLiteral("longestStallMs"), meter.longestMs()},
            {QStringLiteral("stallsOver50"), meter.over50()},
            {QStringLiteral("streamed"), produced},
            {QStringLiteral("streamSeconds"), streamSeconds},
            {QStringLiteral("shown"), shown},
            {QStringLiteral("vmHwmKb"), procStatusKb("VmHWM")},
            {QStringLiteral("entriesRssKb"), rssBeforeKb},
            {QStringLiteral("longestBatchMs"), static_cast<double>(longestBatchNs) / 1e6},
            {QStringLiteral("batches"), batches},
        };
        if (view)
            result.insert(QStringLiteral("sizesComputed"), static_cast<double>(view->chatDelegate()->computedSizes()));
        std::printf("%s\n", QJsonDocument(result).toJson(QJsonDocument::Compact).constData());
        std::fflush(stdout);
        return 0;
    }
}  // namespace

int main(int argc, char *argv[])
{
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Chat-log rendering benchmark"));
    parser.addHelpOption();
    const QCommandLineOption entriesOption(QStringLiteral("entries"), QStringLiteral("Entries loaded first."),
                                           QStringLiteral("N"), QStringLiteral("100000"));
    const QCommandLineOption rateOption(QStringLiteral("rate"), QStringLiteral("Entries per second streamed."),
                                        QStringLiteral("N"), QStringLiteral("5000"));
    const QCommandLineOption secondsOption(QStringLiteral("seconds"), QStringLiteral("Streaming time."),
                                           QStringLiteral("S"), QStringLiteral("10"));
    const QCommandLineOption budgetOption(QStringLiteral("baseline-budget"),
                                          QStringLiteral("Seconds the baseline may spend loading before it is cut."),
                                          QStringLiteral("S"), QStringLiteral("60"));
    const QCommandLineOption variantOption(QStringLiteral("variant"),
                                           QStringLiteral("Run one variant (delegate|textedit) and print JSON."),
                                           QStringLiteral("NAME"));
    parser.addOptions({entriesOption, rateOption, secondsOption, budgetOption, variantOption});
    parser.process(app);

    Settings settings;
    settings.entries = std::max(1, parser.value(entriesOption).toInt());
    settings.rate = std::max(1, parser.value(rateOption).toInt());
    settings.seconds = std::max(1, parser.value(secondsOption).toInt());
    settings.baselineBudget = std::max(1, parser.value(budgetOption).toInt());

    if (parser.isSet(variantOption))
        return runVariant(parser.value(variantOption), settings);

    QFile loadavg(QStringLiteral("/proc/loadavg"));
    if (loadavg.open(QIODevice::ReadOnly))
        std::printf("machine load average: %s (stalls include time other processes held the CPU)\n",
                    loadavg.readAll().trimmed().constData());
    std::printf("bench_chatlog: %d entries loaded, then %d entries/s for %d s into a visible %s view\n\n",
                settings.entries, settings.rate, settings.seconds, qPrintable(QGuiApplication::platformName()));
    QList<QJsonObject> results;
    for (const QString &variant : {QStringLiteral("delegate"), QStringLiteral("textedit")})
    {
        QProcess child;
        child.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        QStringList args = QCoreApplication::arguments().mid(1);
        args << QStringLiteral("--variant") << variant;
        child.start(QCoreApplication::applicationFilePath(), args);
        const int limitMs = ((settings.baselineBudget * 3) + (settings.seconds * 6) + 120) * 1000;
        if (!child.waitForFinished(limitMs))
        {
            child.kill();
            child.waitForFinished();
        }
        const QByteArray out = child.readAllStandardOutput().trimmed();
        QJsonObject result = QJsonDocument::fromJson(out.split('\n').constLast()).object();
        if (result.isEmpty())
            result.insert(QStringLiteral("variant"), variant);
        results.append(result);
    }

    std::printf("%-22s %14s %18s %16s %14s %12s\n", "variant", "load", "longest stall", "stalls > 50 ms", "peak memory",
                "shown");
    for (const QJsonObject &r : std::as_const(results))
    {
        const QString name = (r.value(QStringLiteral("variant")).toString() == u"delegate")
                                 ? QStringLiteral("model + delegate")
                                 : QStringLiteral("QTextEdit::append");
        if (!r.contains(QStringLiteral("loadSeconds")))
        {
            std::printf("%-22s  (did not finish)\n", qPrintable(name));
            continue;
        }
        QString load =
            QString::number(r.value(QStringLiteral("loadSeconds")).toDouble(), 'f', 2) + QStringLiteral(" s");
        if (r.value(QStringLiteral("loadCut")).toBool())
            load = QStringLiteral(">%1 s (%2 done)")
                       .arg(settings.baselineBudget)
                       .arg(r.value(QStringLiteral("loaded")).toInt());
        std::printf("%-22s %14s %15.1f ms %16d %11.0f MB %12d\n", qPrintable(name), qPrintable(load),
                    r.value(QStringLiteral("longestStallMs")).toDouble(),
                    r.value(QStringLiteral("stallsOver50")).toInt(),
                    r.value(QStringLiteral("vmHwmKb")).toDouble() / 1024.0, r.value(QStringLiteral("shown")).toInt());
    }
    std::printf("%-22s %14s %18s %16s %14s\n", "goal", "<= 1 s", "<= 50 ms", "", "<= 300 MB");
    for (const QJsonObject &r : std::as_const(results))
    {
        if (r.value(QStringLiteral("variant")).toString() == u"delegate")
            std::printf(
                "\nmodel + delegate: streamed %d entries in %.1f s; %.0f row sizes computed; "
                "the entries alone took %.0f MB of RSS before the view existed; "
                "%d batches, the longest took %.1f ms (insert + layout)\n",
                r.value(QStringLiteral("streamed")).toInt(), r.value(QStringLiteral("streamSeconds")).toDouble(),
                r.value(QStringLiteral("sizesComputed")).toDouble(),
                r.value(QStringLiteral("entriesRssKb")).toDouble() / 1024.0, r.value(QStringLiteral("batches")).toInt(),
                r.value(QStringLiteral("longestBatchMs")).toDouble());
    }
    return 0;
}
