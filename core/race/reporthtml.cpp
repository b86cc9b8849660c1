#include "reporthtml.h"

#include <QJsonArray>
#include <QJsonDocument>

// STAND-IN, REPLACED AT MERGE: H2 (wt-report) writes the real report writer
// with this exact signature; the integrator takes H2's reporthtml.cpp. This one
// only makes `lockstep race --html` write a valid, readable page meanwhile.
namespace Lockstep::Race
{
    QString renderHtmlReport(const QJsonObject &report)
    {
        const QJsonObject summary = report.value(u"summary").toObject();
        QString html = QStringLiteral("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Lockstep race "
                                      "report</title></head><body>\n<h1>Lockstep race report</h1>\n");
        html +=
            QStringLiteral("<p>Rounds: %1, with one runner: %2, runners min/max: %3/%4, findings: %5, passed: %6</p>\n")
                .arg(summary.value(u"rounds").toInt())
                .arg(summary.value(u"roundsWithOneRunner").toInt())
                .arg(summary.value(u"minRunners").toInt())
                .arg(summary.value(u"maxRunners").toInt())
                .arg(summary.value(u"findings").toInt())
                .arg(summary.value(u"passed").toBool() ? QStringLiteral("yes") : QStringLiteral("no"));
        html += QStringLiteral("<ul>\n");
        for (const QJsonValue &finding : report.value(u"findings").toArray())
            html += QStringLiteral("<li>%1: %2</li>\n")
                        .arg(finding.toObject().value(u"kind").toString().toHtmlEscaped(),
                             finding.toObject().value(u"detail").toString().toHtmlEscaped());
        html += QStringLiteral("</ul>\n<pre>") +
                QString::fromUtf8(QJsonDocument(report).toJson(QJsonDocument::Indented)).toHtmlEscaped() +
                QStringLiteral("</pre>\n</body></html>\n");
        return html;
    }
}  // namespace Lockstep::Race
