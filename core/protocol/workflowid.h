#pragma once

#include <QString>
#include <QStringView>

namespace Lockstep::Protocol
{
    // Workflow IDs: 1 to 128 characters from [A-Za-z0-9._:-], not only dots
    // ("." and ".." are path segments in a URL: such a run could not be reached
    // by its path). That admits UUIDs, flow-style names ("hello-1") and
    // "replica:run" compounds, and keeps IDs safe to log, to put in a URL path
    // and in a Redis key. Anything else (spaces,
    // quotes, ';', '/', non-ASCII) is refused with 4400 before it reaches a store;
    // the stores bind parameters anyway.
    inline constexpr qsizetype MaxWorkflowIdLength = 128;

    bool isValidWorkflowId(QStringView id);
    // Why `id` is refused ("empty", "longer than 128 characters", ...);
    // an empty string when it is valid.
    QString workflowIdProblem(QStringView id);
}  // namespace Lockstep::Protocol
