#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include <QByteArray>
#include <QJsonArray>
#include <QJsonObject>
#include <QList>
#include <QObject>
#include <QPair>
#include <QString>
#include <QStringList>
#include <QUrl>

#include "protocol/messages.h"
#include "transport/websocketclient.h"

class QProcess;
class QTcpSocket;
class QTemporaryDir;

// Helpers for the gateway tests and benchmarks: a real lockstep-gateway
// process (LOCKSTEP_GATEWAY_BIN) on a free port with a token file in a
// temporary folder, a synchronous HTTP client, a raw-socket probe for exact
// status lines, and a websocket probe on the Beast client (which reports close
// codes such as 1013 exactly).
namespace Lockstep::Test
{
    class TempPostgres;

    inline const QString GatewayTestToken = QStringLiteral("gateway-test-token-0123456789");

    class GatewayProcess
    {
    public:
        GatewayProcess();
        ~GatewayProcess();  // kills the process if it still runs

        GatewayProcess(const GatewayProcess &) = delete;
        GatewayProcess &operator=(const GatewayProcess &) = delete;

        // Starts the gateway with --listen 127.0.0.1:<free port> --token-file
        // <tmp>/tokens --data-dir <tmp>/data plus `arguments`, and waits until
        // it prints that it listens (at most 30 s). false: see errorString().
        bool start(const QStringList &arguments);
        // SIGTERM; waits for the exit. Returns the exit code (-1: crashed or timed out).
        int terminate(int timeoutMs = 30000);
        // SIGKILL, as in a crash.
        void kill();
        bool isRunning() const;

        QString errorString() const;
        std::uint16_t port() const;
        qint64 pid() const;
        QString baseUrl() const;    // "http://127.0.0.1:PORT"
        QUrl webSocketUrl() const;  // ws://127.0.0.1:PORT/api/v1/ws
        QString token() const;
        // The --token-file the gateway was started with (rewrite it, then SIGHUP).
        QString tokenFile() const;
        QString dataDir() const;
        // Everything the process wrote to stderr so far (its log).
        QString log() const;

        // The binary under test (LOCKSTEP_GATEWAY_BIN).
        static QString binary();

    private:
        std::unique_ptr<QTemporaryDir> m_dir;
        std::unique_ptr<QProcess> m_process;
        QString m_error;
        std::uint16_t m_port = 0;
        mutable QByteArray m_stderr;
    };

    struct HttpReply
    {
        int status = 0;  // 0: no answer
        QByteArray body;
        QJsonObject json;  // the body when it is a JSON object
        QJsonArray jsonArray;
        QList<QPair<QByteArray, QByteArray>> headers;
        QString error;
    };

    // One request over QNetworkAccessManager; waits up to 30 s.
    HttpReply httpRequest(const QByteArray &method, const QString &url, const QString &token = {},
                          const QByteArray &body = {}, const QList<QPair<QByteArray, QByteArray>> &headers = {});

    // Writes `request` verbatim on a fresh TCP connection and returns the first
    // status line's code (and the rest of the answer read within 10 s).
    struct RawReply
    {
        int status = 0;
        QByteArray raw;
    };
    RawReply rawRequest(std::uint16_t port, const QByteArray &request);
    // A websocket upgrade request for `path` with extra header lines ("Name: value").
    QByteArray upgradeRequest(std::uint16_t port, const QByteArray &path, const QList<QByteArray> &headerLines);

    // A blocking websocket client on a raw QTcpSocket, for loops of thousands
    // of sessions and for timing: no event loop, no thread. It can end a
    // session abruptly (TCP reset, no close frame), which no websocket library
    // offers. Client frames are masked as RFC 6455 requires.
    class RawWsClient
    {
    public:
        struct Frame
        {
            int opcode = -1;  // 1 text, 8 close, ...; -1: nothing within the timeout / connection gone
            QByteArray payload;
        };

        RawWsClient();
        ~RawWsClient();
        RawWsClient(const RawWsClient &) = delete;
        RawWsClient &operator=(const RawWsClient &) = delete;

        // TCP connect and the upgrade with a bearer token; true on 101.
        bool open(std::uint16_t port, const QString &token, int timeoutMs = 10000);
        bool sendText(const QByteArray &text);
        bool sendJson(const QJsonObject &message);
        // One whole frame; `masked` false breaks RFC 6455 5.1 on purpose.
        bool sendFrame(int opcode, const QByteArray &payload, bool masked = true);
        // Queues `bytes` and waits up to timeoutMs for them to leave; false once
        // the connection is gone (reset or closed by the peer).
        bool writeRaw(const QByteArray &bytes, int timeoutMs);
        // A frame as the client sends it (masked unless told otherwise).
        static QByteArray clientFrame(int opcode, const QByteArray &payload, bool masked = true);
        // The next frame (waits up to timeoutMs).
        Frame readFrame(int timeoutMs);
        // Reads until a close frame (its code; text frames are kept in texts())
        // or until a text frame contains `marker` (returns 0). -1: timeout or the
        // connection dropped without a close frame.
        int waitForCloseOr(const QByteArray &marker, int timeoutMs);
        // A close frame with `code` (the server answers with its own).
        void close(quint16 code = 1000);
        // SO_LINGER 0 then close: the peer gets a TCP RST, no close frame.
        void reset();
        bool isOpen() const;
        const QList<QByteArray> &texts() const;
        QString closeReason() const;

