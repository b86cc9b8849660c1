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

    namespace
    {
        constexpr QStringView NotResumablePrefix = u"not resumable (status: ";
    }

    QString notResumableReason(const RunStatus status)
    {
        return NotResumablePrefix + toString(status) + u')';
    }

    std::optional<RunStatus> statusFromNotResumableReason(const QStringView reason)
    {
        if (!reason.startsWith(NotResumablePrefix) || !reason.endsWith(u')'))
            return std::nullopt;
        const QStringView status =
            reason.sliced(NotResumablePrefix.size(), reason.size() - NotResumablePrefix.size() - 1);
        return runStatusFromString(status);
    }

    QString describeClose(const std::uint16_t code, const QStringView reason)
    {
        const QString meaning = closeCodeMeaning(code);
        switch (static_cast<CloseCode>(code))
        {
        case CloseCode::NotResumable:
            if (const auto status = statusFromNotResumableReason(reason))
                return meaning + u" (status: " + humanName(*status) + u')';
            return meaning;
        case CloseCode::InvalidRequest:
            if (!reason.isEmpty())
                return meaning + u": " + reason;
            return meaning;
        default: return meaning;
        }
    }
}  // namespace Lockstep
