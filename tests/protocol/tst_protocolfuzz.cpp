#include <QRandomGenerator>
#include <QTest>

#include "protocol/chatlog.h"
#include "protocol/messages.h"

using namespace Lockstep;
using namespace Lockstep::Protocol;

// A deterministic corpus of broken frames: every one must come back as a
// message or as a typed error with a reason; never a crash, never a hang
// (ctest's timeout turns a hang into a failure). Accepted messages must also
// survive serialize -> parse unchanged.
namespace
{
    constexpr quint32 Seed = 0x10C5'7E9;
    constexpr qsizetype TenMegabytes = 10 * 1024 * 1024;

    QByteArray J(const char *json)  // ' stands for ": moc cannot lex raw strings
    {
        return QByteArray(json).replace('\'', '"');
    }

    ChatLogEntry entry(const QString &id, const MessageType type)
    {
        ChatLogEntry e;
        e.messageId = id;
        e.messageType = type;
        e.content = QStringLiteral("Wrote hello.sh — «echo hello» ✓");
        e.timestamp = QDateTime(QDate(2024, 5, 1), QTime(12, 0, 0, 5), Qt::OffsetFromUTC, -5 * 3600);
        e.status = MessageStatus::Pending;
        if (type == MessageType::Tool)
            e.toolInfo = ToolInfo{.name = QStringLiteral("write_file"),
                                  .args = QJsonObject{{QStringLiteral("path"), QStringLiteral("hello.sh")}},
                                  .toolResponse = QStringLiteral("ok")};
        return e;
    }

    QString checkpointText()
    {
        return buildIncrementalCheckpoint(
            {entry(QStringLiteral("a"), MessageType::User), entry(QStringLiteral("b"), MessageType::Tool)}, 12);
    }

    QList<QByteArray> clientSeeds()
    {
        StartRequest start;
        start.workflowID = QStringLiteral("0b6f2c1e-8a4d-4d3e-9a53-2f1c3b7e9d10");
        start.goal = QStringLiteral("Create a file called hello.sh that prints hello");
        start.clientVersion = QStringLiteral("1.0.0");
        start.clientCapabilities = {QStringLiteral("incremental_streaming")};
        start.workflowMetadata = QJsonObject{{QStringLiteral("extended_logging"), true}, {QStringLiteral("n"), 3}};
        start.approval = QJsonObject{{QStringLiteral("approved"), false}};
        return {
            serialize(start),
            serialize(StartRequest{.workflowID = QStringLiteral("hello-1")}),
            serialize(Subscribe{.workflowID = QStringLiteral("hello-1")}),
            serialize(Heartbeat{.timestamp = 1714557600123}),
            serialize(StopWorkflow{.reason = QStringLiteral("user ✋")}),
            serialize(ActionResponse{
                .payload = QJsonObject{{QStringLiteral("decision"), QStringLiteral("approve")},
                                       {QStringLiteral("ids"), QJsonArray{1, 2.5, QStringLiteral("x")}}}}),
        };
    }

    QList<QByteArray> serverSeeds()
    {
        return {
            serialize(NewCheckpoint{.status = RunStatus::Running,
                                    .goal = QStringLiteral("g"),
                                    .errors = {QStringLiteral("e")},
                                    .checkpoint = checkpointText(),
                                    .requestID = QStringLiteral("r1")}),
            serialize(LockStatus{.workflowID = QStringLiteral("hello-1"),
                                 .state = LockState::Refreshed,
                                 .holder = QStringLiteral("replica-a"),
                                 .fence = 17,
                                 .ttlMs = 30000,
                                 .at = 1714557600123}),
            serialize(RunStatusMessage{.workflowID = QStringLiteral("hello-1"),
                                       .status = RunStatus::InputRequired,
                                       .reason = QStringLiteral("turn ended")}),
        };
    }

    template <typename Message>
    QString problemWith(const Result<Message, ProtocolError> &result)
    {
        if (result.hasValue())
            return {};
        const ProtocolError &error = result.error();
        if (error.reason.isEmpty())
            return QStringLiteral("error without a reason, kind ") + errorKindName(error.kind);
        if (error.closeCode() != 4400)
            return QStringLiteral("close code is not 4400");
        if (error.closeReason().toUtf8().size() > 123)
            return QStringLiteral("close reason longer than 123 bytes");
        return {};
    }
}  // namespace

