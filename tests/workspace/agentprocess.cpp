#include "agentprocess.h"

#include <csignal>

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QEventLoop>
#include <QFile>
#include <QJsonDocument>
#include <QProcess>
#include <QRegularExpression>
#include <QTcpServer>
#include <QTcpSocket>
#include <QThread>

#include "agent/agentprotocol.h"
#include "childprocess.h"

namespace Lockstep::Test
{
    bool writeTokenFile(const QString &path, const QByteArray &token)
    {
        QFile file(path);
        if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate, QFileDevice::ReadOwner | QFileDevice::WriteOwner))
            return false;
        return file.write("# workspace test token\n" + token + "\n") > 0;
    }

    // ---- AgentProcess ----

    AgentProcess::AgentProcess() = default;

    AgentProcess::~AgentProcess()
    {
        kill();
    }

    QString AgentProcess::binary()
    {
        return qEnvironmentVariable("LOCKSTEP_AGENT_BIN");
    }

    bool AgentProcess::start(const QString &workspaceDir, const QString &workspaceId, const QString &agentId,
                             const QString &tokenFile, const QStringList &extra)
    {
        if (binary().isEmpty())
        {
            m_error = QStringLiteral("LOCKSTEP_AGENT_BIN is not set");
            return false;
        }
        kill();
        m_agentId = agentId;
        m_port = 0;
        m_stderr.clear();
        m_process = std::make_unique<QProcess>();
        prepareChild(*m_process, std::nullopt);
        QStringList arguments{QStringLiteral("--listen"),       QStringLiteral("127.0.0.1:0"),
                              QStringLiteral("--workspace"),    workspaceDir,
                              QStringLiteral("--workspace-id"), workspaceId,
                              QStringLiteral("--agent-id"),     agentId,
                              QStringLiteral("--token-file"),   tokenFile};
        // The test token file doubles as the agent's secret (what clients
        // present in the hello) unless the test gives its own.
        if (!extra.contains(QStringLiteral("--secret-file")))
            arguments += QStringList{QStringLiteral("--secret-file"), tokenFile};
        arguments += extra;
        m_process->start(binary(), arguments);
        if (!m_process->waitForStarted(30000))
        {
            m_error = QStringLiteral("cannot start %1: %2").arg(binary(), m_process->errorString());
            return false;
        }
        static const QRegularExpression listening(QStringLiteral("listening on [0-9.]+:(\\d+)"));
        QByteArray out;
        QDeadlineTimer deadline(30000);
        while (!deadline.hasExpired())
        {
            m_process->waitForReadyRead(100);
            out += m_process->readAllStandardOutput();
            m_stderr += m_process->readAllStandardError();
            const QRegularExpressionMatch match = listening.match(QString::fromUtf8(out));
            if (match.hasMatch())
            {
                m_port = static_cast<std::uint16_t>(match.captured(1).toUInt());
                return true;
            }
            if (m_process->state() == QProcess::NotRunning)
                break;
        }
        m_stderr += m_process->readAllStandardError();
        m_error = QStringLiteral("the agent did not say it listens; stdout: %1 stderr: %2")
                      .arg(QString::fromUtf8(out), QString::fromUtf8(m_stderr));
        kill();
        return false;
    }

    int AgentProcess::terminate(const int timeoutMs)
    {
        if (!isRunning())
            return -1;
        thaw();
        ::kill(static_cast<pid_t>(m_process->processId()), SIGTERM);
        if (!m_process->waitForFinished(timeoutMs))
        {
            kill();
            return -1;
        }
        m_stderr += m_process->readAllStandardError();
        return m_process->exitStatus() == QProcess::NormalExit ? m_process->exitCode() : -1;
    }

    void AgentProcess::kill()
    {
        if (!m_process || m_process->state() == QProcess::NotRunning)
            return;
        m_process->kill();
        m_process->waitForFinished(30000);
        m_stderr += m_process->readAllStandardError();
    }

    bool AgentProcess::freeze()
    {
        return isRunning() && ::kill(static_cast<pid_t>(m_process->processId()), SIGSTOP) == 0;
    }

    bool AgentProcess::thaw()
    {
        return isRunning() && ::kill(static_cast<pid_t>(m_process->processId()), SIGCONT) == 0;
    }

    bool AgentProcess::isRunning() const
    {
        return m_process && m_process->state() == QProcess::Running;
    }

    qint64 AgentProcess::pid() const
    {
        return isRunning() ? m_process->processId() : 0;
    }

    std::uint16_t AgentProcess::port() const
    {
        return m_port;
    }

    QString AgentProcess::agentId() const
    {
        return m_agentId;
    }

    Workspace::AgentAddress AgentProcess::address() const
    {
        return Workspace::AgentAddress{
            .agentId = m_agentId, .host = QHostAddress(QHostAddress::LocalHost), .port = m_port};
    }

    QString AgentProcess::errorString() const
    {
        return m_error;
    }

    QString AgentProcess::log() const
    {
        if (m_process)
            m_stderr += m_process->readAllStandardError();
        return QString::fromUtf8(m_stderr);
    }

    // ---- ScriptedAgent ----

    ScriptedAgent::ScriptedAgent(const QString &agentId, QObject *parent)
        : QObject(parent)
        , m_agentId(agentId)
        , m_server(new QTcpServer(this))
    {
        connect(m_server, &QTcpServer::newConnection, this, &ScriptedAgent::onNewConnection);
    }

    ScriptedAgent::~ScriptedAgent() = default;

    bool ScriptedAgent::listen()
    {
        return m_server->listen(QHostAddress(QHostAddress::LocalHost), 0);
    }

    Workspace::AgentAddress ScriptedAgent::address() const
    {
        return Workspace::AgentAddress{
            .agentId = m_agentId, .host = QHostAddress(QHostAddress::LocalHost), .port = m_server->serverPort()};
    }

    void ScriptedAgent::pauseAccepting()
    {
        m_server->pauseAccepting();
    }

    void ScriptedAgent::resumeAccepting()
    {
        m_server->resumeAccepting();
    }

    void ScriptedAgent::onNewConnection()
    {
        while (QTcpSocket *socket = m_server->nextPendingConnection())
        {
            ++accepted;
            socket->setParent(this);
            bool *gone = new bool(false);
            const auto peerGone = [this, socket, gone] {
                if (*gone)
                    return;
                *gone = true;
                ++closedByPeer;
                socket->deleteLater();
            };
            connect(socket, &QTcpSocket::disconnected, this, peerGone);
            connect(socket, &QTcpSocket::errorOccurred, this, peerGone);
            connect(socket, &QObject::destroyed, this, [gone] { delete gone; });
            connect(socket, &QTcpSocket::readyRead, this, [this, socket] {
                while (socket->canReadLine())
                    onLine(socket, socket->readLine().trimmed());
            });
            // A socket reset before we accepted it may already be closed.
            if (socket->state() != QAbstractSocket::ConnectedState)
                peerGone();
            else if (socket->bytesAvailable() > 0)
                QMetaObject::invokeMethod(
                    socket,
                    [this, socket] {
                        while (socket->canReadLine())
                            onLine(socket, socket->readLine().trimmed());
                    },
                    Qt::QueuedConnection);
        }
    }

    void ScriptedAgent::onLine(QTcpSocket *socket, const QByteArray &line)
    {
        if (line.isEmpty())
            return;
        const QJsonObject message = QJsonDocument::fromJson(line).object();
        if (message.contains(u"hello"))
        {
            // Accepts any token, and proves it holds it.
            const QJsonObject hello = message.value(u"hello").toObject();
            const QByteArray proof = Workspace::Wire::helloProof(hello.value(u"token").toString().toUtf8(),
                                                                 hello.value(u"challenge").toString().toUtf8());
            socket->write(Workspace::Wire::encode(QJsonObject{
                {QStringLiteral("hello"), QJsonObject{{QStringLiteral("agentID"), m_agentId},
                                                      {QStringLiteral("workspaceID"), QStringLiteral("scripted")},
                                                      {QStringLiteral("protocol"), 1},
                                                      {QStringLiteral("proof"), QString::fromLatin1(proof)}}}}));
            return;
        }
        const qint64 id = static_cast<qint64>(message.value(u"id").toDouble());
        if (message.contains(u"listTools"))
        {
            ++listToolsRequests;
            if (answerListTools)
                socket->write(Workspace::Wire::encode(QJsonObject{
                    {QStringLiteral("id"), id}, {QStringLiteral("tools"), Workspace::Wire::toolDescriptions()}}));
            return;
        }
        if (message.contains(u"call"))
        {
            ++callRequests;
            socket->write(Workspace::Wire::encode(
                QJsonObject{{QStringLiteral("id"), id},
                            {QStringLiteral("result"), QJsonObject{{QStringLiteral("output"), callOutput},
                                                                   {QStringLiteral("exitCode"), 0},
                                                                   {QStringLiteral("truncated"), false}}}}));
        }
    }
}  // namespace Lockstep::Test
