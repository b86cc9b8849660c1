#include "agentconnection.h"

#include <atomic>

#include <QJsonArray>
#include <QRandomGenerator>
#include <QTcpSocket>

#include "agent/workspacelog.h"

namespace Lockstep::Workspace
{
    namespace
    {
        std::atomic<int> liveConnections{0};
    }

    AgentConnection::AgentConnection(QObject *parent)
        : QObject(parent)
    {
        ++liveConnections;
    }

    AgentConnection::~AgentConnection()
    {
        closeSocket();
        --liveConnections;
    }

    int AgentConnection::liveCount()
    {
        return liveConnections.load();
    }

    void AgentConnection::open(const AgentAddress &address, const QByteArray &token)
    {
        if (m_socket || m_done)
        {
            qCWarning(lcWorkspace) << "AgentConnection::open called twice";
            return;
        }
        m_address = address;
        m_token = token;
        m_socket = new QTcpSocket(this);
        connect(m_socket, &QTcpSocket::connected, this, &AgentConnection::onConnected);
        connect(m_socket, &QTcpSocket::readyRead, this, &AgentConnection::onReadyRead);
        connect(m_socket, &QTcpSocket::disconnected, this,
                [this] { onSocketGone(QStringLiteral("the agent closed the connection")); });
        connect(m_socket, &QTcpSocket::errorOccurred, this, [this](const QAbstractSocket::SocketError error) {
            // A remote close is reported as an error too; disconnected() follows for it.
            if (error != QAbstractSocket::RemoteHostClosedError)
                onSocketGone(m_socket->errorString());
        });
        m_socket->connectToHost(address.host, address.port);
    }

    bool AgentConnection::isReady() const
    {
        return m_ready && !m_done;
    }

    const AgentAddress &AgentConnection::address() const
    {
        return m_address;
    }

    QString AgentConnection::agentId() const
    {
        return m_agentId;
    }

    QString AgentConnection::workspaceId() const
    {
        return m_workspaceId;
    }

    void AgentConnection::onConnected()
    {
        m_socket->setSocketOption(QAbstractSocket::LowDelayOption, 1);
        m_challenge = QByteArray::number(QRandomGenerator::system()->generate64(), 16) +
                      QByteArray::number(QRandomGenerator::system()->generate64(), 16);
        m_socket->write(Wire::encode(QJsonObject{
            {QStringLiteral("hello"), QJsonObject{{QStringLiteral("token"), QString::fromUtf8(m_token)},
                                                  {QStringLiteral("challenge"), QString::fromLatin1(m_challenge)}}}}));
    }

    void AgentConnection::onReadyRead()
    {
        if (m_done)
            return;
        if (!m_buffer.append(m_socket->readAll()))
        {
            const AgentError error{.kind = AgentError::Kind::Protocol,
                                   .message = QStringLiteral("the agent sent a line longer than the limit")};
            closeSocket();
            if (m_ready)
                failAll(error);
            else
                failOpen(error);
            return;
        }
        const QPointer<AgentConnection> self(this);
        while (self && !m_done)
        {
            const std::optional<QByteArray> line = m_buffer.takeLine();
            if (!line)
                return;
            if (line->trimmed().isEmpty())
                continue;
            auto message = Wire::decode(*line);
            if (!message)
            {
                const AgentError error{.kind = AgentError::Kind::Protocol,
                                       .message = QStringLiteral("the agent sent ") + message.error()};
                closeSocket();
                if (m_ready)
                    failAll(error);
                else
                    failOpen(error);
                return;
            }
            handle(*message);
        }
    }

    void AgentConnection::handle(const QJsonObject &message)
    {
        if (!m_ready)
        {
            if (message.value(u"error").isObject())
            {
                const QJsonObject error = message.value(u"error").toObject();
                const QString code = error.value(u"code").toString();
                closeSocket();
                failOpen(AgentError{.kind = code == Wire::Codes::Unauthorized ? AgentError::Kind::Unauthorized
                                                                              : AgentError::Kind::Protocol,
                                    .code = code,
                                    .message = QStringLiteral("the agent refused the hello: ") +
                                               error.value(u"message").toString()});
                return;
            }
            const QJsonObject hello = message.value(u"hello").toObject();
            const QString agentId = hello.value(u"agentID").toString();
            if (!message.value(u"hello").isObject() || !isValidAgentId(agentId))
            {
                closeSocket();
                failOpen(AgentError{.kind = AgentError::Kind::Protocol,
                                    .message = QStringLiteral("the agent's hello is malformed")});
                return;
            }
            if (!m_address.agentId.isEmpty() && agentId != m_address.agentId)
            {
                closeSocket();
                failOpen(AgentError{.kind = AgentError::Kind::WrongAgent,
                                    .message = QStringLiteral("agent %1 answers at %2:%3, not %4")
                                                   .arg(agentId, m_address.host.toString())
                                                   .arg(m_address.port)
                                                   .arg(m_address.agentId)});
                return;
            }
            // Whoever listens there must prove it holds the secret: a port that
            // merely answers hellos is not the agent.
            if (!Wire::sameBytes(hello.value(u"proof").toString().toLatin1(), Wire::helloProof(m_token, m_challenge)))
            {
                closeSocket();
                failOpen(AgentError{.kind = AgentError::Kind::Unauthorized,
                                    .message = QStringLiteral("%1:%2 did not prove that it holds the agent's secret")
                                                   .arg(m_address.host.toString())
                                                   .arg(m_address.port)});
                return;
            }
            m_agentId = agentId;
            m_workspaceId = hello.value(u"workspaceID").toString();
            m_ready = true;
            emit ready();
            return;
        }

        const QJsonValue idValue = message.value(u"id");
        if (!idValue.isDouble())
        {
            // An error without id answers a request the agent could not read.
            qCWarning(lcWorkspace).noquote()
                << "workspace agent" << m_address.toString()
                << "sent a message without id:" << message.value(u"error").toObject().value(u"message").toString();
            return;
        }
        const qint64 id = static_cast<qint64>(idValue.toDouble());
        if (message.value(u"error").isObject())
        {
            const QJsonObject error = message.value(u"error").toObject();
            answer(id, unexpected(AgentError{.kind = AgentError::Kind::Remote,
                                             .code = error.value(u"code").toString(),
                                             .message = error.value(u"message").toString(),
                                             .output = error.value(u"output").toString()}));
            return;
        }
        if (message.value(u"tools").isArray())
        {
            answer(id, QJsonObject{{QStringLiteral("tools"), message.value(u"tools")}});
            return;
        }
        if (message.value(u"result").isObject())
        {
            answer(id, message.value(u"result").toObject());
            return;
        }
        answer(id, unexpected(AgentError{.kind = AgentError::Kind::Protocol,
                                         .message = QStringLiteral("the agent's answer holds no result")}));
    }

