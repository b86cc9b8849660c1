#include "reporthtml.h"

#include <algorithm>
#include <optional>

#include <QDateTime>
#include <QJsonArray>
#include <QJsonValue>
#include <QList>
#include <QMap>
#include <QSet>
#include <QStringList>

#include "protocol/closecode.h"

namespace Lockstep::Race
{
    namespace
    {
        // Frame payloads beyond this are cut in the page (the JSON keeps them whole).
        constexpr qsizetype MaxPayloadChars = 300;
        // SVG geometry, in px.
        constexpr double LabelWidth = 120;
        constexpr double PlotWidth = 720;
        constexpr double RightPad = 70;
        constexpr double RowHeight = 22;
        constexpr double AxisHeight = 26;

        const QString Dash = QStringLiteral("—");

        // No web fonts, no url(): the page must not fetch anything.
        const QString Style = QStringLiteral(
            "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:24px;color:#1d2125;"
            "background:#fff;font-size:14px}"
            "h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #d0d4d9}"
            "h3{font-size:15px;margin:18px 0 6px}"
            "table{border-collapse:collapse;margin:6px 0}th,td{border:1px solid #d0d4d9;padding:3px 8px;"
            "text-align:left;vertical-align:top}th{background:#f1f3f5}"
            "td.num{text-align:right;font-variant-numeric:tabular-nums}"
            ".muted{color:#6a737d}.bad{color:#b00020;font-weight:600}.good{color:#1b7f3b;font-weight:600}"
            "tr.bad td{background:#fde7ea}tr.ran td{background:#e6f4ea}tr.bad.ran td{background:#f9c9d0}"
            ".banner{background:#b00020;color:#fff;padding:10px 14px;font-weight:700;margin:8px 0;border-radius:4px}"
            ".banner.warn{background:#9a5b00}"
            ".pass{background:#1b7f3b;color:#fff;padding:2px 8px;border-radius:3px}"
            ".fail{background:#b00020;color:#fff;padding:2px 8px;border-radius:3px}"
            "code,.mono{font-family:ui-monospace,'DejaVu Sans Mono',monospace;font-size:12px}"
            "td.payload{max-width:640px;word-break:break-all;white-space:pre-wrap}"
            "details{margin:4px 0}summary{cursor:pointer}details.odd>summary{color:#b00020;font-weight:600}"
            ".cmp td:nth-child(2),.cmp td:nth-child(3){min-width:180px}"
            "svg text{font-family:system-ui,sans-serif;font-size:11px}");

        QString esc(const QString &text)
        {
            return text.toHtmlEscaped();
        }

        // A report value as page text: strings as they are, numbers, booleans, "—" for null or missing.
        QString text(const QJsonValue &value)
        {
            switch (value.type())
            {
            case QJsonValue::String: return value.toString();
            case QJsonValue::Double:
            {
                const double number = value.toDouble();
                if (number == static_cast<double>(static_cast<qint64>(number)))
                    return QString::number(static_cast<qint64>(number));
                return QString::number(number, 'f', 2);
            }
            case QJsonValue::Bool: return value.toBool() ? QStringLiteral("yes") : QStringLiteral("no");
            case QJsonValue::Array:
            {
                QStringList parts;
                for (const QJsonValue &item : value.toArray())
                    parts.append(text(item));
                return parts.isEmpty() ? Dash : parts.join(QStringLiteral(", "));
            }
            case QJsonValue::Null:
            case QJsonValue::Object:
            case QJsonValue::Undefined: break;
            }
            return Dash;
        }

        QString cell(const QJsonValue &value)
        {
            return esc(text(value));
        }

        // Rounds and sessions are 0-based in the JSON and counted from 1 on the page, as in every view.
        int ordinal(const QJsonValue &index)
        {
            return index.toInt() + 1;
        }

        QString ordinals(const QJsonValue &indexes)
        {
            QStringList numbers;
            for (const QJsonValue &index : indexes.toArray())
                numbers.append(QString::number(ordinal(index)));
            return numbers.isEmpty() ? Dash : numbers.join(QStringLiteral(", "));
        }

        std::optional<QDateTime> timeOf(const QJsonValue &value)
        {
            if (!value.isString())
                return std::nullopt;
            QDateTime at = QDateTime::fromString(value.toString(), Qt::ISODateWithMs);
            if (!at.isValid())
                return std::nullopt;
            return at;
        }

        // "20:14:03.512" (UTC, as the report's timestamps are).
        QString clock(const QJsonValue &value)
        {
            const std::optional<QDateTime> at = timeOf(value);
            return at ? at->toUTC().toString(QStringLiteral("HH:mm:ss.zzz")) : Dash;
        }

        QString closeText(const QJsonValue &code, const QJsonValue &reason)
        {
            if (!code.isDouble() || (code.toInt() == 0))
                return reason.toString().isEmpty() ? Dash : reason.toString();
            const auto number = static_cast<std::uint16_t>(code.toInt());
            QString line = QStringLiteral("%1 %2").arg(number).arg(closeCodeMeaning(number));
            if (!reason.toString().isEmpty())
                line += QStringLiteral(" — “%1”").arg(reason.toString());
            return line;
        }

