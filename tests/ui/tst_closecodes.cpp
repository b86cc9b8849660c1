#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QTest>
#include <QWebSocket>
#include <QWebSocketServer>

#include "connection.h"
#include "locktracker.h"
#include "outcome.h"
#include "protocol/closecode.h"
#include "workflowtab.h"

using namespace std::chrono_literals;
using namespace Lockstep;
using namespace Lockstep::Ui;

// A websocket server that closes sessions with a chosen code: every close
// code of SPEC.md reaches the tab exactly (through the Beast client) and is
// worded there, on the live connection line and as an outcome.
class CloseServer final : public QObject
{
public:
    quint16 liveCode = 0;  // 0: keep subscribers open
    QString liveReason;
    quint16 driveCode = 0;  // 0: accept the startRequest (send a runStatus)
    QString driveReason;
    QString lockHolder;  // sent to subscribers as lockStatus "acquired"
    int subscribes = 0;
    int startRequests = 0;
    QJsonObject lastStart;

    CloseServer()
    {
        QVERIFY(m_server.listen(QHostAddress::LocalHost, 0));
        connect(&m_server, &QWebSocketServer::newConnection, this, [this] {
            while (QWebSocket *socket = m_server.nextPendingConnection())
            {
                socket->setParent(this);
                connect(socket, &QWebSocket::textMessageReceived, this,
                        [this, socket](const QString &text) { onText(socket, text); });
            }
        });
    }

    QString url() const
    {
        return QStringLiteral("ws://127.0.0.1:%1").arg(m_server.serverPort());
    }

private:
    void onText(QWebSocket *socket, const QString &text)
    {
        const QJsonObject frame = QJsonDocument::fromJson(text.toUtf8()).object();
        if (frame.contains(u"subscribe"))
        {
            ++subscribes;
            if (!lockHolder.isEmpty())
                socket->sendTextMessage(
                    QStringLiteral(
                        R"({"lockStatus":{"workflowID":"w-1","state":"acquired","holder":"%1","fence":9,"ttlMs":30000,"at":1}})")
                        .arg(lockHolder));
            if (liveCode != 0)
                socket->close(QWebSocketProtocol::CloseCode(liveCode), liveReason);
            return;
        }
        if (frame.contains(u"startRequest"))
        {
            ++startRequests;
            lastStart = frame.value(u"startRequest").toObject();
            if (driveCode != 0)
                socket->close(QWebSocketProtocol::CloseCode(driveCode), driveReason);
            else
                socket->sendTextMessage(
                    QStringLiteral(R"({"runStatus":{"workflowID":"w-1","status":"running","reason":""}})"));
        }
    }

    QWebSocketServer m_server{QStringLiteral("close-server"), QWebSocketServer::NonSecureMode};
};

class TestCloseCodes : public QObject
{
    Q_OBJECT

private:
    static TabContext context(const CloseServer &server)
    {
        TabContext c;
        c.endpoint = *GatewayEndpoint::fromUrl(server.url());
        c.endpoint.token = QStringLiteral("t0ken");
        c.backoff = BackoffOptions{.initial = 200ms, .maximum = 400ms, .jitter = 0.0, .lockHeldMinimum = 300ms};
        return c;
    }

    static QString label(const WorkflowTab &tab, const char *name)
    {
        const auto *widget = tab.findChild<QLabel *>(QString::fromLatin1(name));
        return widget ? widget->text() : QString();
    }

private slots:
    void wordingOfEveryCode_data()
    {
        QTest::addColumn<int>("code");
        QTest::addColumn<QString>("reason");
        QTest::addColumn<QString>("words");
        QTest::newRow("1000") << 1000 << QStringLiteral("finished") << QStringLiteral("closed (1000) — finished");
        QTest::newRow("1001") << 1001 << QStringLiteral("gateway shutting down")
                              << QStringLiteral("gateway restarting — reconnect (1001) — gateway shutting down");
        QTest::newRow("1008") << 1008 << QStringLiteral("rate limited")
                              << QStringLiteral("not allowed (1008) — rate limited");
        QTest::newRow("1009") << 1009 << QString() << QStringLiteral("message too big (1009)");
        QTest::newRow("1011") << 1011 << QStringLiteral("lock store unavailable")
                              << QStringLiteral("gateway error (1011) — lock store unavailable");
        QTest::newRow("1012") << 1012 << QString() << QStringLiteral("gateway restarting — reconnect (1012)");
        QTest::newRow("1013") << 1013 << LockHeldReason
                              << QStringLiteral("already running (1013) — Failed to acquire lock on workflow");
        QTest::newRow("4400") << 4400 << QStringLiteral("frame: invalid JSON")
                              << QStringLiteral("invalid request (4400) — frame: invalid JSON");
        QTest::newRow("4404") << 4404 << QStringLiteral("workflow not found")
                              << QStringLiteral("not found (4404) — workflow not found");
        QTest::newRow("4409") << 4409 << QStringLiteral("not resumable (status: running)")
                              << QStringLiteral("not resumable (4409) — not resumable (status: running)");
        QTest::newRow("4000 unknown") << 4000 << QStringLiteral("odd")
                                      << QStringLiteral("closed with code 4000 (4000) — odd");
    }

