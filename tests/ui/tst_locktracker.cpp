#include <QLabel>
#include <QSignalSpy>
#include <QTest>

#include "lockpanel.h"
#include "locktracker.h"
#include "outcome.h"

using namespace std::chrono_literals;
using Lockstep::Protocol::LockState;
using Lockstep::Protocol::LockStatus;
using Lockstep::Ui::LockInfo;
using Lockstep::Ui::LockPanel;
using Lockstep::Ui::LockTracker;

// The lock panel's model: events and snapshots, TTL and deadline countdowns on
// an injected clock, heartbeats, history.
class TestLockTracker : public QObject
{
    Q_OBJECT

private:
    // Each event at its own gateway time, as the gateway sends them.
    static LockStatus event(LockState state, const QString &holder = QStringLiteral("replica-1#3"), qint64 fence = 12,
                            qint64 ttl = 30000)
    {
        static qint64 at = 1000;
        return LockStatus{.workflowID = QStringLiteral("w"),
                          .state = state,
                          .holder = holder,
                          .fence = fence,
                          .ttlMs = ttl,
                          .at = ++at};
    }

private slots:
    void acquiredThenCountdown()
    {
        qint64 now = 1000;
        LockTracker tracker(nullptr, [&now] { return now; });
        tracker.setWorkflowDeadline(300s);
        QCOMPARE(tracker.state(), LockTracker::State::Unknown);
        QSignalSpy changed(&tracker, &LockTracker::changed);
        tracker.apply(event(LockState::Acquired));
        QCOMPARE(changed.size(), 1);
        QCOMPARE(tracker.state(), LockTracker::State::Held);
        QCOMPARE(tracker.stateText(), QStringLiteral("held by replica replica-1, session 3"));
        QCOMPARE(tracker.fence(), 12);
        QCOMPARE(tracker.ttlLeftMs(), 30000);
        QCOMPARE(tracker.deadlineLeftMs(), 300000);
        now += 4500;
        QCOMPARE(tracker.ttlLeftMs(), 25500);
        QCOMPARE(tracker.deadlineLeftMs(), 295500);
        now += 60000;
        QCOMPARE(tracker.ttlLeftMs(), 0);  // never below zero
    }

    void heartbeatsRefreshTheTtl()
    {
        qint64 now = 0;
        LockTracker tracker(nullptr, [&now] { return now; });
        tracker.apply(event(LockState::Acquired));
        now = 10000;
        tracker.apply(event(LockState::Refreshed, QStringLiteral("replica-1#3"), 12, 30000));
        now = 11000;
        QCOMPARE(tracker.heartbeats(), 1);
        QVERIFY(tracker.lastHeartbeat().has_value());
        QCOMPARE(tracker.ttlLeftMs(), 29000);
        QCOMPARE(tracker.deadlineLeftMs(), (5 * 60 * 1000) - 11000);  // the deadline is not refreshed
        tracker.apply(event(LockState::Refreshed));
        QCOMPARE(tracker.heartbeats(), 2);
    }

    void joiningMidRunAdoptsTheHolder()
    {
        LockTracker tracker(nullptr, [] { return qint64(0); });
        tracker.apply(event(LockState::Refreshed, QStringLiteral("other#9"), 40, 20000));
        QCOMPARE(tracker.state(), LockTracker::State::Held);
        QCOMPARE(tracker.holder(), QStringLiteral("other#9"));
        QCOMPARE(tracker.fence(), 40);
        QVERIFY(!tracker.deadlineLeftMs());  // the start was not seen
    }

    void releasedLostUnavailable()
    {
        LockTracker tracker(nullptr, [] { return qint64(0); });
        tracker.apply(event(LockState::Acquired));
        tracker.apply(event(LockState::Released, QStringLiteral("replica-1#3"), 12, 0));
        QCOMPARE(tracker.state(), LockTracker::State::Free);
        QCOMPARE(tracker.stateText(), QStringLiteral("free"));
        QVERIFY(!tracker.ttlLeftMs());
        tracker.apply(event(LockState::Acquired, QStringLiteral("replica-1#4"), 13));
        tracker.apply(event(LockState::Lost, QStringLiteral("replica-1#4"), 13, 0));
        QCOMPARE(tracker.state(), LockTracker::State::Free);  // lost is not held
        QCOMPARE(tracker.stateText(), QStringLiteral("free"));
        QVERIFY(!tracker.ttlLeftMs());
        tracker.apply(event(LockState::Unavailable, {}, 0, 0));
        QCOMPARE(tracker.state(), LockTracker::State::Unavailable);
        QCOMPARE(tracker.stateText(), QStringLiteral("unavailable (lock store unreachable)"));
        QCOMPARE(tracker.history().size(), 5);
        QVERIFY(tracker.history().constFirst().text.contains(u"unavailable"));  // newest first
        QVERIFY(tracker.history().constLast().text.startsWith(u"acquired by replica replica-1, session 3"));
        QVERIFY(tracker.history().at(1).text.startsWith(u"lost by replica replica-1, session 4"));
    }