    void AgentConnection::listTools(const std::chrono::milliseconds timeout, QObject *context, Reply reply)
    {
        send(QJsonObject{{QStringLiteral("listTools"), QJsonObject{}}}, timeout, context, std::move(reply));
    }

    void AgentConnection::call(const QString &tool, const QJsonObject &args, const std::chrono::milliseconds timeout,
                               QObject *context, Reply reply)
    {
        send(QJsonObject{{QStringLiteral("call"),
                          QJsonObject{{QStringLiteral("tool"), tool}, {QStringLiteral("args"), args}}}},
             timeout, context, std::move(reply));
    }

    void AgentConnection::send(QJsonObject message, const std::chrono::milliseconds timeout, QObject *context,
                               Reply reply)
    {
        const qint64 id = m_nextId++;
        if (!isReady())
        {
            // Answer on the event loop, never from inside the caller.
            QTimer::singleShot(0, context ? context : this, [reply = std::move(reply)] {
                reply(unexpected(AgentError{.kind = AgentError::Kind::Closed,
                                            .message = QStringLiteral("the connection is not open")}));
            });
            return;
        }
        message.insert(QStringLiteral("id"), id);
        auto *timer = new QTimer(this);
        timer->setSingleShot(true);
        connect(timer, &QTimer::timeout, this, [this, id, timeout] {
            answer(id,
                   unexpected(AgentError{.kind = AgentError::Kind::Timeout,
                                         .message = QStringLiteral("no answer within %1 ms").arg(timeout.count())}));
        });
        m_pending.emplace(
            id,
            Pending{.context = context, .hasContext = context != nullptr, .reply = std::move(reply), .timer = timer});
        timer->start(timeout);
        m_socket->write(Wire::encode(message));
    }

    void AgentConnection::answer(const qint64 id, const Result<QJsonObject, AgentError> &result)
    {
        const auto it = m_pending.find(id);
        if (it == m_pending.end())
            return;  // timed out already: a late answer is dropped
        Pending pending = std::move(it->second);
        m_pending.erase(it);
        pending.timer->deleteLater();
        if (pending.hasContext && !pending.context)
            return;
        pending.reply(result);
    }

    void AgentConnection::onSocketGone(const QString &why)
    {
        if (m_done)
            return;
        if (!m_ready)
        {
            failOpen(AgentError{
                .kind = m_socket->error() == QAbstractSocket::RemoteHostClosedError ? AgentError::Kind::Closed
                                                                                    : AgentError::Kind::Connect,
                .message = QStringLiteral("cannot reach workspace agent %1: %2").arg(m_address.toString(), why)});
            return;
        }
        failAll(AgentError{.kind = AgentError::Kind::Closed,
                           .message =
                               QStringLiteral("workspace agent %1 closed the connection").arg(m_address.toString())});
    }

    void AgentConnection::failOpen(AgentError error)
    {
        if (m_done)
            return;
        m_done = true;
        emit failed(error);
    }

    void AgentConnection::failAll(const AgentError &error)
    {
        if (m_done)
            return;
        m_done = true;
        std::map<qint64, Pending> pending;
        pending.swap(m_pending);
        const QPointer<AgentConnection> self(this);
        for (auto &[id, entry] : pending)
        {
            entry.timer->deleteLater();
            if (entry.hasContext && !entry.context)
                continue;
            entry.reply(unexpected(error));
            if (!self)
                return;
        }
        emit closed();
    }

    void AgentConnection::abort()
    {
        m_done = true;
        for (auto &[id, entry] : m_pending)
            entry.timer->deleteLater();
        m_pending.clear();
        closeSocket();
    }

    void AgentConnection::closeSocket()
    {
        // abort() emits disconnected() at once: detach first, so the reason
        // already decided on is the one reported.
        if (!m_socket)
            return;
        m_socket->disconnect(this);
        m_socket->abort();
    }
}  // namespace Lockstep::Workspace
