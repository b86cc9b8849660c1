#include "closecode.h"

namespace Lockstep
{
    QString closeCodeMeaning(const std::uint16_t code)
    {
        switch (static_cast<CloseCode>(code))
        {
        case CloseCode::Normal: return QStringLiteral("closed");
        case CloseCode::GoingAway: return QStringLiteral("gateway restarting — reconnect");
        case CloseCode::PolicyViolation: return QStringLiteral("not allowed");
        case CloseCode::MessageTooBig: return QStringLiteral("message too big");
        case CloseCode::InternalError: return QStringLiteral("gateway error");
        case CloseCode::ServiceRestart: return QStringLiteral("gateway restarting — reconnect");
        case CloseCode::TryAgainLater: return QStringLiteral("already running");
        case CloseCode::InvalidRequest: return QStringLiteral("invalid request");
        case CloseCode::NotFound: return QStringLiteral("not found");
        case CloseCode::NotResumable: return QStringLiteral("not resumable");
        }
        return QStringLiteral("closed with code %1").arg(code);
    }
} // namespace Lockstep
