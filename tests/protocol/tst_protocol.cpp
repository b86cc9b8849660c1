#include <QJsonDocument>
#include <QTest>
#include <QTimeZone>

#include "protocol/chatlog.h"
#include "protocol/closecode.h"
#include "protocol/jsonreader.h"
#include "protocol/messages.h"
#include "protocol/workflowid.h"

using namespace Lockstep;
using namespace Lockstep::Protocol;

Q_DECLARE_METATYPE(Lockstep::Protocol::ProtocolErrorKind)

namespace
{
    // JSON test data with ' for ": moc cannot lex raw string literals.
    QByteArray J(const char *json)
    {
        return QByteArray(json).replace('\'', '"');
    }

    QByteArray compactOf(const QByteArray &json)
    {
        return QJsonDocument::fromJson(json).toJson(QJsonDocument::Compact);
    }

    QJsonObject objectOf(const QByteArray &json)
    {
        return QJsonDocument::fromJson(json).object();
    }

    ChatLogEntry fullEntry()
    {
        ChatLogEntry entry;
        entry.messageId = QStringLiteral("m-1");
        entry.messageType = MessageType::Tool;
        entry.messageSubType = QStringLiteral("run_command");
        entry.content = QStringLiteral("Ran `sh hello.sh` — ✓ 👍");
        entry.timestamp = QDateTime(QDate(2024, 5, 1), QTime(12, 0, 0, 123), Qt::OffsetFromUTC, 2 * 3600);
        entry.status = MessageStatus::Success;
        entry.correlationId = QStringLiteral("c-7");
        entry.toolInfo = ToolInfo{
            .name = QStringLiteral("run_command"),
            .args = objectOf(J("{'program':'sh','args':['hello.sh'],'env':{'A':1}}")),
            .toolResponse = QStringLiteral("hello\n"),
        };
        entry.additionalContext = QJsonArray{QJsonObject{{QStringLiteral("category"), QStringLiteral("file")}}};
        return entry;
    }

    ChatLogEntry minimalEntry(const QString &id, const MessageType type)
    {
        ChatLogEntry entry;
        entry.messageId = id;
        entry.messageType = type;
        entry.timestamp = QDateTime(QDate(2024, 5, 1), QTime(10, 0), Qt::UTC);
        return entry;
    }

    QString utf8Valid(const QString &text)
    {
        return QByteArrayView(text.toUtf8()).isValidUtf8() ? QString() : QStringLiteral("invalid UTF-8");
    }
}  // namespace

class TestProtocol : public QObject
{
    Q_OBJECT

private slots:
    void clientRoundTrips()
    {
        StartRequest full;
        full.workflowID = QStringLiteral("0b6f2c1e-8a4d-4d3e-9a53-2f1c3b7e9d10");
        full.goal = QStringLiteral("Create a file called hello.sh that prints hello");
        full.clientVersion = QStringLiteral("lockstep/0.1.0");
        full.clientCapabilities = QStringList{QStringLiteral("incremental_streaming"), QStringLiteral("future_thing")};
        full.workflowMetadata = objectOf(J("{'project':'demo','git':{'branch':'main'}}"));
        full.approval = objectOf(J("{'approved':true,'toolCallID':'t1'}"));

        StartRequest resume;  // empty goal: resume; nothing optional
        resume.workflowID = QStringLiteral("hello-1");

        const QList<ClientMessage> messages{
            full,
            resume,
            Subscribe{.workflowID = QStringLiteral("run:42")},
            Heartbeat{.timestamp = 1714557600123},
            Heartbeat{.timestamp = 0},
            Heartbeat{.timestamp = MaxSafeInteger},
            StopWorkflow{.reason = QStringLiteral("user pressed stop ✋")},
            StopWorkflow{},
            ActionResponse{.payload = objectOf(J("{'decision':'approve','nested':{'a':[1,2,{'b':null}]}}"))},
            ActionResponse{},
        };
        for (const ClientMessage &message : messages)
        {
            const QByteArray frame = serialize(message);
            QCOMPARE(frame, compactOf(frame));  // compact JSON
            const auto parsed = parseClientMessage(frame);
            QVERIFY2(parsed.hasValue(), qPrintable(parsed.hasValue() ? QString() : parsed.error().reason));
            QVERIFY2(parsed.value() == message, frame.constData());
            QCOMPARE(messageKind(parsed.value()), messageKind(message));
        }

        QVERIFY(full.wantsIncrementalStreaming());
        QVERIFY(!resume.wantsIncrementalStreaming());
    }

    void clientWireShapes()
    {
        QCOMPARE(serialize(Heartbeat{.timestamp = 1714557600123}),
                 QByteArray(J("{'heartbeat':{'timestamp':1714557600123}}")));
        QCOMPARE(serialize(Subscribe{.workflowID = QStringLiteral("hello-1")}),
                 QByteArray(J("{'subscribe':{'workflowID':'hello-1'}}")));
        QCOMPARE(serialize(StopWorkflow{.reason = QStringLiteral("bye")}),
                 QByteArray(J("{'stopWorkflow':{'reason':'bye'}}")));
        StartRequest start;
        start.workflowID = QStringLiteral("w1");
        start.workflowMetadata = objectOf(J("{'k':'v'}"));
        // workflowMetadata travels as a string holding compact JSON.
        QCOMPARE(
            serialize(start),
            QByteArray(
                "{\"startRequest\":{\"goal\":\"\",\"workflowID\":\"w1\",\"workflowMetadata\":\"{\\\"k\\\":\\\"v\\\"}\"}}"));

        // The SPEC.md example, as a foreign client would write it.
        const auto parsed = parseClientMessage(
            "{\"startRequest\": {\"workflowID\": \"hello-1\", \"goal\": \"Create a file called hello.sh that prints hello\",\n                \"clientVersion\": \"1.2.3\", \"clientCapabilities\": [\"incremental_streaming\"],\n                \"workflowMetadata\": \"{\\\"extended_logging\\\": true}\", \"approval\": {}}}");
        QVERIFY(parsed.hasValue());
        const auto &request = std::get<StartRequest>(parsed.value());
        QCOMPARE(request.workflowID, QStringLiteral("hello-1"));
        QCOMPARE(request.clientVersion, QStringLiteral("1.2.3"));
        QVERIFY(request.wantsIncrementalStreaming());
        QCOMPARE(request.workflowMetadata.value(u"extended_logging").toBool(), true);
        QVERIFY(request.approval.has_value());
        QVERIFY(request.approval->isEmpty());
    }

