#include "gateway.h"

#include <csignal>
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

#include "common/logging.h"
#include "common/privatefiles.h"
#include "common/shutdownsignals.h"
#include "flows/execution.h"
#include "gateway/drive.h"
#include "gateway/frameguard.h"
#include "gateway/frontdoor.h"
#include "gateway/httpapi.h"
#include "gateway/runfeed.h"
#include "gateway/session.h"
#include "lock/lockstore.h"
#include "lock/memorylockstore.h"
#include "lock/runlock.h"
#include "protocol/closecode.h"
#include "store/runstore.h"
#include "store/storeworker.h"
#include "workspace/agentdirectory.h"
#include "workspace/toolrunner.h"

namespace Lockstep::Gateway
{
    namespace
    {
        const QString WebSocketPath = QStringLiteral("/api/v1/ws");
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
        // A drive hears its lock and execution (its children) with itself as the
        // context: deleting it disconnects them before they go.
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
        if (!m_signals->watch(SIGHUP))
            qCWarning(lcGateway) << "cannot watch SIGHUP: the token file cannot be reloaded";
        connect(m_signals, &ShutdownSignals::received, this, [this](const int number) {
            if (number == SIGHUP)
            {
                reloadTokens();
                return;
            }
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

    bool Server::reloadTokens()
    {
        if (m_config.tokenFile.isEmpty())
        {
            qCInfo(lcGateway) << "SIGHUP: no --token-file (the generated token is in use): nothing to reload";
            return false;
        }
        auto tokens = TokenSet::loadFile(m_config.tokenFile);
        if (!tokens)
        {
            qCWarning(lcGateway).noquote() << "SIGHUP: token file not reloaded, the" << m_tokens.size()
                                           << "token(s) loaded before stay in use:" << tokens.error();
            return false;
        }
        // The front door and the HTTP API hold a pointer to m_tokens: the next
        // request is checked against the new set.
        m_tokens = std::move(*tokens);
        qCInfo(lcGateway).noquote() << "SIGHUP: token file" << m_config.tokenFile << "reloaded:" << m_tokens.size()
                                    << "token(s)";
        return true;
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
        // It reads the upgrade request already buffered in `socket` by itself
        // (tst_gatewayhandover checks that it still does).
        m_webSockets->handleConnection(socket);
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
            if (!drive->isDrivenBy(session))
                continue;
            drive->sessionEnded();
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
        if (const std::optional<QString> problem = Drive::refusal(request))
        {
            session->closeWith(quint16(CloseCode::InvalidRequest), *problem);
            return;
        }
        session->setRole(Session::Role::Driver, request.workflowID, request.wantsIncrementalStreaming());
        const DriveContext context{.config = m_config,
                                   .flows = m_flows,
                                   .store = *m_store,
                                   .lockStore = m_lockStore.get(),
                                   .workspaceTools = m_workspaceTools.get(),
                                   .host = *this};
        auto *drive = new Drive(context, session, request, afterSeq, this);
        m_drives.append(drive);
        drive->start();
    }

    void Server::driveEnded(Drive *drive)
    {
        m_drives.removeAll(drive);
        drive->deleteLater();
        dropFeedIfIdle(drive->workflowId());
        checkShutdownDone();
    }

    bool Server::shuttingDown() const
    {
        return m_shuttingDown;
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
            if (drive->workflowId() == workflowId)
                drive->stopExecution(Flows::StopCause::Cancelled, reason);
        }
        refreshFeed(workflowId);
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
            refreshFeed(workflowId);
            return;
        }
        // The store reconnected: announcements may have been missed.
        const QList<RunFeed *> feeds = m_feeds.values();
        for (RunFeed *feed : feeds)
            feed->refresh();
    }

    void Server::refreshFeed(const QString &workflowId)
    {
        if (RunFeed *feed = m_feeds.value(workflowId))
            feed->refresh();
    }

    void Server::dropFeedIfIdle(const QString &workflowId)
    {
        RunFeed *feed = m_feeds.value(workflowId);
        if (!feed || feed->hasListeners())
            return;
        for (const Drive *drive : std::as_const(m_drives))
        {
            if ((drive->workflowId() == workflowId) && drive->executionRunning())
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
            drive->stopExecution(Flows::StopCause::Shutdown);
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
