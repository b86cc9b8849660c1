#include <QAction>
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSet>
#include <QSettings>
#include <QSpinBox>
#include <QTableView>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>
#include <QTreeWidget>

#include "framesession.h"
#include "historystore.h"
#include "lockpanel.h"
#include "locktracker.h"
#include "mainwindow.h"
#include "preferencesdialog.h"
#include "recordingsbrowser.h"
#include "recordingstore.h"
#include "reportschema.h"
#include "sessionrecorder.h"
#include "testgateway.h"
#include "workflowtab.h"

using namespace std::chrono_literals;
using namespace Lockstep;
using namespace Lockstep::Ui;

namespace
{
    QSet<QString> statesOf(const QList<RecordedLockEvent> &events)
    {
        QSet<QString> states;
        for (const RecordedLockEvent &event : events)
            states.insert(event.state);
        return states;
    }

    std::optional<RecordedSession> sessionLabelled(const QList<RecordedSession> &sessions, const QString &label)
    {
        for (const RecordedSession &session : sessions)
        {
            if (session.label == label)
                return session;
        }
        return std::nullopt;
    }
}  // namespace

// The console records what it sees against a real lockstep-gateway: the
// sessions of its tabs (live and driving, opened and closed with their close
// codes), the lock events of the workflows (acquired, released, and the 1013
// refusal), and the races it is given. After the gateway is stopped and the
// console restarted (a new MainWindow on the same data folder), File →
// Recordings… shows them and exports a workflow as the report JSON.
class TestRecordingsGateway : public QObject
{
    Q_OBJECT

private:
    Test::TestGateway m_gateway;
    QTemporaryDir m_dir;

