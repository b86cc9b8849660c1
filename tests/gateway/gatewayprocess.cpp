#include "gatewayprocess.h"

#include <algorithm>
#include <csignal>

#include <sys/socket.h>

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QDir>
#include <QEventLoop>
#include <QFile>
#include <QJsonDocument>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QProcess>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>
#include <QTimer>

#include "childprocess.h"
#include "freeport.h"
#include "protocol/names.h"
#include "temppostgres.h"

namespace Lockstep::Test
{
    namespace
    {
        // Runs the event loop until `done` holds or the time is up.
        template <typename Predicate>
        bool spinUntil(Predicate done, const int timeoutMs)
        {
            QDeadlineTimer deadline(timeoutMs);
            while (!done())
            {
                if (deadline.hasExpired())
                    return false;
                QCoreApplication::processEvents(QEventLoop::AllEvents, 50);
                QThread::msleep(5);
            }
            return true;
        }
    }  // namespace

    // ---- GatewayProcess ----

    GatewayProcess::GatewayProcess() = default;

    GatewayProcess::~GatewayProcess()
    {
        kill();
    }

    QString GatewayProcess::binary()
    {
        return qEnvironmentVariable("LOCKSTEP_GATEWAY_BIN");
    }

    bool GatewayProcess::start(const QStringList &arguments)
    {
        if (binary().isEmpty())
        {
            m_error = QStringLiteral("LOCKSTEP_GATEWAY_BIN is not set");
            return false;
        }
        m_dir = std::make_unique<QTemporaryDir>();
        if (!m_dir->isValid())
        {
            m_error = QStringLiteral("no temporary folder");
            return false;
        }
        QFile tokens(m_dir->filePath(QStringLiteral("tokens")));
        if (!tokens.open(QIODevice::WriteOnly, QFileDevice::ReadOwner | QFileDevice::WriteOwner))
        {
            m_error = QStringLiteral("cannot write the token file");
            return false;
        }
        tokens.write("# test tokens\n" + GatewayTestToken.toUtf8() + "\n");
        tokens.close();

        // A port that was free a moment ago can be taken meanwhile: try a few.
        for (int attempt = 0; attempt < 5; ++attempt)
        {
            m_port = freePort();
            m_stderr.clear();
            m_process = std::make_unique<QProcess>();
            prepareChild(*m_process, std::nullopt);
            QStringList all{QStringLiteral("--listen"),     QStringLiteral("127.0.0.1:%1").arg(m_port),
                            QStringLiteral("--token-file"), m_dir->filePath(QStringLiteral("tokens")),
                            QStringLiteral("--data-dir"),   m_dir->filePath(QStringLiteral("data"))};
            all << arguments;
            m_process->start(binary(), all);
            if (!m_process->waitForStarted(10000))
            {
                m_error = QStringLiteral("cannot start %1: %2").arg(binary(), m_process->errorString());
                return false;
            }
            QByteArray out;
            const bool listening = spinUntil(
                [&] {
                    out += m_process->readAllStandardOutput();
                    m_stderr += m_process->readAllStandardError();
                    return out.contains("listening on") || (m_process->state() == QProcess::NotRunning);
                },
                30000);
            if (listening && out.contains("listening on"))
                return true;
            m_process->waitForFinished(2000);
            m_stderr += m_process->readAllStandardError();
            m_error = QStringLiteral("the gateway did not start (exit %1): %2")
                          .arg(m_process->exitCode())
                          .arg(QString::fromUtf8(m_stderr.right(2000)));
            if (!m_stderr.contains("Address already in use") && !m_stderr.contains("address is already in use"))
                return false;
        }
        return false;
    }