class TestProtocolFuzz : public QObject
{
    Q_OBJECT

private:
    struct Tally
    {
        int accepted = 0;
        int rejected = 0;
    };

    // Runs one frame through both parsers; empty when all is well.
    QString feed(const QByteArray &frame)
    {
        ++m_frames;
        const auto client = parseClientMessage(frame);
        if (QString problem = problemWith(client); !problem.isEmpty())
            return QStringLiteral("client: ") + problem;
        if (client.hasValue())
        {
            ++m_client.accepted;
            const auto again = parseClientMessage(serialize(client.value()));
            if (!again.hasValue() || !(again.value() == client.value()))
                return QStringLiteral("client message changed in a round trip");
        }
        else
        {
            ++m_client.rejected;
        }

        const auto server = parseServerMessage(frame);
        if (QString problem = problemWith(server); !problem.isEmpty())
            return QStringLiteral("server: ") + problem;
        if (server.hasValue())
        {
            ++m_server.accepted;
            const auto again = parseServerMessage(serialize(server.value()));
            if (!again.hasValue() || !(again.value() == server.value()))
                return QStringLiteral("server message changed in a round trip");
        }
        else
        {
            ++m_server.rejected;
        }
        return {};
    }

    QString feedCheckpoint(const QByteArray &payload)
    {
        ++m_frames;
        const auto parsed = parseCheckpointPayload(QByteArrayView(payload));
        if (QString problem = problemWith(parsed); !problem.isEmpty())
            return QStringLiteral("checkpoint: ") + problem;
        if (!parsed.hasValue())
        {
            ++m_checkpoint.rejected;
            return {};
        }
        ++m_checkpoint.accepted;
        const auto again = parseCheckpointPayload(buildIncrementalCheckpoint(parsed.value()));
        if (!again.hasValue() || !(again.value() == parsed.value()))
            return QStringLiteral("checkpoint changed in a round trip");
        return {};
    }

    static QString describe(const QByteArray &frame)
    {
        return QString::fromLatin1(frame.left(80).toPercentEncoding("{}[]\":,")) + u" (" +
               QString::number(frame.size()) + u" bytes)";
    }

    QList<QByteArray> allSeeds() const
    {
        return clientSeeds() + serverSeeds();
    }

    Tally m_client;
    Tally m_server;
    Tally m_checkpoint;
    int m_frames = 0;
    int m_mutated = 0;

private slots:
    void seedsAccepted()
    {
        for (const QByteArray &seed : clientSeeds())
            QVERIFY2(parseClientMessage(seed).hasValue(), seed.constData());
        for (const QByteArray &seed : serverSeeds())
            QVERIFY2(parseServerMessage(seed).hasValue(), seed.constData());
        QVERIFY(parseCheckpointPayload(checkpointText()).hasValue());
        for (const QByteArray &seed : allSeeds())
            QVERIFY2(feed(seed).isEmpty(), seed.constData());
    }

    void truncations()
    {
        // Every strict prefix of a compact object is incomplete JSON: all refused.
        for (const QByteArray &seed : allSeeds())
        {
            for (qsizetype length = 0; length < seed.size(); ++length)
            {
                const QByteArray frame = seed.left(length);
                ++m_mutated;
                const QString problem = feed(frame);
                QVERIFY2(problem.isEmpty(), qPrintable(problem + u": " + describe(frame)));
                QVERIFY2(!parseClientMessage(frame).hasValue() && !parseServerMessage(frame).hasValue(),
                         qPrintable(describe(frame)));
            }
        }
    }

    void bitFlips()
    {
        QRandomGenerator random(Seed);
        for (const QByteArray &seed : allSeeds())
        {
            for (int round = 0; round < 60; ++round)
            {
                QByteArray frame = seed;
                const int flips = 1 + random.bounded(3);
                for (int i = 0; i < flips; ++i)
                {
                    const auto at = static_cast<qsizetype>(random.bounded(static_cast<quint32>(frame.size())));
                    frame[at] = static_cast<char>(frame[at] ^ (1 << random.bounded(8)));
                }
                ++m_mutated;
                const QString problem = feed(frame);
                QVERIFY2(problem.isEmpty(), qPrintable(problem + u": " + describe(frame)));
            }
        }
    }

