#include "legacycheckpoint.h"

#include <QCryptographicHash>
#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>
#include <QUuid>

#include "flows/messageid.h"
#include "protocol/names.h"

namespace Lockstep::Flows
{
    namespace Names = Protocol::Names;

    namespace
    {
        // The tools the old agents were bound to; their descriptions went into
        // the executor's system prompt of every checkpoint.
        struct ToolDoc
        {
            const char16_t *name;
            const char16_t *description;
        };
        constexpr ToolDoc ToolDocs[] = {
            {u"create_file", u"Create a file with the given contents. Arguments: file_path (string, relative to the project root), contents (string). Fails if the file exists."},
            {u"edit_file", u"Replace one occurrence of old_str by new_str in a file. Arguments: file_path, old_str, new_str. old_str must match exactly once."},
            {u"read_file", u"Read a file of the project. Arguments: file_path. Returns the contents, at most 1 MiB."},
            {u"list_dir", u"List the entries of a folder. Arguments: directory (relative path)."},
            {u"find_files", u"Find files whose path matches a glob. Arguments: name_pattern (glob)."},
            {u"grep", u"Search file contents for a regular expression. Arguments: pattern, search_directory, case_insensitive (boolean)."},
            {u"run_command", u"Run a program in the workspace. Arguments: program, arguments (array of strings). Returns the exit status and the combined output."},
            {u"run_git_command", u"Run a git command in the workspace repository. Arguments: command (one of status, diff, log, add, commit), args (string)."},
            {u"get_issue", u"Fetch an issue with its description and comments. Arguments: project_id, issue_iid."},
            {u"create_merge_request", u"Open a merge request. Arguments: source_branch, target_branch, title, description."},
            {u"handover_tool", u"Hand the work over to the next agent with a summary. Arguments: summary."},
            {u"request_user_clarification_tool", u"Ask the user a question and wait for the answer. Arguments: message, recommendations (array of strings)."},
        };

        QString toolSection()
        {
            QString text = u"\n\nYou can call these tools:\n"_qs;
            for (const ToolDoc &tool : ToolDocs)
                text += u"- "_qs + QString::fromUtf16(tool.name) + u": "_qs + QString::fromUtf16(tool.description) + u'\n';
            return text;
        }

        QString plannerPrompt(const QString &goal)
        {
            return u"You are an experienced software engineer planning work for an autonomous agent. "
                   u"Break the goal down into small, verifiable tasks. Each task names the files it touches "
                   u"and the tool it needs. Do not carry out the tasks yourself; produce the plan with the "
                   u"create_plan tool, then hand over to the executor.\n\n"
                   u"Rules:\n- Keep every task independently checkable.\n- Prefer editing existing files to "
                   u"creating new ones.\n- Never run destructive commands.\n- Ask for clarification when the "
                   u"goal is ambiguous.\n\nThe goal:\n<goal>\n"_qs
                   + goal + u"\n</goal>"_qs + toolSection();
        }

        QString executorPrompt(const QString &goal)
        {
            return u"You are an autonomous software engineering agent working in the user's workspace. "
                   u"Carry out the approved plan task by task. After each tool call, check its output before "
                   u"you continue. Report progress in short Markdown messages the user can read in the chat. "
                   u"When a task fails, explain why and stop instead of guessing.\n\n"
                   u"Rules:\n- Use only the tools listed below.\n- Keep changes minimal and focused on the goal.\n"
                   u"- Never expose secrets from the environment.\n\nThe goal:\n<goal>\n"_qs
                   + goal + u"\n</goal>"_qs + toolSection();
        }

        // Deterministic per-message IDs in LangChain's "run-<uuid>" shape.
        QString runId(const QString &workflowId, const QString &what)
        {
            const QByteArray hash = QCryptographicHash::hash((workflowId + u'/' + what).toUtf8(), QCryptographicHash::Sha1);
            return u"run-"_qs + QUuid::fromRfc4122(hash.left(16)).toString(QUuid::WithoutBraces);
        }

        int estimateTokens(const QString &text)
        {
            return static_cast<int>(text.size() / 4 + 1);
        }

