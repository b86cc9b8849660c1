#include "flow.h"

#include <cmath>

#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonParseError>
#include <QJsonValue>
#include <QRegularExpression>
#include <QSet>

namespace Lockstep::Flows
{
    namespace
    {
        constexpr qint64 MaxFileBytes = 1024 * 1024;
        constexpr int MaxSteps = 10000;
        constexpr qint64 MaxDelayMs = 3600000;

        QString typeName(const QJsonValue &value)
        {
            switch (value.type())
            {
            case QJsonValue::Null: return u"null"_qs;
            case QJsonValue::Bool: return u"a boolean"_qs;
            case QJsonValue::Double: return u"a number"_qs;
            case QJsonValue::String: return u"a string"_qs;
            case QJsonValue::Array: return u"an array"_qs;
            case QJsonValue::Object: return u"an object"_qs;
            case QJsonValue::Undefined: break;
            }
            return u"nothing"_qs;
        }

        // Reads the fields of one step (or of the top level), keeping the first error.
        class StepReader
        {
        public:
            StepReader(const QJsonObject &object, const QString &file, std::optional<int> step)
                : m_object(object), m_file(file), m_step(step)
            {
            }

            bool failed() const { return m_error.has_value(); }
            FlowError error() const { return *m_error; }

            void fail(const QString &field, const QString &message)
            {
                if (!m_error)
                    m_error = FlowError{.file = m_file, .step = m_step, .field = field, .message = message};
            }

            // Every key must be one of `allowed`.
            void onlyFields(const QSet<QString> &allowed)
            {
                for (auto it = m_object.constBegin(); it != m_object.constEnd(); ++it)
                {
                    if (!allowed.contains(it.key()))
                    {
                        QStringList names(allowed.cbegin(), allowed.cend());
                        names.sort();
                        fail(it.key(), u"unknown field (allowed: "_qs + names.join(u", "_qs) + u')');
                    }
                }
            }

            QString string(const QString &field, bool required, bool nonEmpty)
            {
                const QJsonValue value = m_object.value(field);
                if (value.isUndefined())
                {
                    if (required)
                        fail(field, u"missing"_qs);
                    return {};
                }
                if (!value.isString())
                {
                    fail(field, u"must be a string (got "_qs + typeName(value) + u')');
                    return {};
                }
                if (nonEmpty && value.toString().trimmed().isEmpty())
                    fail(field, u"must not be empty"_qs);
                return value.toString();
            }

            std::chrono::milliseconds millis(const QString &field, bool required)
            {
                const QJsonValue value = m_object.value(field);
                if (value.isUndefined())
                {
                    if (required)
                        fail(field, u"missing"_qs);
                    return std::chrono::milliseconds{0};
                }
                const QString rule = u"must be an integer from 0 to "_qs + QString::number(MaxDelayMs);
                if (!value.isDouble())
                {
                    fail(field, rule + u" (got "_qs + typeName(value) + u')');
                    return std::chrono::milliseconds{0};
                }
                const double number = value.toDouble();
                if (!std::isfinite(number) || std::floor(number) != number || number < 0
                    || number > static_cast<double>(MaxDelayMs))
                {
                    fail(field, rule + u" (got "_qs + QString::number(number) + u')');
                    return std::chrono::milliseconds{0};
                }
                return std::chrono::milliseconds{static_cast<qint64>(number)};
            }

            QJsonObject object(const QString &field)
            {
                const QJsonValue value = m_object.value(field);
                if (value.isUndefined())
                    return {};
                if (!value.isObject())
                {
                    fail(field, u"must be an object (got "_qs + typeName(value) + u')');
                    return {};
                }
                return value.toObject();
            }

            const QJsonObject &raw() const { return m_object; }

        private:
            QJsonObject m_object;
            QString m_file;
            std::optional<int> m_step;
            std::optional<FlowError> m_error;
        };

        std::optional<StepType> stepTypeFromString(const QString &text)
        {
            for (const StepType type : {StepType::Agent, StepType::Tool, StepType::Request, StepType::Wait,
                                        StepType::Fail, StepType::Workspace, StepType::Finish})
            {
                if (toString(type) == text)
                    return type;
            }
            return std::nullopt;
        }

        std::optional<RequestKind> requestKindFromString(const QString &text)
        {
            for (const RequestKind kind : {RequestKind::PlanApproval, RequestKind::ToolCallApproval, RequestKind::Input})
            {
                if (toString(kind) == text)
                    return kind;
            }
            return std::nullopt;
        }

