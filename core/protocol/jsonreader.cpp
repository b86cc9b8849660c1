#include "jsonreader.h"

#include <limits>

#include <QJsonDocument>
#include <QJsonParseError>

#include "protocol/workflowid.h"

namespace Lockstep::Protocol
{
    namespace
    {
        bool isJsonWhitespace(const char c)
        {
            return (c == ' ') || (c == '\t') || (c == '\n') || (c == '\r');
        }

        // One linear pass before Qt's recursive parser sees the bytes: nesting
        // depth and raw control characters inside strings (RFC 8259 forbids them,
        // Qt 6.4 accepts them, NUL included).
        std::optional<ProtocolError> scanStructure(const QByteArrayView utf8, const QString &what)
        {
            int depth = 0;
            bool inString = false;
            bool escaped = false;
            for (qsizetype i = 0; i < utf8.size(); ++i)
            {
                const auto c = static_cast<unsigned char>(utf8[i]);
                if (inString)
                {
                    if (escaped)
                        escaped = false;
                    else if (c == '\\')
                        escaped = true;
                    else if (c == '"')
                        inString = false;
                    else if (c < 0x20)
                        return makeError(
                            ProtocolErrorKind::InvalidJson, what,
                            QStringLiteral("invalid JSON (raw control character in a string at offset %1)").arg(i));
                    continue;
                }
                switch (c)
                {
                case '"': inString = true; break;
                case '{':
                case '[':
                    if (++depth > MaxNestingDepth)
                        return makeError(ProtocolErrorKind::TooDeep, what,
                                         QStringLiteral("nested deeper than %1 levels").arg(MaxNestingDepth));
                    break;
                case '}':
                case ']':
                    if (depth > 0)
                        --depth;
                    break;
                default: break;
                }
            }
            return std::nullopt;
        }
    }  // namespace

    ProtocolError makeError(const ProtocolErrorKind kind, const QString &field, const QString &detail)
    {
        return ProtocolError{.kind = kind, .reason = field + u": " + detail};
    }

    Result<QJsonObject, ProtocolError> parseJsonObject(const QByteArrayView utf8, const QString &what)
    {
        qsizetype first = 0;
        while ((first < utf8.size()) && isJsonWhitespace(utf8[first]))
            ++first;
        if (first == utf8.size())
            return unexpected(makeError(ProtocolErrorKind::EmptyFrame, what, QStringLiteral("empty")));
        // Qt 6.4 refuses malformed UTF-8 itself (tst_protocol checks that), but
        // its reason is a parse error; this makes the kind explicit.
        if (!utf8.isValidUtf8())
            return unexpected(makeError(ProtocolErrorKind::InvalidUtf8, what, QStringLiteral("not valid UTF-8")));
        if (auto error = scanStructure(utf8, what))
            return unexpected(std::move(*error));

        // No copy: Qt's parser reads up to size(), it needs no terminator.
        const QByteArray bytes = QByteArray::fromRawData(utf8.data(), utf8.size());
        QJsonParseError parseError;
        const QJsonDocument document = QJsonDocument::fromJson(bytes, &parseError);
        if (parseError.error == QJsonParseError::NoError)
        {
            if (document.isObject())
                return document.object();
            return unexpected(
                makeError(ProtocolErrorKind::NotAnObject, what, QStringLiteral("a JSON array, not an object")));
        }
        if (parseError.error == QJsonParseError::DeepNesting)
            return unexpected(makeError(ProtocolErrorKind::TooDeep, what, QStringLiteral("nested too deeply")));
        if (utf8[first] != '{')
        {
            // Qt refuses a scalar top level as "illegal value"; tell a valid
            // scalar (wrong shape) from garbage (bad syntax).
            QByteArray wrapped;
            wrapped.reserve(utf8.size() + 2);
            wrapped.append('[').append(utf8).append(']');
            QJsonParseError wrappedError;
            const QJsonDocument scalar = QJsonDocument::fromJson(wrapped, &wrappedError);
            if ((wrappedError.error == QJsonParseError::NoError) && (scalar.array().size() == 1))
                return unexpected(makeError(ProtocolErrorKind::NotAnObject, what,
                                            u"a JSON " + jsonTypeName(scalar.array().at(0)) + u", not an object"));
        }
        return unexpected(makeError(
            ProtocolErrorKind::InvalidJson, what,
            QStringLiteral("invalid JSON (%1 at offset %2)").arg(parseError.errorString()).arg(parseError.offset)));
    }

    QString jsonTypeName(const QJsonValue &value)
    {
        switch (value.type())
        {
        case QJsonValue::Null: return QStringLiteral("null");
        case QJsonValue::Bool: return QStringLiteral("boolean");
        case QJsonValue::Double: return QStringLiteral("number");
        case QJsonValue::String: return QStringLiteral("string");
        case QJsonValue::Array: return QStringLiteral("array");
        case QJsonValue::Object: return QStringLiteral("object");
        case QJsonValue::Undefined: return QStringLiteral("undefined");
        }
        return QStringLiteral("unknown");
    }