        // Close marks: the lock's "no" (1013) and the CAS's "no" (4409) stand out from a normal end.
        QString closeColour(int code)
        {
            switch (code)
            {
            case 1000: return QStringLiteral("#6a737d");
            case 1013: return QStringLiteral("#c26a00");
            case 4409: return QStringLiteral("#6f42c1");
            default: return QStringLiteral("#b00020");
            }
        }

        QString svgNumber(double value)
        {
            return QString::number(value, 'f', 1);
        }

        // Maps times onto the plot's x axis.
        struct Axis
        {
            QDateTime start;
            qint64 spanMs = 1;

            double x(const QDateTime &at) const
            {
                const double share = static_cast<double>(start.msecsTo(at)) / static_cast<double>(spanMs);
                return LabelWidth + (std::clamp(share, 0.0, 1.0) * PlotWidth);
            }
        };

        Axis axisFor(const QList<QDateTime> &times)
        {
            Axis axis;
            if (times.isEmpty())
            {
                axis.start = QDateTime::fromMSecsSinceEpoch(0, Qt::UTC);
                return axis;
            }
            const auto [first, last] = std::minmax_element(times.begin(), times.end());
            axis.start = *first;
            axis.spanMs = std::max<qint64>(1, first->msecsTo(*last));
            return axis;
        }

        // Ticks at 0, ¼, ½, ¾ and the end, in ms from the start.
        QString axisSvg(const Axis &axis, double height)
        {
            QString svg;
            for (int step = 0; step <= 4; ++step)
            {
                const double x = LabelWidth + (PlotWidth * step / 4.0);
                const qint64 ms = (axis.spanMs * step) / 4;
                svg += QStringLiteral("<line x1=\"%1\" y1=\"%2\" x2=\"%1\" y2=\"%3\" stroke=\"#e1e4e8\"/>")
                           .arg(svgNumber(x), svgNumber(AxisHeight - 6), svgNumber(height));
                svg += QStringLiteral("<text x=\"%1\" y=\"%2\" text-anchor=\"middle\" fill=\"#6a737d\">+%3 ms</text>")
                           .arg(svgNumber(x), svgNumber(AxisHeight - 10))
                           .arg(ms);
            }
            return svg;
        }

        QString svgOpen(double height, const QString &label)
        {
            return QStringLiteral(
                       "<svg width=\"%1\" height=\"%2\" viewBox=\"0 0 %1 %2\" role=\"img\" aria-label=\"%3\">")
                .arg(svgNumber(LabelWidth + PlotWidth + RightPad), svgNumber(height), esc(label));
        }

        QString banners(const QJsonObject &gateway)
        {
            const QJsonObject switches = gateway.value(u"switches").toObject();
            QString html;
            if (switches.value(u"lockEnabled").isBool() && !switches.value(u"lockEnabled").toBool())
                html += QStringLiteral("<div class=\"banner\" id=\"lock-off\">lock OFF: this gateway runs without "
                                       "the run lock (--no-lock-concurrent-flows); concurrent executions of one "
                                       "workflow are possible</div>");
            if (switches.value(u"casGuards").isBool() && !switches.value(u"casGuards").toBool())
                html += QStringLiteral("<div class=\"banner\" id=\"cas-off\">CAS guards OFF: resume and cancel are "
                                       "not compare-and-swap (--no-cas-guards)</div>");
            if (switches.value(u"fencing").isBool() && !switches.value(u"fencing").toBool())
                html += QStringLiteral("<div class=\"banner warn\" id=\"fencing-off\">fencing OFF: store writes "
                                       "ignore the fence (--no-fencing)</div>");
            return html;
        }

        QString onOff(const QJsonValue &value)
        {
            if (!value.isBool())
                return Dash;
            return value.toBool() ? QStringLiteral("<span class=\"good\">on</span>")
                                  : QStringLiteral("<span class=\"bad\">OFF</span>");
        }

        QString gatewayTable(const QJsonObject &report)
        {
            const QJsonObject gateway = report.value(u"gateway").toObject();
            const QJsonObject switches = gateway.value(u"switches").toObject();
            QString html = QStringLiteral("<table class=\"gateway\">");
            const auto row = [&html](const QString &name, const QString &value) {
                html += QStringLiteral("<tr><th>%1</th><td>%2</td></tr>").arg(name, value);
            };
            row(QStringLiteral("Gateway"), QStringLiteral("<code>%1</code>").arg(cell(gateway.value(u"url"))));
            row(QStringLiteral("Gateway version"), cell(gateway.value(u"version")));
            row(QStringLiteral("Replicas seen"), cell(gateway.value(u"replicas")));
            row(QStringLiteral("Lock store / store"),
                QStringLiteral("%1 / %2").arg(cell(gateway.value(u"lockStore")), cell(gateway.value(u"store"))));
            row(QStringLiteral("Run lock"), onOff(switches.value(u"lockEnabled")));
            row(QStringLiteral("CAS guards"), onOff(switches.value(u"casGuards")));
            row(QStringLiteral("Fencing"), onOff(switches.value(u"fencing")));
            row(QStringLiteral("Console version"), cell(report.value(u"console").toObject().value(u"version")));
            row(QStringLiteral("Generated"), cell(report.value(u"generatedAt")));
            html += QStringLiteral("</table>");
            return html;
        }

