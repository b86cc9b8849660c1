#pragma once

#include <functional>
#include <optional>

#include <QDateTime>
#include <QJsonDocument>
#include <QJsonObject>
#include <QList>
#include <QObject>
#include <QSslConfiguration>
#include <QString>
#include <QUrl>

#include "common/result.h"
#include "outcome.h"
#include "protocol/chatlog.h"
#include "protocol/runstatus.h"

class QNetworkAccessManager;
class QNetworkReply;

namespace Lockstep::Ui
{
    // Where a gateway is and how to reach it. One URL serves both the HTTP API
    // and the websocket (SPEC), so a profile stores one URL and both are derived.
    struct GatewayEndpoint
    {
        QUrl webSocketUrl;  // ws[s]://host:port/api/v1/ws
        QUrl httpBase;      // http[s]://host:port
        QString token;      // bearer token; never logged
        QString caFile;     // extra trusted CA (PEM)
        bool verifyPeer = true;

        // Accepts ws://, wss://, http://, https:// with or without the
        // /api/v1/ws path. The error is one readable line.
        static Result<GatewayEndpoint, QString> fromUrl(const QString &url);
        bool isValid() const;
        QUrl apiUrl(const QString &path) const;
    };

    // A run as GET /api/v1/workflows lists it.
    struct RunInfo
    {
        QString workflowId;
        std::optional<RunStatus> status;
        QString goal;
        QString flow;
        QDateTime createdAt;
        QDateTime lastActivityAt;
        std::optional<QDateTime> completedAt;
        qint64 fence = 0;
        qint64 lastSeq = 0;
        QString reason;

        static std::optional<RunInfo> fromJson(const QJsonObject &object);
        bool operator==(const RunInfo &) const = default;
    };

    // GET /api/v1/workflows/{id}/lock.
    struct LockInfo
    {
        bool held = false;
        QString holder;  // the holding session ("replica#n")
        QString replica;
        qint64 fence = 0;
        qint64 ttlMs = 0;

        static LockInfo fromJson(const QJsonObject &object);
    };

    // A flow as GET /api/v1/flows lists it.
    struct FlowInfo
    {
        QString name;
        QString description;
    };

    struct ChatSnapshot
    {
        QList<Protocol::ChatLogEntry> entries;
        qint64 seq = 0;
    };

    struct ApiError
    {
        int httpStatus = 0;  // 0: no HTTP answer (network, TLS, timeout)
        QString error;       // the gateway's error word ("not_found"), or the network error
        QString message;
        int networkError = 0;  // QNetworkReply::NetworkError when there was no HTTP answer

        // "HTTP 401: wrong bearer token", "connection refused", ...
        QString describe() const;
    };

    template <typename T>
    using ApiResult = Result<T, ApiError>;
    template <typename T>
    using ApiCallback = std::function<void(ApiResult<T>)>;

    // The gateway's HTTP API through QNetworkAccessManager. Every call answers
    // once through its callback, unless `context` is destroyed first.
    class GatewayApi final : public QObject
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(GatewayApi)

    public:
        explicit GatewayApi(QObject *parent = nullptr);
        ~GatewayApi() override;

        void setEndpoint(const GatewayEndpoint &endpoint);
        const GatewayEndpoint &endpoint() const;
        // Per request; 10 s by default.
        void setTimeout(int milliseconds);

        void health(QObject *context, ApiCallback<QJsonObject> done);
        void listWorkflows(int limit, QObject *context, ApiCallback<QList<RunInfo>> done);
        void getWorkflow(const QString &workflowId, QObject *context, ApiCallback<RunInfo> done);
        // GET /api/v1/flows: the flows this gateway runs. A gateway older than
        // the endpoint answers 404.
        void listFlows(QObject *context, ApiCallback<QList<FlowInfo>> done);
        void getChat(const QString &workflowId, QObject *context, ApiCallback<ChatSnapshot> done);
        void getLock(const QString &workflowId, QObject *context, ApiCallback<LockInfo> done);
        // POST /api/v1/workflows; answers the new workflow ID.
        void createWorkflow(const QString &goal, const QString &flow, QObject *context, ApiCallback<QString> done);
        // POST .../cancel; always answers an outcome (Failed when the call failed).
        void cancel(const QString &workflowId, QObject *context, std::function<void(ActionOutcome)> done);

    private:
        using RawDone = std::function<void(int status, const QJsonDocument &document, const ApiError &networkError)>;
        void send(const QString &verb, const QString &path, const QByteArray &body, QObject *context, RawDone done);
        QSslConfiguration sslConfiguration() const;

        QNetworkAccessManager *m_network;
        GatewayEndpoint m_endpoint;
        QSslConfiguration m_ssl;
        int m_timeoutMs = 10000;
    };

    // The path segment of a workflow ID (IDs are [A-Za-z0-9._:-], but encode anyway).
    QString encodedWorkflowId(const QString &workflowId);
}  // namespace Lockstep::Ui
