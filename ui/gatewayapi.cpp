#include "gatewayapi.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QPointer>
#include <QSslCertificate>

#include "common/logging.h"

namespace Lockstep::Ui
{
    namespace
    {
        const QString WebSocketPath = QStringLiteral("/api/v1/ws");

        QDateTime parseTime(const QJsonValue &value)
        {
            if (!value.isString())
                return {};
            QDateTime time = QDateTime::fromString(value.toString(), Qt::ISODateWithMs);
            if (!time.isValid())
                time = QDateTime::fromString(value.toString(), Qt::ISODate);
            return time;
        }
    }  // namespace

    Result<GatewayEndpoint, QString> GatewayEndpoint::fromUrl(const QString &text)
    {
        const QUrl url(text.trimmed(), QUrl::StrictMode);
        if (text.trimmed().isEmpty())
            return unexpected(QStringLiteral("the gateway URL is empty"));
        if (!url.isValid() || url.host().isEmpty())
            return unexpected(QStringLiteral("'%1' is not a URL with a host").arg(text.trimmed()));
        const QString scheme = url.scheme().toLower();
        bool secure = false;
        if ((scheme == u"wss") || (scheme == u"https"))
            secure = true;
        else if ((scheme != u"ws") && (scheme != u"http"))
            return unexpected(QStringLiteral("'%1': the scheme must be ws, wss, http or https").arg(text.trimmed()));
        if (!url.userInfo().isEmpty())
            return unexpected(QStringLiteral("put the token in the profile's token field, not in the URL"));
        const QString path = url.path();
        if (!path.isEmpty() && (path != u"/") && (path != WebSocketPath))
            return unexpected(
                QStringLiteral("'%1': the gateway URL has no path other than %2").arg(text.trimmed(), WebSocketPath));
        if (url.hasQuery() || url.hasFragment())
            return unexpected(QStringLiteral("'%1': the gateway URL takes no query or fragment").arg(text.trimmed()));

        GatewayEndpoint endpoint;
        endpoint.httpBase.setScheme(secure ? QStringLiteral("https") : QStringLiteral("http"));
        endpoint.httpBase.setHost(url.host());
        endpoint.httpBase.setPort(url.port());
        endpoint.webSocketUrl.setScheme(secure ? QStringLiteral("wss") : QStringLiteral("ws"));
        endpoint.webSocketUrl.setHost(url.host());
        endpoint.webSocketUrl.setPort(url.port());
        endpoint.webSocketUrl.setPath(WebSocketPath);
        return endpoint;
    }

    bool GatewayEndpoint::isValid() const
    {
        return httpBase.isValid() && !httpBase.host().isEmpty();
    }

    QUrl GatewayEndpoint::apiUrl(const QString &path) const
    {
        QUrl url = httpBase;
        const qsizetype query = path.indexOf(u'?');
        if (query >= 0)
        {
            url.setPath(path.left(query), QUrl::StrictMode);
            url.setQuery(path.mid(query + 1), QUrl::StrictMode);
        }
        else
            url.setPath(path, QUrl::StrictMode);
        return url;
    }

    std::optional<RunInfo> RunInfo::fromJson(const QJsonObject &object)
    {
        RunInfo run;
        run.workflowId = object.value(QLatin1StringView("workflowID")).toString();
        if (run.workflowId.isEmpty())
            return std::nullopt;
        run.status = runStatusFromString(object.value(QLatin1StringView("status")).toString());
        run.goal = object.value(QLatin1StringView("goal")).toString();
        run.flow = object.value(QLatin1StringView("flow")).toString();
        run.createdAt = parseTime(object.value(QLatin1StringView("createdAt")));
        run.lastActivityAt = parseTime(object.value(QLatin1StringView("lastActivityAt")));
        const QDateTime completed = parseTime(object.value(QLatin1StringView("completedAt")));
        if (completed.isValid())
            run.completedAt = completed;
        run.fence = object.value(QLatin1StringView("fence")).toInteger();
        run.lastSeq = object.value(QLatin1StringView("lastSeq")).toInteger();
        run.reason = object.value(QLatin1StringView("reason")).toString();
        return run;
    }

    LockInfo LockInfo::fromJson(const QJsonObject &object)
    {
        LockInfo info;
        info.held = object.value(QLatin1StringView("state")).toString() == u"held";
        info.holder = object.value(QLatin1StringView("holder")).toString();
        info.replica = object.value(QLatin1StringView("replica")).toString();
        info.fence = object.value(QLatin1StringView("fence")).toInteger();
        info.ttlMs = object.value(QLatin1StringView("ttlMs")).toInteger();
        return info;
    }

    QString ApiError::describe() const
    {
        if (httpStatus == 0)
            return message.isEmpty() ? error : message;
        if (httpStatus == 401)
            return QStringLiteral("HTTP 401: the gateway refused the token (%1)")
                .arg(message.isEmpty() ? error : message);
        return message.isEmpty() ? QStringLiteral("HTTP %1 %2").arg(httpStatus).arg(error)
                                 : QStringLiteral("HTTP %1: %2").arg(httpStatus).arg(message);
    }