        QString findingsSection(const QJsonArray &findings, bool withRound)
        {
            QString html = QStringLiteral("<h2 id=\"findings\">Findings (%1)</h2>").arg(findings.size());
            if (findings.isEmpty())
                return html + QStringLiteral("<p class=\"good\">The anomaly checker found nothing.</p>");
            html += QStringLiteral("<table class=\"findings\"><tr><th>kind</th>");
            if (withRound)
                html += QStringLiteral("<th>round</th>");
            html += QStringLiteral("<th>detail</th><th>sessions</th><th>entries</th><th>at</th><th>until</th></tr>");
            for (const QJsonValue &value : findings)
            {
                const QJsonObject finding = value.toObject();
                html += QStringLiteral("<tr class=\"bad\"><td><code>%1</code></td>").arg(cell(finding.value(u"kind")));
                if (withRound)
                {
                    const QJsonValue round = finding.value(u"round");
                    html +=
                        round.isDouble()
                            ? QStringLiteral("<td class=\"num\"><a href=\"#round-%1\">%1</a></td>").arg(ordinal(round))
                            : QStringLiteral("<td>%1</td>").arg(Dash);
                }
                html += QStringLiteral("<td>%1</td><td>%2</td><td class=\"mono\">%3</td><td>%4</td><td>%5</td></tr>")
                            .arg(cell(finding.value(u"detail")), ordinals(finding.value(u"sessions")),
                                 cell(finding.value(u"entries")), cell(finding.value(u"at")),
                                 cell(finding.value(u"until")));
            }
            return html + QStringLiteral("</table>");
        }

        // ---- race ----

        QString roundTimeline(const QJsonObject &round)
        {
            const QJsonArray sessions = round.value(u"sessions").toArray();
            QList<QDateTime> times;
            for (const QString &key : {QStringLiteral("startedAt"), QStringLiteral("finishedAt")})
                if (const std::optional<QDateTime> at = timeOf(round.value(key)))
                    times.append(*at);
            for (const QJsonValue &value : sessions)
            {
                const QJsonObject session = value.toObject();
                for (const QString &key :
                     {QStringLiteral("connectedAt"), QStringLiteral("sentAt"), QStringLiteral("closedAt"),
                      QStringLiteral("executionStart"), QStringLiteral("executionEnd")})
                    if (const std::optional<QDateTime> at = timeOf(session.value(key)))
                        times.append(*at);
            }
            const Axis axis = axisFor(times);
            const double height = AxisHeight + (RowHeight * static_cast<double>(sessions.size())) + 6;
            const bool several = round.value(u"runners").toInt() > 1;
            QString svg = svgOpen(height, QStringLiteral("Timeline of round %1").arg(ordinal(round.value(u"index"))));
            svg += axisSvg(axis, height);
            double y = AxisHeight;
            for (const QJsonValue &value : sessions)
            {
                const QJsonObject session = value.toObject();
                const double mid = y + (RowHeight / 2);
                svg += QStringLiteral("<text x=\"4\" y=\"%1\">session %2</text>")
                           .arg(svgNumber(mid + 4))
                           .arg(ordinal(session.value(u"index")));
                const std::optional<QDateTime> connected = timeOf(session.value(u"connectedAt"));
                const std::optional<QDateTime> closed = timeOf(session.value(u"closedAt"));
                if (connected || closed)
                {
                    const double from = axis.x(connected ? *connected : axis.start);
                    const double to = closed ? axis.x(*closed) : (LabelWidth + PlotWidth);
                    svg += QStringLiteral("<line x1=\"%1\" y1=\"%3\" x2=\"%2\" y2=\"%3\" stroke=\"#adb5bd\" "
                                          "stroke-width=\"2\"><title>session %4 connected</title></line>")
                               .arg(svgNumber(from), svgNumber(to), svgNumber(mid))
                               .arg(ordinal(session.value(u"index")));
                }
                if (const std::optional<QDateTime> sent = timeOf(session.value(u"sentAt")))
                    svg += QStringLiteral("<circle cx=\"%1\" cy=\"%2\" r=\"3.5\" fill=\"#1d2125\"><title>sent at +%3 "
                                          "ms: %4</title></circle>")
                               .arg(svgNumber(axis.x(*sent)), svgNumber(mid))
                               .arg(axis.start.msecsTo(*sent))
                               .arg(esc(session.value(u"message").toString()));
                if (const std::optional<QDateTime> start = timeOf(session.value(u"executionStart")))
                {
                    const std::optional<QDateTime> end = timeOf(session.value(u"executionEnd"));
                    const QDateTime until = end ? *end : (closed ? *closed : *start);
                    const double from = axis.x(*start);
                    const double width = std::max(2.0, axis.x(until) - from);
                    svg += QStringLiteral("<rect class=\"exec\" x=\"%1\" y=\"%2\" width=\"%3\" height=\"12\" rx=\"2\" "
                                          "fill=\"%4\"><title>execution +%5 ms … +%6 ms</title></rect>")
                               .arg(svgNumber(from), svgNumber(mid - 6), svgNumber(width),
                                    several ? QStringLiteral("#d1364b") : QStringLiteral("#2f9e55"))
                               .arg(axis.start.msecsTo(*start))
                               .arg(axis.start.msecsTo(until));
                }
                if (closed)
                {
                    const int code = session.value(u"closeCode").toInt();
                    const double x = axis.x(*closed);
                    svg += QStringLiteral("<line class=\"close\" x1=\"%1\" y1=\"%2\" x2=\"%1\" y2=\"%3\" stroke=\"%4\" "
                                          "stroke-width=\"2\"><title>%5</title></line>")
                               .arg(svgNumber(x), svgNumber(mid - 8), svgNumber(mid + 8), closeColour(code),
                                    esc(closeText(session.value(u"closeCode"), session.value(u"closeReason"))));
                    svg += QStringLiteral("<text x=\"%1\" y=\"%2\" fill=\"%3\">%4</text>")
                               .arg(svgNumber(x + 4), svgNumber(mid + 4), closeColour(code))
                               .arg(code);
                }
                y += RowHeight;
            }
            return svg + QStringLiteral("</svg>");
        }

