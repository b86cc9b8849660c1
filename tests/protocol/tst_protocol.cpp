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
        entry.messageId = u"m-1"_qs;
        entry.messageType = MessageType::Tool;
        entry.messageSubType = u"run_command"_qs;
        entry.content = u"Ran `sh hello.sh` — ✓ 👍"_qs;
        entry.timestamp = QDateTime(QDate(2024, 5, 1), QTime(12, 0, 0, 123), Qt::OffsetFromUTC, 2 * 3600);
        entry.status = MessageStatus::Success;
        entry.correlationId = u"c-7"_qs;
        entry.toolInfo = ToolInfo {
            .name = u"run_command"_qs,
            .args = objectOf(J("{'program':'sh','args':['hello.sh'],'env':{'A':1}}")),
            .toolResponse = u"hello\n"_qs,
        };
        entry.additionalContext = QJsonArray {QJsonObject {{u"category"_qs, u"file"_qs}}};
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
        return QByteArrayView(text.toUtf8()).isValidUtf8() ? QString() : u"invalid UTF-8"_qs;
    }
} // namespace

class TestProtocol : public QObject
{
    Q_OBJECT

private slots:
    void clientRoundTrips()
    {
        StartRequest full;
        full.workflowID = u"0b6f2c1e-8a4d-4d3e-9a53-2f1c3b7e9d10"_qs;
        full.goal = u"Create a file called hello.sh that prints hello"_qs;
        full.clientVersion = u"lockstep/0.1.0"_qs;
        full.clientCapabilities = QStringList {u"incremental_streaming"_qs, u"future_thing"_qs};
        full.workflowMetadata = objectOf(J("{'project':'demo','git':{'branch':'main'}}"));
        full.approval = objectOf(J("{'approved':true,'toolCallID':'t1'}"));

        StartRequest resume;   // empty goal: resume; nothing optional
        resume.workflowID = u"hello-1"_qs;

        const QList<ClientMessage> messages {
            full,
            resume,
            Subscribe {.workflowID = u"run:42"_qs},
            Heartbeat {.timestamp = 1714557600123},
            Heartbeat {.timestamp = 0},
            Heartbeat {.timestamp = MaxSafeInteger},
            StopWorkflow {.reason = u"user pressed stop ✋"_qs},
            StopWorkflow {},
            ActionResponse {.payload = objectOf(J("{'decision':'approve','nested':{'a':[1,2,{'b':null}]}}"))},
            ActionResponse {},
        };
        for (const ClientMessage &message : messages)
        {
            const QByteArray frame = serialize(message);
            QCOMPARE(frame, compactOf(frame));   // compact JSON
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
        QCOMPARE(serialize(Heartbeat {.timestamp = 1714557600123}),
                 QByteArray(J("{'heartbeat':{'timestamp':1714557600123}}")));
        QCOMPARE(serialize(Subscribe {.workflowID = u"hello-1"_qs}),
                 QByteArray(J("{'subscribe':{'workflowID':'hello-1'}}")));
        QCOMPARE(serialize(StopWorkflow {.reason = u"bye"_qs}),
                 QByteArray(J("{'stopWorkflow':{'reason':'bye'}}")));
        StartRequest start;
        start.workflowID = u"w1"_qs;
        start.workflowMetadata = objectOf(J("{'k':'v'}"));
        // workflowMetadata travels as a string holding compact JSON.
        QCOMPARE(serialize(start), QByteArray("{\"startRequest\":{\"goal\":\"\",\"workflowID\":\"w1\",\"workflowMetadata\":\"{\\\"k\\\":\\\"v\\\"}\"}}"));

        // The SPEC.md example, as a foreign client would write it.
        const auto parsed = parseClientMessage(
            "{\"startRequest\": {\"workflowID\": \"hello-1\", \"goal\": \"Create a file called hello.sh that prints hello\",\n                \"clientVersion\": \"1.2.3\", \"clientCapabilities\": [\"incremental_streaming\"],\n                \"workflowMetadata\": \"{\\\"extended_logging\\\": true}\", \"approval\": {}}}");
        QVERIFY(parsed.hasValue());
        const auto &request = std::get<StartRequest>(parsed.value());
        QCOMPARE(request.workflowID, u"hello-1"_qs);
        QCOMPARE(request.clientVersion, u"1.2.3"_qs);
        QVERIFY(request.wantsIncrementalStreaming());
        QCOMPARE(request.workflowMetadata.value(u"extended_logging").toBool(), true);
        QVERIFY(request.approval.has_value());
        QVERIFY(request.approval->isEmpty());
    }

    void serverRoundTrips()
    {
        QList<ServerMessage> messages;
        const QString checkpoint = buildIncrementalCheckpoint({fullEntry()}, 7);
        messages.append(NewCheckpoint {.status = RunStatus::InputRequired, .goal = u"g"_qs,
                                       .errors = {u"e1"_qs, u"e2"_qs}, .checkpoint = checkpoint,
                                       .requestID = u"r-1"_qs});
        messages.append(NewCheckpoint {.status = RunStatus::Running, .checkpoint = u"{}"_qs});
        for (const LockState state : {LockState::Acquired, LockState::Refreshed, LockState::Lost,
                                      LockState::Released, LockState::Unavailable})
        {
            messages.append(LockStatus {.workflowID = u"hello-1"_qs, .state = state, .holder = u"replica-a/17"_qs,
                                        .fence = 42, .ttlMs = 30000, .at = 1714557600123});
        }
        messages.append(LockStatus {.workflowID = u"w"_qs, .state = LockState::Unavailable, .requestID = u"q"_qs});
        for (const RunStatus status : AllRunStatuses)
            messages.append(RunStatusMessage {.workflowID = u"w.1"_qs, .status = status, .reason = u"why"_qs});
        messages.append(RunStatusMessage {.workflowID = u"w"_qs, .status = RunStatus::Paused, .requestID = u"x"_qs});

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
        const QByteArray checkpoint = serialize(NewCheckpoint {.status = RunStatus::PlanApprovalRequired,
                                                               .checkpoint = u"{}"_qs, .requestID = u"r"_qs});
        QCOMPARE(checkpoint, QByteArray(J("{'newCheckpoint':{'checkpoint':'{}','errors':[],'goal':'','status':'PLAN_APPROVAL_REQUIRED'},'requestID':'r'}")));
        QCOMPARE(serialize(LockStatus {.workflowID = u"w"_qs, .state = LockState::Lost, .holder = u"h"_qs,
                                       .fence = 3, .ttlMs = 30000, .at = 5}),
                 QByteArray(J("{'lockStatus':{'at':5,'fence':3,'holder':'h','state':'lost','ttlMs':30000,'workflowID':'w'}}")));
        QCOMPARE(serialize(RunStatusMessage {.workflowID = u"w"_qs, .status = RunStatus::InputRequired}),
                 QByteArray(J("{'runStatus':{'reason':'','status':'input_required','workflowID':'w'}}")));

        // Statuses are read in either spelling; optional lock fields default to 0.
        const auto lower = parseServerMessage(J("{'newCheckpoint':{'status':'running','checkpoint':''}}"));
        QVERIFY(lower.hasValue());
        QVERIFY(std::get<NewCheckpoint>(lower.value()).status == RunStatus::Running);
        const auto lock = parseServerMessage(J("{'lockStatus':{'workflowID':'w','state':'unavailable','holder':null}}"));
        QVERIFY(lock.hasValue());
        QCOMPARE(std::get<LockStatus>(lock.value()).fence, qint64 {0});
        QCOMPARE(humanName(LockState::Unavailable), u"lock store unavailable"_qs);
    }

    void serverMalformed_data()
    {
        QTest::addColumn<QByteArray>("frame");
        QTest::addColumn<ProtocolErrorKind>("kind");
        QTest::addColumn<QString>("reasonNames");

        QTest::newRow("client kind") << QByteArray(J("{'heartbeat':{'timestamp':1}}"))
                                     << ProtocolErrorKind::UnknownMessageKind << u"heartbeat"_qs;
        QTest::newRow("status unknown") << QByteArray(J("{'newCheckpoint':{'status':'DONE','checkpoint':''}}"))
                                        << ProtocolErrorKind::InvalidValue << u"newCheckpoint.status"_qs;
        QTest::newRow("checkpoint missing") << QByteArray(J("{'newCheckpoint':{'status':'RUNNING'}}"))
                                            << ProtocolErrorKind::MissingField << u"newCheckpoint.checkpoint: missing"_qs;
        QTest::newRow("errors not strings") << QByteArray(J("{'newCheckpoint':{'status':'RUNNING','checkpoint':'','errors':[1]}}"))
                                            << ProtocolErrorKind::WrongType << u"newCheckpoint.errors[0]"_qs;
        QTest::newRow("lock state unknown") << QByteArray(J("{'lockStatus':{'workflowID':'w','state':'stolen'}}"))
                                            << ProtocolErrorKind::InvalidValue << u"lockStatus.state"_qs;
        QTest::newRow("fence negative") << QByteArray(J("{'lockStatus':{'workflowID':'w','state':'lost','fence':-1}}"))
                                        << ProtocolErrorKind::OutOfRange << u"lockStatus.fence"_qs;
        QTest::newRow("ttl fraction") << QByteArray(J("{'lockStatus':{'workflowID':'w','state':'lost','ttlMs':1.5}}"))
                                      << ProtocolErrorKind::OutOfRange << u"lockStatus.ttlMs"_qs;
        QTest::newRow("lock workflowID bad") << QByteArray(J("{'lockStatus':{'workflowID':'a b','state':'lost'}}"))
                                             << ProtocolErrorKind::InvalidValue << u"lockStatus.workflowID"_qs;
        QTest::newRow("runStatus no status") << QByteArray(J("{'runStatus':{'workflowID':'w'}}"))
                                             << ProtocolErrorKind::MissingField << u"runStatus.status: missing"_qs;
        QTest::newRow("requestID number") << QByteArray(J("{'runStatus':{'workflowID':'w','status':'paused'},'requestID':5}"))
                                          << ProtocolErrorKind::WrongType << u"requestID"_qs;
    }

    void serverMalformed()
    {
        QFETCH(QByteArray, frame);
        QFETCH(ProtocolErrorKind, kind);
        QFETCH(QString, reasonNames);
        const auto parsed = parseServerMessage(frame);
        QVERIFY(!parsed.hasValue());
        QVERIFY2(parsed.error().kind == kind, qPrintable(errorKindName(parsed.error().kind) + u": " + parsed.error().reason));
        QVERIFY2(parsed.error().reason.contains(reasonNames), qPrintable(parsed.error().reason));
        QCOMPARE(parsed.error().closeCode(), std::uint16_t {4400});
    }

    void chatLogEntryRoundTrip()
    {
        QList<ChatLogEntry> entries {fullEntry()};
        for (const MessageType type : {MessageType::User, MessageType::Agent, MessageType::Tool,
                                       MessageType::Request, MessageType::WorkflowEnd})
            entries.append(minimalEntry(u"id-"_qs + toWireString(type), type));
        for (const MessageStatus status : {MessageStatus::Pending, MessageStatus::Success, MessageStatus::Failure})
        {
            ChatLogEntry entry = minimalEntry(u"s-"_qs + toWireString(status), MessageType::Agent);
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
        QCOMPARE(json.value(u"message_type").toString(), u"tool"_qs);
        QCOMPARE(json.value(u"status").toString(), u"success"_qs);
        QCOMPARE(json.value(u"timestamp").toString(), u"2024-05-01T12:00:00.123+02:00"_qs);
        QCOMPARE(json.value(u"tool_info").toObject().value(u"tool_response").toString(), u"hello\n"_qs);
        QCOMPARE(json.value(u"correlation_id").toString(), u"c-7"_qs);
        QCOMPARE(json.value(u"message_sub_type").toString(), u"run_command"_qs);
        QVERIFY(json.value(u"additional_context").isArray());
        QCOMPARE(minimalEntry(u"x"_qs, MessageType::WorkflowEnd).toJson().value(u"message_type").toString(),
                 u"workflow_end"_qs);

        // A local time is written with its offset, never bare.
        ChatLogEntry local = minimalEntry(u"l"_qs, MessageType::User);
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
        QTest::newRow("not object") << QByteArray("[1]") << ProtocolErrorKind::WrongType << u"ui_chat_log[]"_qs;
        QTest::newRow("type unknown") << QByteArray(J("{'message_id':'m','message_type':'bot','timestamp':'2024-05-01T12:00:00Z'}"))
                                      << ProtocolErrorKind::InvalidValue << u"ui_chat_log[].message_type"_qs;
        QTest::newRow("type upper") << QByteArray(J("{'message_id':'m','message_type':'AGENT','timestamp':'2024-05-01T12:00:00Z'}"))
                                    << ProtocolErrorKind::InvalidValue << u"message_type"_qs;
        QTest::newRow("status unknown") << (QByteArray("{") + ok + J(",'status':'done'}"))
                                        << ProtocolErrorKind::InvalidValue << u"ui_chat_log[].status"_qs;
        QTest::newRow("no id") << QByteArray(J("{'message_type':'agent','timestamp':'2024-05-01T12:00:00Z'}"))
                               << ProtocolErrorKind::MissingField << u"message_id: missing"_qs;
        QTest::newRow("empty id") << QByteArray(J("{'message_id':'','message_type':'agent','timestamp':'2024-05-01T12:00:00Z'}"))
                                  << ProtocolErrorKind::InvalidValue << u"message_id"_qs;
        QTest::newRow("no offset") << QByteArray(J("{'message_id':'m','message_type':'agent','timestamp':'2024-05-01T12:00:00'}"))
                                   << ProtocolErrorKind::InvalidValue << u"timestamp"_qs;
        QTest::newRow("bad date") << QByteArray(J("{'message_id':'m','message_type':'agent','timestamp':'yesterday'}"))
                                  << ProtocolErrorKind::InvalidValue << u"timestamp"_qs;
        QTest::newRow("content number") << (QByteArray("{") + ok + J(",'content':5}"))
                                        << ProtocolErrorKind::WrongType << u"content"_qs;
        QTest::newRow("tool without name") << (QByteArray("{") + ok + J(",'tool_info':{'args':{}}}"))
                                           << ProtocolErrorKind::MissingField << u"ui_chat_log[].tool_info.name: missing"_qs;
        QTest::newRow("tool args array") << (QByteArray("{") + ok + J(",'tool_info':{'name':'t','args':[]}}"))
                                         << ProtocolErrorKind::WrongType << u"tool_info.args"_qs;
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
        QVERIFY2(parsed.error().kind == kind, qPrintable(errorKindName(parsed.error().kind) + u": " + parsed.error().reason));
        QVERIFY2(parsed.error().reason.contains(reasonNames), qPrintable(parsed.error().reason));
    }

    void utf8Cut()
    {
        const QByteArray text = QStringLiteral("aa€b😀").toUtf8();   // a a [3 bytes] b [4 bytes]
        QCOMPARE(text.size(), qsizetype {10});
        QCOMPARE(cutUtf8(text, 0), QByteArrayView());
        QCOMPARE(cutUtf8(text, 2), QByteArrayView("aa"));
        QCOMPARE(cutUtf8(text, 3), QByteArrayView("aa"));
        QCOMPARE(cutUtf8(text, 4), QByteArrayView("aa"));
        QCOMPARE(cutUtf8(text, 5), QByteArrayView(text).first(5));   // "aa€"
        QCOMPARE(cutUtf8(text, 6), QByteArrayView(text).first(6));   // "aa€b"
        for (const qsizetype n : {7, 8, 9})
            QCOMPARE(cutUtf8(text, n), QByteArrayView(text).first(6));
        QCOMPARE(cutUtf8(text, 10), QByteArrayView(text));
        QCOMPARE(cutUtf8(text, 1000), QByteArrayView(text));
    }

    void toolResponseCut_data()
    {
        QTest::addColumn<QString>("tail");
        // A run of one code point after ASCII filler, so the budget ends inside it.
        QTest::newRow("ascii") << u"x"_qs;
        QTest::newRow("2-byte é") << u"é"_qs;
        QTest::newRow("3-byte €") << u"€"_qs;
        QTest::newRow("4-byte 😀") << u"😀"_qs;
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
            QCOMPARE(cutToolResponse(cut), cut);   // idempotent
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
        info.insert(u"tool_response"_qs, QString(9000, u'é'));
        oversized.insert(u"tool_info"_qs, info);
        const auto parsed = ChatLogEntry::fromJson(oversized);
        QVERIFY(parsed.hasValue());
        QVERIFY(parsed->toolInfo->toolResponse->toUtf8().size() <= MaxToolResponseBytes);
        QCOMPARE(*parsed->toolInfo->toolResponse, cutToolResponse(QString(9000, u'é')));
    }

    void incrementalCheckpoint()
    {
        const QList<ChatLogEntry> entries {minimalEntry(u"a"_qs, MessageType::User), fullEntry()};
        const QString text = buildIncrementalCheckpoint(entries, 3);
        // The shape SPEC.md fixes, in compact JSON.
        const QJsonObject object = QJsonDocument::fromJson(text.toUtf8()).object();
        QCOMPARE(object.keys(), (QStringList {u"channel_values"_qs, u"seq"_qs}));
        QCOMPARE(object.value(u"seq").toInteger(), qint64 {3});
        QCOMPARE(object.value(u"channel_values").toObject().keys(), QStringList {u"ui_chat_log"_qs});
        QCOMPARE(object.value(u"channel_values").toObject().value(u"ui_chat_log").toArray().size(), qsizetype {2});
        QCOMPARE(text.toUtf8(), compactOf(text.toUtf8()));

        const auto parsed = parseCheckpointPayload(text);
        QVERIFY(parsed.hasValue());
        QVERIFY(parsed->seq == qint64 {3});
        QVERIFY(parsed->uiChatLog == entries);
        QVERIFY(parseCheckpointPayload(QByteArrayView(text.toUtf8())).value() == parsed.value());

        // Empty delta.
        const auto empty = parseCheckpointPayload(buildIncrementalCheckpoint({}, 0));
        QVERIFY(empty.hasValue());
        QVERIFY(empty->uiChatLog.isEmpty());

        // Legacy full checkpoint: no seq, other channels and fields ignored.
        const auto legacy = parseCheckpointPayload(QByteArrayView(
            J("{'v':1,'ts':'x','channel_values':{'plan':{'steps':[]},'ui_chat_log':[{'message_id':'m','message_type':'agent','timestamp':'2024-05-01T12:00:00Z','extra':1}]}}")));
        QVERIFY2(legacy.hasValue(), qPrintable(legacy.hasValue() ? QString() : legacy.error().reason));
        QVERIFY(!legacy->seq.has_value());
        QCOMPARE(legacy->uiChatLog.size(), qsizetype {1});

        const auto negative = parseCheckpointPayload(QByteArrayView(J("{'channel_values':{'ui_chat_log':[]},'seq':-1}")));
        QVERIFY(!negative.hasValue());
        QCOMPARE(negative.error().kind, ProtocolErrorKind::OutOfRange);
        QVERIFY(negative.error().reason.startsWith(u"checkpoint.seq"));

        const auto badEntry = parseCheckpointPayload(QByteArrayView(
            J("{'channel_values':{'ui_chat_log':[{'message_id':'m','message_type':'agent','timestamp':'2024-05-01T12:00:00Z'},{'message_id':'n','message_type':'agent','timestamp':'2024-05-01T12:00:00Z','status':'ok'}]},'seq':1}")));
        QVERIFY(!badEntry.hasValue());
        QCOMPARE(badEntry.error().kind, ProtocolErrorKind::InvalidValue);
        QVERIFY2(badEntry.error().reason.startsWith(u"checkpoint.channel_values.ui_chat_log[1].status"),
                 qPrintable(badEntry.error().reason));

        const auto noChannel = parseCheckpointPayload(QByteArrayView(J("{'seq':1}")));
        QVERIFY(!noChannel.hasValue());
        QCOMPARE(noChannel.error().reason, u"checkpoint.channel_values: missing"_qs);
        QCOMPARE(parseCheckpointPayload(QByteArrayView("[")).error().kind, ProtocolErrorKind::InvalidJson);
    }

    void unknownFieldsIgnored()
    {
        const auto start = parseClientMessage(
            J("{'startRequest':{'workflowID':'w','goal':'g','futureField':{'x':[1,2]},'anotherOne':7}}"));
        QVERIFY(start.hasValue());
        QCOMPARE(std::get<StartRequest>(start.value()).goal, u"g"_qs);

        const auto beat = parseClientMessage(J("{'heartbeat':{'timestamp':5,'tz':'UTC'},'requestID':'r9'}"));
        QVERIFY(beat.hasValue());   // requestID next to a client message is ignored
        QCOMPARE(std::get<Heartbeat>(beat.value()).timestamp, qint64 {5});

        const auto lock = parseServerMessage(
            J("{'lockStatus':{'workflowID':'w','state':'refreshed','fence':9,'replica':'b'},'requestID':'r'}"));
        QVERIFY(lock.hasValue());
        QCOMPARE(std::get<LockStatus>(lock.value()).fence, qint64 {9});
        QCOMPARE(std::get<LockStatus>(lock.value()).requestID, u"r"_qs);

        QJsonObject entry = minimalEntry(u"m"_qs, MessageType::Agent).toJson();
        entry.insert(u"new_field"_qs, u"v"_qs);
        QVERIFY(ChatLogEntry::fromJson(entry).hasValue());

        // null counts as absent for optional fields.
        const auto nulls = parseClientMessage(
            J("{'startRequest':{'workflowID':'w','goal':null,'clientCapabilities':null,'approval':null,'workflowMetadata':null}}"));
        QVERIFY(nulls.hasValue());
        QVERIFY(!std::get<StartRequest>(nulls.value()).approval.has_value());

        // An empty workflowMetadata string means none.
        const auto emptyMetadata = parseClientMessage(J("{'startRequest':{'workflowID':'w','workflowMetadata':''}}"));
        QVERIFY(emptyMetadata.hasValue());

        // Duplicate keys: the last one wins (Qt's behaviour, documented in jsonreader.h).
        const auto duplicate = parseClientMessage(J("{'heartbeat':{'timestamp':1,'timestamp':2}}"));
        QVERIFY(duplicate.hasValue());
        QCOMPARE(std::get<Heartbeat>(duplicate.value()).timestamp, qint64 {2});
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
        row("empty frame", QByteArray(), K::EmptyFrame, u"frame: empty"_qs);
        row("whitespace only", QByteArray(" \r\n\t "), K::EmptyFrame, u"frame: empty"_qs);
        row("array top level", QByteArray(J("[{'heartbeat':{'timestamp':1}}]")), K::NotAnObject, u"frame: a JSON array"_qs);
        row("number top level", QByteArray("42"), K::NotAnObject, u"frame: a JSON number"_qs);
        row("null top level", QByteArray("null"), K::NotAnObject, u"frame: a JSON null"_qs);
        row("string top level", QByteArray(J("'subscribe'")), K::NotAnObject, u"frame: a JSON string"_qs);
        row("invalid JSON", QByteArray("{subscribe}"), K::InvalidJson, u"frame: invalid JSON"_qs);
        row("plain text", QByteArray("hello"), K::InvalidJson, u"frame: invalid JSON"_qs);
        row("truncated JSON", QByteArray(J("{'heartbeat':{'timestamp':1")), K::InvalidJson, u"frame: invalid JSON"_qs);
        row("trailing garbage", QByteArray(J("{'subscribe':{'workflowID':'a'}} x")), K::InvalidJson, u"frame: invalid JSON"_qs);
        row("trailing NUL", QByteArray(J("{'subscribe':{'workflowID':'a'}}")).append('\0'), K::InvalidJson, u"frame: invalid JSON"_qs);
        row("invalid UTF-8", QByteArray("{\"startRequest\":{\"workflowID\":\"a\",\"goal\":\"\xff\"}}"), K::InvalidUtf8, u"frame: not valid UTF-8"_qs);
        row("overlong UTF-8", QByteArray("{\"startRequest\":{\"workflowID\":\"a\",\"goal\":\"\xc0\xaf\"}}"), K::InvalidUtf8, u"UTF-8"_qs);
        row("UTF-8 surrogate", QByteArray("{\"startRequest\":{\"workflowID\":\"a\",\"goal\":\"\xed\xa0\x80\"}}"), K::InvalidUtf8, u"UTF-8"_qs);
        row("truncated UTF-8", QByteArray("{\"startRequest\":{\"workflowID\":\"a\",\"goal\":\"\xf0\x9f\x98\"}}"), K::InvalidUtf8, u"UTF-8"_qs);
        row("raw NUL in string", QByteArray("{\"stopWorkflow\":{\"reason\":\"x").append('\0').append("y\"}}"), K::InvalidJson, u"raw control character"_qs);
        row("raw newline in string", QByteArray("{\"stopWorkflow\":{\"reason\":\"a\nb\"}}"), K::InvalidJson, u"raw control character"_qs);
        row("nested too deep", QByteArray(J("{'actionResponse':{'a':")) + QByteArray(100, '[') + QByteArray(100, ']') + "}}",
            K::TooDeep, u"frame: nested deeper than 64"_qs);
        row("two keys", QByteArray(J("{'subscribe':{'workflowID':'a'},'heartbeat':{'timestamp':1}}")), K::SeveralMessageKeys, u"2 message keys"_qs);
        row("zero keys", QByteArray("{}"), K::NoMessageKey, u"frame: no message key"_qs);
        row("requestID only", QByteArray(J("{'requestID':'r'}")), K::NoMessageKey, u"frame: no message key"_qs);
        row("unknown kind", QByteArray(J("{'launch':{}}")), K::UnknownMessageKind, u"unknown message kind \"launch\""_qs);
        row("unknown kind not echoed", QByteArray(J("{'<script>':{}}")), K::UnknownMessageKind, u"unknown message kind ("_qs);
        row("server kind from client", QByteArray(J("{'runStatus':{'workflowID':'w','status':'paused'}}")), K::UnknownMessageKind, u"runStatus"_qs);
        row("body not object", QByteArray(J("{'subscribe':'hello-1'}")), K::WrongType, u"subscribe: expected object, got string"_qs);
        row("stopWorkflow not object", QByteArray(J("{'stopWorkflow':'now'}")), K::WrongType, u"stopWorkflow: expected object"_qs);
        row("actionResponse array", QByteArray(J("{'actionResponse':[1]}")), K::WrongType, u"actionResponse: expected object, got array"_qs);
        row("missing workflowID", QByteArray(J("{'startRequest':{'goal':'g'}}")), K::MissingField, u"startRequest.workflowID: missing"_qs);
        row("null workflowID", QByteArray(J("{'subscribe':{'workflowID':null}}")), K::MissingField, u"subscribe.workflowID: missing"_qs);
        row("workflowID wrong type", QByteArray(J("{'startRequest':{'workflowID':42}}")), K::WrongType, u"startRequest.workflowID: expected string, got number"_qs);
        row("workflowID array", QByteArray(J("{'subscribe':{'workflowID':['a']}}")), K::WrongType, u"subscribe.workflowID"_qs);
        row("empty workflowID", QByteArray(J("{'startRequest':{'workflowID':''}}")), K::InvalidValue, u"startRequest.workflowID: empty"_qs);
        row("workflowID too long", QByteArray(J("{'startRequest':{'workflowID':'")) + QByteArray(129, 'a') + "\"}}", K::InvalidValue, u"startRequest.workflowID: longer than 128"_qs);
        row("workflowID SQL", QByteArray("{\"startRequest\":{\"workflowID\":\"'; DROP TABLE runs; --\"}}"), K::InvalidValue, u"startRequest.workflowID: has a character outside"_qs);
        row("workflowID NUL escape", QByteArray("{\"subscribe\":{\"workflowID\":\"a\\u0000b\"}}"), K::InvalidValue, u"subscribe.workflowID"_qs);
        row("workflowID non-ASCII", QByteArray(J("{'subscribe':{'workflowID':'wörk'}}")), K::InvalidValue, u"subscribe.workflowID"_qs);
        row("goal wrong type", QByteArray(J("{'startRequest':{'workflowID':'w','goal':['g']}}")), K::WrongType, u"startRequest.goal: expected string, got array"_qs);
        row("clientVersion wrong type", QByteArray(J("{'startRequest':{'workflowID':'w','clientVersion':1}}")), K::WrongType, u"startRequest.clientVersion"_qs);
        row("capabilities not array", QByteArray(J("{'startRequest':{'workflowID':'w','clientCapabilities':'incremental_streaming'}}")), K::WrongType, u"startRequest.clientCapabilities: expected array"_qs);
        row("capabilities non-string", QByteArray(J("{'startRequest':{'workflowID':'w','clientCapabilities':['a',1]}}")), K::WrongType, u"startRequest.clientCapabilities[1]: expected string, got number"_qs);
        row("metadata not JSON", QByteArray(J("{'startRequest':{'workflowID':'w','workflowMetadata':'{oops'}}")), K::InvalidValue, u"startRequest.workflowMetadata: not a JSON object string"_qs);
        row("metadata JSON array", QByteArray(J("{'startRequest':{'workflowID':'w','workflowMetadata':'[1,2]'}}")), K::InvalidValue, u"startRequest.workflowMetadata"_qs);
        row("metadata too deep", QByteArray("{\"startRequest\":{\"workflowID\":\"w\",\"workflowMetadata\":\"{\\\"a\\\":") + QByteArray(80, '[') + QByteArray(80, ']') + "}\"}}", K::InvalidValue, u"nested too deeply"_qs);
        row("metadata as object", QByteArray(J("{'startRequest':{'workflowID':'w','workflowMetadata':{'a':1}}}")), K::WrongType, u"startRequest.workflowMetadata: expected string, got object"_qs);
        row("approval not object", QByteArray(J("{'startRequest':{'workflowID':'w','approval':true}}")), K::WrongType, u"startRequest.approval: expected object, got boolean"_qs);
        row("timestamp missing", QByteArray(J("{'heartbeat':{}}")), K::MissingField, u"heartbeat.timestamp: missing"_qs);
        row("timestamp string", QByteArray(J("{'heartbeat':{'timestamp':'1714557600123'}}")), K::WrongType, u"heartbeat.timestamp: expected number, got string"_qs);
        row("timestamp negative", QByteArray(J("{'heartbeat':{'timestamp':-1}}")), K::OutOfRange, u"heartbeat.timestamp: must be an integer from 0 to 9007199254740991"_qs);
        row("timestamp fractional", QByteArray(J("{'heartbeat':{'timestamp':1.5}}")), K::OutOfRange, u"heartbeat.timestamp"_qs);
        row("timestamp 2^53", QByteArray(J("{'heartbeat':{'timestamp':9007199254740992}}")), K::OutOfRange, u"heartbeat.timestamp"_qs);
        row("timestamp beyond int64", QByteArray(J("{'heartbeat':{'timestamp':1e300}}")), K::OutOfRange, u"heartbeat.timestamp"_qs);
        row("timestamp infinite", QByteArray(J("{'heartbeat':{'timestamp':1e400}}")), K::InvalidJson, u"frame: invalid JSON"_qs);
        row("timestamp boolean", QByteArray(J("{'heartbeat':{'timestamp':true}}")), K::WrongType, u"heartbeat.timestamp"_qs);
        row("reason wrong type", QByteArray(J("{'stopWorkflow':{'reason':{}}}")), K::WrongType, u"stopWorkflow.reason: expected string, got object"_qs);
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
        QCOMPARE(error.closeCode(), std::uint16_t {4400});
        QVERIFY(!error.closeReason().isEmpty());
        QVERIFY(error.closeReason().toUtf8().size() <= 123);
    }

    void validFramesAcceptedAtTheLimits()
    {
        // The flip side of the table: the edges that must pass.
        QVERIFY(parseClientMessage(QByteArray(QByteArray(J("{'subscribe':{'workflowID':'")) + QByteArray(128, 'a') + "\"}}")).hasValue());
        QVERIFY(parseClientMessage(J("{'heartbeat':{'timestamp':9007199254740991}}")).hasValue());
        QVERIFY(parseClientMessage(J("{'heartbeat':{'timestamp':1.0e3}}")).hasValue());   // integral in any notation
        QVERIFY(parseClientMessage(J("{'heartbeat':{'timestamp':0}}")).hasValue());
        QVERIFY(parseClientMessage(QByteArray(QByteArray(J("{'actionResponse':{'a':")) + QByteArray(62, '[') + QByteArray(62, ']') + "}}")).hasValue());
        QVERIFY(parseClientMessage(" \n{\"stopWorkflow\":{}}\n ").hasValue());
        QVERIFY(parseClientMessage("{\"startRequest\":{\"workflowID\":\"w\",\"goal\":\"tab\\tand \\\"quote\\\" and \\\\u escape \\u00e9\"}}").hasValue());
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
            QCOMPARE(parseJsonObject(bad, u"frame"_qs).error().kind, ProtocolErrorKind::InvalidUtf8);
        }
        const QByteArray rawNul("{\"a\":\"x\0y\"}", 11);
        QJsonParseError error;
        QVERIFY(QJsonDocument::fromJson(rawNul, &error).isObject());
        QCOMPARE(error.error, QJsonParseError::NoError);
        QCOMPARE(parseJsonObject(rawNul, u"frame"_qs).error().kind, ProtocolErrorKind::InvalidJson);
    }

    void workflowIds()
    {
        for (const QString &id : {u"0b6f2c1e-8a4d-4d3e-9a53-2f1c3b7e9d10"_qs, u"hello-1"_qs, u"A.b_c:d-9"_qs,
                                  QString(MaxWorkflowIdLength, u'z')})
            QVERIFY2(isValidWorkflowId(id), qPrintable(id));
        for (const QString &id : {QString(), QString(MaxWorkflowIdLength + 1, u'z'), u"'; DROP TABLE runs; --"_qs,
                                  u"a b"_qs, u"a/b"_qs, u"a/../b"_qs, u"wörk"_qs,
                                  u"a\nb"_qs, u"{id}"_qs})
        {
            QVERIFY2(!isValidWorkflowId(id), qPrintable(id));
            QVERIFY(!workflowIdProblem(id).isEmpty());
        }
    }

    void closeHelpers()
    {
        ProtocolError error {.kind = ProtocolErrorKind::InvalidValue, .reason = QString(200, u'€')};
        QCOMPARE(error.closeCode(), std::uint16_t {4400});
        QCOMPARE(error.closeReason().toUtf8().size(), qsizetype {123});   // 41 whole euros
        QCOMPARE(error.closeReason(), QString(41, u'€'));

        for (const RunStatus status : AllRunStatuses)
            QVERIFY(statusFromNotResumableReason(notResumableReason(status)) == status);
        QCOMPARE(notResumableReason(RunStatus::Finished), u"not resumable (status: finished)"_qs);
        QVERIFY(!statusFromNotResumableReason(u"not resumable (status: sleeping)"));
        QVERIFY(!statusFromNotResumableReason(u"whatever"));

        QCOMPARE(describeClose(4409, notResumableReason(RunStatus::InputRequired)),
                 u"not resumable (status: input required)"_qs);
        QCOMPARE(describeClose(4409, u"odd"), u"not resumable"_qs);
        QCOMPARE(describeClose(4400, u"frame: empty"), u"invalid request: frame: empty"_qs);
        QCOMPARE(describeClose(1013, LockHeldReason), u"already running"_qs);
        QCOMPARE(describeClose(1000, {}), u"closed"_qs);
        QCOMPARE(errorKindName(ProtocolErrorKind::MissingField), u"missing field"_qs);
    }
};

QTEST_GUILESS_MAIN(TestProtocol)
#include "tst_protocol.moc"
