#include "racereport.h"

#include <algorithm>
#include <cmath>

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonParseError>

namespace Lockstep::Race
{
    QString isoTime(const QDateTime &time)
    {
        return time.isValid() ? time.toUTC().toString(Qt::ISODateWithMs) : QString();
    }

    GatewaySwitches GatewaySwitches::fromHealth(const QJsonObject &health)
    {
        return {.lockEnabled = health.value(u"lockEnabled").toBool(true),
                .casGuards = health.value(u"casGuards").toBool(true),
                .fencing = health.value(u"fencing").toBool(true)};
    }

    bool GatewaySwitches::allOn() const
    {
        return lockEnabled && casGuards && fencing;
    }

    QString toString(const ClosedBy closedBy)
    {
        switch (closedBy)
        {
        case ClosedBy::Server: return QStringLiteral("server");
        case ClosedBy::Client: return QStringLiteral("client");
        case ClosedBy::Lost: return QStringLiteral("lost");
        case ClosedBy::Failed: return QStringLiteral("failed");
        }
        return {};
    }

    QString toString(const SessionOutcome outcome)
    {
        switch (outcome)
        {
        case SessionOutcome::Ran: return QStringLiteral("ran");
        case SessionOutcome::AlreadyRunning: return QStringLiteral("already_running");
        case SessionOutcome::NotResumable: return QStringLiteral("not_resumable");
        case SessionOutcome::Closed: return QStringLiteral("closed");
        case SessionOutcome::Failed: return QStringLiteral("failed");
        }
        return {};
    }

    QString toString(const FindingKind kind)
    {
        switch (kind)
        {
        case FindingKind::OverlappingExecutions: return QStringLiteral("overlapping_executions");
        case FindingKind::LostEntries: return QStringLiteral("lost_entries");
        case FindingKind::FenceDown: return QStringLiteral("fence_down");
        case FindingKind::ResumedFinalRun: return QStringLiteral("resumed_final_run");
        case FindingKind::CancelNoop: return QStringLiteral("cancel_noop");
        }
        return {};
    }

    std::optional<FindingKind> findingKindFromString(const QString &text)
    {
        for (const FindingKind kind : {FindingKind::OverlappingExecutions, FindingKind::LostEntries,
                                       FindingKind::FenceDown, FindingKind::ResumedFinalRun, FindingKind::CancelNoop})
        {
            if (toString(kind) == text)
                return kind;
        }
        return std::nullopt;
    }

    namespace
    {
        QJsonValue timeOrNull(const QDateTime &time)
        {
            return time.isValid() ? QJsonValue(isoTime(time)) : QJsonValue(QJsonValue::Null);
        }

        QJsonValue stringOrNull(const QString &text)
        {
            return text.isEmpty() ? QJsonValue(QJsonValue::Null) : QJsonValue(text);
        }

        QJsonArray toArray(const QStringList &list)
        {
            return QJsonArray::fromStringList(list);
        }

        QJsonObject toJson(const GatewayInfo &gateway)
        {
            return {
                {QStringLiteral("url"), gateway.url},
                {QStringLiteral("version"), gateway.version},
                {QStringLiteral("replicas"), toArray(gateway.replicas)},
                {QStringLiteral("lockStore"), gateway.lockStore},
                {QStringLiteral("store"), gateway.store},
                {QStringLiteral("switches"), QJsonObject{{QStringLiteral("lockEnabled"), gateway.switches.lockEnabled},
                                                         {QStringLiteral("casGuards"), gateway.switches.casGuards},
                                                         {QStringLiteral("fencing"), gateway.switches.fencing}}},
            };
        }