    int GatewayProcess::terminate(const int timeoutMs)
    {
        if (!m_process || (m_process->state() == QProcess::NotRunning))
            return m_process ? m_process->exitCode() : -1;
        ::kill(pid_t(m_process->processId()), SIGTERM);
        const bool ended = spinUntil(
            [&] {
                m_stderr += m_process->readAllStandardError();
                return m_process->state() == QProcess::NotRunning;
            },
            timeoutMs);
        if (!ended)
        {
            kill();
            return -1;
        }
        m_stderr += m_process->readAllStandardError();
        return (m_process->exitStatus() == QProcess::NormalExit) ? m_process->exitCode() : -1;
    }

    void GatewayProcess::kill()
    {
        if (m_process && (m_process->state() != QProcess::NotRunning))
        {
            m_process->kill();
            m_process->waitForFinished(10000);
        }
    }

    bool GatewayProcess::isRunning() const
    {
        return m_process && (m_process->state() != QProcess::NotRunning);
    }

    QString GatewayProcess::errorString() const
    {
        return m_error;
    }

    std::uint16_t GatewayProcess::port() const
    {
        return m_port;
    }

    qint64 GatewayProcess::pid() const
    {
        return m_process ? m_process->processId() : 0;
    }

    QString GatewayProcess::baseUrl() const
    {
        return QStringLiteral("http://127.0.0.1:%1").arg(m_port);
    }

    QUrl GatewayProcess::webSocketUrl() const
    {
        return QUrl(QStringLiteral("ws://127.0.0.1:%1/api/v1/ws").arg(m_port));
    }

    QString GatewayProcess::token() const
    {
        return GatewayTestToken;
    }

    QString GatewayProcess::tokenFile() const
    {
        return m_dir ? m_dir->filePath(QStringLiteral("tokens")) : QString();
    }

    QString GatewayProcess::dataDir() const
    {
        return m_dir ? m_dir->filePath(QStringLiteral("data")) : QString();
    }

    QString GatewayProcess::log() const
    {
        if (m_process)
            m_stderr += m_process->readAllStandardError();
        return QString::fromUtf8(m_stderr);
    }

    // ---- HTTP ----

    HttpReply httpRequest(const QByteArray &method, const QString &url, const QString &token, const QByteArray &body,
                          const QList<QPair<QByteArray, QByteArray>> &headers)
    {
        QNetworkAccessManager manager;
        QNetworkRequest request{QUrl(url)};
        request.setTransferTimeout(30000);
        if (!token.isEmpty())
            request.setRawHeader("Authorization", "Bearer " + token.toUtf8());
        if (!body.isEmpty())
            request.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
        for (const auto &[name, value] : headers)
            request.setRawHeader(name, value);
        QNetworkReply *reply = manager.sendCustomRequest(request, method, body);
        QEventLoop loop;
        QObject::connect(reply, &QNetworkReply::finished, &loop, &QEventLoop::quit);
        if (!reply->isFinished())
            loop.exec();
        HttpReply result;
        result.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        result.body = reply->readAll();
        result.headers = reply->rawHeaderPairs();
        if (reply->error() != QNetworkReply::NoError)
            result.error = reply->errorString();
        const QJsonDocument document = QJsonDocument::fromJson(result.body);
        result.json = document.object();
        result.jsonArray = document.array();
        delete reply;
        return result;
    }

    RawReply rawRequest(const std::uint16_t port, const QByteArray &request)
    {
        RawReply reply;
        QTcpSocket socket;
        socket.connectToHost(QStringLiteral("127.0.0.1"), port);
        if (!socket.waitForConnected(10000))
            return reply;
        socket.write(request);
        socket.flush();
        QDeadlineTimer deadline(10000);
        while (!deadline.hasExpired() && (socket.state() == QAbstractSocket::ConnectedState))
        {
            if (socket.waitForReadyRead(100))
                reply.raw += socket.readAll();
            // Enough of the answer: the head and a JSON body of the given length.
            const qsizetype headEnd = reply.raw.indexOf("\r\n\r\n");
            if (headEnd >= 0)
            {
                const qsizetype lengthAt = reply.raw.toLower().indexOf("content-length:");
                if ((lengthAt >= 0) && (lengthAt < headEnd))
                {
                    const qsizetype lineEnd = reply.raw.indexOf("\r\n", lengthAt);
                    const qint64 length = reply.raw.mid(lengthAt + 15, lineEnd - lengthAt - 15).trimmed().toLongLong();
                    if (reply.raw.size() >= headEnd + 4 + length)
                        break;
                }
                else if (reply.raw.startsWith("HTTP/1.1 101"))
                {
                    break;
                }
            }
        }
        reply.raw += socket.readAll();
        if (reply.raw.startsWith("HTTP/1."))
            reply.status = reply.raw.mid(9, 3).toInt();
        return reply;
    }

