#include <QScopeGuard>
#include <QTest>
#include <QTranslator>

#include "outcome.h"
#include "protocol/closecode.h"

using namespace Lockstep;
using namespace Lockstep::Ui;

// Wraps every text of the outcome and close-code contexts in « », so a test
// sees which words went through translation.
class MarkingTranslator final : public QTranslator
{
public:
    QString translate(const char *context, const char *sourceText, const char *, int) const override
    {
        const QByteArrayView name(context);
        if ((name != "Lockstep::Ui::Outcome") && (name != "Lockstep::CloseCode"))
            return {};
        return u'«' + QString::fromUtf8(sourceText) + u'»';
    }

    bool isEmpty() const override
    {
        return false;
    }
};

// The one wording table of Resume/Cancel/Send outcomes (English, the source
// text), that every wording is translatable, and how wire answers map onto
// outcome kinds.
class TestOutcome : public QObject
{
    Q_OBJECT

private slots:
    void wording_data()
    {
        QTest::addColumn<int>("kind");
        QTest::addColumn<int>("status");  // -1: none
        QTest::addColumn<QString>("holder");
        QTest::addColumn<QString>("detail");
        QTest::addColumn<QString>("expected");
        const int none = -1;
        QTest::newRow("resumed") << int(OutcomeKind::Resumed) << none << QString() << QString()
                                 << QStringLiteral("resumed");
        QTest::newRow("message sent") << int(OutcomeKind::MessageSent) << none << QString() << QString()
                                      << QStringLiteral("message sent");
        QTest::newRow("not resumable running") << int(OutcomeKind::NotResumable) << int(RunStatus::Running) << QString()
                                               << QString() << QStringLiteral("not resumable (status: running)");
        QTest::newRow("not resumable stopped") << int(OutcomeKind::NotResumable) << int(RunStatus::Stopped) << QString()
                                               << QString() << QStringLiteral("not resumable (status: stopped)");
        QTest::newRow("not resumable, no status")
            << int(OutcomeKind::NotResumable) << none << QString() << QString() << QStringLiteral("not resumable");
        QTest::newRow("not found") << int(OutcomeKind::NotFound) << none << QString() << QString()
                                   << QStringLiteral("not found");
        QTest::newRow("cancelled") << int(OutcomeKind::Cancelled) << none << QString() << QString()
                                   << QStringLiteral("cancelled");
        QTest::newRow("nothing to cancel") << int(OutcomeKind::NothingToCancel) << int(RunStatus::Finished) << QString()
                                           << QString() << QStringLiteral("nothing to cancel (status: finished)");
        QTest::newRow("already running, holder")
            << int(OutcomeKind::AlreadyRunning) << none << QStringLiteral("replica-a#7") << QString()
            << QStringLiteral("already running (1013) — held by replica replica-a, session 7");
        QTest::newRow("already running, slash holder")
            << int(OutcomeKind::AlreadyRunning) << none << QStringLiteral("r1/s-9") << QString()
            << QStringLiteral("already running (1013) — held by replica r1, session s-9");
        QTest::newRow("already running, odd holder")
            << int(OutcomeKind::AlreadyRunning) << none << QStringLiteral("someone") << QString()
            << QStringLiteral("already running (1013) — held by someone");
        QTest::newRow("already running, unknown") << int(OutcomeKind::AlreadyRunning) << none << QString() << QString()
                                                  << QStringLiteral("already running (1013) — holder unknown");
        QTest::newRow("driving here") << int(OutcomeKind::DrivingHere) << none << QString() << QString()
                                      << QStringLiteral("this tab is driving the run");
        QTest::newRow("invalid request") << int(OutcomeKind::InvalidRequest) << none << QString()
                                         << QStringLiteral("startRequest.workflowID: missing")
                                         << QStringLiteral("invalid request: startRequest.workflowID: missing");
        QTest::newRow("failed") << int(OutcomeKind::Failed) << none << QString() << QStringLiteral("connection refused")
                                << QStringLiteral("failed: connection refused");
    }

    void wording()
    {
        QFETCH(int, kind);
        QFETCH(int, status);
        QFETCH(QString, holder);
        QFETCH(QString, detail);
        QFETCH(QString, expected);
        ActionOutcome outcome;
        outcome.kind = static_cast<OutcomeKind>(kind);
        if (status >= 0)
            outcome.status = static_cast<RunStatus>(status);
        outcome.holder = holder;
        outcome.detail = detail;
        QCOMPARE(outcomeText(outcome), expected);
    }

    // 1013 caused by this tab's own (earlier) session says so.
    void heldByThisTab()
    {
        ActionOutcome outcome{
            .kind = OutcomeKind::AlreadyRunning, .holder = QStringLiteral("embedded#4"), .holderIsThisTab = true};
        QCOMPARE(outcomeText(outcome),
                 QStringLiteral("already running (1013) — held by this tab (replica embedded, session 4)"));
        QCOMPARE(holderWording(QStringLiteral("embedded#4"), true),
                 QStringLiteral("this tab (replica embedded, session 4)"));
        QCOMPARE(holderWording(QStringLiteral("embedded#4")), QStringLiteral("replica embedded, session 4"));
    }