    void insertionsAndDeletions()
    {
        QRandomGenerator random(Seed + 1);
        // Structural bytes are the interesting insertions.
        const QByteArray alphabet = QByteArrayLiteral("{}[]\":,\\ 0-9eE.tfnu\x00\x1f\x7f\xc3\xff");
        for (const QByteArray &seed : allSeeds())
        {
            for (int round = 0; round < 40; ++round)
            {
                QByteArray frame = seed;
                const auto at = static_cast<qsizetype>(random.bounded(static_cast<quint32>(frame.size())));
                if (round % 2 == 0)
                    frame.insert(at, alphabet.at(random.bounded(static_cast<quint32>(alphabet.size()))));
                else
                    frame.remove(at, 1 + random.bounded(4));
                ++m_mutated;
                const QString problem = feed(frame);
                QVERIFY2(problem.isEmpty(), qPrintable(problem + u": " + describe(frame)));
            }
        }
    }

    void deepNesting()
    {
        constexpr qsizetype Levels = 100000;
        const QList<QByteArray> frames{
            QByteArray(Levels, '[') + QByteArray(Levels, ']'),
            QByteArray(Levels, '['),
            QByteArray(Levels, '{'),
            J("{'actionResponse':") + QByteArray("{\"a\":").repeated(Levels) + "1" + QByteArray(Levels, '}') + "}",
            J("{'heartbeat':") + QByteArray(Levels, '['),
            J("{'startRequest':{'workflowID':'w','workflowMetadata':'") + QByteArray(Levels, '[') +
                QByteArray(Levels, ']') + J("'}}"),
            J("{'startRequest':{'workflowID':'w','approval':") + QByteArray("[{\"x\":").repeated(Levels / 2) +
                J("null") + QByteArray("}]").repeated(Levels / 2) + "}}",
            J("{'newCheckpoint':{'status':'RUNNING','checkpoint':'','errors':") + QByteArray(Levels, '[') +
                QByteArray(Levels, ']') + "}}",
            // At the limit (64 = 2 + 62) and one past it.
            J("{'actionResponse':{'a':") + QByteArray(62, '[') + QByteArray(62, ']') + "}}",
            J("{'actionResponse':{'a':") + QByteArray(63, '[') + QByteArray(63, ']') + "}}",
        };
        for (const QByteArray &frame : frames)
        {
            ++m_mutated;
            const QString problem = feed(frame);
            QVERIFY2(problem.isEmpty(), qPrintable(problem + u": " + describe(frame)));
        }
        QVERIFY(!parseClientMessage(frames.at(3)).hasValue());
        QCOMPARE(parseClientMessage(frames.at(3)).error().kind, ProtocolErrorKind::TooDeep);
        QCOMPARE(parseClientMessage(frames.at(5)).error().kind, ProtocolErrorKind::InvalidValue);  // metadata
        QVERIFY(parseClientMessage(frames.at(8)).hasValue());
        QCOMPARE(parseClientMessage(frames.at(9)).error().kind, ProtocolErrorKind::TooDeep);

        const QByteArray deepCheckpoint =
            J("{'seq':1,'channel_values':{'ui_chat_log':") + QByteArray(Levels, '[') + QByteArray(Levels, ']') + "}}";
        QVERIFY(feedCheckpoint(deepCheckpoint).isEmpty());
        QCOMPARE(parseCheckpointPayload(QByteArrayView(deepCheckpoint)).error().kind, ProtocolErrorKind::TooDeep);
    }

