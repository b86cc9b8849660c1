#pragma once

#include <optional>

#include <QByteArrayView>
#include <QJsonArray>
#include <QJsonObject>
#include <QJsonValue>
#include <QLatin1StringView>
#include <QString>
#include <QStringList>

#include "common/result.h"
#include "protocol/protocolerror.h"

// Strict JSON intake shared by the websocket messages, the checkpoint payload
// and (for the gateway) HTTP request bodies.
namespace Lockstep::Protocol
{
    // Qt refuses nesting beyond 1024 levels by itself; we refuse beyond 64,
    // before Qt's recursive parser runs. No message of SPEC.md needs more than
    // a handful; the rest is headroom for approval/actionResponse/tool args.
    inline constexpr int MaxNestingDepth = 64;
    // Largest integer a JSON number holds exactly in every client (2^53 - 1).
    inline constexpr qint64 MaxSafeInteger = (qint64{1} << 53) - 1;

    // Parses one JSON document that must be an object. Checks, in this order:
    // not empty (EmptyFrame), well-formed UTF-8 (InvalidUtf8), nesting and raw
    // control characters in strings (TooDeep, InvalidJson; Qt lets raw control
    // characters through), then QJsonDocument (InvalidJson), then the type
    // (NotAnObject). `what` starts every reason ("frame", "startRequest.workflowMetadata").
    // Duplicate keys are not an error: the last one wins (Qt's behaviour).
    Result<QJsonObject, ProtocolError> parseJsonObject(QByteArrayView utf8, const QString &what);

    // "string", "number", "boolean", "array", "object", "null", "undefined".
    QString jsonTypeName(const QJsonValue &value);
    // The exact integer a JSON number holds, nullopt for a non-number, a
    // fraction or a number beyond qint64.
    std::optional<qint64> exactInteger(const QJsonValue &value);
    // A ProtocolError whose reason is "<field>: <detail>".
    ProtocolError makeError(ProtocolErrorKind kind, const QString &field, const QString &detail);

    enum class Presence
    {
        Required,
        Optional,
    };

    // Reads typed fields of one JSON object, keeping the first failure. A field
    // that is null counts as absent. Unknown fields are ignored. Reads after a
    // failure return defaults, so a parser can read everything and check ok() once.
    class FieldReader
    {
    public:
        // `path` prefixes reasons: FieldReader(o, QStringLiteral("heartbeat")) reports
        // "heartbeat.timestamp: missing".
        FieldReader(QJsonObject object, QString path);

        QString string(QLatin1StringView name, Presence presence = Presence::Optional);
        // A required string checked by isValidWorkflowId().
        QString workflowId(QLatin1StringView name);
        // An integer in [min, max]; `fallback` when optional and absent.
        qint64 integer(QLatin1StringView name, Presence presence, qint64 fallback = 0, qint64 min = 0,
                       qint64 max = MaxSafeInteger);
        // An array whose every element is a string.
        QStringList stringList(QLatin1StringView name, Presence presence = Presence::Optional);
        std::optional<QJsonObject> object(QLatin1StringView name, Presence presence = Presence::Optional);
        std::optional<QJsonArray> array(QLatin1StringView name, Presence presence = Presence::Optional);
        // Any JSON value; Undefined when absent or null.
        QJsonValue value(QLatin1StringView name) const;

        bool ok() const;
        // The first failure; only meaningful when !ok().
        const ProtocolError &error() const;
        QString fieldPath(QLatin1StringView name) const;
        // Records a failure unless one is recorded already.
        void fail(ProtocolErrorKind kind, const QString &field, const QString &detail);
        // Records a nested reader's failure as is, unless one is recorded already.
        void fail(const ProtocolError &error);

    private:
        std::optional<QJsonValue> lookUp(QLatin1StringView name, Presence presence);
        bool expectType(QLatin1StringView name, const QJsonValue &value, QJsonValue::Type type);

        QJsonObject m_object;
        QString m_path;
        std::optional<ProtocolError> m_error;
    };
}  // namespace Lockstep::Protocol
