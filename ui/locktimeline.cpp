#include "locktimeline.h"

#include <algorithm>
#include <optional>

#include <QCategoryAxis>
#include <QChart>
#include <QCursor>
#include <QDateTimeAxis>
#include <QEvent>
#include <QGraphicsSimpleTextItem>
#include <QLegend>
#include <QLegendMarker>
#include <QLineSeries>
#include <QMouseEvent>
#include <QScatterSeries>
#include <QToolTip>
#include <QWheelEvent>

#include "outcome.h"
#include "theme.h"

namespace Lockstep::Ui
{
    namespace
    {
        // Margin around the events when the axis fits them, and the smallest span shown.
        constexpr qint64 MinimumSpanMs = 10'000;
        constexpr double BandWidth = 14;
        // The bottom row: what belongs to no holder (refusals, the lock store).
        constexpr int OthersRow = 0;
        constexpr double HeartbeatLift = 0.22;

        QString who(const QString &holder)
        {
            const QString words = holderWording(holder);
            return words.isEmpty() ? QStringLiteral("an unknown holder") : words;
        }

        struct MarkStyle
        {
            QColor colour;
            QScatterSeries::MarkerShape shape = QScatterSeries::MarkerShapeCircle;
            double size = 10;
            QString name;
        };

        MarkStyle styleOf(const LockTracker::Mark mark, const QPalette &palette)
        {
            using Mark = LockTracker::Mark;
            switch (mark)
            {
            case Mark::Acquired:
                return {Theme::toneColor(Theme::Tone::Good, palette), QScatterSeries::MarkerShapeCircle, 10,
                        QStringLiteral("acquired")};
            case Mark::Refreshed:
                return {palette.color(QPalette::WindowText), QScatterSeries::MarkerShapeRectangle, 6,
                        QStringLiteral("heartbeat")};
            case Mark::Lost:
                return {Theme::toneColor(Theme::Tone::Bad, palette), QScatterSeries::MarkerShapeStar, 16,
                        QStringLiteral("lost")};
            case Mark::Released:
                return {Theme::toneColor(Theme::Tone::Good, palette), QScatterSeries::MarkerShapeRectangle, 9,
                        QStringLiteral("released")};
            case Mark::Unavailable:
                return {Theme::toneColor(Theme::Tone::Neutral, palette), QScatterSeries::MarkerShapeTriangle, 11,
                        QStringLiteral("store unavailable")};
            case Mark::Expired:
                return {Theme::toneColor(Theme::Tone::Warning, palette), QScatterSeries::MarkerShapeStar, 14,
                        QStringLiteral("expired")};
            case Mark::CheckedHeld:
                return {Theme::toneColor(Theme::Tone::Info, palette), QScatterSeries::MarkerShapeRotatedRectangle, 9,
                        QStringLiteral("checked held")};
            case Mark::CheckedFree:
                return {Theme::toneColor(Theme::Tone::Info, palette), QScatterSeries::MarkerShapeRotatedRectangle, 9,
                        QStringLiteral("checked free")};
            case Mark::Refused:
                return {Theme::toneColor(Theme::Tone::Warning, palette), QScatterSeries::MarkerShapeTriangle, 13,
                        QStringLiteral("1013 refused")};
            }
            return {};
        }

        // Bands of the holders take turns through a few hues, distinct from the marks' colours.
        QColor bandColour(qsizetype holderIndex)
        {
            static const QList<QColor> hues{QColor(0x4c, 0x8b, 0xf5), QColor(0x8e, 0x6c, 0xd9),
                                            QColor(0x26, 0xa6, 0x9a), QColor(0xd9, 0x8c, 0x3a),
                                            QColor(0x5c, 0x6b, 0xc0)};
            QColor colour = hues.at(holderIndex % hues.size());
            colour.setAlpha(190);
            return colour;
        }

        bool startsBand(LockTracker::Mark mark)
        {
            using Mark = LockTracker::Mark;
            return (mark == Mark::Acquired) || (mark == Mark::Refreshed) || (mark == Mark::CheckedHeld);
        }

        bool endsBand(LockTracker::Mark mark)
        {
            using Mark = LockTracker::Mark;
            return (mark == Mark::Lost) || (mark == Mark::Released) || (mark == Mark::Expired) ||
                   (mark == Mark::CheckedFree);
        }
    }  // namespace

