#pragma once

#include <cstdint>

#include <QString>

namespace Lockstep::Protocol
{
    // Why a frame (or a JSON document inside one) was refused. Every kind
    // closes a websocket with 4400 (invalid request).
    enum class ProtocolErrorKind
    {
        EmptyFrame,          // zero bytes or only whitespace
        InvalidUtf8,         // not well-formed UTF-8 (overlong forms and surrogates included)
        InvalidJson,         // syntax error, truncated, trailing garbage, raw control character in a string
        TooDeep,             // arrays/objects nested deeper than MaxNestingDepth
        NotAnObject,         // valid JSON, but the top level is not an object
        NoMessageKey,        // an object without a message kind
        SeveralMessageKeys,  // more than one message kind in one frame
        UnknownMessageKind,  // the one key is not a message this side accepts
        MissingField,        // a required field is absent (or null)
        WrongType,           // a field has the wrong JSON type
        InvalidValue,        // a string breaks its rule: empty or over-long ID, forbidden
                             // character, unknown enum value, timestamp without offset,
                             // workflowMetadata not a JSON object
        OutOfRange,          // a number that is not an integer or lies outside its range
    };

    // A short name of the kind ("missing field"), for logs and tests. Not named
    // toString: QTest would pick it up through ADL and QCOMPARE would not compile.
    QString errorKindName(ProtocolErrorKind kind);

    struct ProtocolError
    {
        ProtocolErrorKind kind = ProtocolErrorKind::InvalidJson;
        // Names the field and the problem: "startRequest.workflowID: missing".
        // Never echoes client text beyond short, charset-checked names.
        QString reason;

        // The websocket close code for this error: always 4400.
        std::uint16_t closeCode() const;
        // `reason` cut on a UTF-8 boundary to the 123 bytes a close frame can carry.
        QString closeReason() const;
    };
}  // namespace Lockstep::Protocol