        QString roundTable(const QJsonObject &round)
        {
            QString html = QStringLiteral(
                "<table class=\"round\"><tr><th>session</th><th>offset</th><th>replica</th><th>outcome</th>"
                "<th>close</th><th>closed by</th><th>ran</th><th>fences</th><th>entries seen</th><th>bytes in/out</th>"
                "<th>frames</th></tr>");
            const bool several = round.value(u"runners").toInt() != 1;
            for (const QJsonValue &value : round.value(u"sessions").toArray())
            {
                const QJsonObject session = value.toObject();
                const bool ran = session.value(u"ran").toBool();
                QStringList classes;
                if (ran)
                    classes.append(QStringLiteral("ran"));
                if (ran && several)
                    classes.append(QStringLiteral("bad"));
                html += QStringLiteral("<tr class=\"%1\">").arg(classes.join(u' '));
                html += QStringLiteral("<td class=\"num\">%1</td><td class=\"num\">%2 ms</td><td>%3</td>"
                                       "<td><code>%4</code></td><td>%5</td><td>%6</td><td>%7</td>")
                            .arg(QString::number(ordinal(session.value(u"index"))), cell(session.value(u"offsetMs")),
                                 cell(session.value(u"replica")), cell(session.value(u"outcome")),
                                 esc(closeText(session.value(u"closeCode"), session.value(u"closeReason"))),
                                 cell(session.value(u"closedBy")),
                                 ran ? QStringLiteral("<b>yes</b>") : QStringLiteral("no"));
                html +=
                    QStringLiteral("<td class=\"mono\">%1</td><td class=\"num\">%2</td><td class=\"num\">%3 / %4</td>"
                                   "<td class=\"num\">%5</td></tr>")
                        .arg(cell(session.value(u"fences")))
                        .arg(session.value(u"entriesSeen").toArray().size())
                        .arg(cell(session.value(u"bytesIn")), cell(session.value(u"bytesOut")),
                             cell(session.value(u"frames")));
            }
            return html + QStringLiteral("</table>");
        }

        // The rounds that get a timeline: findings and ≠ 1 runner first, then the first few.
        QList<int> roundsToDraw(const QJsonArray &rounds, const QSet<int> &withFindings)
        {
            QList<int> picked;
            for (qsizetype i = 0; (i < rounds.size()) && (picked.size() < MaxRoundTimelines); ++i)
            {
                const QJsonObject round = rounds.at(i).toObject();
                if ((round.value(u"runners").toInt() != 1) || withFindings.contains(round.value(u"index").toInt()))
                    picked.append(static_cast<int>(i));
            }
            for (qsizetype i = 0; (i < rounds.size()) && (i < FirstRoundTimelines); ++i)
                if (!picked.contains(static_cast<int>(i)) && (picked.size() < MaxRoundTimelines))
                    picked.append(static_cast<int>(i));
            std::sort(picked.begin(), picked.end());
            return picked;
        }

        QString summaryTable(const QJsonObject &summary, const QJsonArray &rounds)
        {
            QStringList odd;
            for (const QJsonValue &value : rounds)
            {
                const QJsonObject round = value.toObject();
                if (round.value(u"runners").toInt() != 1)
                    odd.append(QStringLiteral("<a href=\"#round-%1\">%1</a> (%2)")
                                   .arg(ordinal(round.value(u"index")))
                                   .arg(round.value(u"runners").toInt()));
            }
            const bool passed = summary.value(u"passed").toBool();
            QString html = QStringLiteral("<h2 id=\"summary\">Summary <span class=\"%1\">%2</span></h2>")
                               .arg(passed ? QStringLiteral("pass") : QStringLiteral("fail"),
                                    passed ? QStringLiteral("PASSED") : QStringLiteral("FAILED"));
            html += QStringLiteral("<table class=\"summary\">");
            const auto row = [&html](const QString &name, const QString &value, bool bad = false) {
                html += QStringLiteral("<tr%1><th>%2</th><td>%3</td></tr>")
                            .arg(bad ? QStringLiteral(" class=\"bad\"") : QString(), name, value);
            };
            const int rows = summary.value(u"rounds").toInt();
            const int one = summary.value(u"roundsWithOneRunner").toInt();
            row(QStringLiteral("Rounds"), cell(summary.value(u"rounds")));
            row(QStringLiteral("Rounds with exactly one runner"), cell(summary.value(u"roundsWithOneRunner")),
                one != rows);
            row(QStringLiteral("Runners per round (min / max)"),
                QStringLiteral("%1 / %2").arg(cell(summary.value(u"minRunners")), cell(summary.value(u"maxRunners"))),
                (summary.value(u"minRunners").toInt() != 1) || (summary.value(u"maxRunners").toInt() != 1));
            row(QStringLiteral("Rounds with ≠ 1 runner"),
                odd.isEmpty() ? QStringLiteral("none")
                              : QStringLiteral("<span class=\"bad\">%1</span>").arg(odd.join(QStringLiteral(", "))),
                !odd.isEmpty());
            row(QStringLiteral("Findings"), cell(summary.value(u"findings")), summary.value(u"findings").toInt() > 0);
            row(QStringLiteral("Rounds per second"), cell(summary.value(u"roundsPerSecond")));
            return html + QStringLiteral("</table>");
        }