    void hugeStrings()
    {
        const QByteArray ascii(TenMegabytes, 'x');
        const QByteArray twoByte = QByteArrayLiteral("\xc3\xa9").repeated(TenMegabytes / 2);  // é
        QByteArray brokenInMiddle = ascii;
        brokenInMiddle[TenMegabytes / 2] = '\xc3';  // lead byte followed by 'x'
        QByteArray cutAtEnd = twoByte;
        cutAtEnd.chop(1);  // ends inside é
        const QByteArray escapes = QByteArrayLiteral("\\n").repeated(TenMegabytes / 2);

        const auto startWithGoal = [](const QByteArray &goal) -> QByteArray {
            return J("{'startRequest':{'workflowID':'w','goal':'") + goal + J("'}}");
        };
        const QList<QPair<QByteArray, bool>> frames{
            // frame, accepted?
            {startWithGoal(ascii), true},
            {startWithGoal(twoByte), true},
            {startWithGoal(escapes), true},
            {startWithGoal(brokenInMiddle), false},
            {startWithGoal(cutAtEnd), false},
            {startWithGoal(QByteArray(TenMegabytes, '\xff')), false},
            {J("{'subscribe':{'workflowID':'") + ascii + J("'}}"), false},  // too long
            {"{\"" + ascii + J("':{}}"), false},                            // kind not echoed
            {J("{'stopWorkflow':{'reason':'") + ascii, false},              // unterminated
            {J("{'newCheckpoint':{'status':'RUNNING','checkpoint':'") + twoByte + J("'}}"), true},
        };
        for (const auto &[frame, accepted] : frames)
        {
            ++m_mutated;
            const QString problem = feed(frame);
            QVERIFY2(problem.isEmpty(), qPrintable(problem + u": " + describe(frame)));
            QCOMPARE(parseClientMessage(frame).hasValue() || parseServerMessage(frame).hasValue(), accepted);
        }
        const auto unknown = parseClientMessage(frames.at(7).first);
        QCOMPARE(unknown.error().kind, ProtocolErrorKind::UnknownMessageKind);
        QVERIFY(unknown.error().reason.size() < 200);  // the 10 MB key is not echoed
        QCOMPARE(parseClientMessage(frames.at(3).first).error().kind, ProtocolErrorKind::InvalidUtf8);
    }

    void hugeNumbers()
    {
        const QList<QByteArray> numbers{
            "1e308",
            "-1e308",
            "1e309",
            "-1e400",
            "1e-400",
            "1.7976931348623157e308",
            "123456789012345678901234567890",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "-9223372036854775809",
            "9007199254740991",
            "9007199254740992",
            "0.0000001",
            "-0",
            "0e0",
            "00",
            "01",
            "+1",
            ".5",
            "5.",
            "1e",
            "--1",
            "0x10",
            "NaN",
            "Infinity",
            "-Infinity",
            "1" + QByteArray(10000, '0'),
            "0." + QByteArray(10000, '1'),
            "1e99999999999999999999",
        };
        for (const QByteArray &number : numbers)
        {
            const QList<QByteArray> frames{
                J("{'heartbeat':{'timestamp':") + number + "}}",
                J("{'lockStatus':{'workflowID':'w','state':'lost','fence':") + number + "}}",
                J("{'lockStatus':{'workflowID':'w','state':'lost','ttlMs':") + number + J(",'at':") + number + "}}",
                J("{'actionResponse':{'n':") + number + "}}",
            };
            for (const QByteArray &frame : frames)
            {
                ++m_mutated;
                const QString problem = feed(frame);
                QVERIFY2(problem.isEmpty(), qPrintable(problem + u": " + describe(frame)));
            }
            const QByteArray checkpoint = J("{'channel_values':{'ui_chat_log':[]},'seq':") + number + "}";
            ++m_mutated;
            QVERIFY2(feedCheckpoint(checkpoint).isEmpty(), checkpoint.left(80).constData());
        }
        QVERIFY(parseClientMessage(J("{'heartbeat':{'timestamp':9007199254740991}}")).hasValue());
        QCOMPARE(parseClientMessage(J("{'heartbeat':{'timestamp':9007199254740992}}")).error().kind,
                 ProtocolErrorKind::OutOfRange);
    }

    void nulBytes()
    {
        const QByteArray nul(1, '\0');
        const QByteArray beat = J("{'heartbeat':{'timestamp':1}}");
        const QList<QByteArray> frames{
            nul,
            nul + beat,
            beat + nul,
            beat.left(5) + nul + beat.mid(5),                     // inside the key
            J("{'stopWorkflow':{'reason':'a") + nul + J("b'}}"),  // raw, inside a string
            J("{'stopWorkflow':{'reason':'a\\u0000b'}}"),         // escaped: allowed in text
            J("{'subscribe':{'workflowID':'a\\u0000b'}}"),        // escaped: not in an ID
            J("{'heart\\u0000beat':{'timestamp':1}}"),
            QByteArray(1024, '\0'),
        };
        for (const QByteArray &frame : frames)
        {
            ++m_mutated;
            const QString problem = feed(frame);
            QVERIFY2(problem.isEmpty(), qPrintable(problem + u": " + describe(frame)));
        }
        QVERIFY(!parseClientMessage(frames.at(4)).hasValue());
        QVERIFY(parseClientMessage(frames.at(5)).hasValue());
        QCOMPARE(parseClientMessage(frames.at(6)).error().kind, ProtocolErrorKind::InvalidValue);
        QCOMPARE(parseClientMessage(frames.at(7)).error().kind, ProtocolErrorKind::UnknownMessageKind);
    }