    void serverRoundTrips()
    {
        QList<ServerMessage> messages;
        const QString checkpoint = buildIncrementalCheckpoint({fullEntry()}, 7);
        messages.append(NewCheckpoint{.status = RunStatus::InputRequired,
                                      .goal = QStringLiteral("g"),
                                      .errors = {QStringLiteral("e1"), QStringLiteral("e2")},
                                      .checkpoint = checkpoint,
                                      .requestID = QStringLiteral("r-1")});
        messages.append(NewCheckpoint{.status = RunStatus::Running, .checkpoint = QStringLiteral("{}")});
        for (const LockState state :
             {LockState::Acquired, LockState::Refreshed, LockState::Lost, LockState::Released, LockState::Unavailable})
        {
            messages.append(LockStatus{.workflowID = QStringLiteral("hello-1"),
                                       .state = state,
                                       .holder = QStringLiteral("replica-a/17"),
                                       .fence = 42,
                                       .ttlMs = 30000,
                                       .at = 1714557600123});
        }
        messages.append(LockStatus{
            .workflowID = QStringLiteral("w"), .state = LockState::Unavailable, .requestID = QStringLiteral("q")});
        for (const RunStatus status : AllRunStatuses)
            messages.append(RunStatusMessage{
                .workflowID = QStringLiteral("w.1"), .status = status, .reason = QStringLiteral("why")});
        messages.append(RunStatusMessage{
            .workflowID = QStringLiteral("w"), .status = RunStatus::Paused, .requestID = QStringLiteral("x")});

        for (const ServerMessage &message : messages)
        {
            const QByteArray frame = serialize(message);
            QCOMPARE(frame, compactOf(frame));
            const auto parsed = parseServerMessage(frame);
            QVERIFY2(parsed.hasValue(), qPrintable(parsed.hasValue() ? QString() : parsed.error().reason));
            QVERIFY2(parsed.value() == message, frame.constData());
            QCOMPARE(messageKind(parsed.value()), messageKind(message));
        }
    }

    void serverWireShapes()
    {
        const QByteArray checkpoint = serialize(NewCheckpoint{.status = RunStatus::PlanApprovalRequired,
                                                              .checkpoint = QStringLiteral("{}"),
                                                              .requestID = QStringLiteral("r")});
        QCOMPARE(
            checkpoint,
            QByteArray(J(
                "{'newCheckpoint':{'checkpoint':'{}','errors':[],'goal':'','status':'PLAN_APPROVAL_REQUIRED'},'requestID':'r'}")));
        QCOMPARE(serialize(LockStatus{.workflowID = QStringLiteral("w"),
                                      .state = LockState::Lost,
                                      .holder = QStringLiteral("h"),
                                      .fence = 3,
                                      .ttlMs = 30000,
                                      .at = 5}),
                 QByteArray(J(
                     "{'lockStatus':{'at':5,'fence':3,'holder':'h','state':'lost','ttlMs':30000,'workflowID':'w'}}")));
        QCOMPARE(serialize(RunStatusMessage{.workflowID = QStringLiteral("w"), .status = RunStatus::InputRequired}),
                 QByteArray(J("{'runStatus':{'reason':'','status':'input_required','workflowID':'w'}}")));

        // Statuses are read in either spelling; optional lock fields default to 0.
        const auto lower = parseServerMessage(J("{'newCheckpoint':{'status':'running','checkpoint':''}}"));
        QVERIFY(lower.hasValue());
        QVERIFY(std::get<NewCheckpoint>(lower.value()).status == RunStatus::Running);
        const auto lock =
            parseServerMessage(J("{'lockStatus':{'workflowID':'w','state':'unavailable','holder':null}}"));
        QVERIFY(lock.hasValue());
        QCOMPARE(std::get<LockStatus>(lock.value()).fence, qint64{0});
        QCOMPARE(humanName(LockState::Unavailable), QStringLiteral("lock store unavailable"));
    }

