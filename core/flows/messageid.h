#pragma once

#include <optional>

#include <QString>

// The deterministic ui_chat_log message_ids of an execution (see execution.h).
namespace Lockstep::Flows::MessageIds
{
    QString user(int turn);                // "t3-user"
    QString step(int turn, int step);      // "t3-s7"
    QString deadline(int turn);            // "t3-deadline"
    QString decision(int turn, int step);  // "t3-s7-decision": the user's answer to request step 7

    struct Parsed
    {
        enum class Kind
        {
            User,
            Step,
            Deadline,
            Decision,
        };
        Kind kind = Kind::Step;
        int turn = 0;   // 1-based
        int step = -1;  // only for Kind::Step and Kind::Decision
    };
    // nullopt for an ID this scheme did not produce.
    std::optional<Parsed> parse(const QString &id);
}  // namespace Lockstep::Flows::MessageIds
