#pragma once

#include <optional>

#include <QDateTime>
#include <QJsonObject>
#include <QString>

#include "protocol/runstatus.h"
#include "theme.h"

// What Resume, Cancel and Send ended in, and the one function that words it.
// The tab banner, the tab history, the status bar and the tests all call
// outcomeText(), so a wording exists exactly once. The words are translatable
// (context "Lockstep::Ui::Outcome"); tests compare kinds, not words.
namespace Lockstep::Ui
{
    // Who holds a run lock. The gateway spells the holder "replica#session"
    // ("replica/session" is read too); anything else is shown as it came.
    struct LockHolder
    {
        QString replica;
        QString session;
        QString raw;

        static LockHolder parse(const QString &holder);
        bool isEmpty() const;
        // "replica r1, session 7f3c…" or the raw text.
        QString describe() const;
    };

    // The one wording of a lock holder, used by the run list, the lock panel
    // and the banners: "replica r1, session 4", or "this tab (replica r1,
    // session 4)" when it is one of the viewing tab's own sessions.
    QString holderWording(const QString &holder, bool thisTab = false);

    enum class OutcomeKind
    {
        Resumed,          // startRequest with an empty goal was accepted
        MessageSent,      // startRequest with a goal was accepted
        NotResumable,     // 4409: the CAS resume missed; `status` says why
        NotFound,         // 4404 / HTTP 404
        Cancelled,        // the CAS cancel matched
        NothingToCancel,  // the run was already final: a no-op; `status` says which
        AlreadyRunning,   // 1013: another session holds the run lock; `holder` says who
        DrivingHere,      // not sent: this tab's own session drives the run
        InvalidRequest,   // 4400
        Failed,           // anything else: network, auth, gateway error; `detail`
    };

    struct ActionOutcome
    {
        OutcomeKind kind = OutcomeKind::Failed;
        std::optional<RunStatus> status;
        QString holder;                // AlreadyRunning: the lock holder as the gateway spells it
        bool holderIsThisTab = false;  // ... and it is a session of the tab that acted
        QString detail;                // InvalidRequest, Failed: why
        QDateTime at;                  // when it happened (local time), for the history

        bool operator==(const ActionOutcome &) const = default;
    };

    // The words for an outcome, e.g. "not resumable (status: running)",
    // "nothing to cancel (status: finished)", "already running (1013) — held by
    // replica r1, session s1". No timestamp.
    QString outcomeText(const ActionOutcome &outcome);
    Theme::Tone outcomeTone(OutcomeKind kind);
    bool isSuccess(OutcomeKind kind);

    // The gateway's 4409 reason (wire protocol, never translated):
    // "not resumable (status: running)" -> Running. nullopt if no status is named.
    std::optional<RunStatus> statusFromReason(const QString &reason);

    // The outcome of a driving websocket (startRequest) that closed before the
    // run was confirmed: 4409, 4404, 1013, 4400, others. `holder` comes from the
    // lock panel for 1013.
    ActionOutcome outcomeFromClose(quint16 code, const QString &reason, const QString &holder);
    // The outcome of POST /api/v1/workflows/{id}/cancel. `httpStatus` 0 with
    // `networkError` set when no answer came.
    ActionOutcome outcomeFromCancelReply(int httpStatus, const QJsonObject &body, const QString &networkError);
}  // namespace Lockstep::Ui
