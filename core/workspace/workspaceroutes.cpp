#include "workspaceroutes.h"

#include <QHostAddress>
#include <QJsonDocument>
#include <QJsonParseError>

#include "store/workspacestore.h"
#include <memory>

#include <QTimer>

#include "agent/agentaddress.h"
#include "agent/agentprotocol.h"
#include "agent/agenttoken.h"
#include "agent/workspacelog.h"
#include "workspace/agentconnection.h"
#include "workspace/agentdirectory.h"

namespace Lockstep::Workspace::Routes
{
    namespace
    {
        Reply invalid(const QString &message)
        {
            return Reply{.status = 400,
                         .body = {{QStringLiteral("error"), QStringLiteral("invalid_request")},
                                  {QStringLiteral("message"), message}}};
        }

        Reply unavailable(const Store::StoreError &error)
        {
            return Reply{.status = 503,
                         .body = {{QStringLiteral("error"), QStringLiteral("store_unavailable")},
                                  {QStringLiteral("message"), error.message}}};
        }

        std::optional<Reply> checkWorkspaceId(const QString &workspaceId)
        {
            if (!isValidWorkspaceId(workspaceId))
                return invalid(QStringLiteral("the workspace ID must match [A-Za-z0-9][A-Za-z0-9_.-]{0,127}"));
            return std::nullopt;
        }

        QJsonObject describe(const Store::WorkspaceAgent &workspace,
                             const std::optional<std::chrono::milliseconds> expiry = std::nullopt)
        {
            QString state = workspace.agentId.isEmpty() ? QStringLiteral("stopped") : QStringLiteral("running");
            if (!workspace.agentId.isEmpty() && expiry &&
                registrationExpired(workspace.updatedAt, *expiry, QDateTime::currentDateTimeUtc()))
                state = QStringLiteral("expired");
            QJsonObject body{{QStringLiteral("workspaceID"), workspace.workspaceId},
                             {QStringLiteral("state"), state},
                             {QStringLiteral("build"), workspace.build}};
            if (workspace.updatedAt.isValid())
                body.insert(QStringLiteral("updatedAt"), workspace.updatedAt.toString(Qt::ISODateWithMs));
            if (!workspace.agentId.isEmpty())
            {
                body.insert(QStringLiteral("agentID"), workspace.agentId);
                body.insert(QStringLiteral("host"), workspace.host);
                body.insert(QStringLiteral("port"), workspace.port);
            }
            return body;
        }
    }  // namespace

    Result<Registration, Reply> parseRegistration(const QString &workspaceId, const QByteArray &body)
    {
        if (auto bad = checkWorkspaceId(workspaceId))
            return unexpected(*bad);
        QJsonParseError parseError{};
        const QJsonDocument document = QJsonDocument::fromJson(body, &parseError);
        if (parseError.error != QJsonParseError::NoError || !document.isObject())
            return unexpected(invalid(
                QStringLiteral("the body must be a JSON object {\"agentID\", \"host\", \"port\", \"secret\"}")));
        const QJsonObject object = document.object();
        const QString agentId = object.value(u"agentID").toString();
        if (!isValidAgentId(agentId))
            return unexpected(invalid(QStringLiteral("agentID must match [A-Za-z0-9][A-Za-z0-9_.-]{0,127}")));
        const QString hostText = object.value(u"host").toString();
        const QHostAddress host(hostText);
        // Agents speak plain TCP: loopback only (the agent refuses to listen
        // anywhere else), so the gateway never dials out.
        if (host.isNull() || !host.isLoopback())
            return unexpected(
                invalid(QStringLiteral("host must be the loopback IP address the agent listens on (e.g. 127.0.0.1)")));
        const QJsonValue portValue = object.value(u"port");
        const double port = portValue.toDouble(-1);
        if (!portValue.isDouble() || port < 1 || port > 65535 || port != static_cast<double>(static_cast<int>(port)))
            return unexpected(invalid(QStringLiteral("port must be an integer from 1 to 65535")));
        const QByteArray secret = object.value(u"secret").toString().toUtf8();
        if (!AgentTokens::isValidToken(secret))
            return unexpected(invalid(
                QStringLiteral("secret must be the agent's own secret: 8 to 4096 characters of [A-Za-z0-9-._~+/=] "
                               "(an agent older than this gateway sends none: upgrade it)")));
        return Registration{.workspaceId = workspaceId,
                            .agentId = agentId,
                            .host = host,
                            .port = static_cast<int>(port),
                            .secret = secret};
    }

    Reply storeRegistration(Store::WorkspaceStore &store, const Registration &registration)
    {
        auto written =
            store.registerWorkspaceAgent(registration.workspaceId, registration.agentId, registration.host.toString(),
                                         registration.port, registration.secret);
        if (!written)
            return unavailable(written.error());
        qCInfo(lcWorkspace).noquote() << "workspace" << registration.workspaceId << "build" << written->build
                                      << "runs agent" << registration.agentId << "at" << registration.host.toString()
                                      << registration.port;
        return Reply{.status = 200, .body = describe(written.value())};
    }

