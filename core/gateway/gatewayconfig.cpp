#include "gatewayconfig.h"

#include <cmath>

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QRegularExpression>
#include <QStandardPaths>
#include <QUrl>

#include "common/cli.h"
#include "lock/redislockstore.h"
#include "store/storespec.h"

namespace Lockstep::Gateway
{
    namespace
    {
        QCommandLineOption option(const char *name, const char *description, const char *valueName = nullptr,
                                  const char *defaultValue = nullptr)
        {
            QCommandLineOption result(QString::fromLatin1(name), QString::fromLatin1(description));
            if (valueName)
                result.setValueName(QString::fromLatin1(valueName));
            if (defaultValue)
            {
                result.setDefaultValue(QString::fromLatin1(defaultValue));
                result.setDescription(result.description() +
                                      QStringLiteral(" Default: %1.").arg(QString::fromLatin1(defaultValue)));
            }
            return result;
        }

        QString flagError(const char *flag, const QString &message)
        {
            return QStringLiteral("--%1: %2").arg(QString::fromLatin1(flag), message);
        }

        // The last value of a flag given more than once (QCommandLineParser keeps all).
        QString lastValue(const QCommandLineParser &parser, const char *name)
        {
            const QStringList values = parser.values(QString::fromLatin1(name));
            return values.isEmpty() ? QString() : values.constLast();
        }

        Result<std::chrono::milliseconds, QString> duration(const QCommandLineParser &parser, const char *flag)
        {
            const auto parsed = Cli::parseDuration(lastValue(parser, flag));
            if (!parsed)
                return unexpected(flagError(flag, parsed.error()));
            return *parsed;
        }

        Result<qint64, QString> integer(const QCommandLineParser &parser, const char *flag, qint64 min, qint64 max)
        {
            const auto parsed = Cli::parseInteger(lastValue(parser, flag), min, max);
            if (!parsed)
                return unexpected(flagError(flag, parsed.error()));
            return *parsed;
        }

        bool isValidReplicaId(const QString &id)
        {
            static const QRegularExpression pattern(QStringLiteral("^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"));
            return pattern.match(id).hasMatch();
        }

        QString defaultReplicaId()
        {
            static const QRegularExpression bad(QStringLiteral("[^A-Za-z0-9._:-]"));
            QString host = QSysInfo::machineHostName();
            host.replace(bad, QStringLiteral("-"));
            if (host.isEmpty() || !host.at(0).isLetterOrNumber())
                host.prepend(u"gw");
            return (host.left(48) + u'-' + QString::number(QCoreApplication::applicationPid()));
        }
    }  // namespace

    QString normalizeOrigin(const QString &origin)
    {
        const QUrl url(origin.trimmed(), QUrl::StrictMode);
        if (!url.isValid() || url.host().isEmpty())
            return {};
        const QString scheme = url.scheme().toLower();
        if ((scheme != u"http") && (scheme != u"https"))
            return {};
        if ((!url.path().isEmpty() && (url.path() != u"/")) || url.hasQuery() || url.hasFragment() ||
            !url.userInfo().isEmpty())
            return {};
        int port = url.port();
        if (((scheme == u"http") && (port == 80)) || ((scheme == u"https") && (port == 443)))
            port = -1;
        QString host = url.host(QUrl::FullyEncoded).toLower();
        if (host.contains(u':'))
            host = u'[' + host + u']';
        QString result = scheme + u"://" + host;
        if (port >= 0)
            result += u':' + QString::number(port);
        return result;
    }

