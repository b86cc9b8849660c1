#include "connectioncheck.h"

#include <QNetworkReply>

namespace Lockstep::Ui
{
    ConnectionReport::Failure classifyNetworkError(const ApiError &error)
    {
        switch (static_cast<QNetworkReply::NetworkError>(error.networkError))
        {
        case QNetworkReply::ConnectionRefusedError: return ConnectionReport::Failure::Refused;
        case QNetworkReply::HostNotFoundError: return ConnectionReport::Failure::HostNotFound;
        // A transfer timeout ends the request as "cancelled".
        case QNetworkReply::TimeoutError:
        case QNetworkReply::OperationCanceledError: return ConnectionReport::Failure::Timeout;
        case QNetworkReply::SslHandshakeFailedError: return ConnectionReport::Failure::Tls;
        // A plain-HTTP server behind an https:// URL, or TLS to a plain port, ends here.
        case QNetworkReply::RemoteHostClosedError:
        default: return ConnectionReport::Failure::Network;
        }
    }

    QString ConnectionReport::verdictText() const
    {
        using Tr = ConnectionCheck;
        switch (verdict)
        {
        case Verdict::Running: return Tr::tr("Testing %1…").arg(url);
        case Verdict::Cancelled: return Tr::tr("Test cancelled.");
        case Verdict::Ok:
            return tokenEmpty ? Tr::tr("Connected: Lockstep gateway %1 answers and needs no token.").arg(version)
                              : Tr::tr("Connected: Lockstep gateway %1 answers and accepts the token.").arg(version);
        case Verdict::SwitchesOff:
        {
            QStringList off;
            if (!switches.lockEnabled)
                off.append(Tr::tr("the run lock"));
            if (!switches.casGuards)
                off.append(Tr::tr("the CAS guards"));
            if (!switches.fencing)
                off.append(Tr::tr("fencing"));
            return Tr::tr("Connected, but this gateway runs with %1 off (QA switches): runs are not fully protected.")
                .arg(off.join(QStringLiteral(", ")));
        }
        case Verdict::Degraded: return Tr::tr("The gateway answers but is degraded: %1").arg(failureDetail);
        case Verdict::TokenRefused:
            return tokenEmpty ? Tr::tr("The gateway answers, but it needs a token: %1").arg(tokenDetail)
                              : Tr::tr("The gateway answers, but it refused the token: %1").arg(tokenDetail);
        case Verdict::TokenUnknown:
            return Tr::tr("The gateway answers, but the token could not be checked: %1").arg(tokenDetail);
        case Verdict::Unreachable: break;
        }
        switch (failure)
        {
        case Failure::Refused:
            return Tr::tr("Cannot reach %1: connection refused — is the gateway running on that port?").arg(url);
        case Failure::HostNotFound: return Tr::tr("Cannot reach %1: the host name is not known.").arg(url);
        case Failure::Timeout: return Tr::tr("Cannot reach %1: no answer in time.").arg(url);
        case Failure::Tls: return Tr::tr("Cannot reach %1: TLS failed (%2).").arg(url, failureDetail);
        case Failure::NotLockstep:
            return Tr::tr("Something answers at %1, but it is not a Lockstep gateway (%2).").arg(url, failureDetail);
        case Failure::None:
        case Failure::Network: break;
        }
        return Tr::tr("Cannot reach %1: %2").arg(url, failureDetail);
    }

    Theme::Tone ConnectionReport::tone() const
    {
        switch (verdict)
        {
        case Verdict::Ok: return Theme::Tone::Good;
        case Verdict::SwitchesOff:
        case Verdict::Degraded:
        case Verdict::TokenUnknown: return Theme::Tone::Warning;
        case Verdict::TokenRefused:
        case Verdict::Unreachable: return Theme::Tone::Bad;
        case Verdict::Running:
        case Verdict::Cancelled: break;
        }
        return Theme::Tone::Neutral;
    }

    ConnectionCheck::ConnectionCheck(QObject *parent)
        : QObject(parent)
    {
        qRegisterMetaType<ConnectionReport>();
        m_deadline.setSingleShot(true);
        connect(&m_deadline, &QTimer::timeout, this, [this] {
            if (!m_report.reachable)
            {
                m_report.failure = ConnectionReport::Failure::Timeout;
                m_report.failureDetail = tr("no answer within %1 s").arg(m_timeout.count() / 1000.0);
                finish(ConnectionReport::Verdict::Unreachable);
            }
            else
            {
                m_report.tokenDetail = tr("no answer within %1 s").arg(m_timeout.count() / 1000.0);
                finish(ConnectionReport::Verdict::TokenUnknown);
            }
        });
    }

    ConnectionCheck::~ConnectionCheck()
    {
        stop();
    }

    void ConnectionCheck::setTimeout(const std::chrono::milliseconds timeout)
    {
        m_timeout = timeout;
    }

