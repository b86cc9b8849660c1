#include "agentserver.h"

#include <sys/socket.h>

#include <QJsonArray>
#include <QPointer>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTimer>

#include "agent/agentprotocol.h"
#include "agent/workspacelog.h"

namespace Lockstep::Workspace
{
    // One client connection: hello first, then requests answered by id.
    class AgentServer::Session final : public QObject
    {
    public:
        Session(AgentServer &server, QTcpSocket *socket)
            : QObject(&server)
            , m_server(server)
            , m_socket(socket)
        {
            ++m_server.m_sessions;
            m_socket->setParent(this);
            m_helloTimer.setSingleShot(true);
            connect(&m_helloTimer, &QTimer::timeout, this, [this] {
                closeWith(
                    Wire::ErrorBody{.code = Wire::Codes::Unauthorized, .message = QStringLiteral("no hello in time")});
            });
            m_helloTimer.start(m_server.m_options.helloTimeout);
            // Until the hello is accepted Qt reads at most MaxHelloBytes from the
            // kernel for us; see readHello().
            m_socket->setReadBufferSize(Wire::MaxHelloBytes);
            connect(m_socket, &QTcpSocket::readyRead, this, [this] { onReadyRead(); });
            connect(m_socket, &QTcpSocket::disconnected, this, [this] { deleteLater(); });
            connect(m_socket, &QTcpSocket::errorOccurred, this, [this] {
                if (m_socket->state() == QAbstractSocket::UnconnectedState)
                    deleteLater();
            });
        }

        ~Session() override
        {
            --m_server.m_sessions;
        }

        Q_DISABLE_COPY_MOVE(Session)

    private:
        void onReadyRead()
        {
            if (m_closing)
            {
                m_socket->readAll();
                return;
            }
            if (!m_authenticated && !readHello())
                return;
            if (!m_buffer.append(m_socket->readAll()))
            {
                closeWith(Wire::ErrorBody{.code = Wire::Codes::TooLarge,
                                          .message = QStringLiteral("a line is longer than the limit")});
                return;
            }
            while (!m_closing)
            {
                const std::optional<QByteArray> line = m_buffer.takeLine();
                if (!line)
                    break;
                if (line->trimmed().isEmpty())
                    continue;
                handle(*line);
            }
        }

        // Before the hello: take lines one by one straight from the socket's
        // bounded read buffer. false: no hello accepted (yet), stop here.
        bool readHello()
        {
            while (!m_authenticated && !m_closing)
            {
                if (!m_socket->canReadLine())
                {
                    if (m_socket->bytesAvailable() >= Wire::MaxHelloBytes)
                        closeWith(Wire::ErrorBody{
                            .code = Wire::Codes::TooLarge,
                            .message = QStringLiteral("no hello within the first %1 bytes").arg(Wire::MaxHelloBytes)});
                    return false;
                }
                QByteArray line = m_socket->readLine(Wire::MaxHelloBytes + 1);
                if (line.endsWith('\n'))
                    line.chop(1);
                if (line.endsWith('\r'))
                    line.chop(1);
                if (!line.trimmed().isEmpty())
                    handle(line);
            }
            if (m_closing)
                return false;
            m_socket->setReadBufferSize(0);  // authenticated: lines up to MaxLineBytes
            return true;
        }

        void handle(const QByteArray &line)
        {
            auto message = Wire::decode(line);
            if (!message)
            {
                if (!m_authenticated)
                    closeWith(Wire::ErrorBody{.code = Wire::Codes::BadRequest, .message = message.error()});
                else
                    send(Wire::errorMessage(
                        Wire::ErrorBody{.code = Wire::Codes::BadRequest, .message = message.error()}));
                return;
            }
            if (!m_authenticated)
                handleHello(*message);
            else
                handleRequest(*message);
        }