        Result<Step, FlowError> parseStep(const QJsonValue &value, const QString &file, int index)
        {
            if (!value.isObject())
            {
                return unexpected(FlowError{.file = file, .step = index, .field = {},
                                            .message = u"a step must be an object (got "_qs + typeName(value) + u')'});
            }
            StepReader reader(value.toObject(), file, index);
            const QString typeText = reader.string(u"type"_qs, true, true);
            if (reader.failed())
                return unexpected(reader.error());
            const std::optional<StepType> type = stepTypeFromString(typeText);
            if (!type)
            {
                reader.fail(u"type"_qs, u"unknown step type \""_qs + typeText.left(40)
                                            + u"\" (expected agent, tool, request, wait, fail, workspace or finish)"_qs);
                return unexpected(reader.error());
            }

            Step step;
            step.type = *type;
            switch (*type)
            {
            case StepType::Agent:
                reader.onlyFields({u"type"_qs, u"content"_qs, u"subType"_qs, u"delayMs"_qs});
                step.content = reader.string(u"content"_qs, true, true);
                step.subType = reader.string(u"subType"_qs, false, true);
                step.delay = reader.millis(u"delayMs"_qs, false);
                break;
            case StepType::Tool:
            {
                reader.onlyFields({u"type"_qs, u"name"_qs, u"args"_qs, u"response"_qs, u"status"_qs,
                                   u"content"_qs, u"delayMs"_qs});
                step.tool = reader.string(u"name"_qs, true, true);
                step.args = reader.object(u"args"_qs);
                step.content = reader.string(u"content"_qs, false, false);
                step.delay = reader.millis(u"delayMs"_qs, false);
                const QJsonValue response = reader.raw().value(u"response"_qs);
                if (response.isString())
                    step.response = response.toString();
                else if (response.isObject())
                    step.response = QString::fromUtf8(QJsonDocument(response.toObject()).toJson(QJsonDocument::Compact));
                else if (response.isArray())
                    step.response = QString::fromUtf8(QJsonDocument(response.toArray()).toJson(QJsonDocument::Compact));
                else if (!response.isUndefined())
                    reader.fail(u"response"_qs, u"must be a string, an object or an array (got "_qs + typeName(response) + u')');
                const QString status = reader.string(u"status"_qs, false, false);
                if (!reader.failed() && reader.raw().contains(u"status"_qs) && status != u"success" && status != u"failure")
                    reader.fail(u"status"_qs, u"must be \"success\" or \"failure\""_qs);
                step.toolSucceeds = status != u"failure";
                break;
            }
            case StepType::Request:
            {
                reader.onlyFields({u"type"_qs, u"kind"_qs, u"content"_qs});
                const QString kind = reader.string(u"kind"_qs, true, true);
                step.content = reader.string(u"content"_qs, true, true);
                if (!reader.failed())
                {
                    if (const auto parsed = requestKindFromString(kind))
                        step.requestKind = *parsed;
                    else
                        reader.fail(u"kind"_qs, u"must be \"plan_approval\", \"tool_call_approval\" or \"input\""_qs);
                }
                break;
            }
            case StepType::Wait:
                reader.onlyFields({u"type"_qs, u"ms"_qs});
                step.delay = reader.millis(u"ms"_qs, true);
                break;
            case StepType::Fail:
                reader.onlyFields({u"type"_qs, u"message"_qs});
                step.content = reader.string(u"message"_qs, true, true);
                break;
            case StepType::Workspace:
                reader.onlyFields({u"type"_qs, u"tool"_qs, u"args"_qs});
                step.tool = reader.string(u"tool"_qs, true, true);
                step.args = reader.object(u"args"_qs);
                break;
            case StepType::Finish:
                reader.onlyFields({u"type"_qs, u"content"_qs});
                step.content = reader.string(u"content"_qs, true, true);
                break;
            }
            if (reader.failed())
                return unexpected(reader.error());
            return step;
        }
    } // namespace

    QString toString(const StepType type)
    {
        switch (type)
        {
        case StepType::Agent: return u"agent"_qs;
        case StepType::Tool: return u"tool"_qs;
        case StepType::Request: return u"request"_qs;
        case StepType::Wait: return u"wait"_qs;
        case StepType::Fail: return u"fail"_qs;
        case StepType::Workspace: return u"workspace"_qs;
        case StepType::Finish: return u"finish"_qs;
        }
        return {};
    }

    QString toString(const RequestKind kind)
    {
        switch (kind)
        {
        case RequestKind::PlanApproval: return u"plan_approval"_qs;
        case RequestKind::ToolCallApproval: return u"tool_call_approval"_qs;
        case RequestKind::Input: return u"input"_qs;
        }
        return {};
    }

