#include "agentregistrar.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QUrlQuery>

#include "agent/workspacelog.h"

namespace Lockstep::Workspace
{
    QUrl agentRoute(const QUrl &gateway, const QString &workspaceId)
    {
        QUrl url = gateway;
        url.setPath(QStringLiteral("/api/v1/workspaces/") + workspaceId + QStringLiteral("/agent"));
        url.setQuery(QString());
        url.setFragment(QString());
        return url;
    }

    Result<QUrl, QString> parseGatewayUrl(const QString &text)
    {
        const QUrl url(text, QUrl::StrictMode);
        if (!url.isValid() || url.host().isEmpty())
            return unexpected(QStringLiteral("'%1' is not a URL such as http://127.0.0.1:8080").arg(text));
        if (url.scheme() != u"http" && url.scheme() != u"https")
            return unexpected(QStringLiteral("'%1': the scheme must be http or https").arg(text));
        if (!url.userInfo().isEmpty())
            return unexpected(QStringLiteral("the gateway URL must not hold credentials (use --token-file)"));
        QUrl base;
        base.setScheme(url.scheme());
        base.setHost(url.host());
        base.setPort(url.port());
        return base;
    }

    AgentRegistrar::AgentRegistrar(RegistrationOptions options, QObject *parent)
        : QObject(parent)
        , m_options(std::move(options))
        , m_network(new QNetworkAccessManager(this))
    {
        m_timer.setSingleShot(false);
        connect(&m_timer, &QTimer::timeout, this, &AgentRegistrar::registerNow);
    }

    AgentRegistrar::~AgentRegistrar() = default;

    void AgentRegistrar::start()
    {
        m_timer.start(m_options.interval);
        registerNow();
    }

    bool AgentRegistrar::isRegistered() const
    {
        return m_registered;
    }

    void AgentRegistrar::registerNow()
    {
        if (m_stopping)
            return;
        QNetworkRequest request(agentRoute(m_options.gateway, m_options.workspaceId));
        request.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
        request.setRawHeader("Authorization", "Bearer " + m_options.token);
        request.setTransferTimeout(static_cast<int>(m_options.requestTimeout.count()));
        const QJsonObject body{{QStringLiteral("agentID"), m_options.self.agentId},
                               {QStringLiteral("host"), m_options.self.host.toString()},
                               {QStringLiteral("port"), m_options.self.port},
                               {QStringLiteral("secret"), QString::fromLatin1(m_options.secret)}};
        QNetworkReply *reply = m_network->post(request, QJsonDocument(body).toJson(QJsonDocument::Compact));
        connect(reply, &QNetworkReply::finished, this, [this, reply] { onRegisterReply(reply); });
    }

    void AgentRegistrar::onRegisterReply(QNetworkReply *reply)
    {
        reply->deleteLater();
        if (m_stopping)
            return;
        const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        const QByteArray body = reply->readAll();
        if (status == 200 || status == 201)
        {
            const qint64 build = QJsonDocument::fromJson(body).object().value(u"build").toInteger(0);
            if (!m_registered || !m_lastProblem.isEmpty())
                qCInfo(lcWorkspace).noquote() << "registered with the gateway as agent" << m_options.self.agentId
                                              << "of workspace" << m_options.workspaceId << "(build" << build << ')';
            m_registered = true;
            m_lastProblem.clear();
            emit registered(build);
            return;
        }
        m_registered = false;
        const QString url = agentRoute(m_options.gateway, m_options.workspaceId).toString();
        if (status == 0)
            report(0, QStringLiteral("cannot register with the gateway at %1: %2; serving anyway, retrying every %3 s")
                          .arg(url, reply->errorString())
                          .arg(m_options.interval.count() / 1000));
        else if (status == 404 || status == 405)
            report(status,
                   QStringLiteral(
                       "the gateway at %1 has no workspace registration route (HTTP %2); serving without registration")
                       .arg(url)
                       .arg(status));
        else if (status == 401 || status == 403)
            report(status,
                   QStringLiteral("the gateway refused the agent's token (HTTP %1); check --token-file; serving anyway")
                       .arg(status));
        else
            report(status, QStringLiteral("the gateway refused the registration (HTTP %1: %2); serving anyway")
                               .arg(status)
                               .arg(QString::fromUtf8(body.left(200)).simplified()));
    }

    void AgentRegistrar::report(const int status, const QString &message)
    {
        if (message != m_lastProblem)
            qCWarning(lcWorkspace).noquote() << message;
        m_lastProblem = message;
        emit refused(status, message);
    }

    void AgentRegistrar::deregister()
    {
        m_stopping = true;
        m_timer.stop();
        QUrl url = agentRoute(m_options.gateway, m_options.workspaceId);
        QUrlQuery query;
        query.addQueryItem(QStringLiteral("agentID"), m_options.self.agentId);
        url.setQuery(query);
        QNetworkRequest request(url);
        request.setRawHeader("Authorization", "Bearer " + m_options.token);
        request.setTransferTimeout(static_cast<int>(m_options.requestTimeout.count()));
        QNetworkReply *reply = m_network->deleteResource(request);
        connect(reply, &QNetworkReply::finished, this, [this, reply] {
            reply->deleteLater();
            const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
            const bool ok = status == 200 || status == 204;
            if (!ok)
                qCWarning(lcWorkspace).noquote() << "could not take the agent out of the workspace at the gateway (HTTP"
                                                 << status << reply->errorString() << ')';
            m_registered = false;
            emit deregistered(ok);
        });
    }
}  // namespace Lockstep::Workspace
