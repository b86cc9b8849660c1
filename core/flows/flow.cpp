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
            case QJsonValue::Null: return QStringLiteral("null");
            case QJsonValue::Bool: return QStringLiteral("a boolean");
            case QJsonValue::Double: return QStringLiteral("a number");
            case QJsonValue::String: return QStringLiteral("a string");
            case QJsonValue::Array: return QStringLiteral("an array");
            case QJsonValue::Object: return QStringLiteral("an object");
            case QJsonValue::Undefined: break;
            }
            return QStringLiteral("nothing");
        }

        // Reads the fields of one step (or of the top level), keeping the first error.
        class StepReader
        {
        public:
            StepReader(const QJsonObject &object, const QString &file, std::optional<int> step)
                : m_object(object)
                , m_file(file)
                , m_step(step)
            {}

            bool failed() const
            {
                return m_error.has_value();
            }
            FlowError error() const
            {
                return *m_error;
            }

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
                        fail(it.key(),
                             QStringLiteral("unknown field (allowed: ") + names.join(QStringLiteral(", ")) + u')');
                    }
                }
            }

            QString string(const QString &field, bool required, bool nonEmpty)
            {
                const QJsonValue value = m_object.value(field);
                if (value.isUndefined())
                {
                    if (required)
                        fail(field, QStringLiteral("missing"));
                    return {};
                }
                if (!value.isString())
                {
                    fail(field, QStringLiteral("must be a string (got ") + typeName(value) + u')');
                    return {};
                }
                if (nonEmpty && value.toString().trimmed().isEmpty())
                    fail(field, QStringLiteral("must not be empty"));
                return value.toString();
            }

            std::chrono::milliseconds millis(const QString &field, bool required)
            {
                const QJsonValue value = m_object.value(field);
                if (value.isUndefined())
                {
                    if (required)
                        fail(field, QStringLiteral("missing"));
                    return std::chrono::milliseconds{0};
                }
                const QString rule = QStringLiteral("must be an integer from 0 to ") + QString::number(MaxDelayMs);
                if (!value.isDouble())
                {
                    fail(field, rule + QStringLiteral(" (got ") + typeName(value) + u')');
                    return std::chrono::milliseconds{0};
                }
                const double number = value.toDouble();
                if (!std::isfinite(number) || std::floor(number) != number || number < 0 ||
                    number > static_cast<double>(MaxDelayMs))
                {
                    fail(field, rule + QStringLiteral(" (got ") + QString::number(number) + u')');
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
                    fail(field, QStringLiteral("must be an object (got ") + typeName(value) + u')');
                    return {};
                }
                return value.toObject();
            }

            const QJsonObject &raw() const
            {
                return m_object;
            }

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
            for (const RequestKind kind :
                 {RequestKind::PlanApproval, RequestKind::ToolCallApproval, RequestKind::Input})
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
                return unexpected(
                    FlowError{.file = file,
                              .step = index,
                              .field = {},
                              .message = QStringLiteral("a step must be an object (got ") + typeName(value) + u')'});
            }
            StepReader reader(value.toObject(), file, index);
            const QString typeText = reader.string(QStringLiteral("type"), true, true);
            if (reader.failed())
                return unexpected(reader.error());
            const std::optional<StepType> type = stepTypeFromString(typeText);
            if (!type)
            {
                reader.fail(QStringLiteral("type"),
                            QStringLiteral("unknown step type \"") + typeText.left(40) +
                                QStringLiteral("\" (expected agent, tool, request, wait, fail, workspace or finish)"));
                return unexpected(reader.error());
            }

            Step step;
            step.type = *type;
            switch (*type)
            {
            case StepType::Agent:
                reader.onlyFields({QStringLiteral("type"), QStringLiteral("content"), QStringLiteral("subType"),
                                   QStringLiteral("delayMs")});
                step.content = reader.string(QStringLiteral("content"), true, true);
                step.subType = reader.string(QStringLiteral("subType"), false, true);
                step.delay = reader.millis(QStringLiteral("delayMs"), false);
                break;
            case StepType::Tool:
            {
                reader.onlyFields({QStringLiteral("type"), QStringLiteral("name"), QStringLiteral("args"),
                                   QStringLiteral("response"), QStringLiteral("status"), QStringLiteral("content"),
                                   QStringLiteral("delayMs")});
                step.tool = reader.string(QStringLiteral("name"), true, true);
                step.args = reader.object(QStringLiteral("args"));
                step.content = reader.string(QStringLiteral("content"), false, false);
                step.delay = reader.millis(QStringLiteral("delayMs"), false);
                const QJsonValue response = reader.raw().value(QStringLiteral("response"));
                if (response.isString())
                    step.response = response.toString();
                else if (response.isObject())
                    step.response =
                        QString::fromUtf8(QJsonDocument(response.toObject()).toJson(QJsonDocument::Compact));
                else if (response.isArray())
                    step.response = QString::fromUtf8(QJsonDocument(response.toArray()).toJson(QJsonDocument::Compact));
                else if (!response.isUndefined())
                    reader.fail(QStringLiteral("response"),
                                QStringLiteral("must be a string, an object or an array (got ") + typeName(response) +
                                    u')');
                const QString status = reader.string(QStringLiteral("status"), false, false);
                if (!reader.failed() && reader.raw().contains(QStringLiteral("status")) && status != u"success" &&
                    status != u"failure")
                    reader.fail(QStringLiteral("status"), QStringLiteral("must be \"success\" or \"failure\""));
                step.toolSucceeds = status != u"failure";
                break;
            }
            case StepType::Request:
            {
                reader.onlyFields({QStringLiteral("type"), QStringLiteral("kind"), QStringLiteral("content")});
                const QString kind = reader.string(QStringLiteral("kind"), true, true);
                step.content = reader.string(QStringLiteral("content"), true, true);
                if (!reader.failed())
                {
                    if (const auto parsed = requestKindFromString(kind))
                        step.requestKind = *parsed;
                    else
                        reader.fail(QStringLiteral("kind"),
                                    QStringLiteral("must be \"plan_approval\", \"tool_call_approval\" or \"input\""));
                }
                break;
            }
            case StepType::Wait:
                reader.onlyFields({QStringLiteral("type"), QStringLiteral("ms")});
                step.delay = reader.millis(QStringLiteral("ms"), true);
                break;
            case StepType::Fail:
                reader.onlyFields({QStringLiteral("type"), QStringLiteral("message")});
                step.content = reader.string(QStringLiteral("message"), true, true);
                break;
            case StepType::Workspace:
                reader.onlyFields({QStringLiteral("type"), QStringLiteral("tool"), QStringLiteral("args")});
                step.tool = reader.string(QStringLiteral("tool"), true, true);
                step.args = reader.object(QStringLiteral("args"));
                break;
            case StepType::Finish:
                reader.onlyFields({QStringLiteral("type"), QStringLiteral("content")});
                step.content = reader.string(QStringLiteral("content"), true, true);
                break;
            }
            if (reader.failed())
                return unexpected(reader.error());
            return step;
        }
    }  // namespace

    QString toString(const StepType type)
    {
        switch (type)
        {
        case StepType::Agent: return QStringLiteral("agent");
        case StepType::Tool: return QStringLiteral("tool");
        case StepType::Request: return QStringLiteral("request");
        case StepType::Wait: return QStringLiteral("wait");
        case StepType::Fail: return QStringLiteral("fail");
        case StepType::Workspace: return QStringLiteral("workspace");
        case StepType::Finish: return QStringLiteral("finish");
        }
        return {};
    }

    QString toString(const RequestKind kind)
    {
        switch (kind)
        {
        case RequestKind::PlanApproval: return QStringLiteral("plan_approval");
        case RequestKind::ToolCallApproval: return QStringLiteral("tool_call_approval");
        case RequestKind::Input: return QStringLiteral("input");
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
            where += QStringLiteral(": steps[") + QString::number(*step) + u']';
            if (!field.isEmpty())
                where += u'.' + field;
        }
        else if (!field.isEmpty())
        {
            where += QStringLiteral(": ") + field;
        }
        return where + QStringLiteral(": ") + message;
    }

    bool Flow::isValidName(const QString &name)
    {
        static const QRegularExpression pattern(QStringLiteral("^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"));
        return pattern.match(name).hasMatch();
    }

    QString Flow::nameForFile(const QString &fileName)
    {
        const QString base = QFileInfo(fileName).fileName();
        if (!base.endsWith(QStringLiteral(".json")))
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
            return fileError(
                {}, QStringLiteral("the file name must be <name>.json with a name of letters, digits, '_', '.', '-' "
                                   "(at most 64, starting with a letter or digit)"));
        }
        if (json.size() > MaxFileBytes)
            return fileError({}, QStringLiteral("larger than 1 MiB"));

        QJsonParseError parseError;
        const QJsonDocument document = QJsonDocument::fromJson(json, &parseError);
        if (parseError.error != QJsonParseError::NoError)
        {
            return fileError({}, QStringLiteral("invalid JSON at offset ") + QString::number(parseError.offset) +
                                     QStringLiteral(": ") + parseError.errorString());
        }
        if (!document.isObject())
            return fileError({}, QStringLiteral("the top level must be a JSON object"));

        StepReader reader(document.object(), fileName, std::nullopt);
        reader.onlyFields({QStringLiteral("name"), QStringLiteral("description"), QStringLiteral("version"),
                           QStringLiteral("steps")});
        const QString declaredName = reader.string(QStringLiteral("name"), false, true);
        if (!reader.failed() && !declaredName.isNull() && declaredName != name)
            reader.fail(QStringLiteral("name"), QStringLiteral("\"") + declaredName.left(64) +
                                                    QStringLiteral("\" does not match the file name (\"") + name +
                                                    QStringLiteral("\")"));
        Flow flow;
        flow.name = name;
        flow.description = reader.string(QStringLiteral("description"), false, false);
        const QJsonValue version = reader.raw().value(QStringLiteral("version"));
        if (!reader.failed() && !version.isUndefined() && !(version.isDouble() && version.toDouble() == 1.0))
            reader.fail(QStringLiteral("version"), QStringLiteral("must be 1 (the only version of the format)"));
        const QJsonValue steps = reader.raw().value(QStringLiteral("steps"));
        if (!reader.failed())
        {
            if (steps.isUndefined())
                reader.fail(QStringLiteral("steps"), QStringLiteral("missing"));
            else if (!steps.isArray())
                reader.fail(QStringLiteral("steps"), QStringLiteral("must be an array (got ") + typeName(steps) + u')');
            else if (steps.toArray().isEmpty())
                reader.fail(QStringLiteral("steps"), QStringLiteral("must hold at least one step"));
            else if (steps.toArray().size() > MaxSteps)
                reader.fail(QStringLiteral("steps"),
                            QStringLiteral("more than ") + QString::number(MaxSteps) + QStringLiteral(" steps"));
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
            return fileError(QStringLiteral("cannot read: ") + file.errorString());
        if (file.size() > MaxFileBytes)
            return fileError(QStringLiteral("larger than 1 MiB"));
        // One byte over the limit is enough to notice a file that grew (or a pipe).
        const QByteArray json = file.read(MaxFileBytes + 1);
        auto flow = parse(json, path);
        if (flow)
            flow->source = path;
        return flow;
    }
}  // namespace Lockstep::Flows
