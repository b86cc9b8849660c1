#pragma once

#include <QByteArray>
#include <QJsonObject>
#include <QString>

namespace Lockstep::Store
{
    class RunStore;
}

// The gateway's workspace routes as plain functions over the run store, so the
// HTTP layer only maps method + path to one call and sends the reply. Paths are
// relative to the gateway's base URL; every route needs the bearer token.
//
//   POST   /api/v1/workspaces/{workspaceID}/agent   {"agentID", "host", "port"}
//          -> 200 {"workspaceID", "agentID", "host", "port", "build"}
//          host: a loopback IP address (agents listen on loopback only).
//          The workspace's latest build now runs this agent (a new agent ID
//          starts a new build; the same ID re-registering refreshes it).
//   DELETE /api/v1/workspaces/{workspaceID}/agent[?agentID=ID]
//          -> 200 {"outcome": "stopped"|"noop", "build"}
//          Stops the workspace: its latest build has no agent. With agentID,
//          only if that agent is still the current one (a late deregistration
//          of a replaced agent must not stop the rebuilt workspace).
//   GET    /api/v1/workspaces/{workspaceID}/agent
//          -> 200 {"workspaceID", "state": "running"|"stopped", "agentID", "host", "port", "build"}
//          -> 404 {"error": "not_found"} for a workspace never registered
// Errors: 400 {"error": "invalid_request", "message"}; 503 {"error": "store_unavailable", "message"}.
namespace Lockstep::Workspace::Routes
{
    struct Reply
    {
        int status = 200;
        QJsonObject body;
    };

    Reply registerAgent(Store::RunStore &store, const QString &workspaceId, const QByteArray &body);
    Reply stopWorkspace(Store::RunStore &store, const QString &workspaceId, const QString &agentId);
    Reply currentAgent(Store::RunStore &store, const QString &workspaceId);
} // namespace Lockstep::Workspace::Routes