        QJsonObject lcMessage(const QString &className, QJsonObject kwargs)
        {
            kwargs.insert(u"additional_kwargs"_qs, QJsonObject{});
            kwargs.insert(u"response_metadata"_qs, kwargs.value(u"response_metadata"_qs).toObject());
            return QJsonObject{
                {u"lc"_qs, 1},
                {u"type"_qs, u"constructor"_qs},
                {u"id"_qs, QJsonArray{u"langchain_core"_qs, u"messages"_qs, className}},
                {u"kwargs"_qs, kwargs},
            };
        }

        QJsonObject systemMessage(const QString &content)
        {
            return lcMessage(u"SystemMessage"_qs, {{u"content"_qs, content}, {u"type"_qs, u"system"_qs}});
        }

        QJsonObject humanMessage(const QString &content)
        {
            return lcMessage(u"HumanMessage"_qs, {{u"content"_qs, content}, {u"type"_qs, u"human"_qs}, {u"example"_qs, false}});
        }

        // An AI message as the Anthropic binding serialised it: content blocks
        // (text and tool_use) next to the parsed tool_calls, plus usage.
        QJsonObject aiMessage(const QString &id, const QString &text, const QJsonArray &toolCalls, int contextTokens)
        {
            QJsonArray blocks;
            if (!text.isEmpty())
                blocks.append(QJsonObject{{u"type"_qs, u"text"_qs}, {u"text"_qs, text}});
            for (const QJsonValue &call : toolCalls)
            {
                const QJsonObject object = call.toObject();
                blocks.append(QJsonObject{{u"type"_qs, u"tool_use"_qs}, {u"id"_qs, object.value(u"id"_qs)},
                                          {u"name"_qs, object.value(u"name"_qs)}, {u"input"_qs, object.value(u"args"_qs)}});
            }
            const int output = estimateTokens(QString::fromUtf8(QJsonDocument(blocks).toJson(QJsonDocument::Compact)));
            const QJsonObject usage{{u"input_tokens"_qs, contextTokens}, {u"output_tokens"_qs, output},
                                    {u"total_tokens"_qs, contextTokens + output}};
            return lcMessage(u"AIMessage"_qs, {
                {u"content"_qs, blocks},
                {u"type"_qs, u"ai"_qs},
                {u"id"_qs, id},
                {u"example"_qs, false},
                {u"tool_calls"_qs, toolCalls},
                {u"invalid_tool_calls"_qs, QJsonArray{}},
                {u"usage_metadata"_qs, usage},
                {u"response_metadata"_qs, QJsonObject{
                    {u"id"_qs, QString(u"msg_"_qs + id.mid(4, 24))},
                    {u"model"_qs, u"claude-3-5-sonnet-20241022"_qs},
                    {u"stop_reason"_qs, toolCalls.isEmpty() ? u"end_turn"_qs : u"tool_use"_qs},
                    {u"stop_sequence"_qs, QJsonValue::Null},
                    {u"usage"_qs, QJsonObject{{u"input_tokens"_qs, contextTokens}, {u"output_tokens"_qs, output}}},
                }},
            });
        }

        QJsonObject toolMessage(const QString &callId, const QString &tool, const QString &content, bool success)
        {
            return lcMessage(u"ToolMessage"_qs, {
                {u"content"_qs, content},
                {u"type"_qs, u"tool"_qs},
                {u"name"_qs, tool},
                {u"tool_call_id"_qs, callId},
                {u"status"_qs, success ? u"success"_qs : u"error"_qs},
                {u"artifact"_qs, QJsonValue::Null},
            });
        }

        int historyTokens(const QJsonArray &messages)
        {
            return estimateTokens(QString::fromUtf8(QJsonDocument(messages).toJson(QJsonDocument::Compact)));
        }

        QString planText(const Step &step)
        {
            switch (step.type)
            {
            case StepType::Agent: return step.content.section(u'\n', 0, 0).left(200);
            case StepType::Tool: return u"Call "_qs + step.tool + (step.content.isEmpty() ? QString() : u": "_qs + step.content);
            case StepType::Request: return u"Ask the user: "_qs + step.content.left(200);
            case StepType::Wait: return u"Wait for the previous task to settle"_qs;
            case StepType::Fail: return u"Report the failure"_qs;
            case StepType::Workspace: return u"Run "_qs + step.tool + u" in the workspace"_qs;
            case StepType::Finish: return u"Wrap up: "_qs + step.content.left(200);
            }
            return {};
        }

