#include "elidedlabel.h"

#include <QResizeEvent>

namespace Lockstep::Ui
{
    ElidedLabel::ElidedLabel(QWidget *parent)
        : QLabel(parent)
    {
        setWordWrap(false);
        setTextFormat(Qt::PlainText);
        setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
    }

    void ElidedLabel::setFullText(const QString &prefix, const QString &text)
    {
        m_prefix = prefix;
        m_full = text;
        setToolTip(text);
        setAccessibleDescription(text);
        elide();
    }

    QString ElidedLabel::fullText() const
    {
        return m_full;
    }

    QSize ElidedLabel::minimumSizeHint() const
    {
        // Any width will do: the text elides, it never pushes the layout wider.
        return {0, QLabel::minimumSizeHint().height()};
    }

    void ElidedLabel::resizeEvent(QResizeEvent *event)
    {
        QLabel::resizeEvent(event);
        elide();
    }

    void ElidedLabel::elide()
    {
        if (m_full.isEmpty() && m_prefix.isEmpty())
        {
            setText({});
            return;
        }
        QString flat = m_full.simplified();
        const int room = std::max(0, contentsRect().width() - fontMetrics().horizontalAdvance(m_prefix));
        setText(m_prefix + fontMetrics().elidedText(flat, Qt::ElideRight, room));
    }
}  // namespace Lockstep::Ui
