#pragma once

#include <QChartView>
#include <QDateTime>
#include <QHash>
#include <QList>
#include <QPointer>
#include <QTimer>

#include "locktracker.h"

class QCategoryAxis;
class QDateTimeAxis;
class QGraphicsSimpleTextItem;
class QLineSeries;
class QScatterSeries;

namespace Lockstep::Ui
{
    // A workflow's lock over time, drawn from its LockTracker's timeline():
    // one row per holder with a band for each acquisition (its fence written
    // on it), heartbeat (TTL refresh) ticks, losses, expiries, releases, and a
    // bottom row for 1013 refusals and lock store trouble. The wheel zooms the
    // time axis around the pointer, a drag pans it, a double-click fits it all
    // again; hovering a mark shows the event.
    class LockTimeline final : public QChartView
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(LockTimeline)

    public:
        struct Band
        {
            QString holder;
            qint64 fence = 0;
            QDateTime from;
            QDateTime to;
            bool open = false;     // still held: it grows with the clock
            QString handoverFrom;  // the previous holder when it went straight from one to the other
        };

        explicit LockTimeline(LockTracker *tracker, QWidget *parent = nullptr);
        ~LockTimeline() override;

        // What is drawn now.
        const QList<Band> &bands() const;
        QStringList bandLabels() const;  // "fence 12", one per band
        // Where each band's label is drawn (chart coordinates); null rect when it is hidden.
        QRectF bandLabelRect(qsizetype band) const;
        QStringList rowLabels() const;  // bottom to top: "1013 · store", then the holders
        // The points of one kind of mark; null when there is none of it.
        QScatterSeries *marks(LockTracker::Mark mark) const;
        int handovers() const;
        // The text of the mark at `point` of `series` (what hovering shows); empty if none is there.
        QString toolTipFor(const QScatterSeries *series, const QPointF &point) const;
        // The last tooltip shown by hovering.
        QString toolTipText() const;
        // "14:03:05.123 — lost by replica r1, session 3 (fence 12): its execution was cancelled"
        static QString describe(const LockTracker::TimelineEvent &event, const QString &handoverFrom = {});

        // The time axis shows everything again and follows new events (double-click does it).
        void fitAll();
        // Not zoomed or panned by the user: new events refit the axis.
        bool isFollowing() const;
        QDateTimeAxis *timeAxis() const;

    protected:
        void wheelEvent(QWheelEvent *event) override;
        void mousePressEvent(QMouseEvent *event) override;
        void mouseMoveEvent(QMouseEvent *event) override;
        void mouseReleaseEvent(QMouseEvent *event) override;
        void mouseDoubleClickEvent(QMouseEvent *event) override;
        void resizeEvent(QResizeEvent *event) override;
        void changeEvent(QEvent *event) override;

    private:
        struct MarkSeries
        {
            QScatterSeries *series = nullptr;
            QList<int> events;  // index in m_events of each point
        };

        void rebuild();
        void onEventAdded(const LockTracker::TimelineEvent &event);
        void clearChart();
        void placeLabels();
        void growOpenBand();
        void setRange(qint64 fromMs, qint64 toMs);
        // While following: refits when the events leave the shown range (or fill only half of it).
        void follow();
        // First and last moment drawn; extent() adds the margins the axis shows.
        std::pair<qint64, qint64> span() const;
        std::pair<qint64, qint64> extent() const;

        QPointer<LockTracker> m_tracker;
        QList<LockTracker::TimelineEvent> m_events;
        QList<Band> m_bands;
        QList<QString> m_holders;
        QList<QLineSeries *> m_bandSeries;
        QList<QGraphicsSimpleTextItem *> m_bandText;
        QHash<int, MarkSeries> m_marks;    // by LockTracker::Mark
        QHash<int, QString> m_handoverOf;  // event index of an acquisition → previous holder
        QDateTimeAxis *m_time;
        QCategoryAxis *m_rows;
        QString m_toolTip;
        bool m_following = true;
        bool m_dragging = false;
        QPoint m_dragFrom;
        QTimer m_rebuildSoon;
        QTimer m_placeSoon;
        QTimer m_clock;  // an open band grows while the lock is held
    };
}  // namespace Lockstep::Ui
