#include "messages.h"

#include <QJsonArray>
#include <QJsonDocument>

#include "protocol/jsonreader.h"
#include "protocol/names.h"

namespace Lockstep::Protocol
{
    namespace
    {
        constexpr LockState AllLockStates[] = {
            LockState::Acquired, LockState::Refreshed, LockState::Lost, LockState::Released, LockState::Unavailable,
        };

        const QString FrameWhat = QStringLiteral("frame");

        // A client-chosen key goes into a reason (and a log) only when it is
        // short and plain.
        QString quotedIfPlain(const QString &key)
        {
            if (key.isEmpty() || (key.size() > 32))
                return {};
            for (const QChar c : key)
            {
                if ((c.unicode() > 0x7F) || !(c.isLetterOrNumber() || (c == u'_')))
                    return {};
            }
            return u" \"" + key + u'"';
        }

        struct Envelope
        {
            QJsonObject frame;
            QString kind;
            QJsonObject body;
        };

        Result<Envelope, ProtocolError> openEnvelope(const QByteArrayView bytes,
                                                     std::initializer_list<QLatin1StringView> kinds)
        {
            auto parsed = parseJsonObject(bytes, FrameWhat);
            if (!parsed)
                return unexpected(std::move(parsed).error());
            Envelope envelope{.frame = std::move(parsed).value()};

            QStringList keys;
            for (auto it = envelope.frame.constBegin(); it != envelope.frame.constEnd(); ++it)
            {
                if (it.key() != Names::RequestId)
                    keys.append(it.key());
            }
            QStringList expected;
            for (const QLatin1StringView kind : kinds)
                expected.append(kind);
            if (keys.isEmpty())
                return unexpected(makeError(ProtocolErrorKind::NoMessageKey, FrameWhat,
                                            u"no message key (expected one of " + expected.join(u", ") + u')'));
            if (keys.size() > 1)
                return unexpected(makeError(ProtocolErrorKind::SeveralMessageKeys, FrameWhat,
                                            QStringLiteral("%1 message keys, expected exactly one").arg(keys.size())));
            envelope.kind = keys.first();
            if (!expected.contains(envelope.kind))
                return unexpected(makeError(ProtocolErrorKind::UnknownMessageKind, FrameWhat,
                                            u"unknown message kind" + quotedIfPlain(envelope.kind) +
                                                u" (expected one of " + expected.join(u", ") + u')'));
            const QJsonValue body = envelope.frame.value(envelope.kind);
            if (!body.isObject())
                return unexpected(makeError(ProtocolErrorKind::WrongType, envelope.kind,
                                            u"expected object, got " + jsonTypeName(body)));
            envelope.body = body.toObject();
            return envelope;
        }

        template <typename T>
        Result<T, ProtocolError> finish(const FieldReader &reader, T message)
        {
            if (!reader.ok())
                return unexpected(reader.error());
            return message;
        }

        Result<StartRequest, ProtocolError> readStartRequest(const QJsonObject &body)
        {
            FieldReader reader(body, QString(Names::StartRequest));
            StartRequest message;
            message.workflowID = reader.workflowId(Names::WorkflowId);
            message.goal = reader.string(Names::Goal);
            message.clientVersion = reader.string(Names::ClientVersion);
            message.clientCapabilities = reader.stringList(Names::ClientCapabilities);
            const QString metadata = reader.string(Names::WorkflowMetadata);
            if (reader.ok() && !metadata.isEmpty())
            {
                const QString field = reader.fieldPath(Names::WorkflowMetadata);
                const QByteArray utf8 = metadata.toUtf8();
                auto object = parseJsonObject(utf8, field);
                if (object)
                    message.workflowMetadata = std::move(object).value();
                else
                    reader.fail(ProtocolErrorKind::InvalidValue, field,
                                u"not a JSON object string (" + errorKindName(object.error().kind) + u')');
            }
            message.approval = reader.object(Names::Approval);
            return finish(reader, std::move(message));
        }

        Result<Subscribe, ProtocolError> readSubscribe(const QJsonObject &body)
        {
            FieldReader reader(body, QString(Names::Subscribe));
            Subscribe message;
            message.workflowID = reader.workflowId(Names::WorkflowId);
            return finish(reader, std::move(message));
        }

        Result<Heartbeat, ProtocolError> readHeartbeat(const QJsonObject &body)
        {
            FieldReader reader(body, QString(Names::Heartbeat));
            Heartbeat message;
            message.timestamp = reader.integer(Names::Timestamp, Presence::Required);
            return finish(reader, message);
        }

        Result<StopWorkflow, ProtocolError> readStopWorkflow(const QJsonObject &body)
        {
            FieldReader reader(body, QString(Names::StopWorkflow));
            StopWorkflow message;
            message.reason = reader.string(Names::Reason);
            return finish(reader, std::move(message));
        }

