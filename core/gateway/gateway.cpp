#include "gateway.h"

#include <cstdio>
#include <utility>

#include <QCoreApplication>
#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QSslCertificate>
#include <QSslConfiguration>
#include <QSslKey>
#include <QTcpSocket>
#include <QWebSocket>
#include <QWebSocketServer>

#include "agent/agentaddress.h"
#include "common/logging.h"
#include "common/privatefiles.h"
#include "common/shutdownsignals.h"
#include "flows/execution.h"
#include "gateway/frameguard.h"
#include "gateway/frontdoor.h"
#include "gateway/httpapi.h"
#include "gateway/runfeed.h"
#include "gateway/session.h"
#include "lock/lockstore.h"
#include "lock/memorylockstore.h"
#include "lock/runlock.h"
#include "protocol/closecode.h"
#include "protocol/workflowid.h"
#include "store/runstore.h"
#include "store/storeworker.h"
#include "store/workspacestore.h"
#include "workspace/agentdirectory.h"
#include "workspace/toolrunner.h"

namespace Lockstep::Gateway
{
    namespace
    {
        const QString WebSocketPath = QStringLiteral("/api/v1/ws");
        const QString DefaultFlow = QStringLiteral("hello");
        // /healthz waits this long for the store's answer to SELECT 1; a store
        // slower than that is reported degraded, not waited for.
        constexpr std::chrono::milliseconds HealthPingBudget{80};

        qint64 nowMs()
        {
            return QDateTime::currentMSecsSinceEpoch();
        }

        void printLine(const QString &line)
        {
            fprintf(stdout, "%s\n", qPrintable(line));
            fflush(stdout);
        }

        Result<QSslConfiguration, QString> loadTls(const QString &certFile, const QString &keyFile)
        {
            const QList<QSslCertificate> chain = QSslCertificate::fromPath(certFile, QSsl::Pem);
            if (chain.isEmpty())
                return unexpected(QStringLiteral("--tls-cert: no PEM certificate in %1").arg(certFile));
            QFile file(keyFile);
            if (!file.open(QIODevice::ReadOnly))
                return unexpected(QStringLiteral("--tls-key: cannot read %1").arg(keyFile));
            const QByteArray pem = file.readAll();
            QSslKey key;
            for (const QSsl::KeyAlgorithm algorithm : {QSsl::Ec, QSsl::Rsa})
            {
                key = QSslKey(pem, algorithm, QSsl::Pem, QSsl::PrivateKey);
                if (!key.isNull())
                    break;
            }
            if (key.isNull())
                return unexpected(QStringLiteral("--tls-key: no unencrypted EC or RSA private key in %1").arg(keyFile));
            QSslConfiguration configuration = QSslConfiguration::defaultConfiguration();
            configuration.setLocalCertificateChain(chain);
            configuration.setPrivateKey(key);
            configuration.setPeerVerifyMode(QSslSocket::VerifyNone);
            configuration.setProtocol(QSsl::TlsV1_2OrLater);
            return configuration;
        }

        // SPEC: a store failure closes 1011 with the store's reason (never SQL text).
        QString storeCloseReason(const Store::StoreError &error)
        {
            if (error.kind == Store::StoreError::Kind::InvalidInput)
                return QStringLiteral("invalid request: ") + error.shortText();
            return QStringLiteral("store unavailable: ") + error.shortText();
        }

        QString describeHolder(const Lock::LockHolder &holder)
        {
            if (holder.parsed)
                return holder.session.isEmpty() ? holder.replica : holder.session;
            return QString::fromUtf8(holder.value).left(200);
        }
    }  // namespace

    // One startRequest being served: the session that sent it, its lock and its
    // execution. It lives until both the session and the execution have ended
    // and the lock is released.
    class Drive final : public QObject
    {
    public:
        Drive(Session *session, Protocol::StartRequest request, const qint64 afterSeq, QObject *parent)
            : QObject(parent)
            , session(session)
            , request(std::move(request))
            , afterSeq(afterSeq)
            , workflowId(this->request.workflowID)
        {}

        QPointer<Session> session;
        Protocol::StartRequest request;
        qint64 afterSeq = 0;
        QString workflowId;
        Lock::RunLock *lock = nullptr;          // child; null when the lock is off or unavailable (fail-open)
        Flows::Execution *execution = nullptr;  // child; null until started
        qint64 fence = 0;
        std::optional<QString> newGoal;   // the user message this drive adds (none: a plain resume)
        std::optional<Flows::Flow> flow;  // the run's flow, once known
        bool sessionEnded = false;
        bool executionEnded = false;
        bool lockSettled = true;    // false while a lock is held or being released
        bool lostReported = false;  // lockStatus `lost` went out (once per drive)
        int storeCalls = 0;         // store calls out for this drive (it waits for them)
        bool done = false;

        bool executionRunning() const
        {
            return execution && !executionEnded;
        }
    };

    // What one trip to the store decided for a drive (runs on the StoreWorker).
    struct ResumeAttempt
    {
        std::optional<Store::StoreError> storeError;
        std::optional<std::pair<CloseCode, QString>> refusal;  // answered before the resume
        qint64 fence = 0;                                      // the fence the resume used
        std::optional<QString> newGoal;
        Store::ResumeResult resumed;
        std::optional<Store::RunWorkspace> workspace;  // remembered with the run, after a resume
    };

    namespace
    {
        struct ResumeInput
        {
            QString workflowId;
            QString goal;
            QString flow;  // for a new run
            bool flowKnown = false;
            qint64 fence = 0;
            bool takeFence = false;  // no lock: the store's counter is the fence
            qint64 fenceAbove = 0;
            std::optional<Flows::ApprovalDecision> approval;
        };

        // startRequest.approval: {"decision":"approved|rejected","requestID":"<the request entry's message_id>"}.
        // An absent or empty object is no approval; anything else malformed is a problem (4400).
        Result<std::optional<Flows::ApprovalDecision>, QString> readApproval(const Protocol::StartRequest &request)
        {
            if (!request.approval || request.approval->isEmpty())
                return std::optional<Flows::ApprovalDecision>{};
            const QJsonObject &approval = *request.approval;
            const QString decision = approval.value(u"decision").toString();
            if (decision != u"approved" && decision != u"rejected")
                return unexpected(
                    QStringLiteral("startRequest.approval.decision: must be \"approved\" or \"rejected\""));
            const QString requestId = approval.value(u"requestID").toString();
            if (!Protocol::isValidWorkflowId(requestId))
                return unexpected(
                    QStringLiteral("startRequest.approval.requestID: must be the message_id of the request entry"));
            if (!request.goal.isEmpty())
                return unexpected(QStringLiteral(
                    "startRequest.approval: send it with an empty goal (it answers the pending request)"));
            return std::optional<Flows::ApprovalDecision>{
                Flows::ApprovalDecision{.approved = decision == u"approved", .requestId = requestId}};
        }

        // The approval of a request that passed readApproval() (beginDrive refuses the others).
        std::optional<Flows::ApprovalDecision> approvalOf(const Protocol::StartRequest &request)
        {
            auto approval = readApproval(request);
            return approval ? *approval : std::nullopt;
        }

