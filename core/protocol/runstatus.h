#pragma once

#include <optional>

#include <QString>
#include <QStringView>

namespace Lockstep
{
    // Run statuses of SPEC.md. Lower case in the store and HTTP API,
    // upper case in newCheckpoint.status.
    enum class RunStatus
    {
        Created,
        Running,
        Paused,
        Finished,
        Failed,
        Stopped,
        InputRequired,
        PlanApprovalRequired,
        ToolCallApprovalRequired,
    };

    inline constexpr RunStatus AllRunStatuses[] = {
        RunStatus::Created,
        RunStatus::Running,
        RunStatus::Paused,
        RunStatus::Finished,
        RunStatus::Failed,
        RunStatus::Stopped,
        RunStatus::InputRequired,
        RunStatus::PlanApprovalRequired,
        RunStatus::ToolCallApprovalRequired,
    };

    QString toString(RunStatus status);      // "input_required"
    QString toWireString(RunStatus status);  // "INPUT_REQUIRED"
    // Accepts either spelling; nullopt for anything else.
    std::optional<RunStatus> runStatusFromString(QStringView text);

    // Final: finished, stopped. Nothing moves a run out of a final status.
    bool isFinal(RunStatus status);
    // Resumable without looking at the clock; `running` is resumable only when
    // stale, which the store decides (see the resumable predicate there).
    bool isResumableStatus(RunStatus status);
    // Cancellable: anything not final (failed included).
    bool isCancellable(RunStatus status);
    // A human word for the console ("input required").
    QString humanName(RunStatus status);
}  // namespace Lockstep
