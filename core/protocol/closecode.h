#pragma once

#include <cstdint>

#include <optional>

#include <QString>
#include <QStringView>

#include "protocol/runstatus.h"

namespace Lockstep
{
    // Websocket close codes of SPEC.md, server to client.
    enum class CloseCode : std::uint16_t
    {
        Normal = 1000,
        GoingAway = 1001,        // gateway shutting down
        PolicyViolation = 1008,  // auth failed, origin refused, rate limited
        MessageTooBig = 1009,
        InternalError = 1011,  // includes lock store unavailable (fail-closed)
        ServiceRestart = 1012,
        TryAgainLater = 1013,  // lock held by another session
        InvalidRequest = 4400,
        NotFound = 4404,
        NotResumable = 4409,  // CAS miss on resume
    };

    // The 1013 close reason of SPEC.md. Close reasons are wire protocol: never translated.
    inline const QString LockHeldReason = QStringLiteral("Failed to acquire lock on workflow");

    // What the console shows for a code ("already running" for 1013), in the
    // installed translation (context "Lockstep::CloseCode"; English without one).
    // Unknown codes get a generic text that still names the number.
    QString closeCodeMeaning(std::uint16_t code);

    // The 4409 reason of SPEC.md: "not resumable (status: paused)". Wire protocol: never translated.
    QString notResumableReason(RunStatus status);
    // The status named by such a reason; nullopt for any other text.
    std::optional<RunStatus> statusFromNotResumableReason(QStringView reason);

    // One line for the console from a close code and its reason (translated like closeCodeMeaning):
    // 4409 "not resumable (status: input required)", 4400 "invalid request: <reason>",
    // otherwise closeCodeMeaning(code).
    QString describeClose(std::uint16_t code, QStringView reason);
}  // namespace Lockstep