    void serverMalformed_data()
    {
        QTest::addColumn<QByteArray>("frame");
        QTest::addColumn<ProtocolErrorKind>("kind");
        QTest::addColumn<QString>("reasonNames");

        QTest::newRow("client kind") << QByteArray(J("{'heartbeat':{'timestamp':1}}"))
                                     << ProtocolErrorKind::UnknownMessageKind << QStringLiteral("heartbeat");
        QTest::newRow("status unknown") << QByteArray(J("{'newCheckpoint':{'status':'DONE','checkpoint':''}}"))
                                        << ProtocolErrorKind::InvalidValue << QStringLiteral("newCheckpoint.status");
        QTest::newRow("checkpoint missing")
            << QByteArray(J("{'newCheckpoint':{'status':'RUNNING'}}")) << ProtocolErrorKind::MissingField
            << QStringLiteral("newCheckpoint.checkpoint: missing");
        QTest::newRow("errors not strings")
            << QByteArray(J("{'newCheckpoint':{'status':'RUNNING','checkpoint':'','errors':[1]}}"))
            << ProtocolErrorKind::WrongType << QStringLiteral("newCheckpoint.errors[0]");
        QTest::newRow("lock state unknown") << QByteArray(J("{'lockStatus':{'workflowID':'w','state':'stolen'}}"))
                                            << ProtocolErrorKind::InvalidValue << QStringLiteral("lockStatus.state");
        QTest::newRow("fence negative") << QByteArray(J("{'lockStatus':{'workflowID':'w','state':'lost','fence':-1}}"))
                                        << ProtocolErrorKind::OutOfRange << QStringLiteral("lockStatus.fence");
        QTest::newRow("ttl fraction") << QByteArray(J("{'lockStatus':{'workflowID':'w','state':'lost','ttlMs':1.5}}"))
                                      << ProtocolErrorKind::OutOfRange << QStringLiteral("lockStatus.ttlMs");
        QTest::newRow("lock workflowID bad")
            << QByteArray(J("{'lockStatus':{'workflowID':'a b','state':'lost'}}")) << ProtocolErrorKind::InvalidValue
            << QStringLiteral("lockStatus.workflowID");
        QTest::newRow("runStatus no status")
            << QByteArray(J("{'runStatus':{'workflowID':'w'}}")) << ProtocolErrorKind::MissingField
            << QStringLiteral("runStatus.status: missing");
        QTest::newRow("requestID number")
            << QByteArray(J("{'runStatus':{'workflowID':'w','status':'paused'},'requestID':5}"))
            << ProtocolErrorKind::WrongType << QStringLiteral("requestID");
    }

    void serverMalformed()
    {
        QFETCH(QByteArray, frame);
        QFETCH(ProtocolErrorKind, kind);
        QFETCH(QString, reasonNames);
        const auto parsed = parseServerMessage(frame);
        QVERIFY(!parsed.hasValue());
        QVERIFY2(parsed.error().kind == kind,
                 qPrintable(errorKindName(parsed.error().kind) + u": " + parsed.error().reason));
        QVERIFY2(parsed.error().reason.contains(reasonNames), qPrintable(parsed.error().reason));
        QCOMPARE(parsed.error().closeCode(), std::uint16_t{4400});
    }

    void chatLogEntryRoundTrip()
    {
        QList<ChatLogEntry> entries{fullEntry()};
        for (const MessageType type :
             {MessageType::User, MessageType::Agent, MessageType::Tool, MessageType::Request, MessageType::WorkflowEnd})
            entries.append(minimalEntry(QStringLiteral("id-") + toWireString(type), type));
        for (const MessageStatus status : {MessageStatus::Pending, MessageStatus::Success, MessageStatus::Failure})
        {
            ChatLogEntry entry = minimalEntry(QStringLiteral("s-") + toWireString(status), MessageType::Agent);
            entry.status = status;
            entries.append(entry);
        }
        ChatLogEntry noResponse = fullEntry();
        noResponse.toolInfo->toolResponse.reset();
        noResponse.toolInfo->args = {};
        entries.append(noResponse);

        for (const ChatLogEntry &entry : entries)
        {
            const QJsonObject json = entry.toJson();
            const auto parsed = ChatLogEntry::fromJson(json);
            QVERIFY2(parsed.hasValue(), qPrintable(parsed.hasValue() ? QString() : parsed.error().reason));
            QVERIFY2(parsed.value() == entry, QJsonDocument(json).toJson(QJsonDocument::Compact).constData());
        }

        // Field names and spellings as SPEC.md has them; the offset survives.
        const QJsonObject json = fullEntry().toJson();
        QCOMPARE(json.value(u"message_type").toString(), QStringLiteral("tool"));
        QCOMPARE(json.value(u"status").toString(), QStringLiteral("success"));
        QCOMPARE(json.value(u"timestamp").toString(), QStringLiteral("2024-05-01T12:00:00.123+02:00"));
        QCOMPARE(json.value(u"tool_info").toObject().value(u"tool_response").toString(), QStringLiteral("hello\n"));
        QCOMPARE(json.value(u"correlation_id").toString(), QStringLiteral("c-7"));
        QCOMPARE(json.value(u"message_sub_type").toString(), QStringLiteral("run_command"));
        QVERIFY(json.value(u"additional_context").isArray());
        QCOMPARE(minimalEntry(QStringLiteral("x"), MessageType::WorkflowEnd).toJson().value(u"message_type").toString(),
                 QStringLiteral("workflow_end"));

        // A local time is written with its offset, never bare.
        ChatLogEntry local = minimalEntry(QStringLiteral("l"), MessageType::User);
        local.timestamp = QDateTime(QDate(2024, 1, 2), QTime(3, 4, 5), Qt::LocalTime);
        const QString written = local.toJson().value(u"timestamp").toString();
        const auto reread = ChatLogEntry::fromJson(local.toJson());
        QVERIFY2(reread.hasValue(), qPrintable(written));
        QCOMPARE(reread->timestamp, local.timestamp);
    }