        bool waitsForApproval(const RunStatus status)
        {
            return status == RunStatus::PlanApprovalRequired || status == RunStatus::ToolCallApprovalRequired;
        }

        // An approval answers the run's pending request, or it is refused (4400):
        // the run must wait for an approval and its latest request must be the one named.
        std::optional<QString> approvalProblem(Store::RunStore &store, const Store::Run &run,
                                               const Flows::ApprovalDecision &approval,
                                               std::optional<Store::StoreError> &failure)
        {
            if (!waitsForApproval(run.status))
                return QStringLiteral("not waiting for approval (status: %1)").arg(toString(run.status));
            const auto entries = store.entriesSince(run.workflowId, 0);
            if (!entries)
            {
                failure = entries.error();
                return std::nullopt;
            }
            QString pending;
            for (const Store::StoredEntry &stored : *entries)
            {
                if (stored.entry.value(u"message_type").toString() == u"request")
                    pending = stored.entry.value(u"message_id").toString();
            }
            if (pending != approval.requestId)
                return QStringLiteral("approval for request %1, but the pending request is %2")
                    .arg(approval.requestId, pending.isEmpty() ? QStringLiteral("none") : pending);
            return std::nullopt;
        }

        void resumeIn(Store::RunStore &store, const QString &workflowId, ResumeAttempt &attempt)
        {
            auto resumed = store.resume(workflowId, attempt.fence, attempt.newGoal);
            if (!resumed)
            {
                attempt.storeError = resumed.error();
                return;
            }
            attempt.resumed = *resumed;
            if (resumed->outcome != Store::ResumeOutcome::Resumed)
                return;
            // A hint for the workspace steps: not worth failing the drive over.
            if (auto remembered = store.workspaces().runWorkspace(workflowId))
                attempt.workspace = *remembered;
            else
                qCWarning(lcGateway).noquote()
                    << "workflow" << workflowId
                    << ": its workspace binding could not be read:" << remembered.error().message;
        }

        // Look the run up (create it when new), then CAS-resume it.
        ResumeAttempt prepareAndResume(Store::RunStore &store, const ResumeInput &input)
        {
            ResumeAttempt attempt;
            attempt.fence = input.fence;
            if (input.takeFence)
            {
                const auto fence = store.nextFence(input.fenceAbove);
                if (!fence)
                {
                    attempt.storeError = fence.error();
                    return attempt;
                }
                attempt.fence = *fence;
            }
            auto existing = store.getRun(input.workflowId);
            if (!existing)
            {
                attempt.storeError = existing.error();
                return attempt;
            }
            std::optional<Store::Run> run = *existing;
            if (!run)
            {
                if (input.goal.isEmpty())
                {
                    attempt.refusal = {CloseCode::NotFound, QStringLiteral("workflow not found")};
                    return attempt;
                }
                if (!input.flowKnown)
                {
                    attempt.refusal = {
                        CloseCode::InvalidRequest,
                        QStringLiteral("startRequest.workflowMetadata.flow: no flow named '%1'")
                            .arg(Flows::Flow::isValidName(input.flow) ? input.flow : QStringLiteral("?"))};
                    return attempt;
                }
                auto created = store.createRun(input.workflowId, input.goal, input.flow, attempt.fence);
                if (created)
                {
                    run = *created;
                }
                else
                {
                    // Another session created it a moment ago (no lock): our goal is its next message.
                    if (created.error().kind != Store::StoreError::Kind::Exists)
                    {
                        attempt.storeError = created.error();
                        return attempt;
                    }
                    existing = store.getRun(input.workflowId);
                    if (!existing)
                    {
                        attempt.storeError = existing.error();
                        return attempt;
                    }
                    if (!existing->has_value())
                    {
                        attempt.refusal = {CloseCode::NotFound, QStringLiteral("workflow not found")};
                        return attempt;
                    }
                    run = *existing;
                    attempt.newGoal = input.goal;
                }
            }
            else if (!input.goal.isEmpty())
            {
                attempt.newGoal = input.goal;
            }
            else if (input.approval)
            {
                std::optional<Store::StoreError> failure;
                const std::optional<QString> problem = approvalProblem(store, *run, *input.approval, failure);
                if (failure)
                {
                    attempt.storeError = failure;
                    return attempt;
                }
                if (problem)
                {
                    attempt.refusal = {CloseCode::InvalidRequest, *problem};
                    return attempt;
                }
            }
            resumeIn(store, input.workflowId, attempt);
            return attempt;
        }
    }  // namespace

    Server::Server(GatewayConfig config, QObject *parent)
        : QObject(parent)
        , m_config(std::move(config))
    {
        m_graceTimer.setSingleShot(true);
        connect(&m_graceTimer, &QTimer::timeout, this, [this] {
            qCWarning(lcGateway) << "shutdown grace period over;" << m_drives.size()
                                 << "executions did not stop in time (their runs stay `running` until --stale-after)";
            m_stopped = true;
            emit stopped();
        });
    }

    Server::~Server()
    {
        // Executions, sessions and feeds (also those waiting for deleteLater)
        // go before the stores they use; members are destroyed before children.
        for (Drive *drive : std::as_const(m_drives))
        {
            if (drive->execution)
                drive->execution->disconnect(this);
        }
        m_drives.clear();
        for (Session *session : std::as_const(m_sessions))
            session->disconnect(this);
        m_sessions.clear();
        m_feeds.clear();
        const QObjectList children = this->children();
        for (QObject *child : children)
        {
            if ((child != m_webSockets) && (child != m_signals))
                delete child;
        }
        delete m_http;
        m_http = nullptr;
    }

    quint16 Server::port() const
    {
        return m_door ? m_door->serverPort() : 0;
    }

    void Server::watchShutdownSignals()
    {
        if (m_signals)
            return;
        m_signals = new ShutdownSignals(this);
        connect(m_signals, &ShutdownSignals::received, this, [this](const int number) {
            if (m_shuttingDown)
            {
                qCWarning(lcGateway) << "second signal" << number << ": stopping now";
                m_stopped = true;
                emit stopped();
                return;
            }
            qCInfo(lcGateway) << "signal" << number << ": shutting down";
            shutdown();
        });
    }