    QByteArray upgradeRequest(const std::uint16_t port, const QByteArray &path, const QList<QByteArray> &headerLines)
    {
        QByteArray request = "GET " + path + " HTTP/1.1\r\n" + "Host: 127.0.0.1:" + QByteArray::number(port) + "\r\n" +
                             "Upgrade: websocket\r\n" + "Connection: Upgrade\r\n" +
                             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" + "Sec-WebSocket-Version: 13\r\n";
        for (const QByteArray &line : headerLines)
            request += line + "\r\n";
        return request + "\r\n";
    }

    // ---- WsProbe ----

    WsProbe::WsProbe(QObject *parent)
        : QObject(parent)
    {}

    WsProbe::~WsProbe()
    {
        delete m_client;
    }

    void WsProbe::open(const QUrl &url, const QString &token, const bool tokenAsSubprotocol, const QString &caFile)
    {
        m_client = new Transport::WebSocketClient;
        connect(m_client, &Transport::WebSocketClient::connected, this, [this](const QString &subprotocol) {
            m_connected = true;
            m_subprotocol = subprotocol;
        });
        connect(m_client, &Transport::WebSocketClient::textMessageReceived, this, [this](const QString &text) {
            m_frames << text;
            auto parsed = Protocol::parseServerMessage(text.toUtf8());
            if (parsed)
                m_messages << *parsed;
        });
        connect(m_client, &Transport::WebSocketClient::failed, this, [this](const Transport::ConnectFailure &failure) {
            m_failed = true;
            m_failure = failure;
        });
        connect(m_client, &Transport::WebSocketClient::closed, this, [this](const Transport::CloseInfo &info) {
            m_closed = true;
            m_closeInfo = info;
        });
        Transport::ClientOptions options;
        options.url = url;
        options.bearerToken = token;
        options.tokenAsSubprotocol = tokenAsSubprotocol;
        options.caFile = caFile;
        options.pingInterval = std::chrono::milliseconds(0);
        options.pongTimeout = std::chrono::milliseconds(0);
        options.maxMessageSize = 256 * 1024 * 1024;
        m_client->open(options);
    }

    bool WsProbe::sendJson(const QJsonObject &message)
    {
        return sendText(QString::fromUtf8(QJsonDocument(message).toJson(QJsonDocument::Compact)));
    }

    bool WsProbe::sendText(const QString &text)
    {
        return m_client && m_client->sendText(text);
    }

    void WsProbe::close(const quint16 code)
    {
        if (m_client)
            m_client->close(code);
    }

    bool WsProbe::isConnected() const
    {
        return m_connected;
    }
    bool WsProbe::hasFailed() const
    {
        return m_failed;
    }
    bool WsProbe::isClosed() const
    {
        return m_closed;
    }
    const Transport::CloseInfo &WsProbe::closeInfo() const
    {
        return m_closeInfo;
    }
    const Transport::ConnectFailure &WsProbe::failure() const
    {
        return m_failure;
    }
    QString WsProbe::subprotocol() const
    {
        return m_subprotocol;
    }
    const QStringList &WsProbe::frames() const
    {
        return m_frames;
    }

    QList<Protocol::NewCheckpoint> WsProbe::checkpoints() const
    {
        QList<Protocol::NewCheckpoint> result;
        for (const Protocol::ServerMessage &message : m_messages)
        {
            if (const auto *checkpoint = std::get_if<Protocol::NewCheckpoint>(&message))
                result << *checkpoint;
        }
        return result;
    }

