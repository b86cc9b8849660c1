#pragma once

#include <QSet>
#include <QTimer>
#include <QWidget>

class QLabel;
class QListWidget;

namespace Lockstep::Ui
{
    class LockTracker;

    // A run's lock at a glance: state and holder, fencing token, TTL left and
    // workflow deadline left (both counting down live), heartbeats seen and
    // when the last one landed, and the recent lock events. Not live (no
    // connection to the gateway): every value greyed, "last known at …", no
    // countdown.
    class LockPanel final : public QWidget
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(LockPanel)

    public:
        explicit LockPanel(LockTracker *tracker, QWidget *parent = nullptr);

        // The viewing tab's own sessions: their holder reads "this tab (…)".
        void setOwnHolders(const QSet<QString> &holders);

        QString stateText() const;
        QString ttlText() const;
        QString deadlineText() const;
        QString heartbeatsText() const;
        QStringList historyTexts() const;
        bool isCounting() const;

    protected:
        void changeEvent(QEvent *event) override;

    private:
        void refresh();
        void refreshCountdowns();

        LockTracker *m_tracker;
        QSet<QString> m_own;
        QLabel *m_live;
        QLabel *m_state;
        QLabel *m_fence;
        QLabel *m_ttl;
        QLabel *m_heartbeats;
        QLabel *m_deadline;
        QListWidget *m_history;
        QTimer m_tick;
    };
}  // namespace Lockstep::Ui
