#include "messageid.h"

#include <QRegularExpression>

namespace Lockstep::Flows::MessageIds
{
    QString user(const int turn)
    {
        return u't' + QString::number(turn) + u"-user"_qs;
    }

    QString step(const int turn, const int step)
    {
        return u't' + QString::number(turn) + u"-s"_qs + QString::number(step);
    }

    QString deadline(const int turn)
    {
        return u't' + QString::number(turn) + u"-deadline"_qs;
    }

    QString decision(const int turn, const int step)
    {
        return MessageIds::step(turn, step) + u"-decision"_qs;
    }

    std::optional<Parsed> parse(const QString &id)
    {
        // At most 9 digits, so toInt() cannot overflow.
        static const QRegularExpression pattern(
            u"^t([1-9][0-9]{0,8})-(?:(user)|(deadline)|s(0|[1-9][0-9]{0,8})(-decision)?)$"_qs);
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
} // namespace Lockstep::Flows::MessageIds
