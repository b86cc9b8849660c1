#pragma once

#include <QCommandLineOption>
#include <QList>
#include <QString>
#include <QStringList>

#include "common/result.h"

class QCommandLineParser;

namespace Lockstep::Gateway
{
    // The settings of `lockstep-gateway --config FILE [--config FILE2 ...]`.
    //
    // A file holds lines `key = value`; a line starting with '#' is a comment,
    // blank lines are ignored. Keys are the long flag names (listen, lock-ttl,
    // ...); a switch takes `true` or `false`; a repeatable flag (allowed-origin)
    // may be on several lines. A key set in a later file replaces every line of
    // it in earlier files; a flag on the command line replaces the files' lines
    // (dropSetBy()). The settings become ordinary arguments placed before the
    // command line's, so one QCommandLineParser and one validation
    // (configFromCommandLine) serve both, and locate() points a value error at
    // the file line the value came from.
    class ConfigFiles
    {
    public:
        struct Setting
        {
            QString key;
            QString value;  // "true"/"false" for a switch
            QString file;
            int line = 0;
        };

        // Reads `paths` in order. `options` are the keys (an option without a
        // value name is a switch); `repeatable` the keys that may repeat. The
        // error is one line: "FILE:LINE: problem", or "FILE: problem" when the
        // file cannot be read.
        static Result<ConfigFiles, QString> read(const QStringList &paths, const QList<QCommandLineOption> &options,
                                                 const QStringList &repeatable);

        // Forgets the keys `commandLine` (already parsed) sets: the command line wins.
        void dropSetBy(const QCommandLineParser &commandLine);

        // The settings as arguments ("--key=value", "--switch" for true; a false
        // switch adds nothing), to go before the command line's arguments.
        QStringList arguments() const;

        // A validation error "--KEY: problem" -> "FILE:LINE: --KEY: problem" when
        // KEY's value came from a file: the line whose value the message quotes,
        // else the key's last line. Other errors come back unchanged.
        QString locate(const QString &error) const;

        const QList<Setting> &settings() const;

    private:
        QList<Setting> m_settings;
        QStringList m_switches;
    };
}  // namespace Lockstep::Gateway
