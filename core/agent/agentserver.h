#pragma once

#include <chrono>
#include <cstdint>

#include <QHostAddress>
#include <QObject>
#include <QString>
#include <QTimer>

#include "agent/agenttoken.h"
#include "agent/agenttools.h"
#include "agent/workspacefolder.h"
#include "common/result.h"

class QTcpServer;

namespace Lockstep::Workspace
{
    struct AgentServerOptions
    {
        QString agentId;
        QString workspaceId;
        AgentTokens tokens;  // accepted in the hello: the agent's secret
        ToolLimits limits;
        int maxConnections = 64;                       // more are closed at once
        int maxCommandsPerConnection = 4;              // more concurrent run_command: "busy"
        std::chrono::milliseconds helloTimeout{5000};  // no valid hello by then: closed
    };

    // The tool server of lockstep-agent (protocol in agentprotocol.h): one
    // session per TCP connection, each authenticated by its hello, tools
    // confined to the workspace folder. Runs on the event loop of its thread.
    class AgentServer final : public QObject
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(AgentServer)

    public:
        AgentServer(WorkspaceFolder folder, AgentServerOptions options, QObject *parent = nullptr);
        ~AgentServer() override;

        // Port 0: any free port (see port()).
        Result<Ok, QString> listen(const QHostAddress &address, std::uint16_t port);
        QHostAddress address() const;
        std::uint16_t port() const;
        int connectionCount() const;
        const WorkspaceFolder &folder() const;
        const AgentServerOptions &options() const;

    private:
        class Session;
        friend class Session;

        void onNewConnection();

        WorkspaceFolder m_folder;
        AgentServerOptions m_options;
        QTcpServer *m_server = nullptr;
        QTimer m_reaper;  // reaps processes adopted as subreaper (agenttools.h)
        int m_sessions = 0;
    };
}  // namespace Lockstep::Workspace
