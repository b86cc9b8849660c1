#include <numeric>

#include <QCheckBox>
#include <QComboBox>
#include <QLineEdit>
#include <QPointer>
#include <QPushButton>
#include <QSignalSpy>
#include <QTableView>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>

#include "connection.h"
#include "frameinspector.h"
#include "frametablemodel.h"
#include "gatewayapi.h"
#include "mainwindow.h"
#include "protocol/closecode.h"
#include "testgateway.h"
#include "workflowtab.h"

using namespace std::chrono_literals;
using namespace Lockstep;
using namespace Lockstep::Ui;

namespace
{
    // A TCP relay between a client and the gateway that counts the bytes of
    // each direction and keeps their start (to find the end of the HTTP upgrade).
    class CountingProxy final : public QObject
    {
    public:
        explicit CountingProxy(const quint16 upstreamPort)
            : m_upstreamPort(upstreamPort)
        {
            m_server.listen(QHostAddress::LocalHost);
            connect(&m_server, &QTcpServer::newConnection, this, [this] {
                while (QTcpSocket *client = m_server.nextPendingConnection())
                    relay(client);
            });
        }

        quint16 port() const
        {
            return m_server.serverPort();
        }

        qint64 fromClient = 0;  // what the client wrote
        qint64 toClient = 0;    // what the gateway wrote to the client
        QByteArray fromClientStart;
        QByteArray toClientStart;
        int finished = 0;  // connections whose both sides are closed

    private:
        void relay(QTcpSocket *client)
        {
            auto *upstream = new QTcpSocket(this);
            client->setParent(this);
            // Client bytes that arrive before the gateway connection is up wait in the socket.
            const auto pump = [this, client, upstream] {
                if (upstream->state() != QAbstractSocket::ConnectedState)
                    return;
                const QByteArray data = client->readAll();
                fromClient += data.size();
                if (fromClientStart.size() < 4096)
                    fromClientStart += data.left(4096);
                upstream->write(data);
            };
            connect(client, &QTcpSocket::readyRead, this, pump);
            connect(upstream, &QTcpSocket::connected, this, pump);
            connect(upstream, &QTcpSocket::readyRead, this, [this, client, upstream] {
                const QByteArray data = upstream->readAll();
                toClient += data.size();
                if (toClientStart.size() < 4096)
                    toClientStart += data.left(4096);
                client->write(data);
            });
            auto closedSides = std::make_shared<int>(0);
            const auto side = [this, closedSides](QTcpSocket *from, QTcpSocket *to, const bool fromIsClient) {
                connect(from, &QTcpSocket::disconnected, this, [this, from, to, closedSides, fromIsClient] {
                    const QByteArray rest = from->readAll();
                    (fromIsClient ? fromClient : toClient) += rest.size();
                    to->write(rest);
                    to->disconnectFromHost();
                    if (++*closedSides == 2)
                        ++finished;
                });
            };
            side(client, upstream, true);
            side(upstream, client, false);
            upstream->connectToHost(QHostAddress::LocalHost, m_upstreamPort);
        }

        QTcpServer m_server;
        quint16 m_upstreamPort;
    };

    qint64 httpHeadBytes(const QByteArray &start)
    {
        const qsizetype end = start.indexOf("\r\n\r\n");
        return (end < 0) ? -1 : end + 4;
    }

    // RFC 6455 5.2: 2 bytes, the extended length, the client's 4-byte mask.
    qint64 frameBytes(const qint64 payload, const bool masked)
    {
        const qint64 length = (payload < 126) ? 0 : (payload < 65536) ? 2 : 8;
        return 2 + length + (masked ? 4 : 0) + payload;
    }

    const Transport::FrameRecord *findFrame(const FrameSession &session, const Transport::FrameDirection direction,
                                            const Transport::FrameKind kind)
    {
        for (const Transport::FrameRecord &frame : session.log().frames())
        {
            if ((frame.direction == direction) && (frame.kind == kind))
                return &frame;
        }
        return nullptr;
    }

    Transport::FrameRecord textFrame(const QByteArray &payload,
                                     const Transport::FrameDirection direction = Transport::FrameDirection::In)
    {
        return Transport::FrameRecord{.direction = direction,
                                      .kind = Transport::FrameKind::Text,
                                      .payloadBytes = payload.size(),
                                      .payload = payload};
    }
}  // namespace