        QString comparison(const QJsonObject &previous, const QJsonObject &report)
        {
            const QJsonObject before = previous.value(u"gateway").toObject();
            const QJsonObject now = report.value(u"gateway").toObject();
            const QJsonObject beforeSummary = previous.value(u"summary").toObject();
            const QJsonObject nowSummary = report.value(u"summary").toObject();
            QString html = QStringLiteral("<h2 id=\"comparison\">Previous run vs this run</h2>"
                                          "<table class=\"cmp\"><tr><th></th><th>previous</th><th>this run</th></tr>");
            const auto row = [&html](const QString &name, const QString &left, const QString &right) {
                html += QStringLiteral("<tr%1><th>%2</th><td>%3</td><td>%4</td></tr>")
                            .arg((left != right) ? QStringLiteral(" class=\"changed\"") : QString(), name, left, right);
            };
            row(QStringLiteral("Gateway"), cell(before.value(u"url")), cell(now.value(u"url")));
            row(QStringLiteral("Version"), cell(before.value(u"version")), cell(now.value(u"version")));
            row(QStringLiteral("Replicas"), cell(before.value(u"replicas")), cell(now.value(u"replicas")));
            for (const auto &[key, name] : {std::pair{QStringLiteral("lockEnabled"), QStringLiteral("Run lock")},
                                            std::pair{QStringLiteral("casGuards"), QStringLiteral("CAS guards")},
                                            std::pair{QStringLiteral("fencing"), QStringLiteral("Fencing")}})
                row(name, onOff(before.value(u"switches").toObject().value(key)),
                    onOff(now.value(u"switches").toObject().value(key)));
            for (const auto &[key, name] :
                 {std::pair{QStringLiteral("rounds"), QStringLiteral("Rounds")},
                  std::pair{QStringLiteral("roundsWithOneRunner"), QStringLiteral("Rounds with one runner")},
                  std::pair{QStringLiteral("minRunners"), QStringLiteral("Min runners")},
                  std::pair{QStringLiteral("maxRunners"), QStringLiteral("Max runners")},
                  std::pair{QStringLiteral("findings"), QStringLiteral("Findings")},
                  std::pair{QStringLiteral("passed"), QStringLiteral("Passed")}})
                row(name, cell(beforeSummary.value(key)), cell(nowSummary.value(key)));
            html += QStringLiteral("</table>");

            QMap<int, int> beforeRunners;
            for (const QJsonValue &value : previous.value(u"rounds").toArray())
                beforeRunners.insert(value.toObject().value(u"index").toInt(),
                                     value.toObject().value(u"runners").toInt());
            html += QStringLiteral("<details open><summary>Runners per round</summary><table class=\"cmp-rounds\">"
                                   "<tr><th>round</th><th>previous</th><th>this run</th></tr>");
            for (const QJsonValue &value : report.value(u"rounds").toArray())
            {
                const int index = value.toObject().value(u"index").toInt();
                const int runners = value.toObject().value(u"runners").toInt();
                // -1: the previous run had no such round.
                const int was = beforeRunners.value(index, -1);
                const auto runnerCell = [](int count) {
                    if (count < 0)
                        return QStringLiteral("<td>%1</td>").arg(Dash);
                    return QStringLiteral("<td class=\"num%1\">%2</td>")
                        .arg((count != 1) ? QStringLiteral(" bad") : QString())
                        .arg(count);
                };
                html += QStringLiteral("<tr><td class=\"num\">%1</td>%2%3</tr>")
                            .arg(index + 1)
                            .arg(runnerCell(was), runnerCell(runners));
            }
            return html + QStringLiteral("</table></details>");
        }

