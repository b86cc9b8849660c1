#pragma once

#include <chrono>

#include <functional>

#include <QByteArray>
#include <QHostAddress>
#include <QJsonObject>
#include <QObject>
#include <QString>

#include "common/result.h"

namespace Lockstep::Store
{
    class WorkspaceStore;
}

// The gateway's workspace routes as plain functions over the workspace store, so the
// HTTP layer only maps method + path to one call and sends the reply. Paths are
// relative to the gateway's base URL; every route needs the bearer token.
//
//   POST   /api/v1/workspaces/{workspaceID}/agent   {"agentID", "host", "port", "secret"}
//          -> 200 {"workspaceID", "agentID", "host", "port", "build"}
//          host: a loopback IP address (agents listen on loopback only).
//          secret: the agent's own credential (a token: 8..4096 characters of
//          [A-Za-z0-9-._~+/=]); the gateway presents it when dialing the agent.
//          The gateway first dials host:port and accepts only an agent that
//          answers as agentID of this workspace and proves it holds the
//          secret (verifyAgent); else 409 {"error": "agent_unverified"}.
//          A renewal (same agent, address and secret) is not dialed again.
//          The workspace's latest build now runs this agent (a new agent ID
//          starts a new build; the same ID re-registering refreshes it).
//   DELETE /api/v1/workspaces/{workspaceID}/agent[?agentID=ID]
//          -> 200 {"outcome": "stopped"|"noop", "build"}
//          Stops the workspace: its latest build has no agent. With agentID,
//          only if that agent is still the current one (a late deregistration
//          of a replaced agent must not stop the rebuilt workspace).
//   GET    /api/v1/workspaces/{workspaceID}/agent
//          -> 200 {"workspaceID", "state": "running"|"stopped"|"expired", "agentID", "host", "port", "build",
//          "updatedAt"} "expired": the agent has not renewed its registration in time.
//          -> 404 {"error": "not_found"} for a workspace never registered
// Errors: 400 {"error": "invalid_request", "message"}; 503 {"error": "store_unavailable", "message"}.
namespace Lockstep::Workspace::Routes
{
    struct Reply
    {
        int status = 200;
        QJsonObject body;
    };

    // A checked registration body.
    struct Registration
    {
        QString workspaceId;
        QString agentId;
        QHostAddress host;
        int port = 0;
        QByteArray secret;
    };
    Result<Registration, Reply> parseRegistration(const QString &workspaceId, const QByteArray &body);
    Reply storeRegistration(Store::WorkspaceStore &store, const Registration &registration);
    // parseRegistration + storeRegistration, without dialing the agent.
    Reply registerAgent(Store::WorkspaceStore &store, const QString &workspaceId, const QByteArray &body);
    // Whether the registration renews the current, unexpired registration of
    // the same agent at the same address with the same secret.
    bool isRenewal(Store::WorkspaceStore &store, const Registration &registration, std::chrono::milliseconds expiry);

    // Dials the registered address and checks that an agent answers there as
    // `agentId` of the workspace and proves it holds the secret. `done` gets
    // an empty string on success, else one readable line; once, on the
    // thread of `context`, within `timeout`.
    void verifyAgent(const Registration &registration, std::chrono::milliseconds timeout, QObject *context,
                     std::function<void(const QString &problem)> done);
    // The 409 of a registration verifyAgent refused.
    Reply unverified(const Registration &registration, const QString &problem);
    Reply stopWorkspace(Store::WorkspaceStore &store, const QString &workspaceId, const QString &agentId);
    // "state" is "expired" for a registration not renewed within `expiry`
    // (the agent crashed or hangs; dials treat it as no running agent).
    Reply currentAgent(Store::WorkspaceStore &store, const QString &workspaceId,
                       std::chrono::milliseconds expiry = std::chrono::milliseconds(65000));
}  // namespace Lockstep::Workspace::Routes
