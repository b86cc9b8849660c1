#include "anomalychecker.h"

#include <algorithm>

namespace Lockstep::Race
{
    namespace
    {
        bool isFinal(const QString &status)
        {
            return (status == u"finished") || (status == u"stopped");
        }

        QString sessionList(const QList<int> &sessions)
        {
            QStringList names;
            for (const int session : sessions)
                names << QString::number(session + 1);
            return names.join(QStringLiteral(", "));
        }

        struct Execution
        {
            int round = 0;
            int session = 0;
            QDateTime start;
            QDateTime end;
        };

        // Every execution a session saw, per workflow.
        void overlappingExecutions(const QList<RoundRecord> &rounds, QList<Finding> &findings)
        {
            QHash<QString, QList<Execution>> byWorkflow;
            QStringList order;
            for (const RoundRecord &round : rounds)
            {
                for (const SessionRecord &session : round.sessions)
                {
                    if (!session.ran || !session.executionStart.isValid())
                        continue;
                    if (!byWorkflow.contains(round.workflowId))
                        order << round.workflowId;
                    const QDateTime end = session.executionEnd.isValid() ? session.executionEnd : session.closedAt;
                    byWorkflow[round.workflowId].append(Execution{
                        .round = round.index, .session = session.index, .start = session.executionStart, .end = end});
                }
            }
            for (const QString &workflow : std::as_const(order))
            {
                const QList<Execution> &executions = byWorkflow[workflow];
                for (qsizetype i = 0; i < executions.size(); ++i)
                {
                    for (qsizetype j = i + 1; j < executions.size(); ++j)
                    {
                        const Execution &a = executions.at(i);
                        const Execution &b = executions.at(j);
                        // An execution whose end is unknown lasts to the end of the record.
                        const bool aBeforeB = a.end.isValid() && (a.end <= b.start);
                        const bool bBeforeA = b.end.isValid() && (b.end <= a.start);
                        if (aBeforeB || bBeforeA)
                            continue;
                        Finding finding;
                        finding.kind = FindingKind::OverlappingExecutions;
                        finding.round = a.round;
                        finding.sessions = {a.session, b.session};
                        finding.at = std::max(a.start, b.start);
                        if (a.end.isValid() && b.end.isValid())
                            finding.until = std::min(a.end, b.end);
                        const QString where =
                            (a.round == b.round)
                                ? QStringLiteral("sessions %1 and %2").arg(a.session + 1).arg(b.session + 1)
                                : QStringLiteral("session %1 of round %2 and session %3 of round %4")
                                      .arg(a.session + 1)
                                      .arg(a.round + 1)
                                      .arg(b.session + 1)
                                      .arg(b.round + 1);
                        finding.detail = QStringLiteral("Workflow %1 ran twice at once: %2 executed from %3 until %4.")
                                             .arg(workflow, where, isoTime(finding.at),
                                                  finding.until.isValid() ? isoTime(finding.until)
                                                                          : QStringLiteral("the end of the record"));
                        findings.append(finding);
                    }
                }
            }
        }

        void lostEntries(const QList<RoundRecord> &rounds, QList<Finding> &findings)
        {
            for (const RoundRecord &round : rounds)
            {
                if (!round.finalChatRead)
                    continue;  // no final log to compare with: an unread log is not an empty one
                const QSet<QString> final(round.finalEntries.cbegin(), round.finalEntries.cend());
                for (const SessionRecord &session : round.sessions)
                {
                    QStringList gone;
                    QStringList overwritten;
                    for (const QString &id : session.entriesSeen)
                    {
                        if (!final.contains(id))
                            gone << id;
                        else if (session.entryContents.contains(id) && round.finalContents.contains(id) &&
                                 (session.entryContents.value(id) != round.finalContents.value(id)))
                            overwritten << id;
                    }
                    if (gone.isEmpty() && overwritten.isEmpty())
                        continue;
                    Finding finding;
                    finding.kind = FindingKind::LostEntries;
                    finding.round = round.index;
                    finding.sessions = {session.index};
                    finding.entries = gone + overwritten;
                    finding.at = session.executionStart.isValid() ? session.executionStart : session.sentAt;
                    finding.until = round.finishedAt;
                    QStringList parts;
                    if (!gone.isEmpty())
                        parts << QStringLiteral("%1 no longer in the final chat log (%2)")
                                     .arg(gone.size())
                                     .arg(gone.join(QStringLiteral(", ")));
                    if (!overwritten.isEmpty())
                        parts << QStringLiteral("%1 overwritten with other content (%2)")
                                     .arg(overwritten.size())
                                     .arg(overwritten.join(QStringLiteral(", ")));
                    finding.detail = QStringLiteral("Session %1 saw entries of workflow %2 that were lost: %3.")
                                         .arg(session.index + 1)
                                         .arg(round.workflowId, parts.join(QStringLiteral("; ")));
                    findings.append(finding);
                }
            }
        }

        struct FenceEvent
        {
            QDateTime at;
            qint64 fence = 0;
            int round = 0;
            int session = -1;  // -1: the run's final fence
        };

