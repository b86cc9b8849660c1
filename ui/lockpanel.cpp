#include "lockpanel.h"

#include <QEvent>
#include <QFormLayout>
#include <QLabel>
#include <QListWidget>
#include <QLocale>
#include <QVBoxLayout>

#include "locktracker.h"
#include "theme.h"

namespace Lockstep::Ui
{
    namespace
    {
        QLabel *valueLabel(const QString &objectName, const QString &accessibleName, QWidget *parent)
        {
            auto *label = new QLabel(parent);
            label->setObjectName(objectName);
            label->setAccessibleName(accessibleName);
            label->setTextInteractionFlags(Qt::TextSelectableByMouse | Qt::TextSelectableByKeyboard);
            label->setWordWrap(true);
            return label;
        }

        Theme::Tone stateTone(const LockTracker::State state)
        {
            switch (state)
            {
            case LockTracker::State::Free: return Theme::Tone::Good;
            case LockTracker::State::Held: return Theme::Tone::Info;
            case LockTracker::State::Unavailable: return Theme::Tone::Bad;
            case LockTracker::State::Unknown: break;
            }
            return Theme::Tone::Neutral;
        }
    }  // namespace

    LockPanel::LockPanel(LockTracker *tracker, QWidget *parent)
        : QWidget(parent)
        , m_tracker(tracker)
        , m_live(valueLabel(QStringLiteral("lockLiveLabel"), tr("Lock values last known"), this))
        , m_state(valueLabel(QStringLiteral("lockStateLabel"), tr("Lock state"), this))
        , m_fence(valueLabel(QStringLiteral("lockFenceLabel"), tr("Fencing token"), this))
        , m_ttl(valueLabel(QStringLiteral("lockTtlLabel"), tr("TTL left"), this))
        , m_heartbeats(valueLabel(QStringLiteral("lockHeartbeatsLabel"), tr("Heartbeats"), this))
        , m_deadline(valueLabel(QStringLiteral("lockDeadlineLabel"), tr("Deadline left"), this))
        , m_history(new QListWidget(this))
    {
        setObjectName(QStringLiteral("lockPanel"));
        setAccessibleName(tr("Run lock"));
        auto *layout = new QVBoxLayout(this);
        layout->setContentsMargins(0, 0, 0, 0);
        m_live->hide();
        layout->addWidget(m_live);
        auto *form = new QFormLayout;
        form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
        form->addRow(tr("Lock:"), m_state);
        form->addRow(tr("Fencing token:"), m_fence);
        form->addRow(tr("TTL left:"), m_ttl);
        form->addRow(tr("Heartbeats:"), m_heartbeats);
        form->addRow(tr("Deadline left:"), m_deadline);
        layout->addLayout(form);
        auto *historyTitle = new QLabel(tr("Lock &events"), this);
        historyTitle->setBuddy(m_history);
        layout->addWidget(historyTitle);
        m_history->setObjectName(QStringLiteral("lockHistory"));
        m_history->setAccessibleName(tr("Lock events"));
        m_history->setWordWrap(true);
        m_history->setUniformItemSizes(false);
        layout->addWidget(m_history, 1);

        m_tick.setInterval(250);
        connect(&m_tick, &QTimer::timeout, this, &LockPanel::refreshCountdowns);
        connect(tracker, &LockTracker::changed, this, &LockPanel::refresh);
        refresh();
    }

    void LockPanel::setOwnHolders(const QSet<QString> &holders)
    {
        if (holders == m_own)
            return;
        m_own = holders;
        refresh();
    }

    QString LockPanel::stateText() const
    {
        return m_state->text();
    }

    QString LockPanel::ttlText() const
    {
        return m_ttl->text();
    }

    QString LockPanel::deadlineText() const
    {
        return m_deadline->text();
    }

    QString LockPanel::heartbeatsText() const
    {
        return m_heartbeats->text();
    }

    QStringList LockPanel::historyTexts() const
    {
        QStringList texts;
        for (int row = 0; row < m_history->count(); ++row)
            texts.append(m_history->item(row)->text());
        return texts;
    }

    bool LockPanel::isCounting() const
    {
        return m_tick.isActive();
    }

    void LockPanel::changeEvent(QEvent *event)
    {
        QWidget::changeEvent(event);
        if (event->type() == QEvent::PaletteChange)
            refresh();
    }

    void LockPanel::refresh()
    {
        const LockTracker::State state = m_tracker->state();
        const std::optional<QDateTime> lastKnown = m_tracker->lastKnownAt();
        const QLocale locale;
        m_state->setText(m_tracker->stateText(m_own));
        // Not live: the values stay readable but greyed, and say how old they are.
        const bool live = !lastKnown.has_value();
        for (QLabel *label : {m_state, m_fence, m_ttl, m_heartbeats, m_deadline})
            label->setEnabled(live);
        m_live->setVisible(!live);
        if (lastKnown)
            m_live->setText(tr("Not connected to the gateway — last known at %1")
                                .arg(locale.toString(lastKnown->time(), QStringLiteral("HH:mm:ss"))));
        QPalette palette = m_state->palette();
        palette.setColor(QPalette::Active, QPalette::WindowText, Theme::toneColor(stateTone(state), this->palette()));
        palette.setColor(QPalette::Inactive, QPalette::WindowText, Theme::toneColor(stateTone(state), this->palette()));
        m_state->setPalette(palette);
        m_fence->setText((m_tracker->fence() > 0) ? QString::number(m_tracker->fence()) : QStringLiteral("—"));

        m_history->clear();
        for (const LockTracker::Event &event : m_tracker->history())
            m_history->addItem(
                QStringLiteral("%1  %2").arg(locale.toString(event.at.time(), QStringLiteral("HH:mm:ss")), event.text));

        refreshCountdowns();
        if ((state == LockTracker::State::Held) && live)
            m_tick.start();
        else
            m_tick.stop();
    }

    void LockPanel::refreshCountdowns()
    {
        m_ttl->setText(formatDuration(m_tracker->ttlLeftMs()));
        const std::optional<QDateTime> last = m_tracker->lastHeartbeat();
        if (!last)
            m_heartbeats->setText(tr("%1 seen").arg(m_tracker->heartbeats()));
        else if (m_tracker->lastKnownAt() || (m_tracker->state() != LockTracker::State::Held))
            // No "… ago" that nothing refreshes: the panel only ticks while the lock is held and live.
            m_heartbeats->setText(tr("%1 seen, last at %2")
                                      .arg(m_tracker->heartbeats())
                                      .arg(QLocale().toString(last->time(), QStringLiteral("HH:mm:ss"))));
        else
        {
            const qint64 ago = last->msecsTo(QDateTime::currentDateTime());
            m_heartbeats->setText(
                tr("%1 seen, last at %2 (%3 ago)")
                    .arg(m_tracker->heartbeats())
                    .arg(QLocale().toString(last->time(), QStringLiteral("HH:mm:ss")), formatDuration(ago)));
        }
        const std::optional<qint64> deadline = m_tracker->deadlineLeftMs();
        if (deadline)
            m_deadline->setText(
                tr("%1 (of %2)").arg(formatDuration(deadline), formatDuration(m_tracker->workflowDeadline().count())));
        else if (m_tracker->state() == LockTracker::State::Held)
            m_deadline->setText(tr("— (taken before this tab opened; limit %1)")
                                    .arg(formatDuration(m_tracker->workflowDeadline().count())));
        else
            m_deadline->setText(QStringLiteral("—"));
    }
}  // namespace Lockstep::Ui