    LockTimeline::LockTimeline(LockTracker *tracker, QWidget *parent)
        : QChartView(new QChart, parent)
        , m_tracker(tracker)
        , m_time(new QDateTimeAxis)
        , m_rows(new QCategoryAxis)
    {
        setObjectName(QStringLiteral("lockTimeline"));
        setAccessibleName(tr("Lock timeline"));
        // Not a tooltip: hovering a mark shows the event there.
        setStatusTip(tr("Lock timeline — wheel: zoom · drag: pan · double-click: show all"));
        setAccessibleDescription(statusTip());
        setRenderHint(QPainter::Antialiasing);
        setMinimumHeight(160);
        chart()->legend()->setAlignment(Qt::AlignBottom);
        chart()->setMargins(QMargins(4, 4, 4, 4));
        chart()->setBackgroundVisible(false);
        m_time->setFormat(QStringLiteral("HH:mm:ss"));
        m_time->setTickCount(5);
        m_rows->setLabelsPosition(QCategoryAxis::AxisLabelsPositionOnValue);
        m_rows->setGridLineVisible(false);
        chart()->addAxis(m_time, Qt::AlignBottom);
        chart()->addAxis(m_rows, Qt::AlignLeft);
        // The chart maps values to pixels with the new range only after rangeChanged: place the labels after it.
        m_placeSoon.setSingleShot(true);
        m_placeSoon.setInterval(0);
        connect(&m_placeSoon, &QTimer::timeout, this, &LockTimeline::placeLabels);
        connect(chart(), &QChart::plotAreaChanged, this, [this] { m_placeSoon.start(); });
        connect(m_time, &QDateTimeAxis::rangeChanged, this, [this] { m_placeSoon.start(); });

        // Several events in one go (a reconnect, a burst of copies) cost one rebuild.
        m_rebuildSoon.setSingleShot(true);
        m_rebuildSoon.setInterval(0);
        connect(&m_rebuildSoon, &QTimer::timeout, this, &LockTimeline::rebuild);
        m_clock.setInterval(1000);
        connect(&m_clock, &QTimer::timeout, this, &LockTimeline::growOpenBand);
        if (m_tracker)
        {
            connect(m_tracker, &LockTracker::timelineEventAdded, this, &LockTimeline::onEventAdded);
            // The open band's holder no longer holds it (an event without a mark of its own): close it.
            connect(m_tracker, &LockTracker::changed, this, [this] {
                const bool open = !m_bands.isEmpty() && m_bands.constLast().open;
                if (open && ((m_tracker->state() != LockTracker::State::Held) ||
                             (m_tracker->holder() != m_bands.constLast().holder)))
                    m_rebuildSoon.start();
            });
        }
        rebuild();
    }

    LockTimeline::~LockTimeline() = default;

    const QList<LockTimeline::Band> &LockTimeline::bands() const
    {
        return m_bands;
    }

    QStringList LockTimeline::bandLabels() const
    {
        QStringList labels;
        for (const QGraphicsSimpleTextItem *item : m_bandText)
            labels.append(item->text());
        return labels;
    }

    QRectF LockTimeline::bandLabelRect(const qsizetype band) const
    {
        const QGraphicsSimpleTextItem *text = m_bandText.value(band);
        if (!text || !text->isVisible())
            return {};
        return text->mapRectToParent(text->boundingRect());
    }

    QStringList LockTimeline::rowLabels() const
    {
        return m_rows->categoriesLabels();
    }

    QScatterSeries *LockTimeline::marks(const LockTracker::Mark mark) const
    {
        return m_marks.value(static_cast<int>(mark)).series;
    }

    int LockTimeline::handovers() const
    {
        return static_cast<int>(m_handoverOf.size());
    }

    QDateTimeAxis *LockTimeline::timeAxis() const
    {
        return m_time;
    }

    bool LockTimeline::isFollowing() const
    {
        return m_following;
    }

    QString LockTimeline::toolTipText() const
    {
        return m_toolTip;
    }

