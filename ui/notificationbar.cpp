#include "notificationbar.h"

#include <QApplication>
#include <QEvent>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QStyle>
#include <QToolButton>

namespace Lockstep::Ui
{
    NotificationBar::NotificationBar(QWidget *parent)
        : QFrame(parent)
        , m_text(new QLabel(this))
        , m_action(new QPushButton(this))
        , m_close(new QToolButton(this))
    {
        setObjectName(QStringLiteral("notificationBar"));
        setAccessibleName(tr("Notification"));
        setFrameShape(QFrame::StyledPanel);
        setAutoFillBackground(true);
        m_text->setObjectName(QStringLiteral("notificationText"));
        m_text->setAccessibleName(tr("Notification text"));
        m_text->setWordWrap(true);
        m_text->setTextFormat(Qt::PlainText);
        m_text->setTextInteractionFlags(Qt::TextSelectableByMouse | Qt::TextSelectableByKeyboard);
        m_action->setObjectName(QStringLiteral("notificationAction"));
        m_action->setAutoDefault(false);
        m_close->setObjectName(QStringLiteral("notificationClose"));
        m_close->setAccessibleName(tr("Dismiss"));
        m_close->setToolTip(tr("Dismiss"));
        m_close->setIcon(style()->standardIcon(QStyle::SP_TitleBarCloseButton));
        m_close->setAutoRaise(true);
        auto *layout = new QHBoxLayout(this);
        layout->addWidget(m_text, 1);
        layout->addWidget(m_action);
        layout->addWidget(m_close);
        connect(m_close, &QToolButton::clicked, this, &NotificationBar::dismiss);
        connect(m_action, &QPushButton::clicked, this, [this] {
            const std::function<void()> run = m_run;
            dismiss();
            if (run)
                run();
        });
        hide();
    }

    void NotificationBar::showMessage(const QString &text, const Theme::Tone tone, const QString &actionText,
                                      std::function<void()> action)
    {
        m_tone = tone;
        applyTone();
        m_text->setText(text);
        m_run = std::move(action);
        m_action->setText(actionText);
        m_action->setVisible(!actionText.isEmpty());
        show();
    }

    void NotificationBar::applyTone()
    {
        // Setting our own palette sends us a PaletteChange: do not answer it.
        m_applyingTone = true;
        const QPalette base = QApplication::palette(this);
        QPalette palette = this->palette();
        palette.setColor(QPalette::Window, Theme::toneBackground(m_tone, base));
        palette.setColor(QPalette::WindowText, (m_tone == Theme::Tone::Neutral) ? base.color(QPalette::WindowText)
                                                                                : Theme::toneColor(m_tone, base));
        setPalette(palette);
        m_applyingTone = false;
    }

    void NotificationBar::changeEvent(QEvent *event)
    {
        QFrame::changeEvent(event);
        // A theme switch: the wash and the text follow the new palette.
        if ((event->type() == QEvent::PaletteChange) && !m_applyingTone)
            applyTone();
    }

    void NotificationBar::dismiss()
    {
        m_run = nullptr;
        hide();
    }

    QString NotificationBar::text() const
    {
        return isHidden() ? QString() : m_text->text();
    }

    QPushButton *NotificationBar::actionButton() const
    {
        return m_action;
    }
}  // namespace Lockstep::Ui