// The frame inspector and the frame tap under it: wire byte counts against a
// counting TCP relay in front of a real lockstep-gateway, close frames
// decoded, the ring buffer, filters and search, legacy sessions.
class TestFrameInspector : public QObject
{
    Q_OBJECT

private:
    Test::TestGateway m_gateway;
    QTemporaryDir m_settingsDir;
    GatewayApi m_api;

    GatewayEndpoint endpoint(const quint16 port = 0) const
    {
        const QString url = port ? QStringLiteral("ws://127.0.0.1:%1").arg(port) : m_gateway.url();
        GatewayEndpoint result = GatewayEndpoint::fromUrl(url).value();
        result.token = m_gateway.token();
        return result;
    }

    quint16 gatewayPort() const
    {
        return static_cast<quint16>(QUrl(m_gateway.url()).port());
    }

    QString createWorkflow(const QString &flow)
    {
        QString id;
        m_api.createWorkflow(QStringLiteral("Create a file called hello.sh that prints hello"), flow, this,
                             [&id](ApiResult<QString> result) {
                                 if (result)
                                     id = *result;
                             });
        if (!QTest::qWaitFor([&id] { return !id.isEmpty(); }, 10000))
            return {};
        return id;
    }

    // Resumes `workflowId` on a DriveSession and waits until the gateway closes it.
    std::shared_ptr<FrameSession> drive(const QString &workflowId, const quint16 port = 0, const QString &goal = {},
                                        DriveSession::End *end = nullptr)
    {
        DriveSession session(endpoint(port), workflowId, goal, 0);
        QSignalSpy ended(&session, &DriveSession::ended);
        session.start();
        if (!ended.wait(20000))
            return nullptr;
        if (end)
            *end = ended.at(0).at(0).value<DriveSession::End>();
        return session.frameSession();
    }

private slots:
    void initTestCase()
    {
        QVERIFY(m_settingsDir.isValid());
        QVERIFY2(!qEnvironmentVariableIsEmpty("LOCKSTEP_GATEWAY_BIN"), "LOCKSTEP_GATEWAY_BIN");
        QVERIFY2(m_gateway.start(), "the gateway did not start");
        m_api.setEndpoint(endpoint());
    }

