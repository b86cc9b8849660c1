#include "raceengine.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QRandomGenerator>
#include <QSslCertificate>
#include <QSslConfiguration>
#include <QTimer>
#include <QUrlQuery>

#include "protocol/chatlog.h"
#include "protocol/closecode.h"
#include "protocol/messages.h"
#include "protocol/names.h"
#include "race/anomalychecker.h"
#include "transport/websocketclient.h"

namespace Lockstep::Race
{
    namespace
    {
        QDateTime now()
        {
            return QDateTime::currentDateTimeUtc();
        }

        // Counted from 1, as the console shows rounds and sessions.
        QString defaultMessage(const int round, const int session)
        {
            return QStringLiteral("race round %1 session %2").arg(round + 1).arg(session + 1);
        }

        QString replicaOf(const QString &holder)
        {
            // Lock holders are "<replica>#<session>" (gateway/drive.cpp, lockId()).
            return holder.section(u'#', 0, 0);
        }
    }  // namespace

    // One session of the current round: its websocket and its record.
    class RaceEngine::RoundSession final : public QObject
    {
    public:
        RoundSession(RaceEngine *engine, SessionRecord record)
            : QObject(engine)
            , m_engine(engine)
            , m_client(new Transport::WebSocketClient(this))
            , m_record(std::move(record))
        {
            if (m_engine->m_options.keepFrames)
                m_record.frameLog = std::make_shared<Transport::FrameLog>();
            connect(m_client, &Transport::WebSocketClient::connected, this, [this] {
                m_record.connectedAt = now();
                m_engine->sessionConnected();
            });
            connect(m_client, &Transport::WebSocketClient::textMessageReceived, this,
                    [this](const QString &text) { onText(text); });
            connect(m_client, &Transport::WebSocketClient::controlFrame, this,
                    [this](const Transport::FrameRecord &frame) { recordFrame(frame); });
            connect(m_client, &Transport::WebSocketClient::failed, this,
                    [this](const Transport::ConnectFailure &failure) { onFailed(failure); });
            connect(m_client, &Transport::WebSocketClient::closed, this,
                    [this](const Transport::CloseInfo &info) { onClosed(info); });
        }

        void open(const Transport::ClientOptions &options)
        {
            m_client->open(options);
        }

        void send(const QString &workflowId)
        {
            if (m_ended)
                return;
            Protocol::StartRequest start;
            start.workflowID = workflowId;
            start.goal = m_record.message;
            start.clientVersion = m_engine->m_options.consoleVersion;
            start.clientCapabilities = {QString(Protocol::Names::IncrementalStreaming)};
            const QByteArray frame = Protocol::serialize(Protocol::ClientMessage(start));
            m_record.sentAt = now();
            if (m_client->sendText(QString::fromUtf8(frame)))
                recordFrame(
                    {.direction = Transport::FrameDirection::Out, .payloadBytes = frame.size(), .payload = frame});
        }

        // The round timed out or the race was cancelled: close from our side,
        // and record why.
        void closeFromClient(const QString &why)
        {
            if (m_ended)
                return;
            m_clientReason = why;
            m_client->close(1000, why);
        }

        // Even the close did not come back: give the session up.
        void abandon()
        {
            if (m_ended)
                return;
            m_record.closedAt = now();
            m_record.closedBy = ClosedBy::Client;
            m_record.closeReason = m_clientReason;
            end();
        }

        bool ended() const
        {
            return m_ended;
        }

        const SessionRecord &record() const
        {
            return m_record;
        }

