#pragma once

#include <optional>

#include <QByteArray>
#include <QJsonArray>
#include <QJsonObject>
#include <QString>
#include <QStringView>

#include "common/result.h"

// The workspace agent's wire protocol (version 1)
// ===============================================
// Plain TCP on loopback; each message is one compact JSON object on one line
// (UTF-8, '\n' ends it, at most MaxLineBytes). The client speaks first:
//
//   C: {"hello": {"token": "<the agent's secret>", "challenge": "<random>"}}
//   A: {"hello": {"agentID": "...", "workspaceID": "...", "protocol": 1,
//                 "proof": helloProof(secret, challenge)}}
//      or {"error": {"code": "unauthorized", "message": "..."}} and the agent closes.
//
// The token is the agent's own secret (lockstep-agent generates one per start
// and sends it in its registration; --secret-file sets it), never a gateway
// token. The proof shows the client that the agent holds the same secret:
// AgentConnection refuses a hello without the right proof.
//
// After the hello, requests carry a client-chosen "id" (1 .. 2^53-1) that the
// answer repeats; answers may come in any order:
//
//   C: {"id": 1, "listTools": {}}
//   A: {"id": 1, "tools": [{"name": "read_file", "description": "...", "args": {...}}, ...]}
//   C: {"id": 2, "call": {"tool": "run_command", "args": {"argv": ["ls", "-la"], "timeoutMs": 5000}}}
//   A: {"id": 2, "result": {...}}   or   {"id": 2, "error": {"code": "...", "message": "...", "output": "..."}}
//
// Tools (paths are relative to the workspace folder; "..", absolute paths
// outside it, any symlink on the way and reading a file with several hard
// links are refused with "path_escape"):
//   read_file   {path}                      -> {content, size, truncated}
//   write_file  {path, content}             -> {bytesWritten}
//   list_dir    {path (default ".")}        -> {entries: [{name, type, size}], truncated}
//   run_command {argv: [program, args...] | program + arguments, timeoutMs, cwd}
//               -> {exitCode, output, truncated}; a command still running at its
//               limit is killed with every descendant: error "timed_out".
// Output (command output, file content) is capped at MaxOutputBytes and ends
// with OutputCutMarker when cut.
namespace Lockstep::Workspace::Wire
{
    inline constexpr int ProtocolVersion = 1;
    // One line, either direction (write_file content is at most MaxFileBytes
    // of text; JSON escaping may grow it).
    inline constexpr qsizetype MaxLineBytes = 8 * 1024 * 1024;
    // Before the hello is accepted the agent buffers at most this much (a
    // hello holds one token of at most 4096 characters); more closes the
    // connection with "too_large", so unauthenticated peers cannot make the
    // agent hold MaxLineBytes each.
    inline constexpr qsizetype MaxHelloBytes = 16 * 1024;
    inline constexpr qsizetype MaxOutputBytes = 64 * 1024;
    inline constexpr qsizetype MaxFileBytes = 1024 * 1024;
    inline constexpr int MaxDirEntries = 1000;
    inline constexpr QStringView OutputCutMarker = u"\n… [output cut at 64 KiB]";
    // The largest request id (JSON numbers are exact up to 2^53).
    inline constexpr qint64 MaxRequestId = (qint64(1) << 53) - 1;

    // Error codes ("error.code").
    namespace Codes
    {
        inline const QString BadRequest = QStringLiteral("bad_request");
        inline const QString Unauthorized = QStringLiteral("unauthorized");
        inline const QString UnknownTool = QStringLiteral("unknown_tool");
        inline const QString PathEscape = QStringLiteral("path_escape");
        inline const QString NotFound = QStringLiteral("not_found");
        inline const QString IoError = QStringLiteral("io_error");
        inline const QString TooLarge = QStringLiteral("too_large");
        inline const QString TimedOut = QStringLiteral("timed_out");
        inline const QString StartFailed = QStringLiteral("start_failed");
        inline const QString Busy = QStringLiteral("busy");
    }  // namespace Codes

    namespace Tools
    {
        inline const QString ReadFile = QStringLiteral("read_file");
        inline const QString WriteFile = QStringLiteral("write_file");
        inline const QString ListDir = QStringLiteral("list_dir");
        inline const QString RunCommand = QStringLiteral("run_command");
    }  // namespace Tools

    // The hello's proof: base64url(HMAC-SHA256(secret, "lockstep-agent-hello:" + challenge)).
    QByteArray helloProof(const QByteArray &secret, const QByteArray &challenge);
    // Equal bytes, compared in constant time for equal lengths.
    bool sameBytes(const QByteArray &a, const QByteArray &b);
    // The longest challenge an agent answers.
    inline constexpr qsizetype MaxChallengeBytes = 256;

    // The listTools answer of this agent build.
    QJsonArray toolDescriptions();

    // One message as a line (compact JSON and '\n').
    QByteArray encode(const QJsonObject &message);
    // A line without its '\n': must be a JSON object.
    Result<QJsonObject, QString> decode(const QByteArray &line);

    struct ErrorBody
    {
        QString code;
        QString message;
        QString output;  // partial output of a killed command, else empty
    };
    QJsonObject errorMessage(const ErrorBody &error, std::optional<qint64> id = std::nullopt);

    // `text` cut to MaxOutputBytes of UTF-8 (OutputCutMarker included) when
    // longer; `cut` tells whether it was.
    QString capOutput(const QByteArray &utf8, bool *cut);

    // Splits a byte stream into lines. A line longer than the limit is an error:
    // the peer is broken or hostile and the connection must close.
    class LineBuffer
    {
    public:
        explicit LineBuffer(qsizetype maxLineBytes = MaxLineBytes);

        // false: a line exceeds the limit.
        bool append(const QByteArray &data);
        // The next complete line (without '\n'), if any.
        std::optional<QByteArray> takeLine();

    private:
        QByteArray m_buffer;
        qsizetype m_maxLineBytes;
    };
}  // namespace Lockstep::Workspace::Wire
