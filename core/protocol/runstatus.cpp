#include "runstatus.h"

namespace Lockstep
{
    QString toString(const RunStatus status)
    {
        switch (status)
        {
        case RunStatus::Created: return QStringLiteral("created");
        case RunStatus::Running: return QStringLiteral("running");
        case RunStatus::Paused: return QStringLiteral("paused");
        case RunStatus::Finished: return QStringLiteral("finished");
        case RunStatus::Failed: return QStringLiteral("failed");
        case RunStatus::Stopped: return QStringLiteral("stopped");
        case RunStatus::InputRequired: return QStringLiteral("input_required");
        case RunStatus::PlanApprovalRequired: return QStringLiteral("plan_approval_required");
        case RunStatus::ToolCallApprovalRequired: return QStringLiteral("tool_call_approval_required");
        }
        return {};
    }

    QString toWireString(const RunStatus status)
    {
        return toString(status).toUpper();
    }

    std::optional<RunStatus> runStatusFromString(const QStringView text)
    {
        for (const RunStatus status : AllRunStatuses)
        {
            if (text.compare(toString(status), Qt::CaseInsensitive) == 0)
                return status;
        }
        return std::nullopt;
    }

    bool isFinal(const RunStatus status)
    {
        return (status == RunStatus::Finished) || (status == RunStatus::Stopped);
    }

    bool isResumableStatus(const RunStatus status)
    {
        switch (status)
        {
        case RunStatus::Created:
        case RunStatus::Paused:
        case RunStatus::Failed:
        case RunStatus::InputRequired:
        case RunStatus::PlanApprovalRequired:
        case RunStatus::ToolCallApprovalRequired: return true;
        case RunStatus::Running:
        case RunStatus::Finished:
        case RunStatus::Stopped: return false;
        }
        return false;
    }

    bool isCancellable(const RunStatus status)
    {
        return !isFinal(status);
    }

    QString humanName(const RunStatus status)
    {
        return toString(status).replace(u'_', u' ');
    }
}  // namespace Lockstep