    private:
        void onText(const QString &text)
        {
            const QByteArray utf8 = text.toUtf8();
            recordFrame({.direction = Transport::FrameDirection::In, .payloadBytes = utf8.size(), .payload = utf8});
            auto message = Protocol::parseServerMessage(utf8);
            if (!message)
                return;
            if (const auto *checkpoint = std::get_if<Protocol::NewCheckpoint>(&*message))
            {
                markRan();
                if (const auto payload = Protocol::parseCheckpointPayload(QStringView(checkpoint->checkpoint)))
                {
                    for (const Protocol::ChatLogEntry &entry : payload->uiChatLog)
                    {
                        if (!m_record.entriesSeen.contains(entry.messageId))
                            m_record.entriesSeen.append(entry.messageId);
                        m_record.entryContents.insert(entry.messageId, entry.content);
                    }
                }
            }
            else if (const auto *lock = std::get_if<Protocol::LockStatus>(&*message))
            {
                if (!lock->holder.isEmpty())
                {
                    m_record.replica = replicaOf(lock->holder);
                    m_engine->noteReplica(m_record.replica);
                }
                if ((lock->fence > 0) &&
                    ((lock->state == Protocol::LockState::Acquired) || (lock->state == Protocol::LockState::Refreshed)))
                    m_record.fences.append(FenceSeen{.fence = lock->fence, .at = now()});
            }
            else if (const auto *status = std::get_if<Protocol::RunStatusMessage>(&*message))
            {
                if (status->status == RunStatus::Running)
                    markRan();
            }
        }

        void recordFrame(Transport::FrameRecord frame)
        {
            if (m_record.frameLog)
                m_record.frameLog->append(std::move(frame));
            ++m_record.frames;
            m_record.bytesIn = m_client->wireBytesIn();
            m_record.bytesOut = m_client->wireBytesOut();
        }

        void markRan()
        {
            if (m_record.ran)
                return;
            m_record.ran = true;
            m_record.executionStart = now();
        }

        void onFailed(const Transport::ConnectFailure &failure)
        {
            if (m_ended)
                return;
            m_record.closedAt = now();
            m_record.closedBy = ClosedBy::Failed;
            m_record.bytesIn = failure.wireBytesIn;
            m_record.bytesOut = failure.wireBytesOut;
            m_record.closeCode = 0;
            m_record.closeReason = failure.message;
            m_record.outcome = SessionOutcome::Failed;
            end();
        }

        void onClosed(const Transport::CloseInfo &info)
        {
            if (m_ended)
                return;
            m_record.closedAt = now();
            m_record.closeCode = info.code;
            m_record.closeReason = info.reason;
            m_record.bytesIn = info.wireBytesIn;
            m_record.bytesOut = info.wireBytesOut;
            if (!m_clientReason.isEmpty())
            {
                m_record.closedBy = ClosedBy::Client;
                m_record.closeReason = m_clientReason;
            }
            else if (info.initiatedByClient)
                m_record.closedBy = ClosedBy::Client;
            else if (info.receivedCloseFrame)
                m_record.closedBy = ClosedBy::Server;
            else
                m_record.closedBy = ClosedBy::Lost;
            end();
        }

        void end()
        {
            m_ended = true;
            if (m_record.ran)
            {
                // The gateway closes the driving session when its execution ends.
                m_record.executionEnd = m_record.closedAt;
                m_record.outcome = SessionOutcome::Ran;
            }
            else if (m_record.closedBy == ClosedBy::Failed)
                m_record.outcome = SessionOutcome::Failed;
            else if (m_record.closeCode == quint16(CloseCode::TryAgainLater))
                m_record.outcome = SessionOutcome::AlreadyRunning;
            else if (m_record.closeCode == quint16(CloseCode::NotResumable))
                m_record.outcome = SessionOutcome::NotResumable;
            else
                m_record.outcome = SessionOutcome::Closed;
            m_engine->sessionEnded();
        }

        RaceEngine *m_engine;
        Transport::WebSocketClient *m_client;
        SessionRecord m_record;
        QString m_clientReason;  // set when we closed it: "round timeout", "race cancelled"
        bool m_ended = false;
    };

    RaceOptions RaceOptions::repeating(const RaceReport &report)
    {
        RaceOptions options;
        options.webSocketUrl = QUrl(report.gateway.url);
        options.spec = report.race;
        for (const RoundRecord &round : report.rounds)
        {
            RoundPlan plan;
            for (const SessionRecord &session : round.sessions)
                plan.append(SessionPlan{.offsetMs = session.offsetMs, .message = session.message});
            options.plan.append(plan);
        }
        options.previous = report.asPrevious();
        return options;
    }

