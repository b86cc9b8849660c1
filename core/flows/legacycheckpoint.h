#pragma once

#include <QJsonObject>
#include <QList>
#include <QString>

#include "flows/flow.h"
#include "protocol/runstatus.h"

// A model of the old service's internal checkpoint, which the legacy mode of
// newCheckpoint sends whole every time (SPEC.md, fix 5: clients without
// incremental_streaming) and against which bench_checkpointbytes and
// bench_events weigh the incremental chat-log deltas.
//
// What is modelled: the LangGraph checkpoint of a planner/executor agent pair
// (see buildLegacyCheckpoint). The old service cannot be measured here, so its
// shape follows LangGraph's and LangChain's serialisation, not a recording;
// the fixed texts (two system prompts, the tool list) are stand-ins of
// ordinary length for the old agents' own.
//
// Why the comparison is fair: every value comes from the execution that also
// produces the incremental frames (goal, flow steps, the chat log so far, its
// tool outputs); nothing is padded or random, and the ui_chat_log inside is
// the same one the deltas carry. It understates the original rather than
// inflating it: a `hello` run's largest legacy frame is about 21 KB here
// (`long`: 112 KB), where SPEC.md reports 3 MiB for a one-line goal. For short
// flows the fixed part dominates the ratio, for long ones the repeated history.
namespace Lockstep::Flows
{
    // What the legacy checkpoint is built from: the state of one execution.
    struct LegacyCheckpointInput
    {
        QString workflowId;
        QString goal;  // the user message of the current turn
        const Flow *flow = nullptr;
        int turn = 0;
        int nextStep = 0;
        RunStatus status = RunStatus::Running;
        int checkpointNumber = 0;    // how many checkpoints this execution produced
        QList<QJsonObject> chatLog;  // the whole ui_chat_log, seq order
    };

    // The internal checkpoint the legacy API sent whole in every newCheckpoint:
    // a LangGraph-style snapshot ({v, id, ts, channel_values, channel_versions,
    // versions_seen, pending_sends, metadata}) whose channel_values hold the
    // per-agent conversation histories (LangChain-serialised messages with
    // their system prompts and full, uncut tool outputs), the handover, the plan
    // and the ui_chat_log. Everything in it derives from the execution's state;
    // it is large because the old design sent the whole state (prompts, plan,
    // histories) in every message, not because of padding.
    QJsonObject buildLegacyCheckpoint(const LegacyCheckpointInput &input);
}  // namespace Lockstep::Flows