        QJsonObject toJson(const SessionRecord &session)
        {
            QJsonArray fences;
            for (const FenceSeen &seen : session.fences)
                fences.append(seen.fence);
            return {
                {QStringLiteral("index"), session.index},
                {QStringLiteral("offsetMs"), session.offsetMs},
                {QStringLiteral("message"), session.message},
                {QStringLiteral("replica"), stringOrNull(session.replica)},
                {QStringLiteral("connectedAt"), timeOrNull(session.connectedAt)},
                {QStringLiteral("sentAt"), timeOrNull(session.sentAt)},
                {QStringLiteral("closedAt"), timeOrNull(session.closedAt)},
                {QStringLiteral("closeCode"), session.closeCode},
                {QStringLiteral("closeReason"), session.closeReason},
                {QStringLiteral("closedBy"), toString(session.closedBy)},
                {QStringLiteral("ran"), session.ran},
                {QStringLiteral("outcome"), toString(session.outcome)},
                {QStringLiteral("executionStart"), timeOrNull(session.executionStart)},
                {QStringLiteral("executionEnd"), timeOrNull(session.executionEnd)},
                {QStringLiteral("entriesSeen"), toArray(session.entriesSeen)},
                {QStringLiteral("fences"), fences},
                {QStringLiteral("bytesIn"), session.bytesIn},
                {QStringLiteral("bytesOut"), session.bytesOut},
                {QStringLiteral("frames"), session.frames},
            };
        }

        QJsonObject toJson(const RoundRecord &round)
        {
            QJsonArray sessions;
            for (const SessionRecord &session : round.sessions)
                sessions.append(toJson(session));
            return {
                {QStringLiteral("index"), round.index},
                {QStringLiteral("workflowID"), round.workflowId},
                {QStringLiteral("startedAt"), timeOrNull(round.startedAt)},
                {QStringLiteral("finishedAt"), timeOrNull(round.finishedAt)},
                {QStringLiteral("runners"), round.runners},
                {QStringLiteral("finalStatus"), stringOrNull(round.finalStatus)},
                {QStringLiteral("finalFence"),
                 round.finalFence ? QJsonValue(*round.finalFence) : QJsonValue(QJsonValue::Null)},
                {QStringLiteral("finalEntries"), toArray(round.finalEntries)},
                {QStringLiteral("sessions"), sessions},
            };
        }

        QJsonObject toJson(const Finding &finding)
        {
            QJsonArray sessions;
            for (const int session : finding.sessions)
                sessions.append(session);
            QJsonObject object{
                {QStringLiteral("kind"), toString(finding.kind)}, {QStringLiteral("detail"), finding.detail},
                {QStringLiteral("sessions"), sessions},           {QStringLiteral("entries"), toArray(finding.entries)},
                {QStringLiteral("at"), timeOrNull(finding.at)},
            };
            if (finding.round)
                object.insert(QStringLiteral("round"), *finding.round);
            if (finding.until.isValid())
                object.insert(QStringLiteral("until"), isoTime(finding.until));
            return object;
        }

        QJsonObject toJson(const RaceSummary &summary)
        {
            return {
                {QStringLiteral("rounds"), summary.rounds},
                {QStringLiteral("roundsWithOneRunner"), summary.roundsWithOneRunner},
                {QStringLiteral("minRunners"), summary.minRunners},
                {QStringLiteral("maxRunners"), summary.maxRunners},
                {QStringLiteral("findings"), summary.findings},
                {QStringLiteral("passed"), summary.passed},
                {QStringLiteral("roundsPerSecond"), summary.roundsPerSecond},
            };
        }

        // Strict reading of one object: the first problem wins and names its path.
        class Reader
        {
        public:
            Reader(const QJsonObject &object, QString path, QString *error)
                : m_object(object)
                , m_path(std::move(path))
                , m_error(error)
            {}

            bool ok() const
            {
                return m_error->isEmpty();
            }

            QString name(const QString &key) const
            {
                return m_path.isEmpty() ? key : m_path + u'.' + key;
            }

            void fail(const QString &key, const QString &problem) const
            {
                if (m_error->isEmpty())
                    *m_error = name(key) + QStringLiteral(": ") + problem;
            }

            QJsonValue value(const QString &key, const bool required) const
            {
                const QJsonValue value = m_object.value(key);
                if (required && value.isUndefined())
                    fail(key, QStringLiteral("missing"));
                return value;
            }

            QString string(const QString &key, const bool nullable = false) const
            {
                const QJsonValue v = value(key, true);
                if (v.isString())
                    return v.toString();
                if (!(nullable && v.isNull()))
                    fail(key,
                         nullable ? QStringLiteral("must be a string or null") : QStringLiteral("must be a string"));
                return {};
            }

