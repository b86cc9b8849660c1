#include "closecode.h"

#include <QCoreApplication>

namespace Lockstep
{
    // The console's words for a code (SPEC.md, "console shows"), translatable in
    // the context "Lockstep::CloseCode". The gateway never sends these: its close
    // reasons are part of the wire protocol and stay as SPEC.md spells them.
    QString closeCodeMeaning(const std::uint16_t code)
    {
        const char *words = nullptr;
        switch (static_cast<CloseCode>(code))
        {
        case CloseCode::Normal: words = QT_TRANSLATE_NOOP("Lockstep::CloseCode", "closed"); break;
        case CloseCode::GoingAway:
        case CloseCode::ServiceRestart:
            words = QT_TRANSLATE_NOOP("Lockstep::CloseCode", "gateway restarting — reconnect");
            break;
        case CloseCode::PolicyViolation: words = QT_TRANSLATE_NOOP("Lockstep::CloseCode", "not allowed"); break;
        case CloseCode::MessageTooBig: words = QT_TRANSLATE_NOOP("Lockstep::CloseCode", "message too big"); break;
        case CloseCode::InternalError: words = QT_TRANSLATE_NOOP("Lockstep::CloseCode", "gateway error"); break;
        case CloseCode::TryAgainLater: words = QT_TRANSLATE_NOOP("Lockstep::CloseCode", "already running"); break;
        case CloseCode::InvalidRequest: words = QT_TRANSLATE_NOOP("Lockstep::CloseCode", "invalid request"); break;
        case CloseCode::NotFound: words = QT_TRANSLATE_NOOP("Lockstep::CloseCode", "not found"); break;
        case CloseCode::NotResumable: words = QT_TRANSLATE_NOOP("Lockstep::CloseCode", "not resumable"); break;
        }
        if (words)
            return QCoreApplication::translate("Lockstep::CloseCode", words);
        return QCoreApplication::translate("Lockstep::CloseCode", "closed with code %1").arg(code);
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
                return QCoreApplication::translate("Lockstep::CloseCode", "%1 (status: %2)")
                    .arg(meaning, humanName(*status));
            return meaning;
        case CloseCode::InvalidRequest:
            if (!reason.isEmpty())
                return QCoreApplication::translate("Lockstep::CloseCode", "%1: %2").arg(meaning, reason);
            return meaning;
        default: return meaning;
        }
    }
}  // namespace Lockstep
