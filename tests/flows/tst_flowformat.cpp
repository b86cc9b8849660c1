#include <algorithm>

#include <QDir>
#include <QFile>
#include <QTemporaryDir>
#include <QTest>

#include "flows/flow.h"
#include "flows/flowlibrary.h"
#include "flows/messageid.h"

using namespace Lockstep;
using namespace Lockstep::Flows;

// The flow file format: validation errors name file, step and field; the
// shipped flows load; a flows folder overrides built-ins and bad files are
// reported, never fatal.
class TestFlowFormat : public QObject
{
    Q_OBJECT

private:
    static bool writeFile(const QString &path, const QByteArray &bytes)
    {
        QFile file(path);
        return file.open(QIODevice::WriteOnly) && file.write(bytes) == bytes.size();
    }

private slots:
    void validation_data()
    {
        QTest::addColumn<QString>("fileName");
        QTest::addColumn<QByteArray>("json");
        QTest::addColumn<int>("step");  // -1: the error is not about a step
        QTest::addColumn<QString>("field");
        QTest::addColumn<QString>("message");  // expected part of the readable text

        const auto row = [](const char *name, const char *file, const char *json, int step, const char *field,
                            const char *message) {
            QTest::newRow(name) << QString::fromUtf8(file) << QByteArray(json) << step << QString::fromUtf8(field)
                                << QString::fromUtf8(message);
        };
        row("bad json", "broken.json", R"({"steps": [)", -1, "", "invalid JSON at offset");
        row("not an object", "array.json", R"([1, 2])", -1, "", "top level must be a JSON object");
        row("empty file", "empty.json", "", -1, "", "invalid JSON");
        row("bad file name", "bad name!.json", R"({"steps": [{"type": "wait", "ms": 1}]})", -1, "", "file name");
        row("not .json", "hello.txt", R"({"steps": [{"type": "wait", "ms": 1}]})", -1, "", "file name");
        row("no steps", "nosteps.json", R"({"description": "x"})", -1, "steps", "missing");
        row("steps not array", "steps.json", R"({"steps": {"type": "wait"}})", -1, "steps",
            "must be an array (got an object)");
        row("steps empty", "steps.json", R"({"steps": []})", -1, "steps", "at least one step");
        row("unknown top field", "top.json", R"({"steps": [{"type": "wait", "ms": 1}], "stepz": 1})", -1, "stepz",
            "unknown field");
        row("name mismatch", "hello.json", R"({"name": "other", "steps": [{"type": "wait", "ms": 1}]})", -1, "name",
            "does not match the file name");
        row("bad version", "v.json", R"({"version": 2, "steps": [{"type": "wait", "ms": 1}]})", -1, "version",
            "must be 1");
        row("description type", "d.json", R"({"description": 5, "steps": [{"type": "wait", "ms": 1}]})", -1,
            "description", "must be a string (got a number)");
        row("step not object", "s.json", R"({"steps": [{"type": "wait", "ms": 1}, "agent"]})", 1, "",
            "a step must be an object (got a string)");
        row("missing type", "s.json", R"({"steps": [{"content": "hi"}]})", 0, "type", "missing");
        row("type not string", "s.json", R"({"steps": [{"type": 3}]})", 0, "type", "must be a string (got a number)");
        row("unknown step type", "s.json", R"({"steps": [{"type": "wait", "ms": 1}, {"type": "teleport"}]})", 1, "type",
            "unknown step type \"teleport\"");
        row("agent without content", "s.json", R"({"steps": [{"type": "agent"}]})", 0, "content", "missing");
        row("agent empty content", "s.json", R"({"steps": [{"type": "agent", "content": "  "}]})", 0, "content",
            "must not be empty");
        row("agent delay string", "s.json", R"({"steps": [{"type": "agent", "content": "x", "delayMs": "5"}]})", 0,
            "delayMs", "must be an integer from 0 to 3600000 (got a string)");
        row("agent delay negative", "s.json", R"({"steps": [{"type": "agent", "content": "x", "delayMs": -1}]})", 0,
            "delayMs", "(got -1)");
        row("agent delay fraction", "s.json", R"({"steps": [{"type": "agent", "content": "x", "delayMs": 1.5}]})", 0,
            "delayMs", "(got 1.5)");
        row("agent delay huge", "s.json", R"({"steps": [{"type": "agent", "content": "x", "delayMs": 1e12}]})", 0,
            "delayMs", "must be an integer");
        row("agent typo field", "s.json", R"({"steps": [{"type": "agent", "content": "x", "delayMS": 5}]})", 0,
            "delayMS", "unknown field");
        row("tool without name", "s.json", R"({"steps": [{"type": "tool", "args": {}}]})", 0, "name", "missing");
        row("tool args array", "s.json", R"({"steps": [{"type": "tool", "name": "t", "args": []}]})", 0, "args",
            "must be an object (got an array)");
        row("tool bad status", "s.json", R"({"steps": [{"type": "tool", "name": "t", "status": "ok"}]})", 0, "status",
            "\"success\" or \"failure\"");
        row("tool response number", "s.json", R"({"steps": [{"type": "tool", "name": "t", "response": 3}]})", 0,
            "response", "must be a string, an object or an array");
        row("request bad kind", "s.json", R"({"steps": [{"type": "request", "kind": "coffee", "content": "x"}]})", 0,
            "kind", "plan_approval");
        row("request no content", "s.json", R"({"steps": [{"type": "request", "kind": "input"}]})", 0, "content",
            "missing");
        row("wait without ms", "s.json", R"({"steps": [{"type": "wait"}]})", 0, "ms", "missing");
        row("wait with delayMs", "s.json", R"({"steps": [{"type": "wait", "ms": 1, "delayMs": 1}]})", 0, "delayMs",
            "unknown field");
        row("fail without message", "s.json", R"({"steps": [{"type": "fail"}]})", 0, "message", "missing");
        row("workspace without tool", "s.json", R"({"steps": [{"type": "workspace", "args": {}}]})", 0, "tool",
            "missing");
        row("finish content bool", "s.json", R"({"steps": [{"type": "finish", "content": true}]})", 0, "content",
            "must be a string (got a boolean)");
        row("third step bad", "s.json",
            R"({"steps": [{"type": "wait", "ms": 1}, {"type": "agent", "content": "x"}, {"type": "tool", "name": ""}]})",
            2, "name", "must not be empty");
    }