    QList<QCommandLineOption> settingOptions()
    {
        return {
            option("listen", "Address to listen on (HTTP API and websocket; port 0 picks a free port).", "HOST:PORT",
                   "127.0.0.1:8080"),
            option("store",
                   "Run store: sqlite:PATH or postgresql://user@host:port/db (default: sqlite in the data folder).",
                   "SPEC"),
            option("redis", "Redis for the run lock (several replicas); without it an in-process lock store is used.",
                   "redis://HOST:PORT"),
            option("lock-ttl", "Run lock TTL; the heartbeat refreshes it every TTL/3.", "DURATION", "30s"),
            option("workflow-deadline", "Longest time one execution may run.", "DURATION", "5m"),
            option("stale-after", "A running run without activity for this long is an orphan and resumable.",
                   "DURATION", "90s"),
            option(
                "token-file",
                "File with the accepted bearer tokens, one a line. Without it: loopback only and a generated token in the data folder.",
                "FILE"),
            option("allowed-origin", "Browser origin allowed to connect (repeatable), e.g. https://console.example.",
                   "URL"),
            option("flows", "Folder of extra flows (*.json); they override built-ins of the same name.", "DIR"),
            option("replica-id", "This replica's name (lock holder, /healthz).", "NAME"),
            option("no-lock-concurrent-flows", "QA: turn the run lock off (reproduces the two-tab bug)."),
            option("no-cas-guards",
                   "QA: every store write of a run is unconditional: resume, cancel and the executor's "
                   "writes check neither status nor fence, and the executor never re-reads the run "
                   "(reproduces the original bug)."),
            option("no-fencing",
                   "QA: store writes do not check the fence (status checks stay unless --no-cas-guards)."),
            option("lock-unavailable",
                   "When the lock store cannot be reached: fail-closed (close 1011) or fail-open (run unlocked).",
                   "POLICY", "fail-closed"),
            option("tls-cert", "PEM certificate (chain): serve https/wss.", "FILE"),
            option("tls-key", "PEM private key for --tls-cert.", "FILE"),
            option("data-dir", "Data folder (default store, generated token, logs).", "DIR"),
            option("max-message-bytes", "Largest websocket message accepted (larger: close 1009).", "BYTES", "1048576"),
            option("max-messages-per-second", "Websocket messages a session may send per second (more: close 1008).",
                   "N", "100"),
            option("max-connections", "Open connections accepted at once (more: HTTP 503).", "N", "1024"),
            option("max-body-bytes", "Largest HTTP request body (larger: 413).", "BYTES", "1048576"),
            option("step-delay-scale", "Multiplies every flow delay (0 runs flows as fast as possible).", "FACTOR",
                   "1"),
            option("poll-interval", "How often runs executing on another replica are polled for events.", "DURATION",
                   "250ms"),
            option("shutdown-grace", "On SIGTERM, how long to wait for executions to pause.", "DURATION", "10s"),
            option(
                "agent-expiry",
                "A workspace agent registration not renewed for this long has expired (2 x the agents' --register-interval + a margin).",
                "DURATION", "65s"),
            option("debug", "Also log debug messages."),
        };
    }

    QStringList repeatableSettings()
    {
        return {QStringLiteral("allowed-origin")};
    }

    void addCommandLineOptions(QCommandLineParser &parser)
    {
        parser.addHelpOption();
        parser.addVersionOption();
        parser.addOption(option("config",
                                "Read settings from FILE (repeatable; later files win, flags on the command line win "
                                "over every file). Lines 'key = value', keys are the long flag names.",
                                "FILE"));
        parser.addOptions(settingOptions());
    }

