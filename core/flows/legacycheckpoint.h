#pragma once

#include <QJsonObject>
#include <QList>
#include <QString>

#include "flows/flow.h"
#include "protocol/runstatus.h"

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
    // it is large because the old design repeated the accumulated state in every
    // message, not because of padding.
    QJsonObject buildLegacyCheckpoint(const LegacyCheckpointInput &input);
}  // namespace Lockstep::Flows