        void handleHello(const QJsonObject &message)
        {
            const QJsonValue hello = message.value(u"hello");
            if (!hello.isObject())
            {
                closeWith(Wire::ErrorBody{.code = Wire::Codes::Unauthorized,
                                          .message = QStringLiteral("the first message must be a hello")});
                return;
            }
            const QByteArray token = hello.toObject().value(u"token").toString().toUtf8();
            const QJsonValue challenge = hello.toObject().value(u"challenge");
            if (!challenge.isUndefined() &&
                (!challenge.isString() || challenge.toString().size() > Wire::MaxChallengeBytes))
            {
                closeWith(Wire::ErrorBody{
                    .code = Wire::Codes::BadRequest,
                    .message = QStringLiteral("hello.challenge must be a string of at most %1 characters")
                                   .arg(Wire::MaxChallengeBytes)});
                return;
            }
            if (!m_server.m_options.tokens.accepts(token))
            {
                qCWarning(lcWorkspace).noquote()
                    << "refused a connection from" << m_socket->peerAddress().toString() << ": wrong or missing token";
                closeWith(Wire::ErrorBody{.code = Wire::Codes::Unauthorized,
                                          .message = QStringLiteral("wrong or missing token")});
                return;
            }
            m_authenticated = true;
            m_helloTimer.stop();
            QJsonObject answer{{QStringLiteral("agentID"), m_server.m_options.agentId},
                               {QStringLiteral("workspaceID"), m_server.m_options.workspaceId},
                               {QStringLiteral("protocol"), Wire::ProtocolVersion}};
            if (challenge.isString())
                answer.insert(QStringLiteral("proof"),
                              QString::fromLatin1(Wire::helloProof(token, challenge.toString().toUtf8())));
            send(QJsonObject{{QStringLiteral("hello"), answer}});
        }

        void handleRequest(const QJsonObject &message)
        {
            const QJsonValue idValue = message.value(u"id");
            const double rawId = idValue.toDouble(-1);
            if (!idValue.isDouble() || rawId < 1 || rawId > static_cast<double>(Wire::MaxRequestId) ||
                rawId != static_cast<double>(static_cast<qint64>(rawId)))
            {
                send(Wire::errorMessage(
                    Wire::ErrorBody{.code = Wire::Codes::BadRequest,
                                    .message = QStringLiteral("'id' must be an integer from 1 to 2^53-1")}));
                return;
            }
            const qint64 id = static_cast<qint64>(rawId);
            const bool list = message.contains(u"listTools");
            const bool call = message.contains(u"call");
            if (list == call)
            {
                replyError(id, Wire::Codes::BadRequest,
                           QStringLiteral("a request holds exactly one of 'listTools' or 'call'"));
                return;
            }
            if (list)
            {
                send(QJsonObject{{QStringLiteral("id"), id}, {QStringLiteral("tools"), Wire::toolDescriptions()}});
                return;
            }
            const QJsonValue callValue = message.value(u"call");
            if (!callValue.isObject())
            {
                replyError(id, Wire::Codes::BadRequest, QStringLiteral("'call' must be an object"));
                return;
            }
            const QJsonObject body = callValue.toObject();
            const QJsonValue toolValue = body.value(u"tool");
            const QJsonValue argsValue = body.value(u"args");
            if (!toolValue.isString())
            {
                replyError(id, Wire::Codes::BadRequest, QStringLiteral("'call.tool' must be a string"));
                return;
            }
            if (!argsValue.isUndefined() && !argsValue.isNull() && !argsValue.isObject())
            {
                replyError(id, Wire::Codes::BadRequest, QStringLiteral("'call.args' must be an object"));
                return;
            }
            const QString tool = toolValue.toString();
            const QJsonObject args = argsValue.toObject();
            qCInfo(lcWorkspace).noquote() << "call" << id << tool;
            if (tool == Wire::Tools::RunCommand)
            {
                runCommand(id, args);
                return;
            }
            reply(id, runFileTool(m_server.m_folder, tool, args));
        }

        void runCommand(const qint64 id, const QJsonObject &args)
        {
            auto spec = parseCommand(m_server.m_folder, args, m_server.m_options.limits);
            if (!spec)
            {
                reply(id, unexpected(spec.error()));
                return;
            }
            if (m_commands >= m_server.m_options.maxCommandsPerConnection)
            {
                replyError(id, Wire::Codes::Busy,
                           QStringLiteral("at most %1 commands run at once on one connection")
                               .arg(m_server.m_options.maxCommandsPerConnection));
                return;
            }
            ++m_commands;
            auto *run = new CommandRun(*spec, this);
            connect(run, &CommandRun::done, this, [this, run, id] {
                --m_commands;
                reply(id, *run->outcome());
                run->deleteLater();
            });
            run->start();
        }