    ConsoleOptions options() const
    {
        ConsoleOptions o =
            m_gateway.consoleOptions(m_dir.filePath(QStringLiteral("console.ini")),
                                     BackoffOptions{.initial = 200ms, .maximum = 2000ms, .lockHeldMinimum = 1000ms});
        o.dataDir = m_dir.filePath(QStringLiteral("console-data"));
        return o;
    }

private slots:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        QVERIFY2(!qEnvironmentVariableIsEmpty("LOCKSTEP_GATEWAY_BIN"), "LOCKSTEP_GATEWAY_BIN");
        QVERIFY2(m_gateway.start(), "the gateway did not start");
    }

    void recordingReopensAfterARestartWithTheGatewayGone()
    {
        QString hello;
        QString raced;
        qint64 liveSession = 0;
        qint64 race = 0;
        {
            MainWindow window(options());
            QVERIFY(Test::showConsole(window));
            QVERIFY(window.recordings()->isPersistent());

            // A `hello` turn: a driving session that closes 1000 at the end of the turn.
            WorkflowTab *tab = Test::newWorkflowTab(
                window, QStringLiteral("Create a file called hello.sh that prints hello"), QStringLiteral("hello"));
            QVERIFY(tab);
            hello = tab->workflowId();
            QTRY_VERIFY_WITH_TIMEOUT(tab->runStatus() == RunStatus::InputRequired, 15000);
            QTRY_COMPARE_WITH_TIMEOUT(tab->lockPanel()->stateText(), QStringLiteral("free"), 5000);

            // The frames of the live session. The transport's frame tap comes
            // with the frame inspector (another branch); until it is connected
            // the test hands the recorder frames as the tap will.
            auto *recorder = tab->liveConnection()->findChild<SessionRecorder *>();
            QVERIFY(recorder);
            QTRY_VERIFY(recorder->currentSession() > 0);  // opened when the live view connected
            liveSession = recorder->currentSession();
            const QDateTime now = QDateTime::currentDateTimeUtc();
            const QByteArray subscribe = ProtocolSocket::subscribeFrame(hello, 0);
            recorder->recordFrame({.sequence = 1,
                                   .at = now,
                                   .direction = Transport::FrameDirection::Out,
                                   .payloadBytes = subscribe.size(),
                                   .payload = subscribe});
            recorder->recordFrame({.sequence = 2,
                                   .at = now.addMSecs(3),
                                   .direction = Transport::FrameDirection::In,
                                   .payloadBytes = 17,
                                   .payload = R"({"runStatus":{}})"});
            recorder->recordFrame({.sequence = 3,
                                   .at = now.addMSecs(4),
                                   .direction = Transport::FrameDirection::In,
                                   .kind = Transport::FrameKind::Ping});

            // The two-tab race on a `long` run: the second tab's message is refused with 1013.
            WorkflowTab *first = Test::newWorkflowTab(window, QStringLiteral("Refactor the parser, step by step"),
                                                      QStringLiteral("long"));
            QVERIFY(first);
            raced = first->workflowId();
            QTRY_VERIFY_WITH_TIMEOUT(first->isDriving(), 10000);
            QVERIFY(window.openWorkflow(raced, true));
            WorkflowTab *second = window.tabs().constLast();
            QTRY_COMPARE_WITH_TIMEOUT(second->liveConnection()->status().state, ConnectionState::Connected, 10000);
            second->sendMessage(QStringLiteral("Also rename the tests"));
            QTRY_VERIFY_WITH_TIMEOUT(!second->history().isEmpty() &&
                                         (second->history().constLast().outcome.kind == OutcomeKind::AlreadyRunning),
                                     10000);
            second->cancelNow();
            QTRY_COMPARE_WITH_TIMEOUT(first->lockTracker()->state(), LockTracker::State::Free, 10000);

            // A race report as the race runner hands it over.
            QFile file(QDir(QString::fromLocal8Bit(qgetenv("LOCKSTEP_SOURCE_DIR")))
                           .filePath(QStringLiteral("tests/ui/data/race-report.json")));
            QVERIFY2(file.open(QIODevice::ReadOnly), qPrintable(file.fileName()));
            race = window.recordings()->recordRace(QJsonDocument::fromJson(file.readAll()).object());
            QVERIFY(race > 0);
            window.close();
        }
        m_gateway.kill();
        QVERIFY(!m_gateway.isRunning());

        // The restart, with no gateway to ask.
        ConsoleOptions o = options();
        o.restoreTabs = false;
        MainWindow again(o);
        again.show();
        QVERIFY(QTest::qWaitForWindowExposed(&again));
        QVERIFY(again.action(QStringLiteral("recordingsAction")));
        again.action(QStringLiteral("recordingsAction"))->trigger();
        RecordingsBrowser *browser = again.findChild<RecordingsBrowser *>();
        QVERIFY(browser);
        QVERIFY(browser->isVisible());
        RecordingStore *store = again.recordings();

        // Sessions: the live view and the driving session, with how they closed.
        const QList<RecordedSession> sessions = store->sessions(hello);
        const std::optional<RecordedSession> drive = sessionLabelled(sessions, QStringLiteral("drive"));
        QVERIFY(drive);
        QCOMPARE(drive->closeCode, std::optional<quint16>(1000));
        QCOMPARE(drive->closeReason, QStringLiteral("input_required"));
        QCOMPARE(drive->closedBy, QStringLiteral("server"));
        QCOMPARE(drive->gateway.value(QStringLiteral("url")).toString(),
                 m_gateway.url() + QStringLiteral("/api/v1/ws"));
        const std::optional<RecordedSession> live = store->session(liveSession);
        QVERIFY(live);
        QCOMPARE(live->label, QStringLiteral("live"));
        QCOMPARE(live->closedBy, QStringLiteral("client"));  // the console closed with the window
        QCOMPARE(live->totals.framesOut, 1);
        QCOMPARE(live->totals.framesIn, 2);
        QCOMPARE(live->totals.pings, 1);

        // Lock events as data: the acquisition with its fence, the release, and the refusal.
        const QList<RecordedLockEvent> helloEvents = store->lockEvents(hello);
        QVERIFY2(statesOf(helloEvents).contains(QStringLiteral("acquired")),
                 qPrintable(QStringList(statesOf(helloEvents).values()).join(u' ')));
        QVERIFY(statesOf(helloEvents).contains(QStringLiteral("released")));
        for (const RecordedLockEvent &event : helloEvents)
        {
            if (event.state == u"acquired")
            {
                QVERIFY(event.holder.startsWith(u"test-replica#"));
                QVERIFY(event.fence > 0);
                QVERIFY(event.ttlMs > 0);
            }
        }
        const QList<RecordedLockEvent> racedEvents = store->lockEvents(raced);
        QVERIFY(statesOf(racedEvents).contains(QStringLiteral("refused")));
        for (const RecordedLockEvent &event : racedEvents)
        {
            if (event.state == u"refused")
            {
                QCOMPARE(event.closeCode, std::optional<quint16>(1013));
                QVERIFY(event.holder.startsWith(u"test-replica#"));
            }
        }

        // The browser: the session's frames, the race's rounds.
        QVERIFY(browser->selectSession(liveSession));
        QCOMPARE(browser->frameView()->model()->rowCount(), 3);
        QVERIFY(browser->selectRace(race));
        QCOMPARE(browser->roundTable()->rowCount(), 2);
        QVERIFY(browser->selectWorkflow(raced));
        QVERIFY(browser->lockEventTable()->rowCount() >= 2);

        // Export the workflow: the contract's fields, the gateway as /healthz described it.
        QVERIFY(browser->selectWorkflow(hello));
        const QString path = m_dir.filePath(QStringLiteral("hello.json"));
        QString error;
        QVERIFY2(browser->exportJson(path, &error), qPrintable(error));
        QFile exported(path);
        QVERIFY(exported.open(QIODevice::ReadOnly));
        const QJsonObject report = QJsonDocument::fromJson(exported.readAll()).object();
        const Test::Validation verdict = Test::validateReport(report);
        QVERIFY2(verdict.exitCode == 0, qPrintable(verdict.output));
        QCOMPARE(report.value(QStringLiteral("kind")).toString(), QStringLiteral("workflow"));
        QCOMPARE(report.value(QStringLiteral("workflowID")).toString(), hello);
        const QJsonObject gateway = report.value(QStringLiteral("gateway")).toObject();
        QCOMPARE(gateway.value(QStringLiteral("version")).toString(), QStringLiteral(LOCKSTEP_VERSION));
        QVERIFY(gateway.value(QStringLiteral("replicas")).toArray().contains(QStringLiteral("test-replica")));
        QCOMPARE(gateway.value(QStringLiteral("lockStore")).toString(), QStringLiteral("memory"));
        QCOMPARE(gateway.value(QStringLiteral("switches")).toObject().value(QStringLiteral("lockEnabled")),
                 QJsonValue(true));
        QVERIFY(report.value(QStringLiteral("sessions")).toArray().size() >= 2);
        QVERIFY(!report.value(QStringLiteral("lockEvents")).toArray().isEmpty());
        QVERIFY(!report.value(QStringLiteral("history")).toArray().isEmpty());
    }

    // File → Preferences… changes the limits the running console prunes with.
    void preferencesApplyToTheRunningConsole()
    {
        ConsoleOptions o = options();
        o.restoreTabs = false;
        MainWindow window(o);
        WorkflowTab *tab = window.openWorkflow(QStringLiteral("prefs-open-tab"));
        QVERIFY(tab);
        QCOMPARE(tab->frameSessions()->frameCapacity(), Transport::FrameLog::DefaultCapacity);
        window.action(QStringLiteral("preferencesAction"))->trigger();
        auto *dialog = window.findChild<PreferencesDialog *>();
        QVERIFY(dialog);
        QTRY_VERIFY(dialog->isVisible());
        dialog->findChild<QSpinBox *>(QStringLiteral("maxSessionsPerWorkflow"))->setValue(1);
        dialog->findChild<QSpinBox *>(QStringLiteral("inspectorMaxFrames"))->setValue(250);
        dialog->accept();
        QCOMPARE(window.history()->limits().maxSessionsPerWorkflow, 1);
        QCOMPARE(tab->frameSessions()->frameCapacity(), 250);  // the open tab follows at once
        for (const RecordedWorkflow &workflow : window.recordings()->workflows())
            QVERIFY(window.recordings()->sessions(workflow.workflowId).size() <= 1);
        // And the next console starts with them.
        MainWindow next(o);
        QCOMPARE(next.history()->limits().maxSessionsPerWorkflow, 1);
    }
};

QTEST_MAIN(TestRecordingsGateway)
#include "tst_recordings_gateway.moc"