    // Every outcome is worded through the translation (context "Lockstep::Ui::Outcome").
    void everyWordingIsTranslatable()
    {
        MarkingTranslator marking;
        QCoreApplication::installTranslator(&marking);
        const auto removeMarking = qScopeGuard([&marking] { QCoreApplication::removeTranslator(&marking); });

        const QList<ActionOutcome> outcomes{
            {.kind = OutcomeKind::Resumed},
            {.kind = OutcomeKind::MessageSent},
            {.kind = OutcomeKind::NotResumable},
            {.kind = OutcomeKind::NotResumable, .status = RunStatus::Running},
            {.kind = OutcomeKind::NotFound},
            {.kind = OutcomeKind::Cancelled},
            {.kind = OutcomeKind::NothingToCancel, .status = RunStatus::Finished},
            {.kind = OutcomeKind::AlreadyRunning},
            {.kind = OutcomeKind::AlreadyRunning, .holder = QStringLiteral("r1#4"), .holderIsThisTab = true},
            {.kind = OutcomeKind::DrivingHere},
            {.kind = OutcomeKind::InvalidRequest},
            {.kind = OutcomeKind::InvalidRequest, .detail = QStringLiteral("frame: empty")},
            {.kind = OutcomeKind::Failed},
            {.kind = OutcomeKind::Failed, .detail = QStringLiteral("connection refused")},
        };
        for (const ActionOutcome &outcome : outcomes)
        {
            const QString text = outcomeText(outcome);
            QVERIFY2(text.startsWith(u'«') && text.endsWith(u'»'), qPrintable(text));
        }
        QVERIFY(outcomeText(outcomes.at(8)).contains(u"«held by «this tab («replica r1, session 4»)»»"));
        QCOMPARE(holderWording(QStringLiteral("r1#4")), QStringLiteral("«replica r1, session 4»"));
        QVERIFY(holderWording({}, true).startsWith(u'«'));

        // The details the console adds are translated too; what the gateway said is not.
        QVERIFY(outcomeFromClose(1011, QStringLiteral("lock store unavailable"), {}).detail.startsWith(u'«'));
        QVERIFY(outcomeFromCancelReply(401, {}, {}).detail.startsWith(u'«'));
        QVERIFY(outcomeFromCancelReply(0, {}, {}).detail.startsWith(u'«'));
        QVERIFY(outcomeFromCancelReply(503, {}, {}).detail.startsWith(u'«'));
        QVERIFY(outcomeFromCancelReply(200, QJsonObject{{QStringLiteral("outcome"), QStringLiteral("maybe")}}, {})
                    .detail.startsWith(u'«'));
        QCOMPARE(outcomeFromClose(4400, QStringLiteral("frame: empty"), {}).detail, QStringLiteral("frame: empty"));
        QCOMPARE(outcomeFromCancelReply(0, {}, QStringLiteral("Connection refused")).detail,
                 QStringLiteral("Connection refused"));
    }

    void tones()
    {
        QVERIFY(isSuccess(OutcomeKind::Resumed));
        QVERIFY(isSuccess(OutcomeKind::Cancelled));
        QVERIFY(isSuccess(OutcomeKind::MessageSent));
        QVERIFY(!isSuccess(OutcomeKind::AlreadyRunning));
        QVERIFY(!isSuccess(OutcomeKind::NotResumable));
        QVERIFY(!isSuccess(OutcomeKind::NothingToCancel));
        QVERIFY(!isSuccess(OutcomeKind::NotFound));
        QVERIFY(!isSuccess(OutcomeKind::Failed));
    }

    void statusFromReasonReadsTheGatewayReason()
    {
        QVERIFY(statusFromReason(QStringLiteral("not resumable (status: running)")) == RunStatus::Running);
        QVERIFY(statusFromReason(QStringLiteral("not resumable (status: input_required)")) == RunStatus::InputRequired);
        QVERIFY(statusFromReason(QStringLiteral("not resumable (status: STOPPED)")) == RunStatus::Stopped);
        QVERIFY(!statusFromReason(QStringLiteral("not resumable")));
        QVERIFY(!statusFromReason(QStringLiteral("not resumable (status: sleeping)")));
        QVERIFY(!statusFromReason(QString()));
    }