    private:
        bool fill(qsizetype bytes, int timeoutMs);

        std::unique_ptr<QTcpSocket> m_socket;
        QByteArray m_buffer;
        QList<QByteArray> m_texts;
        QString m_closeReason;
    };

    // A websocket client that records everything it receives.
    class WsProbe final : public QObject
    {
        Q_OBJECT

    public:
        explicit WsProbe(QObject *parent = nullptr);
        ~WsProbe() override;

        // `caFile`: trust this CA (PEM) for wss://.
        void open(const QUrl &url, const QString &token, bool tokenAsSubprotocol = false, const QString &caFile = {});
        bool sendJson(const QJsonObject &message);
        bool sendText(const QString &text);
        void close(quint16 code = 1000);

        bool isConnected() const;
        bool hasFailed() const;
        bool isClosed() const;
        const Transport::CloseInfo &closeInfo() const;
        const Transport::ConnectFailure &failure() const;
        QString subprotocol() const;

        // Every frame as received, and its parse (invalid frames are kept as text only).
        const QStringList &frames() const;
        QList<Protocol::NewCheckpoint> checkpoints() const;
        QList<Protocol::RunStatusMessage> runStatuses() const;
        QList<Protocol::LockStatus> lockStatuses() const;
        // The latest runStatus seen, if any.
        std::optional<RunStatus> lastRunStatus() const;
        bool sawRunStatus(RunStatus status) const;
        // seq of every incremental newCheckpoint, in order.
        QList<qint64> seqs() const;
        // The ui_chat_log entries of every newCheckpoint, in order of arrival.
        QList<QJsonObject> deliveredEntries() const;
        // Entries folded by message_id (the latest version wins), in first-seen order.
        QList<QJsonObject> reconstructedLog() const;

        // Convenience messages.
        static QJsonObject startRequest(const QString &workflowId, const QString &goal, const QString &flow = {},
                                        bool incremental = true);
        static QJsonObject subscribe(const QString &workflowId, std::optional<qint64> afterSeq = std::nullopt);

    private:
        Transport::WebSocketClient *m_client = nullptr;
        bool m_connected = false;
        bool m_failed = false;
        bool m_closed = false;
        Transport::CloseInfo m_closeInfo;
        Transport::ConnectFailure m_failure;
        QString m_subprotocol;
        QStringList m_frames;
        QList<Protocol::ServerMessage> m_messages;
    };

    // Store backends for data-driven tests: "sqlite" (a file in a temporary
    // folder) or "postgresql" (a fresh database on one TempPostgres per process,
    // started on first use).
    class StoreBackends
    {
    public:
        StoreBackends();
        ~StoreBackends();
        // A fresh --store value of that kind; empty with `error` set on failure.
        QString newStore(const QString &kind, QString *error);

    private:
        std::unique_ptr<QTemporaryDir> m_dir;
        std::unique_ptr<TempPostgres> m_postgres;
        bool m_postgresFailed = false;
        QString m_postgresError;
        int m_counter = 0;
    };

    // ---- Shared pieces of the gateway tests ----

    // The "store" column with one row per backend: "sqlite" and "postgresql".
    void addStoreRows();
    // A fresh --store value of `kind`; empty (and the reason logged) on failure.
    QString newStoreOrWarn(StoreBackends &stores, const QString &kind);
    // "--step-delay-scale 0.01 --flows <flowsDir> --poll-interval 100ms": flows sped up 100x.
    QStringList fastFlowArguments(const QString &flowsDir);
    // A started gateway with --store `storeSpec` plus `arguments`; nullptr (the
    // reason logged) when the spec is empty or the gateway does not start.
    std::unique_ptr<GatewayProcess> startGatewayOn(const QString &storeSpec, const QStringList &arguments);
    // GET /api/v1/workflows/<id> and GET /api/v1/workflows/<id>/lock, as JSON.
    QJsonObject runOf(const GatewayProcess &gateway, const QString &id);
    QJsonObject lockOf(const GatewayProcess &gateway, const QString &id);
    // Whether `probe` received a lockStatus in `state`.
    bool sawLockState(const WsProbe &probe, Protocol::LockState state);
    // `count` agent steps of `delayMs` each ("step 0", "step 1", ...).
    QJsonArray agentSteps(int count, int delayMs);
    // One RESP command to the Redis on 127.0.0.1:`port` on a fresh connection,
    // behind the gateway's back (FLUSHALL, DEL, SCAN); the raw reply.
    QByteArray redisCommand(std::uint16_t port, const QList<QByteArray> &words);
    // Writes <dir>/<name>.json as {"steps": steps}; false if it cannot be opened.
    bool writeFlowFile(const QString &dir, const QString &name, const QJsonArray &steps);
}  // namespace Lockstep::Test