        QString raceBody(const QJsonObject &report)
        {
            const QJsonObject race = report.value(u"race").toObject();
            const QJsonArray rounds = report.value(u"rounds").toArray();
            const QJsonArray findings = report.value(u"findings").toArray();
            QString html;
            const QString target = race.value(u"workflowID").isString()
                                       ? QStringLiteral("workflow <code>%1</code>").arg(cell(race.value(u"workflowID")))
                                       : QStringLiteral("a new workflow of flow <code>%1</code> each round")
                                             .arg(cell(race.value(u"flow")));
            html += QStringLiteral("<p>%1 sessions on %2, %3 rounds, sends spread over %4 ms.</p>")
                        .arg(cell(race.value(u"sessions")), target, cell(race.value(u"rounds")),
                             cell(race.value(u"spreadMs")));
            html += summaryTable(report.value(u"summary").toObject(), rounds);
            html += findingsSection(findings, true);
            if (report.value(u"previous").isObject())
                html += comparison(report.value(u"previous").toObject(), report);

            QSet<int> withFindings;
            for (const QJsonValue &value : findings)
                if (value.toObject().value(u"round").isDouble())
                    withFindings.insert(value.toObject().value(u"round").toInt());
            const QList<int> drawn = roundsToDraw(rounds, withFindings);
            html += QStringLiteral("<h2 id=\"rounds\">Rounds</h2>");
            html += QStringLiteral("<p class=\"muted\" id=\"timeline-note\">");
            if (drawn.size() == rounds.size())
                html += QStringLiteral("Every round has its timeline.");
            else
                html += QStringLiteral("Timelines are drawn for %1 of %2 rounds: every round with a finding or with "
                                       "other than one runner, and the first %3 (at most %4 in all). The table of "
                                       "every round is below.")
                            .arg(drawn.size())
                            .arg(rounds.size())
                            .arg(FirstRoundTimelines)
                            .arg(MaxRoundTimelines);
            html += QStringLiteral(" Rounds and sessions are counted from 1 (the JSON's index + 1).");
            html += QStringLiteral(" Timeline legend: grey line, connected; dot, message sent; bar, the execution "
                                   "(red when the round had more than one); tick, the close with its code.</p>");
            for (qsizetype i = 0; i < rounds.size(); ++i)
            {
                const QJsonObject round = rounds.at(i).toObject();
                const int index = round.value(u"index").toInt();
                const int runners = round.value(u"runners").toInt();
                const bool odd = runners != 1;
                const bool open = odd || withFindings.contains(index) || (i < FirstRoundTimelines);
                html += QStringLiteral("<details id=\"round-%1\" class=\"round%2\"%3><summary>")
                            .arg(index + 1)
                            .arg(odd ? QStringLiteral(" odd") : QString(), open ? QStringLiteral(" open") : QString());
                html += QStringLiteral("Round %1 — <span class=\"%2\">%3 runner(s)</span> — workflow <code>%4</code>, "
                                       "final status %5, fence %6, %7 entries")
                            .arg(index + 1)
                            .arg(odd ? QStringLiteral("bad runners") : QStringLiteral("good runners"))
                            .arg(runners)
                            .arg(cell(round.value(u"workflowID")), cell(round.value(u"finalStatus")),
                                 cell(round.value(u"finalFence")))
                            .arg(round.value(u"finalEntries").toArray().size());
                html += QStringLiteral("</summary>");
                html += roundTable(round);
                if (drawn.contains(static_cast<int>(i)))
                    html += roundTimeline(round);
                html += QStringLiteral("</details>");
            }
            return html;
        }

        // ---- session and workflow exports ----

        struct Band
        {
            QString holder;
            qint64 fence = 0;
            QDateTime from;
            QDateTime to;
            bool open = false;
        };