    Result<Ok, StartError> Server::start()
    {
        auto usage = [](const QString &message) { return unexpected(StartError{.exitCode = 2, .message = message}); };
        auto runtime = [](const QString &message) { return unexpected(StartError{.exitCode = 1, .message = message}); };

        // Tokens first: without a token file only loopback is served.
        QString generatedTokenPath;
        if (!m_config.tokenFile.isEmpty())
        {
            auto tokens = TokenSet::loadFile(m_config.tokenFile);
            if (!tokens)
                return usage(u"--token-file: " + tokens.error());
            m_tokens = *tokens;
        }
        else
        {
            if (!m_config.listenAddress.isLoopback())
                return usage(
                    QStringLiteral(
                        "--listen: refusing to listen on %1 without --token-file (only loopback is served with a generated token)")
                        .arg(m_config.listenAddress.toString()));
            auto tokens = TokenSet::ensureGenerated(m_config.dataDir, &generatedTokenPath);
            if (!tokens)
                return runtime(tokens.error());
            m_tokens = *tokens;
        }

        std::optional<QSslConfiguration> tls;
        if (m_config.tlsEnabled())
        {
            auto loaded = loadTls(m_config.tlsCertFile, m_config.tlsKeyFile);
            if (!loaded)
                return usage(loaded.error());
            tls = *loaded;
        }

        m_flows = Flows::FlowLibrary::load(m_config.flowsDir);
        for (const QString &problem : m_flows.errorMessages())
            qCWarning(lcGateway).noquote() << "flow skipped:" << problem;
        if (!m_flows.contains(DefaultFlow))
            return runtime(QStringLiteral("the default flow '%1' is missing").arg(DefaultFlow));

        QString storeSpec = m_config.storeSpec;
        if (storeSpec.isEmpty())
        {
            if (!PrivateFiles::makePath(m_config.dataDir))
                return runtime(QStringLiteral("cannot create data folder %1").arg(m_config.dataDir));
            storeSpec = u"sqlite:" + QDir(m_config.dataDir).filePath(QStringLiteral("gateway.db"));
        }
        Store::StoreOptions storeOptions;
        storeOptions.staleAfter = m_config.staleAfter;
        storeOptions.casGuards = m_config.casGuards;
        const auto opener = [storeSpec, storeOptions] { return Store::RunStore::open(storeSpec, storeOptions); };
        auto store = Store::StoreWorker::start(opener, QStringLiteral("store"));
        if (!store)
            return runtime(u"--store: " + store.error().message);
        m_store = std::move(*store);
        auto healthStore = Store::StoreWorker::start(opener, QStringLiteral("store-health"));
        if (!healthStore)
            return runtime(u"--store: " + healthStore.error().message);
        m_healthStore = std::move(*healthStore);
        // PostgreSQL announces other replicas' writes: feeds wake on them instead of polling.
        m_storeAnnounces =
            m_store->watchChanges(this, [this](const QString &workflowId) { onStoreChanged(workflowId); });
        if (m_storeAnnounces)
        {
            // A LISTEN connection that died unnoticed would leave subscribers
            // here deaf: while anyone listens, one ping now and then finds out
            // (and the reconnect listens again and refreshes every feed).
            m_storeWatch.setInterval(std::chrono::seconds(5));
            connect(&m_storeWatch, &QTimer::timeout, this, [this] {
                if (m_feeds.isEmpty() || std::exchange(m_watchPingOut, true))
                    return;
                m_store->call(
                    this, [](Store::RunStore &runStore) { return runStore.ping(); },
                    [this](const Store::StoreResult<Ok> &) { m_watchPingOut = false; });
            });
            m_storeWatch.start();
        }

        // Workspace agents: the gateway presents each agent's registered secret
        // when it dials it, never one of its own tokens (dial.token stays empty).
        Workspace::ToolRunnerOptions workspaceOptions;  // defaults: dial delay 5 s, dial timeout 30 s, discovery 5 s
        m_agentDirectory = std::make_unique<Workspace::StoreAgentDirectory>(*m_store, m_config.agentExpiry);
        m_workspaceTools = std::make_unique<Workspace::WorkspaceToolRunner>(*m_agentDirectory, workspaceOptions);

        Lock::LockOptions lockOptions;
        lockOptions.ttl = m_config.lockTtl;
        lockOptions.replicaId = m_config.replicaId;
        auto lockStore = Lock::createLockStore(m_config.redisUrl, lockOptions);
        if (!lockStore)
            return usage(u"--redis: " + lockStore.error().message);
        m_lockStore = std::move(*lockStore);

        HttpContext context;
        context.store = m_store.get();
        context.flows = &m_flows;
        context.config = &m_config;
        context.tokens = &m_tokens;
        context.health = [this](HttpContext::HealthDone done) { checkHealth(std::move(done)); };
        context.lockInfo = [this](const QString &workflowId, HttpContext::LockInfoDone done) {
            m_lockStore->peek(workflowId, this, [done](Lock::LockResult<Lock::LockSnapshot> result) {
                if (!result)
                {
                    done({}, QStringLiteral("lock store unavailable: %1").arg(result.error().message));
                    return;
                }
                const Lock::LockSnapshot &snapshot = *result;
                const qint64 fence = snapshot.holder.fence;
                done(
                    QJsonObject{
                        {QStringLiteral("state"), snapshot.held ? QStringLiteral("held") : QStringLiteral("free")},
                        {QStringLiteral("holder"), snapshot.held ? describeHolder(snapshot.holder) : QString()},
                        {QStringLiteral("replica"), snapshot.held ? snapshot.holder.replica : QString()},
                        {QStringLiteral("fence"), snapshot.held ? fence : 0},
                        {QStringLiteral("ttlMs"), snapshot.held ? snapshot.ttlMs : 0},
                    },
                    {});
            });
        };
        context.runChanged = [this](const QString &workflowId) {
            runCancelled(workflowId, QStringLiteral("cancelled over HTTP"));
        };
        m_http = new HttpApi(std::move(context));

        m_webSockets = new QWebSocketServer(QStringLiteral("lockstep-gateway"), QWebSocketServer::NonSecureMode, this);
        m_webSockets->setSupportedSubprotocols({Subprotocol});
        m_webSockets->setMaxPendingConnections(100000);
        connect(m_webSockets, &QWebSocketServer::newConnection, this, &Server::onNewWebSocket);

        FrontDoor::Options doorOptions;
        doorOptions.tls = tls;
        doorOptions.maxConnections = m_config.maxConnections;
        doorOptions.maxBodyBytes = m_config.maxBodyBytes;
        doorOptions.tokens = &m_tokens;
        m_door = new FrontDoor(doorOptions);
        connect(m_door, &FrontDoor::upgradeRequested, this, &Server::onUpgradeRequested);
        if (!m_door->listen(m_config.listenAddress, m_config.listenPort))
        {
            const QString problem = m_door->errorString();
            delete m_door;
            m_door = nullptr;
            return runtime(QStringLiteral("--listen: cannot listen on %1:%2: %3")
                               .arg(m_config.listenAddress.toString())
                               .arg(m_config.listenPort)
                               .arg(problem));
        }
        m_http->bind(m_door);

        const QString host = (m_config.listenAddress.protocol() == QAbstractSocket::IPv6Protocol)
                                 ? u'[' + m_config.listenAddress.toString() + u']'
                                 : m_config.listenAddress.toString();
        const QString scheme = m_config.tlsEnabled() ? QStringLiteral("https") : QStringLiteral("http");
        qCInfo(lcGateway).noquote() << "replica" << m_config.replicaId << "store" << m_store->kind() << "lock store"
                                    << m_lockStore->kind() << (m_config.lockConcurrentFlows ? "" : "(lock OFF)")
                                    << (m_config.casGuards ? "" : "(CAS guards OFF)") << "flows"
                                    << m_flows.names().join(u',');
        if (!generatedTokenPath.isEmpty())
            printLine(QStringLiteral("lockstep-gateway: token file %1").arg(generatedTokenPath));
        printLine(QStringLiteral("lockstep-gateway: listening on %1://%2:%3").arg(scheme, host).arg(port()));
        return Ok{};
    }

