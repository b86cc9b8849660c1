#include "workspaceroutes.h"

#include <QHostAddress>
#include <QJsonDocument>
#include <QJsonParseError>

#include "store/runstore.h"
#include "workspace/agentaddress.h"
#include "workspace/workspacelog.h"

namespace Lockstep::Workspace::Routes
{
    namespace
    {
        Reply invalid(const QString &message)
        {
            return Reply{.status = 400, .body = {{u"error"_qs, u"invalid_request"_qs}, {u"message"_qs, message}}};
        }

        Reply unavailable(const Store::StoreError &error)
        {
            return Reply{.status = 503, .body = {{u"error"_qs, u"store_unavailable"_qs}, {u"message"_qs, error.message}}};
        }

        std::optional<Reply> checkWorkspaceId(const QString &workspaceId)
        {
            if (!isValidWorkspaceId(workspaceId))
                return invalid(QStringLiteral("the workspace ID must match [A-Za-z0-9][A-Za-z0-9_.-]{0,127}"));
            return std::nullopt;
        }

        QJsonObject describe(const Store::WorkspaceAgent &workspace)
        {
            QJsonObject body{{u"workspaceID"_qs, workspace.workspaceId},
                             {u"state"_qs, workspace.agentId.isEmpty() ? u"stopped"_qs : u"running"_qs},
                             {u"build"_qs, workspace.build}};
            if (!workspace.agentId.isEmpty())
            {
                body.insert(u"agentID"_qs, workspace.agentId);
                body.insert(u"host"_qs, workspace.host);
                body.insert(u"port"_qs, workspace.port);
            }
            return body;
        }
    } // namespace

    Reply registerAgent(Store::RunStore &store, const QString &workspaceId, const QByteArray &body)
    {
        if (auto bad = checkWorkspaceId(workspaceId))
            return *bad;
        QJsonParseError parseError{};
        const QJsonDocument document = QJsonDocument::fromJson(body, &parseError);
        if (parseError.error != QJsonParseError::NoError || !document.isObject())
            return invalid(QStringLiteral("the body must be a JSON object {\"agentID\", \"host\", \"port\"}"));
        const QJsonObject object = document.object();
        const QString agentId = object.value(u"agentID").toString();
        if (!isValidAgentId(agentId))
            return invalid(QStringLiteral("agentID must match [A-Za-z0-9][A-Za-z0-9_.-]{0,127}"));
        const QString hostText = object.value(u"host").toString();
        const QHostAddress host(hostText);
        // Agents speak plain TCP with a bearer token: loopback only (the agent
        // refuses to listen anywhere else), so the gateway never dials out.
        if (host.isNull() || !host.isLoopback())
            return invalid(QStringLiteral("host must be the loopback IP address the agent listens on (e.g. 127.0.0.1)"));
        const QJsonValue portValue = object.value(u"port");
        const double port = portValue.toDouble(-1);
        if (!portValue.isDouble() || port < 1 || port > 65535 || port != static_cast<double>(static_cast<int>(port)))
            return invalid(QStringLiteral("port must be an integer from 1 to 65535"));

        auto written = store.registerWorkspaceAgent(workspaceId, agentId, host.toString(), static_cast<int>(port));
        if (!written)
            return unavailable(written.error());
        qCInfo(lcWorkspace).noquote() << "workspace" << workspaceId << "build" << written->build << "runs agent" << agentId
                                      << "at" << host.toString() << port;
        return Reply{.status = 200, .body = describe(written.value())};
    }

    Reply stopWorkspace(Store::RunStore &store, const QString &workspaceId, const QString &agentId)
    {
        if (auto bad = checkWorkspaceId(workspaceId))
            return *bad;
        if (!agentId.isEmpty() && !isValidAgentId(agentId))
            return invalid(QStringLiteral("agentID must match [A-Za-z0-9][A-Za-z0-9_.-]{0,127}"));
        auto stopped = store.stopWorkspace(workspaceId, agentId.isEmpty() ? std::nullopt : std::optional<QString>(agentId));
        if (!stopped)
            return unavailable(stopped.error());
        QJsonObject reply{{u"outcome"_qs, stopped->stopped ? u"stopped"_qs : u"noop"_qs}};
        if (stopped->workspace)
            reply.insert(u"build"_qs, stopped->workspace->build);
        if (stopped->stopped)
            qCInfo(lcWorkspace).noquote() << "workspace" << workspaceId << "stopped (build" << stopped->workspace->build << ')';
        return Reply{.status = 200, .body = reply};
    }

    Reply currentAgent(Store::RunStore &store, const QString &workspaceId)
    {
        if (auto bad = checkWorkspaceId(workspaceId))
            return *bad;
        auto state = store.workspaceState(workspaceId);
        if (!state)
            return unavailable(state.error());
        if (!state.value())
            return Reply{.status = 404, .body = {{u"error"_qs, u"not_found"_qs},
                                                 {u"message"_qs, QStringLiteral("workspace %1 has never registered an agent").arg(workspaceId)}}};
        return Reply{.status = 200, .body = describe(*state.value())};
    }
} // namespace Lockstep::Workspace::Routes