    QString LockTimeline::describe(const LockTracker::TimelineEvent &event, const QString &handoverFrom)
    {
        using Mark = LockTracker::Mark;
        const QString fence = QStringLiteral("fence %1").arg(event.fence);
        const QString ttl = (event.ttlMs > 0) ? QStringLiteral(", TTL %1").arg(formatDuration(event.ttlMs)) : QString();
        QString what;
        switch (event.mark)
        {
        case Mark::Acquired:
            what = QStringLiteral("acquired by %1 (%2%3)").arg(who(event.holder), fence, ttl);
            if (!handoverFrom.isEmpty())
                what += QStringLiteral(" — handover from %1").arg(who(handoverFrom));
            break;
        case Mark::Refreshed:
            what = QStringLiteral("heartbeat: %1 refreshed the TTL (%2%3)").arg(who(event.holder), fence, ttl);
            break;
        case Mark::Lost:
            what = QStringLiteral("lost by %1 (%2): its execution was cancelled").arg(who(event.holder), fence);
            break;
        case Mark::Released: what = QStringLiteral("released by %1 (%2)").arg(who(event.holder), fence); break;
        case Mark::Unavailable: what = QStringLiteral("lock store unavailable: running without the lock"); break;
        case Mark::Expired:
            what = QStringLiteral("expired: no heartbeat from %1 within the TTL (%2)").arg(who(event.holder), fence);
            break;
        case Mark::CheckedHeld:
            what = QStringLiteral("checked: held by %1 (%2%3)").arg(who(event.holder), fence, ttl);
            break;
        case Mark::CheckedFree: what = QStringLiteral("checked: free"); break;
        case Mark::Refused:
            what = event.holder.isEmpty()
                       ? QStringLiteral("1013 refused: already running")
                       : QStringLiteral("1013 refused: already running, held by %1").arg(who(event.holder));
            break;
        }
        return QStringLiteral("%1 — %2").arg(event.at.toString(QStringLiteral("HH:mm:ss.zzz")), what);
    }

    void LockTimeline::clearChart()
    {
        for (QGraphicsSimpleTextItem *item : std::as_const(m_bandText))
            delete item;
        m_bandText.clear();
        chart()->removeAllSeries();  // deletes them
        m_bandSeries.clear();
        m_marks.clear();
        m_handoverOf.clear();
        m_bands.clear();
        m_holders.clear();
    }