    QJsonObject Server::health() const
    {
        QJsonObject health{
            {QStringLiteral("status"), m_shuttingDown ? QStringLiteral("shutting_down") : QStringLiteral("ok")},
            {QStringLiteral("replica"), m_config.replicaId},
            {QStringLiteral("lockStore"), m_lockStore->kind()},
            {QStringLiteral("store"), m_store->kind()},
            {QStringLiteral("lockEnabled"), m_config.lockConcurrentFlows},
            {QStringLiteral("casGuards"), m_config.casGuards},
            {QStringLiteral("fencing"), m_config.fencing},
            // How subscribers here learn of other replicas' writes.
            {QStringLiteral("feedUpdates"), m_storeAnnounces ? QStringLiteral("notify") : QStringLiteral("poll")},
            {QStringLiteral("version"), QCoreApplication::applicationVersion()},
            // Live counters, read-only, for leak checks: all return to 0 when idle.
            {QStringLiteral("sessions"), m_sessions.size()},
            {QStringLiteral("drives"), m_drives.size()},
            {QStringLiteral("feeds"), m_feeds.size()},
            {QStringLiteral("liveLocks"), Lock::RunLock::liveHeartbeats()},
        };
        // The in-process store can say how many keys it holds (Redis: SCAN).
        if (auto *memory = qobject_cast<Lock::MemoryLockStore *>(m_lockStore.get()))
            health.insert(QStringLiteral("heldLocks"), memory->size());
        return health;
    }

    void Server::checkHealth(HttpContext::HealthDone done)
    {
        // Both parts are asked now: a health check that trusts old answers lies.
        struct Check
        {
            QJsonObject failing;
            int waiting = 2;
            HttpContext::HealthDone done;
        };
        auto check = std::make_shared<Check>();
        check->done = std::move(done);
        auto answered = [this, check] {
            if (--check->waiting > 0)
                return;
            QJsonObject answer = health();
            if (!check->failing.isEmpty())
            {
                if (!m_shuttingDown)
                    answer.insert(QStringLiteral("status"), QStringLiteral("degraded"));
                answer.insert(QStringLiteral("degraded"), check->failing);
            }
            check->done(answer);
        };
        pingStore([check, answered](const QString &problem) {
            if (!problem.isEmpty())
                check->failing.insert(QStringLiteral("store"), problem);
            answered();
        });
        m_lockStore->ping(this, [check, answered](Lock::LockResult<Ok> pong) {
            if (!pong)
                check->failing.insert(QStringLiteral("lockStore"), pong.error().message);
            answered();
        });
    }

    void Server::pingStore(std::function<void(const QString &problem)> answer)
    {
        // Each asker hears once: the store's answer, or the budget running out.
        auto once = std::make_shared<std::function<void(const QString &)>>(std::move(answer));
        auto reply = [once](const QString &problem) {
            if (auto pending = std::exchange(*once, {}))
                pending(problem);
        };
        // Its own worker runs nothing but these pings: how long it has been busy is how long the ping waits.
        const qint64 waitedMs = m_storePing.out ? m_healthStore->busyFor().count() : 0;
        if (waitedMs >= HealthPingBudget.count())
        {
            // A ping already out past the budget: a hung store is not asked again.
            reply(QStringLiteral("no answer for %1 ms").arg(waitedMs));
            return;
        }
        m_storePing.waiting.append(reply);
        QTimer::singleShot(HealthPingBudget - std::chrono::milliseconds(waitedMs), this,
                           [reply] { reply(QStringLiteral("no answer within %1 ms").arg(HealthPingBudget.count())); });
        if (m_storePing.out)
            return;
        m_storePing.out = true;
        m_healthStore->call(
            this, [](Store::RunStore &store) { return store.ping(); },
            [this](const Store::StoreResult<Ok> &pinged) {
                m_storePing.out = false;
                const QString problem = pinged ? QString() : pinged.error().shortText();
                const auto waiting = std::exchange(m_storePing.waiting, {});
                for (const auto &waiter : waiting)
                    waiter(problem);
            });
    }

    QString Server::sessionLockId(const Session *session) const
    {
        return m_config.replicaId + u'#' + QString::number(session->id());
    }

    // ---- connections ----

    void Server::onUpgradeRequested(QTcpSocket *socket, const RequestHead &head)
    {
        const QString peer = socket->peerAddress().toString();
        auto refuse = [&](int status, const QString &error, const QString &message) {
            qCInfo(lcGateway).noquote() << "refused websocket from" << peer << status << message;
            FrontDoor::respond(socket, status, error, message);
        };
        if (m_shuttingDown)
            return refuse(503, QStringLiteral("shutting_down"), QStringLiteral("the gateway is shutting down"));
        if (head.path != WebSocketPath.toLatin1())
            return refuse(404, QStringLiteral("not_found"),
                          QStringLiteral("the websocket endpoint is %1").arg(WebSocketPath));
        if (head.method != "GET")
            return refuse(400, QStringLiteral("bad_request"), QStringLiteral("a websocket upgrade is a GET"));
        if (head.value("sec-websocket-key").isEmpty())
            return refuse(400, QStringLiteral("bad_request"), QStringLiteral("Sec-WebSocket-Key is missing"));
        if (head.value("sec-websocket-version").trimmed() != "13")
            return refuse(426, QStringLiteral("upgrade_required"),
                          QStringLiteral("only websocket version 13 is served"));
        const QByteArray token = presentedToken(head.value("authorization"), head.value("sec-websocket-protocol"));
        if (!m_tokens.accepts(token))
            return refuse(401, QStringLiteral("unauthorized"),
                          token.isEmpty() ? QStringLiteral("missing token") : QStringLiteral("wrong token"));
        if (head.has("origin") &&
            !m_config.allowedOrigins.contains(normalizeOrigin(QString::fromUtf8(head.value("origin")))))
            return refuse(403, QStringLiteral("origin_refused"), QStringLiteral("this origin is not on the allowlist"));
        // RFC 6455 4.1: frames come after the 101 (and only then does the FrameGuard follow them).
        if (socket->bytesAvailable() > head.size)
            return refuse(400, QStringLiteral("bad_request"),
                          QStringLiteral("send websocket frames only after the 101 response"));

        // QWebSocketServer does the handshake (and echoes lockstep.v1 when offered).
        // It does not take the TCP socket over: remember it, so the session
        // that gets it can delete it, and drop it if the handshake fails.
        const auto key = qMakePair(socket->peerAddress().toString(), socket->peerPort());
        m_upgrading.insert(key, socket);
        connect(socket, &QTcpSocket::disconnected, this, [this, key, socket] {
            if (m_upgrading.value(key) == socket)
            {
                m_upgrading.remove(key);
                socket->deleteLater();
            }
        });
        // Connected to readyRead before QWebSocketServer and QWebSocket (see frameguard.h).
        new FrameGuard(socket, head.size, m_config.maxMessageBytes);
        m_webSockets->handleConnection(socket);
        emit socket->readyRead();
    }