    Reply registerAgent(Store::WorkspaceStore &store, const QString &workspaceId, const QByteArray &body)
    {
        auto registration = parseRegistration(workspaceId, body);
        if (!registration)
            return registration.error();
        return storeRegistration(store, *registration);
    }

    bool isRenewal(Store::WorkspaceStore &store, const Registration &registration,
                   const std::chrono::milliseconds expiry)
    {
        const auto state = store.workspaceState(registration.workspaceId);
        if (!state || !state.value())
            return false;
        const Store::WorkspaceAgent &current = *state.value();
        return current.agentId == registration.agentId && QHostAddress(current.host) == registration.host &&
               current.port == registration.port && !current.secret.isEmpty() &&
               Wire::sameBytes(current.secret, registration.secret) &&
               !registrationExpired(current.updatedAt, expiry, QDateTime::currentDateTimeUtc());
    }

    void verifyAgent(const Registration &registration, const std::chrono::milliseconds timeout, QObject *context,
                     std::function<void(const QString &problem)> done)
    {
        auto *connection = new AgentConnection(context);
        auto finished = std::make_shared<bool>(false);
        const auto finish = [connection, finished, done](const QString &problem) {
            if (*finished)
                return;
            *finished = true;
            connection->abort();
            connection->deleteLater();
            done(problem);
        };
        const QString workspaceId = registration.workspaceId;
        QObject::connect(connection, &AgentConnection::ready, connection, [connection, workspaceId, finish] {
            if (connection->workspaceId() != workspaceId)
                finish(QStringLiteral("the agent there serves workspace '%1'").arg(connection->workspaceId()));
            else
                finish(QString());
        });
        QObject::connect(connection, &AgentConnection::failed, connection,
                         [finish](const AgentError &error) { finish(error.message); });
        QTimer::singleShot(timeout, connection, [finish, timeout] {
            finish(QStringLiteral("no agent hello within %1 ms").arg(timeout.count()));
        });
        connection->open(AgentAddress{.agentId = registration.agentId,
                                      .host = registration.host,
                                      .port = static_cast<std::uint16_t>(registration.port),
                                      .secret = registration.secret},
                         registration.secret);
    }

    Reply unverified(const Registration &registration, const QString &problem)
    {
        qCWarning(lcWorkspace).noquote() << "refused the registration of agent" << registration.agentId
                                         << "of workspace" << registration.workspaceId << "at"
                                         << registration.host.toString() << registration.port << ':' << problem;
        return Reply{.status = 409,
                     .body = {{QStringLiteral("error"), QStringLiteral("agent_unverified")},
                              {QStringLiteral("message"),
                               QStringLiteral("no agent %1 of workspace %2 answers at %3:%4 (%5)")
                                   .arg(registration.agentId, registration.workspaceId, registration.host.toString())
                                   .arg(registration.port)
                                   .arg(problem)}}};
    }

    Reply stopWorkspace(Store::WorkspaceStore &store, const QString &workspaceId, const QString &agentId)
    {
        if (auto bad = checkWorkspaceId(workspaceId))
            return *bad;
        if (!agentId.isEmpty() && !isValidAgentId(agentId))
            return invalid(QStringLiteral("agentID must match [A-Za-z0-9][A-Za-z0-9_.-]{0,127}"));
        auto stopped =
            store.stopWorkspace(workspaceId, agentId.isEmpty() ? std::nullopt : std::optional<QString>(agentId));
        if (!stopped)
            return unavailable(stopped.error());
        QJsonObject reply{
            {QStringLiteral("outcome"), stopped->stopped ? QStringLiteral("stopped") : QStringLiteral("noop")}};
        if (stopped->workspace)
            reply.insert(QStringLiteral("build"), stopped->workspace->build);
        if (stopped->stopped)
            qCInfo(lcWorkspace).noquote()
                << "workspace" << workspaceId << "stopped (build" << stopped->workspace->build << ')';
        return Reply{.status = 200, .body = reply};
    }

    Reply currentAgent(Store::WorkspaceStore &store, const QString &workspaceId, const std::chrono::milliseconds expiry)
    {
        if (auto bad = checkWorkspaceId(workspaceId))
            return *bad;
        auto state = store.workspaceState(workspaceId);
        if (!state)
            return unavailable(state.error());
        if (!state.value())
            return Reply{.status = 404,
                         .body = {{QStringLiteral("error"), QStringLiteral("not_found")},
                                  {QStringLiteral("message"),
                                   QStringLiteral("workspace %1 has never registered an agent").arg(workspaceId)}}};
        return Reply{.status = 200, .body = describe(*state.value(), expiry)};
    }
}  // namespace Lockstep::Workspace::Routes
