#pragma once

#include <cstdint>

#include <QString>

namespace Lockstep
{
    // Websocket close codes of SPEC.md, server to client.
    enum class CloseCode : std::uint16_t
    {
        Normal = 1000,
        GoingAway = 1001,          // gateway shutting down
        PolicyViolation = 1008,    // auth failed, origin refused, rate limited
        MessageTooBig = 1009,
        InternalError = 1011,      // includes lock store unavailable (fail-closed)
        ServiceRestart = 1012,
        TryAgainLater = 1013,      // lock held by another session
        InvalidRequest = 4400,
        NotFound = 4404,
        NotResumable = 4409,       // CAS miss on resume
    };

    inline const QString LockHeldReason = QStringLiteral("Failed to acquire lock on workflow");

    // What the console shows for a code ("already running" for 1013).
    // Unknown codes get a generic text that still names the number.
    QString closeCodeMeaning(std::uint16_t code);
} // namespace Lockstep