    void duplicateKeys()
    {
        const QList<QByteArray> frames{
            J("{'heartbeat':{'timestamp':1},'heartbeat':{'timestamp':2}}"),
            J("{'subscribe':{'workflowID':'a','workflowID':'b'}}"),
            J("{'subscribe':{'workflowID':'a','workflowID':7}}"),
            J("{'subscribe':{'workflowID':'a b','workflowID':'ok'}}"),
            J("{'subscribe':{'workflowID':'a'},'requestID':'x','requestID':5}"),
            J("{'runStatus':{'workflowID':'w','status':'paused'},'requestID':'x','requestID':5}"),
            J("{'subscribe':{'workflowID':'a'},'heartbeat':{'timestamp':1},'subscribe':{'workflowID':'b'}}"),
            J("{'lockStatus':{'workflowID':'w','state':'lost','state':'held'}}"),
        };
        for (const QByteArray &frame : frames)
        {
            ++m_mutated;
            const QString problem = feed(frame);
            QVERIFY2(problem.isEmpty(), qPrintable(problem + u": " + describe(frame)));
        }
        // Last one wins, as Qt reads objects.
        QCOMPARE(std::get<Subscribe>(parseClientMessage(frames.at(1)).value()).workflowID, QStringLiteral("b"));
        QCOMPARE(parseClientMessage(frames.at(2)).error().kind, ProtocolErrorKind::WrongType);
        QVERIFY(parseClientMessage(frames.at(3)).hasValue());
        QCOMPARE(parseServerMessage(frames.at(5)).error().kind, ProtocolErrorKind::WrongType);
        QCOMPARE(parseClientMessage(frames.at(6)).error().kind, ProtocolErrorKind::SeveralMessageKeys);
    }

    void checkpointMutations()
    {
        QRandomGenerator random(Seed + 2);
        const QByteArray seed = checkpointText().toUtf8();
        QVERIFY(feedCheckpoint(seed).isEmpty());
        for (qsizetype length = 0; length < seed.size(); length += 7)
        {
            ++m_mutated;
            QVERIFY2(feedCheckpoint(seed.left(length)).isEmpty(), seed.left(length).constData());
        }
        for (int round = 0; round < 300; ++round)
        {
            QByteArray payload = seed;
            const auto at = static_cast<qsizetype>(random.bounded(static_cast<quint32>(payload.size())));
            payload[at] = static_cast<char>(payload[at] ^ (1 << random.bounded(8)));
            ++m_mutated;
            const QString problem = feedCheckpoint(payload);
            QVERIFY2(problem.isEmpty(), qPrintable(problem + u": " + describe(payload)));
        }
        // The checkpoint string nested in a newCheckpoint frame, mutated and parsed twice over.
        for (int round = 0; round < 100; ++round)
        {
            QByteArray payload = seed;
            const auto at = static_cast<qsizetype>(random.bounded(static_cast<quint32>(payload.size())));
            payload[at] = static_cast<char>(random.bounded(256));
            const QByteArray frame =
                serialize(NewCheckpoint{.status = RunStatus::Running, .checkpoint = QString::fromUtf8(payload)});
            ++m_mutated;
            QVERIFY(feed(frame).isEmpty());
            const auto message = parseServerMessage(frame);
            QVERIFY(message.hasValue());
            QVERIFY(feedCheckpoint(std::get<NewCheckpoint>(message.value()).checkpoint.toUtf8()).isEmpty());
        }
    }

    void summary()
    {
        qInfo("%d mutated frames, %d parses", m_mutated, m_frames);
        qInfo("client parser: %d accepted, %d rejected", m_client.accepted, m_client.rejected);
        qInfo("server parser: %d accepted, %d rejected", m_server.accepted, m_server.rejected);
        qInfo("checkpoint parser: %d accepted, %d rejected", m_checkpoint.accepted, m_checkpoint.rejected);
        QVERIFY(m_mutated >= 200);
        QVERIFY(m_client.rejected > 0);
        QVERIFY(m_server.rejected > 0);
        QVERIFY(m_checkpoint.rejected > 0);
    }
};

QTEST_GUILESS_MAIN(TestProtocolFuzz)
#include "tst_protocolfuzz.moc"