        QString lockTimeline(const QJsonArray &events)
        {
            QList<QJsonObject> sorted;
            QList<QDateTime> times;
            for (const QJsonValue &value : events)
                if (timeOf(value.toObject().value(u"at")))
                {
                    sorted.append(value.toObject());
                    times.append(*timeOf(value.toObject().value(u"at")));
                }
            if (sorted.isEmpty())
                return QStringLiteral("<p class=\"muted\">No lock events recorded.</p>");
            std::stable_sort(sorted.begin(), sorted.end(), [](const QJsonObject &a, const QJsonObject &b) {
                return *timeOf(a.value(u"at")) < *timeOf(b.value(u"at"));
            });
            const Axis axis = axisFor(times);
            const QDateTime end = axis.start.addMSecs(axis.spanMs);

            QStringList holders;  // one row each, in order of appearance
            QList<Band> bands;
            std::optional<Band> current;
            const auto close = [&](const QDateTime &at) {
                if (current)
                {
                    current->to = at;
                    bands.append(*current);
                    current.reset();
                }
            };
            for (const QJsonObject &event : sorted)
            {
                const QString state = event.value(u"state").toString();
                const QString holder = event.value(u"holder").toString();
                const QDateTime at = *timeOf(event.value(u"at"));
                // A refresh or a check that names another holder: the lock changed hands unseen.
                const bool adopt = (state == u"refreshed") || (state == u"checked");
                if (!holder.isEmpty() && !holders.contains(holder) &&
                    (adopt || (state == u"acquired") || (state == u"released") || (state == u"lost")))
                    holders.append(holder);
                if ((state == u"acquired") || (adopt && (!current || (current->holder != holder))))
                {
                    close(at);
                    current = Band{
                        .holder = holder, .fence = static_cast<qint64>(event.value(u"fence").toDouble()), .from = at};
                }
                else if ((state == u"released") || (state == u"lost") || (state == u"expired") || (state == u"free"))
                    close(at);
            }
            if (current)
            {
                current->to = end;
                current->open = true;
                bands.append(*current);
            }

            // Rows: one per holder, then one for what no holder owns (refusals, store unavailable).
            const double height = AxisHeight + (RowHeight * static_cast<double>(holders.size() + 1)) + 6;
            const auto rowOf = [&holders](const QString &holder) {
                const qsizetype row = holders.indexOf(holder);
                return (row < 0) ? holders.size() : row;
            };
            const auto middle = [](qsizetype row) {
                return AxisHeight + (RowHeight * static_cast<double>(row)) + (RowHeight / 2);
            };
            QString svg = svgOpen(height, QStringLiteral("Lock timeline"));
            svg += axisSvg(axis, height);
            for (qsizetype row = 0; row < holders.size(); ++row)
                svg += QStringLiteral("<text x=\"4\" y=\"%1\">%2</text>")
                           .arg(svgNumber(middle(row) + 4), esc(holders.at(row).left(18)));
            svg += QStringLiteral("<text x=\"4\" y=\"%1\" fill=\"#6a737d\">others</text>")
                       .arg(svgNumber(middle(holders.size()) + 4));
            for (const Band &band : bands)
            {
                const double from = axis.x(band.from);
                const double width = std::max(2.0, axis.x(band.to) - from);
                const double mid = middle(rowOf(band.holder));
                svg += QStringLiteral(
                           "<rect class=\"band\" x=\"%1\" y=\"%2\" width=\"%3\" height=\"14\" rx=\"2\" "
                           "fill=\"#4c8bf5\" fill-opacity=\"0.75\"><title>held by %4, fence %5%6</title></rect>")
                           .arg(svgNumber(from), svgNumber(mid - 7), svgNumber(width), esc(band.holder))
                           .arg(band.fence)
                           .arg(band.open ? QStringLiteral(" (still held at the last event)") : QString());
                svg += QStringLiteral("<text x=\"%1\" y=\"%2\" fill=\"#fff\">fence %3</text>")
                           .arg(svgNumber(from + 8), svgNumber(mid + 4))
                           .arg(band.fence);
            }
            for (const QJsonObject &event : sorted)
            {
                const QString state = event.value(u"state").toString();
                const QDateTime at = *timeOf(event.value(u"at"));
                const double x = axis.x(at);
                const double mid = middle(rowOf(event.value(u"holder").toString()));
                const QString title = esc(QStringLiteral("%1 %2 (holder %3, fence %4, TTL %5 ms)")
                                              .arg(clock(event.value(u"at")), state, text(event.value(u"holder")),
                                                   text(event.value(u"fence")), text(event.value(u"ttlMs"))));
                QString colour;
                if (state == u"refreshed")
                    colour = QStringLiteral("#1d2125");
                else if (state == u"lost")
                    colour = QStringLiteral("#b00020");
                else if ((state == u"refused") || (state == u"expired"))
                    colour = QStringLiteral("#c26a00");
                else if (state == u"unavailable")
                    colour = QStringLiteral("#6a737d");
                else if ((state == u"released") || (state == u"acquired") || (state == u"free"))
                    colour = QStringLiteral("#1b7f3b");
                else if (state == u"checked")
                    colour = QStringLiteral("#1f5fbf");
                if (colour.isEmpty())
                    continue;
                if (state == u"refreshed")
                    svg += QStringLiteral("<line class=\"mark refreshed\" x1=\"%1\" y1=\"%2\" x2=\"%1\" y2=\"%3\" "
                                          "stroke=\"%4\" stroke-width=\"1.5\"><title>%5</title></line>")
                               .arg(svgNumber(x), svgNumber(mid - 9), svgNumber(mid + 9), colour, title);
                else
                    svg += QStringLiteral("<circle class=\"mark %5\" cx=\"%1\" cy=\"%2\" r=\"4.5\" fill=\"%3\" "
                                          "stroke=\"#fff\"><title>%4</title></circle>")
                               .arg(svgNumber(x), svgNumber(mid), colour, title, esc(state));
                if ((state == u"lost") || (state == u"refused"))
                    svg += QStringLiteral("<text x=\"%1\" y=\"%2\" fill=\"%3\">%4</text>")
                               .arg(svgNumber(x + 6), svgNumber(mid - 6), colour,
                                    (state == u"lost") ? QStringLiteral("lost") : QStringLiteral("1013"));
            }
            svg += QStringLiteral("</svg>");
            return svg + QStringLiteral("<p class=\"muted\">Bands: who held the lock, with its fence; ticks: TTL "
                                        "refreshes (heartbeats); red: lost; orange: 1013 refusals and expiries; "
                                        "green: acquired, released, checked free; blue: checked held.</p>");
        }