    RaceEngine::RaceEngine(RaceOptions options, QObject *parent)
        : QObject(parent)
        , m_options(std::move(options))
        , m_http(std::make_unique<QNetworkAccessManager>())
        , m_roundTimer(new QTimer(this))
    {
        m_httpBase.setScheme(m_options.webSocketUrl.scheme() == u"wss" ? QStringLiteral("https")
                                                                       : QStringLiteral("http"));
        m_httpBase.setHost(m_options.webSocketUrl.host());
        m_httpBase.setPort(m_options.webSocketUrl.port());
        m_roundTimer->setSingleShot(true);
        connect(m_roundTimer, &QTimer::timeout, this, [this] { roundTimedOut(); });
        m_report.race = m_options.spec;
        m_report.consoleVersion = m_options.consoleVersion;
        m_report.previous = m_options.previous;
        m_report.gateway.url = m_options.webSocketUrl.toString();
    }

    RaceEngine::~RaceEngine() = default;

    void RaceEngine::start()
    {
        if (m_started)
            return;
        m_started = true;
        m_running = true;
        m_clock.start();
        readHealth();
    }

    void RaceEngine::cancel()
    {
        if (!m_running || m_cancelled)
            return;
        m_cancelled = true;
        if (m_sessions.isEmpty())
            return finish();
        for (RoundSession *session : std::as_const(m_sessions))
            session->closeFromClient(QStringLiteral("race cancelled"));
        giveUpLater();
    }

    bool RaceEngine::isRunning() const
    {
        return m_running;
    }

    const RaceReport &RaceEngine::report() const
    {
        return m_report;
    }

    void RaceEngine::request(const QByteArray &method, const QString &path, const QJsonObject &body, JsonDone done)
    {
        QUrl url = m_httpBase;
        const qsizetype query = path.indexOf(u'?');
        url.setPath(query < 0 ? path : path.left(query));
        if (query >= 0)
            url.setQuery(path.mid(query + 1));
        QNetworkRequest request(url);
        request.setTransferTimeout(int(m_options.httpTimeout.count()));
        if (!m_options.token.isEmpty())
            request.setRawHeader("Authorization", "Bearer " + m_options.token.toUtf8());
        if (url.scheme() == u"https")
        {
            QSslConfiguration tls = QSslConfiguration::defaultConfiguration();
            if (!m_options.caFile.isEmpty())
            {
                QFile file(m_options.caFile);
                if (file.open(QIODevice::ReadOnly))
                    tls.addCaCertificates(QSslCertificate::fromData(file.readAll(), QSsl::Pem));
            }
            if (!m_options.verifyPeer)
                tls.setPeerVerifyMode(QSslSocket::VerifyNone);
            request.setSslConfiguration(tls);
        }
        QByteArray payload;
        if (!body.isEmpty())
        {
            request.setHeader(QNetworkRequest::ContentTypeHeader, QStringLiteral("application/json"));
            payload = QJsonDocument(body).toJson(QJsonDocument::Compact);
        }
        QNetworkReply *reply = m_http->sendCustomRequest(request, method, payload);
        connect(reply, &QNetworkReply::finished, this, [this, reply, done = std::move(done)] {
            reply->deleteLater();
            if (!m_running)
                return;  // cancelled or failed meanwhile
            const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
            const QJsonDocument json = QJsonDocument::fromJson(reply->readAll());
            QString error;
            if (status == 0)
                error = reply->errorString();
            done(status, json, error);
        });
    }

    void RaceEngine::noteReplica(const QString &replica)
    {
        if (!replica.isEmpty() && !m_report.gateway.replicas.contains(replica))
            m_report.gateway.replicas.append(replica);
    }

