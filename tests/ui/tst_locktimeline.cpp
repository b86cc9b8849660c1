#include <QDateTimeAxis>
#include <QLineSeries>
#include <QPointer>
#include <QScatterSeries>
#include <QSignalSpy>
#include <QTest>

#include "locktimeline.h"
#include "locktracker.h"

using Lockstep::Protocol::LockState;
using Lockstep::Protocol::LockStatus;
using Lockstep::Ui::LockInfo;
using Lockstep::Ui::LockTimeline;
using Lockstep::Ui::LockTracker;
using Mark = Lockstep::Ui::LockTracker::Mark;

// The lock timeline (Qt Charts) from a LockTracker's structured events:
// bands per acquisition with their fences, marks per kind, handovers, the
// tooltip of a hovered mark, zoom and pan.
class tst_LockTimeline : public QObject
{
    Q_OBJECT

private:
    static constexpr qint64 T0 = 1'732'650'000'000;

    static LockStatus event(LockState state, const QString &holder, qint64 fence, qint64 atOffsetMs)
    {
        return LockStatus{.workflowID = QStringLiteral("w"),
                          .state = state,
                          .holder = holder,
                          .fence = fence,
                          .ttlMs = 3000,
                          .at = T0 + atOffsetMs};
    }

    // r1#1 holds (fence 7) with two heartbeats, a tab is refused with 1013,
    // r1#1 loses the lock, r2#4 takes it over (fence 8) and releases it.
    static void feedHandover(LockTracker &tracker)
    {
        tracker.apply(event(LockState::Acquired, QStringLiteral("r1#1"), 7, 0));
        tracker.apply(event(LockState::Refreshed, QStringLiteral("r1#1"), 7, 1000));
        tracker.noteRefusal(tracker.holder());
        tracker.apply(event(LockState::Refreshed, QStringLiteral("r1#1"), 7, 2000));
        tracker.apply(event(LockState::Lost, QStringLiteral("r1#1"), 7, 2500));
        tracker.apply(event(LockState::Acquired, QStringLiteral("r2#4"), 8, 2600));
        tracker.apply(event(LockState::Refreshed, QStringLiteral("r2#4"), 8, 3600));
        tracker.apply(event(LockState::Released, QStringLiteral("r2#4"), 8, 4200));
    }

    static int points(const LockTimeline &timeline, Mark mark)
    {
        const QScatterSeries *series = timeline.marks(mark);
        return series ? series->count() : 0;
    }

private slots:
    void trackerKeepsStructuredEvents()
    {
        qint64 now = 0;
        LockTracker tracker(nullptr, [&now] { return now; });
        QSignalSpy added(&tracker, &LockTracker::timelineEventAdded);
        feedHandover(tracker);
        // A copy of an event from another session is not a new event.
        tracker.apply(event(LockState::Refreshed, QStringLiteral("r2#4"), 8, 3600));
        QCOMPARE(added.size(), 8);
        const QList<LockTracker::TimelineEvent> &timeline = tracker.timeline();
        QCOMPARE(timeline.size(), 8);
        QCOMPARE(timeline.at(0).mark, Mark::Acquired);
        QCOMPARE(timeline.at(0).holder, QStringLiteral("r1#1"));
        QCOMPARE(timeline.at(0).fence, 7);
        QCOMPARE(timeline.at(0).ttlMs, 3000);
        QCOMPARE(timeline.at(0).at, QDateTime::fromMSecsSinceEpoch(T0));  // the gateway's time
        QCOMPARE(timeline.at(2).mark, Mark::Refused);
        QCOMPARE(timeline.at(2).holder, QStringLiteral("r1#1"));
        QCOMPARE(timeline.at(4).mark, Mark::Lost);
        QCOMPARE(timeline.at(7).mark, Mark::Released);
        QCOMPARE(LockTracker::markWord(Mark::Refused), QStringLiteral("refused"));
        QCOMPARE(LockTracker::markWord(Mark::CheckedHeld), QStringLiteral("checked"));
        // The words of the history stay as they were.
        QVERIFY(tracker.history().constFirst().text.startsWith(u"released by"));

        // Checks and expiry are events too.
        tracker.applySnapshot(LockInfo{.held = true, .holder = QStringLiteral("r3#2"), .fence = 9, .ttlMs = 3000});
        QCOMPARE(tracker.timeline().constLast().mark, Mark::CheckedHeld);
        now += 10000;
        tracker.checkExpiry();
        QCOMPARE(tracker.timeline().constLast().mark, Mark::Expired);
        QCOMPARE(tracker.timeline().constLast().holder, QStringLiteral("r3#2"));
    }

