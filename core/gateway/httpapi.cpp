#include "httpapi.h"

#include <QHttpServerRequest>
#include <QJsonArray>
#include <QJsonDocument>
#include <QPointer>
#include <QTcpSocket>
#include <QUrl>
#include <QUrlQuery>
#include <QUuid>

#include "common/logging.h"
#include "common/tokenauth.h"
#include "flows/flowlibrary.h"
#include "gateway/frontdoor.h"
#include "gateway/gatewayconfig.h"
#include "protocol/jsonreader.h"
#include "protocol/workflowid.h"
#include "store/runstore.h"
#include "store/storeworker.h"
#include "store/workspacestore.h"
#include "workspace/workspaceroutes.h"

namespace Lockstep::Gateway
{
    namespace
    {
        constexpr int DefaultListLimit = 100;
        constexpr qsizetype MaxGoalLength = 64 * 1024;
        constexpr qsizetype MaxReasonLength = 1024;

        QString isoTime(const QDateTime &time)
        {
            return time.toUTC().toString(Qt::ISODateWithMs);
        }

        QString peerOf(const QHttpServerRequest &request)
        {
            return request.remoteAddress().toString();
        }

        QString methodName(const QHttpServerRequest::Method method)
        {
            switch (method)
            {
            case QHttpServerRequest::Method::Get: return QStringLiteral("GET");
            case QHttpServerRequest::Method::Post: return QStringLiteral("POST");
            case QHttpServerRequest::Method::Put: return QStringLiteral("PUT");
            case QHttpServerRequest::Method::Delete: return QStringLiteral("DELETE");
            case QHttpServerRequest::Method::Head: return QStringLiteral("HEAD");
            case QHttpServerRequest::Method::Options: return QStringLiteral("OPTIONS");
            case QHttpServerRequest::Method::Patch: return QStringLiteral("PATCH");
            default: return QStringLiteral("OTHER");
            }
        }
    }  // namespace

    QJsonObject runToJson(const Store::Run &run)
    {
        return QJsonObject{
            {QStringLiteral("workflowID"), run.workflowId},
            {QStringLiteral("status"), toString(run.status)},
            {QStringLiteral("goal"), run.goal},
            {QStringLiteral("flow"), run.flow},
            {QStringLiteral("createdAt"), isoTime(run.createdAt)},
            {QStringLiteral("lastActivityAt"), isoTime(run.lastActivityAt)},
            {QStringLiteral("completedAt"),
             run.completedAt ? QJsonValue(isoTime(*run.completedAt)) : QJsonValue(QJsonValue::Null)},
            {QStringLiteral("fence"), run.fence},
            {QStringLiteral("lastSeq"), run.lastSeq},
            {QStringLiteral("reason"), run.reason},
        };
    }

    HttpApi::HttpApi(HttpContext context, QObject *parent)
        : QAbstractHttpServer(parent)
        , m_context(std::move(context))
    {}

    HttpApi::Reply HttpApi::error(const int status, const QString &error, const QString &message)
    {
        return Reply{.status = status,
                     .body = QJsonObject{{QStringLiteral("error"), error}, {QStringLiteral("message"), message}}};
    }

    HttpApi::Reply HttpApi::storeError(const Store::StoreError &failure)
    {
        if (failure.kind == Store::StoreError::Kind::InvalidInput)
            return error(400, QStringLiteral("invalid_request"), failure.message);
        return error(503, QStringLiteral("store_unavailable"), failure.message);
    }

    Result<Store::Run, HttpApi::Reply> HttpApi::findRun(Store::RunStore &store, const QString &workflowId)
    {
        const auto run = store.getRun(workflowId);
        if (!run)
            return unexpected(storeError(run.error()));
        if (!run->has_value())
            return unexpected(
                error(404, QStringLiteral("not_found"), QStringLiteral("no workflow %1").arg(workflowId)));
        return **run;
    }

