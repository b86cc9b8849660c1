#include "outcome.h"

#include <QCoreApplication>
#include <QRegularExpression>

#include "protocol/closecode.h"

namespace Lockstep::Ui
{
    LockHolder LockHolder::parse(const QString &holder)
    {
        LockHolder result;
        result.raw = holder.trimmed();
        // The gateway names a lock session "<replica>#<n>"; "<replica>/<session>" is read too.
        qsizetype split = result.raw.lastIndexOf(u'#');
        if (split <= 0)
            split = result.raw.indexOf(u'/');
        if ((split > 0) && (split < (result.raw.size() - 1)))
        {
            result.replica = result.raw.left(split);
            result.session = result.raw.mid(split + 1);
        }
        return result;
    }

    bool LockHolder::isEmpty() const
    {
        return raw.isEmpty();
    }

    QString LockHolder::describe() const
    {
        if (!replica.isEmpty())
            return QCoreApplication::translate("Lockstep::Ui::Outcome", "replica %1, session %2").arg(replica, session);
        return raw;
    }

    QString holderWording(const QString &holder, const bool thisTab)
    {
        const QString who = LockHolder::parse(holder).describe();
        if (!thisTab)
            return who;
        return who.isEmpty() ? QCoreApplication::translate("Lockstep::Ui::Outcome", "this tab")
                             : QCoreApplication::translate("Lockstep::Ui::Outcome", "this tab (%1)").arg(who);
    }

    QString outcomeText(const ActionOutcome &outcome)
    {
        const auto withStatus = [&outcome](const QString &words) {
            return outcome.status ? QCoreApplication::translate("Lockstep::Ui::Outcome", "%1 (status: %2)")
                                        .arg(words, toString(*outcome.status))
                                  : words;
        };
        switch (outcome.kind)
        {
        case OutcomeKind::Resumed: return QCoreApplication::translate("Lockstep::Ui::Outcome", "resumed");
        case OutcomeKind::MessageSent: return QCoreApplication::translate("Lockstep::Ui::Outcome", "message sent");
        case OutcomeKind::NotResumable:
            return withStatus(QCoreApplication::translate("Lockstep::Ui::Outcome", "not resumable"));
        case OutcomeKind::NotFound: return QCoreApplication::translate("Lockstep::Ui::Outcome", "not found");
        case OutcomeKind::Cancelled: return QCoreApplication::translate("Lockstep::Ui::Outcome", "cancelled");
        case OutcomeKind::NothingToCancel:
            return withStatus(QCoreApplication::translate("Lockstep::Ui::Outcome", "nothing to cancel"));
        case OutcomeKind::AlreadyRunning:
        {
            const QString who = outcome.holder.trimmed().isEmpty()
                                    ? QCoreApplication::translate("Lockstep::Ui::Outcome", "holder unknown")
                                    : QCoreApplication::translate("Lockstep::Ui::Outcome", "held by %1")
                                          .arg(holderWording(outcome.holder, outcome.holderIsThisTab));
            return QCoreApplication::translate("Lockstep::Ui::Outcome", "already running (1013) — %1").arg(who);
        }
        case OutcomeKind::DrivingHere:
            return QCoreApplication::translate("Lockstep::Ui::Outcome", "this tab is driving the run");
        case OutcomeKind::InvalidRequest:
            return outcome.detail.isEmpty()
                       ? QCoreApplication::translate("Lockstep::Ui::Outcome", "invalid request")
                       : QCoreApplication::translate("Lockstep::Ui::Outcome", "invalid request: %1")
                             .arg(outcome.detail);
        case OutcomeKind::Failed:
            return outcome.detail.isEmpty()
                       ? QCoreApplication::translate("Lockstep::Ui::Outcome", "failed")
                       : QCoreApplication::translate("Lockstep::Ui::Outcome", "failed: %1").arg(outcome.detail);
        }
        return QCoreApplication::translate("Lockstep::Ui::Outcome", "failed");
    }

