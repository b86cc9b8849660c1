#pragma once

#include <functional>

#include <QFrame>

#include "theme.h"

class QLabel;
class QPushButton;
class QToolButton;

namespace Lockstep::Ui
{
    // A message above the tabs for a failed action that has no tab to show it
    // in (opening, creating, connecting): stays until dismissed or replaced,
    // optionally with one button that fixes it ("Profiles…").
    class NotificationBar final : public QFrame
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(NotificationBar)

    public:
        explicit NotificationBar(QWidget *parent = nullptr);

        // Replaces any message. With `actionText`, a button runs `action` and dismisses.
        void showMessage(const QString &text, Theme::Tone tone, const QString &actionText = {},
                         std::function<void()> action = {});
        void dismiss();
        QString text() const;
        QPushButton *actionButton() const;

    protected:
        void changeEvent(QEvent *event) override;

    private:
        void applyTone();

        Theme::Tone m_tone = Theme::Tone::Neutral;
        bool m_applyingTone = false;
        QLabel *m_text;
        QPushButton *m_action;
        QToolButton *m_close;
        std::function<void()> m_run;
    };
}  // namespace Lockstep::Ui
