#pragma once

#include <chrono>
#include <cstdint>

#include <QHostAddress>
#include <QString>
#include <QStringList>

#include "result.h"

class QCommandLineParser;

namespace Lockstep::Cli
{
    // Exit code for a bad command line: unknown flag, bad value, missing value.
    inline constexpr int UsageError = 2;

    // Parses `arguments` and handles --help and --version (printing and exiting 0).
    // On an unknown flag or a parse error prints one line to stderr and exits 2.
    void parseOrExit(QCommandLineParser &parser, const QStringList &arguments);

    // Prints "<program>: <message>" as one line on stderr; "<3>" (error) before
    // it when stderr is the systemd journal.
    void printError(const QString &message);

    // Prints "<program>: <message>" (one line, with a --help hint) and exits 2.
    [[noreturn]] void failUsage(const QString &message);

    // "250ms", "30s", "5m", "2h"; a bare number is seconds. Must be > 0 and
    // at most 30 days.
    Result<std::chrono::milliseconds, QString> parseDuration(const QString &text);

    struct HostPort
    {
        QHostAddress address;
        std::uint16_t port = 0;
    };
    // "127.0.0.1:8080", "[::1]:8080", "localhost:0" (port 0 means any free port).
    Result<HostPort, QString> parseListenAddress(const QString &text);

    // A positive integer within [minimum, maximum].
    Result<qint64, QString> parseInteger(const QString &text, qint64 minimum, qint64 maximum);
}  // namespace Lockstep::Cli