            qint64 integer(const QString &key, const qint64 minimum, const qint64 maximum) const
            {
                const QJsonValue v = value(key, true);
                const double number = v.toDouble(std::nan(""));
                if (!v.isDouble() || (std::floor(number) != number) || (number < double(minimum)) ||
                    (number > double(maximum)))
                {
                    fail(key, QStringLiteral("must be an integer from %1 to %2").arg(minimum).arg(maximum));
                    return minimum;
                }
                return qint64(number);
            }

            std::optional<qint64> optionalInteger(const QString &key) const
            {
                const QJsonValue v = value(key, false);
                if (v.isNull() || v.isUndefined())
                    return std::nullopt;
                return integer(key, 0, (qint64(1) << 53) - 1);
            }

            bool boolean(const QString &key) const
            {
                const QJsonValue v = value(key, true);
                if (!v.isBool())
                    fail(key, QStringLiteral("must be true or false"));
                return v.toBool();
            }

            double number(const QString &key) const
            {
                const QJsonValue v = value(key, true);
                if (!v.isDouble())
                    fail(key, QStringLiteral("must be a number"));
                return v.toDouble();
            }

            QDateTime time(const QString &key, const bool required = true) const
            {
                const QJsonValue v = value(key, required);
                if (v.isNull() || v.isUndefined())
                    return {};
                const QDateTime parsed = QDateTime::fromString(v.toString(), Qt::ISODateWithMs);
                if (!v.isString() || !parsed.isValid())
                    fail(key, QStringLiteral("must be an ISO 8601 time or null"));
                return parsed.toUTC();
            }

            QStringList strings(const QString &key) const
            {
                const QJsonValue v = value(key, true);
                QStringList list;
                if (!v.isArray())
                {
                    fail(key, QStringLiteral("must be an array of strings"));
                    return list;
                }
                for (const QJsonValue &item : v.toArray())
                {
                    if (!item.isString())
                    {
                        fail(key, QStringLiteral("must be an array of strings"));
                        return {};
                    }
                    list << item.toString();
                }
                return list;
            }

            QList<qint64> integers(const QString &key) const
            {
                const QJsonValue v = value(key, true);
                QList<qint64> list;
                if (!v.isArray())
                {
                    fail(key, QStringLiteral("must be an array of integers"));
                    return list;
                }
                for (const QJsonValue &item : v.toArray())
                {
                    const double number = item.toDouble(-1);
                    if (!item.isDouble() || (std::floor(number) != number) || (number < 0))
                    {
                        fail(key, QStringLiteral("must be an array of integers"));
                        return {};
                    }
                    list << qint64(number);
                }
                return list;
            }

            QJsonArray array(const QString &key) const
            {
                const QJsonValue v = value(key, true);
                if (!v.isArray())
                    fail(key, QStringLiteral("must be an array"));
                return v.toArray();
            }

            QJsonObject object(const QString &key, const bool required = true) const
            {
                const QJsonValue v = value(key, required);
                if (v.isUndefined() && !required)
                    return {};
                if (!v.isObject())
                    fail(key, QStringLiteral("must be an object"));
                return v.toObject();
            }

            template <typename T>
            T oneOf(const QString &key, const QList<T> &choices) const
            {
                const QString text = string(key);
                for (const T choice : choices)
                {
                    if (toString(choice) == text)
                        return choice;
                }
                if (ok())
                    fail(key, QStringLiteral("'%1' is not one of the known values").arg(text.left(40)));
                return choices.constFirst();
            }

        private:
            const QJsonObject &m_object;
            QString m_path;
            QString *m_error;
        };

        // Element i of `array`; `path` names it in the error.
        QJsonObject objectAt(const QJsonArray &array, const int i, const QString &path, QString *error)
        {
            if (!array.at(i).isObject() && error->isEmpty())
                *error = path + QStringLiteral(": must be an object");
            return array.at(i).toObject();
        }