    std::optional<HttpApi::Reply> HttpApi::answerFromStore(std::function<Reply(Store::RunStore &store)> job)
    {
        QPointer<QTcpSocket> socket = m_socket;
        m_context.store->call(this, std::move(job), [socket](const Reply &reply) {
            if (!socket || (socket->state() != QAbstractSocket::ConnectedState))
                return;
            if (reply.status >= 400)
                qCInfo(lcGateway).noquote() << "refused" << socket->peerAddress().toString() << reply.status
                                            << reply.body[u"message"].toString();
            send(socket, reply);
        });
        return std::nullopt;
    }

    void HttpApi::send(QTcpSocket *socket, const Reply &reply)
    {
        const QJsonDocument document =
            reply.body.isArray() ? QJsonDocument(reply.body.toArray()) : QJsonDocument(reply.body.toObject());
        const QByteArray body = document.toJson(QJsonDocument::Compact);
        QByteArray response = "HTTP/1.1 " + QByteArray::number(reply.status) + ' ' +
                              FrontDoor::reasonPhrase(reply.status) + "\r\n" + "Content-Type: application/json\r\n" +
                              "Content-Length: " + QByteArray::number(body.size()) + "\r\n" +
                              "Cache-Control: no-store\r\n" + "Connection: close\r\n";
        for (const auto &[name, value] : reply.headers)
            response += name + ": " + value + "\r\n";
        response += "\r\n" + body;
        socket->write(response);
        // One request a connection: the next one passes the FrontDoor's limits.
        // Half-close and drop what still comes, so the client reads this answer.
        FrontDoor::closeAfterAnswer(socket);
    }

    bool HttpApi::handleRequest(const QHttpServerRequest &request, QTcpSocket *socket)
    {
        m_socket = socket;
        const std::optional<Reply> reply = dispatch(request);
        m_socket = nullptr;
        if (!reply)
            return true;  // answered later (a lock store call)
        if (reply->status >= 400)
        {
            qCInfo(lcGateway).noquote() << "refused" << peerOf(request) << methodName(request.method())
                                        << request.url().path(QUrl::FullyEncoded) << reply->status
                                        << reply->body[u"message"].toString();
        }
        send(socket, *reply);
        return true;
    }

    void HttpApi::missingHandler(const QHttpServerRequest &request, QTcpSocket *socket)
    {
        send(socket, error(404, QStringLiteral("not_found"),
                           QStringLiteral("no such endpoint: %1").arg(request.url().path(QUrl::FullyEncoded))));
    }