        void fenceDown(const QList<RoundRecord> &rounds, QList<Finding> &findings)
        {
            QHash<QString, QList<FenceEvent>> byWorkflow;
            QStringList order;
            for (const RoundRecord &round : rounds)
            {
                if (!byWorkflow.contains(round.workflowId))
                    order << round.workflowId;
                QList<FenceEvent> &events = byWorkflow[round.workflowId];
                for (const SessionRecord &session : round.sessions)
                {
                    for (const FenceSeen &seen : session.fences)
                        events.append(FenceEvent{
                            .at = seen.at, .fence = seen.fence, .round = round.index, .session = session.index});
                }
                if (!round.finalFence)
                    continue;
                // Only a runner's fence was written to the run: a session that took
                // the lock and was then refused (4409) never wrote its fence.
                qint64 highestWritten = 0;
                int writer = -1;
                for (const SessionRecord &session : round.sessions)
                {
                    for (const FenceSeen &seen : session.fences)
                    {
                        if (session.ran && (seen.fence > highestWritten))
                        {
                            highestWritten = seen.fence;
                            writer = session.index;
                        }
                    }
                }
                if (*round.finalFence < highestWritten)
                {
                    Finding finding;
                    finding.kind = FindingKind::FenceDown;
                    finding.round = round.index;
                    finding.sessions = {writer};
                    finding.at = round.finishedAt;
                    finding.detail =
                        QStringLiteral(
                            "Workflow %1 ended round %2 with fence %3, below fence %4 that session %5 ran with.")
                            .arg(round.workflowId)
                            .arg(round.index + 1)
                            .arg(*round.finalFence)
                            .arg(highestWritten)
                            .arg(writer + 1);
                    findings.append(finding);
                }
                events.append(FenceEvent{.at = round.finishedAt, .fence = *round.finalFence, .round = round.index});
            }
            for (const QString &workflow : std::as_const(order))
            {
                QList<FenceEvent> events = byWorkflow.value(workflow);
                std::stable_sort(events.begin(), events.end(),
                                 [](const FenceEvent &a, const FenceEvent &b) { return a.at < b.at; });
                std::optional<FenceEvent> highest;
                for (const FenceEvent &event : std::as_const(events))
                {
                    // The final fences are compared above, against what the runners wrote.
                    if (event.session >= 0 && highest && (event.fence < highest->fence))
                    {
                        Finding finding;
                        finding.kind = FindingKind::FenceDown;
                        finding.round = event.round;
                        finding.sessions = {event.session};
                        if (highest->session >= 0 && highest->session != event.session)
                            finding.sessions.append(highest->session);
                        finding.at = event.at;
                        finding.detail =
                            QStringLiteral("Session %1 of round %2 saw fence %3 of workflow %4 after fence %5 was seen "
                                           "(round %6).")
                                .arg(event.session)
                                .arg(event.round)
                                .arg(event.fence)
                                .arg(workflow)
                                .arg(highest->fence)
                                .arg(highest->round);
                        findings.append(finding);
                    }
                    if (!highest || (event.fence > highest->fence))
                        highest = event;
                }
            }
        }

        void resumedFinalRun(const QList<RoundRecord> &rounds, QList<Finding> &findings)
        {
            for (const RoundRecord &round : rounds)
            {
                if (!isFinal(round.statusBefore))
                    continue;
                QList<int> runners;
                QDateTime first;
                for (const SessionRecord &session : round.sessions)
                {
                    if (!session.ran)
                        continue;
                    runners << session.index;
                    if (!first.isValid() || (session.executionStart.isValid() && session.executionStart < first))
                        first = session.executionStart;
                }
                if (runners.isEmpty())
                    continue;
                Finding finding;
                finding.kind = FindingKind::ResumedFinalRun;
                finding.round = round.index;
                finding.sessions = runners;
                finding.at = first;
                finding.detail = QStringLiteral("Workflow %1 was %2 before round %3, yet session(s) %4 ran it.")
                                     .arg(round.workflowId, round.statusBefore)
                                     .arg(round.index + 1)
                                     .arg(sessionList(runners));
                findings.append(finding);
            }
        }

        void cancelNoop(const QList<CancelResult> &cancels, QList<Finding> &findings)
        {
            for (const CancelResult &cancel : cancels)
            {
                if (cancel.outcome != u"cancelled")
                    continue;
                const bool unchanged = !cancel.statusBefore.isEmpty() && (cancel.statusBefore == cancel.statusAfter);
                const bool notStopped = !cancel.statusAfter.isEmpty() && (cancel.statusAfter != u"stopped");
                if (!unchanged && !notStopped)
                    continue;
                Finding finding;
                finding.kind = FindingKind::CancelNoop;
                finding.round = cancel.round;
                if (cancel.session >= 0)
                    finding.sessions = {cancel.session};
                finding.at = cancel.at;
                finding.detail = QStringLiteral("A cancel of workflow %1 was reported as cancelled but the run went "
                                                "from %2 to %3.")
                                     .arg(cancel.workflowId,
                                          cancel.statusBefore.isEmpty() ? QStringLiteral("?") : cancel.statusBefore,
                                          cancel.statusAfter.isEmpty() ? QStringLiteral("?") : cancel.statusAfter);
                findings.append(finding);
            }
        }
    }  // namespace

    QList<Finding> checkHistory(const History &history)
    {
        QList<Finding> findings;
        overlappingExecutions(history.rounds, findings);
        lostEntries(history.rounds, findings);
        fenceDown(history.rounds, findings);
        resumedFinalRun(history.rounds, findings);
        cancelNoop(history.cancels, findings);
        return findings;
    }

    QList<Finding> checkRounds(const QList<RoundRecord> &rounds)
    {
        return checkHistory(History{.rounds = rounds, .cancels = {}});
    }
}  // namespace Lockstep::Race