    void Server::onNewWebSocket()
    {
        while (m_webSockets->hasPendingConnections())
        {
            QWebSocket *raw = m_webSockets->nextPendingConnection();
            if (!raw)
                break;
            raw->setParent(nullptr);
            const QPointer<QTcpSocket> transport =
                m_upgrading.take(qMakePair(raw->peerAddress().toString(), raw->peerPort()));
            Session::Limits limits;
            limits.maxMessageBytes = m_config.maxMessageBytes;
            limits.maxMessagesPerSecond = m_config.maxMessagesPerSecond;
            auto *session = new Session(std::unique_ptr<QWebSocket>(raw), transport, limits, this);
            m_sessions.append(session);
            connect(session, &Session::opening, this, &Server::onOpening);
            connect(session, &Session::message, this, &Server::onMessage);
            connect(session, &Session::ended, this, &Server::onSessionEnded);
            qCDebug(lcGateway).noquote() << "session" << session->id() << "from" << session->peer();
            if (m_shuttingDown)
                session->closeWith(quint16(CloseCode::GoingAway), QStringLiteral("gateway shutting down"));
        }
    }

    void Server::onOpening(Session *session, const Protocol::ClientMessage &message, const qint64 afterSeq)
    {
        if (m_shuttingDown)
        {
            session->closeWith(quint16(CloseCode::GoingAway), QStringLiteral("gateway shutting down"));
            return;
        }
        if (const auto *start = std::get_if<Protocol::StartRequest>(&message))
            beginDrive(session, *start, afterSeq);
        else if (const auto *subscribe = std::get_if<Protocol::Subscribe>(&message))
            observe(session, subscribe->workflowID, afterSeq);
    }

    void Server::onMessage(Session *session, const Protocol::ClientMessage &message)
    {
        if (const auto *stop = std::get_if<Protocol::StopWorkflow>(&message))
        {
            stopWorkflow(session, stop->reason);
            return;
        }
        if (std::holds_alternative<Protocol::Heartbeat>(message))
            return;  // keeps nothing alive by itself: the websocket does
        if (std::holds_alternative<Protocol::ActionResponse>(message))
        {
            // A request ends the turn and its driving session with it, so there is no
            // live session to answer on: approvals come as startRequest.approval
            // (see README). An actionResponse changes nothing.
            qCDebug(lcGateway) << "session" << session->id() << "actionResponse ignored (use startRequest.approval)";
        }
    }

    void Server::onSessionEnded(Session *session)
    {
        m_sessions.removeAll(session);
        const QString workflowId = session->workflowId();
        if (RunFeed *feed = m_feeds.value(workflowId))
            feed->removeListener(session);
        for (Drive *drive : std::as_const(m_drives))
        {
            if (drive->session != session)
                continue;
            drive->sessionEnded = true;
            if (drive->executionRunning())
                drive->execution->requestStop(Flows::StopCause::ClientGone);
            if (drive->lock)
                drive->lock->relinquish(QStringLiteral("websocket"));
            driveDone(drive);
            break;
        }
        session->deleteLater();
        if (!workflowId.isEmpty())
            dropFeedIfIdle(workflowId);
        checkShutdownDone();
    }

    // ---- driving ----

    void Server::beginDrive(Session *session, const Protocol::StartRequest &request, const qint64 afterSeq)
    {
        // The flow only matters for a new run; check its shape now, before any lock.
        const QJsonValue flowValue = request.workflowMetadata.value(u"flow");
        if (!flowValue.isUndefined() && !flowValue.isNull() && !flowValue.isString())
        {
            session->closeWith(quint16(CloseCode::InvalidRequest),
                               QStringLiteral("startRequest.workflowMetadata.flow: must be a string"));
            return;
        }
        // The workspace the run's workspace steps use (optional): checked before any lock too.
        const QJsonValue workspaceValue = request.workflowMetadata.value(u"workspaceID");
        if (!workspaceValue.isUndefined() && !workspaceValue.isNull() &&
            (!workspaceValue.isString() || !Workspace::isValidWorkspaceId(workspaceValue.toString())))
        {
            session->closeWith(quint16(CloseCode::InvalidRequest),
                               QStringLiteral("startRequest.workflowMetadata.workspaceID: must be a string of "
                                              "[A-Za-z0-9][A-Za-z0-9_.-]{0,127}"));
            return;
        }
        // An approval's shape is checked before any lock too; whether the run waits for it, after.
        if (const auto approval = readApproval(request); !approval)
        {
            session->closeWith(quint16(CloseCode::InvalidRequest), approval.error());
            return;
        }
        session->setRole(Session::Role::Driver, request.workflowID, request.wantsIncrementalStreaming());
        auto *drive = new Drive(session, request, afterSeq, this);
        m_drives.append(drive);

        if (!m_config.lockConcurrentFlows)
        {
            proceed(drive);
            return;
        }
        // The lock comes before any store write: a held lock closes 1013 having written nothing.
        drive->lock = new Lock::RunLock(m_lockStore.get(), drive);
        drive->lock->setTtl(m_config.lockTtl);
        drive->lockSettled = false;
        drive->lock->retain(QStringLiteral("websocket"));
        connect(drive->lock, &Lock::RunLock::acquired, this, [this, drive] { onLockAcquired(drive); });
        connect(drive->lock, &Lock::RunLock::held, this,
                [this, drive](const Lock::LockHolder &holder, qint64) { onLockHeld(drive, holder); });
        connect(drive->lock, &Lock::RunLock::failed, this,
                [this, drive](const Lock::LockError &error) { onLockFailed(drive, error); });
        connect(drive->lock, &Lock::RunLock::lost, this,
                [this, drive](const QString &reason) { onLockLost(drive, reason); });
        connect(drive->lock, &Lock::RunLock::refreshed, this, [this, drive](const qint64 ttlLeftMs) {
            broadcastLockStatus(drive->workflowId, Protocol::LockState::Refreshed, drive->lock->sessionId(),
                                drive->fence, ttlLeftMs);
        });
        connect(drive->lock, &Lock::RunLock::released, this, [this, drive](bool) {
            broadcastLockStatus(drive->workflowId, Protocol::LockState::Released, drive->lock->sessionId(),
                                drive->fence, 0);
            drive->lockSettled = true;
            driveDone(drive);
        });
        drive->lock->acquire(drive->workflowId, sessionLockId(session));
    }

    void Server::onLockAcquired(Drive *drive)
    {
        if (drive->sessionEnded || !drive->session || m_shuttingDown)
        {
            drive->lock->release();
            return;
        }
        // The lock store's fence; when the run already carries a higher one (an
        // HTTP create, a lock store reset or restarted, a fail-open run), the
        // CAS misses on the fence and resumeRun() raises ours past it.
        drive->fence = drive->lock->fence();
        broadcastLockStatus(drive->workflowId, Protocol::LockState::Acquired, drive->lock->sessionId(), drive->fence,
                            drive->lock->ttl().count(), drive->session);
        proceed(drive);
    }

    void Server::onLockHeld(Drive *drive, const Lock::LockHolder &holder)
    {
        qCInfo(lcGateway).noquote() << "workflow" << drive->workflowId << "is locked by" << describeHolder(holder);
        drive->lockSettled = true;
        if (drive->session)
            drive->session->closeWith(quint16(CloseCode::TryAgainLater), LockHeldReason);
        driveDone(drive);
    }

