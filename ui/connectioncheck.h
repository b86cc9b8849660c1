#pragma once

#include <chrono>
#include <optional>

#include <QObject>
#include <QPointer>
#include <QTimer>

#include "gatewayapi.h"
#include "race/racereport.h"
#include "theme.h"

namespace Lockstep::Ui
{
    // What "Test connection" found, step by step: each step is filled once it answered.
    struct ConnectionReport
    {
        enum class Failure
        {
            None,
            Refused,       // nothing listens on that port
            HostNotFound,  // the name does not resolve
            Timeout,       // no answer within the check's time
            Tls,           // the TLS handshake failed (certificate, protocol)
            NotLockstep,   // something answered /healthz, but not a Lockstep gateway
            Network,       // any other network error
        };
        enum class Verdict
        {
            Running,       // not finished yet
            Ok,            // reachable, token accepted, every switch on
            SwitchesOff,   // as Ok, but the lock, the CAS guards or fencing is off (QA)
            Degraded,      // reachable, but its store or lock store is down
            TokenRefused,  // reachable, 401
            TokenUnknown,  // reachable, the authenticated request failed otherwise
            Unreachable,   // see failure
            Cancelled,
        };

        QString url;  // http[s]://host:port that was asked
        bool reachable = false;
        Failure failure = Failure::None;
        QString failureDetail;              // the network's or the gateway's own words
        std::optional<bool> tokenAccepted;  // unset: not asked (yet)
        QString tokenDetail;                // the gateway's message on 401, or what went wrong
        bool tokenEmpty = false;            // no token was given
        QString status;                     // /healthz "status": ok, degraded, shutting_down
        QString version;
        QString replica;
        QString lockStore;  // redis | memory
        QString store;      // sqlite | postgresql
        Race::GatewaySwitches switches;
        Verdict verdict = Verdict::Running;

        // One line: what the user should know first.
        QString verdictText() const;
        Theme::Tone tone() const;
    };

    // "Test connection" without widgets: /healthz (reachable, version, replica,
    // lock store, store, switches), then an authenticated GET /api/v1/flows
    // (token accepted). Everything is asynchronous; the whole check is bounded
    // by one timeout, and cancel() (or deleting the checker) drops it at once.
    class ConnectionCheck final : public QObject
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(ConnectionCheck)

    public:
        explicit ConnectionCheck(QObject *parent = nullptr);
        ~ConnectionCheck() override;

        void setTimeout(std::chrono::milliseconds timeout);
        // Starts a check (cancelling a running one).
        void start(const GatewayEndpoint &endpoint);
        void cancel();
        bool isRunning() const;
        const ConnectionReport &report() const;

    signals:
        // After each step, with what is known so far.
        void progressed(const Lockstep::Ui::ConnectionReport &report);
        void finished(const Lockstep::Ui::ConnectionReport &report);

    private:
        void onHealth(const ApiResult<QJsonObject> &health);
        void checkToken(bool fallback);
        void onToken(const ApiError *error, bool fallback);
        void finish(ConnectionReport::Verdict verdict);
        void stop();

        ConnectionReport m_report;
        std::chrono::milliseconds m_timeout{8000};
        QTimer m_deadline;
        // One per check: deleting it drops its requests (and their answers).
        QPointer<GatewayApi> m_api;
        quint64 m_run = 0;  // answers of an earlier check are dropped
    };

    // Where a network error comes from, in the checker's terms.
    ConnectionReport::Failure classifyNetworkError(const ApiError &error);
}  // namespace Lockstep::Ui

Q_DECLARE_METATYPE(Lockstep::Ui::ConnectionReport)