    Result<GatewayConfig, QString> configFromCommandLine(const QCommandLineParser &parser)
    {
        GatewayConfig config;

        const auto listen = Cli::parseListenAddress(lastValue(parser, "listen"));
        if (!listen)
            return unexpected(flagError("listen", listen.error()));
        config.listenAddress = listen->address;
        config.listenPort = listen->port;

        const QString dataDir = lastValue(parser, "data-dir");
        if (parser.isSet(QStringLiteral("data-dir")) && dataDir.trimmed().isEmpty())
            return unexpected(flagError("data-dir", QStringLiteral("must not be empty")));
        config.dataDir =
            dataDir.isEmpty() ? QStandardPaths::writableLocation(QStandardPaths::AppDataLocation) : dataDir;

        if (parser.isSet(QStringLiteral("store")))
        {
            config.storeSpec = lastValue(parser, "store");
            const auto spec = Store::parseStoreSpec(config.storeSpec);
            if (!spec)
                return unexpected(flagError("store", spec.error()));
        }

        if (parser.isSet(QStringLiteral("redis")))
        {
            config.redisUrl = lastValue(parser, "redis");
            if (const auto endpoint = Lock::parseRedisUrl(config.redisUrl); !endpoint)
                return unexpected(flagError("redis", endpoint.error().message));
        }

        auto ttl = duration(parser, "lock-ttl");
        if (!ttl)
            return unexpected(ttl.error());
        if (*ttl < std::chrono::milliseconds(300))
            return unexpected(
                flagError("lock-ttl", QStringLiteral("must be at least 300ms (the heartbeat runs every TTL/3)")));
        config.lockTtl = *ttl;
        auto deadline = duration(parser, "workflow-deadline");
        if (!deadline)
            return unexpected(deadline.error());
        config.workflowDeadline = *deadline;
        auto stale = duration(parser, "stale-after");
        if (!stale)
            return unexpected(stale.error());
        config.staleAfter = *stale;
        auto poll = duration(parser, "poll-interval");
        if (!poll)
            return unexpected(poll.error());
        if (*poll > std::chrono::milliseconds(60000))
            return unexpected(flagError("poll-interval", QStringLiteral("must be at most 60s")));
        config.pollInterval = *poll;
        auto grace = duration(parser, "shutdown-grace");
        if (!grace)
            return unexpected(grace.error());
        config.shutdownGrace = *grace;
        auto expiry = duration(parser, "agent-expiry");
        if (!expiry)
            return unexpected(expiry.error());
        if (*expiry < std::chrono::milliseconds(1000))
            return unexpected(flagError("agent-expiry", QStringLiteral("must be at least 1s")));
        config.agentExpiry = *expiry;

        if (parser.isSet(QStringLiteral("token-file")))
        {
            config.tokenFile = lastValue(parser, "token-file");
            if (config.tokenFile.isEmpty())
                return unexpected(flagError("token-file", QStringLiteral("must not be empty")));
        }

        for (const QString &origin : parser.values(QStringLiteral("allowed-origin")))
        {
            const QString normalized = normalizeOrigin(origin);
            if (normalized.isEmpty())
                return unexpected(flagError(
                    "allowed-origin",
                    QStringLiteral("'%1' is not an origin such as https://console.example:8443").arg(origin)));
            if (!config.allowedOrigins.contains(normalized))
                config.allowedOrigins << normalized;
        }

        config.flowsDir = lastValue(parser, "flows");
        if (parser.isSet(QStringLiteral("flows")) && config.flowsDir.isEmpty())
            return unexpected(flagError("flows", QStringLiteral("must not be empty")));

        if (parser.isSet(QStringLiteral("replica-id")))
        {
            config.replicaId = lastValue(parser, "replica-id");
            if (!isValidReplicaId(config.replicaId))
                return unexpected(flagError(
                    "replica-id",
                    QStringLiteral("'%1' must be 1 to 64 characters of [A-Za-z0-9._:-]").arg(config.replicaId)));
        }
        else
        {
            config.replicaId = defaultReplicaId();
        }

        config.lockConcurrentFlows = !parser.isSet(QStringLiteral("no-lock-concurrent-flows"));
        config.casGuards = !parser.isSet(QStringLiteral("no-cas-guards"));
        config.fencing = !parser.isSet(QStringLiteral("no-fencing"));

        const QString policy = lastValue(parser, "lock-unavailable");
        if (policy == u"fail-closed")
            config.lockUnavailable = LockUnavailablePolicy::FailClosed;
        else if (policy == u"fail-open")
            config.lockUnavailable = LockUnavailablePolicy::FailOpen;
        else
            return unexpected(
                flagError("lock-unavailable", QStringLiteral("'%1' is not fail-closed or fail-open").arg(policy)));

        config.tlsCertFile = lastValue(parser, "tls-cert");
        config.tlsKeyFile = lastValue(parser, "tls-key");
        if (config.tlsCertFile.isEmpty() != config.tlsKeyFile.isEmpty())
            return unexpected(flagError(config.tlsCertFile.isEmpty() ? "tls-cert" : "tls-key",
                                        QStringLiteral("--tls-cert and --tls-key go together")));

        auto messageBytes = integer(parser, "max-message-bytes", 1024, qint64(64) * 1024 * 1024);
        if (!messageBytes)
            return unexpected(messageBytes.error());
        config.maxMessageBytes = *messageBytes;
        auto rate = integer(parser, "max-messages-per-second", 1, 100000);
        if (!rate)
            return unexpected(rate.error());
        config.maxMessagesPerSecond = int(*rate);
        auto connections = integer(parser, "max-connections", 1, 100000);
        if (!connections)
            return unexpected(connections.error());
        config.maxConnections = int(*connections);
        auto bodyBytes = integer(parser, "max-body-bytes", 1024, qint64(64) * 1024 * 1024);
        if (!bodyBytes)
            return unexpected(bodyBytes.error());
        config.maxBodyBytes = *bodyBytes;

        const QString scaleText = lastValue(parser, "step-delay-scale");
        bool scaleOk = false;
        const double scale = scaleText.trimmed().toDouble(&scaleOk);
        if (!scaleOk || !std::isfinite(scale) || (scale < 0.0) || (scale > 100.0))
            return unexpected(
                flagError("step-delay-scale", QStringLiteral("'%1' is not a number from 0 to 100").arg(scaleText)));
        config.stepDelayScale = scale;

        config.debugLog = parser.isSet(QStringLiteral("debug"));
        return config;
    }
}  // namespace Lockstep::Gateway