        QString frameTable(const QJsonArray &frames)
        {
            QString html = QStringLiteral("<table class=\"frames\"><tr><th>#</th><th>time</th><th>dir</th><th>kind</th>"
                                          "<th>bytes</th><th>payload</th></tr>");
            for (const QJsonValue &value : frames)
            {
                const QJsonObject frame = value.toObject();
                const QString kind = frame.value(u"kind").toString();
                QString payload = frame.value(u"payload").toString();
                if (kind == u"close")
                {
                    payload = closeText(frame.value(u"closeCode"), frame.value(u"payload"));
                    if (frame.value(u"closedBy").isString())
                        payload += QStringLiteral(" (closed by %1)").arg(frame.value(u"closedBy").toString());
                }
                else if (payload.size() > MaxPayloadChars)
                    payload = payload.left(MaxPayloadChars) + QStringLiteral("… (%1 chars)").arg(payload.size());
                html += QStringLiteral("<tr class=\"%1\"><td class=\"num\">%2</td><td>%3</td><td>%4</td><td>%5</td>"
                                       "<td class=\"num\">%6</td><td class=\"payload mono\">%7</td></tr>")
                            .arg((kind == u"close") ? QStringLiteral("close") : QString(), cell(frame.value(u"seq")),
                                 clock(frame.value(u"at")),
                                 (frame.value(u"direction").toString() == u"in") ? QStringLiteral("⇐ in")
                                                                                 : QStringLiteral("⇒ out"),
                                 esc(kind), cell(frame.value(u"bytes")), esc(payload));
            }
            return html + QStringLiteral("</table>");
        }

        QString exportBody(const QJsonObject &report)
        {
            QString html = QStringLiteral("<p>Workflow <code>%1</code>.</p>").arg(cell(report.value(u"workflowID")));
            html += findingsSection(report.value(u"findings").toArray(), false);

            const QJsonArray lockEvents = report.value(u"lockEvents").toArray();
            html += QStringLiteral("<h2 id=\"lock\">Lock (%1 events)</h2>").arg(lockEvents.size());
            html += lockTimeline(lockEvents);
            if (!lockEvents.isEmpty())
            {
                html +=
                    QStringLiteral("<details><summary>Lock events</summary><table class=\"lock-events\"><tr><th>at</th>"
                                   "<th>state</th><th>holder</th><th>fence</th><th>TTL ms</th></tr>");
                for (const QJsonValue &value : lockEvents)
                {
                    const QJsonObject event = value.toObject();
                    const QString state = event.value(u"state").toString();
                    html += QStringLiteral("<tr%1><td>%2</td><td>%3</td><td>%4</td><td class=\"num\">%5</td>"
                                           "<td class=\"num\">%6</td></tr>")
                                .arg(((state == u"lost") || (state == u"refused")) ? QStringLiteral(" class=\"bad\"")
                                                                                   : QString(),
                                     cell(event.value(u"at")), esc(state), cell(event.value(u"holder")),
                                     cell(event.value(u"fence")), cell(event.value(u"ttlMs")));
                }
                html += QStringLiteral("</table></details>");
            }

            const QJsonArray sessions = report.value(u"sessions").toArray();
            html += QStringLiteral("<h2 id=\"sessions\">Sessions (%1)</h2>").arg(sessions.size());
            for (const QJsonValue &value : sessions)
            {
                const QJsonObject session = value.toObject();
                const QJsonObject totals = session.value(u"totals").toObject();
                html += QStringLiteral("<h3>%1</h3>").arg(cell(session.value(u"label")));
                html += QStringLiteral("<p>%1 → %2; close: <b>%3</b>. Frames in %4, out %5; bytes in %6, out %7; "
                                       "pings %8, pongs %9.</p>")
                            .arg(cell(session.value(u"startedAt")), cell(session.value(u"closedAt")),
                                 esc(closeText(session.value(u"closeCode"), session.value(u"closeReason"))),
                                 cell(totals.value(u"framesIn")), cell(totals.value(u"framesOut")),
                                 cell(totals.value(u"bytesIn")), cell(totals.value(u"bytesOut")),
                                 cell(totals.value(u"pings")))
                            .arg(cell(totals.value(u"pongs")));
                html += frameTable(session.value(u"frames").toArray());
            }

            const QJsonArray history = report.value(u"history").toArray();
            html += QStringLiteral("<h2 id=\"history\">History (%1)</h2>").arg(history.size());
            if (!history.isEmpty())
            {
                html += QStringLiteral("<table class=\"history\"><tr><th>at</th><th>kind</th><th>what</th></tr>");
                for (const QJsonValue &value : history)
                {
                    const QJsonObject line = value.toObject();
                    html += QStringLiteral("<tr><td>%1</td><td>%2</td><td>%3</td></tr>")
                                .arg(cell(line.value(u"at")), cell(line.value(u"kind")), cell(line.value(u"text")));
                }
                html += QStringLiteral("</table>");
            }
            return html;
        }
    }  // namespace

    QString renderHtmlReport(const QJsonObject &report)
    {
        const QString kind = report.value(u"kind").toString();
        QString title;
        if (kind == u"race")
            title = QStringLiteral("Lockstep race report");
        else if (kind == u"session")
            title = QStringLiteral("Lockstep session export");
        else
            title = QStringLiteral("Lockstep workflow export");

        QString html = QStringLiteral("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                                      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                                      "<title>%1</title><style>%2</style></head><body>\n")
                           .arg(title, Style);
        html += QStringLiteral("<h1>%1</h1>").arg(title);
        const QJsonObject gateway = report.value(u"gateway").toObject();
        html += banners(gateway);
        html += gatewayTable(report);
        html += (kind == u"race") ? raceBody(report) : exportBody(report);
        html += QStringLiteral("\n<p class=\"muted\">Schema version %1 (docs/report.schema.json).</p></body></html>\n")
                    .arg(cell(report.value(u"schemaVersion")));
        return html;
    }
}  // namespace Lockstep::Race
