#pragma once

#include <QLatin1StringView>

// The one place that spells the wire names of SPEC.md. Parsers, serializers,
// the gateway and the console all use these; tests spell the contract literally.
namespace Lockstep::Protocol::Names
{
    // Message kinds: the single top-level key of a frame.
    inline constexpr QLatin1StringView StartRequest{"startRequest"};
    inline constexpr QLatin1StringView Subscribe{"subscribe"};
    inline constexpr QLatin1StringView Heartbeat{"heartbeat"};
    inline constexpr QLatin1StringView StopWorkflow{"stopWorkflow"};
    inline constexpr QLatin1StringView ActionResponse{"actionResponse"};
    inline constexpr QLatin1StringView NewCheckpoint{"newCheckpoint"};
    inline constexpr QLatin1StringView LockStatus{"lockStatus"};
    inline constexpr QLatin1StringView RunStatus{"runStatus"};

    // Top-level companion of a message kind (not a kind itself).
    inline constexpr QLatin1StringView RequestId{"requestID"};

    // Message fields.
    inline constexpr QLatin1StringView WorkflowId{"workflowID"};
    inline constexpr QLatin1StringView Goal{"goal"};
    inline constexpr QLatin1StringView ClientVersion{"clientVersion"};
    inline constexpr QLatin1StringView ClientCapabilities{"clientCapabilities"};
    inline constexpr QLatin1StringView WorkflowMetadata{"workflowMetadata"};
    inline constexpr QLatin1StringView Approval{"approval"};
    inline constexpr QLatin1StringView Timestamp{"timestamp"};
    inline constexpr QLatin1StringView Reason{"reason"};
    inline constexpr QLatin1StringView Status{"status"};
    inline constexpr QLatin1StringView Errors{"errors"};
    inline constexpr QLatin1StringView Checkpoint{"checkpoint"};
    inline constexpr QLatin1StringView State{"state"};
    inline constexpr QLatin1StringView Holder{"holder"};
    inline constexpr QLatin1StringView Fence{"fence"};
    inline constexpr QLatin1StringView TtlMs{"ttlMs"};
    inline constexpr QLatin1StringView At{"at"};

    // Client capabilities.
    inline constexpr QLatin1StringView IncrementalStreaming{"incremental_streaming"};

    // Checkpoint payload.
    inline constexpr QLatin1StringView ChannelValues{"channel_values"};
    inline constexpr QLatin1StringView UiChatLog{"ui_chat_log"};
    inline constexpr QLatin1StringView Seq{"seq"};

    // ui_chat_log entry.
    inline constexpr QLatin1StringView MessageId{"message_id"};
    inline constexpr QLatin1StringView MessageType{"message_type"};
    inline constexpr QLatin1StringView MessageSubType{"message_sub_type"};
    inline constexpr QLatin1StringView Content{"content"};
    // Timestamp and Status above are shared with the messages.
    inline constexpr QLatin1StringView CorrelationId{"correlation_id"};
    inline constexpr QLatin1StringView ToolInfo{"tool_info"};
    inline constexpr QLatin1StringView ToolName{"name"};
    inline constexpr QLatin1StringView ToolArgs{"args"};
    inline constexpr QLatin1StringView ToolResponse{"tool_response"};
    inline constexpr QLatin1StringView AdditionalContext{"additional_context"};
}  // namespace Lockstep::Protocol::Names
