#pragma once

#include <QLoggingCategory>
#include <QString>

// One logging category per area; filter with QT_LOGGING_RULES, e.g.
// QT_LOGGING_RULES="lockstep.transport.debug=true" (or "lockstep.*.debug=true",
// what --debug does). Whatever a category lets through is written.
Q_DECLARE_LOGGING_CATEGORY(lcApp)
Q_DECLARE_LOGGING_CATEGORY(lcProtocol)
Q_DECLARE_LOGGING_CATEGORY(lcTransport)
Q_DECLARE_LOGGING_CATEGORY(lcGateway)
Q_DECLARE_LOGGING_CATEGORY(lcStore)
Q_DECLARE_LOGGING_CATEGORY(lcLock)
Q_DECLARE_LOGGING_CATEGORY(lcFlows)
Q_DECLARE_LOGGING_CATEGORY(lcUi)

namespace Lockstep::Logging
{
    struct Options
    {
        QString appName;       // file name stem: <appName>.log
        QString logDirectory;  // empty: <AppDataLocation>/logs
        bool toStderr = true;
        bool toFile = true;
        bool debug = false;  // --debug: lockstep.* debug messages on (QT_LOGGING_RULES still wins)
        // When stderr is the systemd journal (stderrIsJournal()): stderr lines
        // carry a <N> syslog priority prefix and no timestamp, and no log file
        // is written (the journal is the log).
        bool journalAware = false;
    };

    // Whether stderr is a stream to the systemd journal: JOURNAL_STREAM names
    // stderr's device and inode (systemd.exec(5)). A child that inherited the
    // variable but not the stream is told no.
    bool stderrIsJournal();

    // Installs spdlog sinks (rotating file and stderr), the one
    // qInstallMessageHandler bridge and the default category rules. Call once,
    // early in main().
    void install(const Options &options);
    // Flushes and drops the sinks; safe to call more than once.
    void shutdown();
    // Where the rotating log file is written, empty if file logging is off.
    QString logFilePath();

    // Masks bearer tokens and other secrets in a line. Every message passes
    // through it before it reaches a sink, so a careless log call leaks nothing.
    QString redactSecrets(const QString &text);
}  // namespace Lockstep::Logging