    std::optional<HttpApi::Reply> HttpApi::dispatch(const QHttpServerRequest &request)
    {
        const auto method = request.method();
        const QString path = request.url().path(QUrl::FullyEncoded);
        QStringList segments = path.split(u'/');
        if (!segments.isEmpty() && segments.constFirst().isEmpty())
            segments.removeFirst();
        if ((segments.size() > 1) && segments.constLast().isEmpty())
            segments.removeLast();  // a trailing slash

        auto onlyMethod = [&](QHttpServerRequest::Method allowed, const char *allowHeader) -> std::optional<Reply> {
            if (method == allowed)
                return std::nullopt;
            Reply reply = error(405, QStringLiteral("method_not_allowed"),
                                QStringLiteral("%1 is not allowed here; use %2")
                                    .arg(methodName(method), QString::fromLatin1(allowHeader)));
            reply.headers.append(qMakePair(QByteArray("Allow"), QByteArray(allowHeader)));
            return reply;
        };

        if (segments == QStringList{QStringLiteral("healthz")})
        {
            if (auto refused = onlyMethod(QHttpServerRequest::Method::Get, "GET"))
                return *refused;
            return getHealth();
        }

        if ((segments.size() < 3) || (segments.at(0) != u"api") || (segments.at(1) != u"v1"))
            return error(404, QStringLiteral("not_found"), QStringLiteral("no such endpoint: %1").arg(path));

        // Everything under /api/ needs a token and, from a browser, an allowed origin.
        const QByteArray token = presentedToken(request.value("authorization"), {});
        if (!m_context.tokens->accepts(token))
        {
            Reply reply = error(401, QStringLiteral("unauthorized"),
                                token.isEmpty() ? QStringLiteral("missing token") : QStringLiteral("wrong token"));
            reply.headers.append(qMakePair(QByteArray("WWW-Authenticate"), QByteArray("Bearer realm=\"lockstep\"")));
            return reply;
        }
        const QByteArray origin = request.value("origin");
        if (!origin.isEmpty() && !m_context.config->allowedOrigins.contains(normalizeOrigin(QString::fromUtf8(origin))))
            return error(403, QStringLiteral("origin_refused"), QStringLiteral("this origin is not on the allowlist"));

        if (segments.at(2) == u"ws")
            return error(426, QStringLiteral("upgrade_required"),
                         QStringLiteral("/api/v1/ws is the websocket endpoint"));
        if (segments.at(2) == u"workspaces")
            return workspaceAgent(request, segments);
        if (segments.at(2) == u"flows" && segments.size() == 3)
        {
            if (auto refused = onlyMethod(QHttpServerRequest::Method::Get, "GET"))
                return *refused;
            return listFlows();
        }
        if (segments.at(2) != u"workflows")
            return error(404, QStringLiteral("not_found"), QStringLiteral("no such endpoint: %1").arg(path));

        if (segments.size() == 3)
        {
            if (method == QHttpServerRequest::Method::Get)
                return listWorkflows(request);
            if (method == QHttpServerRequest::Method::Post)
                return createWorkflow(request);
            Reply reply = error(405, QStringLiteral("method_not_allowed"),
                                QStringLiteral("%1 is not allowed here; use GET or POST").arg(methodName(method)));
            reply.headers.append(qMakePair(QByteArray("Allow"), QByteArray("GET, POST")));
            return reply;
        }

        const QString workflowId = QUrl::fromPercentEncoding(segments.at(3).toUtf8());
        if (const QString problem = Protocol::workflowIdProblem(workflowId); !problem.isEmpty())
            return error(400, QStringLiteral("invalid_workflow_id"), QStringLiteral("workflow ID %1").arg(problem));

        if (segments.size() == 4)
        {
            if (auto refused = onlyMethod(QHttpServerRequest::Method::Get, "GET"))
                return *refused;
            return getWorkflow(workflowId);
        }
        if (segments.size() == 5)
        {
            const QString leaf = segments.at(4);
            if (leaf == u"chat")
            {
                if (auto refused = onlyMethod(QHttpServerRequest::Method::Get, "GET"))
                    return *refused;
                return getChat(workflowId);
            }
            if (leaf == u"lock")
            {
                if (auto refused = onlyMethod(QHttpServerRequest::Method::Get, "GET"))
                    return *refused;
                return getLock(workflowId);
            }
            if (leaf == u"cancel")
            {
                if (auto refused = onlyMethod(QHttpServerRequest::Method::Post, "POST"))
                    return *refused;
                return cancelWorkflow(workflowId, request);
            }
        }
        return error(404, QStringLiteral("not_found"), QStringLiteral("no such endpoint: %1").arg(path));
    }

