#pragma once

#include <cstdint>
#include <memory>

#include <QByteArray>
#include <QJsonObject>
#include <QList>
#include <QObject>
#include <QString>
#include <QStringList>

#include "agent/agentaddress.h"

class QProcess;
class QTcpServer;
class QTcpSocket;

// Helpers for the workspace tests and the benchmark: a real lockstep-agent
// process (LOCKSTEP_AGENT_BIN), and a scripted in-process agent for the cases a
// real one cannot be made to produce on cue (a listTools that never answers,
// an accept that comes late).
namespace Lockstep::Test
{
    inline const QByteArray AgentTestToken = QByteArrayLiteral("agent-test-token-0123456789");

    // Writes `token` (one line, mode 0600) to `path`; false on failure.
    bool writeTokenFile(const QString &path, const QByteArray &token);

    class AgentProcess
    {
    public:
        AgentProcess();
        ~AgentProcess();  // kills the process if it still runs

        AgentProcess(const AgentProcess &) = delete;
        AgentProcess &operator=(const AgentProcess &) = delete;

        // lockstep-agent --listen 127.0.0.1:0 --workspace DIR --workspace-id WS
        // --agent-id ID --token-file FILE [--secret-file FILE, unless `extra`
        // has one] plus `extra`; waits (at most 30 s)
        // for the line that tells the port. false: see errorString().
        bool start(const QString &workspaceDir, const QString &workspaceId, const QString &agentId,
                   const QString &tokenFile, const QStringList &extra = {});
        // SIGTERM and wait; the exit code (-1: crashed or timed out).
        int terminate(int timeoutMs = 30000);
        // SIGKILL, as in a crash; waits for the exit.
        void kill();
        // SIGSTOP / SIGCONT: a frozen agent's kernel still completes TCP
        // handshakes (the listen backlog) but nothing answers the hello.
        bool freeze();
        bool thaw();

        bool isRunning() const;
        qint64 pid() const;
        std::uint16_t port() const;
        QString agentId() const;
        Workspace::AgentAddress address() const;
        QString errorString() const;
        // Everything the process wrote to stderr so far.
        QString log() const;

        static QString binary();

    private:
        std::unique_ptr<QProcess> m_process;
        QString m_agentId;
        std::uint16_t m_port = 0;
        QString m_error;
        mutable QByteArray m_stderr;
    };

    // Speaks the agent protocol from inside the test: answers the hello as
    // `agentId`, answers listTools only while answerListTools is set, and
    // answers every call with {"output": callOutput, "exitCode": 0}.
    class ScriptedAgent final : public QObject
    {
        Q_OBJECT

    public:
        explicit ScriptedAgent(const QString &agentId, QObject *parent = nullptr);
        ~ScriptedAgent() override;

        bool listen();
        Workspace::AgentAddress address() const;
        // Connections wait in the kernel's backlog while paused.
        void pauseAccepting();
        void resumeAccepting();

        bool answerListTools = true;
        QString callOutput = QStringLiteral("scripted output");
        int listToolsRequests = 0;
        int callRequests = 0;
        int accepted = 0;
        // Accepted sockets the peer has closed (read EOF or reset).
        int closedByPeer = 0;

    private:
        void onNewConnection();
        void onLine(QTcpSocket *socket, const QByteArray &line);

        QString m_agentId;
        QTcpServer *m_server = nullptr;
    };
}  // namespace Lockstep::Test
