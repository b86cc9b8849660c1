#pragma once

#include <chrono>

#include <QByteArray>
#include <QObject>
#include <QString>
#include <QTimer>
#include <QUrl>

#include "agent/agentaddress.h"
#include "common/result.h"

class QNetworkAccessManager;
class QNetworkReply;

namespace Lockstep::Workspace
{
    // The gateway's workspace routes, relative to its base URL:
    //   POST   /api/v1/workspaces/{workspaceID}/agent  {"agentID","host","port","secret"}  -> 200
    //   {"workspaceID","agentID","build"}
    //          (the gateway dials host:port and checks the agent's hello proof before it accepts)
    //   DELETE /api/v1/workspaces/{workspaceID}/agent?agentID=ID                   -> 200 {"outcome":"stopped|noop"}
    QUrl agentRoute(const QUrl &gateway, const QString &workspaceId);

    // "http://127.0.0.1:8080" (a path is ignored); http or https with a host.
    Result<QUrl, QString> parseGatewayUrl(const QString &text);

    struct RegistrationOptions
    {
        QUrl gateway;
        QString workspaceId;
        AgentAddress self;
        QByteArray token;                           // Authorization: Bearer (a gateway token)
        QByteArray secret;                          // the agent's own secret, for the gateway to present
        std::chrono::milliseconds interval{30000};  // re-register (the gateway may have restarted)
        std::chrono::milliseconds requestTimeout{10000};
    };

    // The agent side of registration: tells the gateway "workspace W now runs
    // agent A at host:port" at start and every interval after, and takes the
    // agent out of the workspace's latest build when it stops. A gateway that
    // refuses (no such route, wrong token, not reachable) is reported once per
    // kind of problem and the agent keeps serving: registration is optional.
    class AgentRegistrar final : public QObject
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(AgentRegistrar)

    public:
        explicit AgentRegistrar(RegistrationOptions options, QObject *parent = nullptr);
        ~AgentRegistrar() override;

        void start();
        // Stops re-registering and sends the DELETE; deregistered() follows
        // (also on failure or after requestTimeout).
        void deregister();
        bool isRegistered() const;

    signals:
        void registered(qint64 build);
        // status: the HTTP status (0: no answer); message: one readable line.
        void refused(int status, const QString &message);
        void deregistered(bool ok);

    private:
        void registerNow();
        void onRegisterReply(QNetworkReply *reply);
        void report(int status, const QString &message);

        RegistrationOptions m_options;
        QNetworkAccessManager *m_network = nullptr;
        QTimer m_timer;
        bool m_registered = false;
        bool m_stopping = false;
        QString m_lastProblem;  // the same problem is logged once
    };
}  // namespace Lockstep::Workspace