    std::optional<HttpApi::Reply> HttpApi::workspaceAgent(const QHttpServerRequest &request,
                                                          const QStringList &segments)
    {
        // /api/v1/workspaces/{workspaceID}/agent; the routes check the ID and the body.
        if ((segments.size() != 5) || (segments.at(4) != u"agent"))
            return error(404, QStringLiteral("not_found"),
                         QStringLiteral("no such endpoint: %1").arg(request.url().path(QUrl::FullyEncoded)));
        const QString workspaceId = QUrl::fromPercentEncoding(segments.at(3).toUtf8());
        Workspace::Routes::Reply routed;
        switch (request.method())
        {
        case QHttpServerRequest::Method::Post:
        {
            auto registration = Workspace::Routes::parseRegistration(workspaceId, request.body());
            if (!registration)
            {
                routed = registration.error();
                break;
            }
            QPointer<QTcpSocket> socket = m_socket;
            Store::StoreWorker *store = m_context.store;
            const Workspace::Routes::Registration accepted = *registration;
            auto answer = [socket](const Workspace::Routes::Reply &routedReply) {
                if (socket && socket->state() == QAbstractSocket::ConnectedState)
                    send(socket, Reply{.status = routedReply.status, .body = routedReply.body});
            };
            auto storeIt = [this, store, accepted, answer] {
                store->call(
                    this,
                    [accepted](Store::RunStore &runStore) {
                        return Workspace::Routes::storeRegistration(runStore.workspaces(), accepted);
                    },
                    answer);
            };
            store->call(
                this,
                [accepted, expiry = m_context.config->agentExpiry](Store::RunStore &runStore) {
                    return Workspace::Routes::isRenewal(runStore.workspaces(), accepted, expiry);
                },
                [this, accepted, answer, storeIt](bool renewal) {
                    if (renewal)
                        return storeIt();
                    // A new registration: only an agent that answers there is accepted.
                    Workspace::Routes::verifyAgent(accepted, std::chrono::seconds(5), this,
                                                   [accepted, answer, storeIt](const QString &problem) {
                                                       if (problem.isEmpty())
                                                           storeIt();
                                                       else
                                                           answer(Workspace::Routes::unverified(accepted, problem));
                                                   });
                });
            return std::nullopt;
        }
        case QHttpServerRequest::Method::Delete:
            return answerFromStore(
                [workspaceId,
                 agentId = QUrlQuery(request.url()).queryItemValue(QStringLiteral("agentID"))](Store::RunStore &store) {
                    const auto answer = Workspace::Routes::stopWorkspace(store.workspaces(), workspaceId, agentId);
                    return Reply{.status = answer.status, .body = answer.body};
                });
        case QHttpServerRequest::Method::Get:
            return answerFromStore([workspaceId, expiry = m_context.config->agentExpiry](Store::RunStore &store) {
                const auto answer = Workspace::Routes::currentAgent(store.workspaces(), workspaceId, expiry);
                return Reply{.status = answer.status, .body = answer.body};
            });
        default:
        {
            Reply reply = error(
                405, QStringLiteral("method_not_allowed"),
                QStringLiteral("%1 is not allowed here; use GET, POST or DELETE").arg(methodName(request.method())));
            reply.headers.append(qMakePair(QByteArray("Allow"), QByteArray("GET, POST, DELETE")));
            return reply;
        }
        }
        return Reply{.status = routed.status, .body = routed.body};
    }

    std::optional<HttpApi::Reply> HttpApi::createWorkflow(const QHttpServerRequest &request)
    {
        const auto body = Protocol::parseJsonObject(request.body(), QStringLiteral("body"));
        if (!body)
            return error(400, QStringLiteral("invalid_request"), body.error().reason);
        Protocol::FieldReader reader(*body, QStringLiteral("body"));
        const QString goal = reader.string(QLatin1StringView("goal"), Protocol::Presence::Required);
        QString flow = reader.string(QLatin1StringView("flow"));
        QString workflowId = reader.string(QLatin1StringView("workflowID"));
        if (!reader.ok())
            return error(400, QStringLiteral("invalid_request"), reader.error().reason);
        if (goal.trimmed().isEmpty())
            return error(400, QStringLiteral("invalid_request"), QStringLiteral("body.goal: must not be empty"));
        if (goal.size() > MaxGoalLength)
            return error(400, QStringLiteral("invalid_request"),
                         QStringLiteral("body.goal: longer than 64 Ki characters"));
        if (flow.isEmpty())
            flow = QStringLiteral("hello");
        if (!m_context.flows->contains(flow))
            return error(400, QStringLiteral("unknown_flow"),
                         QStringLiteral("body.flow: no flow named '%1' (known: %2)")
                             .arg(Flows::Flow::isValidName(flow) ? flow : QStringLiteral("?"),
                                  m_context.flows->names().join(u", ")));
        if (workflowId.isEmpty())
            workflowId = QUuid::createUuid().toString(QUuid::WithoutBraces);
        else if (const QString problem = Protocol::workflowIdProblem(workflowId); !problem.isEmpty())
            return error(400, QStringLiteral("invalid_workflow_id"),
                         QStringLiteral("body.workflowID: %1").arg(problem));

        return answerFromStore([workflowId, goal, flow](Store::RunStore &store) {
            const auto existing = store.getRun(workflowId);
            if (!existing)
                return storeError(existing.error());
            if (existing->has_value())
                return error(409, QStringLiteral("exists"), QStringLiteral("workflow %1 exists").arg(workflowId));
            // Fence 0: no writer has held the run yet; the first drive's fence is above it.
            const auto created = store.createRun(workflowId, goal, flow, 0);
            if (!created)
            {
                // Lost a race with another creator, or the store failed.
                if (created.error().kind == Store::StoreError::Kind::Exists)
                    return error(409, QStringLiteral("exists"), QStringLiteral("workflow %1 exists").arg(workflowId));
                return storeError(created.error());
            }
            qCInfo(lcGateway).noquote() << "created workflow" << workflowId << "flow" << flow << "over HTTP";
            return Reply{.status = 201,
                         .body = QJsonObject{{QStringLiteral("workflowID"), workflowId},
                                             {QStringLiteral("status"), toString(created->status)}}};
        });
    }

