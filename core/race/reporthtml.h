#pragma once

#include <QJsonObject>
#include <QString>

namespace Lockstep::Race
{
    // How many rounds of a race get an SVG timeline: the ones with a finding
    // or with other than one runner come first, then the first rounds, up to
    // this many (a 1 000-round page stays readable and small).
    inline constexpr int MaxRoundTimelines = 40;
    inline constexpr int FirstRoundTimelines = 3;

    // One self-contained HTML page for a report as docs/report.schema.json
    // describes it (kind race, session or workflow): inline CSS and SVG, no
    // script, no font and no URL to fetch, so it opens offline in any browser.
    // Every string taken from the report is HTML-escaped. Fields the report
    // lacks show as "—"; the page never fails.
    QString renderHtmlReport(const QJsonObject &report);
}  // namespace Lockstep::Race