    void RaceEngine::readHealth()
    {
        request("GET", QStringLiteral("/healthz"), {},
                [this](int status, const QJsonDocument &body, const QString &error) {
                    if (status != 200 || !body.isObject())
                        return fail(QStringLiteral("the gateway at %1 did not answer /healthz (%2)")
                                        .arg(m_httpBase.toString(),
                                             error.isEmpty() ? QStringLiteral("HTTP %1").arg(status) : error));
                    const QJsonObject health = body.object();
                    GatewayInfo &gateway = m_report.gateway;
                    gateway.version = health.value(u"version").toString();
                    gateway.lockStore = health.value(u"lockStore").toString();
                    gateway.store = health.value(u"store").toString();
                    gateway.switches = GatewaySwitches::fromHealth(health);
                    noteReplica(health.value(u"replica").toString());
                    startRound();
                });
    }

    void RaceEngine::startRound()
    {
        if (m_cancelled || (m_report.rounds.size() >= m_options.spec.rounds))
            return finish();
        m_round = RoundRecord();
        m_round.index = int(m_report.rounds.size());
        if (m_options.spec.flow.isEmpty())
        {
            m_round.workflowId = m_options.spec.workflowId;
            request("GET", QStringLiteral("/api/v1/workflows/") + m_round.workflowId, {},
                    [this](int status, const QJsonDocument &body, const QString &error) {
                        if (status == 404)
                            return fail(QStringLiteral("workflow %1 not found on the gateway").arg(m_round.workflowId));
                        if (status != 200)
                            return fail(QStringLiteral("GET workflow %1: %2")
                                            .arg(m_round.workflowId,
                                                 error.isEmpty() ? QStringLiteral("HTTP %1").arg(status) : error));
                        openSessions(body.object().value(u"status").toString());
                    });
            return;
        }
        const QJsonObject create{
            {QStringLiteral("goal"), QStringLiteral("race round %1").arg(m_round.index + 1)},
            {QStringLiteral("flow"), m_options.spec.flow},
        };
        request("POST", QStringLiteral("/api/v1/workflows"), create,
                [this](int status, const QJsonDocument &body, const QString &error) {
                    const QString id = body.object().value(u"workflowID").toString();
                    if (status != 201 || id.isEmpty())
                        return fail(QStringLiteral("cannot create a workflow of flow %1: %2")
                                        .arg(m_options.spec.flow,
                                             error.isEmpty() ? QStringLiteral("HTTP %1 %2")
                                                                   .arg(status)
                                                                   .arg(body.object().value(u"message").toString())
                                                             : error));
                    m_round.workflowId = id;
                    openSessions(body.object().value(u"status").toString());
                });
    }

    void RaceEngine::openSessions(const QString &statusBefore)
    {
        m_round.statusBefore = statusBefore;
        m_round.startedAt = now();
        m_sending = false;
        const int count = m_options.spec.sessions;
        const RoundPlan plan = m_options.plan.value(m_round.index);
        Transport::ClientOptions client;
        client.url = m_options.webSocketUrl;
        client.bearerToken = m_options.token;
        client.caFile = m_options.caFile;
        client.verifyPeer = m_options.verifyPeer;
        for (int i = 0; i < count; ++i)
        {
            SessionRecord record;
            record.index = i;
            if (i < plan.size())
            {
                record.offsetMs = plan.at(i).offsetMs;
                record.message = plan.at(i).message;
            }
            else
            {
                record.offsetMs = m_options.spec.spreadMs > 0
                                      ? int(QRandomGenerator::global()->bounded(m_options.spec.spreadMs + 1))
                                      : 0;
                record.message = defaultMessage(m_round.index, i);
            }
            m_sessions.append(new RoundSession(this, record));
        }
        m_open = count;
        m_roundTimer->start(m_options.roundTimeout);
        for (RoundSession *session : std::as_const(m_sessions))
            session->open(client);
    }

