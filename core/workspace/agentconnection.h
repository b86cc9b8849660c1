#pragma once

#include <chrono>
#include <functional>
#include <map>

#include <QByteArray>
#include <QJsonObject>
#include <QObject>
#include <QPointer>
#include <QString>
#include <QTimer>

#include "agent/agentaddress.h"
#include "agent/agentprotocol.h"
#include "common/result.h"

class QTcpSocket;

namespace Lockstep::Workspace
{
    struct AgentError
    {
        enum class Kind
        {
            Connect,       // TCP connect failed (refused, unreachable)
            Unauthorized,  // the agent refused our token
            WrongAgent,    // another agent answers at that address
            Protocol,      // the agent broke the protocol
            Closed,        // the connection closed (or was aborted) before the answer
            Timeout,       // no answer within the request's time limit
            Remote,        // the agent answered with an error (see code)
        };
        Kind kind = Kind::Connect;
        QString code;  // Remote: the agent's error code (path_escape, timed_out, ...)
        QString message;
        QString output;  // Remote timed_out: the partial output
    };

    // The client side of one connection to a workspace agent. open() connects
    // and says hello; ready() or failed() follows exactly once (unless abort()
    // comes first). After ready(), requests may overlap; each reply callback
    // runs exactly once (result, error, timeout or close), unless its context
    // object is gone or abort() was called.
    class AgentConnection final : public QObject
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(AgentConnection)

    public:
        using Reply = std::function<void(const Result<QJsonObject, AgentError> &)>;

        explicit AgentConnection(QObject *parent = nullptr);
        ~AgentConnection() override;

        // A non-empty `address.agentId` is checked against the hello: an agent
        // answering with another ID fails the open with WrongAgent (a rebuilt
        // workspace whose new agent reuses the port).
        void open(const AgentAddress &address, const QByteArray &token);
        bool isReady() const;
        const AgentAddress &address() const;
        // What the agent said in its hello.
        QString agentId() const;
        QString workspaceId() const;

        // The answer to listTools is {"tools": [...]}; to a call, the tool's result object.
        void listTools(std::chrono::milliseconds timeout, QObject *context, Reply reply);
        void call(const QString &tool, const QJsonObject &args, std::chrono::milliseconds timeout, QObject *context,
                  Reply reply);

        // Closes the socket at once (a connect in progress is cancelled, an
        // established connection reset); no signal and no reply follow.
        void abort();

        // Connections alive in this process (tests prove nothing leaks).
        static int liveCount();

    signals:
        void ready();
        void failed(const Lockstep::Workspace::AgentError &error);
        // After ready(): the connection ended (pending replies got Closed first).
        void closed();

    private:
        struct Pending
        {
            QPointer<QObject> context;
            bool hasContext = false;
            Reply reply;
            QTimer *timer = nullptr;
        };

        void onConnected();
        void onReadyRead();
        void onSocketGone(const QString &why);
        void handle(const QJsonObject &message);
        void send(QJsonObject message, std::chrono::milliseconds timeout, QObject *context, Reply reply);
        void answer(qint64 id, const Result<QJsonObject, AgentError> &result);
        void failOpen(AgentError error);
        void failAll(const AgentError &error);
        void closeSocket();

        QTcpSocket *m_socket = nullptr;
        AgentAddress m_address;
        QByteArray m_token;
        QByteArray m_challenge;  // sent in the hello; the answer must carry its proof
        Wire::LineBuffer m_buffer;
        QString m_agentId;
        QString m_workspaceId;
        bool m_ready = false;
        bool m_done = false;  // failed, closed or aborted
        qint64 m_nextId = 1;
        std::map<qint64, Pending> m_pending;
    };
}  // namespace Lockstep::Workspace