    void ConnectionCheck::start(const GatewayEndpoint &endpoint)
    {
        stop();
        m_report = ConnectionReport{};
        m_report.url = endpoint.httpBase.toString();
        m_report.tokenEmpty = endpoint.token.isEmpty();
        m_api = new GatewayApi(this);
        m_api->setEndpoint(endpoint);
        m_api->setTimeout(static_cast<int>(m_timeout.count()));
        m_deadline.start(m_timeout);
        emit progressed(m_report);
        m_api->health(m_api, [this, run = m_run](const ApiResult<QJsonObject> &health) {
            if (run == m_run)
                onHealth(health);
        });
    }

    void ConnectionCheck::cancel()
    {
        if (!isRunning())
            return;
        stop();
        m_report.verdict = ConnectionReport::Verdict::Cancelled;
        emit finished(m_report);
    }

    bool ConnectionCheck::isRunning() const
    {
        return !m_api.isNull();
    }

    const ConnectionReport &ConnectionCheck::report() const
    {
        return m_report;
    }

    void ConnectionCheck::stop()
    {
        m_deadline.stop();
        ++m_run;
        // Its network manager goes with it, aborting what is in flight; the answers
        // were bound to it, so none arrives later.
        delete m_api.data();
    }

    void ConnectionCheck::onHealth(const ApiResult<QJsonObject> &health)
    {
        if (!health)
        {
            const ApiError &error = health.error();
            if (error.httpStatus == 0)
            {
                m_report.failure = classifyNetworkError(error);
                m_report.failureDetail = error.message;
                finish(ConnectionReport::Verdict::Unreachable);
                return;
            }
            // SPEC: a gateway whose store or lock store is down answers 503 with its own error word.
            if ((error.httpStatus == 503) && !error.error.isEmpty())
            {
                m_report.reachable = true;
                m_report.status = QStringLiteral("degraded");
                m_report.failureDetail = error.message.isEmpty() ? error.error : error.message;
                finish(ConnectionReport::Verdict::Degraded);
                return;
            }
            m_report.failure = ConnectionReport::Failure::NotLockstep;
            m_report.failureDetail = tr("/healthz answered HTTP %1").arg(error.httpStatus);
            finish(ConnectionReport::Verdict::Unreachable);
            return;
        }
        const QJsonObject &body = *health;
        // Every Lockstep gateway names its status, replica and stores.
        if (!body.value(u"status").isString() || !body.value(u"lockStore").isString())
        {
            m_report.failure = ConnectionReport::Failure::NotLockstep;
            m_report.failureDetail = tr("its /healthz answer is not a Lockstep one");
            finish(ConnectionReport::Verdict::Unreachable);
            return;
        }
        m_report.reachable = true;
        m_report.status = body.value(u"status").toString();
        m_report.version = body.value(u"version").toString();
        m_report.replica = body.value(u"replica").toString();
        m_report.lockStore = body.value(u"lockStore").toString();
        m_report.store = body.value(u"store").toString();
        m_report.switches = Race::GatewaySwitches::fromHealth(body);
        emit progressed(m_report);
        checkToken(false);
    }

    void ConnectionCheck::checkToken(const bool fallback)
    {
        // /api/v1/flows needs the token but not the store; a gateway older than it answers 404.
        if (!fallback)
            m_api->listFlows(m_api, [this, run = m_run](const ApiResult<QList<FlowInfo>> &flows) {
                if (run == m_run)
                    onToken(flows ? nullptr : &flows.error(), false);
            });
        else
            m_api->listWorkflows(1, m_api, [this, run = m_run](const ApiResult<QList<RunInfo>> &runs) {
                if (run == m_run)
                    onToken(runs ? nullptr : &runs.error(), true);
            });
    }

    void ConnectionCheck::onToken(const ApiError *error, const bool fallback)
    {
        if (error && (error->httpStatus == 404) && !fallback)
        {
            checkToken(true);
            return;
        }
        if (error && (error->httpStatus == 401))
        {
            m_report.tokenAccepted = false;
            m_report.tokenDetail = error->message.isEmpty() ? error->error : error->message;
            finish(ConnectionReport::Verdict::TokenRefused);
            return;
        }
        if (error)
        {
            m_report.tokenDetail = error->describe();
            finish(ConnectionReport::Verdict::TokenUnknown);
            return;
        }
        m_report.tokenAccepted = true;
        finish(m_report.switches.allOn() ? ConnectionReport::Verdict::Ok : ConnectionReport::Verdict::SwitchesOff);
    }

    void ConnectionCheck::finish(const ConnectionReport::Verdict verdict)
    {
        m_report.verdict = verdict;
        m_deadline.stop();
        ++m_run;  // an answer still in flight (after the deadline) is dropped
        // Maybe from inside a reply's own signal: the manager goes later.
        if (m_api)
            m_api->deleteLater();
        m_api.clear();
        emit finished(m_report);
    }
}  // namespace Lockstep::Ui