    QList<Protocol::RunStatusMessage> WsProbe::runStatuses() const
    {
        QList<Protocol::RunStatusMessage> result;
        for (const Protocol::ServerMessage &message : m_messages)
        {
            if (const auto *status = std::get_if<Protocol::RunStatusMessage>(&message))
                result << *status;
        }
        return result;
    }

    QList<Protocol::LockStatus> WsProbe::lockStatuses() const
    {
        QList<Protocol::LockStatus> result;
        for (const Protocol::ServerMessage &message : m_messages)
        {
            if (const auto *status = std::get_if<Protocol::LockStatus>(&message))
                result << *status;
        }
        return result;
    }

    std::optional<RunStatus> WsProbe::lastRunStatus() const
    {
        const auto statuses = runStatuses();
        if (statuses.isEmpty())
            return std::nullopt;
        return statuses.constLast().status;
    }

    bool WsProbe::sawRunStatus(const RunStatus status) const
    {
        for (const auto &message : runStatuses())
        {
            if (message.status == status)
                return true;
        }
        return false;
    }

    QList<qint64> WsProbe::seqs() const
    {
        QList<qint64> result;
        for (const auto &checkpoint : checkpoints())
        {
            const QJsonObject payload = QJsonDocument::fromJson(checkpoint.checkpoint.toUtf8()).object();
            if (payload.contains(u"seq"))
                result << payload.value(u"seq").toInteger();
        }
        return result;
    }

    QList<QJsonObject> WsProbe::deliveredEntries() const
    {
        QList<QJsonObject> result;
        for (const auto &checkpoint : checkpoints())
        {
            const QJsonObject payload = QJsonDocument::fromJson(checkpoint.checkpoint.toUtf8()).object();
            const QJsonArray log = payload.value(u"channel_values").toObject().value(u"ui_chat_log").toArray();
            for (const QJsonValue &entry : log)
                result << entry.toObject();
        }
        return result;
    }

    QList<QJsonObject> WsProbe::reconstructedLog() const
    {
        QList<QJsonObject> log;
        QHash<QString, qsizetype> index;
        for (const QJsonObject &entry : deliveredEntries())
        {
            const QString id = entry.value(u"message_id").toString();
            const auto found = index.constFind(id);
            if (found == index.constEnd())
            {
                index.insert(id, log.size());
                log << entry;
            }
            else
            {
                log[*found] = entry;
            }
        }
        return log;
    }

    QJsonObject WsProbe::startRequest(const QString &workflowId, const QString &goal, const QString &flow,
                                      const bool incremental)
    {
        QJsonObject body{{QStringLiteral("workflowID"), workflowId},
                         {QStringLiteral("goal"), goal},
                         {QStringLiteral("clientVersion"), QStringLiteral("test")}};
        if (incremental)
            body.insert(QStringLiteral("clientCapabilities"), QJsonArray{QStringLiteral("incremental_streaming")});
        if (!flow.isEmpty())
            body.insert(QStringLiteral("workflowMetadata"),
                        QString::fromUtf8(
                            QJsonDocument(QJsonObject{{QStringLiteral("flow"), flow}}).toJson(QJsonDocument::Compact)));
        return QJsonObject{{QStringLiteral("startRequest"), body}};
    }

    QJsonObject WsProbe::subscribe(const QString &workflowId, const std::optional<qint64> afterSeq)
    {
        QJsonObject body{{QStringLiteral("workflowID"), workflowId}};
        if (afterSeq)
            body.insert(QStringLiteral("afterSeq"), *afterSeq);
        return QJsonObject{{QStringLiteral("subscribe"), body}};
    }

    // ---- StoreBackends ----

    StoreBackends::StoreBackends()
        : m_dir(std::make_unique<QTemporaryDir>())
    {}

    StoreBackends::~StoreBackends() = default;