    void chatLogEntryStrictness_data()
    {
        QTest::addColumn<QByteArray>("json");
        QTest::addColumn<ProtocolErrorKind>("kind");
        QTest::addColumn<QString>("reasonNames");
        const QByteArray ok = J("'message_id':'m','message_type':'agent','timestamp':'2024-05-01T12:00:00Z'");
        QTest::newRow("not object") << QByteArray("[1]") << ProtocolErrorKind::WrongType
                                    << QStringLiteral("ui_chat_log[]");
        QTest::newRow("type unknown")
            << QByteArray(J("{'message_id':'m','message_type':'bot','timestamp':'2024-05-01T12:00:00Z'}"))
            << ProtocolErrorKind::InvalidValue << QStringLiteral("ui_chat_log[].message_type");
        QTest::newRow("type upper")
            << QByteArray(J("{'message_id':'m','message_type':'AGENT','timestamp':'2024-05-01T12:00:00Z'}"))
            << ProtocolErrorKind::InvalidValue << QStringLiteral("message_type");
        QTest::newRow("status unknown") << (QByteArray("{") + ok + J(",'status':'done'}"))
                                        << ProtocolErrorKind::InvalidValue << QStringLiteral("ui_chat_log[].status");
        QTest::newRow("no id") << QByteArray(J("{'message_type':'agent','timestamp':'2024-05-01T12:00:00Z'}"))
                               << ProtocolErrorKind::MissingField << QStringLiteral("message_id: missing");
        QTest::newRow("empty id") << QByteArray(J(
                                         "{'message_id':'','message_type':'agent','timestamp':'2024-05-01T12:00:00Z'}"))
                                  << ProtocolErrorKind::InvalidValue << QStringLiteral("message_id");
        QTest::newRow("no offset")
            << QByteArray(J("{'message_id':'m','message_type':'agent','timestamp':'2024-05-01T12:00:00'}"))
            << ProtocolErrorKind::InvalidValue << QStringLiteral("timestamp");
        QTest::newRow("bad date") << QByteArray(J("{'message_id':'m','message_type':'agent','timestamp':'yesterday'}"))
                                  << ProtocolErrorKind::InvalidValue << QStringLiteral("timestamp");
        QTest::newRow("content number") << (QByteArray("{") + ok + J(",'content':5}")) << ProtocolErrorKind::WrongType
                                        << QStringLiteral("content");
        QTest::newRow("tool without name")
            << (QByteArray("{") + ok + J(",'tool_info':{'args':{}}}")) << ProtocolErrorKind::MissingField
            << QStringLiteral("ui_chat_log[].tool_info.name: missing");
        QTest::newRow("tool args array") << (QByteArray("{") + ok + J(",'tool_info':{'name':'t','args':[]}}"))
                                         << ProtocolErrorKind::WrongType << QStringLiteral("tool_info.args");
    }

    void chatLogEntryStrictness()
    {
        QFETCH(QByteArray, json);
        QFETCH(ProtocolErrorKind, kind);
        QFETCH(QString, reasonNames);
        const QJsonDocument document = QJsonDocument::fromJson(json);
        const QJsonValue value = document.isObject() ? QJsonValue(document.object()) : QJsonValue(document.array());
        const auto parsed = ChatLogEntry::fromJson(value);
        QVERIFY(!parsed.hasValue());
        QVERIFY2(parsed.error().kind == kind,
                 qPrintable(errorKindName(parsed.error().kind) + u": " + parsed.error().reason));
        QVERIFY2(parsed.error().reason.contains(reasonNames), qPrintable(parsed.error().reason));
    }

    void utf8Cut()
    {
        const QByteArray text = QStringLiteral("aa€b😀").toUtf8();  // a a [3 bytes] b [4 bytes]
        QCOMPARE(text.size(), qsizetype{10});
        QCOMPARE(cutUtf8(text, 0), QByteArrayView());
        QCOMPARE(cutUtf8(text, 2), QByteArrayView("aa"));
        QCOMPARE(cutUtf8(text, 3), QByteArrayView("aa"));
        QCOMPARE(cutUtf8(text, 4), QByteArrayView("aa"));
        QCOMPARE(cutUtf8(text, 5), QByteArrayView(text).first(5));  // "aa€"
        QCOMPARE(cutUtf8(text, 6), QByteArrayView(text).first(6));  // "aa€b"
        for (const qsizetype n : {7, 8, 9})
            QCOMPARE(cutUtf8(text, n), QByteArrayView(text).first(6));
        QCOMPARE(cutUtf8(text, 10), QByteArrayView(text));
        QCOMPARE(cutUtf8(text, 1000), QByteArrayView(text));
    }

    void toolResponseCut_data()
    {
        QTest::addColumn<QString>("tail");
        // A run of one code point after ASCII filler, so the budget ends inside it.
        QTest::newRow("ascii") << QStringLiteral("x");
        QTest::newRow("2-byte é") << QStringLiteral("é");
        QTest::newRow("3-byte €") << QStringLiteral("€");
        QTest::newRow("4-byte 😀") << QStringLiteral("😀");
    }

    void toolResponseCut()
    {
        QFETCH(QString, tail);
        const qsizetype markerBytes = ToolResponseCutMarker.toUtf8().size();
        const qsizetype budget = MaxToolResponseBytes - markerBytes;
        const qsizetype tailBytes = tail.toUtf8().size();
        for (qsizetype filler = budget - 4; filler <= budget; ++filler)
        {
            QString text(filler, u'a');
            for (int i = 0; i < 2000; ++i)
                text += tail;
            const QString cut = cutToolResponse(text);
            const QByteArray cutUtf8Bytes = cut.toUtf8();
            QVERIFY(cutUtf8Bytes.size() <= MaxToolResponseBytes);
            QCOMPARE(utf8Valid(cut), QString());
            QVERIFY(cut.endsWith(ToolResponseCutMarker));
            const QString kept = cut.chopped(ToolResponseCutMarker.size());
            QVERIFY(text.startsWith(kept));
            // Longest: the next code point would not have fitted.
            const qsizetype keptBytes = kept.toUtf8().size();
            QVERIFY(keptBytes <= budget);
            QVERIFY(keptBytes + tailBytes > budget);
            QCOMPARE(cutToolResponse(cut), cut);  // idempotent
        }
        // Exactly at the limit: untouched.
        QString exact(MaxToolResponseBytes - tailBytes, u'a');
        exact += tail;
        QCOMPARE(cutToolResponse(exact), exact);
        QVERIFY(cutToolResponse(exact + u'a').endsWith(ToolResponseCutMarker));
    }