    // The client's counters against a relay's count: pings and pongs, a
    // subscribe, the close handshake; and the bytes the relay saw are exactly
    // the upgrade plus the recorded frames with their headers and masks.
    void wireBytesEqualTheRelaysCount()
    {
        const QString id = createWorkflow(QStringLiteral("hello"));
        QVERIFY(!id.isEmpty());
        CountingProxy proxy(gatewayPort());
        Transport::WebSocketClient client;
        QSignalSpy connected(&client, &Transport::WebSocketClient::connected);
        QSignalSpy closed(&client, &Transport::WebSocketClient::closed);
        QList<Transport::FrameRecord> frames;
        // Closes right after the third pong, far from the next ping: Beast reads a
        // pong that arrives after our close frame without reporting it.
        int pongs = 0;
        connect(&client, &Transport::WebSocketClient::controlFrame, this,
                [&frames, &pongs, &client](const Transport::FrameRecord &frame) {
                    frames.append(frame);
                    if ((frame.kind == Transport::FrameKind::Pong) && (++pongs == 3))
                        client.close(1000, QStringLiteral("done"));
                });
        connect(&client, &Transport::WebSocketClient::textMessageReceived, this,
                [&frames](const QString &text) { frames.append(textFrame(text.toUtf8())); });
        Transport::ClientOptions options;
        options.url = endpoint(proxy.port()).webSocketUrl;
        options.bearerToken = m_gateway.token();
        options.pingInterval = 400ms;
        QVERIFY(client.open(options));
        QVERIFY(connected.wait(10000));
        const QByteArray subscribe = ProtocolSocket::subscribeFrame(id, 0);
        QVERIFY(client.sendText(QString::fromUtf8(subscribe)));
        frames.append(textFrame(subscribe, Transport::FrameDirection::Out));
        const auto count = [&frames](const Transport::FrameKind kind, const Transport::FrameDirection direction) {
            return std::count_if(frames.cbegin(), frames.cend(), [kind, direction](const auto &frame) {
                return (frame.kind == kind) && (frame.direction == direction);
            });
        };
        QVERIFY(closed.wait(10000));
        QCOMPARE(count(Transport::FrameKind::Pong, Transport::FrameDirection::In), 3);
        QTRY_COMPARE_WITH_TIMEOUT(proxy.finished, 1, 10000);

        const auto info = closed.at(0).at(0).value<Transport::CloseInfo>();
        QCOMPARE(client.wireBytesOut(), proxy.fromClient);
        QCOMPARE(client.wireBytesIn(), proxy.toClient);
        QCOMPARE(info.wireBytesOut, proxy.fromClient);
        QCOMPARE(info.wireBytesIn, proxy.toClient);

        QCOMPARE(count(Transport::FrameKind::Ping, Transport::FrameDirection::Out), 3);
        QCOMPARE(count(Transport::FrameKind::Close, Transport::FrameDirection::Out), 1);
        QCOMPARE(count(Transport::FrameKind::Close, Transport::FrameDirection::In), 1);
        const auto closeIn = std::find_if(frames.cbegin(), frames.cend(), [](const auto &frame) {
            return (frame.kind == Transport::FrameKind::Close) && (frame.direction == Transport::FrameDirection::In);
        });
        QCOMPARE(closeIn->closeCode, quint16(1000));
        QVERIFY(closeIn->closedByClient);

        // Every byte accounted for: the upgrade, then the frames as recorded.
        const qint64 requestHead = httpHeadBytes(proxy.fromClientStart);
        const qint64 responseHead = httpHeadBytes(proxy.toClientStart);
        QVERIFY(requestHead > 0 && responseHead > 0);
        qint64 out = requestHead;
        qint64 in = responseHead;
        for (const Transport::FrameRecord &frame : frames)
        {
            if (frame.direction == Transport::FrameDirection::Out)
                out += frameBytes(frame.payloadBytes, true);
            else
                in += frameBytes(frame.payloadBytes, false);
        }
        QCOMPARE(out, proxy.fromClient);
        QCOMPARE(in, proxy.toClient);
    }

    // A driving session through the relay: the session's wire bytes are the
    // relay's, its payload totals the sum of the frames it recorded, and the
    // frames with their headers make up the wire bytes exactly.
    void sessionBytesMatchTheWire()
    {
        const QString id = createWorkflow(QStringLiteral("hello"));
        QVERIFY(!id.isEmpty());
        CountingProxy proxy(gatewayPort());
        DriveSession session(endpoint(proxy.port()), id, {}, 0);
        QList<Transport::FrameRecord> recorded;
        connect(&session, &DriveSession::frameSessionStarted, this,
                [this, &recorded](const std::shared_ptr<FrameSession> &started) {
                    connect(started.get(), &FrameSession::frameRecorded, this,
                            [&recorded](const Transport::FrameRecord &frame) { recorded.append(frame); });
                });
        QSignalSpy ended(&session, &DriveSession::ended);
        session.start();
        QVERIFY(ended.wait(20000));
        const auto end = ended.at(0).at(0).value<DriveSession::End>();
        QVERIFY(end.accepted);
        QCOMPARE(end.close.code, quint16(1000));
        QTRY_COMPARE_WITH_TIMEOUT(proxy.finished, 1, 10000);

        const std::shared_ptr<FrameSession> frames = session.frameSession();
        QVERIFY(frames);
        QVERIFY(!frames->isOpen());
        QCOMPARE(frames->wireBytesOut(), proxy.fromClient);
        QCOMPARE(frames->wireBytesIn(), proxy.toClient);

        const auto &log = frames->log();
        QCOMPARE(qsizetype(log.frames().size()), recorded.size());
        const auto sum = [&recorded](const Transport::FrameDirection direction) {
            return std::accumulate(recorded.cbegin(), recorded.cend(), qint64(0),
                                   [direction](qint64 total, const auto &f) {
                                       return total + ((f.direction == direction) ? f.payloadBytes : 0);
                                   });
        };
        QCOMPARE(log.totals().payloadBytesIn, sum(Transport::FrameDirection::In));
        QCOMPARE(log.totals().payloadBytesOut, sum(Transport::FrameDirection::Out));
        QVERIFY(frames->events() > 0);
        QVERIFY(frames->eventBytes() > 0 && frames->eventBytes() < log.totals().payloadBytesIn);

        qint64 out = httpHeadBytes(proxy.fromClientStart);
        qint64 in = httpHeadBytes(proxy.toClientStart);
        for (const Transport::FrameRecord &frame : recorded)
        {
            if (frame.direction == Transport::FrameDirection::Out)
                out += frameBytes(frame.payloadBytes, true);
            else
                in += frameBytes(frame.payloadBytes, false);
        }
        QCOMPARE(out, proxy.fromClient);
        QCOMPARE(in, proxy.toClient);

        // The server ended the turn: its close frame first, then the echo.
        const auto *closeIn = findFrame(*frames, Transport::FrameDirection::In, Transport::FrameKind::Close);
        const auto *closeOut = findFrame(*frames, Transport::FrameDirection::Out, Transport::FrameKind::Close);
        QVERIFY(closeIn && closeOut);
        QVERIFY(closeIn->sequence < closeOut->sequence);
        QVERIFY(!closeIn->closedByClient);
        QVERIFY(!closeOut->closedByClient);
        QCOMPARE(closeOut->closeCode, quint16(1000));
    }