        GatewayInfo gatewayFromJson(const QJsonObject &object, QString *error)
        {
            const Reader read(object, QStringLiteral("gateway"), error);
            GatewayInfo gateway;
            gateway.url = read.string(QStringLiteral("url"));
            gateway.version = read.string(QStringLiteral("version"));
            gateway.replicas = read.strings(QStringLiteral("replicas"));
            gateway.lockStore = read.string(QStringLiteral("lockStore"));
            gateway.store = read.string(QStringLiteral("store"));
            const QJsonObject switches = read.object(QStringLiteral("switches"));
            const Reader sw(switches, QStringLiteral("gateway.switches"), error);
            gateway.switches.lockEnabled = sw.boolean(QStringLiteral("lockEnabled"));
            gateway.switches.casGuards = sw.boolean(QStringLiteral("casGuards"));
            gateway.switches.fencing = sw.boolean(QStringLiteral("fencing"));
            return gateway;
        }

        SessionRecord sessionFromJson(const QJsonObject &object, const QString &path, QString *error)
        {
            const Reader read(object, path, error);
            SessionRecord session;
            session.index = int(read.integer(QStringLiteral("index"), 0, 63));
            session.offsetMs = int(read.integer(QStringLiteral("offsetMs"), 0, 500));
            session.message = read.string(QStringLiteral("message"));
            if (read.ok() && session.message.isEmpty())
                read.fail(QStringLiteral("message"), QStringLiteral("must not be empty"));
            session.replica = read.string(QStringLiteral("replica"), true);
            session.connectedAt = read.time(QStringLiteral("connectedAt"));
            session.sentAt = read.time(QStringLiteral("sentAt"));
            session.closedAt = read.time(QStringLiteral("closedAt"));
            session.closeCode = int(read.integer(QStringLiteral("closeCode"), 0, 4999));
            session.closeReason = read.string(QStringLiteral("closeReason"));
            session.closedBy = read.oneOf<ClosedBy>(
                QStringLiteral("closedBy"), {ClosedBy::Server, ClosedBy::Client, ClosedBy::Lost, ClosedBy::Failed});
            session.ran = read.boolean(QStringLiteral("ran"));
            session.outcome = read.oneOf<SessionOutcome>(QStringLiteral("outcome"),
                                                         {SessionOutcome::Ran, SessionOutcome::AlreadyRunning,
                                                          SessionOutcome::NotResumable, SessionOutcome::Closed,
                                                          SessionOutcome::Failed});
            session.executionStart = read.time(QStringLiteral("executionStart"));
            session.executionEnd = read.time(QStringLiteral("executionEnd"));
            session.entriesSeen = read.strings(QStringLiteral("entriesSeen"));
            // The file keeps the fences only: they count as seen when the session sent.
            for (const qint64 fence : read.integers(QStringLiteral("fences")))
                session.fences.append(FenceSeen{.fence = fence, .at = session.sentAt});
            session.bytesIn = read.integer(QStringLiteral("bytesIn"), 0, (qint64(1) << 53) - 1);
            session.bytesOut = read.integer(QStringLiteral("bytesOut"), 0, (qint64(1) << 53) - 1);
            session.frames = read.integer(QStringLiteral("frames"), 0, (qint64(1) << 53) - 1);
            return session;
        }

        RoundRecord roundFromJson(const QJsonObject &object, const QString &path, const int sessions, QString *error)
        {
            const Reader read(object, path, error);
            RoundRecord round;
            round.index = int(read.integer(QStringLiteral("index"), 0, 999));
            round.workflowId = read.string(QStringLiteral("workflowID"));
            round.startedAt = read.time(QStringLiteral("startedAt"));
            round.finishedAt = read.time(QStringLiteral("finishedAt"));
            round.runners = int(read.integer(QStringLiteral("runners"), 0, 64));
            round.finalStatus = read.string(QStringLiteral("finalStatus"), true);
            round.finalFence = read.optionalInteger(QStringLiteral("finalFence"));
            round.finalEntries = read.strings(QStringLiteral("finalEntries"));
            const QJsonArray list = read.array(QStringLiteral("sessions"));
            if (read.ok() && list.size() != sessions)
                read.fail(QStringLiteral("sessions"),
                          QStringLiteral("has %1 sessions, race.sessions says %2").arg(list.size()).arg(sessions));
            for (int i = 0; read.ok() && i < list.size(); ++i)
            {
                const QString at = QStringLiteral("%1.sessions[%2]").arg(path).arg(i);
                round.sessions.append(sessionFromJson(objectAt(list, i, at, error), at, error));
                if (read.ok() && round.sessions.constLast().index != i)
                    read.fail(QStringLiteral("sessions[%1].index").arg(i), QStringLiteral("must be %1").arg(i));
            }
            return round;
        }

