#include "protocolerror.h"

#include "protocol/chatlog.h"
#include "protocol/closecode.h"

namespace Lockstep::Protocol
{
    namespace
    {
        // RFC 6455 5.5: control frame payload <= 125 bytes, 2 of them the code.
        constexpr qsizetype MaxCloseReasonBytes = 123;
    }

    QString errorKindName(const ProtocolErrorKind kind)
    {
        switch (kind)
        {
        case ProtocolErrorKind::EmptyFrame: return QStringLiteral("empty frame");
        case ProtocolErrorKind::InvalidUtf8: return QStringLiteral("invalid UTF-8");
        case ProtocolErrorKind::InvalidJson: return QStringLiteral("invalid JSON");
        case ProtocolErrorKind::TooDeep: return QStringLiteral("nested too deeply");
        case ProtocolErrorKind::NotAnObject: return QStringLiteral("not an object");
        case ProtocolErrorKind::NoMessageKey: return QStringLiteral("no message key");
        case ProtocolErrorKind::SeveralMessageKeys: return QStringLiteral("several message keys");
        case ProtocolErrorKind::UnknownMessageKind: return QStringLiteral("unknown message kind");
        case ProtocolErrorKind::MissingField: return QStringLiteral("missing field");
        case ProtocolErrorKind::WrongType: return QStringLiteral("wrong type");
        case ProtocolErrorKind::InvalidValue: return QStringLiteral("invalid value");
        case ProtocolErrorKind::OutOfRange: return QStringLiteral("out of range");
        }
        return QStringLiteral("unknown protocol error");
    }

    std::uint16_t ProtocolError::closeCode() const
    {
        return static_cast<std::uint16_t>(CloseCode::InvalidRequest);
    }

    QString ProtocolError::closeReason() const
    {
        const QByteArray utf8 = reason.toUtf8();
        return QString::fromUtf8(cutUtf8(utf8, MaxCloseReasonBytes));
    }
}  // namespace Lockstep::Protocol
