#include "logging.h"

#include <memory>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

#include <QDir>
#include <QRegularExpression>
#include <QStandardPaths>

#include "privatefiles.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

Q_LOGGING_CATEGORY(lcApp, "lockstep.app")
Q_LOGGING_CATEGORY(lcProtocol, "lockstep.protocol")
Q_LOGGING_CATEGORY(lcTransport, "lockstep.transport")
Q_LOGGING_CATEGORY(lcGateway, "lockstep.gateway")
Q_LOGGING_CATEGORY(lcStore, "lockstep.store")
Q_LOGGING_CATEGORY(lcLock, "lockstep.lock")
Q_LOGGING_CATEGORY(lcFlows, "lockstep.flows")
Q_LOGGING_CATEGORY(lcUi, "lockstep.ui")

namespace
{
    std::shared_ptr<spdlog::logger> g_logger;
    QString g_logFilePath;
    bool g_toJournal = false;

    // "%*": the sd-daemon(3) priority prefix journald reads ("<3>" error ... "<7>" debug).
    class SyslogPriorityFlag final : public spdlog::custom_flag_formatter
    {
    public:
        void format(const spdlog::details::log_msg &message, const std::tm &, spdlog::memory_buf_t &out) override
        {
            char priority = '6';  // info
            switch (message.level)
            {
            case spdlog::level::trace:
            case spdlog::level::debug: priority = '7'; break;
            case spdlog::level::info: priority = '6'; break;
            case spdlog::level::warn: priority = '4'; break;
            case spdlog::level::err: priority = '3'; break;
            case spdlog::level::critical: priority = '2'; break;
            default: break;
            }
            const char prefix[] = {'<', priority, '>'};
            out.append(prefix, prefix + sizeof(prefix));
        }

        std::unique_ptr<custom_flag_formatter> clone() const override
        {
            return std::make_unique<SyslogPriorityFlag>();
        }
    };

    spdlog::level::level_enum toSpdlogLevel(const QtMsgType type)
    {
        switch (type)
        {
        case QtDebugMsg: return spdlog::level::debug;
        case QtInfoMsg: return spdlog::level::info;
        case QtWarningMsg: return spdlog::level::warn;
        case QtCriticalMsg: return spdlog::level::err;
        case QtFatalMsg: return spdlog::level::critical;
        }
        return spdlog::level::info;
    }

    void messageHandler(const QtMsgType type, const QMessageLogContext &context, const QString &message)
    {
        const QString clean = Lockstep::Logging::redactSecrets(message);
        const QByteArray category = context.category ? QByteArray(context.category) : QByteArray("default");
        if (g_logger)
            g_logger->log(toSpdlogLevel(type), "[{}] {}", category.constData(), clean.toStdString());
        else
            fprintf(stderr, "[%s] %s\n", category.constData(), clean.toLocal8Bit().constData());
        if (type == QtFatalMsg)
        {
            if (g_logger)
                g_logger->flush();
            abort();
        }
    }
}  // namespace

namespace Lockstep::Logging
{
    bool stderrIsJournal()
    {
        const QByteArray stream = qgetenv("JOURNAL_STREAM");
        const qsizetype colon = stream.indexOf(':');
        if (colon <= 0)
            return false;
        bool deviceOk = false;
        bool inodeOk = false;
        const qulonglong device = stream.left(colon).toULongLong(&deviceOk);
        const qulonglong inode = stream.mid(colon + 1).toULongLong(&inodeOk);
        struct stat status = {};
        if (!deviceOk || !inodeOk || (::fstat(STDERR_FILENO, &status) != 0))
            return false;
        return (device == status.st_dev) && (inode == status.st_ino);
    }

    void install(const Options &options)
    {
        g_toJournal = options.journalAware && options.toStderr && stderrIsJournal();
        std::vector<spdlog::sink_ptr> sinks;
        if (g_toJournal)
        {
            // journald stamps every line itself: priority prefix, no time, no colours.
            auto journal = std::make_shared<spdlog::sinks::stderr_sink_mt>();
            auto formatter = std::make_unique<spdlog::pattern_formatter>();
            formatter->add_flag<SyslogPriorityFlag>('*').set_pattern("%*%v");
            journal->set_formatter(std::move(formatter));
            sinks.push_back(journal);
        }
        else if (options.toStderr)
        {
            sinks.push_back(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
        }
        g_logFilePath.clear();
        if (options.toFile && !g_toJournal)
        {
            QString dir = options.logDirectory;
            if (dir.isEmpty())
                dir = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation) + u"/logs";
            // Logs may name peers and runs: owner only (folders 0700, files 0600).
            if (Lockstep::PrivateFiles::makePath(dir))
            {
                g_logFilePath = QDir(dir).filePath(options.appName + u".log");
                try
                {
                    // spdlog opens (and, after a rotation, reopens) the file for
                    // appending: create it 0600 first, so it keeps that mode.
                    spdlog::file_event_handlers events;
                    events.before_open = [](const spdlog::filename_t &name) {
                        Lockstep::PrivateFiles::ensureFile(QString::fromStdString(name));
                    };
                    // 5 MiB a file, 3 files kept.
                    sinks.push_back(std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
                        g_logFilePath.toStdString(), 5 * 1024 * 1024, 3, false, events));
                }
                catch (const spdlog::spdlog_ex &ex)
                {
                    fprintf(stderr, "lockstep: cannot open log file %s: %s\n", qPrintable(g_logFilePath), ex.what());
                    g_logFilePath.clear();
                }
            }
        }
        g_logger = std::make_shared<spdlog::logger>(options.appName.toStdString(), sinks.begin(), sinks.end());
        if (!g_toJournal)
            g_logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v");
        // spdlog writes whatever reaches it: the Qt categories decide. Our debug
        // lines (and plain qDebug()) are off unless --debug; QT_LOGGING_RULES and
        // QT_LOGGING_CONF are applied after these rules, so they have the last word.
        g_logger->set_level(spdlog::level::debug);
        g_logger->flush_on(spdlog::level::warn);
        qInstallMessageHandler(messageHandler);
        QLoggingCategory::setFilterRules(options.debug ? QStringLiteral("lockstep.*.debug=true")
                                                       : QStringLiteral("lockstep.*.debug=false\ndefault.debug=false"));
        qCDebug(lcApp).noquote() << options.appName << "logging to"
                                 << (g_toJournal               ? QStringLiteral("the journal")
                                     : g_logFilePath.isEmpty() ? QStringLiteral("stderr only")
                                                               : g_logFilePath);
    }

    void shutdown()
    {
        qInstallMessageHandler(nullptr);
        if (g_logger)
            g_logger->flush();
        g_logger.reset();
    }

    QString logFilePath()
    {
        return g_logFilePath;
    }

    QString redactSecrets(const QString &text)
    {
        static const QRegularExpression patterns[] = {
            QRegularExpression(QStringLiteral("(Bearer\\s+)[^\\s\"',;]+"), QRegularExpression::CaseInsensitiveOption),
            QRegularExpression(QStringLiteral("(bearer\\.)[^\\s\"',;]+")),
            QRegularExpression(QStringLiteral("((?:token|password|secret)\\s*[=:]\\s*\"?)[^\\s\"',;]+"),
                               QRegularExpression::CaseInsensitiveOption),
        };
        QString out = text;
        for (const QRegularExpression &pattern : patterns)
            out.replace(pattern, QStringLiteral("\\1***"));
        return out;
    }
}  // namespace Lockstep::Logging
