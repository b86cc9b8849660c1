#pragma once

#include <functional>
#include <optional>

#include <QAbstractHttpServer>
#include <QByteArray>
#include <QJsonObject>
#include <QJsonValue>
#include <QList>
#include <QPair>
#include <QString>
#include <QStringList>

#include "common/result.h"
#include "store/runstore.h"

class QTcpSocket;

namespace Lockstep
{
    class TokenSet;
}
namespace Lockstep::Flows
{
    class FlowLibrary;
}
namespace Lockstep::Store
{
    class RunStore;
    class StoreWorker;
    struct Run;
    struct StoreError;
}

namespace Lockstep::Gateway
{
    struct GatewayConfig;

    // What the HTTP API reads and calls; the Gateway fills it in.
    struct HttpContext
    {
        Store::StoreWorker *store = nullptr;
        const Flows::FlowLibrary *flows = nullptr;
        const GatewayConfig *config = nullptr;
        const TokenSet *tokens = nullptr;
        // /healthz: {"status","replica","lockStore","store",...} through `done`
        // (now or later, on this thread).
        using HealthDone = std::function<void(const QJsonObject &health)>;
        std::function<void(HealthDone done)> health;
        // /lock: answers {"state":"held|free","holder","fence","ttlMs"}, or an
        // error text, through `done` (now or later, on this thread).
        using LockInfoDone = std::function<void(const QJsonObject &info, const QString &error)>;
        std::function<void(const QString &workflowId, LockInfoDone done)> lockInfo;
        // A run changed through the API (cancel): subscribers here hear of it now.
        std::function<void(const QString &workflowId)> runChanged;
    };

    // The JSON of a run in the HTTP API (SPEC: workflowID, status, goal, flow,
    // createdAt, lastActivityAt, completedAt, fence; plus lastSeq and reason).
    QJsonObject runToJson(const Store::Run &run);

    // The HTTP API of SPEC.md. Every answer is JSON ({"error","message"} for
    // errors) and closes the connection, so the next request passes the
    // FrontDoor's limits again. /healthz needs no token; everything under
    // /api/ needs "Authorization: Bearer <token>" and, when the request has an
    // Origin header, an allowed origin.
    class HttpApi final : public QAbstractHttpServer
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(HttpApi)

    public:
        explicit HttpApi(HttpContext context, QObject *parent = nullptr);

    protected:
        bool handleRequest(const QHttpServerRequest &request, QTcpSocket *socket) override;
        void missingHandler(const QHttpServerRequest &request, QTcpSocket *socket) override;

    private:
        struct Reply
        {
            int status = 200;
            QJsonValue body;  // an object, or an array (GET /api/v1/flows)
            QList<QPair<QByteArray, QByteArray>> headers;
        };

        // nullopt: the answer is sent later (by a callback).
        std::optional<Reply> dispatch(const QHttpServerRequest &request);
        std::optional<Reply> getHealth();
        // Runs `job` on the store's worker and sends what it answers.
        std::optional<Reply> answerFromStore(std::function<Reply(Store::RunStore &store)> job);
        std::optional<Reply> createWorkflow(const QHttpServerRequest &request);
        std::optional<Reply> listWorkflows(const QHttpServerRequest &request);
        // GET /api/v1/flows: {"flows":[{"name","description"}]}, sorted by name.
        Reply listFlows() const;
        std::optional<Reply> getWorkflow(const QString &workflowId);
        std::optional<Reply> getChat(const QString &workflowId);
        std::optional<Reply> getLock(const QString &workflowId);
        std::optional<Reply> cancelWorkflow(const QString &workflowId, const QHttpServerRequest &request);
        // /api/v1/workspaces/{workspaceID}/agent (Workspace::Routes).
        std::optional<Reply> workspaceAgent(const QHttpServerRequest &request, const QStringList &segments);

        static Reply error(int status, const QString &error, const QString &message);
        // 400 for values the store cannot keep, 503 with the store's reason otherwise.
        static Reply storeError(const Store::StoreError &failure);
        static void send(QTcpSocket *socket, const Reply &reply);
        // The run, or the answer that says why there is none (404, 400/503).
        static Result<Store::Run, Reply> findRun(Store::RunStore &store, const QString &workflowId);
        static Reply cancelReply(const QString &workflowId, const Store::StoreResult<Store::CancelResult> &result);

        HttpContext m_context;
        QTcpSocket *m_socket = nullptr;  // of the request being dispatched
    };
}  // namespace Lockstep::Gateway