        Finding findingFromJson(const QJsonObject &object, const QString &path, QString *error)
        {
            const Reader read(object, path, error);
            Finding finding;
            const QString kind = read.string(QStringLiteral("kind"));
            if (const auto known = findingKindFromString(kind))
                finding.kind = *known;
            else if (read.ok())
                read.fail(QStringLiteral("kind"), QStringLiteral("'%1' is not a finding kind").arg(kind.left(40)));
            finding.detail = read.string(QStringLiteral("detail"));
            if (!object.value(QStringLiteral("round")).isUndefined())
                finding.round = int(read.integer(QStringLiteral("round"), 0, 999));
            for (const qint64 session : read.integers(QStringLiteral("sessions")))
                finding.sessions.append(int(session));
            finding.entries = read.strings(QStringLiteral("entries"));
            finding.at = read.time(QStringLiteral("at"));
            finding.until = read.time(QStringLiteral("until"), false);
            return finding;
        }
    }  // namespace

    RaceSummary RaceReport::summary() const
    {
        RaceSummary summary;
        summary.rounds = int(rounds.size());
        summary.findings = int(findings.size());
        summary.roundsPerSecond = roundsPerSecond;
        for (const RoundRecord &round : rounds)
        {
            if (round.runners == 1)
                ++summary.roundsWithOneRunner;
        }
        if (!rounds.isEmpty())
        {
            const auto [low, high] =
                std::minmax_element(rounds.cbegin(), rounds.cend(),
                                    [](const RoundRecord &a, const RoundRecord &b) { return a.runners < b.runners; });
            summary.minRunners = low->runners;
            summary.maxRunners = high->runners;
        }
        summary.passed = !rounds.isEmpty() && (summary.roundsWithOneRunner == summary.rounds) && findings.isEmpty();
        return summary;
    }

    QJsonObject RaceReport::toJson() const
    {
        QJsonArray findingList;
        for (const Finding &finding : findings)
            findingList.append(Race::toJson(finding));
        QJsonArray roundList;
        for (const RoundRecord &round : rounds)
            roundList.append(Race::toJson(round));
        QJsonObject object{
            {QStringLiteral("schemaVersion"), SchemaVersion},
            {QStringLiteral("kind"), QStringLiteral("race")},
            {QStringLiteral("generatedAt"), isoTime(generatedAt)},
            {QStringLiteral("console"), QJsonObject{{QStringLiteral("version"), consoleVersion}}},
            {QStringLiteral("gateway"), Race::toJson(gateway)},
            {QStringLiteral("findings"), findingList},
            {QStringLiteral("race"),
             QJsonObject{
                 {QStringLiteral("workflowID"), stringOrNull(race.workflowId)},
                 {QStringLiteral("flow"), stringOrNull(race.flow)},
                 {QStringLiteral("sessions"), race.sessions},
                 {QStringLiteral("rounds"), race.rounds},
                 {QStringLiteral("spreadMs"), race.spreadMs},
             }},
            {QStringLiteral("summary"), Race::toJson(summary())},
            {QStringLiteral("rounds"), roundList},
        };
        if (!previous.isEmpty())
            object.insert(QStringLiteral("previous"), previous);
        return object;
    }

    QJsonObject RaceReport::asPrevious() const
    {
        QJsonArray roundList;
        for (const RoundRecord &round : rounds)
            roundList.append(
                QJsonObject{{QStringLiteral("index"), round.index}, {QStringLiteral("runners"), round.runners}});
        return {
            {QStringLiteral("gateway"), Race::toJson(gateway)},
            {QStringLiteral("summary"), Race::toJson(summary())},
            {QStringLiteral("rounds"), roundList},
        };
    }

