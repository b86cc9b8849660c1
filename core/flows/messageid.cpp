#include "messageid.h"

#include <QRegularExpression>

namespace Lockstep::Flows::MessageIds
{
    QString user(const int turn)
    {
        return u't' + QString::number(turn) + QStringLiteral("-user");
    }

    QString step(const int turn, const int step)
    {
        return u't' + QString::number(turn) + QStringLiteral("-s") + QString::number(step);
    }

    QString deadline(const int turn)
    {
        return u't' + QString::number(turn) + QStringLiteral("-deadline");
    }

    QString decision(const int turn, const int step)
    {
        return MessageIds::step(turn, step) + QStringLiteral("-decision");
    }

    std::optional<Parsed> parse(const QString &id)
    {
        // At most 9 digits, so toInt() cannot overflow.
        static const QRegularExpression pattern(
            QStringLiteral("^t([1-9][0-9]{0,8})-(?:(user)|(deadline)|s(0|[1-9][0-9]{0,8})(-decision)?)$"));
        const QRegularExpressionMatch match = pattern.match(id);
        if (!match.hasMatch())
            return std::nullopt;
        Parsed parsed;
        parsed.turn = match.captured(1).toInt();
        if (match.hasCaptured(2))
            parsed.kind = Parsed::Kind::User;
        else if (match.hasCaptured(3))
            parsed.kind = Parsed::Kind::Deadline;
        else
        {
            parsed.step = match.captured(4).toInt();
            if (match.hasCaptured(5))
                parsed.kind = Parsed::Kind::Decision;
        }
        return parsed;
    }
}  // namespace Lockstep::Flows::MessageIds