    void toolResponseCutOnBothEnds()
    {
        ChatLogEntry entry = fullEntry();
        entry.toolInfo->toolResponse = QString(10000, u'€');
        const QJsonObject json = entry.toJson();
        const QString onWire = json.value(u"tool_info").toObject().value(u"tool_response").toString();
        QVERIFY(onWire.toUtf8().size() <= MaxToolResponseBytes);
        QVERIFY(onWire.endsWith(ToolResponseCutMarker));

        // A peer that sends more gets cut on reading.
        QJsonObject oversized = json;
        QJsonObject info = oversized.value(u"tool_info").toObject();
        info.insert(QStringLiteral("tool_response"), QString(9000, u'é'));
        oversized.insert(QStringLiteral("tool_info"), info);
        const auto parsed = ChatLogEntry::fromJson(oversized);
        QVERIFY(parsed.hasValue());
        QVERIFY(parsed->toolInfo->toolResponse->toUtf8().size() <= MaxToolResponseBytes);
        QCOMPARE(*parsed->toolInfo->toolResponse, cutToolResponse(QString(9000, u'é')));
    }

    void incrementalCheckpoint()
    {
        const QList<ChatLogEntry> entries{minimalEntry(QStringLiteral("a"), MessageType::User), fullEntry()};
        const QString text = buildIncrementalCheckpoint(entries, 3);
        // The shape SPEC.md fixes, in compact JSON.
        const QJsonObject object = QJsonDocument::fromJson(text.toUtf8()).object();
        QCOMPARE(object.keys(), (QStringList{QStringLiteral("channel_values"), QStringLiteral("seq")}));
        QCOMPARE(object.value(u"seq").toInteger(), qint64{3});
        QCOMPARE(object.value(u"channel_values").toObject().keys(), QStringList{QStringLiteral("ui_chat_log")});
        QCOMPARE(object.value(u"channel_values").toObject().value(u"ui_chat_log").toArray().size(), qsizetype{2});
        QCOMPARE(text.toUtf8(), compactOf(text.toUtf8()));

        const auto parsed = parseCheckpointPayload(text);
        QVERIFY(parsed.hasValue());
        QVERIFY(parsed->seq == qint64{3});
        QVERIFY(parsed->uiChatLog == entries);
        QVERIFY(parseCheckpointPayload(QByteArrayView(text.toUtf8())).value() == parsed.value());

        // Empty delta.
        const auto empty = parseCheckpointPayload(buildIncrementalCheckpoint({}, 0));
        QVERIFY(empty.hasValue());
        QVERIFY(empty->uiChatLog.isEmpty());

        // Legacy full checkpoint: no seq, other channels and fields ignored.
        const auto legacy = parseCheckpointPayload(QByteArrayView(J(
            "{'v':1,'ts':'x','channel_values':{'plan':{'steps':[]},'ui_chat_log':[{'message_id':'m','message_type':'agent','timestamp':'2024-05-01T12:00:00Z','extra':1}]}}")));
        QVERIFY2(legacy.hasValue(), qPrintable(legacy.hasValue() ? QString() : legacy.error().reason));
        QVERIFY(!legacy->seq.has_value());
        QCOMPARE(legacy->uiChatLog.size(), qsizetype{1});

        const auto negative =
            parseCheckpointPayload(QByteArrayView(J("{'channel_values':{'ui_chat_log':[]},'seq':-1}")));
        QVERIFY(!negative.hasValue());
        QCOMPARE(negative.error().kind, ProtocolErrorKind::OutOfRange);
        QVERIFY(negative.error().reason.startsWith(u"checkpoint.seq"));

        const auto badEntry = parseCheckpointPayload(QByteArrayView(J(
            "{'channel_values':{'ui_chat_log':[{'message_id':'m','message_type':'agent','timestamp':'2024-05-01T12:00:00Z'},{'message_id':'n','message_type':'agent','timestamp':'2024-05-01T12:00:00Z','status':'ok'}]},'seq':1}")));
        QVERIFY(!badEntry.hasValue());
        QCOMPARE(badEntry.error().kind, ProtocolErrorKind::InvalidValue);
        QVERIFY2(badEntry.error().reason.startsWith(u"checkpoint.channel_values.ui_chat_log[1].status"),
                 qPrintable(badEntry.error().reason));

        const auto noChannel = parseCheckpointPayload(QByteArrayView(J("{'seq':1}")));
        QVERIFY(!noChannel.hasValue());
        QCOMPARE(noChannel.error().reason, QStringLiteral("checkpoint.channel_values: missing"));
        QCOMPARE(parseCheckpointPayload(QByteArrayView("[")).error().kind, ProtocolErrorKind::InvalidJson);
    }

    void unknownFieldsIgnored()
    {
        const auto start = parseClientMessage(
            J("{'startRequest':{'workflowID':'w','goal':'g','futureField':{'x':[1,2]},'anotherOne':7}}"));
        QVERIFY(start.hasValue());
        QCOMPARE(std::get<StartRequest>(start.value()).goal, QStringLiteral("g"));

        const auto beat = parseClientMessage(J("{'heartbeat':{'timestamp':5,'tz':'UTC'},'requestID':'r9'}"));
        QVERIFY(beat.hasValue());  // requestID next to a client message is ignored
        QCOMPARE(std::get<Heartbeat>(beat.value()).timestamp, qint64{5});

        const auto lock = parseServerMessage(
            J("{'lockStatus':{'workflowID':'w','state':'refreshed','fence':9,'replica':'b'},'requestID':'r'}"));
        QVERIFY(lock.hasValue());
        QCOMPARE(std::get<LockStatus>(lock.value()).fence, qint64{9});
        QCOMPARE(std::get<LockStatus>(lock.value()).requestID, QStringLiteral("r"));

        QJsonObject entry = minimalEntry(QStringLiteral("m"), MessageType::Agent).toJson();
        entry.insert(QStringLiteral("new_field"), QStringLiteral("v"));
        QVERIFY(ChatLogEntry::fromJson(entry).hasValue());

        // null counts as absent for optional fields.
        const auto nulls = parseClientMessage(J(
            "{'startRequest':{'workflowID':'w','goal':null,'clientCapabilities':null,'approval':null,'workflowMetadata':null}}"));
        QVERIFY(nulls.hasValue());
        QVERIFY(!std::get<StartRequest>(nulls.value()).approval.has_value());

        // An empty workflowMetadata string means none.
        const auto emptyMetadata = parseClientMessage(J("{'startRequest':{'workflowID':'w','workflowMetadata':''}}"));
        QVERIFY(emptyMetadata.hasValue());

        // Duplicate keys: the last one wins (Qt's behaviour, documented in jsonreader.h).
        const auto duplicate = parseClientMessage(J("{'heartbeat':{'timestamp':1,'timestamp':2}}"));
        QVERIFY(duplicate.hasValue());
        QCOMPARE(std::get<Heartbeat>(duplicate.value()).timestamp, qint64{2});
    }