        RunStatus readRunStatus(FieldReader &reader)
        {
            const QString text = reader.string(Names::Status, Presence::Required);
            if (!reader.ok())
                return RunStatus::Created;
            if (const auto status = runStatusFromString(text))
                return *status;
            reader.fail(ProtocolErrorKind::InvalidValue, reader.fieldPath(Names::Status),
                        QStringLiteral("not a run status"));
            return RunStatus::Created;
        }

        Result<NewCheckpoint, ProtocolError> readNewCheckpoint(const QJsonObject &body)
        {
            FieldReader reader(body, QString(Names::NewCheckpoint));
            NewCheckpoint message;
            message.status = readRunStatus(reader);
            message.goal = reader.string(Names::Goal);
            message.errors = reader.stringList(Names::Errors);
            message.checkpoint = reader.string(Names::Checkpoint, Presence::Required);
            return finish(reader, std::move(message));
        }

        Result<LockStatus, ProtocolError> readLockStatus(const QJsonObject &body)
        {
            FieldReader reader(body, QString(Names::LockStatus));
            LockStatus message;
            message.workflowID = reader.workflowId(Names::WorkflowId);
            const QString state = reader.string(Names::State, Presence::Required);
            if (reader.ok())
            {
                if (const auto parsed = lockStateFromString(state))
                    message.state = *parsed;
                else
                    reader.fail(ProtocolErrorKind::InvalidValue, reader.fieldPath(Names::State),
                                QStringLiteral("must be one of acquired, refreshed, lost, released, unavailable"));
            }
            message.holder = reader.string(Names::Holder);
            message.fence = reader.integer(Names::Fence, Presence::Optional);
            message.ttlMs = reader.integer(Names::TtlMs, Presence::Optional);
            message.at = reader.integer(Names::At, Presence::Optional);
            return finish(reader, std::move(message));
        }

        Result<RunStatusMessage, ProtocolError> readRunStatusMessage(const QJsonObject &body)
        {
            FieldReader reader(body, QString(Names::RunStatus));
            RunStatusMessage message;
            message.workflowID = reader.workflowId(Names::WorkflowId);
            message.status = readRunStatus(reader);
            message.reason = reader.string(Names::Reason);
            return finish(reader, std::move(message));
        }

        // Widens Result<T> to Result<Variant>.
        template <typename Variant, typename T>
        Result<Variant, ProtocolError> widen(Result<T, ProtocolError> result)
        {
            if (!result)
                return unexpected(std::move(result).error());
            return Variant(std::move(result).value());
        }

        template <typename T>
        Result<T, ProtocolError> withRequestId(Result<T, ProtocolError> result, const QString &requestID)
        {
            if (result)
                result->requestID = requestID;
            return result;
        }

        QByteArray compact(const QJsonObject &object)
        {
            return QJsonDocument(object).toJson(QJsonDocument::Compact);
        }

        QJsonObject envelope(const QLatin1StringView kind, const QJsonObject &body, const QString &requestID = {})
        {
            QJsonObject frame;
            frame.insert(kind, body);
            if (!requestID.isEmpty())
                frame.insert(Names::RequestId, requestID);
            return frame;
        }

        template <class... Ts>
        struct Overloaded : Ts...
        {
            using Ts::operator()...;
        };
        template <class... Ts>
        Overloaded(Ts...) -> Overloaded<Ts...>;
    }  // namespace

    bool StartRequest::hasCapability(const QStringView capability) const
    {
        for (const QString &item : clientCapabilities)
        {
            if (item == capability)
                return true;
        }
        return false;
    }

    bool StartRequest::wantsIncrementalStreaming() const
    {
        return hasCapability(QString(Names::IncrementalStreaming));
    }

    QString toWireString(const LockState state)
    {
        switch (state)
        {
        case LockState::Acquired: return QStringLiteral("acquired");
        case LockState::Refreshed: return QStringLiteral("refreshed");
        case LockState::Lost: return QStringLiteral("lost");
        case LockState::Released: return QStringLiteral("released");
        case LockState::Unavailable: return QStringLiteral("unavailable");
        }
        return {};
    }

    std::optional<LockState> lockStateFromString(const QStringView text)
    {
        for (const LockState state : AllLockStates)
        {
            if (text == toWireString(state))
                return state;
        }
        return std::nullopt;
    }

    QString humanName(const LockState state)
    {
        if (state == LockState::Unavailable)
            return QStringLiteral("lock store unavailable");
        return toWireString(state);
    }

    QString messageKind(const ClientMessage &message)
    {
        return std::visit(Overloaded{
                              [](const StartRequest &) { return QString(Names::StartRequest); },
                              [](const Subscribe &) { return QString(Names::Subscribe); },
                              [](const Heartbeat &) { return QString(Names::Heartbeat); },
                              [](const StopWorkflow &) { return QString(Names::StopWorkflow); },
                              [](const ActionResponse &) { return QString(Names::ActionResponse); },
                          },
                          message);
    }