    void LockTimeline::rebuild()
    {
        clearChart();
        m_events = m_tracker ? m_tracker->timeline() : QList<LockTracker::TimelineEvent>{};
        const QPalette palette = this->palette();

        // Bands: an acquisition (or a holder first seen by a heartbeat or a check) until it ends.
        std::optional<Band> current;
        QString lastHolder;
        QDateTime lastEnd;
        const auto close = [&](const QDateTime &at) {
            if (!current)
                return;
            current->to = at;
            lastHolder = current->holder;
            lastEnd = at;
            m_bands.append(*current);
            current.reset();
        };
        for (qsizetype i = 0; i < m_events.size(); ++i)
        {
            const LockTracker::TimelineEvent &event = m_events.at(i);
            if (startsBand(event.mark) && !event.holder.isEmpty() && !m_holders.contains(event.holder))
                m_holders.append(event.holder);
            const bool newHolder = !current || (current->holder != event.holder) ||
                                   ((event.mark == LockTracker::Mark::Acquired) && (current->fence != event.fence));
            if (startsBand(event.mark) && !event.holder.isEmpty() && newHolder)
            {
                // Straight from one holder to another: a handover (the previous band ends here if still open).
                const QString previous = current ? current->holder : lastHolder;
                const bool handover = !previous.isEmpty() && (previous != event.holder) &&
                                      (current || (lastEnd.isValid() && (lastEnd.msecsTo(event.at) <= 1000)));
                close(event.at);
                current = Band{.holder = event.holder,
                               .fence = event.fence,
                               .from = event.at,
                               .handoverFrom = handover ? previous : QString()};
                if (handover && (event.mark == LockTracker::Mark::Acquired))
                    m_handoverOf.insert(static_cast<int>(i), previous);
            }
            else if (current && (event.fence > current->fence) && (event.holder == current->holder))
                current->fence = event.fence;
            if (endsBand(event.mark) && current && (event.holder.isEmpty() || (event.holder == current->holder)))
                close(event.at);
        }
        if (current)
        {
            const bool held = m_tracker && (m_tracker->state() == LockTracker::State::Held) &&
                              (m_tracker->holder() == current->holder);
            current->open = held;
            current->to =
                held ? std::max(QDateTime::currentDateTime(), m_events.constLast().at) : m_events.constLast().at;
            m_bands.append(*current);
        }

        // Rows: the others at the bottom, then each holder in order of appearance.
        for (const QString &label : m_rows->categoriesLabels())
            m_rows->remove(label);
        m_rows->append(QStringLiteral("1013 · store"), OthersRow);
        for (qsizetype i = 0; i < m_holders.size(); ++i)
            m_rows->append(m_holders.at(i), static_cast<double>(i + 1));  // labels are unique: the holders are
        m_rows->setRange(-0.6, static_cast<double>(m_holders.size()) + 0.6);
        m_rows->setStartValue(-0.6);

        const auto rowOf = [this](const LockTracker::TimelineEvent &event) {
            if ((event.mark == LockTracker::Mark::Refused) || (event.mark == LockTracker::Mark::Unavailable) ||
                (event.mark == LockTracker::Mark::CheckedFree))
                return static_cast<double>(OthersRow);
            const qsizetype row = m_holders.indexOf(event.holder);
            return (row < 0) ? static_cast<double>(OthersRow) : static_cast<double>(row + 1);
        };

        for (const Band &band : std::as_const(m_bands))
        {
            auto *series = new QLineSeries;
            const qsizetype holderIndex = m_holders.indexOf(band.holder);
            const double y = static_cast<double>(holderIndex + 1);
            series->setName(QStringLiteral("fence %1").arg(band.fence));
            series->append(static_cast<double>(band.from.toMSecsSinceEpoch()), y);
            series->append(static_cast<double>(std::max(band.to, band.from.addMSecs(1)).toMSecsSinceEpoch()), y);
            QPen pen(bandColour(holderIndex));
            pen.setWidthF(BandWidth);
            pen.setCapStyle(Qt::FlatCap);
            series->setPen(pen);
            chart()->addSeries(series);
            series->attachAxis(m_time);
            series->attachAxis(m_rows);
            m_bandSeries.append(series);
            auto *text = new QGraphicsSimpleTextItem(QStringLiteral("fence %1").arg(band.fence), chart());
            text->setBrush(Qt::white);
            text->setZValue(20);
            text->setVisible(false);  // until placeLabels() puts it on its band
            m_bandText.append(text);
        }

        for (qsizetype i = 0; i < m_events.size(); ++i)
        {
            const LockTracker::TimelineEvent &event = m_events.at(i);
            MarkSeries &marks = m_marks[static_cast<int>(event.mark)];
            if (!marks.series)
            {
                const MarkStyle style = styleOf(event.mark, palette);
                marks.series = new QScatterSeries;
                marks.series->setName(style.name);
                marks.series->setMarkerShape(style.shape);
                marks.series->setMarkerSize(style.size);
                marks.series->setColor(style.colour);
                marks.series->setBorderColor(palette.color(QPalette::Base));
                chart()->addSeries(marks.series);
                marks.series->attachAxis(m_time);
                marks.series->attachAxis(m_rows);
                QScatterSeries *series = marks.series;
                connect(series, &QScatterSeries::hovered, this, [this, series](const QPointF &point, bool state) {
                    if (!state)
                    {
                        QToolTip::hideText();
                        return;
                    }
                    m_toolTip = toolTipFor(series, point);
                    QToolTip::showText(QCursor::pos(), m_toolTip, this);
                });
            }
            // Heartbeats tick just above their band: on it they would hide the fence written there.
            const double lift = (event.mark == LockTracker::Mark::Refreshed) ? HeartbeatLift : 0.0;
            marks.series->append(static_cast<double>(event.at.toMSecsSinceEpoch()), rowOf(event) + lift);
            marks.events.append(static_cast<int>(i));
        }
        // Bands have no legend entry of their own: the fence is written on them.
        for (QLineSeries *series : std::as_const(m_bandSeries))
            for (QLegendMarker *marker : chart()->legend()->markers(series))
                marker->setVisible(false);

        chart()->setTitle(m_events.isEmpty() ? tr("No lock events yet") : QString());
        const QColor text = palette.color(QPalette::WindowText);
        chart()->setTitleBrush(text);
        chart()->legend()->setLabelColor(text);
        m_time->setLabelsColor(text);
        m_rows->setLabelsColor(text);
        follow();
        m_placeSoon.start();
        const bool open = !m_bands.isEmpty() && m_bands.constLast().open;
        if (open && !m_clock.isActive())
            m_clock.start();
        else if (!open)
            m_clock.stop();
    }