    void malformedClientFrames_data()
    {
        QTest::addColumn<QByteArray>("frame");
        QTest::addColumn<ProtocolErrorKind>("kind");
        QTest::addColumn<QString>("reasonNames");

        const auto row = [](const char *name, const QByteArray &frame, ProtocolErrorKind kind, const QString &names) {
            QTest::newRow(name) << frame << kind << names;
        };
        using K = ProtocolErrorKind;
        row("empty frame", QByteArray(), K::EmptyFrame, QStringLiteral("frame: empty"));
        row("whitespace only", QByteArray(" \r\n\t "), K::EmptyFrame, QStringLiteral("frame: empty"));
        row("array top level", QByteArray(J("[{'heartbeat':{'timestamp':1}}]")), K::NotAnObject,
            QStringLiteral("frame: a JSON array"));
        row("number top level", QByteArray("42"), K::NotAnObject, QStringLiteral("frame: a JSON number"));
        row("null top level", QByteArray("null"), K::NotAnObject, QStringLiteral("frame: a JSON null"));
        row("string top level", QByteArray(J("'subscribe'")), K::NotAnObject, QStringLiteral("frame: a JSON string"));
        row("invalid JSON", QByteArray("{subscribe}"), K::InvalidJson, QStringLiteral("frame: invalid JSON"));
        row("plain text", QByteArray("hello"), K::InvalidJson, QStringLiteral("frame: invalid JSON"));
        row("truncated JSON", QByteArray(J("{'heartbeat':{'timestamp':1")), K::InvalidJson,
            QStringLiteral("frame: invalid JSON"));
        row("trailing garbage", QByteArray(J("{'subscribe':{'workflowID':'a'}} x")), K::InvalidJson,
            QStringLiteral("frame: invalid JSON"));
        row("trailing NUL", QByteArray(J("{'subscribe':{'workflowID':'a'}}")).append('\0'), K::InvalidJson,
            QStringLiteral("frame: invalid JSON"));
        row("invalid UTF-8", QByteArray("{\"startRequest\":{\"workflowID\":\"a\",\"goal\":\"\xff\"}}"), K::InvalidUtf8,
            QStringLiteral("frame: not valid UTF-8"));
        row("overlong UTF-8", QByteArray("{\"startRequest\":{\"workflowID\":\"a\",\"goal\":\"\xc0\xaf\"}}"),
            K::InvalidUtf8, QStringLiteral("UTF-8"));
        row("UTF-8 surrogate", QByteArray("{\"startRequest\":{\"workflowID\":\"a\",\"goal\":\"\xed\xa0\x80\"}}"),
            K::InvalidUtf8, QStringLiteral("UTF-8"));
        row("truncated UTF-8", QByteArray("{\"startRequest\":{\"workflowID\":\"a\",\"goal\":\"\xf0\x9f\x98\"}}"),
            K::InvalidUtf8, QStringLiteral("UTF-8"));
        row("raw NUL in string", QByteArray("{\"stopWorkflow\":{\"reason\":\"x").append('\0').append("y\"}}"),
            K::InvalidJson, QStringLiteral("raw control character"));
        row("raw newline in string", QByteArray("{\"stopWorkflow\":{\"reason\":\"a\nb\"}}"), K::InvalidJson,
            QStringLiteral("raw control character"));
        row("nested too deep",
            QByteArray(J("{'actionResponse':{'a':")) + QByteArray(100, '[') + QByteArray(100, ']') + "}}", K::TooDeep,
            QStringLiteral("frame: nested deeper than 64"));
        row("two keys", QByteArray(J("{'subscribe':{'workflowID':'a'},'heartbeat':{'timestamp':1}}")),
            K::SeveralMessageKeys, QStringLiteral("2 message keys"));
        row("zero keys", QByteArray("{}"), K::NoMessageKey, QStringLiteral("frame: no message key"));
        row("requestID only", QByteArray(J("{'requestID':'r'}")), K::NoMessageKey,
            QStringLiteral("frame: no message key"));
        row("unknown kind", QByteArray(J("{'launch':{}}")), K::UnknownMessageKind,
            QStringLiteral("unknown message kind \"launch\""));
        row("unknown kind not echoed", QByteArray(J("{'<script>':{}}")), K::UnknownMessageKind,
            QStringLiteral("unknown message kind ("));
        row("server kind from client", QByteArray(J("{'runStatus':{'workflowID':'w','status':'paused'}}")),
            K::UnknownMessageKind, QStringLiteral("runStatus"));
        row("body not object", QByteArray(J("{'subscribe':'hello-1'}")), K::WrongType,
            QStringLiteral("subscribe: expected object, got string"));
        row("stopWorkflow not object", QByteArray(J("{'stopWorkflow':'now'}")), K::WrongType,
            QStringLiteral("stopWorkflow: expected object"));
        row("actionResponse array", QByteArray(J("{'actionResponse':[1]}")), K::WrongType,
            QStringLiteral("actionResponse: expected object, got array"));
        row("missing workflowID", QByteArray(J("{'startRequest':{'goal':'g'}}")), K::MissingField,
            QStringLiteral("startRequest.workflowID: missing"));
        row("null workflowID", QByteArray(J("{'subscribe':{'workflowID':null}}")), K::MissingField,
            QStringLiteral("subscribe.workflowID: missing"));
        row("workflowID wrong type", QByteArray(J("{'startRequest':{'workflowID':42}}")), K::WrongType,
            QStringLiteral("startRequest.workflowID: expected string, got number"));
        row("workflowID array", QByteArray(J("{'subscribe':{'workflowID':['a']}}")), K::WrongType,
            QStringLiteral("subscribe.workflowID"));
        row("empty workflowID", QByteArray(J("{'startRequest':{'workflowID':''}}")), K::InvalidValue,
            QStringLiteral("startRequest.workflowID: empty"));
        row("workflowID too long", QByteArray(J("{'startRequest':{'workflowID':'")) + QByteArray(129, 'a') + "\"}}",
            K::InvalidValue, QStringLiteral("startRequest.workflowID: longer than 128"));
        row("workflowID SQL", QByteArray("{\"startRequest\":{\"workflowID\":\"'; DROP TABLE runs; --\"}}"),
            K::InvalidValue, QStringLiteral("startRequest.workflowID: has a character outside"));
        row("workflowID NUL escape", QByteArray("{\"subscribe\":{\"workflowID\":\"a\\u0000b\"}}"), K::InvalidValue,
            QStringLiteral("subscribe.workflowID"));
        row("workflowID non-ASCII", QByteArray(J("{'subscribe':{'workflowID':'wörk'}}")), K::InvalidValue,
            QStringLiteral("subscribe.workflowID"));
        row("goal wrong type", QByteArray(J("{'startRequest':{'workflowID':'w','goal':['g']}}")), K::WrongType,
            QStringLiteral("startRequest.goal: expected string, got array"));
        row("clientVersion wrong type", QByteArray(J("{'startRequest':{'workflowID':'w','clientVersion':1}}")),
            K::WrongType, QStringLiteral("startRequest.clientVersion"));
        row("capabilities not array",
            QByteArray(J("{'startRequest':{'workflowID':'w','clientCapabilities':'incremental_streaming'}}")),
            K::WrongType, QStringLiteral("startRequest.clientCapabilities: expected array"));
        row("capabilities non-string",
            QByteArray(J("{'startRequest':{'workflowID':'w','clientCapabilities':['a',1]}}")), K::WrongType,
            QStringLiteral("startRequest.clientCapabilities[1]: expected string, got number"));
        row("metadata not JSON", QByteArray(J("{'startRequest':{'workflowID':'w','workflowMetadata':'{oops'}}")),
            K::InvalidValue, QStringLiteral("startRequest.workflowMetadata: not a JSON object string"));
        row("metadata JSON array", QByteArray(J("{'startRequest':{'workflowID':'w','workflowMetadata':'[1,2]'}}")),
            K::InvalidValue, QStringLiteral("startRequest.workflowMetadata"));
        row("metadata too deep",
            QByteArray("{\"startRequest\":{\"workflowID\":\"w\",\"workflowMetadata\":\"{\\\"a\\\":") +
                QByteArray(80, '[') + QByteArray(80, ']') + "}\"}}",
            K::InvalidValue, QStringLiteral("nested too deeply"));
        row("metadata as object", QByteArray(J("{'startRequest':{'workflowID':'w','workflowMetadata':{'a':1}}}")),
            K::WrongType, QStringLiteral("startRequest.workflowMetadata: expected string, got object"));
        row("approval not object", QByteArray(J("{'startRequest':{'workflowID':'w','approval':true}}")), K::WrongType,
            QStringLiteral("startRequest.approval: expected object, got boolean"));
        row("timestamp missing", QByteArray(J("{'heartbeat':{}}")), K::MissingField,
            QStringLiteral("heartbeat.timestamp: missing"));
        row("timestamp string", QByteArray(J("{'heartbeat':{'timestamp':'1714557600123'}}")), K::WrongType,
            QStringLiteral("heartbeat.timestamp: expected number, got string"));
        row("timestamp negative", QByteArray(J("{'heartbeat':{'timestamp':-1}}")), K::OutOfRange,
            QStringLiteral("heartbeat.timestamp: must be an integer from 0 to 9007199254740991"));
        row("timestamp fractional", QByteArray(J("{'heartbeat':{'timestamp':1.5}}")), K::OutOfRange,
            QStringLiteral("heartbeat.timestamp"));
        row("timestamp 2^53", QByteArray(J("{'heartbeat':{'timestamp':9007199254740992}}")), K::OutOfRange,
            QStringLiteral("heartbeat.timestamp"));
        row("timestamp beyond int64", QByteArray(J("{'heartbeat':{'timestamp':1e300}}")), K::OutOfRange,
            QStringLiteral("heartbeat.timestamp"));
        row("timestamp infinite", QByteArray(J("{'heartbeat':{'timestamp':1e400}}")), K::InvalidJson,
            QStringLiteral("frame: invalid JSON"));
        row("timestamp boolean", QByteArray(J("{'heartbeat':{'timestamp':true}}")), K::WrongType,
            QStringLiteral("heartbeat.timestamp"));
        row("reason wrong type", QByteArray(J("{'stopWorkflow':{'reason':{}}}")), K::WrongType,
            QStringLiteral("stopWorkflow.reason: expected string, got object"));
    }