    // The pure wording, then the same words on the live connection line of a
    // tab whose subscription the server closes with that code.
    void wordingOfEveryCode()
    {
        QFETCH(int, code);
        QFETCH(QString, reason);
        QFETCH(QString, words);
        QCOMPARE(closeWording(quint16(code), reason), words);

        CloseServer server;
        server.liveCode = quint16(code);
        server.liveReason = reason;
        WorkflowTab tab(context(server), QStringLiteral("w-1"));
        tab.show();
        const RetryDecision decision = retryAfterClose(quint16(code));
        if (decision == RetryDecision::Stop)
        {
            QTRY_COMPARE(label(tab, "liveConnectionLabel"), QStringLiteral("Live: closed: ") + words);
            QCOMPARE(tab.liveConnection()->status().state, ConnectionState::Closed);
            QTest::qWait(600);
            QCOMPARE(server.subscribes, 1);  // no retry: waiting cannot help
        }
        else
        {
            QTRY_VERIFY2(label(tab, "liveConnectionLabel").contains(QStringLiteral("— last: ") + words),
                         qPrintable(label(tab, "liveConnectionLabel")));
            QVERIFY(label(tab, "liveConnectionLabel").startsWith(u"Live: reconnecting in "));
            QTRY_VERIFY(server.subscribes >= 2);  // it did reconnect, after the backoff
        }
    }

    void retryDecisions()
    {
        QCOMPARE(retryAfterClose(1013), RetryDecision::RetryLockHeld);
        for (const quint16 code : {1008, 1009, 4400, 4404, 4409})
            QCOMPARE(retryAfterClose(code), RetryDecision::Stop);
        for (const quint16 code : {1000, 1001, 1006, 1011, 1012})
            QCOMPARE(retryAfterClose(code), RetryDecision::Retry);
        using Transport::ConnectError;
        QCOMPARE(retryAfterFailure({.kind = ConnectError::ConnectionRefused}), RetryDecision::Retry);
        QCOMPARE(retryAfterFailure({.kind = ConnectError::HandshakeRejected, .httpStatus = 401}), RetryDecision::Stop);
        QCOMPARE(retryAfterFailure({.kind = ConnectError::HandshakeRejected, .httpStatus = 503}), RetryDecision::Retry);
        QCOMPARE(retryAfterFailure({.kind = ConnectError::TlsFailure}), RetryDecision::Stop);
    }

    void connectionLineWording()
    {
        ConnectionStatus status;
        QCOMPARE(describeConnection(status), QStringLiteral("not connected"));
        status.state = ConnectionState::Connecting;
        status.attempt = 1;
        QCOMPARE(describeConnection(status), QStringLiteral("connecting…"));
        status.attempt = 3;
        QCOMPARE(describeConnection(status), QStringLiteral("connecting… (attempt 3)"));
        status.state = ConnectionState::Connected;
        QCOMPARE(describeConnection(status), QStringLiteral("connected"));
        status.state = ConnectionState::Reconnecting;
        status.attempt = 2;
        status.retryAt = QDeadlineTimer(3500ms);
        status.closeCode = 1011;
        status.closeReason = QStringLiteral("store error");
        QCOMPARE(describeConnection(status),
                 QStringLiteral("reconnecting in 4 s (attempt 3) — last: gateway error (1011) — store error"));
        status.state = ConnectionState::Closed;
        status.closeCode.reset();
        status.failure = QStringLiteral("connection refused");
        QCOMPARE(describeConnection(status), QStringLiteral("closed: connection refused"));
        status.failure.clear();
        status.closeCode = 1000;
        status.closeReason = QStringLiteral("input_required");
        QCOMPARE(describeConnection(status), QStringLiteral("closed (1000) — input_required"));
        status.closeCode = Transport::ConnectionLostCode;
        status.closeReason = QStringLiteral("pong timeout");
        QCOMPARE(describeConnection(status), QStringLiteral("closed: connection lost — pong timeout"));
    }

    // Resume against a server that closes the startRequest with a code: the
    // outcome kind it ends in, shown in the banner and the history in the
    // outcome's words.
    void resumeOutcomes_data()
    {
        QTest::addColumn<int>("code");
        QTest::addColumn<QString>("reason");
        QTest::addColumn<int>("kind");
        QTest::addColumn<int>("status");  // -1: none
        QTest::addColumn<QString>("detail");
        const int none = -1;
        QTest::newRow("accepted") << 0 << QString() << int(OutcomeKind::Resumed) << none << QString();
        QTest::newRow("4409") << 4409 << QStringLiteral("not resumable (status: running)")
                              << int(OutcomeKind::NotResumable) << int(RunStatus::Running) << QString();
        QTest::newRow("4409 finished") << 4409 << QStringLiteral("not resumable (status: finished)")
                                       << int(OutcomeKind::NotResumable) << int(RunStatus::Finished) << QString();
        QTest::newRow("4404") << 4404 << QStringLiteral("workflow not found") << int(OutcomeKind::NotFound) << none
                              << QString();
        QTest::newRow("1013") << 1013 << LockHeldReason << int(OutcomeKind::AlreadyRunning) << none << QString();
        QTest::newRow("4400") << 4400 << QStringLiteral("startRequest.goal: wrong type")
                              << int(OutcomeKind::InvalidRequest) << none
                              << QStringLiteral("startRequest.goal: wrong type");
        QTest::newRow("1011") << 1011 << QStringLiteral("lock store unavailable") << int(OutcomeKind::Failed) << none
                              << outcomeFromClose(1011, QStringLiteral("lock store unavailable"), {}).detail;
    }