    void snapshots()
    {
        qint64 now = 0;
        LockTracker tracker(nullptr, [&now] { return now; });
        tracker.applySnapshot(LockInfo{
            .held = true, .holder = QStringLiteral("r#2"), .replica = QStringLiteral("r"), .fence = 5, .ttlMs = 12000});
        QCOMPARE(tracker.state(), LockTracker::State::Held);
        now = 2000;
        QCOMPARE(tracker.ttlLeftMs(), 10000);
        QVERIFY(tracker.history().constFirst().text.startsWith(u"checked: held by replica r, session 2"));
        // The same answer again is no news.
        const qsizetype events = tracker.history().size();
        tracker.applySnapshot(LockInfo{
            .held = true, .holder = QStringLiteral("r#2"), .replica = QStringLiteral("r"), .fence = 5, .ttlMs = 11000});
        QCOMPARE(tracker.history().size(), events);
        QCOMPARE(tracker.ttlLeftMs(), 11000);  // but the TTL is refreshed
        tracker.applySnapshot(LockInfo{});
        QCOMPARE(tracker.state(), LockTracker::State::Free);
        QCOMPARE(tracker.history().size(), events + 1);
        tracker.applySnapshotError(QStringLiteral("HTTP 503: lock store unavailable"));
        QCOMPARE(tracker.state(), LockTracker::State::Unavailable);
    }

    void historyIsBounded()
    {
        LockTracker tracker(nullptr, [] { return qint64(0); });
        tracker.apply(event(LockState::Acquired));
        for (int i = 0; i < 100; ++i)
            tracker.apply(event(LockState::Refreshed));
        QCOMPARE(tracker.history().size(), LockTracker::MaxHistory);
        QCOMPARE(tracker.heartbeats(), 100);
    }

    // Every tab's live and driving sessions deliver the same events: each is counted and listed once.
    void duplicateDeliveryIsCountedOnce()
    {
        LockTracker tracker(nullptr, [] { return qint64(0); });
        const LockStatus acquired = event(LockState::Acquired);
        const LockStatus beat1 = event(LockState::Refreshed);
        const LockStatus beat2 = event(LockState::Refreshed);
        for (const LockStatus &status : {acquired, acquired, beat1, beat1, beat2, beat2, beat2})
            tracker.apply(status);
        QCOMPARE(tracker.heartbeats(), 2);
        QCOMPARE(tracker.history().size(), 3);
        const LockStatus released = event(LockState::Released, QStringLiteral("replica-1#3"), 12, 0);
        tracker.apply(released);
        tracker.apply(released);
        QCOMPARE(tracker.history().size(), 4);
        QCOMPARE(tracker.state(), LockTracker::State::Free);
    }

    // acquired -> released -> acquired (same fence): the late copy of the old
    // acquisition (the other session's socket lagging) does not bring it back.
    void lateCopyAfterReleaseStaysFree()
    {
        qint64 now = 0;
        LockTracker tracker(nullptr, [&now] { return now; });
        const LockStatus acquired = event(LockState::Acquired, QStringLiteral("embedded#4"), 7);
        const LockStatus beat = event(LockState::Refreshed, QStringLiteral("embedded#4"), 7);
        tracker.apply(acquired);
        tracker.apply(event(LockState::Released, QStringLiteral("embedded#4"), 7, 0));
        LockStatus lateCopy = acquired;
        lateCopy.at += 1;  // even when the gateway's clock says otherwise, the fence decides
        tracker.apply(lateCopy);
        tracker.apply(beat);
        QCOMPARE(tracker.state(), LockTracker::State::Free);
        QCOMPARE(tracker.stateText(), QStringLiteral("free"));
        QVERIFY(!tracker.ttlLeftMs());
        QVERIFY(!tracker.deadlineLeftMs());
        // A GET answered before the release and read after it is stale too.
        tracker.applySnapshot(
            LockInfo{.held = true, .holder = QStringLiteral("embedded#4"), .fence = 7, .ttlMs = 30000});
        QCOMPARE(tracker.state(), LockTracker::State::Free);
        // The next turn is a new acquisition (new session, higher fence).
        tracker.apply(event(LockState::Acquired, QStringLiteral("embedded#6"), 8));
        QCOMPARE(tracker.state(), LockTracker::State::Held);
        QCOMPARE(tracker.holder(), QStringLiteral("embedded#6"));
        QCOMPARE(tracker.history().size(), 3);  // acquired, released, acquired
    }

