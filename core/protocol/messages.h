#pragma once

#include <optional>
#include <variant>

#include <QByteArray>
#include <QByteArrayView>
#include <QJsonObject>
#include <QString>
#include <QStringList>
#include <QStringView>

#include "common/result.h"
#include "protocol/protocolerror.h"
#include "protocol/runstatus.h"

// The websocket messages of SPEC.md. A frame is one JSON object with exactly
// one message key (plus, optionally, "requestID"). Parsers are strict on the
// shape, types and ranges of known fields and ignore unknown fields; every
// refusal is a ProtocolError (close code 4400). Serializers write compact JSON
// and trust their input (a serialized invalid ID is refused by the parser).
namespace Lockstep::Protocol
{
    // ---- client to server ----

    struct StartRequest
    {
        QString workflowID;              // required, see workflowid.h
        QString goal;                    // empty: resume; written always
        QString clientVersion;           // empty: not written
        QStringList clientCapabilities;  // e.g. "incremental_streaming"; empty: not written
        // On the wire a string holding a JSON object; empty: not written.
        // Parsing refuses a non-empty string that is not a JSON object (InvalidValue).
        QJsonObject workflowMetadata;
        std::optional<QJsonObject> approval;

        bool hasCapability(QStringView capability) const;
        bool wantsIncrementalStreaming() const;
        bool operator==(const StartRequest &) const = default;
    };

    struct Subscribe
    {
        QString workflowID;  // required

        bool operator==(const Subscribe &) const = default;
    };

    struct Heartbeat
    {
        qint64 timestamp = 0;  // required, epoch ms, 0 .. 2^53-1

        bool operator==(const Heartbeat &) const = default;
    };

    struct StopWorkflow
    {
        QString reason;  // optional; written always

        bool operator==(const StopWorkflow &) const = default;
    };

    struct ActionResponse
    {
        QJsonObject payload;  // the message body, any object

        bool operator==(const ActionResponse &) const = default;
    };

    using ClientMessage = std::variant<StartRequest, Subscribe, Heartbeat, StopWorkflow, ActionResponse>;

    // ---- server to client ----
    // requestID sits next to the message key; empty: not written.

    struct NewCheckpoint
    {
        RunStatus status = RunStatus::Running;  // UPPER case on the wire
        QString goal;
        QStringList errors;
        // JSON text: an IncrementalCheckpoint (chatlog.h) with
        // incremental_streaming, else the whole internal checkpoint. Required.
        QString checkpoint;
        QString requestID;

        bool operator==(const NewCheckpoint &) const = default;
    };

    enum class LockState
    {
        Acquired,
        Refreshed,
        Lost,
        Released,
        Unavailable,  // the lock store could not be reached
    };

    QString toWireString(LockState state);                           // "acquired"
    std::optional<LockState> lockStateFromString(QStringView text);  // exact spelling only
    // For the console: "acquired", ..., "lock store unavailable".
    QString humanName(LockState state);

    struct LockStatus
    {
        QString workflowID;                     // required
        LockState state = LockState::Acquired;  // required
        QString holder;                         // session/replica that holds it; optional
        qint64 fence = 0;                       // fencing token, 0 .. 2^53-1; optional (0)
        qint64 ttlMs = 0;                       // 0 .. 2^53-1; optional (0)
        qint64 at = 0;                          // when, epoch ms, 0 .. 2^53-1; optional (0)
        QString requestID;

        bool operator==(const LockStatus &) const = default;
    };

    struct RunStatusMessage
    {
        QString workflowID;                     // required
        RunStatus status = RunStatus::Created;  // required; lower case on the wire
        QString reason;                         // optional; written always
        QString requestID;

        bool operator==(const RunStatusMessage &) const = default;
    };

    using ServerMessage = std::variant<NewCheckpoint, LockStatus, RunStatusMessage>;

    // The message key: "startRequest", "lockStatus", ...
    QString messageKind(const ClientMessage &message);
    QString messageKind(const ServerMessage &message);

    // Client frames may carry a top-level "requestID"; it is ignored.
    Result<ClientMessage, ProtocolError> parseClientMessage(QByteArrayView frame);
    // Status spellings are accepted in either case; requestID must be a string.
    Result<ServerMessage, ProtocolError> parseServerMessage(QByteArrayView frame);

    // Compact JSON, UTF-8, ready for sendTextMessage(QString::fromUtf8(...)).
    QByteArray serialize(const ClientMessage &message);
    QByteArray serialize(const ServerMessage &message);
}  // namespace Lockstep::Protocol