    void RaceEngine::sessionConnected()
    {
        int settled = 0;
        for (RoundSession *session : std::as_const(m_sessions))
        {
            if (session->record().connectedAt.isValid() || session->ended())
                ++settled;
        }
        if (m_sending || (settled < m_sessions.size()) || m_cancelled)
            return;
        // Every session is connected (or failed): the spread starts now, so the
        // offsets measure the race itself, not the handshakes.
        m_sending = true;
        m_round.startedAt = now();
        for (RoundSession *session : std::as_const(m_sessions))
        {
            const QString workflowId = m_round.workflowId;
            QTimer::singleShot(std::chrono::milliseconds(session->record().offsetMs), Qt::PreciseTimer, session,
                               [session, workflowId] { session->send(workflowId); });
        }
    }

    void RaceEngine::sessionEnded()
    {
        --m_open;
        // A session that failed to connect may be the last one everybody waited for.
        if (!m_sending)
            sessionConnected();
        if (m_open > 0)
            return;
        m_roundTimer->stop();
        readFinalState();
    }

    void RaceEngine::roundTimedOut()
    {
        for (RoundSession *session : std::as_const(m_sessions))
            session->closeFromClient(QStringLiteral("round timeout"));
        giveUpLater();
    }

    void RaceEngine::giveUpLater()
    {
        // closeTimeout (2 s) plus a margin: then the sessions still open are given up.
        QTimer::singleShot(std::chrono::seconds(5), this, [this, index = m_round.index] {
            if (m_round.index != index)
                return;
            const QList<RoundSession *> sessions = m_sessions;
            for (RoundSession *session : sessions)
                session->abandon();
        });
    }

    void RaceEngine::readFinalState()
    {
        const QString path = QStringLiteral("/api/v1/workflows/") + m_round.workflowId;
        request("GET", path + QStringLiteral("/chat"), {},
                [this, path](int chatStatus, const QJsonDocument &chat, const QString &) {
                    request("GET", path, {},
                            [this, chatStatus, chat](int runStatus, const QJsonDocument &run, const QString &) {
                                finishRound(chatStatus == 200 ? chat : QJsonDocument(),
                                            runStatus == 200 ? run : QJsonDocument());
                            });
                });
    }

    void RaceEngine::finishRound(const QJsonDocument &chat, const QJsonDocument &run)
    {
        // GET .../chat answers the ui_chat_log as an array (or wrapped in an object).
        m_round.finalChatRead = !chat.isNull();
        const QJsonArray entries =
            chat.isArray() ? chat.array() : chat.object().value(Protocol::Names::UiChatLog).toArray();
        for (const QJsonValue &value : entries)
        {
            const QJsonObject entry = value.toObject();
            const QString id = entry.value(Protocol::Names::MessageId).toString();
            m_round.finalEntries.append(id);
            m_round.finalContents.insert(id, entry.value(Protocol::Names::Content).toString());
        }
        const QJsonObject runObject = run.object();
        m_round.finalStatus = runObject.value(u"status").toString();
        if (runObject.value(u"fence").isDouble())
            m_round.finalFence = qint64(runObject.value(u"fence").toDouble());
        for (RoundSession *session : std::as_const(m_sessions))
        {
            m_round.sessions.append(session->record());
            if (session->record().ran)
                ++m_round.runners;
        }
        m_round.finishedAt = now();
        qDeleteAll(m_sessions);
        m_sessions.clear();
        m_report.rounds.append(m_round);
        emit roundFinished(m_report.rounds.constLast());
        // Queued: a slot that cancels or deletes us runs before the next round starts.
        QTimer::singleShot(0, this, [this] { startRound(); });
    }

    void RaceEngine::finish()
    {
        if (!m_running)
            return;
        m_running = false;
        const double seconds = double(m_clock.elapsed()) / 1000.0;
        m_report.roundsPerSecond = seconds > 0 ? double(m_report.rounds.size()) / seconds : 0;
        m_report.findings = checkRounds(m_report.rounds);
        m_report.generatedAt = now();
        emit finished(m_report);
    }

    void RaceEngine::fail(const QString &message)
    {
        if (!m_running)
            return;
        m_running = false;
        m_roundTimer->stop();
        qDeleteAll(m_sessions);
        m_sessions.clear();
        emit failed(message);
    }
}  // namespace Lockstep::Race