    // Without fencing (fence 0) the gateway's time tells a late copy apart.
    void lateCopyWithoutFencing()
    {
        LockTracker tracker(nullptr, [] { return qint64(0); });
        const LockStatus acquired = event(LockState::Acquired, QStringLiteral("r#2"), 0);
        tracker.apply(acquired);
        tracker.apply(event(LockState::Released, QStringLiteral("r#2"), 0, 0));
        LockStatus lateBeat = acquired;
        lateBeat.state = LockState::Refreshed;
        tracker.apply(lateBeat);
        QCOMPARE(tracker.state(), LockTracker::State::Free);
    }

    // The end of an older acquisition arriving late does not free the newer holder.
    void olderEndDoesNotFreeNewerHolder()
    {
        LockTracker tracker(nullptr, [] { return qint64(0); });
        tracker.apply(event(LockState::Acquired, QStringLiteral("r#2"), 5));
        tracker.apply(event(LockState::Acquired, QStringLiteral("r#3"), 6));
        tracker.apply(event(LockState::Released, QStringLiteral("r#2"), 5, 0));
        QCOMPARE(tracker.state(), LockTracker::State::Held);
        QCOMPARE(tracker.holder(), QStringLiteral("r#3"));
    }

    // A missed `released`: the GET on reconnect / after a close says free.
    void missedReleaseReconciledBySnapshot()
    {
        LockTracker tracker(nullptr, [] { return qint64(0); });
        tracker.apply(event(LockState::Acquired));
        tracker.apply(event(LockState::Refreshed));
        tracker.applySnapshot(LockInfo{}, tracker.generation());
        QCOMPARE(tracker.state(), LockTracker::State::Free);
        QVERIFY(!tracker.ttlLeftMs());
        QCOMPARE(tracker.history().constFirst().text, QStringLiteral("checked: free"));
    }

    // An answer asked before an event and read after it is older than the event.
    void snapshotOvertakenByAnEventIsDropped()
    {
        LockTracker tracker(nullptr, [] { return qint64(0); });
        const quint64 askedAt = tracker.generation();
        tracker.apply(event(LockState::Acquired));
        tracker.applySnapshot(LockInfo{}, askedAt);
        QCOMPARE(tracker.state(), LockTracker::State::Held);
    }

    // No heartbeat within the TTL: expired at zero, and the gateway is asked.
    void expiryAtCountdownZero()
    {
        qint64 now = 0;
        LockTracker tracker(nullptr, [&now] { return now; });
        tracker.apply(event(LockState::Acquired, QStringLiteral("replica-1#3"), 12, 3000));
        const int checks = tracker.checksRequested();
        now = 2000;
        tracker.checkExpiry();
        QCOMPARE(tracker.state(), LockTracker::State::Held);
        now = 3000;
        tracker.checkExpiry();
        QCOMPARE(tracker.state(), LockTracker::State::Free);
        QVERIFY(!tracker.ttlLeftMs());
        QVERIFY(!tracker.deadlineLeftMs());
        QVERIFY(
            tracker.history().constFirst().text.startsWith(u"expired: no heartbeat from replica replica-1, session 3"));
        QCOMPARE(tracker.checksRequested(), checks + 1);
        // With the real clock the tracker's own timer does it.
        LockTracker live;
        live.apply(event(LockState::Acquired, QStringLiteral("replica-1#3"), 12, 200));
        QTRY_COMPARE_WITH_TIMEOUT(live.state(), LockTracker::State::Free, 5000);
    }