    std::optional<qint64> exactInteger(const QJsonValue &value)
    {
        if (!value.isDouble())
            return std::nullopt;
        // toInteger() answers the default for fractions and numbers beyond
        // qint64; the lowest qint64 is the sentinel (and refused with them).
        constexpr qint64 sentinel = std::numeric_limits<qint64>::min();
        const qint64 integer = value.toInteger(sentinel);
        if (integer == sentinel)
            return std::nullopt;
        return integer;
    }

    FieldReader::FieldReader(QJsonObject object, QString path)
        : m_object(std::move(object))
        , m_path(std::move(path))
    {}

    QString FieldReader::fieldPath(const QLatin1StringView name) const
    {
        return m_path.isEmpty() ? QString(name) : (m_path + u'.' + name);
    }

    void FieldReader::fail(const ProtocolErrorKind kind, const QString &field, const QString &detail)
    {
        if (!m_error)
            m_error = makeError(kind, field, detail);
    }

    void FieldReader::fail(const ProtocolError &error)
    {
        if (!m_error)
            m_error = error;
    }

    bool FieldReader::ok() const
    {
        return !m_error.has_value();
    }

    const ProtocolError &FieldReader::error() const
    {
        static const ProtocolError none{};
        return m_error ? *m_error : none;
    }

    std::optional<QJsonValue> FieldReader::lookUp(const QLatin1StringView name, const Presence presence)
    {
        const QJsonValue value = m_object.value(name);
        if (value.isUndefined() || value.isNull())
        {
            if (presence == Presence::Required)
                fail(ProtocolErrorKind::MissingField, fieldPath(name), QStringLiteral("missing"));
            return std::nullopt;
        }
        return value;
    }

    bool FieldReader::expectType(const QLatin1StringView name, const QJsonValue &value, const QJsonValue::Type type)
    {
        if (value.type() == type)
            return true;
        fail(ProtocolErrorKind::WrongType, fieldPath(name),
             u"expected " + jsonTypeName(QJsonValue(type)) + u", got " + jsonTypeName(value));
        return false;
    }

    QString FieldReader::string(const QLatin1StringView name, const Presence presence)
    {
        const auto value = lookUp(name, presence);
        if (!value || !expectType(name, *value, QJsonValue::String))
            return {};
        return value->toString();
    }

    QString FieldReader::workflowId(const QLatin1StringView name)
    {
        const auto value = lookUp(name, Presence::Required);
        if (!value || !expectType(name, *value, QJsonValue::String))
            return {};
        QString id = value->toString();
        if (const QString problem = workflowIdProblem(id); !problem.isEmpty())
        {
            fail(ProtocolErrorKind::InvalidValue, fieldPath(name), problem);
            return {};
        }
        return id;
    }

    qint64 FieldReader::integer(const QLatin1StringView name, const Presence presence, const qint64 fallback,
                                const qint64 min, const qint64 max)
    {
        const auto value = lookUp(name, presence);
        if (!value || !expectType(name, *value, QJsonValue::Double))
            return fallback;
        const std::optional<qint64> integer = exactInteger(*value);
        if (!integer || (*integer < min) || (*integer > max))
        {
            fail(ProtocolErrorKind::OutOfRange, fieldPath(name),
                 QStringLiteral("must be an integer from %1 to %2").arg(min).arg(max));
            return fallback;
        }
        return *integer;
    }

    QStringList FieldReader::stringList(const QLatin1StringView name, const Presence presence)
    {
        const auto value = lookUp(name, presence);
        if (!value || !expectType(name, *value, QJsonValue::Array))
            return {};
        const QJsonArray array = value->toArray();
        QStringList list;
        list.reserve(array.size());
        for (qsizetype i = 0; i < array.size(); ++i)
        {
            const QJsonValue element = array.at(i);
            if (!element.isString())
            {
                fail(ProtocolErrorKind::WrongType, fieldPath(name) + u'[' + QString::number(i) + u']',
                     u"expected string, got " + jsonTypeName(element));
                return {};
            }
            list.append(element.toString());
        }
        return list;
    }

    std::optional<QJsonObject> FieldReader::object(const QLatin1StringView name, const Presence presence)
    {
        const auto value = lookUp(name, presence);
        if (!value || !expectType(name, *value, QJsonValue::Object))
            return std::nullopt;
        return value->toObject();
    }

    std::optional<QJsonArray> FieldReader::array(const QLatin1StringView name, const Presence presence)
    {
        const auto value = lookUp(name, presence);
        if (!value || !expectType(name, *value, QJsonValue::Array))
            return std::nullopt;
        return value->toArray();
    }

    QJsonValue FieldReader::value(const QLatin1StringView name) const
    {
        const QJsonValue value = m_object.value(name);
        return value.isNull() ? QJsonValue(QJsonValue::Undefined) : value;
    }
}  // namespace Lockstep::Protocol