        QString legacyStatus(const RunStatus status)
        {
            // The old service's workflow-state names.
            switch (status)
            {
            case RunStatus::Created: return u"Not Started"_qs;
            case RunStatus::Running: return u"Execution"_qs;
            case RunStatus::Paused: return u"Paused"_qs;
            case RunStatus::Finished: return u"Completed"_qs;
            case RunStatus::Failed: return u"Error"_qs;
            case RunStatus::Stopped: return u"Cancelled"_qs;
            case RunStatus::InputRequired: return u"Input Required"_qs;
            case RunStatus::PlanApprovalRequired: return u"Plan Approval Required"_qs;
            case RunStatus::ToolCallApprovalRequired: return u"Tool Call Approval Required"_qs;
            }
            return {};
        }
    } // namespace

    QJsonObject buildLegacyCheckpoint(const LegacyCheckpointInput &input)
    {
        static const Flow NoFlow;
        const Flow &flow = input.flow ? *input.flow : NoFlow;
        const QString &id = input.workflowId;

        // The plan: one task per step of the flow, with its progress in this turn.
        QJsonArray planSteps;
        QString planListing;
        for (int i = 0; i < flow.steps.size(); ++i)
        {
            const QString text = planText(flow.steps.at(i));
            const QString status = i < input.nextStep ? u"Completed"_qs
                                   : i == input.nextStep ? u"In Progress"_qs : u"Not Started"_qs;
            planSteps.append(QJsonObject{{u"id"_qs, QString(u"task-"_qs + QString::number(i))},
                                         {u"description"_qs, text}, {u"status"_qs, status}});
            planListing += QString::number(i + 1) + u". "_qs + text + u'\n';
        }
        const QJsonObject plan{{u"steps"_qs, planSteps}};

        // Planner: prompt, goal, the plan as a tool call, its result.
        QJsonArray planner;
        planner.append(systemMessage(plannerPrompt(input.goal)));
        planner.append(humanMessage(input.goal));
        const QString planCallId = u"toolu_"_qs + runId(id, u"plan"_qs).mid(4, 24);
        planner.append(aiMessage(runId(id, u"planner"_qs), u"Here is the plan for the goal."_qs,
                                 QJsonArray{QJsonObject{{u"name"_qs, u"create_plan"_qs}, {u"args"_qs, plan},
                                                        {u"id"_qs, planCallId}, {u"type"_qs, u"tool_call"_qs}}},
                                 historyTokens(planner)));
        planner.append(toolMessage(planCallId, u"create_plan"_qs,
                                   u"Plan created with "_qs + QString::number(planSteps.size()) + u" tasks."_qs, true));
        planner.append(aiMessage(runId(id, u"handover"_qs), u"Handing over to the executor."_qs,
                                 QJsonArray{QJsonObject{{u"name"_qs, u"handover_tool"_qs},
                                                        {u"args"_qs, QJsonObject{{u"summary"_qs, planListing}}},
                                                        {u"id"_qs, QString(u"toolu_"_qs + runId(id, u"handover-call"_qs).mid(4, 24))},
                                                        {u"type"_qs, u"tool_call"_qs}}},
                                 historyTokens(planner)));

        // Executor: prompt, goal and plan, then every chat-log entry as the
        // messages behind it, tool outputs in full (the chat log cuts them).
        QJsonArray executor;
        executor.append(systemMessage(executorPrompt(input.goal)));
        executor.append(humanMessage(u"Goal: "_qs + input.goal + u"\n\nApproved plan:\n"_qs + planListing));
        QJsonArray toolOutputs;
        QJsonObject lastHumanInput;
        for (const QJsonObject &entry : input.chatLog)
        {
            const QString type = entry.value(Names::MessageType).toString();
            const QString messageId = entry.value(Names::MessageId).toString();
            const QString content = entry.value(Names::Content).toString();
            if (type == u"user")
            {
                executor.append(humanMessage(content));
                lastHumanInput = QJsonObject{{u"event_type"_qs, u"message"_qs}, {u"message"_qs, content},
                                             {u"correlation_id"_qs, messageId}};
                continue;
            }
            if (type != u"tool")
            {
                executor.append(aiMessage(runId(id, messageId), content, {}, historyTokens(executor)));
                continue;
            }
            const QJsonObject info = entry.value(Names::ToolInfo).toObject();
            const QString tool = info.value(Names::ToolName).toString();
            const QString callId = u"toolu_"_qs + runId(id, messageId + u"/call"_qs).mid(4, 24);
            executor.append(aiMessage(runId(id, messageId), content,
                                      QJsonArray{QJsonObject{{u"name"_qs, tool}, {u"args"_qs, info.value(Names::ToolArgs)},
                                                             {u"id"_qs, callId}, {u"type"_qs, u"tool_call"_qs}}},
                                      historyTokens(executor)));
            const QString status = entry.value(Names::Status).toString();
            if (status == u"pending")
                continue;
            // The internal state kept the whole output, not the 4 KiB cut.
            QString output = info.value(Names::ToolResponse).toString();
            const auto parsed = MessageIds::parse(messageId);
            if (parsed && parsed->kind == MessageIds::Parsed::Kind::Step && parsed->step < flow.steps.size()
                && flow.steps.at(parsed->step).type == StepType::Tool)
                output = flow.steps.at(parsed->step).response;
            executor.append(toolMessage(callId, tool, output, status == u"success"));
            toolOutputs.append(QJsonObject{{u"tool_call_id"_qs, callId}, {u"name"_qs, tool},
                                           {u"args"_qs, info.value(Names::ToolArgs)}, {u"output"_qs, output},
                                           {u"status"_qs, status}});
        }

        QJsonArray chatLog;
        for (const QJsonObject &entry : input.chatLog)
            chatLog.append(entry);

        const int version = input.checkpointNumber + 1;
        const QJsonObject channelValues{
            {u"goal"_qs, input.goal},
            {u"status"_qs, legacyStatus(input.status)},
            {u"plan"_qs, plan},
            {u"ui_chat_log"_qs, chatLog},
            {u"conversation_history"_qs, QJsonObject{{u"planner"_qs, planner}, {u"executor"_qs, executor}}},
            // The planner's history was handed to the executor as is.
            {u"handover"_qs, planner},
            {u"tool_outputs"_qs, toolOutputs},
            {u"last_human_input"_qs, lastHumanInput.isEmpty() ? QJsonValue(QJsonValue::Null) : QJsonValue(lastHumanInput)},
            {u"flow"_qs, QJsonObject{{u"name"_qs, flow.name}, {u"description"_qs, flow.description},
                                     {u"turn"_qs, input.turn}, {u"next_step"_qs, input.nextStep}}},
        };
        QJsonObject channelVersions;
        for (const QString &channel : channelValues.keys())
            channelVersions.insert(channel, QString(QString::number(version) + u".0."_qs + QString::number(input.turn)));
        const QJsonObject seen{{u"ui_chat_log"_qs, version}, {u"conversation_history"_qs, version}, {u"plan"_qs, version}};

        // LangGraph metadata repeated the last node's writes next to the state.
        QJsonObject writes;
        if (!chatLog.isEmpty())
        {
            writes.insert(u"executor"_qs, QJsonObject{
                {u"ui_chat_log"_qs, QJsonArray{chatLog.last()}},
                {u"conversation_history"_qs, QJsonObject{{u"executor"_qs, QJsonArray{executor.last()}}}},
                {u"status"_qs, legacyStatus(input.status)},
            });
        }

        return QJsonObject{
            {u"v"_qs, 1},
            {u"id"_qs, QUuid::fromRfc4122(QCryptographicHash::hash(
                           (id + u"/checkpoint/"_qs + QString::number(input.turn) + u'/' + QString::number(version)).toUtf8(),
                           QCryptographicHash::Sha1).left(16)).toString(QUuid::WithoutBraces)},
            {u"ts"_qs, QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs)},
            {u"channel_values"_qs, channelValues},
            {u"channel_versions"_qs, channelVersions},
            {u"versions_seen"_qs, QJsonObject{{u"planner"_qs, seen}, {u"executor"_qs, seen}, {u"tools_executor"_qs, seen}}},
            {u"pending_sends"_qs, QJsonArray{}},
            {u"metadata"_qs, QJsonObject{
                {u"source"_qs, u"loop"_qs},
                {u"step"_qs, version},
                {u"writes"_qs, writes},
                {u"parents"_qs, QJsonObject{}},
                {u"thread_id"_qs, id},
                {u"checkpoint_ns"_qs, QString()},
            }},
        };
    }
} // namespace Lockstep::Flows