    Result<RaceReport, QString> RaceReport::fromJson(const QJsonObject &object)
    {
        QString error;
        const Reader read(object, QString(), &error);
        RaceReport report;
        if (read.integer(QStringLiteral("schemaVersion"), SchemaVersion, SchemaVersion) != SchemaVersion || !read.ok())
            return unexpected(error);
        if (read.string(QStringLiteral("kind")) != u"race" && read.ok())
            read.fail(QStringLiteral("kind"), QStringLiteral("must be \"race\" (this is not a race report)"));
        report.generatedAt = read.time(QStringLiteral("generatedAt"));
        report.consoleVersion = Reader(read.object(QStringLiteral("console")), QStringLiteral("console"), &error)
                                    .string(QStringLiteral("version"));
        report.gateway = gatewayFromJson(read.object(QStringLiteral("gateway")), &error);

        const QJsonObject race = read.object(QStringLiteral("race"));
        const Reader spec(race, QStringLiteral("race"), &error);
        report.race.workflowId = spec.string(QStringLiteral("workflowID"), true);
        report.race.flow = spec.string(QStringLiteral("flow"), true);
        report.race.sessions = int(spec.integer(QStringLiteral("sessions"), 2, 64));
        report.race.rounds = int(spec.integer(QStringLiteral("rounds"), 1, 1000));
        report.race.spreadMs = int(spec.integer(QStringLiteral("spreadMs"), 0, 500));
        if (spec.ok() && (report.race.workflowId.isEmpty() == report.race.flow.isEmpty()))
            spec.fail(QStringLiteral("workflowID"), QStringLiteral("exactly one of workflowID and flow must be set"));

        const QJsonArray findingList = read.array(QStringLiteral("findings"));
        for (int i = 0; error.isEmpty() && i < findingList.size(); ++i)
        {
            const QString path = QStringLiteral("findings[%1]").arg(i);
            report.findings.append(findingFromJson(objectAt(findingList, i, path, &error), path, &error));
        }
        const QJsonObject summary = read.object(QStringLiteral("summary"));
        report.roundsPerSecond =
            Reader(summary, QStringLiteral("summary"), &error).number(QStringLiteral("roundsPerSecond"));

        const QJsonArray roundList = read.array(QStringLiteral("rounds"));
        if (error.isEmpty() && roundList.size() != report.race.rounds)
            read.fail(
                QStringLiteral("rounds"),
                QStringLiteral("has %1 rounds, race.rounds says %2").arg(roundList.size()).arg(report.race.rounds));
        for (int i = 0; error.isEmpty() && i < roundList.size(); ++i)
        {
            const QString path = QStringLiteral("rounds[%1]").arg(i);
            report.rounds.append(
                roundFromJson(objectAt(roundList, i, path, &error), path, report.race.sessions, &error));
            if (error.isEmpty() && report.rounds.constLast().index != i)
                error = path + QStringLiteral(".index: must be %1").arg(i);
        }
        const QJsonObject previous = read.object(QStringLiteral("previous"), false);
        report.previous = previous;
        if (!error.isEmpty())
            return unexpected(error);
        return report;
    }

    Result<RaceReport, QString> RaceReport::load(const QString &path)
    {
        QFile file(path);
        if (!file.open(QIODevice::ReadOnly))
            return unexpected(QStringLiteral("%1: cannot be read (%2)").arg(path, file.errorString()));
        // A report of 1000 rounds x 64 sessions is a few tens of MB; more is not a report.
        constexpr qint64 MaxBytes = qint64(256) * 1024 * 1024;
        if (file.size() > MaxBytes)
            return unexpected(QStringLiteral("%1: too large for a race report").arg(path));
        QJsonParseError parseError;
        const QJsonDocument document = QJsonDocument::fromJson(file.readAll(), &parseError);
        if (parseError.error != QJsonParseError::NoError)
            return unexpected(QStringLiteral("%1: not JSON (%2 at offset %3)")
                                  .arg(path, parseError.errorString())
                                  .arg(parseError.offset));
        if (!document.isObject())
            return unexpected(QStringLiteral("%1: not a race report (the top level must be an object)").arg(path));
        auto report = fromJson(document.object());
        if (!report)
            return unexpected(QStringLiteral("%1: not a usable race report: %2").arg(path, report.error()));
        return report;
    }
}  // namespace Lockstep::Race