    QString encodedWorkflowId(const QString &workflowId)
    {
        return QString::fromLatin1(QUrl::toPercentEncoding(workflowId));
    }

    GatewayApi::GatewayApi(QObject *parent)
        : QObject(parent)
        , m_network(new QNetworkAccessManager(this))
    {
        m_network->setRedirectPolicy(QNetworkRequest::NoLessSafeRedirectPolicy);
    }

    GatewayApi::~GatewayApi() = default;

    void GatewayApi::setEndpoint(const GatewayEndpoint &endpoint)
    {
        m_endpoint = endpoint;
        m_ssl = sslConfiguration();
    }

    const GatewayEndpoint &GatewayApi::endpoint() const
    {
        return m_endpoint;
    }

    void GatewayApi::setTimeout(const int milliseconds)
    {
        m_timeoutMs = milliseconds;
    }

    QSslConfiguration GatewayApi::sslConfiguration() const
    {
        QSslConfiguration ssl = QSslConfiguration::defaultConfiguration();
        if (!m_endpoint.caFile.isEmpty())
        {
            const QList<QSslCertificate> extra = QSslCertificate::fromPath(m_endpoint.caFile, QSsl::Pem);
            if (extra.isEmpty())
                qCWarning(lcUi).noquote() << "no PEM certificate in CA file" << m_endpoint.caFile;
            ssl.setCaCertificates(ssl.caCertificates() + extra);
        }
        if (!m_endpoint.verifyPeer)
            ssl.setPeerVerifyMode(QSslSocket::VerifyNone);
        return ssl;
    }

    void GatewayApi::send(const QString &verb, const QString &path, const QByteArray &body, QObject *context,
                          RawDone done)
    {
        if (!m_endpoint.isValid())
        {
            QMetaObject::invokeMethod(
                context ? context : this,
                [done] {
                    done(0, {},
                         ApiError{.error = QStringLiteral("no_gateway"),
                                  .message = QStringLiteral("no gateway configured")});
                },
                Qt::QueuedConnection);
            return;
        }
        QNetworkRequest request(m_endpoint.apiUrl(path));
        request.setTransferTimeout(m_timeoutMs);
        request.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
        request.setRawHeader(QByteArrayLiteral("Accept"), QByteArrayLiteral("application/json"));
        if (!m_endpoint.token.isEmpty())
            request.setRawHeader(QByteArrayLiteral("Authorization"), "Bearer " + m_endpoint.token.toUtf8());
        if (m_endpoint.httpBase.scheme() == u"https")
            request.setSslConfiguration(m_ssl);
        QNetworkReply *reply = m_network->sendCustomRequest(request, verb.toLatin1(), body);
        QPointer<QObject> guard(context);
        const bool guarded = (context != nullptr);
        connect(reply, &QNetworkReply::finished, this, [reply, guard, guarded, done = std::move(done)] {
            reply->deleteLater();
            if (guarded && !guard)
                return;
            const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
            const QByteArray data = reply->readAll();
            const QJsonDocument document = QJsonDocument::fromJson(data);
            ApiError error;
            if (status == 0)
            {
                error.error = QStringLiteral("network");
                error.message = reply->errorString();
                error.networkError = reply->error();
            }
            done(status, document, error);
        });
    }

    namespace
    {
        ApiError httpError(const int status, const QJsonObject &body, const ApiError &network)
        {
            if (status == 0)
                return network;
            return ApiError{.httpStatus = status,
                            .error = body.value(QLatin1StringView("error")).toString(),
                            .message = body.value(QLatin1StringView("message")).toString()};
        }
    }  // namespace

    void GatewayApi::health(QObject *context, ApiCallback<QJsonObject> done)
    {
        send(QStringLiteral("GET"), QStringLiteral("/healthz"), {}, context,
             [done](const int status, const QJsonDocument &document, const ApiError &network) {
                 const QJsonObject body = document.object();
                 if (status == 200)
                     done(body);
                 else
                     done(unexpected(httpError(status, body, network)));
             });
    }

    void GatewayApi::listWorkflows(const int limit, QObject *context, ApiCallback<QList<RunInfo>> done)
    {
        send(QStringLiteral("GET"), QStringLiteral("/api/v1/workflows?limit=%1").arg(limit), {}, context,
             [done](const int status, const QJsonDocument &document, const ApiError &network) {
                 const QJsonObject body = document.object();
                 if (status != 200)
                 {
                     done(unexpected(httpError(status, body, network)));
                     return;
                 }
                 QList<RunInfo> runs;
                 const QJsonArray list = body.value(QLatin1StringView("workflows")).toArray();
                 runs.reserve(list.size());
                 for (const QJsonValue &value : list)
                 {
                     if (auto run = RunInfo::fromJson(value.toObject()))
                         runs.append(std::move(*run));
                 }
                 done(runs);
             });
    }