        void reply(const qint64 id, const ToolResult &result)
        {
            if (!result)
            {
                send(Wire::errorMessage(result.error(), id));
                return;
            }
            send(QJsonObject{{QStringLiteral("id"), id}, {QStringLiteral("result"), result.value()}});
        }

        void replyError(const qint64 id, const QString &code, const QString &text)
        {
            send(Wire::errorMessage(Wire::ErrorBody{.code = code, .message = text}, id));
        }

        void send(const QJsonObject &message)
        {
            if (m_closing || m_socket->state() != QAbstractSocket::ConnectedState)
                return;
            m_socket->write(Wire::encode(message));
        }

        // Answers once and closes after the answer is written.
        void closeWith(const Wire::ErrorBody &error)
        {
            if (m_closing)
                return;
            send(Wire::errorMessage(error));
            m_closing = true;
            m_helloTimer.stop();
            // Half-close after the answer and drain what the peer still sends:
            // closing with unread data would send a reset, and the peer could
            // lose the answer. The session ends when the peer closes, or after
            // 5 s at the latest (a peer that never stops must not hold it).
            // Answers still queued (the peer reads slowly): let Qt close after
            // writing them, as before.
            m_socket->flush();
            m_socket->setReadBufferSize(0);
            if (m_socket->bytesToWrite() > 0 || m_socket->socketDescriptor() < 0 ||
                ::shutdown(static_cast<int>(m_socket->socketDescriptor()), SHUT_WR) != 0)
                m_socket->disconnectFromHost();
            QTimer::singleShot(5000, this, [this] { m_socket->abort(); });
        }

        AgentServer &m_server;
        QTcpSocket *m_socket;
        Wire::LineBuffer m_buffer;
        QTimer m_helloTimer;
        bool m_authenticated = false;
        bool m_closing = false;
        int m_commands = 0;
    };

    AgentServer::AgentServer(WorkspaceFolder folder, AgentServerOptions options, QObject *parent)
        : QObject(parent)
        , m_folder(std::move(folder))
        , m_options(std::move(options))
        , m_server(new QTcpServer(this))
    {
        connect(m_server, &QTcpServer::newConnection, this, &AgentServer::onNewConnection);
        // A background process of a finished command that exits on its own
        // becomes a zombie of the agent (its subreaper) until reaped here.
        m_reaper.setInterval(std::chrono::seconds(2));
        connect(&m_reaper, &QTimer::timeout, this, [] { reapAdoptedZombies(); });
        m_reaper.start();
    }

    AgentServer::~AgentServer()
    {
        // Sessions count themselves down in m_sessions: delete them while it exists.
        const QObjectList children = this->children();
        qDeleteAll(children);
    }

    Result<Ok, QString> AgentServer::listen(const QHostAddress &address, const std::uint16_t port)
    {
        if (!m_server->listen(address, port))
            return unexpected(QStringLiteral("cannot listen on %1:%2: %3")
                                  .arg(address.toString())
                                  .arg(port)
                                  .arg(m_server->errorString()));
        return Ok{};
    }

    QHostAddress AgentServer::address() const
    {
        return m_server->serverAddress();
    }

    std::uint16_t AgentServer::port() const
    {
        return m_server->serverPort();
    }

    int AgentServer::connectionCount() const
    {
        return m_sessions;
    }

    const WorkspaceFolder &AgentServer::folder() const
    {
        return m_folder;
    }

    const AgentServerOptions &AgentServer::options() const
    {
        return m_options;
    }

    void AgentServer::onNewConnection()
    {
        while (QTcpSocket *socket = m_server->nextPendingConnection())
        {
            if (m_sessions >= m_options.maxConnections)
            {
                qCWarning(lcWorkspace) << "refused a connection: already" << m_sessions << "open";
                socket->abort();
                socket->deleteLater();
                continue;
            }
            new Session(*this, socket);
        }
    }
}  // namespace Lockstep::Workspace