    void validation()
    {
        QFETCH(QString, fileName);
        QFETCH(QByteArray, json);
        QFETCH(int, step);
        QFETCH(QString, field);
        QFETCH(QString, message);

        const auto parsed = Flow::parse(json, fileName);
        QVERIFY(!parsed);
        const FlowError &error = parsed.error();
        QCOMPARE(error.file, fileName);
        QCOMPARE(error.step.value_or(-1), step);
        QCOMPARE(error.field, field);
        const QString text = error.toString();
        QVERIFY2(text.startsWith(fileName + u':'), qPrintable(text));
        QVERIFY2(text.contains(message), qPrintable(text));
        if (step >= 0)
        {
            const QString where =
                QStringLiteral("steps[") + QString::number(step) + u']' + (field.isEmpty() ? QString() : u'.' + field);
            QVERIFY2(text.contains(where), qPrintable(text));
        }
    }

    void parsesEveryStepType()
    {
        const QByteArray json = R"({
            "name": "all", "description": "every type", "version": 1,
            "steps": [
                {"type": "agent", "content": "hi", "subType": "thought", "delayMs": 10},
                {"type": "tool", "name": "create_file", "args": {"file_path": "a"}, "response": {"ok": true},
                 "status": "failure", "content": "Create a", "delayMs": 20},
                {"type": "tool", "name": "list", "response": ["a", "b"]},
                {"type": "request", "kind": "tool_call_approval", "content": "may I?"},
                {"type": "wait", "ms": 30},
                {"type": "fail", "message": "broken"},
                {"type": "workspace", "tool": "run_command", "args": {"program": "ls"}},
                {"type": "finish", "content": "bye"}
            ]})";
        const auto parsed = Flow::parse(json, QStringLiteral("/some/dir/all.json"));
        QVERIFY2(parsed, parsed ? "" : qPrintable(parsed.error().toString()));
        const Flow &flow = parsed.value();
        QCOMPARE(flow.name, QStringLiteral("all"));
        QCOMPARE(flow.description, QStringLiteral("every type"));
        QCOMPARE(flow.steps.size(), 8);
        QCOMPARE(toString(flow.steps[0].type), toString(StepType::Agent));
        QCOMPARE(flow.steps[0].subType, QStringLiteral("thought"));
        QCOMPARE(flow.steps[0].delay.count(), 10);
        QCOMPARE(toString(flow.steps[1].type), toString(StepType::Tool));
        QCOMPARE(flow.steps[1].tool, QStringLiteral("create_file"));
        QCOMPARE(flow.steps[1].args.value(QStringLiteral("file_path")).toString(), QStringLiteral("a"));
        QCOMPARE(flow.steps[1].response, QStringLiteral("{\"ok\":true}"));
        QVERIFY(!flow.steps[1].toolSucceeds);
        QCOMPARE(flow.steps[1].delay.count(), 20);
        QCOMPARE(flow.steps[2].response, QStringLiteral("[\"a\",\"b\"]"));
        QVERIFY(flow.steps[2].toolSucceeds);
        QCOMPARE(toString(flow.steps[3].requestKind), toString(RequestKind::ToolCallApproval));
        QCOMPARE(toString(waitStatus(flow.steps[3].requestKind)), toString(RunStatus::ToolCallApprovalRequired));
        QCOMPARE(flow.steps[4].delay.count(), 30);
        QCOMPARE(flow.steps[5].content, QStringLiteral("broken"));
        QCOMPARE(flow.steps[6].tool, QStringLiteral("run_command"));
        QCOMPARE(toString(flow.steps[7].type), toString(StepType::Finish));
    }

    void shippedFlowsLoad()
    {
        const FlowLibrary library = FlowLibrary::load();
        QVERIFY2(library.errors().isEmpty(), qPrintable(library.errorMessages().join(u'\n')));
        QCOMPARE(library.names(),
                 (QStringList{QStringLiteral("approval"), QStringLiteral("failure"), QStringLiteral("hello"),
                              QStringLiteral("long"), QStringLiteral("workspace")}));

        const Flow hello = *library.find(QStringLiteral("hello"));
        QVERIFY(hello.source.startsWith(QStringLiteral(":/flows/")));
        QVERIFY(hello.description.contains(QStringLiteral("Create a file called hello.sh that prints hello")));
        QStringList types;
        for (const Step &step : hello.steps)
            types.append(toString(step.type));
        QCOMPARE(types, (QStringList{QStringLiteral("agent"), QStringLiteral("tool"), QStringLiteral("agent")}));
        QCOMPARE(hello.steps[1].tool, QStringLiteral("create_file"));
        QCOMPARE(hello.steps[1].args.value(QStringLiteral("file_path")).toString(), QStringLiteral("hello.sh"));
        QVERIFY(!hello.steps[1].response.isEmpty());

        // long: several minutes, but under the default 5 min workflow deadline.
        std::chrono::milliseconds total{0};
        const Flow longFlow = *library.find(QStringLiteral("long"));
        for (const Step &step : longFlow.steps)
            total += step.delay;
        QVERIFY(total >= std::chrono::minutes{3});
        QVERIFY(total < std::chrono::minutes{5});

        const auto hasStep = [&library](const QString &name, const auto &predicate) {
            const auto flow = library.find(name);
            return flow && std::any_of(flow->steps.cbegin(), flow->steps.cend(), predicate);
        };
        QVERIFY(hasStep(QStringLiteral("approval"), [](const Step &s) {
            return s.type == StepType::Request && s.requestKind == RequestKind::PlanApproval;
        }));
        QVERIFY(hasStep(QStringLiteral("failure"),
                        [](const Step &s) { return s.type == StepType::Tool && !s.toolSucceeds; }));
        QVERIFY(hasStep(QStringLiteral("failure"), [](const Step &s) { return s.type == StepType::Fail; }));
        QVERIFY(hasStep(QStringLiteral("workspace"), [](const Step &s) { return s.type == StepType::Workspace; }));
    }

    void folderOverridesBuiltInsAndReportsBadFiles()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        QVERIFY(writeFile(dir.filePath(QStringLiteral("hello.json")),
                          R"({"description": "my hello", "steps": [{"type": "agent", "content": "hi"}]})"));
        QVERIFY(writeFile(dir.filePath(QStringLiteral("extra.json")),
                          R"({"steps": [{"type": "finish", "content": "done"}]})"));
        QVERIFY(writeFile(dir.filePath(QStringLiteral("broken.json")), R"({"steps": [{"type": "agent"}]})"));
        QVERIFY(writeFile(dir.filePath(QStringLiteral("garbage.json")), "\x01\x02 not json"));
        QVERIFY(writeFile(dir.filePath(QStringLiteral("notes.txt")), "not a flow"));

        const FlowLibrary library = FlowLibrary::load(dir.path());
        QCOMPARE(library.names(),
                 (QStringList{QStringLiteral("approval"), QStringLiteral("extra"), QStringLiteral("failure"),
                              QStringLiteral("hello"), QStringLiteral("long"), QStringLiteral("workspace")}));
        QCOMPARE(library.find(QStringLiteral("hello"))->description, QStringLiteral("my hello"));
        QCOMPARE(library.find(QStringLiteral("hello"))->source, dir.filePath(QStringLiteral("hello.json")));
        QCOMPARE(library.find(QStringLiteral("approval"))->source, QStringLiteral(":/flows/approval.json"));
        QVERIFY(!library.find(QStringLiteral("broken")));
        QVERIFY(!library.contains(QStringLiteral("notes")));

        const QStringList errors = library.errorMessages();
        QCOMPARE(errors.size(), 2);
        QVERIFY2(errors.filter(QStringLiteral("broken.json: steps[0].content: missing")).size() == 1,
                 qPrintable(errors.join(u'\n')));
        QVERIFY2(errors.filter(QStringLiteral("garbage.json: invalid JSON")).size() == 1,
                 qPrintable(errors.join(u'\n')));
    }

    void missingFolderIsOneError()
    {
        QTemporaryDir dir;
        const QString missing = dir.filePath(QStringLiteral("nope"));
        const FlowLibrary library = FlowLibrary::load(missing);
        QCOMPARE(library.size(), 5);
        QCOMPARE(library.errors().size(), 1);
        QCOMPARE(library.errors().first().file, missing);
        QVERIFY(library.errors().first().toString().contains(QStringLiteral("does not exist")));
    }

    void loadFileLimits()
    {
        QTemporaryDir dir;
        const auto missing = Flow::loadFile(dir.filePath(QStringLiteral("absent.json")));
        QVERIFY(!missing);
        QVERIFY(missing.error().toString().contains(QStringLiteral("cannot read")));

        const QString big = dir.filePath(QStringLiteral("big.json"));
        // (No raw strings here: moc 6.4 mis-parses a raw string that ends in a quote.)
        QByteArray bytes = "{\"steps\": [{\"type\": \"agent\", \"content\": \"";
        bytes += QByteArray(1024 * 1024, 'x');
        bytes += "\"}]}";
        QVERIFY(writeFile(big, bytes));
        const auto tooBig = Flow::loadFile(big);
        QVERIFY(!tooBig);
        QVERIFY(tooBig.error().toString().contains(QStringLiteral("larger than 1 MiB")));
    }

    void messageIds()
    {
        QCOMPARE(MessageIds::user(3), QStringLiteral("t3-user"));
        QCOMPARE(MessageIds::step(3, 0), QStringLiteral("t3-s0"));
        QCOMPARE(MessageIds::deadline(12), QStringLiteral("t12-deadline"));
        const auto step = MessageIds::parse(QStringLiteral("t12-s40"));
        QVERIFY(step);
        QVERIFY(step->kind == MessageIds::Parsed::Kind::Step);
        QCOMPARE(step->turn, 12);
        QCOMPARE(step->step, 40);
        QVERIFY(MessageIds::parse(QStringLiteral("t1-user"))->kind == MessageIds::Parsed::Kind::User);
        QVERIFY(MessageIds::parse(QStringLiteral("t2-deadline"))->kind == MessageIds::Parsed::Kind::Deadline);
        for (const QString &bad : {QStringLiteral(""), QStringLiteral("t0-s1"), QStringLiteral("t1-s01"),
                                   QStringLiteral("t1-s"), QStringLiteral("x1-s1"), QStringLiteral("t1-s1 "),
                                   QStringLiteral("t99999999999-s1"), QStringLiteral("t1-user2")})
            QVERIFY2(!MessageIds::parse(bad), qPrintable(bad));
    }
};

QTEST_GUILESS_MAIN(TestFlowFormat)
#include "tst_flowformat.moc"
