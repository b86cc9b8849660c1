#pragma once

#include <cstdint>
#include <optional>

#include <QByteArray>
#include <QHostAddress>
#include <QString>
#include <QStringView>

namespace Lockstep::Workspace
{
    // Workspace and agent IDs: [A-Za-z0-9][A-Za-z0-9_.-]{0,127}. They appear in
    // URL paths and log lines, so nothing else is allowed.
    bool isValidWorkspaceId(QStringView id);
    bool isValidAgentId(QStringView id);

    // Where one workspace agent (a lockstep-agent process) listens.
    struct AgentAddress
    {
        QString agentId;
        QHostAddress host;
        std::uint16_t port = 0;
        // The agent's own secret, presented in the hello (empty: the dialer's
        // default token). Never printed.
        QByteArray secret;

        bool operator==(const AgentAddress &other) const;
        // "agent-1 at 127.0.0.1:4000", for logs and chat-log text.
        QString toString() const;
    };

    // What a run knows about its workspace: the workspace ID and the agent it
    // was bound to when the binding was made. The agent may be stale (stopped,
    // or replaced by a rebuild); the dialer finds out lazily.
    struct WorkspaceBinding
    {
        QString workspaceId;
        std::optional<AgentAddress> agent;  // none: look the current agent up first
    };
}  // namespace Lockstep::Workspace