    void timelineIsBounded()
    {
        LockTracker tracker;
        for (int i = 0; i < LockTracker::MaxTimeline + 50; ++i)
            tracker.apply(event(LockState::Refreshed, QStringLiteral("r1#1"), 7, 10 + i));
        QCOMPARE(tracker.timeline().size(), LockTracker::MaxTimeline);
        // The oldest went.
        QCOMPARE(tracker.timeline().constFirst().at, QDateTime::fromMSecsSinceEpoch(T0 + 10 + 50));
    }

    void bandsMarksAndHandover()
    {
        LockTracker tracker;
        LockTimeline timeline(&tracker);
        timeline.resize(900, 300);
        timeline.show();
        QVERIFY(QTest::qWaitForWindowExposed(&timeline));
        feedHandover(tracker);
        QTRY_COMPARE(timeline.bands().size(), 2);

        const QList<LockTimeline::Band> &bands = timeline.bands();
        QCOMPARE(bands.at(0).holder, QStringLiteral("r1#1"));
        QCOMPARE(bands.at(0).fence, 7);
        QCOMPARE(bands.at(0).from, QDateTime::fromMSecsSinceEpoch(T0));
        QCOMPARE(bands.at(0).to, QDateTime::fromMSecsSinceEpoch(T0 + 2500));
        QCOMPARE(bands.at(1).holder, QStringLiteral("r2#4"));
        QCOMPARE(bands.at(1).fence, 8);
        QCOMPARE(bands.at(1).handoverFrom, QStringLiteral("r1#1"));
        QVERIFY(!bands.at(1).open);
        QCOMPARE(timeline.handovers(), 1);
        QCOMPARE(timeline.bandLabels(), (QStringList{QStringLiteral("fence 7"), QStringLiteral("fence 8")}));
        QCOMPARE(timeline.rowLabels(),
                 (QStringList{QStringLiteral("1013 · store"), QStringLiteral("r1#1"), QStringLiteral("r2#4")}));

        // Two band series and one scatter series per kind of mark.
        int lines = 0;
        int scatters = 0;
        for (QAbstractSeries *series : timeline.chart()->series())
        {
            lines += (series->type() == QAbstractSeries::SeriesTypeLine) ? 1 : 0;
            scatters += (series->type() == QAbstractSeries::SeriesTypeScatter) ? 1 : 0;
        }
        QCOMPARE(lines, 2);
        QCOMPARE(scatters, 5);  // acquired, heartbeat, refused, lost, released
        QCOMPARE(points(timeline, Mark::Acquired), 2);
        QCOMPARE(points(timeline, Mark::Refreshed), 3);
        QCOMPARE(points(timeline, Mark::Refused), 1);
        QCOMPARE(points(timeline, Mark::Lost), 1);
        QCOMPARE(points(timeline, Mark::Released), 1);
        QCOMPARE(points(timeline, Mark::Expired), 0);
        // The refusal sits on the bottom row, the loss on its holder's.
        QCOMPARE(timeline.marks(Mark::Refused)->at(0).y(), 0.0);
        QCOMPARE(timeline.marks(Mark::Lost)->at(0).y(), 1.0);
        QVERIFY(timeline.marks(Mark::Refreshed)->at(0).y() > 1.0);  // a tick just above the band
        QVERIFY(timeline.marks(Mark::Refreshed)->at(0).y() < 1.5);

        // Hovering a mark shows its event.
        QScatterSeries *lost = timeline.marks(Mark::Lost);
        emit lost->hovered(lost->at(0), true);
        const QString when = QDateTime::fromMSecsSinceEpoch(T0 + 2500).toString(QStringLiteral("HH:mm:ss.zzz"));
        QCOMPARE(timeline.toolTipText(),
                 QStringLiteral("%1 — lost by replica r1, session 1 (fence 7): its execution was cancelled").arg(when));
        QScatterSeries *acquired = timeline.marks(Mark::Acquired);
        QCOMPARE(timeline.toolTipFor(acquired, acquired->at(1)),
                 QStringLiteral("%1 — acquired by replica r2, session 4 (fence 8, TTL 3 s) — handover from replica r1, "
                                "session 1")
                     .arg(QDateTime::fromMSecsSinceEpoch(T0 + 2600).toString(QStringLiteral("HH:mm:ss.zzz"))));
        QScatterSeries *refused = timeline.marks(Mark::Refused);
        QVERIFY(timeline.toolTipFor(refused, refused->at(0))
                    .endsWith(u"1013 refused: already running, held by replica r1, session 1"));
    }