    std::pair<qint64, qint64> LockTimeline::span() const
    {
        if (m_events.isEmpty())
        {
            const qint64 now = QDateTime::currentMSecsSinceEpoch();
            return {now - MinimumSpanMs, now};
        }
        qint64 to = m_events.constLast().at.toMSecsSinceEpoch();
        for (const Band &band : m_bands)
            to = std::max(to, band.to.toMSecsSinceEpoch());
        return {m_events.constFirst().at.toMSecsSinceEpoch(), to};
    }

    std::pair<qint64, qint64> LockTimeline::extent() const
    {
        const auto [from, to] = span();
        const qint64 length = std::max(MinimumSpanMs, to - from);
        const qint64 pad = length / 20;
        // A band that grows gets room ahead, so the axis moves in steps, not under the pointer every second.
        const bool open = !m_bands.isEmpty() && m_bands.constLast().open;
        return {from - pad, from + length + (open ? (length / 4) : pad)};
    }

    void LockTimeline::follow()
    {
        if (!m_following)
            return;
        const auto [first, last] = span();
        const qint64 shownFrom = m_time->min().toMSecsSinceEpoch();
        const qint64 shownTo = m_time->max().toMSecsSinceEpoch();
        const bool outside = (first < shownFrom) || (last > shownTo);
        const bool tooWide = (shownTo - shownFrom) > (3 * std::max(MinimumSpanMs, last - first));
        if (outside || tooWide)
        {
            const auto [from, to] = extent();
            setRange(from, to);
        }
    }

    void LockTimeline::setRange(const qint64 fromMs, const qint64 toMs)
    {
        m_time->setRange(QDateTime::fromMSecsSinceEpoch(fromMs),
                         QDateTime::fromMSecsSinceEpoch(std::max(toMs, fromMs + 1)));
    }

    void LockTimeline::fitAll()
    {
        m_following = true;
        const auto [from, to] = extent();
        setRange(from, to);
    }

    void LockTimeline::onEventAdded(const LockTracker::TimelineEvent &event)
    {
        // A heartbeat of the open band's holder only adds a tick: no rebuild, so a hovered
        // mark keeps its tooltip while the lock is refreshed every few seconds.
        const MarkSeries ticks = m_marks.value(static_cast<int>(LockTracker::Mark::Refreshed));
        const bool tick = (event.mark == LockTracker::Mark::Refreshed) && !m_rebuildSoon.isActive() && ticks.series &&
                          !m_bands.isEmpty() && m_bands.constLast().open &&
                          (m_bands.constLast().holder == event.holder) &&
                          (m_tracker->timeline().size() == (m_events.size() + 1));
        if (!tick)
        {
            m_rebuildSoon.start();
            return;
        }
        m_events.append(event);
        MarkSeries &refreshed = m_marks[static_cast<int>(LockTracker::Mark::Refreshed)];
        refreshed.series->append(static_cast<double>(event.at.toMSecsSinceEpoch()),
                                 static_cast<double>(m_holders.indexOf(event.holder) + 1) + HeartbeatLift);
        refreshed.events.append(static_cast<int>(m_events.size() - 1));
        growOpenBand();
    }

    void LockTimeline::growOpenBand()
    {
        if (m_bands.isEmpty() || !m_bands.constLast().open || m_bandSeries.isEmpty())
            return;
        if (!m_tracker || (m_tracker->state() != LockTracker::State::Held) ||
            (m_tracker->holder() != m_bands.constLast().holder))
        {
            rebuild();
            return;
        }
        m_bands.last().to = std::max(QDateTime::currentDateTime(), m_events.constLast().at);
        QLineSeries *series = m_bandSeries.constLast();
        series->replace(1, QPointF(static_cast<double>(m_bands.constLast().to.toMSecsSinceEpoch()), series->at(1).y()));
        follow();
    }