    void Server::onLockFailed(Drive *drive, const Lock::LockError &error)
    {
        qCWarning(lcGateway).noquote() << "lock store unavailable for" << drive->workflowId << ":" << error.message;
        drive->lockSettled = true;
        drive->lock->deleteLater();
        drive->lock = nullptr;
        if (!drive->session || drive->sessionEnded)
        {
            driveDone(drive);
            return;
        }
        if (m_config.lockUnavailable == LockUnavailablePolicy::FailClosed)
        {
            drive->session->closeWith(quint16(CloseCode::InternalError), QStringLiteral("lock store unavailable"));
            driveDone(drive);
            return;
        }
        // fail-open: run without mutual exclusion, and say so.
        broadcastLockStatus(drive->workflowId, Protocol::LockState::Unavailable, {}, 0, 0, drive->session);
        proceed(drive);
    }

    void Server::onLockLost(Drive *drive, const QString &reason)
    {
        qCWarning(lcGateway).noquote() << "lost the lock of" << drive->workflowId << ":" << reason;
        if (drive->executionRunning())
            drive->execution->requestStop(Flows::StopCause::LostLock, QStringLiteral("lost lock"));
        if (!std::exchange(drive->lostReported, true))
            broadcastLockStatus(drive->workflowId, Protocol::LockState::Lost, drive->lock->sessionId(), drive->fence, 0,
                                drive->session);
        if (drive->session)
            drive->session->closeWith(quint16(CloseCode::InternalError), QStringLiteral("lost lock"));
        drive->lockSettled = true;
        driveDone(drive);
    }

    void Server::failDrive(Drive *drive, const CloseCode code, const QString &reason)
    {
        if (drive->session)
            drive->session->closeWith(quint16(code), reason);
        if (drive->lock)
            drive->lock->release();
        driveDone(drive);
    }

    void Server::failDriveOnStore(Drive *drive, const Store::StoreError &error)
    {
        if (error.kind == Store::StoreError::Kind::InvalidInput)
            return failDrive(drive, CloseCode::InvalidRequest, storeCloseReason(error));
        qCWarning(lcGateway).noquote() << "workflow" << drive->workflowId << "store error:" << error.message;
        failDrive(drive, CloseCode::InternalError, storeCloseReason(error));
    }

    template <typename Job, typename Then>
    void Server::driveStore(Drive *drive, Job job, Then then)
    {
        ++drive->storeCalls;
        m_store->call(drive, std::move(job), [this, drive, then = std::move(then)](auto result) mutable {
            --drive->storeCalls;
            then(std::move(result));
            driveDone(drive);
        });
    }

    void Server::proceed(Drive *drive)
    {
        if (!drive->session || drive->sessionEnded)
            return failDrive(drive, CloseCode::Normal, {});
        const Protocol::StartRequest &request = drive->request;
        ResumeInput input;
        input.workflowId = drive->workflowId;
        input.goal = request.goal;
        input.flow = request.workflowMetadata.value(u"flow").toString();
        if (input.flow.isEmpty())
            input.flow = DefaultFlow;
        input.flowKnown = m_flows.contains(input.flow);
        input.fence = drive->fence;
        // No lock (turned off, or fail-open): the store's counter is the fence.
        input.takeFence = !drive->lock;
        input.approval = approvalOf(request);
        driveStore(
            drive, [input](Store::RunStore &store) { return prepareAndResume(store, input); },
            [this, drive](const ResumeAttempt &attempt) { onResumed(drive, attempt, false); });
    }

    void Server::onResumed(Drive *drive, const ResumeAttempt &attempt, const bool fenceRaised)
    {
        drive->fence = attempt.fence;
        if (attempt.newGoal)
            drive->newGoal = attempt.newGoal;
        if (attempt.storeError)
            return failDriveOnStore(drive, *attempt.storeError);
        if (attempt.refusal)
            return failDrive(drive, attempt.refusal->first, attempt.refusal->second);
        const Store::ResumeResult &resumed = attempt.resumed;
        switch (resumed.outcome)
        {
        case Store::ResumeOutcome::NotFound:
            return failDrive(drive, CloseCode::NotFound, QStringLiteral("workflow not found"));
        case Store::ResumeOutcome::NotResumable:
        {
            const RunStatus status = resumed.status.value_or(RunStatus::Running);
            const qint64 storedFence = resumed.fence.value_or(0);
            // A miss on the fence is not a CAS miss: the run carries a fence from
            // elsewhere. Take a fresh one above it once; losing again means a newer
            // holder wrote meanwhile, and that is what the client hears.
            const bool fenceMiss = m_config.casGuards && m_config.fencing && (storedFence > drive->fence);
            if (!fenceMiss)
                return failDrive(drive, CloseCode::NotResumable,
                                 QStringLiteral("not resumable (status: %1)").arg(toString(status)));
            if (fenceRaised)
            {
                qCWarning(lcGateway).noquote() << "workflow" << drive->workflowId << "carries fence" << storedFence
                                               << "above ours" << drive->fence << "after a raise";
                return failDrive(drive, CloseCode::InternalError,
                                 QStringLiteral("stale fence: the run carries fence %1, above ours %2")
                                     .arg(storedFence)
                                     .arg(drive->fence));
            }
            qCInfo(lcGateway).noquote() << "workflow" << drive->workflowId << "carries fence" << storedFence
                                        << "above ours" << drive->fence << "; taking a fresh one";
            return raiseFence(drive, storedFence);
        }
        case Store::ResumeOutcome::Resumed: break;
        }
        const Store::Run &run = *resumed.run;
        // The session went away (or the lock was lost) while the store worked:
        // nobody will drive the run now, so it is left as a closed tab leaves it.
        if (!drive->session || drive->sessionEnded ||
            (drive->lock && drive->lock->state() != Lock::RunLock::State::Holding))
        {
            const bool lockLost = drive->lock && drive->lock->state() == Lock::RunLock::State::Lost;
            qCInfo(lcGateway).noquote() << "workflow" << drive->workflowId << "was resumed after its session"
                                        << (lockLost ? "lost the lock; left for --stale-after" : "ended; pausing it");
            if (lockLost)
                return failDrive(drive, CloseCode::InternalError, QStringLiteral("lost lock"));
            const QString workflowId = drive->workflowId;
            const qint64 fence = drive->fence;
            driveStore(
                drive,
                [workflowId, fence](Store::RunStore &store) {
                    return store.transition(workflowId, fence, RunStatus::Paused,
                                            QStringLiteral("client disconnected"));
                },
                [this, drive](const Store::StoreResult<bool> &) { failDrive(drive, CloseCode::Normal, {}); });
            return;
        }
        drive->flow = m_flows.find(run.flow);
        if (!drive->flow)
            return failDrive(drive, CloseCode::InternalError,
                             QStringLiteral("flow '%1' is not available on this gateway").arg(run.flow));
        startExecution(drive, run, attempt.workspace);
    }