    HttpApi::Reply HttpApi::listFlows() const
    {
        // In memory since start: no store call.
        QJsonArray list;
        for (const QString &name : m_context.flows->names())
        {
            const std::optional<Flows::Flow> flow = m_context.flows->find(name);
            list.append(QJsonObject{{QStringLiteral("name"), name},
                                    {QStringLiteral("description"), flow ? flow->description : QString()}});
        }
        // SPEC: a bare array of {"name","description"}.
        return Reply{.status = 200, .body = list};
    }

    std::optional<HttpApi::Reply> HttpApi::listWorkflows(const QHttpServerRequest &request)
    {
        const QUrlQuery query = request.query();
        std::optional<RunStatus> status;
        if (query.hasQueryItem(QStringLiteral("status")))
        {
            const QString text = query.queryItemValue(QStringLiteral("status"), QUrl::FullyDecoded);
            if (!text.isEmpty())
            {
                status = runStatusFromString(text);
                if (!status)
                    return error(400, QStringLiteral("invalid_request"), QStringLiteral("status: not a run status"));
            }
        }
        int limit = DefaultListLimit;
        if (query.hasQueryItem(QStringLiteral("limit")))
        {
            bool ok = false;
            limit = query.queryItemValue(QStringLiteral("limit")).toInt(&ok);
            if (!ok || (limit < 1) || (limit > 1000))
                return error(400, QStringLiteral("invalid_request"),
                             QStringLiteral("limit: a whole number from 1 to 1000"));
        }
        return answerFromStore([status, limit](Store::RunStore &store) {
            const auto runs = store.listRuns(status, limit);
            if (!runs)
                return storeError(runs.error());
            QJsonArray list;
            for (const Store::Run &run : *runs)
                list.append(runToJson(run));
            return Reply{.status = 200, .body = QJsonObject{{QStringLiteral("workflows"), list}}};
        });
    }

    std::optional<HttpApi::Reply> HttpApi::getWorkflow(const QString &workflowId)
    {
        return answerFromStore([workflowId](Store::RunStore &store) {
            const auto run = findRun(store, workflowId);
            return run ? Reply{.status = 200, .body = runToJson(*run)} : run.error();
        });
    }

    std::optional<HttpApi::Reply> HttpApi::getChat(const QString &workflowId)
    {
        return answerFromStore([workflowId](Store::RunStore &store) {
            if (const auto run = findRun(store, workflowId); !run)
                return run.error();
            const auto entries = store.entriesSince(workflowId, 0);
            if (!entries)
                return storeError(entries.error());
            QJsonArray log;
            qint64 seq = 0;
            for (const Store::StoredEntry &entry : *entries)
            {
                log.append(entry.entry);
                seq = qMax(seq, entry.seq);
            }
            return Reply{.status = 200,
                         .body = QJsonObject{{QStringLiteral("workflowID"), workflowId},
                                             {QStringLiteral("ui_chat_log"), log},
                                             {QStringLiteral("seq"), seq}}};
        });
    }