    RunStatus waitStatus(const RequestKind kind)
    {
        switch (kind)
        {
        case RequestKind::PlanApproval: return RunStatus::PlanApprovalRequired;
        case RequestKind::ToolCallApproval: return RunStatus::ToolCallApprovalRequired;
        case RequestKind::Input: return RunStatus::InputRequired;
        }
        return RunStatus::InputRequired;
    }

    QString FlowError::toString() const
    {
        QString where = file;
        if (step)
        {
            where += u": steps["_qs + QString::number(*step) + u']';
            if (!field.isEmpty())
                where += u'.' + field;
        }
        else if (!field.isEmpty())
        {
            where += u": "_qs + field;
        }
        return where + u": "_qs + message;
    }

    bool Flow::isValidName(const QString &name)
    {
        static const QRegularExpression pattern(u"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"_qs);
        return pattern.match(name).hasMatch();
    }

    QString Flow::nameForFile(const QString &fileName)
    {
        const QString base = QFileInfo(fileName).fileName();
        if (!base.endsWith(u".json"_qs))
            return {};
        const QString name = base.chopped(5);
        return isValidName(name) ? name : QString();
    }

    Result<Flow, FlowError> Flow::parse(const QByteArray &json, const QString &fileName)
    {
        const auto fileError = [&fileName](const QString &field, const QString &message) {
            return unexpected(FlowError{.file = fileName, .step = std::nullopt, .field = field, .message = message});
        };

        const QString name = nameForFile(fileName);
        if (name.isEmpty())
        {
            return fileError({}, u"the file name must be <name>.json with a name of letters, digits, '_', '.', '-' "
                                 u"(at most 64, starting with a letter or digit)"_qs);
        }
        if (json.size() > MaxFileBytes)
            return fileError({}, u"larger than 1 MiB"_qs);

        QJsonParseError parseError;
        const QJsonDocument document = QJsonDocument::fromJson(json, &parseError);
        if (parseError.error != QJsonParseError::NoError)
        {
            return fileError({}, u"invalid JSON at offset "_qs + QString::number(parseError.offset) + u": "_qs
                                     + parseError.errorString());
        }
        if (!document.isObject())
            return fileError({}, u"the top level must be a JSON object"_qs);

        StepReader reader(document.object(), fileName, std::nullopt);
        reader.onlyFields({u"name"_qs, u"description"_qs, u"version"_qs, u"steps"_qs});
        const QString declaredName = reader.string(u"name"_qs, false, true);
        if (!reader.failed() && !declaredName.isNull() && declaredName != name)
            reader.fail(u"name"_qs, u"\""_qs + declaredName.left(64) + u"\" does not match the file name (\""_qs + name + u"\")"_qs);
        Flow flow;
        flow.name = name;
        flow.description = reader.string(u"description"_qs, false, false);
        const QJsonValue version = reader.raw().value(u"version"_qs);
        if (!reader.failed() && !version.isUndefined() && !(version.isDouble() && version.toDouble() == 1.0))
            reader.fail(u"version"_qs, u"must be 1 (the only version of the format)"_qs);
        const QJsonValue steps = reader.raw().value(u"steps"_qs);
        if (!reader.failed())
        {
            if (steps.isUndefined())
                reader.fail(u"steps"_qs, u"missing"_qs);
            else if (!steps.isArray())
                reader.fail(u"steps"_qs, u"must be an array (got "_qs + typeName(steps) + u')');
            else if (steps.toArray().isEmpty())
                reader.fail(u"steps"_qs, u"must hold at least one step"_qs);
            else if (steps.toArray().size() > MaxSteps)
                reader.fail(u"steps"_qs, u"more than "_qs + QString::number(MaxSteps) + u" steps"_qs);
        }
        if (reader.failed())
            return unexpected(reader.error());

        const QJsonArray array = steps.toArray();
        flow.steps.reserve(array.size());
        for (int i = 0; i < array.size(); ++i)
        {
            auto step = parseStep(array.at(i), fileName, i);
            if (!step)
                return unexpected(std::move(step).error());
            flow.steps.append(std::move(step).value());
        }
        return flow;
    }

    Result<Flow, FlowError> Flow::loadFile(const QString &path)
    {
        const auto fileError = [&path](const QString &message) {
            return unexpected(FlowError{.file = path, .step = std::nullopt, .field = {}, .message = message});
        };
        QFile file(path);
        if (!file.open(QIODevice::ReadOnly))
            return fileError(u"cannot read: "_qs + file.errorString());
        if (file.size() > MaxFileBytes)
            return fileError(u"larger than 1 MiB"_qs);
        // One byte over the limit is enough to notice a file that grew (or a pipe).
        const QByteArray json = file.read(MaxFileBytes + 1);
        auto flow = parse(json, path);
        if (flow)
            flow->source = path;
        return flow;
    }
} // namespace Lockstep::Flows
