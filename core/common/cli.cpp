#include "cli.h"

#include <cstdio>
#include <cstdlib>

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QRegularExpression>

#include "common/logging.h"

namespace Lockstep::Cli
{
    void printError(const QString &message)
    {
        const QString program = QCoreApplication::applicationName();
        fprintf(stderr, "%s%s: %s\n", Logging::stderrIsJournal() ? "<3>" : "", qPrintable(program),
                qPrintable(message));
    }

    void failUsage(const QString &message)
    {
        printError(message + QStringLiteral(" (try --help)"));
        std::exit(UsageError);
    }

    void parseOrExit(QCommandLineParser &parser, const QStringList &arguments)
    {
        if (!parser.parse(arguments))
            failUsage(parser.errorText().simplified());
        if (parser.isSet(QStringLiteral("help")))
        {
            fputs(qPrintable(parser.helpText()), stdout);
            std::exit(0);
        }
        if (parser.isSet(QStringLiteral("version")))
        {
            printf("%s %s\n", qPrintable(QCoreApplication::applicationName()),
                   qPrintable(QCoreApplication::applicationVersion()));
            std::exit(0);
        }
        if (!parser.positionalArguments().isEmpty())
            failUsage(QStringLiteral("unexpected argument '%1'").arg(parser.positionalArguments().constFirst()));
    }

    Result<std::chrono::milliseconds, QString> parseDuration(const QString &text)
    {
        static const QRegularExpression pattern(QStringLiteral("^\\s*(\\d{1,12})\\s*(ms|s|m|h)?\\s*$"));
        const QRegularExpressionMatch match = pattern.match(text);
        if (!match.hasMatch())
            return unexpected(QStringLiteral("'%1' is not a duration (examples: 250ms, 30s, 5m, 2h)").arg(text));
        const qint64 amount = match.captured(1).toLongLong();
        const QString unit = match.captured(2);
        qint64 factor = 1000;
        if (unit == u"ms")
            factor = 1;
        else if (unit == u"m")
            factor = 60 * 1000;
        else if (unit == u"h")
            factor = 3600 * 1000;
        constexpr qint64 maxMs = qint64(30) * 24 * 3600 * 1000;
        if ((amount <= 0) || (amount > maxMs / factor))
            return unexpected(QStringLiteral("duration '%1' is out of range (more than 0, at most 30 days)").arg(text));
        return std::chrono::milliseconds(amount * factor);
    }

    Result<HostPort, QString> parseListenAddress(const QString &text)
    {
        const qsizetype colon = text.lastIndexOf(u':');
        if (colon <= 0)
            return unexpected(QStringLiteral("'%1' is not HOST:PORT").arg(text));
        QString host = text.left(colon);
        if (host.startsWith(u'[') && host.endsWith(u']'))
            host = host.mid(1, host.size() - 2);
        const auto port = parseInteger(text.mid(colon + 1), 0, 65535);
        if (!port)
            return unexpected(QStringLiteral("'%1': port %2").arg(text, port.error()));
        HostPort result;
        result.port = static_cast<std::uint16_t>(*port);
        if (host == u"localhost")
            result.address = QHostAddress(QHostAddress::LocalHost);
        else if (!result.address.setAddress(host))
            return unexpected(QStringLiteral("'%1' is not an IP address or localhost").arg(host));
        return result;
    }

    Result<qint64, QString> parseInteger(const QString &text, const qint64 minimum, const qint64 maximum)
    {
        bool ok = false;
        const qint64 value = text.trimmed().toLongLong(&ok);
        if (!ok)
            return unexpected(QStringLiteral("'%1' is not a whole number").arg(text));
        if ((value < minimum) || (value > maximum))
            return unexpected(QStringLiteral("%1 is out of range [%2, %3]").arg(value).arg(minimum).arg(maximum));
        return value;
    }
}  // namespace Lockstep::Cli
