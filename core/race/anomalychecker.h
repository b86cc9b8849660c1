#pragma once

#include <QDateTime>
#include <QList>
#include <QString>

#include "race/racereport.h"

// The anomaly checker: what a QA engineer looks for by eye, read off a
// recorded history the way Jepsen's checkers read theirs. A pure function: no
// I/O, no clock; the same history always gives the same findings, in order.
namespace Lockstep::Race
{
    // A cancel and what it did: the race does not cancel, a session recording
    // or another tool may.
    struct CancelResult
    {
        std::optional<int> round;
        int session = -1;  // -1: not a session's (e.g. the HTTP cancel)
        QString workflowId;
        QDateTime at;
        QString outcome;       // as reported: "cancelled", "noop", "not_found"
        QString statusBefore;  // the run's status before and after the cancel; empty: unknown
        QString statusAfter;

        bool operator==(const CancelResult &) const = default;
    };

    struct History
    {
        QList<RoundRecord> rounds;
        QList<CancelResult> cancels;
    };

    // Findings, in this order: overlapping_executions (two sessions' execution
    // intervals of one workflow overlap, within a round or across rounds),
    // lost_entries (an entry a session saw that the final chat log no longer
    // has, or has with other content: overwritten), fence_down (a fence seen
    // lower than one seen before for the same workflow, or a final fence below
    // a fence a runner of that round saw), resumed_final_run (a session ran
    // while the run was finished or stopped before the round), cancel_noop (a
    // cancel reported as "cancelled" that left the status as it was, or not
    // stopped). A finding's round and sessions are 0-based indexes, as in the
    // JSON; its detail counts from 1, as the console and the HTML report show them.
    QList<Finding> checkHistory(const History &history);
    // The same over a race's rounds only.
    QList<Finding> checkRounds(const QList<RoundRecord> &rounds);
}  // namespace Lockstep::Race
