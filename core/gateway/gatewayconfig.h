#pragma once

#include <chrono>
#include <cstdint>

#include <QCommandLineOption>
#include <QHostAddress>
#include <QList>
#include <QString>
#include <QStringList>

#include "common/result.h"

class QCommandLineParser;

namespace Lockstep::Gateway
{
    enum class LockUnavailablePolicy
    {
        FailClosed,  // refuse the session: close 1011 "lock store unavailable"
        FailOpen,    // run without the lock, lockStatus "unavailable"
    };

    // Everything the gateway needs, validated. Defaults are those of SPEC.md.
    struct GatewayConfig
    {
        QHostAddress listenAddress = QHostAddress(QHostAddress::LocalHost);
        std::uint16_t listenPort = 8080;  // 0: any free port (printed at start)
        QString storeSpec;                // empty: sqlite:<dataDir>/gateway.db
        QString redisUrl;                 // empty: the in-process lock store
        std::chrono::milliseconds lockTtl{30000};
        std::chrono::milliseconds workflowDeadline{5 * 60 * 1000};
        std::chrono::milliseconds staleAfter{90000};
        QString tokenFile;           // empty: a generated token in dataDir (loopback only)
        QStringList allowedOrigins;  // normalized "scheme://host[:port]"
        QString flowsDir;
        QString replicaId;
        bool lockConcurrentFlows = true;  // --no-lock-concurrent-flows turns the lock off
        bool casGuards = true;            // --no-cas-guards reproduces the original bug
        bool fencing = true;              // --no-fencing: writes do not check the fence
        LockUnavailablePolicy lockUnavailable = LockUnavailablePolicy::FailClosed;
        QString tlsCertFile;
        QString tlsKeyFile;
        QString dataDir;
        qint64 maxMessageBytes = 1024 * 1024;            // larger websocket message: close 1009
        int maxMessagesPerSecond = 100;                  // more: close 1008
        int maxConnections = 1024;                       // open TCP connections
        qint64 maxBodyBytes = 1024 * 1024;               // larger HTTP body: 413
        double stepDelayScale = 1.0;                     // flow delays are multiplied by it
        std::chrono::milliseconds pollInterval{250};     // store polling for runs executing elsewhere
        std::chrono::milliseconds shutdownGrace{10000};  // SIGTERM: wait this long for executions to pause
        // A workspace agent registration not renewed for this long has expired:
        // the workspace counts as having no running agent. Agents renew every
        // 30 s (lockstep-agent --register-interval): two missed renewals + 5 s.
        std::chrono::milliseconds agentExpiry{65000};
        bool debugLog = false;

        bool tlsEnabled() const
        {
            return !tlsCertFile.isEmpty();
        }
    };

    // Every gateway setting as a flag: the keys a --config file may use too.
    // --config, --help and --version are not among them.
    QList<QCommandLineOption> settingOptions();
    // The settings that may be given more than once (and on several lines of a file).
    QStringList repeatableSettings();
    // Declares every gateway flag on `parser`: settingOptions(), --config, --help, --version.
    void addCommandLineOptions(QCommandLineParser &parser);
    // Reads and validates the flags of a parsed command line; the error is one
    // readable line naming the flag ("--lock-ttl: 'x' is not a duration ...").
    Result<GatewayConfig, QString> configFromCommandLine(const QCommandLineParser &parser);

    // "https://console.example:8443" -> "https://console.example:8443"; a default
    // port is dropped and scheme/host are lower-cased, so the allowlist and the
    // Origin header compare as strings. Empty for anything that is not an origin.
    QString normalizeOrigin(const QString &origin);
}  // namespace Lockstep::Gateway