    void LockTimeline::placeLabels()
    {
        const QRectF plot = chart()->plotArea();
        for (qsizetype i = 0; (i < m_bandText.size()) && (i < m_bands.size()); ++i)
        {
            const Band &band = m_bands.at(i);
            QGraphicsSimpleTextItem *text = m_bandText.at(i);
            const double y = static_cast<double>(m_holders.indexOf(band.holder) + 1);
            const QPointF from = chart()->mapToPosition(QPointF(static_cast<double>(band.from.toMSecsSinceEpoch()), y),
                                                        m_bandSeries.at(i));
            const QPointF to = chart()->mapToPosition(QPointF(static_cast<double>(band.to.toMSecsSinceEpoch()), y),
                                                      m_bandSeries.at(i));
            const double left = std::max(from.x(), plot.left()) + 8;
            const QRectF box = text->boundingRect();
            // Shown only where the band is on screen and wide enough to hold it.
            const bool fits = (std::min(to.x(), plot.right()) - left) > box.width();
            text->setVisible(fits && plot.contains(QPointF(left, from.y())));
            text->setPos(left, from.y() - (box.height() / 2));
        }
    }

    QString LockTimeline::toolTipFor(const QScatterSeries *series, const QPointF &point) const
    {
        for (auto it = m_marks.cbegin(); it != m_marks.cend(); ++it)
        {
            if (it->series != series)
                continue;
            // The hovered point is one of the series' own: find the nearest in time on its row.
            qsizetype best = -1;
            double distance = 0;
            for (qsizetype i = 0; i < series->count(); ++i)
            {
                const QPointF candidate = series->at(i);
                const double d = std::abs(candidate.x() - point.x()) + (std::abs(candidate.y() - point.y()) * 1e9);
                if ((best < 0) || (d < distance))
                {
                    best = i;
                    distance = d;
                }
            }
            if (best < 0)
                return {};
            const int index = it->events.at(best);
            return describe(m_events.at(index), m_handoverOf.value(index));
        }
        return {};
    }

    void LockTimeline::wheelEvent(QWheelEvent *event)
    {
        const int steps = event->angleDelta().y();
        if (steps == 0)
        {
            event->ignore();
            return;
        }
        // Zoom the time axis around the pointer; the rows stay.
        const double factor = (steps > 0) ? 0.8 : 1.25;
        const qint64 from = m_time->min().toMSecsSinceEpoch();
        const qint64 to = m_time->max().toMSecsSinceEpoch();
        const QRectF plot = chart()->plotArea();
        const double share = std::clamp((event->position().x() - plot.left()) / std::max(1.0, plot.width()), 0.0, 1.0);
        const auto anchor = static_cast<qint64>(static_cast<double>(from) + (share * static_cast<double>(to - from)));
        const auto span = std::max<qint64>(50, static_cast<qint64>(static_cast<double>(to - from) * factor));
        const auto newFrom = static_cast<qint64>(static_cast<double>(anchor) - (share * static_cast<double>(span)));
        m_following = false;
        setRange(newFrom, newFrom + span);
        event->accept();
    }

    void LockTimeline::mousePressEvent(QMouseEvent *event)
    {
        if (event->button() == Qt::LeftButton)
        {
            m_dragging = true;
            m_dragFrom = event->position().toPoint();
            setCursor(Qt::ClosedHandCursor);
            event->accept();
            return;
        }
        QChartView::mousePressEvent(event);
    }

    void LockTimeline::mouseMoveEvent(QMouseEvent *event)
    {
        if (m_dragging)
        {
            const QPoint now = event->position().toPoint();
            const int dx = now.x() - m_dragFrom.x();
            m_dragFrom = now;
            if (dx != 0)
            {
                m_following = false;
                chart()->scroll(-dx, 0);
            }
            event->accept();
            return;
        }
        QChartView::mouseMoveEvent(event);
    }

    void LockTimeline::mouseReleaseEvent(QMouseEvent *event)
    {
        if (m_dragging && (event->button() == Qt::LeftButton))
        {
            m_dragging = false;
            unsetCursor();
            event->accept();
            return;
        }
        QChartView::mouseReleaseEvent(event);
    }

    void LockTimeline::mouseDoubleClickEvent(QMouseEvent *event)
    {
        fitAll();
        event->accept();
    }

    void LockTimeline::resizeEvent(QResizeEvent *event)
    {
        QChartView::resizeEvent(event);
        // Narrow (the side panel at its default width): fewer time labels, no legend, so neither is cut.
        m_time->setTickCount(std::clamp(width() / 120, 2, 8));
        chart()->legend()->setVisible(width() >= 420);
    }

    void LockTimeline::changeEvent(QEvent *event)
    {
        QChartView::changeEvent(event);
        // A theme switch: marks and labels take the new palette's colours.
        if (event->type() == QEvent::PaletteChange)
            m_rebuildSoon.start();
    }
}  // namespace Lockstep::Ui
