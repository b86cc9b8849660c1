#include "chatlog.h"

#include <QJsonDocument>

#include "protocol/jsonreader.h"
#include "protocol/names.h"

namespace Lockstep::Protocol
{
    namespace
    {
        constexpr MessageType AllMessageTypes[] = {
            MessageType::User, MessageType::Agent, MessageType::Tool, MessageType::Request, MessageType::WorkflowEnd,
        };
        constexpr MessageStatus AllMessageStatuses[] = {
            MessageStatus::Pending,
            MessageStatus::Success,
            MessageStatus::Failure,
        };

        QString toIsoWithOffset(const QDateTime &timestamp)
        {
            // Qt writes no offset for local time; pin the current one.
            const Qt::TimeSpec spec = timestamp.timeSpec();
            if ((spec == Qt::UTC) || (spec == Qt::OffsetFromUTC))
                return timestamp.toString(Qt::ISODateWithMs);
            return timestamp.toOffsetFromUtc(timestamp.offsetFromUtc()).toString(Qt::ISODateWithMs);
        }
    }  // namespace

    QString toWireString(const MessageType type)
    {
        switch (type)
        {
        case MessageType::User: return QStringLiteral("user");
        case MessageType::Agent: return QStringLiteral("agent");
        case MessageType::Tool: return QStringLiteral("tool");
        case MessageType::Request: return QStringLiteral("request");
        case MessageType::WorkflowEnd: return QStringLiteral("workflow_end");
        }
        return {};
    }

    std::optional<MessageType> messageTypeFromString(const QStringView text)
    {
        for (const MessageType type : AllMessageTypes)
        {
            if (text == toWireString(type))
                return type;
        }
        return std::nullopt;
    }

    QString toWireString(const MessageStatus status)
    {
        switch (status)
        {
        case MessageStatus::Pending: return QStringLiteral("pending");
        case MessageStatus::Success: return QStringLiteral("success");
        case MessageStatus::Failure: return QStringLiteral("failure");
        }
        return {};
    }

    std::optional<MessageStatus> messageStatusFromString(const QStringView text)
    {
        for (const MessageStatus status : AllMessageStatuses)
        {
            if (text == toWireString(status))
                return status;
        }
        return std::nullopt;
    }

    QByteArrayView cutUtf8(const QByteArrayView utf8, const qsizetype maxBytes)
    {
        if (utf8.size() <= maxBytes)
            return utf8;
        if (maxBytes <= 0)
            return utf8.first(0);
        // utf8[end] is the first byte left out; while it continues a code
        // point, that code point would be split: leave it out whole.
        qsizetype end = maxBytes;
        while ((end > 0) && ((static_cast<unsigned char>(utf8[end]) & 0xC0) == 0x80))
            --end;
        return utf8.first(end);
    }

    QString cutToolResponse(const QString &text)
    {
        // At most 3 UTF-8 bytes per UTF-16 unit: short texts need no encoding.
        if ((text.size() * 3) <= MaxToolResponseBytes)
            return text;
        const QByteArray utf8 = text.toUtf8();
        if (utf8.size() <= MaxToolResponseBytes)
            return text;
        static const qsizetype markerBytes = ToolResponseCutMarker.toUtf8().size();
        return QString::fromUtf8(cutUtf8(utf8, MaxToolResponseBytes - markerBytes)) + ToolResponseCutMarker;
    }

    QJsonObject ChatLogEntry::toJson() const
    {
        QJsonObject object;
        object.insert(Names::MessageId, messageId);
        object.insert(Names::MessageType, toWireString(messageType));
        if (!messageSubType.isEmpty())
            object.insert(Names::MessageSubType, messageSubType);
        object.insert(Names::Content, content);
        object.insert(Names::Timestamp, toIsoWithOffset(timestamp));
        if (status)
            object.insert(Names::Status, toWireString(*status));
        if (!correlationId.isEmpty())
            object.insert(Names::CorrelationId, correlationId);
        if (toolInfo)
        {
            QJsonObject info;
            info.insert(Names::ToolName, toolInfo->name);
            info.insert(Names::ToolArgs, toolInfo->args);
            if (toolInfo->toolResponse)
                info.insert(Names::ToolResponse, cutToolResponse(*toolInfo->toolResponse));
            object.insert(Names::ToolInfo, info);
        }
        if (!additionalContext.isUndefined() && !additionalContext.isNull())
            object.insert(Names::AdditionalContext, additionalContext);
        return object;
    }

    Result<ChatLogEntry, ProtocolError> ChatLogEntry::fromJson(const QJsonValue &value)
    {
        return chatLogEntryFromJson(value, QStringLiteral("ui_chat_log[]"));
    }