    void malformedClientFrames()
    {
        QFETCH(QByteArray, frame);
        QFETCH(ProtocolErrorKind, kind);
        QFETCH(QString, reasonNames);
        const auto parsed = parseClientMessage(frame);
        QVERIFY2(!parsed.hasValue(), "accepted");
        const ProtocolError &error = parsed.error();
        QVERIFY2(error.kind == kind, qPrintable(errorKindName(error.kind) + u": " + error.reason));
        QVERIFY2(error.reason.contains(reasonNames), qPrintable(error.reason));
        QCOMPARE(error.closeCode(), std::uint16_t{4400});
        QVERIFY(!error.closeReason().isEmpty());
        QVERIFY(error.closeReason().toUtf8().size() <= 123);
    }

    void validFramesAcceptedAtTheLimits()
    {
        // The flip side of the table: the edges that must pass.
        QVERIFY(parseClientMessage(
                    QByteArray(QByteArray(J("{'subscribe':{'workflowID':'")) + QByteArray(128, 'a') + "\"}}"))
                    .hasValue());
        QVERIFY(parseClientMessage(J("{'heartbeat':{'timestamp':9007199254740991}}")).hasValue());
        QVERIFY(parseClientMessage(J("{'heartbeat':{'timestamp':1.0e3}}")).hasValue());  // integral in any notation
        QVERIFY(parseClientMessage(J("{'heartbeat':{'timestamp':0}}")).hasValue());
        QVERIFY(parseClientMessage(QByteArray(QByteArray(J("{'actionResponse':{'a':")) + QByteArray(62, '[') +
                                              QByteArray(62, ']') + "}}"))
                    .hasValue());
        QVERIFY(parseClientMessage(" \n{\"stopWorkflow\":{}}\n ").hasValue());
        QVERIFY(
            parseClientMessage(
                "{\"startRequest\":{\"workflowID\":\"w\",\"goal\":\"tab\\tand \\\"quote\\\" and \\\\u escape \\u00e9\"}}")
                .hasValue());
    }