    void GatewayApi::listFlows(QObject *context, ApiCallback<QList<FlowInfo>> done)
    {
        send(QStringLiteral("GET"), QStringLiteral("/api/v1/flows"), {}, context,
             [done](const int status, const QJsonDocument &document, const ApiError &network) {
                 const QJsonObject body = document.object();
                 if (status != 200)
                 {
                     done(unexpected(httpError(status, body, network)));
                     return;
                 }
                 QList<FlowInfo> flows;
                 // SPEC: a bare array of {"name","description"}.
                 for (const QJsonValue &value : document.array())
                 {
                     const QJsonObject flow = value.toObject();
                     const QString name = flow.value(QLatin1StringView("name")).toString();
                     if (!name.isEmpty())
                         flows.append(FlowInfo{.name = name,
                                               .description = flow.value(QLatin1StringView("description")).toString()});
                 }
                 done(flows);
             });
    }

    void GatewayApi::getWorkflow(const QString &workflowId, QObject *context, ApiCallback<RunInfo> done)
    {
        send(QStringLiteral("GET"), QStringLiteral("/api/v1/workflows/%1").arg(encodedWorkflowId(workflowId)), {},
             context, [done](const int status, const QJsonDocument &document, const ApiError &network) {
                 const QJsonObject body = document.object();
                 if (status != 200)
                 {
                     done(unexpected(httpError(status, body, network)));
                     return;
                 }
                 auto run = RunInfo::fromJson(body);
                 if (!run)
                     done(unexpected(ApiError{.httpStatus = status,
                                              .error = QStringLiteral("bad_answer"),
                                              .message = QStringLiteral("the gateway's answer has no workflowID")}));
                 else
                     done(std::move(*run));
             });
    }

    void GatewayApi::getChat(const QString &workflowId, QObject *context, ApiCallback<ChatSnapshot> done)
    {
        send(QStringLiteral("GET"), QStringLiteral("/api/v1/workflows/%1/chat").arg(encodedWorkflowId(workflowId)), {},
             context, [done](const int status, const QJsonDocument &document, const ApiError &network) {
                 const QJsonObject body = document.object();
                 if (status != 200)
                 {
                     done(unexpected(httpError(status, body, network)));
                     return;
                 }
                 auto entries = Protocol::chatLogFromJson(body.value(QLatin1StringView("ui_chat_log")).toArray());
                 if (!entries)
                 {
                     done(unexpected(ApiError{.httpStatus = status,
                                              .error = QStringLiteral("bad_answer"),
                                              .message = entries.error().reason}));
                     return;
                 }
                 done(ChatSnapshot{.entries = std::move(*entries),
                                   .seq = body.value(QLatin1StringView("seq")).toInteger()});
             });
    }

    void GatewayApi::getLock(const QString &workflowId, QObject *context, ApiCallback<LockInfo> done)
    {
        send(QStringLiteral("GET"), QStringLiteral("/api/v1/workflows/%1/lock").arg(encodedWorkflowId(workflowId)), {},
             context, [done](const int status, const QJsonDocument &document, const ApiError &network) {
                 const QJsonObject body = document.object();
                 if (status != 200)
                     done(unexpected(httpError(status, body, network)));
                 else
                     done(LockInfo::fromJson(body));
             });
    }

    void GatewayApi::createWorkflow(const QString &goal, const QString &flow, QObject *context,
                                    ApiCallback<QString> done)
    {
        QJsonObject request{{QStringLiteral("goal"), goal}};
        if (!flow.isEmpty())
            request.insert(QStringLiteral("flow"), flow);
        send(QStringLiteral("POST"), QStringLiteral("/api/v1/workflows"),
             QJsonDocument(request).toJson(QJsonDocument::Compact), context,
             [done](const int status, const QJsonDocument &document, const ApiError &network) {
                 const QJsonObject body = document.object();
                 const QString id = body.value(QLatin1StringView("workflowID")).toString();
                 if (((status == 200) || (status == 201)) && !id.isEmpty())
                     done(id);
                 else
                     done(unexpected(httpError(status, body, network)));
             });
    }

    void GatewayApi::cancel(const QString &workflowId, QObject *context, std::function<void(ActionOutcome)> done)
    {
        const QByteArray body = QJsonDocument(QJsonObject{{QStringLiteral("reason"),
                                                           QStringLiteral("cancelled from the Lockstep console")}})
                                    .toJson(QJsonDocument::Compact);
        send(QStringLiteral("POST"), QStringLiteral("/api/v1/workflows/%1/cancel").arg(encodedWorkflowId(workflowId)),
             body, context, [done](const int status, const QJsonDocument &reply, const ApiError &network) {
                 done(outcomeFromCancelReply(status, reply.object(), network.describe()));
             });
    }
}  // namespace Lockstep::Ui