    void ringBufferIsBounded()
    {
        constexpr int Capacity = 50;
        auto session = std::make_shared<FrameSession>(FrameSession::Role::Other, Capacity);
        FrameTableModel model;
        model.setSession(session);
        qint64 payload = 0;
        for (int i = 0; i < 3 * Capacity; ++i)
        {
            const QByteArray text = QStringLiteral("{\"heartbeat\":{\"timestamp\":%1}}").arg(i).toUtf8();
            payload += text.size();
            session->record(textFrame(text, Transport::FrameDirection::Out));
        }
        QCOMPARE(int(session->log().frames().size()), Capacity);
        QCOMPARE(session->log().evicted(), qint64(2 * Capacity));
        QCOMPARE(session->log().totals().framesOut, qint64(3 * Capacity));
        QCOMPARE(session->log().totals().payloadBytesOut, payload);
        QCOMPARE(model.rowCount(), Capacity);
        QCOMPARE(model.frameAt(0)->sequence, qint64(2 * Capacity + 1));
        QCOMPARE(model.frameAt(Capacity - 1)->sequence, qint64(3 * Capacity));
        QVERIFY(model.data(model.index(0, FrameTableModel::SummaryColumn)).toString().isEmpty() == false);

        // A smaller buffer drops the oldest rows at once.
        session->setCapacity(10);
        QCOMPARE(model.rowCount(), 10);
        QCOMPARE(model.frameAt(0)->sequence, qint64(3 * Capacity - 9));
    }

    void messageTypes()
    {
        QCOMPARE(frameMessageType(textFrame("{\"newCheckpoint\":{\"status\":\"RUNNING\"}}")),
                 QStringLiteral("newCheckpoint"));
        QCOMPARE(frameMessageType(textFrame("{\"requestID\":\"a\\\"b\",\"runStatus\":{}}")),
                 QStringLiteral("runStatus"));
        QCOMPARE(frameMessageType(textFrame(" { \"lockStatus\" : {} }")), QStringLiteral("lockStatus"));
        QCOMPARE(frameMessageType(textFrame("not json")), QString());
        QCOMPARE(frameMessageType(Transport::FrameRecord{.kind = Transport::FrameKind::Pong}), QStringLiteral("pong"));
    }

