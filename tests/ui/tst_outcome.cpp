#include <QTest>

#include "outcome.h"
#include "protocol/closecode.h"

using namespace Lockstep;
using namespace Lockstep::Ui;

// The one wording table of Resume/Cancel/Send outcomes, and how wire answers map onto it.
class TestOutcome : public QObject
{
    Q_OBJECT

private slots:
    void wording_data()
    {
        QTest::addColumn<int>("kind");
        QTest::addColumn<int>("status");   // -1: none
        QTest::addColumn<QString>("holder");
        QTest::addColumn<QString>("detail");
        QTest::addColumn<QString>("expected");
        const int none = -1;
        QTest::newRow("resumed") << int(OutcomeKind::Resumed) << none << QString() << QString() << u"resumed"_qs;
        QTest::newRow("message sent") << int(OutcomeKind::MessageSent) << none << QString() << QString() << u"message sent"_qs;
        QTest::newRow("not resumable running") << int(OutcomeKind::NotResumable) << int(RunStatus::Running) << QString()
                                               << QString() << u"not resumable (status: running)"_qs;
        QTest::newRow("not resumable stopped") << int(OutcomeKind::NotResumable) << int(RunStatus::Stopped) << QString()
                                               << QString() << u"not resumable (status: stopped)"_qs;
        QTest::newRow("not resumable, no status") << int(OutcomeKind::NotResumable) << none << QString() << QString()
                                                  << u"not resumable"_qs;
        QTest::newRow("not found") << int(OutcomeKind::NotFound) << none << QString() << QString() << u"not found"_qs;
        QTest::newRow("cancelled") << int(OutcomeKind::Cancelled) << none << QString() << QString() << u"cancelled"_qs;
        QTest::newRow("nothing to cancel") << int(OutcomeKind::NothingToCancel) << int(RunStatus::Finished) << QString()
                                           << QString() << u"nothing to cancel (status: finished)"_qs;
        QTest::newRow("already running, holder") << int(OutcomeKind::AlreadyRunning) << none << u"replica-a#7"_qs << QString()
                                                 << u"already running (1013) — held by replica replica-a, session 7"_qs;
        QTest::newRow("already running, slash holder") << int(OutcomeKind::AlreadyRunning) << none << u"r1/s-9"_qs << QString()
                                                       << u"already running (1013) — held by replica r1, session s-9"_qs;
        QTest::newRow("already running, odd holder") << int(OutcomeKind::AlreadyRunning) << none << u"someone"_qs << QString()
                                                     << u"already running (1013) — held by someone"_qs;
        QTest::newRow("already running, unknown") << int(OutcomeKind::AlreadyRunning) << none << QString() << QString()
                                                  << u"already running (1013) — holder unknown"_qs;
        QTest::newRow("driving here") << int(OutcomeKind::DrivingHere) << none << QString() << QString()
                                      << u"this tab is driving the run"_qs;
        QTest::newRow("invalid request") << int(OutcomeKind::InvalidRequest) << none << QString()
                                         << u"startRequest.workflowID: missing"_qs
                                         << u"invalid request: startRequest.workflowID: missing"_qs;
        QTest::newRow("failed") << int(OutcomeKind::Failed) << none << QString() << u"connection refused"_qs
                                << u"failed: connection refused"_qs;
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
        ActionOutcome outcome {.kind = OutcomeKind::AlreadyRunning, .holder = u"embedded#4"_qs, .holderIsThisTab = true};
        QCOMPARE(outcomeText(outcome), u"already running (1013) — held by this tab (replica embedded, session 4)"_qs);
        QCOMPARE(holderWording(u"embedded#4"_qs, true), u"this tab (replica embedded, session 4)"_qs);
        QCOMPARE(holderWording(u"embedded#4"_qs), u"replica embedded, session 4"_qs);
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
        QVERIFY(statusFromReason(u"not resumable (status: running)"_qs) == RunStatus::Running);
        QVERIFY(statusFromReason(u"not resumable (status: input_required)"_qs) == RunStatus::InputRequired);
        QVERIFY(statusFromReason(u"not resumable (status: STOPPED)"_qs) == RunStatus::Stopped);
        QVERIFY(!statusFromReason(u"not resumable"_qs));
        QVERIFY(!statusFromReason(u"not resumable (status: sleeping)"_qs));
        QVERIFY(!statusFromReason(QString()));
    }