    // Disconnected: values frozen as "last known", no countdown, no expiry; back: time moves and it asks.
    void disconnectFreezesLastKnown()
    {
        qint64 now = 0;
        LockTracker tracker(nullptr, [&now] { return now; });
        LockPanel panel(&tracker);
        QObject feed;
        tracker.setFeedConnected(&feed, true);
        tracker.apply(event(LockState::Acquired));
        QVERIFY(tracker.isLive());
        QVERIFY(panel.isCounting());
        now = 5000;
        tracker.setFeedConnected(&feed, false);
        QVERIFY(!tracker.isLive());
        QVERIFY(tracker.lastKnownAt().has_value());
        QCOMPARE(tracker.ttlLeftMs(), 25000);
        now = 60000;
        QCOMPARE(tracker.ttlLeftMs(), 25000);  // frozen
        tracker.checkExpiry();
        QCOMPARE(tracker.state(), LockTracker::State::Held);  // not "expired" while blind
        QVERIFY(!panel.isCounting());
        auto *live = panel.findChild<QLabel *>(QStringLiteral("lockLiveLabel"));
        QVERIFY(live && !live->isHidden());
        QVERIFY2(live->text().contains(u"last known at "), qPrintable(live->text()));
        auto *state = panel.findChild<QLabel *>(QStringLiteral("lockStateLabel"));
        QVERIFY(!state->isEnabled());  // greyed
        QCOMPARE(panel.ttlText(), QStringLiteral("25 s"));

        const int checks = tracker.checksRequested();
        tracker.setFeedConnected(&feed, true);
        QCOMPARE(tracker.checksRequested(), checks + 1);  // reconciles at once
        QVERIFY(!tracker.lastKnownAt());
        QCOMPARE(tracker.ttlLeftMs(), 25000);
        now = 61000;
        QCOMPARE(tracker.ttlLeftMs(), 24000);
        QVERIFY(state->isEnabled());
        QVERIFY(live->isHidden());
    }

    // The one holder wording, with "this tab" for the viewing tab's own session.
    void oneHolderWording()
    {
        LockTracker tracker(nullptr, [] { return qint64(0); });
        LockPanel panel(&tracker);
        tracker.apply(event(LockState::Acquired, QStringLiteral("embedded#4")));
        QCOMPARE(tracker.stateText(), QStringLiteral("held by replica embedded, session 4"));
        QCOMPARE(tracker.stateText({QStringLiteral("embedded#4")}),
                 QStringLiteral("held by this tab (replica embedded, session 4)"));
        panel.setOwnHolders({QStringLiteral("embedded#4")});
        QCOMPARE(panel.stateText(), QStringLiteral("held by this tab (replica embedded, session 4)"));
        QCOMPARE(Lockstep::Ui::holderWording(QStringLiteral("embedded#4")),
                 QStringLiteral("replica embedded, session 4"));
    }

    void panelWidgetsHaveAccessibleNames()
    {
        LockTracker tracker;
        LockPanel panel(&tracker);
        for (const QString &name :
             {QStringLiteral("Lock state"), QStringLiteral("Fencing token"), QStringLiteral("TTL left"),
              QStringLiteral("Heartbeats"), QStringLiteral("Deadline left"), QStringLiteral("Lock events"),
              QStringLiteral("Lock values last known")})
        {
            bool found = false;
            for (const QWidget *widget : panel.findChildren<QWidget *>())
                found |= (widget->accessibleName() == name);
            QVERIFY2(found, qPrintable(name));
        }
    }

    void formatting()
    {
        QCOMPARE(Lockstep::Ui::formatDuration(std::nullopt), QStringLiteral("—"));
        QCOMPARE(Lockstep::Ui::formatDuration(0), QStringLiteral("0 s"));
        QCOMPARE(Lockstep::Ui::formatDuration(1), QStringLiteral("1 s"));
        QCOMPARE(Lockstep::Ui::formatDuration(29001), QStringLiteral("30 s"));
        QCOMPARE(Lockstep::Ui::formatDuration(65000), QStringLiteral("1 min 05 s"));
    }

    void panelShowsTheTracker()
    {
        qint64 now = 0;
        LockTracker tracker(nullptr, [&now] { return now; });
        LockPanel panel(&tracker);
        tracker.apply(event(LockState::Acquired));
        QCOMPARE(panel.stateText(), QStringLiteral("held by replica replica-1, session 3"));
        QCOMPARE(panel.ttlText(), QStringLiteral("30 s"));
        now = 7000;
        QTRY_COMPARE(panel.ttlText(), QStringLiteral("23 s"));  // the panel's own timer counts down
        tracker.apply(event(LockState::Released));
        QCOMPARE(panel.stateText(), QStringLiteral("free"));
        QCOMPARE(panel.ttlText(), QStringLiteral("—"));
    }
};

QTEST_MAIN(TestLockTracker)
#include "tst_locktracker.moc"