    // The gateway closes with 1013 (a second driver) and 4409 (resume of a
    // stopped run): the inspector's rows say code, name, reason and who closed.
    void closeFramesDecoded()
    {
        // 1013: the `long` flow runs for minutes; a second startRequest finds the lock held.
        const QString busy = createWorkflow(QStringLiteral("long"));
        QVERIFY(!busy.isEmpty());
        DriveSession first(endpoint(), busy, {}, 0);
        QSignalSpy accepted(&first, &DriveSession::accepted);
        first.start();
        QVERIFY(accepted.wait(10000));
        DriveSession::End end;
        const std::shared_ptr<FrameSession> refused = drive(busy, 0, QStringLiteral("me too"), &end);
        QVERIFY(refused);
        QCOMPARE(end.close.code, quint16(1013));
        first.close();

        // 4409: a stopped run is not resumable.
        const QString stopped = createWorkflow(QStringLiteral("hello"));
        bool cancelled = false;
        m_api.cancel(stopped, this, [&cancelled](const ActionOutcome &) { cancelled = true; });
        QTRY_VERIFY_WITH_TIMEOUT(cancelled, 10000);
        const std::shared_ptr<FrameSession> notResumable = drive(stopped, 0, {}, &end);
        QVERIFY(notResumable);
        QCOMPARE(end.close.code, quint16(4409));

        FrameSessionList list;
        list.add(refused);
        list.add(notResumable);
        FrameInspector inspector(&list);
        inspector.show();
        QVERIFY(QTest::qWaitForWindowExposed(&inspector));
        const struct
        {
            std::shared_ptr<FrameSession> session;
            quint16 code;
            QString reason;
        } cases[] = {{refused, 1013, LockHeldReason}, {notResumable, 4409, notResumableReason(RunStatus::Stopped)}};
        for (const auto &expected : cases)
        {
            inspector.selectSession(expected.session);
            FrameFilterProxy *proxy = inspector.filterModel();
            auto *type = inspector.findChild<QComboBox *>(QStringLiteral("typeFilter"));
            auto *direction = inspector.findChild<QComboBox *>(QStringLiteral("directionFilter"));
            type->setCurrentIndex(type->findData(QStringLiteral("close")));
            direction->setCurrentIndex(1);  // in
            QCOMPARE(proxy->rowCount(), 1);
            const QString summary = proxy->index(0, FrameTableModel::SummaryColumn).data().toString();
            QVERIFY2(summary.contains(QString::number(expected.code)), qPrintable(summary));
            QVERIFY2(summary.contains(closeCodeMeaning(expected.code)), qPrintable(summary));
            QVERIFY2(summary.contains(expected.reason), qPrintable(summary));
            QVERIFY2(summary.contains(u"closed by server"), qPrintable(summary));
            inspector.frameView()->setCurrentIndex(proxy->index(0, 0));
            const QString detail = inspector.detailText();
            QVERIFY2(detail.contains(
                         QStringLiteral("Code: %1 (%2)").arg(expected.code).arg(closeCodeMeaning(expected.code))),
                     qPrintable(detail));
            QVERIFY2(detail.contains(QStringLiteral("Reason: ") + expected.reason), qPrintable(detail));
            QVERIFY2(detail.contains(u"Closed by: server"), qPrintable(detail));
            QVERIFY2(expected.session->endText().contains(u"closed by the server"),
                     qPrintable(expected.session->endText()));
            type->setCurrentIndex(0);
            direction->setCurrentIndex(0);
        }
    }

    void filterAndSearch()
    {
        const QString id = createWorkflow(QStringLiteral("hello"));
        const std::shared_ptr<FrameSession> session = drive(id);
        QVERIFY(session);
        FrameSessionList list;
        list.add(session);
        FrameInspector inspector(&list);
        FrameFilterProxy *proxy = inspector.filterModel();
        FrameTableModel *model = inspector.frameModel();
        QCOMPARE(model->rowCount(), int(session->log().frames().size()));
        QCOMPARE(proxy->rowCount(), model->rowCount());

        const auto countIf = [&session](const auto &predicate) {
            const auto &frames = session->log().frames();
            return int(std::count_if(frames.cbegin(), frames.cend(), predicate));
        };
        auto *type = inspector.findChild<QComboBox *>(QStringLiteral("typeFilter"));
        type->setCurrentIndex(type->findData(QStringLiteral("lockStatus")));
        const int locks = countIf([](const auto &f) { return frameMessageType(f) == u"lockStatus"; });
        QVERIFY(locks > 0);
        QCOMPARE(proxy->rowCount(), locks);
        for (int row = 0; row < proxy->rowCount(); ++row)
            QCOMPARE(proxy->index(row, FrameTableModel::TypeColumn).data().toString(), QStringLiteral("lockStatus"));
        type->setCurrentIndex(0);

        auto *direction = inspector.findChild<QComboBox *>(QStringLiteral("directionFilter"));
        direction->setCurrentIndex(2);  // out
        QCOMPARE(proxy->rowCount(),
                 countIf([](const auto &f) { return f.direction == Transport::FrameDirection::Out; }));
        direction->setCurrentIndex(0);

        // The search runs once typing pauses; case does not matter.
        auto *search = inspector.findChild<QLineEdit *>(QStringLiteral("frameSearch"));
        search->setText(QStringLiteral("HELLO.SH"));
        const int matching = countIf([](const auto &f) { return f.payload.contains("hello.sh"); });
        QVERIFY(matching > 0 && matching < model->rowCount());
        QTRY_COMPARE(proxy->rowCount(), matching);
        search->setText(QStringLiteral("no frame says this"));
        QTRY_COMPARE(proxy->rowCount(), 0);
    }