    QString StoreBackends::newStore(const QString &kind, QString *error)
    {
        ++m_counter;
        if (kind == u"sqlite")
            return u"sqlite:" + m_dir->filePath(QStringLiteral("store-%1.db").arg(m_counter));
        if (kind != u"postgresql")
        {
            *error = QStringLiteral("unknown store kind %1").arg(kind);
            return {};
        }
        if (m_postgresFailed)
        {
            *error = m_postgresError;
            return {};
        }
        if (!m_postgres)
        {
            m_postgres = std::make_unique<TempPostgres>();
            if (!m_postgres->start())
            {
                m_postgresFailed = true;
                m_postgresError = QStringLiteral("TempPostgres: %1").arg(m_postgres->errorString());
                *error = m_postgresError;
                return {};
            }
        }
        const auto spec = m_postgres->createDatabase();
        if (!spec)
        {
            *error = m_postgres->errorString();
            return {};
        }
        return *spec;
    }

    // ---- RawWsClient ----

    RawWsClient::RawWsClient() = default;

    RawWsClient::~RawWsClient() = default;

    bool RawWsClient::open(const std::uint16_t port, const QString &token, const int timeoutMs)
    {
        m_socket = std::make_unique<QTcpSocket>();
        m_buffer.clear();
        m_texts.clear();
        m_closeReason.clear();
        m_socket->connectToHost(QStringLiteral("127.0.0.1"), port);
        if (!m_socket->waitForConnected(timeoutMs))
            return false;
        m_socket->setSocketOption(QAbstractSocket::LowDelayOption, 1);
        QByteArray authorization = "Authorization: Bearer ";
        authorization += token.toUtf8();
        m_socket->write(upgradeRequest(port, "/api/v1/ws", {authorization}));
        QDeadlineTimer deadline(timeoutMs);
        qsizetype end = -1;
        while ((end = m_buffer.indexOf("\r\n\r\n")) < 0)
        {
            if (deadline.hasExpired() ||
                !m_socket->waitForReadyRead(int(std::max<qint64>(1, deadline.remainingTime()))))
                return false;
            m_buffer += m_socket->readAll();
        }
        const bool upgraded = m_buffer.startsWith("HTTP/1.1 101");
        m_buffer.remove(0, end + 4);
        return upgraded;
    }

    bool RawWsClient::isOpen() const
    {
        return m_socket && m_socket->state() == QAbstractSocket::ConnectedState;
    }

    const QList<QByteArray> &RawWsClient::texts() const
    {
        return m_texts;
    }

    QString RawWsClient::closeReason() const
    {
        return m_closeReason;
    }

    QByteArray RawWsClient::clientFrame(const int opcode, const QByteArray &payload, const bool masked)
    {
        const char maskBit = masked ? char(0x80) : char(0);
        QByteArray frame;
        frame.append(char(0x80 | opcode));
        const qsizetype size = payload.size();
        if (size < 126)
            frame.append(char(maskBit | size));
        else if (size < 65536)
        {
            frame.append(char(maskBit | 126));
            frame.append(char((size >> 8) & 0xff));
            frame.append(char(size & 0xff));
        }
        else
        {
            frame.append(char(maskBit | 127));
            for (int shift = 56; shift >= 0; shift -= 8)
                frame.append(char((quint64(size) >> shift) & 0xff));
        }
        if (!masked)
            return frame + payload;
        const char mask[4] = {0x12, 0x34, 0x56, 0x78};
        frame.append(mask, 4);
        for (qsizetype i = 0; i < size; ++i)
            frame.append(char(payload.at(i) ^ mask[i % 4]));
        return frame;
    }

    namespace
    {
        QByteArray maskedFrame(const int opcode, const QByteArray &payload)
        {
            return RawWsClient::clientFrame(opcode, payload, true);
        }
    }  // namespace

