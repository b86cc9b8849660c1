#pragma once

#include <chrono>
#include <optional>

#include <QByteArray>
#include <QJsonObject>
#include <QList>
#include <QString>

#include "common/result.h"
#include "protocol/runstatus.h"

// Flow format (version 1)
// =======================
// A flow is a scripted agent run: one JSON object in a file named <name>.json.
// The file name is the flow's name ("hello.json" -> "hello"); names match
// [A-Za-z0-9][A-Za-z0-9_.-]{0,63}.
//
//   {
//     "name": "hello",                 optional; if present it must equal the file name
//     "description": "one line",       optional string
//     "version": 1,                    optional; only 1 exists
//     "steps": [ {step}, ... ]         required, 1..10000 steps
//   }
//
// Every step is an object with a "type" and the fields of that type; any other
// field is an error (a typo such as "delayMS" must not be silently ignored).
// Times are integers in milliseconds, 0..3600000, scaled at run time by the
// executor's delayScale.
//
//   agent      {content: Markdown (required, non-empty), subType: string (optional,
//               message_sub_type, default "message"), delayMs (optional, default 0:
//               the "thinking time" before the message appears)}
//              -> one `agent` entry.
//   tool       {name (required), args: object (optional, {}), response: string or any
//               JSON value (optional, ""; non-strings are sent as compact JSON),
//               status: "success"|"failure" (optional, "success"), content: text shown
//               for the call (optional), delayMs (optional: how long the tool "runs")}
//              -> a `tool` entry with status `pending`, then after delayMs the same
//               message_id with status success|failure and tool_info.tool_response
//               cut to 4 KiB. A failing tool does not end the run by itself; follow
//               it with a `fail` step for that.
//   request    {kind: "plan_approval"|"tool_call_approval"|"input" (required),
//               content (required)}
//              -> a `request` entry (message_sub_type = kind); the run goes to
//               plan_approval_required | tool_call_approval_required | input_required
//               and the turn ends. Resuming continues with the next step.
//   wait       {ms (required)} -> nothing is written; the executor only waits.
//   fail       {message (required)} -> an `agent` entry with message_sub_type "error"
//               and status failure; the run goes to `failed` with the message as reason.
//   workspace  {tool (required), args: object (optional)} -> runs `tool` in the run's
//               workspace through its agent (core/workspace: read_file, write_file,
//               list_dir, run_command). A `tool` entry with status pending, then the
//               same message_id with success|failure, tool_info.tool_response = the
//               output or the failure text (e.g. "workspace has no running agent ...")
//               and additional_context.workspace = {workspaceID, agentID, switchedFrom?,
//               failure?}. A failure fails the run (status `failed`, reason = its first
//               line); the step is not completed, so resuming retries it. Without a
//               workspace runner (ExecutionOptions::workspaceTools) the step fails
//               honestly saying so.
//   finish     {content (required)} -> a `workflow_end` entry; the run is `finished`.
//
// When the steps run out, the turn ends in `input_required` (a chat turn is done).
namespace Lockstep::Flows
{
    enum class StepType
    {
        Agent,
        Tool,
        Request,
        Wait,
        Fail,
        Workspace,
        Finish,
    };

    enum class RequestKind
    {
        PlanApproval,
        ToolCallApproval,
        Input,
    };

    QString toString(StepType type);     // "agent", "tool", ...
    QString toString(RequestKind kind);  // "plan_approval", ...
    // The run status a request step leaves the run in.
    RunStatus waitStatus(RequestKind kind);

    // One step; which fields matter depends on `type` (see the format above).
    struct Step
    {
        StepType type = StepType::Agent;
        QString content;                     // agent, request, finish, tool (display); fail: the message
        QString subType;                     // agent: message_sub_type
        std::chrono::milliseconds delay{0};  // agent, tool: delayMs; wait: ms
        QString tool;                        // tool: name; workspace: tool
        QJsonObject args;                    // tool, workspace
        QString response;                    // tool: the full response (cut to 4 KiB when sent)
        bool toolSucceeds = true;            // tool: status
        RequestKind requestKind = RequestKind::Input;
    };

    // A readable validation error: "hello.json: steps[2].delayMs: must be an integer
    // from 0 to 3600000 (got a string)".
    struct FlowError
    {
        QString file;             // file name as given ("hello.json", a path)
        std::optional<int> step;  // index into "steps"
        QString field;            // "delayMs", "steps", "" for the whole file
        QString message;

        QString toString() const;
    };

    struct Flow
    {
        QString name;
        QString description;
        QList<Step> steps;
        QString source;  // where it was loaded from (":/flows/hello.json")

        // Parses and validates one flow. `fileName` names it: its base name
        // without ".json" is the flow name.
        static Result<Flow, FlowError> parse(const QByteArray &json, const QString &fileName);
        // Reads and parses a file (at most 1 MiB).
        static Result<Flow, FlowError> loadFile(const QString &path);
        // The flow name a file name stands for, empty when the name is not allowed.
        static QString nameForFile(const QString &fileName);
        static bool isValidName(const QString &name);
    };
}  // namespace Lockstep::Flows