    void Server::raiseFence(Drive *drive, const qint64 floor)
    {
        if (!drive->lock)
            return resumeAgain(drive, floor);
        drive->lock->raiseFence(floor, [this, drive](Lock::LockResult<std::optional<qint64>> raised) {
            if (!drive->session || drive->sessionEnded)
                return failDrive(drive, CloseCode::Normal, {});
            if (!raised)
            {
                qCWarning(lcGateway).noquote()
                    << "cannot raise the fence of" << drive->workflowId << ":" << raised.error().message;
                return failDrive(drive, CloseCode::InternalError, QStringLiteral("lock store unavailable"));
            }
            if (!raised->has_value())
                return;  // the lock is gone: onLockLost() or the release closes the session
            drive->fence = **raised;
            broadcastLockStatus(drive->workflowId, Protocol::LockState::Acquired, drive->lock->sessionId(),
                                drive->fence, drive->lock->ttl().count(), drive->session);
            resumeAgain(drive, std::nullopt);
        });
    }

    void Server::resumeAgain(Drive *drive, const std::optional<qint64> lockless)
    {
        ResumeAttempt again;
        again.fence = drive->fence;
        again.newGoal = drive->newGoal;
        const QString workflowId = drive->workflowId;
        driveStore(
            drive,
            [attempt = again, workflowId, lockless](Store::RunStore &store) mutable {
                if (lockless)
                {
                    const auto fence = store.nextFence(*lockless);
                    if (!fence)
                    {
                        attempt.storeError = fence.error();
                        return attempt;
                    }
                    attempt.fence = *fence;
                }
                resumeIn(store, workflowId, attempt);
                return attempt;
            },
            [this, drive](const ResumeAttempt &attempt) { onResumed(drive, attempt, true); });
    }

    void Server::startExecution(Drive *drive, const Store::Run &run,
                                const std::optional<Store::RunWorkspace> &remembered)
    {
        Session *session = drive->session;
        const Protocol::StartRequest &request = drive->request;
        Flows::ExecutionOptions options;
        options.userMessage = drive->newGoal.value_or(QString());
        if (!drive->newGoal)
            options.approval = approvalOf(request);
        options.delayScale = m_config.stepDelayScale;
        options.deadline = m_config.workflowDeadline;
        options.activityInterval =
            std::max(std::chrono::milliseconds(100), std::min(m_config.lockTtl / 3, m_config.staleAfter / 3));
        options.guards = m_config.casGuards;
        options.fencing = m_config.fencing;
        options.workspaceTools = m_workspaceTools.get();
        options.workspace = workspaceBinding(request.workflowMetadata.value(u"workspaceID").toString(), remembered);
        drive->execution = new Flows::Execution(*m_store, run, *drive->flow, drive->fence, options, drive);
        if (drive->lock)
            drive->lock->retain(QStringLiteral("execution"));
        connect(drive->execution, &Flows::Execution::finished, this, [this, drive] { onExecutionFinished(drive); });

        RunFeed *feed = feedFor(drive->workflowId);
        feed->attachExecution(drive->execution);
        const QString workflowId = drive->workflowId;
        feed->addListener(session, drive->afterSeq, [workflowId](RunFeed::AddResult added, const QString &problem) {
            if (added != RunFeed::AddResult::Added)
                qCWarning(lcGateway).noquote() << "no snapshot for" << workflowId << ":" << problem;
        });
        qCInfo(lcGateway).noquote() << "session" << session->id() << "drives workflow" << drive->workflowId << "flow"
                                    << drive->flow->name << "fence" << drive->fence;
        drive->execution->start();
    }

    Workspace::WorkspaceBinding Server::workspaceBinding(const QString &requested,
                                                         const std::optional<Store::RunWorkspace> &remembered) const
    {
        // The workspace named by this startRequest, else the one the run
        // remembers; the agent it used last is dialed first when this
        // gateway knows its address, else the dialer looks it up (lazily).
        Workspace::WorkspaceBinding binding{.workspaceId = requested, .agent = std::nullopt};
        if (!remembered)
            return binding;
        if (binding.workspaceId.isEmpty())
            binding.workspaceId = remembered->workspaceId;
        if (binding.workspaceId == remembered->workspaceId && !remembered->agentId.isEmpty() && m_workspaceTools)
            binding.agent = m_workspaceTools->knownAgent(remembered->agentId);
        return binding;
    }

    void Server::onExecutionFinished(Drive *drive)
    {
        drive->executionEnded = true;
        const Flows::StopCause cause = drive->execution->stopCause().value_or(Flows::StopCause::TurnEnded);
        if (RunFeed *feed = m_feeds.value(drive->workflowId))
            feed->refresh();
        // Remember the workspace binding (a hint for the next turn), and read
        // the status the run ended with: the session's close reason.
        const Workspace::WorkspaceBinding binding = drive->execution->workspaceBinding();
        std::optional<Store::RunWorkspace> remember;
        if (!binding.workspaceId.isEmpty())
            remember = Store::RunWorkspace{.workspaceId = binding.workspaceId,
                                           .agentId = binding.agent ? binding.agent->agentId : QString()};
        driveStore(
            drive,
            [workflowId = drive->workflowId, remember](Store::RunStore &store) {
                if (remember)
                {
                    if (const auto written = store.workspaces().setRunWorkspace(workflowId, *remember); !written)
                        qCWarning(lcGateway).noquote()
                            << "workflow" << workflowId
                            << ": its workspace binding was not stored:" << written.error().message;
                }
                return store.getRun(workflowId);
            },
            [this, drive, cause](const Store::StoreResult<std::optional<Store::Run>> &stored) {
                const QString status =
                    (stored && stored->has_value()) ? toString((*stored)->status) : QStringLiteral("unknown");
                closeFinishedDrive(drive, cause, status);
            });
    }

    void Server::closeFinishedDrive(Drive *drive, const Flows::StopCause cause, const QString &status)
    {
        qCInfo(lcGateway).noquote() << "workflow" << drive->workflowId << "execution ended:" << Flows::toString(cause)
                                    << "status" << status;
        if (drive->session)
        {
            switch (cause)
            {
            case Flows::StopCause::LostLock:
                drive->session->closeWith(quint16(CloseCode::InternalError), QStringLiteral("lost lock"));
                break;
            case Flows::StopCause::Superseded:
                // A newer fence wrote: with the lock on, ours was taken over
                // (say, this process was paused past its TTL) even if our
                // heartbeat has not found out yet. Same end as a lost lock.
                if (drive->lock)
                {
                    if (!std::exchange(drive->lostReported, true))
                        broadcastLockStatus(drive->workflowId, Protocol::LockState::Lost, drive->lock->sessionId(),
                                            drive->fence, 0, drive->session);
                    drive->session->closeWith(quint16(CloseCode::InternalError), QStringLiteral("lost lock"));
                }
                else
                    drive->session->closeWith(quint16(CloseCode::Normal), status);
                break;
            case Flows::StopCause::StoreError:
                drive->session->closeWith(quint16(CloseCode::InternalError), QStringLiteral("store error"));
                break;
            case Flows::StopCause::Shutdown:
                drive->session->closeWith(quint16(CloseCode::GoingAway), QStringLiteral("gateway shutting down"));
                break;
            default: drive->session->closeWith(quint16(CloseCode::Normal), status); break;
            }
        }
        if (drive->lock)
            drive->lock->relinquish(QStringLiteral("execution"));
        driveDone(drive);
        dropFeedIfIdle(drive->workflowId);
    }