    bool RawWsClient::sendFrame(const int opcode, const QByteArray &payload, const bool masked)
    {
        if (!isOpen())
            return false;
        m_socket->write(clientFrame(opcode, payload, masked));
        return m_socket->waitForBytesWritten(5000) || m_socket->bytesToWrite() == 0;
    }

    bool RawWsClient::writeRaw(const QByteArray &bytes, const int timeoutMs)
    {
        if (!isOpen())
            return false;
        m_socket->write(bytes);
        QDeadlineTimer deadline(timeoutMs);
        while ((m_socket->bytesToWrite() > 0) && isOpen() && !deadline.hasExpired())
            m_socket->waitForBytesWritten(int(std::max<qint64>(1, deadline.remainingTime())));
        return isOpen();
    }

    bool RawWsClient::sendText(const QByteArray &text)
    {
        if (!isOpen())
            return false;
        m_socket->write(maskedFrame(0x1, text));
        return m_socket->waitForBytesWritten(5000) || m_socket->bytesToWrite() == 0;
    }

    bool RawWsClient::sendJson(const QJsonObject &message)
    {
        return sendText(QJsonDocument(message).toJson(QJsonDocument::Compact));
    }

    bool RawWsClient::fill(const qsizetype bytes, const int timeoutMs)
    {
        QDeadlineTimer deadline(timeoutMs);
        while (m_buffer.size() < bytes)
        {
            if (!m_socket || deadline.hasExpired())
                return false;
            if (m_socket->bytesAvailable() == 0 &&
                !m_socket->waitForReadyRead(int(std::max<qint64>(1, deadline.remainingTime()))))
                return false;
            m_buffer += m_socket->readAll();
        }
        return true;
    }

    RawWsClient::Frame RawWsClient::readFrame(const int timeoutMs)
    {
        QDeadlineTimer deadline(timeoutMs);
        auto left = [&] { return int(std::max<qint64>(0, deadline.remainingTime())); };
        if (!fill(2, left()))
            return {};
        const int opcode = quint8(m_buffer.at(0)) & 0x0f;
        quint64 size = quint8(m_buffer.at(1)) & 0x7f;
        qsizetype header = 2;
        if (size == 126)
        {
            if (!fill(4, left()))
                return {};
            size = (quint64(quint8(m_buffer.at(2))) << 8) | quint8(m_buffer.at(3));
            header = 4;
        }
        else if (size == 127)
        {
            if (!fill(10, left()))
                return {};
            size = 0;
            for (int i = 2; i < 10; ++i)
                size = (size << 8) | quint8(m_buffer.at(i));
            header = 10;
        }
        if (!fill(header + qsizetype(size), left()))
            return {};
        Frame frame{.opcode = opcode, .payload = m_buffer.mid(header, qsizetype(size))};
        m_buffer.remove(0, header + qsizetype(size));
        return frame;
    }

    int RawWsClient::waitForCloseOr(const QByteArray &marker, const int timeoutMs)
    {
        QDeadlineTimer deadline(timeoutMs);
        for (;;)
        {
            const Frame frame = readFrame(int(std::max<qint64>(0, deadline.remainingTime())));
            if (frame.opcode < 0)
                return -1;
            if (frame.opcode == 0x8)
            {
                if (frame.payload.size() < 2)
                    return 1005;
                m_closeReason = QString::fromUtf8(frame.payload.mid(2));
                return (quint8(frame.payload.at(0)) << 8) | quint8(frame.payload.at(1));
            }
            if (frame.opcode == 0x1)
            {
                m_texts.append(frame.payload);
                if (!marker.isEmpty() && frame.payload.contains(marker))
                    return 0;
            }
        }
    }

    void RawWsClient::close(const quint16 code)
    {
        if (!isOpen())
            return;
        QByteArray payload;
        payload.append(char(code >> 8));
        payload.append(char(code & 0xff));
        m_socket->write(maskedFrame(0x8, payload));
        m_socket->waitForBytesWritten(5000);
        m_socket->disconnectFromHost();
        if (m_socket->state() != QAbstractSocket::UnconnectedState)
            m_socket->waitForDisconnected(5000);
        m_socket.reset();
    }