    void resumeOutcomes()
    {
        QFETCH(int, code);
        QFETCH(QString, reason);
        QFETCH(int, kind);
        QFETCH(int, status);
        QFETCH(QString, detail);
        CloseServer server;
        server.driveCode = quint16(code);
        server.driveReason = reason;
        server.lockHolder = QStringLiteral("replica-x#5");
        WorkflowTab tab(context(server), QStringLiteral("w-1"));
        tab.show();
        QTRY_COMPARE(tab.liveConnection()->status().state, ConnectionState::Connected);
        QTRY_COMPARE(tab.lockTracker()->holder(), QStringLiteral("replica-x#5"));
        tab.findChild<QPushButton *>(QStringLiteral("resumeButton"))->click();
        QTRY_COMPARE(tab.history().size(), 1);
        const WorkflowTab::Record record = tab.history().constFirst();
        QVERIFY(record.action == TabAction::Resume);
        QCOMPARE(record.outcome.kind, OutcomeKind(kind));
        QVERIFY(record.outcome.status == (status < 0 ? std::nullopt : std::optional(RunStatus(status))));
        QCOMPARE(record.outcome.detail, detail);
        QCOMPARE(label(tab, "outcomeLabel"), WorkflowTab::recordText(record));
        QCOMPARE(server.startRequests, 1);
        QCOMPARE(server.lastStart.value(u"goal").toString(), QString());  // resume: empty goal
        QCOMPARE(server.lastStart.value(u"workflowID").toString(), QStringLiteral("w-1"));
        if (code == 1013)
        {
            // The holder comes from the lock panel; not hammered: the lock is
            // re-checked later, and the line says by whom it is held.
            QCOMPARE(record.outcome.holder, QStringLiteral("replica-x#5"));
            QVERIFY2(label(tab, "driveConnectionLabel").contains(holderWording(QStringLiteral("replica-x#5"))),
                     qPrintable(label(tab, "driveConnectionLabel")));
            QCOMPARE(server.startRequests, 1);
        }
    }

    void aRefusedMessageGoesBackToTheComposer()
    {
        CloseServer server;
        server.driveCode = 1013;
        server.driveReason = LockHeldReason;
        WorkflowTab tab(context(server), QStringLiteral("w-1"));
        tab.show();
        auto *composer = tab.findChild<QPlainTextEdit *>(QStringLiteral("composer"));
        composer->setPlainText(QStringLiteral("Now add a test"));
        QTest::keyClick(composer, Qt::Key_Return, Qt::ControlModifier);
        QCOMPARE(composer->toPlainText(), QString());
        QTRY_COMPARE(tab.history().size(), 1);
        QVERIFY(tab.history().constLast().action == TabAction::Send);
        QCOMPARE(tab.history().constLast().outcome.kind, OutcomeKind::AlreadyRunning);
        QCOMPARE(tab.history().constLast().outcome.holder, QString());  // no lockStatus came: holder unknown
        QCOMPARE(server.lastStart.value(u"goal").toString(), QStringLiteral("Now add a test"));
        QCOMPARE(composer->toPlainText(), QStringLiteral("Now add a test"));

        server.driveCode = 0;
        tab.findChild<QPushButton *>(QStringLiteral("sendButton"))->click();
        QTRY_COMPARE(tab.history().size(), 2);
        QVERIFY(tab.history().constLast().action == TabAction::Send);
        QCOMPARE(tab.history().constLast().outcome.kind, OutcomeKind::MessageSent);
        QCOMPARE(composer->toPlainText(), QString());
    }

    void unreachableGatewayIsAFailure()
    {
        TabContext c;
        c.endpoint = *GatewayEndpoint::fromUrl(QStringLiteral("ws://127.0.0.1:1"));
        c.backoff = BackoffOptions{.initial = 5000ms, .jitter = 0.0};
        WorkflowTab tab(c, QStringLiteral("w-1"));
        QTRY_VERIFY2(label(tab, "liveConnectionLabel").startsWith(u"Live: reconnecting in 5 s (attempt 2) — last: "),
                     qPrintable(label(tab, "liveConnectionLabel")));
        tab.resume();
        QTRY_COMPARE(tab.history().size(), 1);
        QCOMPARE(tab.history().constFirst().outcome.kind, OutcomeKind::Failed);
        QVERIFY(!tab.history().constFirst().outcome.detail.isEmpty());
    }
};

QTEST_MAIN(TestCloseCodes)
#include "tst_closecodes.moc"