    void qtJsonOnInvalidUtf8()
    {
        // Facts the parser is built around (Qt 6.4): Qt itself refuses malformed,
        // overlong and surrogate UTF-8, but lets raw control characters through
        // in strings, hence parseJsonObject's own scan.
        for (const QByteArray &bad : {QByteArray("{\"a\":\"\xff\"}"), QByteArray("{\"a\":\"\xc0\xaf\"}"),
                                      QByteArray("{\"a\":\"\xed\xa0\x80\"}"), QByteArray("{\"\xfe\":1}")})
        {
            QJsonParseError error;
            QVERIFY(QJsonDocument::fromJson(bad, &error).isNull());
            QCOMPARE(error.error, QJsonParseError::IllegalUTF8String);
            QVERIFY(!QByteArrayView(bad).isValidUtf8());
            QCOMPARE(parseJsonObject(bad, QStringLiteral("frame")).error().kind, ProtocolErrorKind::InvalidUtf8);
        }
        const QByteArray rawNul("{\"a\":\"x\0y\"}", 11);
        QJsonParseError error;
        QVERIFY(QJsonDocument::fromJson(rawNul, &error).isObject());
        QCOMPARE(error.error, QJsonParseError::NoError);
        QCOMPARE(parseJsonObject(rawNul, QStringLiteral("frame")).error().kind, ProtocolErrorKind::InvalidJson);
    }

    void workflowIds()
    {
        for (const QString &id : {QStringLiteral("0b6f2c1e-8a4d-4d3e-9a53-2f1c3b7e9d10"), QStringLiteral("hello-1"),
                                  QStringLiteral("A.b_c:d-9"), QString(MaxWorkflowIdLength, u'z')})
            QVERIFY2(isValidWorkflowId(id), qPrintable(id));
        for (const QString &id :
             {QString(), QString(MaxWorkflowIdLength + 1, u'z'), QStringLiteral("'; DROP TABLE runs; --"),
              QStringLiteral("a b"), QStringLiteral("a/b"), QStringLiteral("a/../b"), QStringLiteral("wörk"),
              QStringLiteral("a\nb"), QStringLiteral("{id}")})
        {
            QVERIFY2(!isValidWorkflowId(id), qPrintable(id));
            QVERIFY(!workflowIdProblem(id).isEmpty());
        }
    }

    void closeHelpers()
    {
        ProtocolError error{.kind = ProtocolErrorKind::InvalidValue, .reason = QString(200, u'€')};
        QCOMPARE(error.closeCode(), std::uint16_t{4400});
        QCOMPARE(error.closeReason().toUtf8().size(), qsizetype{123});  // 41 whole euros
        QCOMPARE(error.closeReason(), QString(41, u'€'));

        for (const RunStatus status : AllRunStatuses)
            QVERIFY(statusFromNotResumableReason(notResumableReason(status)) == status);
        QCOMPARE(notResumableReason(RunStatus::Finished), QStringLiteral("not resumable (status: finished)"));
        QVERIFY(!statusFromNotResumableReason(u"not resumable (status: sleeping)"));
        QVERIFY(!statusFromNotResumableReason(u"whatever"));

        // The console's line (translatable words): the status a 4409 names, the reason of a 4400.
        const QString inputRequired = describeClose(4409, notResumableReason(RunStatus::InputRequired));
        QVERIFY2(inputRequired.startsWith(closeCodeMeaning(4409)) && inputRequired.contains(u"input required"),
                 qPrintable(inputRequired));
        QCOMPARE(describeClose(4409, u"odd"), closeCodeMeaning(4409));
        const QString invalid = describeClose(4400, u"frame: empty");
        QVERIFY2(invalid.startsWith(closeCodeMeaning(4400)) && invalid.endsWith(u"frame: empty"), qPrintable(invalid));
        QCOMPARE(describeClose(1013, LockHeldReason), closeCodeMeaning(1013));
        QCOMPARE(describeClose(1000, {}), closeCodeMeaning(1000));
        QCOMPARE(errorKindName(ProtocolErrorKind::MissingField), QStringLiteral("missing field"));
    }
};

QTEST_GUILESS_MAIN(TestProtocol)
#include "tst_protocol.moc"