    void fromClose()
    {
        const ActionOutcome notResumable =
            outcomeFromClose(4409, QStringLiteral("not resumable (status: running)"), {});
        QCOMPARE(notResumable.kind, OutcomeKind::NotResumable);
        QVERIFY(notResumable.status == RunStatus::Running);
        QVERIFY(!outcomeFromClose(4409, QStringLiteral("odd"), {}).status);

        QCOMPARE(outcomeFromClose(4404, QStringLiteral("workflow not found"), {}).kind, OutcomeKind::NotFound);

        const ActionOutcome held = outcomeFromClose(1013, LockHeldReason, QStringLiteral("embedded#3"));
        QCOMPARE(held.kind, OutcomeKind::AlreadyRunning);
        QCOMPARE(held.holder, QStringLiteral("embedded#3"));
        QVERIFY(!held.holderIsThisTab);  // the tab knows its own sessions, not outcomeFromClose

        const ActionOutcome invalid = outcomeFromClose(4400, QStringLiteral("startRequest.goal: wrong type"), {});
        QCOMPARE(invalid.kind, OutcomeKind::InvalidRequest);
        QCOMPARE(invalid.detail, QStringLiteral("startRequest.goal: wrong type"));

        // Any other code is a failure whose detail names the code's meaning, the number and the reason.
        const ActionOutcome lockStore = outcomeFromClose(1011, QStringLiteral("lock store unavailable"), {});
        QCOMPARE(lockStore.kind, OutcomeKind::Failed);
        QVERIFY2(lockStore.detail.contains(closeCodeMeaning(1011)) && lockStore.detail.contains(u"(1011)") &&
                     lockStore.detail.endsWith(u"lock store unavailable"),
                 qPrintable(lockStore.detail));
        const ActionOutcome goingAway = outcomeFromClose(1001, {}, {});
        QCOMPARE(goingAway.kind, OutcomeKind::Failed);
        QVERIFY2(goingAway.detail.contains(closeCodeMeaning(1001)) && goingAway.detail.contains(u"(1001)"),
                 qPrintable(goingAway.detail));
        QVERIFY(outcomeFromClose(1013, {}, {}).at.isValid());
    }

    void fromCancelReply()
    {
        const auto cancelled =
            outcomeFromCancelReply(200,
                                   QJsonObject{{QStringLiteral("outcome"), QStringLiteral("cancelled")},
                                               {QStringLiteral("status"), QStringLiteral("stopped")}},
                                   {});
        QCOMPARE(cancelled.kind, OutcomeKind::Cancelled);
        const auto noop = outcomeFromCancelReply(200,
                                                 QJsonObject{{QStringLiteral("outcome"), QStringLiteral("noop")},
                                                             {QStringLiteral("status"), QStringLiteral("finished")}},
                                                 {});
        QCOMPARE(noop.kind, OutcomeKind::NothingToCancel);
        QVERIFY(noop.status == RunStatus::Finished);
        const auto missing =
            outcomeFromCancelReply(404, QJsonObject{{QStringLiteral("outcome"), QStringLiteral("not_found")}}, {});
        QCOMPARE(missing.kind, OutcomeKind::NotFound);
        const auto refused =
            outcomeFromCancelReply(401, QJsonObject{{QStringLiteral("error"), QStringLiteral("unauthorized")}}, {});
        QCOMPARE(refused.kind, OutcomeKind::Failed);
        QVERIFY(refused.detail.contains(u"401"));
        const auto offline = outcomeFromCancelReply(0, {}, QStringLiteral("Connection refused"));
        QCOMPARE(offline.kind, OutcomeKind::Failed);
        QCOMPARE(offline.detail, QStringLiteral("Connection refused"));
        QVERIFY(!outcomeFromCancelReply(0, {}, {}).detail.isEmpty());
        const auto odd =
            outcomeFromCancelReply(200, QJsonObject{{QStringLiteral("outcome"), QStringLiteral("maybe")}}, {});
        QCOMPARE(odd.kind, OutcomeKind::Failed);
        const auto unavailable =
            outcomeFromCancelReply(503,
                                   QJsonObject{{QStringLiteral("error"), QStringLiteral("store_unavailable")},
                                               {QStringLiteral("message"), QStringLiteral("db down")}},
                                   {});
        QCOMPARE(unavailable.kind, OutcomeKind::Failed);
        QVERIFY2(unavailable.detail.contains(u"503") && unavailable.detail.endsWith(u"db down"),
                 qPrintable(unavailable.detail));
    }

    void holderParsing()
    {
        const LockHolder gateway = LockHolder::parse(QStringLiteral("replica-1#42"));
        QCOMPARE(gateway.replica, QStringLiteral("replica-1"));
        QCOMPARE(gateway.session, QStringLiteral("42"));
        const LockHolder hostPid = LockHolder::parse(QStringLiteral("host:123#5"));
        QCOMPARE(hostPid.replica, QStringLiteral("host:123"));
        QCOMPARE(hostPid.session, QStringLiteral("5"));
        QVERIFY(LockHolder::parse(QStringLiteral("  ")).isEmpty());
        QCOMPARE(LockHolder::parse(QStringLiteral("#5")).describe(), QStringLiteral("#5"));
        QCOMPARE(LockHolder::parse(QStringLiteral("r#")).describe(), QStringLiteral("r#"));
    }
};

QTEST_GUILESS_MAIN(TestOutcome)
#include "tst_outcome.moc"
