#pragma once

#include <optional>

#include <QByteArrayView>
#include <QDateTime>
#include <QJsonArray>
#include <QJsonObject>
#include <QJsonValue>
#include <QList>
#include <QString>
#include <QStringView>

#include "common/result.h"
#include "protocol/protocolerror.h"

// The ui_chat_log entry of SPEC.md and the incremental checkpoint payload.
namespace Lockstep::Protocol
{
    enum class MessageType
    {
        User,
        Agent,
        Tool,
        Request,
        WorkflowEnd,
    };

    enum class MessageStatus
    {
        Pending,
        Success,
        Failure,
    };

    QString toWireString(MessageType type);                                  // "workflow_end"
    std::optional<MessageType> messageTypeFromString(QStringView text);      // exact spelling only
    QString toWireString(MessageStatus status);                              // "pending"
    std::optional<MessageStatus> messageStatusFromString(QStringView text);  // exact spelling only

    // tool_response is cut to 4 KiB of UTF-8 on the wire.
    inline constexpr qsizetype MaxToolResponseBytes = 4096;
    // Ends a cut tool_response; counted within the 4 KiB.
    inline constexpr QStringView ToolResponseCutMarker = u"\n… [cut to 4 KiB]";

    // The longest prefix of `utf8` that is at most `maxBytes` long and does not
    // split a code point (`utf8` is assumed well-formed).
    QByteArrayView cutUtf8(QByteArrayView utf8, qsizetype maxBytes);
    // `text` if its UTF-8 fits in MaxToolResponseBytes; otherwise the longest
    // prefix that, with ToolResponseCutMarker appended, fits. Idempotent.
    QString cutToolResponse(const QString &text);

    struct ToolInfo
    {
        QString name;  // required
        QJsonObject args;
        std::optional<QString> toolResponse;  // cut by cutToolResponse() on both ends

        bool operator==(const ToolInfo &) const = default;
    };

    struct ChatLogEntry
    {
        QString messageId;  // required, non-empty
        MessageType messageType = MessageType::Agent;
        QString messageSubType;  // empty: not written
        QString content;
        // Required; serialized as ISO 8601 with milliseconds and an offset
        // ("...Z" for UTC). A local-time value is written with its current offset.
        QDateTime timestamp;
        std::optional<MessageStatus> status;
        QString correlationId;  // empty: not written
        std::optional<ToolInfo> toolInfo;
        QJsonValue additionalContext = QJsonValue::Undefined;  // undefined/null: not written

        // Compact-ready object; the tool_response is cut to 4 KiB.
        QJsonObject toJson() const;
        // Strict on message_id, message_type, status, timestamp (must carry an
        // offset) and on the types of known fields; extra fields are ignored.
        // null counts as absent. Reasons start with "ui_chat_log[]".
        static Result<ChatLogEntry, ProtocolError> fromJson(const QJsonValue &value);

        bool operator==(const ChatLogEntry &) const = default;
    };

    // `path` names the entry in reasons, e.g. "checkpoint.channel_values.ui_chat_log[3]".
    Result<ChatLogEntry, ProtocolError> chatLogEntryFromJson(const QJsonValue &value, const QString &path);
    // A whole ui_chat_log (the HTTP /chat answer, a checkpoint channel).
    QJsonArray chatLogToJson(const QList<ChatLogEntry> &entries);
    Result<QList<ChatLogEntry>, ProtocolError> chatLogFromJson(const QJsonArray &array,
                                                               const QString &path = QStringLiteral("ui_chat_log"));

    // newCheckpoint.checkpoint with incremental_streaming:
    // {"channel_values": {"ui_chat_log": [new or changed entries]}, "seq": N}.
    // A legacy full checkpoint has the same channel and no seq.
    struct IncrementalCheckpoint
    {
        QList<ChatLogEntry> uiChatLog;
        std::optional<qint64> seq;  // 0 .. 2^53-1; absent in a legacy checkpoint

        bool operator==(const IncrementalCheckpoint &) const = default;
    };

    // Compact JSON text, ready for NewCheckpoint::checkpoint.
    QString buildIncrementalCheckpoint(const IncrementalCheckpoint &checkpoint);
    QString buildIncrementalCheckpoint(const QList<ChatLogEntry> &entries, qint64 seq);
    // Parses NewCheckpoint::checkpoint (same UTF-8, depth and syntax checks as a
    // frame). channel_values and its ui_chat_log are required, seq is optional,
    // other fields of a legacy checkpoint are ignored. Reasons start with "checkpoint".
    Result<IncrementalCheckpoint, ProtocolError> parseCheckpointPayload(QStringView checkpoint);
    Result<IncrementalCheckpoint, ProtocolError> parseCheckpointPayload(QByteArrayView utf8);
}  // namespace Lockstep::Protocol
