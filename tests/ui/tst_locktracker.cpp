#include <QSignalSpy>
#include <QTest>

#include "locktracker.h"
#include "lockpanel.h"

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
    static LockStatus event(LockState state, const QString &holder = u"replica-1#3"_qs, qint64 fence = 12, qint64 ttl = 30000)
    {
        return LockStatus {.workflowID = u"w"_qs, .state = state, .holder = holder, .fence = fence, .ttlMs = ttl, .at = 1};
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
        QCOMPARE(tracker.stateText(), u"held by replica replica-1, session 3"_qs);
        QCOMPARE(tracker.fence(), 12);
        QCOMPARE(tracker.ttlLeftMs(), 30000);
        QCOMPARE(tracker.deadlineLeftMs(), 300000);
        now += 4500;
        QCOMPARE(tracker.ttlLeftMs(), 25500);
        QCOMPARE(tracker.deadlineLeftMs(), 295500);
        now += 60000;
        QCOMPARE(tracker.ttlLeftMs(), 0);   // never below zero
    }

    void heartbeatsRefreshTheTtl()
    {
        qint64 now = 0;
        LockTracker tracker(nullptr, [&now] { return now; });
        tracker.apply(event(LockState::Acquired));
        now = 10000;
        tracker.apply(event(LockState::Refreshed, u"replica-1#3"_qs, 12, 30000));
        now = 11000;
        QCOMPARE(tracker.heartbeats(), 1);
        QVERIFY(tracker.lastHeartbeat().has_value());
        QCOMPARE(tracker.ttlLeftMs(), 29000);
        QCOMPARE(tracker.deadlineLeftMs(), (5 * 60 * 1000) - 11000);   // the deadline is not refreshed
        tracker.apply(event(LockState::Refreshed));
        QCOMPARE(tracker.heartbeats(), 2);
    }

    void joiningMidRunAdoptsTheHolder()
    {
        LockTracker tracker(nullptr, [] { return qint64(0); });
        tracker.apply(event(LockState::Refreshed, u"other#9"_qs, 40, 20000));
        QCOMPARE(tracker.state(), LockTracker::State::Held);
        QCOMPARE(tracker.holder(), u"other#9"_qs);
        QCOMPARE(tracker.fence(), 40);
        QVERIFY(!tracker.deadlineLeftMs());   // the start was not seen
    }

    void releasedLostUnavailable()
    {
        LockTracker tracker(nullptr, [] { return qint64(0); });
        tracker.apply(event(LockState::Acquired));
        tracker.apply(event(LockState::Released, u"replica-1#3"_qs, 12, 0));
        QCOMPARE(tracker.state(), LockTracker::State::Free);
        QCOMPARE(tracker.stateText(), u"free"_qs);
        QVERIFY(!tracker.ttlLeftMs());
        tracker.apply(event(LockState::Acquired));
        tracker.apply(event(LockState::Lost, u"replica-1#3"_qs, 12, 0));
        QCOMPARE(tracker.state(), LockTracker::State::Lost);
        QCOMPARE(tracker.stateText(), u"lost"_qs);
        tracker.apply(event(LockState::Unavailable, {}, 0, 0));
        QCOMPARE(tracker.state(), LockTracker::State::Unavailable);
        QCOMPARE(tracker.stateText(), u"unavailable (lock store unreachable)"_qs);
        QCOMPARE(tracker.history().size(), 5);
        QVERIFY(tracker.history().constFirst().text.contains(u"unavailable"));   // newest first
        QVERIFY(tracker.history().constLast().text.startsWith(u"acquired by replica replica-1, session 3"));
    }

    void snapshots()
    {
        qint64 now = 0;
        LockTracker tracker(nullptr, [&now] { return now; });
        tracker.applySnapshot(LockInfo {.held = true, .holder = u"r#2"_qs, .replica = u"r"_qs, .fence = 5, .ttlMs = 12000});
        QCOMPARE(tracker.state(), LockTracker::State::Held);
        now = 2000;
        QCOMPARE(tracker.ttlLeftMs(), 10000);
        QVERIFY(tracker.history().constFirst().text.startsWith(u"checked: held by replica r, session 2"));
        // The same answer again is no news.
        const qsizetype events = tracker.history().size();
        tracker.applySnapshot(LockInfo {.held = true, .holder = u"r#2"_qs, .replica = u"r"_qs, .fence = 5, .ttlMs = 11000});
        QCOMPARE(tracker.history().size(), events);
        QCOMPARE(tracker.ttlLeftMs(), 11000);   // but the TTL is refreshed
        tracker.applySnapshot(LockInfo {});
        QCOMPARE(tracker.state(), LockTracker::State::Free);
        QCOMPARE(tracker.history().size(), events + 1);
        tracker.applySnapshotError(u"HTTP 503: lock store unavailable"_qs);
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

    void formatting()
    {
        QCOMPARE(Lockstep::Ui::formatDuration(std::nullopt), u"—"_qs);
        QCOMPARE(Lockstep::Ui::formatDuration(0), u"0 s"_qs);
        QCOMPARE(Lockstep::Ui::formatDuration(1), u"1 s"_qs);
        QCOMPARE(Lockstep::Ui::formatDuration(29001), u"30 s"_qs);
        QCOMPARE(Lockstep::Ui::formatDuration(65000), u"1 min 05 s"_qs);
    }

    void panelShowsTheTracker()
    {
        qint64 now = 0;
        LockTracker tracker(nullptr, [&now] { return now; });
        LockPanel panel(&tracker);
        tracker.apply(event(LockState::Acquired));
        QCOMPARE(panel.stateText(), u"held by replica replica-1, session 3"_qs);
        QCOMPARE(panel.ttlText(), u"30 s"_qs);
        now = 7000;
        QTRY_COMPARE(panel.ttlText(), u"23 s"_qs);   // the panel's own timer counts down
        tracker.apply(event(LockState::Released));
        QCOMPARE(panel.stateText(), u"free"_qs);
        QCOMPARE(panel.ttlText(), u"—"_qs);
    }
};

QTEST_MAIN(TestLockTracker)
#include "tst_locktracker.moc"