    Result<ChatLogEntry, ProtocolError> chatLogEntryFromJson(const QJsonValue &value, const QString &path)
    {
        if (!value.isObject())
            return unexpected(
                makeError(ProtocolErrorKind::WrongType, path, u"expected object, got " + jsonTypeName(value)));
        FieldReader reader(value.toObject(), path);
        ChatLogEntry entry;

        entry.messageId = reader.string(Names::MessageId, Presence::Required);
        if (reader.ok() && entry.messageId.isEmpty())
            reader.fail(ProtocolErrorKind::InvalidValue, reader.fieldPath(Names::MessageId), QStringLiteral("empty"));

        const QString type = reader.string(Names::MessageType, Presence::Required);
        if (reader.ok())
        {
            if (const auto parsed = messageTypeFromString(type))
                entry.messageType = *parsed;
            else
                reader.fail(ProtocolErrorKind::InvalidValue, reader.fieldPath(Names::MessageType),
                            QStringLiteral("must be one of user, agent, tool, request, workflow_end"));
        }

        entry.messageSubType = reader.string(Names::MessageSubType);
        entry.content = reader.string(Names::Content);

        const QString timestamp = reader.string(Names::Timestamp, Presence::Required);
        if (reader.ok())
        {
            entry.timestamp = QDateTime::fromString(timestamp, Qt::ISODateWithMs);
            // Without an offset Qt reads local time; the contract wants the offset.
            if (!entry.timestamp.isValid() || (entry.timestamp.timeSpec() == Qt::LocalTime))
                reader.fail(ProtocolErrorKind::InvalidValue, reader.fieldPath(Names::Timestamp),
                            QStringLiteral("must be ISO 8601 with an offset"));
        }

        if (!reader.value(Names::Status).isUndefined())
        {
            const QString status = reader.string(Names::Status);
            if (reader.ok())
            {
                if (const auto parsed = messageStatusFromString(status))
                    entry.status = *parsed;
                else
                    reader.fail(ProtocolErrorKind::InvalidValue, reader.fieldPath(Names::Status),
                                QStringLiteral("must be one of pending, success, failure"));
            }
        }

        entry.correlationId = reader.string(Names::CorrelationId);

        if (const std::optional<QJsonObject> info = reader.object(Names::ToolInfo))
        {
            FieldReader toolReader(*info, reader.fieldPath(Names::ToolInfo));
            ToolInfo tool;
            tool.name = toolReader.string(Names::ToolName, Presence::Required);
            tool.args = toolReader.object(Names::ToolArgs).value_or(QJsonObject());
            if (!toolReader.value(Names::ToolResponse).isUndefined())
                tool.toolResponse = cutToolResponse(toolReader.string(Names::ToolResponse));
            if (toolReader.ok())
                entry.toolInfo = std::move(tool);
            else
                reader.fail(toolReader.error());
        }

        entry.additionalContext = reader.value(Names::AdditionalContext);

        if (!reader.ok())
            return unexpected(reader.error());
        return entry;
    }

    QJsonArray chatLogToJson(const QList<ChatLogEntry> &entries)
    {
        QJsonArray array;
        for (const ChatLogEntry &entry : entries)
            array.append(entry.toJson());
        return array;
    }

    Result<QList<ChatLogEntry>, ProtocolError> chatLogFromJson(const QJsonArray &array, const QString &path)
    {
        QList<ChatLogEntry> entries;
        entries.reserve(array.size());
        for (qsizetype i = 0; i < array.size(); ++i)
        {
            auto entry = chatLogEntryFromJson(array.at(i), path + u'[' + QString::number(i) + u']');
            if (!entry)
                return unexpected(std::move(entry).error());
            entries.append(std::move(entry).value());
        }
        return entries;
    }

    QString buildIncrementalCheckpoint(const IncrementalCheckpoint &checkpoint)
    {
        QJsonObject channels;
        channels.insert(Names::UiChatLog, chatLogToJson(checkpoint.uiChatLog));
        QJsonObject object;
        object.insert(Names::ChannelValues, channels);
        if (checkpoint.seq)
            object.insert(Names::Seq, *checkpoint.seq);
        return QString::fromUtf8(QJsonDocument(object).toJson(QJsonDocument::Compact));
    }

    QString buildIncrementalCheckpoint(const QList<ChatLogEntry> &entries, const qint64 seq)
    {
        return buildIncrementalCheckpoint(IncrementalCheckpoint{.uiChatLog = entries, .seq = seq});
    }

    Result<IncrementalCheckpoint, ProtocolError> parseCheckpointPayload(const QStringView checkpoint)
    {
        const QByteArray utf8 = checkpoint.toUtf8();
        return parseCheckpointPayload(QByteArrayView(utf8));
    }

    Result<IncrementalCheckpoint, ProtocolError> parseCheckpointPayload(const QByteArrayView utf8)
    {
        const QString path = QString(Names::Checkpoint);
        auto object = parseJsonObject(utf8, path);
        if (!object)
            return unexpected(std::move(object).error());

        FieldReader reader(*object, path);
        IncrementalCheckpoint checkpoint;
        if (!reader.value(Names::Seq).isUndefined())
            checkpoint.seq = reader.integer(Names::Seq, Presence::Required);
        const std::optional<QJsonObject> channels = reader.object(Names::ChannelValues, Presence::Required);
        if (!reader.ok())
            return unexpected(reader.error());

        FieldReader channelReader(*channels, reader.fieldPath(Names::ChannelValues));
        const std::optional<QJsonArray> log = channelReader.array(Names::UiChatLog, Presence::Required);
        if (!channelReader.ok())
            return unexpected(channelReader.error());
        auto entries = chatLogFromJson(*log, channelReader.fieldPath(Names::UiChatLog));
        if (!entries)
            return unexpected(std::move(entries).error());
        checkpoint.uiChatLog = std::move(entries).value();
        return checkpoint;
    }
}  // namespace Lockstep::Protocol