    void Server::driveDone(Drive *drive)
    {
        if (drive->done)
            return;
        const bool sessionOver = drive->sessionEnded || !drive->session;
        const bool executionOver = !drive->execution || drive->executionEnded;
        bool lockOver = drive->lockSettled;
        if (drive->lock && !lockOver)
        {
            const auto state = drive->lock->state();
            lockOver = (state == Lock::RunLock::State::Released) || (state == Lock::RunLock::State::Lost) ||
                       (state == Lock::RunLock::State::HeldElsewhere) || (state == Lock::RunLock::State::Failed);
        }
        if (!sessionOver || !executionOver || !lockOver || (drive->storeCalls > 0))
            return;
        drive->done = true;
        m_drives.removeAll(drive);
        drive->deleteLater();
        dropFeedIfIdle(drive->workflowId);
        checkShutdownDone();
    }

    // ---- observing, cancelling ----

    void Server::observe(Session *session, const QString &workflowId, const qint64 afterSeq)
    {
        // Subscribers get the lean deltas (subscribe is not part of the legacy API).
        session->setRole(Session::Role::Observer, workflowId, true);
        RunFeed *feed = feedFor(workflowId);
        // The feed forgets a session that ends before the store answers.
        feed->addListener(
            session, afterSeq, [this, session, workflowId](RunFeed::AddResult added, const QString &problem) {
                switch (added)
                {
                case RunFeed::AddResult::Added:
                    qCDebug(lcGateway).noquote() << "session" << session->id() << "observes" << workflowId;
                    return;
                case RunFeed::AddResult::NotFound:
                    session->closeWith(quint16(CloseCode::NotFound), QStringLiteral("workflow not found"));
                    break;
                case RunFeed::AddResult::StoreError:
                    qCWarning(lcGateway).noquote() << "subscribe to" << workflowId << "failed:" << problem;
                    session->closeWith(quint16(CloseCode::InternalError),
                                       QStringLiteral("store unavailable: ") + problem);
                    break;
                }
                dropFeedIfIdle(workflowId);
            });
    }

    void Server::stopWorkflow(Session *session, const QString &reason)
    {
        const QString workflowId = session->workflowId();
        const QString why = reason.isEmpty() ? QStringLiteral("stopped by client") : reason.left(1024);
        const quint64 sessionId = session->id();
        QPointer<Session> asker(session);
        // The cancel is done even when its session closes meanwhile; only the answer is dropped.
        m_store->call(
            this, [workflowId, why](Store::RunStore &store) { return store.cancel(workflowId, why); },
            [this, asker, sessionId, workflowId, why](const Store::StoreResult<Store::CancelResult> &result) {
                if (!result)
                {
                    if (asker)
                        asker->closeWith(quint16(result.error().kind == Store::StoreError::Kind::InvalidInput
                                                     ? CloseCode::InvalidRequest
                                                     : CloseCode::InternalError),
                                         storeCloseReason(result.error()));
                    return;
                }
                switch (result->outcome)
                {
                case Store::CancelOutcome::Cancelled:
                    qCInfo(lcGateway).noquote() << "session" << sessionId << "cancelled workflow" << workflowId;
                    runCancelled(workflowId, why);
                    return;
                case Store::CancelOutcome::Noop:
                {
                    if (!asker)
                        return;
                    Protocol::RunStatusMessage message;
                    message.workflowID = workflowId;
                    message.status = result->status.value_or(RunStatus::Finished);
                    message.reason =
                        QStringLiteral("cancel: nothing to do, the run is %1").arg(toString(message.status));
                    asker->send(message);
                    return;
                }
                case Store::CancelOutcome::NotFound:
                    qCDebug(lcGateway).noquote() << "stopWorkflow for unknown workflow" << workflowId;
                    return;
                }
            });
    }

    void Server::runCancelled(const QString &workflowId, const QString &reason)
    {
        for (Drive *drive : std::as_const(m_drives))
        {
            if ((drive->workflowId == workflowId) && drive->executionRunning())
                drive->execution->requestStop(Flows::StopCause::Cancelled, reason);
        }
        if (RunFeed *feed = m_feeds.value(workflowId))
            feed->refresh();
    }

    // ---- feeds ----

    RunFeed *Server::feedFor(const QString &workflowId)
    {
        if (RunFeed *feed = m_feeds.value(workflowId))
            return feed;
        const auto pollInterval = m_storeAnnounces ? std::chrono::milliseconds::zero() : m_config.pollInterval;
        auto *feed = new RunFeed(workflowId, *m_store, m_flows, pollInterval, this);
        m_feeds.insert(workflowId, feed);
        return feed;
    }

    void Server::onStoreChanged(const QString &workflowId)
    {
        if (!workflowId.isEmpty())
        {
            if (RunFeed *feed = m_feeds.value(workflowId))
                feed->refresh();
            return;
        }
        // The store reconnected: announcements may have been missed.
        const QList<RunFeed *> feeds = m_feeds.values();
        for (RunFeed *feed : feeds)
            feed->refresh();
    }

    void Server::dropFeedIfIdle(const QString &workflowId)
    {
        RunFeed *feed = m_feeds.value(workflowId);
        if (!feed || feed->hasListeners())
            return;
        for (const Drive *drive : std::as_const(m_drives))
        {
            if ((drive->workflowId == workflowId) && drive->executionRunning())
                return;
        }
        m_feeds.remove(workflowId);
        feed->deleteLater();
    }

    void Server::broadcastLockStatus(const QString &workflowId, const Protocol::LockState state, const QString &holder,
                                     const qint64 fence, const qint64 ttlMs, Session *alsoTo)
    {
        Protocol::LockStatus message;
        message.workflowID = workflowId;
        message.state = state;
        message.holder = holder;
        message.fence = fence;
        message.ttlMs = ttlMs;
        message.at = nowMs();
        const QByteArray frame = Protocol::serialize(Protocol::ServerMessage(message));
        // The driver and every subscriber of the workflow.
        for (Session *session : std::as_const(m_sessions))
        {
            if ((session == alsoTo) || (session->workflowId() == workflowId))
                session->sendFrame(frame);
        }
    }

    // ---- shutdown ----

    void Server::shutdown()
    {
        if (m_shuttingDown)
            return;
        m_shuttingDown = true;
        qCInfo(lcGateway) << "shutting down:" << m_sessions.size() << "sessions," << m_drives.size() << "executions";
        if (m_door)
            m_door->closeDoor();
        for (Drive *drive : std::as_const(m_drives))
        {
            if (drive->executionRunning())
                drive->execution->requestStop(Flows::StopCause::Shutdown);
        }
        const QList<Session *> sessions = m_sessions;
        for (Session *session : sessions)
            session->closeWith(quint16(CloseCode::GoingAway), QStringLiteral("gateway shutting down"));
        m_graceTimer.start(m_config.shutdownGrace);
        checkShutdownDone();
    }

    void Server::checkShutdownDone()
    {
        if (!m_shuttingDown || m_stopped)
            return;
        if (!m_sessions.isEmpty() || !m_drives.isEmpty())
            return;
        m_stopped = true;
        m_graceTimer.stop();
        qCInfo(lcGateway) << "shut down cleanly";
        // Let the last close frames and lock releases leave first.
        QTimer::singleShot(0, this, &Server::stopped);
    }
}  // namespace Lockstep::Gateway