    // The tab's checkbox: the next startRequest asks for no incremental
    // streaming, and its events carry the whole checkpoint.
    void legacyCheckboxDropsIncrementalStreaming()
    {
        ConsoleOptions options = m_gateway.consoleOptions(m_settingsDir.filePath(QStringLiteral("console.ini")),
                                                          BackoffOptions{.initial = 200ms, .maximum = 2000ms});
        MainWindow window(options);
        QVERIFY(Test::showConsole(window));
        WorkflowTab *tab = Test::newWorkflowTab(
            window, QStringLiteral("Create a file called hello.sh that prints hello"), QStringLiteral("hello"));
        QVERIFY(tab);
        FrameSessionList *sessions = tab->frameSessions();
        const auto drives = [sessions] {
            std::vector<std::shared_ptr<FrameSession>> result;
            for (const auto &session : sessions->sessions())
            {
                if (session->role() == FrameSession::Role::Drive)
                    result.push_back(session);
            }
            return result;
        };
        QTRY_VERIFY_WITH_TIMEOUT(drives().size() == 1 && !drives().front()->isOpen(), 20000);
        const std::shared_ptr<FrameSession> incremental = drives().front();
        QVERIFY(!incremental->isLegacy());

        auto *legacyBox = tab->findChild<QCheckBox *>(QStringLiteral("legacyEventsBox"));
        QVERIFY(legacyBox);
        legacyBox->setChecked(true);
        tab->sendMessage(QStringLiteral("And a second one"));
        QTRY_VERIFY_WITH_TIMEOUT(drives().size() == 2 && !drives().back()->isOpen(), 20000);
        const std::shared_ptr<FrameSession> legacy = drives().back();
        QVERIFY(legacy->isLegacy());

        const auto *start = findFrame(*legacy, Transport::FrameDirection::Out, Transport::FrameKind::Text);
        QVERIFY(start);
        QCOMPARE(frameMessageType(*start), QStringLiteral("startRequest"));
        QVERIFY2(!start->payload.contains("incremental_streaming"), start->payload.constData());
        const auto *incrementalStart =
            findFrame(*incremental, Transport::FrameDirection::Out, Transport::FrameKind::Text);
        QVERIFY(incrementalStart->payload.contains("incremental_streaming"));

        QVERIFY(legacy->events() > 0 && incremental->events() > 0);
        const double perLegacy = double(legacy->eventBytes()) / double(legacy->events());
        const double perIncremental = double(incremental->eventBytes()) / double(incremental->events());
        QVERIFY2(perLegacy > 2 * perIncremental,
                 qPrintable(QStringLiteral("%1 vs %2").arg(perLegacy).arg(perIncremental)));

        // The inspector shows both, side by side.
        auto *button = tab->findChild<QPushButton *>(QStringLiteral("framesButton"));
        QVERIFY(button);
        button->click();
        QPointer<FrameInspector> inspector = tab->findChild<FrameInspector *>();
        QVERIFY(inspector);
        QVERIFY(QTest::qWaitForWindowExposed(inspector));
        QTRY_VERIFY(inspector->comparisonText().contains(legacy->label()));
        QVERIFY2(inspector->comparisonText().contains(u"legacy sends"), qPrintable(inspector->comparisonText()));
        inspector->selectSession(legacy);
        QVERIFY2(inspector->countersText().contains(QLocale().toString(legacy->wireBytesIn())),
                 qPrintable(inspector->countersText()));
        inspector->close();
    }
};

QTEST_MAIN(TestFrameInspector)
#include "tst_frameinspector.moc"
