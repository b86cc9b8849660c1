// Builds the modelled legacy checkpoint; what it models and why comparing
// against it is fair: legacycheckpoint.h.
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
            {u"create_file",
             u"Create a file with the given contents. Arguments: file_path (string, relative to the project root), contents (string). Fails if the file exists."},
            {u"edit_file",
             u"Replace one occurrence of old_str by new_str in a file. Arguments: file_path, old_str, new_str. old_str must match exactly once."},
            {u"read_file", u"Read a file of the project. Arguments: file_path. Returns the contents, at most 1 MiB."},
            {u"list_dir", u"List the entries of a folder. Arguments: directory (relative path)."},
            {u"find_files", u"Find files whose path matches a glob. Arguments: name_pattern (glob)."},
            {u"grep",
             u"Search file contents for a regular expression. Arguments: pattern, search_directory, case_insensitive (boolean)."},
            {u"run_command",
             u"Run a program in the workspace. Arguments: program, arguments (array of strings). Returns the exit status and the combined output."},
            {u"run_git_command",
             u"Run a git command in the workspace repository. Arguments: command (one of status, diff, log, add, commit), args (string)."},
            {u"get_issue", u"Fetch an issue with its description and comments. Arguments: project_id, issue_iid."},
            {u"create_merge_request",
             u"Open a merge request. Arguments: source_branch, target_branch, title, description."},
            {u"handover_tool", u"Hand the work over to the next agent with a summary. Arguments: summary."},
            {u"request_user_clarification_tool",
             u"Ask the user a question and wait for the answer. Arguments: message, recommendations (array of strings)."},
        };

        QString toolSection()
        {
            QString text = QStringLiteral("\n\nYou can call these tools:\n");
            for (const ToolDoc &tool : ToolDocs)
                text += QStringLiteral("- ") + QString::fromUtf16(tool.name) + QStringLiteral(": ") +
                        QString::fromUtf16(tool.description) + u'\n';
            return text;
        }

        QString plannerPrompt(const QString &goal)
        {
            return QStringLiteral(
                       "You are an experienced software engineer planning work for an autonomous agent. "
                       "Break the goal down into small, verifiable tasks. Each task names the files it touches "
                       "and the tool it needs. Do not carry out the tasks yourself; produce the plan with the "
                       "create_plan tool, then hand over to the executor.\n\n"
                       "Rules:\n- Keep every task independently checkable.\n- Prefer editing existing files to "
                       "creating new ones.\n- Never run destructive commands.\n- Ask for clarification when the "
                       "goal is ambiguous.\n\nThe goal:\n<goal>\n") +
                   goal + QStringLiteral("\n</goal>") + toolSection();
        }

        QString executorPrompt(const QString &goal)
        {
            return QStringLiteral(
                       "You are an autonomous software engineering agent working in the user's workspace. "
                       "Carry out the approved plan task by task. After each tool call, check its output before "
                       "you continue. Report progress in short Markdown messages the user can read in the chat. "
                       "When a task fails, explain why and stop instead of guessing.\n\n"
                       "Rules:\n- Use only the tools listed below.\n- Keep changes minimal and focused on the goal.\n"
                       "- Never expose secrets from the environment.\n\nThe goal:\n<goal>\n") +
                   goal + QStringLiteral("\n</goal>") + toolSection();
        }

        // Deterministic per-message IDs in LangChain's "run-<uuid>" shape.
        QString runId(const QString &workflowId, const QString &what)
        {
            const QByteArray hash =
                QCryptographicHash::hash((workflowId + u'/' + what).toUtf8(), QCryptographicHash::Sha1);
            return QStringLiteral("run-") + QUuid::fromRfc4122(hash.left(16)).toString(QUuid::WithoutBraces);
        }

        int estimateTokens(const QString &text)
        {
            return static_cast<int>(text.size() / 4 + 1);
        }

        QJsonObject lcMessage(const QString &className, QJsonObject kwargs)
        {
            kwargs.insert(QStringLiteral("additional_kwargs"), QJsonObject{});
            kwargs.insert(QStringLiteral("response_metadata"),
                          kwargs.value(QStringLiteral("response_metadata")).toObject());
            return QJsonObject{
                {QStringLiteral("lc"), 1},
                {QStringLiteral("type"), QStringLiteral("constructor")},
                {QStringLiteral("id"),
                 QJsonArray{QStringLiteral("langchain_core"), QStringLiteral("messages"), className}},
                {QStringLiteral("kwargs"), kwargs},
            };
        }

        QJsonObject systemMessage(const QString &content)
        {
            return lcMessage(QStringLiteral("SystemMessage"), {{QStringLiteral("content"), content},
                                                               {QStringLiteral("type"), QStringLiteral("system")}});
        }

        QJsonObject humanMessage(const QString &content)
        {
            return lcMessage(QStringLiteral("HumanMessage"), {{QStringLiteral("content"), content},
                                                              {QStringLiteral("type"), QStringLiteral("human")},
                                                              {QStringLiteral("example"), false}});
        }

        // An AI message as the Anthropic binding serialised it: content blocks
        // (text and tool_use) next to the parsed tool_calls, plus usage.
        QJsonObject aiMessage(const QString &id, const QString &text, const QJsonArray &toolCalls, int contextTokens)
        {
            QJsonArray blocks;
            if (!text.isEmpty())
                blocks.append(
                    QJsonObject{{QStringLiteral("type"), QStringLiteral("text")}, {QStringLiteral("text"), text}});
            for (const QJsonValue &call : toolCalls)
            {
                const QJsonObject object = call.toObject();
                blocks.append(QJsonObject{{QStringLiteral("type"), QStringLiteral("tool_use")},
                                          {QStringLiteral("id"), object.value(QStringLiteral("id"))},
                                          {QStringLiteral("name"), object.value(QStringLiteral("name"))},
                                          {QStringLiteral("input"), object.value(QStringLiteral("args"))}});
            }
            const int output = estimateTokens(QString::fromUtf8(QJsonDocument(blocks).toJson(QJsonDocument::Compact)));
            const QJsonObject usage{{QStringLiteral("input_tokens"), contextTokens},
                                    {QStringLiteral("output_tokens"), output},
                                    {QStringLiteral("total_tokens"), contextTokens + output}};
            return lcMessage(
                QStringLiteral("AIMessage"),
                {
                    {QStringLiteral("content"), blocks},
                    {QStringLiteral("type"), QStringLiteral("ai")},
                    {QStringLiteral("id"), id},
                    {QStringLiteral("example"), false},
                    {QStringLiteral("tool_calls"), toolCalls},
                    {QStringLiteral("invalid_tool_calls"), QJsonArray{}},
                    {QStringLiteral("usage_metadata"), usage},
                    {QStringLiteral("response_metadata"),
                     QJsonObject{
                         {QStringLiteral("id"), QString(QStringLiteral("msg_") + id.mid(4, 24))},
                         {QStringLiteral("model"), QStringLiteral("claude-3-5-sonnet-20241022")},
                         {QStringLiteral("stop_reason"),
                          toolCalls.isEmpty() ? QStringLiteral("end_turn") : QStringLiteral("tool_use")},
                         {QStringLiteral("stop_sequence"), QJsonValue::Null},
                         {QStringLiteral("usage"), QJsonObject{{QStringLiteral("input_tokens"), contextTokens},
                                                               {QStringLiteral("output_tokens"), output}}},
                     }},
                });
        }

        QJsonObject toolMessage(const QString &callId, const QString &tool, const QString &content, bool success)
        {
            return lcMessage(
                QStringLiteral("ToolMessage"),
                {
                    {QStringLiteral("content"), content},
                    {QStringLiteral("type"), QStringLiteral("tool")},
                    {QStringLiteral("name"), tool},
                    {QStringLiteral("tool_call_id"), callId},
                    {QStringLiteral("status"), success ? QStringLiteral("success") : QStringLiteral("error")},
                    {QStringLiteral("artifact"), QJsonValue::Null},
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
            case StepType::Tool:
                return QStringLiteral("Call ") + step.tool +
                       (step.content.isEmpty() ? QString() : QStringLiteral(": ") + step.content);
            case StepType::Request: return QStringLiteral("Ask the user: ") + step.content.left(200);
            case StepType::Wait: return QStringLiteral("Wait for the previous task to settle");
            case StepType::Fail: return QStringLiteral("Report the failure");
            case StepType::Workspace: return QStringLiteral("Run ") + step.tool + QStringLiteral(" in the workspace");
            case StepType::Finish: return QStringLiteral("Wrap up: ") + step.content.left(200);
            }
            return {};
        }

        QString legacyStatus(const RunStatus status)
        {
            // The old service's workflow-state names.
            switch (status)
            {
            case RunStatus::Created: return QStringLiteral("Not Started");
            case RunStatus::Running: return QStringLiteral("Execution");
            case RunStatus::Paused: return QStringLiteral("Paused");
            case RunStatus::Finished: return QStringLiteral("Completed");
            case RunStatus::Failed: return QStringLiteral("Error");
            case RunStatus::Stopped: return QStringLiteral("Cancelled");
            case RunStatus::InputRequired: return QStringLiteral("Input Required");
            case RunStatus::PlanApprovalRequired: return QStringLiteral("Plan Approval Required");
            case RunStatus::ToolCallApprovalRequired: return QStringLiteral("Tool Call Approval Required");
            }
            return {};
        }
    }  // namespace

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
            const QString status = i < input.nextStep    ? QStringLiteral("Completed")
                                   : i == input.nextStep ? QStringLiteral("In Progress")
                                                         : QStringLiteral("Not Started");
            planSteps.append(QJsonObject{{QStringLiteral("id"), QString(QStringLiteral("task-") + QString::number(i))},
                                         {QStringLiteral("description"), text},
                                         {QStringLiteral("status"), status}});
            planListing += QString::number(i + 1) + QStringLiteral(". ") + text + u'\n';
        }
        const QJsonObject plan{{QStringLiteral("steps"), planSteps}};

        // Planner: prompt, goal, the plan as a tool call, its result.
        QJsonArray planner;
        planner.append(systemMessage(plannerPrompt(input.goal)));
        planner.append(humanMessage(input.goal));
        const QString planCallId = QStringLiteral("toolu_") + runId(id, QStringLiteral("plan")).mid(4, 24);
        planner.append(aiMessage(runId(id, QStringLiteral("planner")), QStringLiteral("Here is the plan for the goal."),
                                 QJsonArray{QJsonObject{{QStringLiteral("name"), QStringLiteral("create_plan")},
                                                        {QStringLiteral("args"), plan},
                                                        {QStringLiteral("id"), planCallId},
                                                        {QStringLiteral("type"), QStringLiteral("tool_call")}}},
                                 historyTokens(planner)));
        planner.append(toolMessage(planCallId, QStringLiteral("create_plan"),
                                   QStringLiteral("Plan created with ") + QString::number(planSteps.size()) +
                                       QStringLiteral(" tasks."),
                                   true));
        planner.append(
            aiMessage(runId(id, QStringLiteral("handover")), QStringLiteral("Handing over to the executor."),
                      QJsonArray{QJsonObject{
                          {QStringLiteral("name"), QStringLiteral("handover_tool")},
                          {QStringLiteral("args"), QJsonObject{{QStringLiteral("summary"), planListing}}},
                          {QStringLiteral("id"),
                           QString(QStringLiteral("toolu_") + runId(id, QStringLiteral("handover-call")).mid(4, 24))},
                          {QStringLiteral("type"), QStringLiteral("tool_call")}}},
                      historyTokens(planner)));

        // Executor: prompt, goal and plan, then every chat-log entry as the
        // messages behind it, tool outputs in full (the chat log cuts them).
        QJsonArray executor;
        executor.append(systemMessage(executorPrompt(input.goal)));
        executor.append(
            humanMessage(QStringLiteral("Goal: ") + input.goal + QStringLiteral("\n\nApproved plan:\n") + planListing));
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
                lastHumanInput = QJsonObject{{QStringLiteral("event_type"), QStringLiteral("message")},
                                             {QStringLiteral("message"), content},
                                             {QStringLiteral("correlation_id"), messageId}};
                continue;
            }
            if (type != u"tool")
            {
                executor.append(aiMessage(runId(id, messageId), content, {}, historyTokens(executor)));
                continue;
            }
            const QJsonObject info = entry.value(Names::ToolInfo).toObject();
            const QString tool = info.value(Names::ToolName).toString();
            const QString callId = QStringLiteral("toolu_") + runId(id, messageId + QStringLiteral("/call")).mid(4, 24);
            executor.append(aiMessage(runId(id, messageId), content,
                                      QJsonArray{QJsonObject{{QStringLiteral("name"), tool},
                                                             {QStringLiteral("args"), info.value(Names::ToolArgs)},
                                                             {QStringLiteral("id"), callId},
                                                             {QStringLiteral("type"), QStringLiteral("tool_call")}}},
                                      historyTokens(executor)));
            const QString status = entry.value(Names::Status).toString();
            if (status == u"pending")
                continue;
            // The internal state kept the whole output, not the 4 KiB cut.
            QString output = info.value(Names::ToolResponse).toString();
            const auto parsed = MessageIds::parse(messageId);
            if (parsed && parsed->kind == MessageIds::Parsed::Kind::Step && parsed->step < flow.steps.size() &&
                flow.steps.at(parsed->step).type == StepType::Tool)
                output = flow.steps.at(parsed->step).response;
            executor.append(toolMessage(callId, tool, output, status == u"success"));
            toolOutputs.append(QJsonObject{{QStringLiteral("tool_call_id"), callId},
                                           {QStringLiteral("name"), tool},
                                           {QStringLiteral("args"), info.value(Names::ToolArgs)},
                                           {QStringLiteral("output"), output},
                                           {QStringLiteral("status"), status}});
        }

        QJsonArray chatLog;
        for (const QJsonObject &entry : input.chatLog)
            chatLog.append(entry);

        const int version = input.checkpointNumber + 1;
        const QJsonObject channelValues{
            {QStringLiteral("goal"), input.goal},
            {QStringLiteral("status"), legacyStatus(input.status)},
            {QStringLiteral("plan"), plan},
            {QStringLiteral("ui_chat_log"), chatLog},
            {QStringLiteral("conversation_history"),
             QJsonObject{{QStringLiteral("planner"), planner}, {QStringLiteral("executor"), executor}}},
            // The planner's history was handed to the executor as is.
            {QStringLiteral("handover"), planner},
            {QStringLiteral("tool_outputs"), toolOutputs},
            {QStringLiteral("last_human_input"),
             lastHumanInput.isEmpty() ? QJsonValue(QJsonValue::Null) : QJsonValue(lastHumanInput)},
            {QStringLiteral("flow"), QJsonObject{{QStringLiteral("name"), flow.name},
                                                 {QStringLiteral("description"), flow.description},
                                                 {QStringLiteral("turn"), input.turn},
                                                 {QStringLiteral("next_step"), input.nextStep}}},
        };
        QJsonObject channelVersions;
        for (const QString &channel : channelValues.keys())
            channelVersions.insert(
                channel, QString(QString::number(version) + QStringLiteral(".0.") + QString::number(input.turn)));
        const QJsonObject seen{{QStringLiteral("ui_chat_log"), version},
                               {QStringLiteral("conversation_history"), version},
                               {QStringLiteral("plan"), version}};

        // LangGraph metadata repeated the last node's writes next to the state.
        QJsonObject writes;
        if (!chatLog.isEmpty())
        {
            writes.insert(QStringLiteral("executor"),
                          QJsonObject{
                              {QStringLiteral("ui_chat_log"), QJsonArray{chatLog.last()}},
                              {QStringLiteral("conversation_history"),
                               QJsonObject{{QStringLiteral("executor"), QJsonArray{executor.last()}}}},
                              {QStringLiteral("status"), legacyStatus(input.status)},
                          });
        }

        return QJsonObject{
            {QStringLiteral("v"), 1},
            {QStringLiteral("id"),
             QUuid::fromRfc4122(QCryptographicHash::hash((id + QStringLiteral("/checkpoint/") +
                                                          QString::number(input.turn) + u'/' + QString::number(version))
                                                             .toUtf8(),
                                                         QCryptographicHash::Sha1)
                                    .left(16))
                 .toString(QUuid::WithoutBraces)},
            {QStringLiteral("ts"), QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs)},
            {QStringLiteral("channel_values"), channelValues},
            {QStringLiteral("channel_versions"), channelVersions},
            {QStringLiteral("versions_seen"), QJsonObject{{QStringLiteral("planner"), seen},
                                                          {QStringLiteral("executor"), seen},
                                                          {QStringLiteral("tools_executor"), seen}}},
            {QStringLiteral("pending_sends"), QJsonArray{}},
            {QStringLiteral("metadata"),
             QJsonObject{
                 {QStringLiteral("source"), QStringLiteral("loop")},
                 {QStringLiteral("step"), version},
                 {QStringLiteral("writes"), writes},
                 {QStringLiteral("parents"), QJsonObject{}},
                 {QStringLiteral("thread_id"), id},
                 {QStringLiteral("checkpoint_ns"), QString()},
             }},
        };
    }
}  // namespace Lockstep::Flows