    void openBandWhileHeld()
    {
        LockTracker tracker;
        LockTimeline timeline(&tracker);
        tracker.apply(event(LockState::Acquired, QStringLiteral("r1#1"), 3, 0));
        QTRY_COMPARE(timeline.bands().size(), 1);
        QVERIFY(timeline.bands().at(0).open);
        QVERIFY(timeline.bands().at(0).to >= QDateTime::fromMSecsSinceEpoch(T0));
        // Heartbeats of the holder add ticks to the same series (no rebuild: a hovered mark stays).
        tracker.apply(event(LockState::Refreshed, QStringLiteral("r1#1"), 3, 100));
        QTRY_VERIFY(timeline.marks(Mark::Refreshed));
        const QPointer<QScatterSeries> ticks = timeline.marks(Mark::Refreshed);
        tracker.apply(event(LockState::Refreshed, QStringLiteral("r1#1"), 3, 200));
        QTest::qWait(20);  // a rebuild, had one been scheduled, would have deleted the series by now
        QVERIFY(ticks);
        QCOMPARE(timeline.marks(Mark::Refreshed), ticks.data());
        QCOMPARE(ticks->count(), 2);
        QVERIFY(timeline.toolTipFor(ticks, ticks->at(1))
                    .endsWith(u"heartbeat: replica r1, session 1 refreshed the TTL (fence 3, TTL 3 s)"));
        tracker.apply(event(LockState::Released, QStringLiteral("r1#1"), 3, 500));
        QTRY_VERIFY(!timeline.bands().at(0).open);
        QCOMPARE(timeline.bands().at(0).to, QDateTime::fromMSecsSinceEpoch(T0 + 500));
    }

    void zoomAndPan()
    {
        LockTracker tracker;
        LockTimeline timeline(&tracker);
        timeline.resize(900, 300);
        timeline.show();
        QVERIFY(QTest::qWaitForWindowExposed(&timeline));
        feedHandover(tracker);
        QTRY_COMPARE(timeline.bands().size(), 2);
        QVERIFY(timeline.isFollowing());
        const auto span = [&timeline] { return timeline.timeAxis()->min().msecsTo(timeline.timeAxis()->max()); };
        const qint64 fitted = span();
        QVERIFY(fitted >= 10000);  // the smallest span shown

        // Wheel up over the middle: a narrower time range, no longer following new events.
        const QPoint middle = timeline.chart()->plotArea().center().toPoint();
        QWheelEvent wheel(middle, timeline.mapToGlobal(middle), QPoint(), QPoint(0, 120), Qt::NoButton, Qt::NoModifier,
                          Qt::NoScrollPhase, false);
        QApplication::sendEvent(timeline.viewport(), &wheel);
        QVERIFY(span() < fitted);
        QCOMPARE(span(), qint64(fitted * 0.8));
        QVERIFY(!timeline.isFollowing());
        // The fence labels follow the zoom: on their band, not where it was before
        // (they are placed on the next turn of the event loop, once the chart has the new range).
        QTest::qWait(20);
        QVERIFY(!timeline.bandLabelRect(0).isNull());
        for (qsizetype i = 0; i < timeline.bands().size(); ++i)
        {
            const QRectF label = timeline.bandLabelRect(i);
            if (label.isNull())
                continue;  // too narrow on screen to hold it
            const LockTimeline::Band &band = timeline.bands().at(i);
            QAbstractSeries *series = timeline.chart()->series().at(i);
            const double y = timeline.chart()->mapToPosition(QPointF(0, 1.0 + static_cast<double>(i)), series).y();
            const double from =
                timeline.chart()
                    ->mapToPosition(QPointF(static_cast<double>(band.from.toMSecsSinceEpoch()), 0), series)
                    .x();
            const double to = timeline.chart()
                                  ->mapToPosition(QPointF(static_cast<double>(band.to.toMSecsSinceEpoch()), 0), series)
                                  .x();
            QVERIFY2(label.left() >= from && label.right() <= to,
                     qPrintable(QStringLiteral("band %1: label %2…%3, band %4…%5")
                                    .arg(i)
                                    .arg(label.left())
                                    .arg(label.right())
                                    .arg(from)
                                    .arg(to)));
            QVERIFY2(std::abs(label.center().y() - y) < 3, qPrintable(QStringLiteral("band %1").arg(i)));
        }

        // Drag right: earlier times come into view, the span stays.
        const QDateTime before = timeline.timeAxis()->min();
        const qint64 zoomed = span();
        QTest::mousePress(timeline.viewport(), Qt::LeftButton, {}, middle);
        QTest::mouseMove(timeline.viewport(), middle + QPoint(120, 0));
        QTest::mouseRelease(timeline.viewport(), Qt::LeftButton, {}, middle + QPoint(120, 0));
        QVERIFY(timeline.timeAxis()->min() < before);
        QVERIFY(std::abs(span() - zoomed) <= 1);

        // Double-click: everything again.
        QTest::mouseDClick(timeline.viewport(), Qt::LeftButton, {}, middle);
        QVERIFY(timeline.isFollowing());
        QCOMPARE(span(), fitted);
    }
};

QTEST_MAIN(tst_LockTimeline)
#include "tst_locktimeline.moc"
