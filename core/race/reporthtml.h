#pragma once

#include <QJsonObject>
#include <QString>

namespace Lockstep::Race
{
    // One self-contained HTML page (inline CSS, no network) for a report that
    // follows docs/report.schema.json.
    QString renderHtmlReport(const QJsonObject &report);
}  // namespace Lockstep::Race