    void fromClose()
    {
        const ActionOutcome notResumable = outcomeFromClose(4409, u"not resumable (status: running)"_qs, {});
        QCOMPARE(notResumable.kind, OutcomeKind::NotResumable);
        QCOMPARE(outcomeText(notResumable), u"not resumable (status: running)"_qs);

        QCOMPARE(outcomeFromClose(4404, u"workflow not found"_qs, {}).kind, OutcomeKind::NotFound);

        const ActionOutcome held = outcomeFromClose(1013, LockHeldReason, u"embedded#3"_qs);
        QCOMPARE(held.kind, OutcomeKind::AlreadyRunning);
        QCOMPARE(outcomeText(held), u"already running (1013) — held by replica embedded, session 3"_qs);

        const ActionOutcome invalid = outcomeFromClose(4400, u"startRequest.goal: wrong type"_qs, {});
        QCOMPARE(outcomeText(invalid), u"invalid request: startRequest.goal: wrong type"_qs);

        const ActionOutcome lockStore = outcomeFromClose(1011, u"lock store unavailable"_qs, {});
        QCOMPARE(outcomeText(lockStore), u"failed: gateway error (1011): lock store unavailable"_qs);
        QCOMPARE(outcomeText(outcomeFromClose(1001, {}, {})), u"failed: gateway restarting — reconnect (1001)"_qs);
        QVERIFY(outcomeFromClose(1013, {}, {}).at.isValid());
    }

    void fromCancelReply()
    {
        const auto cancelled = outcomeFromCancelReply(200, QJsonObject {{u"outcome"_qs, u"cancelled"_qs}, {u"status"_qs, u"stopped"_qs}}, {});
        QCOMPARE(outcomeText(cancelled), u"cancelled"_qs);
        const auto noop = outcomeFromCancelReply(200, QJsonObject {{u"outcome"_qs, u"noop"_qs}, {u"status"_qs, u"finished"_qs}}, {});
        QCOMPARE(outcomeText(noop), u"nothing to cancel (status: finished)"_qs);
        const auto missing = outcomeFromCancelReply(404, QJsonObject {{u"outcome"_qs, u"not_found"_qs}}, {});
        QCOMPARE(outcomeText(missing), u"not found"_qs);
        const auto refused = outcomeFromCancelReply(401, QJsonObject {{u"error"_qs, u"unauthorized"_qs}}, {});
        QCOMPARE(refused.kind, OutcomeKind::Failed);
        QVERIFY(outcomeText(refused).contains(u"401"));
        const auto offline = outcomeFromCancelReply(0, {}, u"Connection refused"_qs);
        QCOMPARE(outcomeText(offline), u"failed: Connection refused"_qs);
        const auto odd = outcomeFromCancelReply(200, QJsonObject {{u"outcome"_qs, u"maybe"_qs}}, {});
        QCOMPARE(odd.kind, OutcomeKind::Failed);
        const auto unavailable = outcomeFromCancelReply(503, QJsonObject {{u"error"_qs, u"store_unavailable"_qs}, {u"message"_qs, u"db down"_qs}}, {});
        QCOMPARE(outcomeText(unavailable), u"failed: HTTP 503: db down"_qs);
    }

    void holderParsing()
    {
        const LockHolder gateway = LockHolder::parse(u"replica-1#42"_qs);
        QCOMPARE(gateway.replica, u"replica-1"_qs);
        QCOMPARE(gateway.session, u"42"_qs);
        const LockHolder hostPid = LockHolder::parse(u"host:123#5"_qs);
        QCOMPARE(hostPid.replica, u"host:123"_qs);
        QCOMPARE(hostPid.session, u"5"_qs);
        QVERIFY(LockHolder::parse(u"  "_qs).isEmpty());
        QCOMPARE(LockHolder::parse(u"#5"_qs).describe(), u"#5"_qs);
        QCOMPARE(LockHolder::parse(u"r#"_qs).describe(), u"r#"_qs);
    }
};

QTEST_GUILESS_MAIN(TestOutcome)
#include "tst_outcome.moc"