    Theme::Tone outcomeTone(const OutcomeKind kind)
    {
        switch (kind)
        {
        case OutcomeKind::Resumed:
        case OutcomeKind::MessageSent:
        case OutcomeKind::Cancelled: return Theme::Tone::Good;
        case OutcomeKind::NotResumable:
        case OutcomeKind::NothingToCancel:
        case OutcomeKind::AlreadyRunning: return Theme::Tone::Warning;
        case OutcomeKind::DrivingHere: return Theme::Tone::Info;
        case OutcomeKind::NotFound:
        case OutcomeKind::InvalidRequest:
        case OutcomeKind::Failed: return Theme::Tone::Bad;
        }
        return Theme::Tone::Neutral;
    }

    bool isSuccess(const OutcomeKind kind)
    {
        return outcomeTone(kind) == Theme::Tone::Good;
    }

    std::optional<RunStatus> statusFromReason(const QString &reason)
    {
        static const QRegularExpression pattern(QStringLiteral(R"(status:\s*([A-Za-z_]+))"));
        const QRegularExpressionMatch match = pattern.match(reason);
        if (!match.hasMatch())
            return std::nullopt;
        return runStatusFromString(match.capturedView(1));
    }

    ActionOutcome outcomeFromClose(const quint16 code, const QString &reason, const QString &holder)
    {
        ActionOutcome outcome;
        outcome.at = QDateTime::currentDateTime();
        switch (static_cast<CloseCode>(code))
        {
        case CloseCode::NotResumable:
            outcome.kind = OutcomeKind::NotResumable;
            outcome.status = statusFromReason(reason);
            return outcome;
        case CloseCode::NotFound: outcome.kind = OutcomeKind::NotFound; return outcome;
        case CloseCode::TryAgainLater:
            outcome.kind = OutcomeKind::AlreadyRunning;
            outcome.holder = holder;
            return outcome;
        case CloseCode::InvalidRequest:
            outcome.kind = OutcomeKind::InvalidRequest;
            outcome.detail = reason;
            return outcome;
        default: break;
        }
        outcome.kind = OutcomeKind::Failed;
        outcome.detail = reason.isEmpty() ? QCoreApplication::translate("Lockstep::Ui::Outcome", "%1 (%2)")
                                                .arg(closeCodeMeaning(code), QString::number(code))
                                          : QCoreApplication::translate("Lockstep::Ui::Outcome", "%1 (%2): %3")
                                                .arg(closeCodeMeaning(code), QString::number(code), reason);
        return outcome;
    }

    ActionOutcome outcomeFromCancelReply(const int httpStatus, const QJsonObject &body, const QString &networkError)
    {
        ActionOutcome outcome;
        outcome.at = QDateTime::currentDateTime();
        const QString word = body.value(QLatin1StringView("outcome")).toString();
        const std::optional<RunStatus> status = runStatusFromString(body.value(QLatin1StringView("status")).toString());
        if ((httpStatus == 404) || (word == u"not_found"))
        {
            outcome.kind = OutcomeKind::NotFound;
            return outcome;
        }
        if ((httpStatus >= 200) && (httpStatus < 300))
        {
            if (word == u"cancelled")
            {
                outcome.kind = OutcomeKind::Cancelled;
                return outcome;
            }
            if (word == u"noop")
            {
                outcome.kind = OutcomeKind::NothingToCancel;
                outcome.status = status;
                return outcome;
            }
            outcome.kind = OutcomeKind::Failed;
            outcome.detail = QCoreApplication::translate("Lockstep::Ui::Outcome", "unexpected answer from the gateway");
            return outcome;
        }
        outcome.kind = OutcomeKind::Failed;
        if (httpStatus == 0)
            outcome.detail = networkError.isEmpty()
                                 ? QCoreApplication::translate("Lockstep::Ui::Outcome", "no answer from the gateway")
                                 : networkError;
        else if (httpStatus == 401)
            outcome.detail =
                QCoreApplication::translate("Lockstep::Ui::Outcome", "not allowed (HTTP 401: the token was refused)");
        else
        {
            const QString message = body.value(QLatin1StringView("message")).toString();
            outcome.detail =
                message.isEmpty()
                    ? QCoreApplication::translate("Lockstep::Ui::Outcome", "HTTP %1").arg(httpStatus)
                    : QCoreApplication::translate("Lockstep::Ui::Outcome", "HTTP %1: %2").arg(httpStatus).arg(message);
        }
        return outcome;
    }
}  // namespace Lockstep::Ui