    QString messageKind(const ServerMessage &message)
    {
        return std::visit(Overloaded{
                              [](const NewCheckpoint &) { return QString(Names::NewCheckpoint); },
                              [](const LockStatus &) { return QString(Names::LockStatus); },
                              [](const RunStatusMessage &) { return QString(Names::RunStatus); },
                          },
                          message);
    }

    Result<ClientMessage, ProtocolError> parseClientMessage(const QByteArrayView frame)
    {
        auto opened = openEnvelope(frame, {Names::StartRequest, Names::Subscribe, Names::Heartbeat, Names::StopWorkflow,
                                           Names::ActionResponse});
        if (!opened)
            return unexpected(std::move(opened).error());
        const Envelope &envelope = opened.value();
        if (envelope.kind == Names::StartRequest)
            return widen<ClientMessage>(readStartRequest(envelope.body));
        if (envelope.kind == Names::Subscribe)
            return widen<ClientMessage>(readSubscribe(envelope.body));
        if (envelope.kind == Names::Heartbeat)
            return widen<ClientMessage>(readHeartbeat(envelope.body));
        if (envelope.kind == Names::StopWorkflow)
            return widen<ClientMessage>(readStopWorkflow(envelope.body));
        return ClientMessage(ActionResponse{.payload = envelope.body});
    }

    Result<ServerMessage, ProtocolError> parseServerMessage(const QByteArrayView frame)
    {
        auto opened = openEnvelope(frame, {Names::NewCheckpoint, Names::LockStatus, Names::RunStatus});
        if (!opened)
            return unexpected(std::move(opened).error());
        const Envelope &envelope = opened.value();

        FieldReader top(envelope.frame, {});
        const QString requestID = top.string(Names::RequestId);
        if (!top.ok())
            return unexpected(top.error());

        if (envelope.kind == Names::NewCheckpoint)
            return widen<ServerMessage>(withRequestId(readNewCheckpoint(envelope.body), requestID));
        if (envelope.kind == Names::LockStatus)
            return widen<ServerMessage>(withRequestId(readLockStatus(envelope.body), requestID));
        return widen<ServerMessage>(withRequestId(readRunStatusMessage(envelope.body), requestID));
    }

    QByteArray serialize(const ClientMessage &message)
    {
        return compact(std::visit(
            Overloaded{
                [](const StartRequest &m) {
                    QJsonObject body;
                    body.insert(Names::WorkflowId, m.workflowID);
                    body.insert(Names::Goal, m.goal);
                    if (!m.clientVersion.isEmpty())
                        body.insert(Names::ClientVersion, m.clientVersion);
                    if (!m.clientCapabilities.isEmpty())
                        body.insert(Names::ClientCapabilities, QJsonArray::fromStringList(m.clientCapabilities));
                    if (!m.workflowMetadata.isEmpty())
                        body.insert(Names::WorkflowMetadata, QString::fromUtf8(compact(m.workflowMetadata)));
                    if (m.approval)
                        body.insert(Names::Approval, *m.approval);
                    return envelope(Names::StartRequest, body);
                },
                [](const Subscribe &m) {
                    QJsonObject body;
                    body.insert(Names::WorkflowId, m.workflowID);
                    return envelope(Names::Subscribe, body);
                },
                [](const Heartbeat &m) {
                    QJsonObject body;
                    body.insert(Names::Timestamp, m.timestamp);
                    return envelope(Names::Heartbeat, body);
                },
                [](const StopWorkflow &m) {
                    QJsonObject body;
                    body.insert(Names::Reason, m.reason);
                    return envelope(Names::StopWorkflow, body);
                },
                [](const ActionResponse &m) { return envelope(Names::ActionResponse, m.payload); },
            },
            message));
    }

    QByteArray serialize(const ServerMessage &message)
    {
        return compact(std::visit(Overloaded{
                                      [](const NewCheckpoint &m) {
                                          QJsonObject body;
                                          body.insert(Names::Status, toWireString(m.status));
                                          body.insert(Names::Goal, m.goal);
                                          body.insert(Names::Errors, QJsonArray::fromStringList(m.errors));
                                          body.insert(Names::Checkpoint, m.checkpoint);
                                          return envelope(Names::NewCheckpoint, body, m.requestID);
                                      },
                                      [](const LockStatus &m) {
                                          QJsonObject body;
                                          body.insert(Names::WorkflowId, m.workflowID);
                                          body.insert(Names::State, toWireString(m.state));
                                          body.insert(Names::Holder, m.holder);
                                          body.insert(Names::Fence, m.fence);
                                          body.insert(Names::TtlMs, m.ttlMs);
                                          body.insert(Names::At, m.at);
                                          return envelope(Names::LockStatus, body, m.requestID);
                                      },
                                      [](const RunStatusMessage &m) {
                                          QJsonObject body;
                                          body.insert(Names::WorkflowId, m.workflowID);
                                          body.insert(Names::Status, toString(m.status));
                                          body.insert(Names::Reason, m.reason);
                                          return envelope(Names::RunStatus, body, m.requestID);
                                      },
                                  },
                                  message));
    }
}  // namespace Lockstep::Protocol
