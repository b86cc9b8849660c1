#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include <QHash>
#include <QList>
#include <QObject>
#include <QPair>
#include <QPointer>
#include <QString>
#include <QTimer>

#include "common/result.h"
#include "common/tokenauth.h"
#include "flows/flowlibrary.h"
#include "gateway/drive.h"
#include "gateway/gatewayconfig.h"
#include "gateway/httpapi.h"
#include "protocol/messages.h"

class QTcpSocket;
class QWebSocketServer;

namespace Lockstep
{
    class ShutdownSignals;
}
namespace Lockstep::Store
{
    class StoreWorker;
}
namespace Lockstep::Workspace
{
    class AgentDirectory;
    class WorkspaceToolRunner;
}
namespace Lockstep::Lock
{
    class LockStore;
}

namespace Lockstep::Gateway
{
    class FrontDoor;
    class HttpApi;
    class RunFeed;
    class Session;
    struct RequestHead;

    struct StartError
    {
        int exitCode = 1;  // 2: configuration (usage) error, 1: runtime (port in use, store down)
        QString message;   // one line
    };

    // The lockstep-gateway server: one port for the HTTP API and the websocket
    // endpoint /api/v1/ws, the run store, the run lock and the executions.
    //
    // A websocket session is decided by its first message:
    //  - startRequest: drive (a Drive: lock, create or CAS-resume the run,
    //    execution; see drive.h).
    //  - subscribe: observe (4404 for an unknown workflow).
    // Both get a snapshot of the chat log and then deltas (RunFeed).
    //
    // Nothing here waits for the database: every store call goes through a
    // StoreWorker (its own thread and connection), and /healthz pings the
    // store on a second one with a deadline, so a hung database costs no
    // websocket ping, no health answer and no lock heartbeat.
    class Server final : public QObject, private DriveHost
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(Server)

    public:
        explicit Server(GatewayConfig config, QObject *parent = nullptr);
        ~Server() override;

        // Opens the store, loads flows and tokens, listens. Prints where it
        // listens (and where a generated token file is) on stdout.
        Result<Ok, StartError> start();
        // The port actually listened on (after start()).
        quint16 port() const;
        // SIGTERM/SIGINT start shutdown(), SIGHUP reloadTokens() (self-pipe;
        // see ShutdownSignals).
        void watchShutdownSignals();
        // Reads --token-file again: on success the new set is what every new
        // request and connection is checked against (open sessions stay); on
        // failure the set in use stays. Both are logged (counts, never tokens).
        // false when nothing changed.
        bool reloadTokens();

        // Graceful stop: refuse new connections, close every session with 1001,
        // stop executions at their next step boundary (runs left `paused`),
        // release locks, then emit stopped(). Gives up waiting after
        // --shutdown-grace.
        void shutdown();

    signals:
        void stopped();

    private:
        void onUpgradeRequested(QTcpSocket *socket, const RequestHead &head);
        void onNewWebSocket();
        void onOpening(Session *session, const Protocol::ClientMessage &message, qint64 afterSeq);
        void onMessage(Session *session, const Protocol::ClientMessage &message);
        void onSessionEnded(Session *session);

        void beginDrive(Session *session, const Protocol::StartRequest &request, qint64 afterSeq);
        void observe(Session *session, const QString &workflowId, qint64 afterSeq);
        void stopWorkflow(Session *session, const QString &reason);
        // After a cancel went through here: stop local executions, tell subscribers.
        void runCancelled(const QString &workflowId, const QString &reason);

        // DriveHost
        bool shuttingDown() const override;
        void broadcastLockStatus(const QString &workflowId, Protocol::LockState state, const QString &holder,
                                 qint64 fence, qint64 ttlMs, Session *alsoTo) override;
        RunFeed *feedFor(const QString &workflowId) override;
        void refreshFeed(const QString &workflowId) override;
        void dropFeedIfIdle(const QString &workflowId) override;
        void driveEnded(Drive *drive) override;

        // Another process wrote this run (empty: any run, after a store reconnect).
        void onStoreChanged(const QString &workflowId);
        QJsonObject health() const;
        // /healthz: health() plus a round trip to the store and the lock store;
        // "status":"degraded" and "degraded":{part: reason} when one fails.
        void checkHealth(HttpContext::HealthDone done);
        // The store's part of /healthz: `answer` gets an empty text, the
        // store's reason, or "no answer within ..." once HealthPingBudget passed.
        void pingStore(std::function<void(const QString &problem)> answer);
        void checkShutdownDone();

        GatewayConfig m_config;
        TokenSet m_tokens;
        Flows::FlowLibrary m_flows;
        std::unique_ptr<Store::StoreWorker> m_store;
        std::unique_ptr<Store::StoreWorker> m_healthStore;  // its own connection: pings never queue behind work
        struct StorePing
        {
            bool out = false;
            QList<std::function<void(const QString &problem)>> waiting;
        } m_storePing;
        bool m_watchPingOut = false;
        // Workspace steps dial agents through these; declared after the store
        // they read, and they outlive every execution (deleted in ~Server first).
        std::unique_ptr<Workspace::AgentDirectory> m_agentDirectory;
        std::unique_ptr<Workspace::WorkspaceToolRunner> m_workspaceTools;
        std::unique_ptr<Lock::LockStore> m_lockStore;
        HttpApi *m_http = nullptr;  // owns m_door (QAbstractHttpServer::bind parents it)
        FrontDoor *m_door = nullptr;
        QWebSocketServer *m_webSockets = nullptr;
        ShutdownSignals *m_signals = nullptr;
        QList<Session *> m_sessions;
        QList<Drive *> m_drives;
        QHash<QString, RunFeed *> m_feeds;
        // TCP sockets handed to the websocket handshake, by peer address and port.
        QHash<QPair<QString, quint16>, QPointer<QTcpSocket>> m_upgrading;
        bool m_storeAnnounces = false;  // the store wakes feeds (LISTEN/NOTIFY): no polling
        bool m_shuttingDown = false;
        bool m_stopped = false;
        QTimer m_graceTimer;
        QTimer m_storeWatch;  // with m_storeAnnounces: is the LISTEN connection alive?
    };
}  // namespace Lockstep::Gateway