    void RawWsClient::reset()
    {
        if (!m_socket)
            return;
        const qintptr fd = m_socket->socketDescriptor();
        if (fd >= 0)
        {
            const linger off{.l_onoff = 1, .l_linger = 0};
            ::setsockopt(int(fd), SOL_SOCKET, SO_LINGER, &off, sizeof(off));
        }
        m_socket->abort();
        m_socket.reset();
    }

    // ---- Shared pieces of the gateway tests ----

    void addStoreRows()
    {
        QTest::addColumn<QString>("store");
        QTest::newRow("sqlite") << QStringLiteral("sqlite");
        QTest::newRow("postgresql") << QStringLiteral("postgresql");
    }

    QString newStoreOrWarn(StoreBackends &stores, const QString &kind)
    {
        QString error;
        const QString spec = stores.newStore(kind, &error);
        if (spec.isEmpty())
            qWarning("%s", qPrintable(error));
        return spec;
    }

    QStringList fastFlowArguments(const QString &flowsDir)
    {
        return {QStringLiteral("--step-delay-scale"), QStringLiteral("0.01"), QStringLiteral("--flows"), flowsDir,
                QStringLiteral("--poll-interval"),    QStringLiteral("100ms")};
    }

    std::unique_ptr<GatewayProcess> startGatewayOn(const QString &storeSpec, const QStringList &arguments)
    {
        if (storeSpec.isEmpty())
            return nullptr;
        auto gateway = std::make_unique<GatewayProcess>();
        if (!gateway->start(QStringList{QStringLiteral("--store"), storeSpec} + arguments))
        {
            qWarning("%s", qPrintable(gateway->errorString()));
            return nullptr;
        }
        return gateway;
    }

    QJsonObject runOf(const GatewayProcess &gateway, const QString &id)
    {
        return httpRequest("GET", gateway.baseUrl() + u"/api/v1/workflows/" + id, gateway.token()).json;
    }

    QJsonObject lockOf(const GatewayProcess &gateway, const QString &id)
    {
        return httpRequest("GET", gateway.baseUrl() + u"/api/v1/workflows/" + id + u"/lock", gateway.token()).json;
    }

    bool sawLockState(const WsProbe &probe, const Protocol::LockState state)
    {
        const auto statuses = probe.lockStatuses();
        return std::any_of(statuses.cbegin(), statuses.cend(), [state](const auto &s) { return s.state == state; });
    }

    QJsonArray agentSteps(const int count, const int delayMs)
    {
        QJsonArray steps;
        for (int i = 0; i < count; ++i)
            steps.append(QJsonObject{{QStringLiteral("type"), QStringLiteral("agent")},
                                     {QStringLiteral("content"), QStringLiteral("step %1").arg(i)},
                                     {QStringLiteral("delayMs"), delayMs}});
        return steps;
    }

    bool writeFlowFile(const QString &dir, const QString &name, const QJsonArray &steps)
    {
        QFile file(QDir(dir).filePath(name + u".json"));
        if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate))
            return false;
        file.write(QJsonDocument(QJsonObject{{QStringLiteral("steps"), steps}}).toJson());
        return true;
    }
    QByteArray redisCommand(const std::uint16_t port, const QList<QByteArray> &words)
    {
        QTcpSocket socket;
        socket.connectToHost(QStringLiteral("127.0.0.1"), port);
        if (!socket.waitForConnected(5000))
            return {};
        QByteArray command = "*" + QByteArray::number(words.size()) + "\r\n";
        for (const QByteArray &word : words)
            command += "$" + QByteArray::number(word.size()) + "\r\n" + word + "\r\n";
        socket.write(command);
        socket.waitForBytesWritten(5000);
        QByteArray reply;
        while (socket.waitForReadyRead(300))
            reply += socket.readAll();
        return reply;
    }
}  // namespace Lockstep::Test