    std::optional<HttpApi::Reply> HttpApi::getHealth()
    {
        QPointer<QTcpSocket> socket = m_socket;
        // 200 even when degraded: the body names the failing part.
        m_context.health([socket](const QJsonObject &health) {
            if (socket && (socket->state() == QAbstractSocket::ConnectedState))
                send(socket, Reply{.status = 200, .body = health});
        });
        return std::nullopt;
    }

    std::optional<HttpApi::Reply> HttpApi::getLock(const QString &workflowId)
    {
        QPointer<QTcpSocket> socket = m_socket;
        m_context.lockInfo(workflowId, [socket](const QJsonObject &info, const QString &problem) {
            if (!socket || (socket->state() != QAbstractSocket::ConnectedState))
                return;
            if (!problem.isEmpty())
            {
                qCInfo(lcGateway).noquote()
                    << "refused" << socket->peerAddress().toString() << "GET lock 503" << problem;
                send(socket, error(503, QStringLiteral("lock_store_unavailable"), problem));
                return;
            }
            send(socket, Reply{.status = 200, .body = info});
        });
        return std::nullopt;
    }

    std::optional<HttpApi::Reply> HttpApi::cancelWorkflow(const QString &workflowId, const QHttpServerRequest &request)
    {
        QString reason = QStringLiteral("cancelled over HTTP");
        if (!request.body().trimmed().isEmpty())
        {
            const auto body = Protocol::parseJsonObject(request.body(), QStringLiteral("body"));
            if (!body)
                return error(400, QStringLiteral("invalid_request"), body.error().reason);
            Protocol::FieldReader reader(*body, QStringLiteral("body"));
            const QString given = reader.string(QLatin1StringView("reason"));
            if (!reader.ok())
                return error(400, QStringLiteral("invalid_request"), reader.error().reason);
            if (given.size() > MaxReasonLength)
                return error(400, QStringLiteral("invalid_request"),
                             QStringLiteral("body.reason: longer than 1024 characters"));
            if (!given.isEmpty())
                reason = given;
        }
        QPointer<QTcpSocket> socket = m_socket;
        m_context.store->call(
            this, [workflowId, reason](Store::RunStore &store) { return store.cancel(workflowId, reason); },
            [this, socket, workflowId](const Store::StoreResult<Store::CancelResult> &result) {
                // Cancelled even when the asker has gone: subscribers here hear of it.
                if (result && (result->outcome == Store::CancelOutcome::Cancelled))
                {
                    qCInfo(lcGateway).noquote() << "cancelled workflow" << workflowId << "over HTTP";
                    m_context.runChanged(workflowId);
                }
                if (socket && (socket->state() == QAbstractSocket::ConnectedState))
                    send(socket, cancelReply(workflowId, result));
            });
        return std::nullopt;
    }

    HttpApi::Reply HttpApi::cancelReply(const QString &workflowId,
                                        const Store::StoreResult<Store::CancelResult> &result)
    {
        if (!result)
            return storeError(result.error());
        switch (result->outcome)
        {
        case Store::CancelOutcome::NotFound:
            return Reply{
                .status = 404,
                .body = QJsonObject{{QStringLiteral("outcome"), QStringLiteral("not_found")},
                                    {QStringLiteral("error"), QStringLiteral("not_found")},
                                    {QStringLiteral("message"), QStringLiteral("no workflow %1").arg(workflowId)}}};
        case Store::CancelOutcome::Cancelled:
            return Reply{
                .status = 200,
                .body = QJsonObject{{QStringLiteral("outcome"), QStringLiteral("cancelled")},
                                    {QStringLiteral("status"), toString(result->status.value_or(RunStatus::Stopped))}}};
        case Store::CancelOutcome::Noop: break;
        }
        return Reply{
            .status = 200,
            .body = QJsonObject{{QStringLiteral("outcome"), QStringLiteral("noop")},
                                {QStringLiteral("status"), result->status ? toString(*result->status) : QString()}}};
    }
}  // namespace Lockstep::Gateway
