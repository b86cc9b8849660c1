#pragma once

#include <QLabel>
#include <QString>

namespace Lockstep::Ui
{
    // A one-line label that elides its text to its width ("Refactor the pars…")
    // and shows the whole text as its tooltip. Line breaks become spaces.
    class ElidedLabel final : public QLabel
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(ElidedLabel)

    public:
        explicit ElidedLabel(QWidget *parent = nullptr);

        // `prefix` is never elided ("Goal: "); `text` is, and is the tooltip.
        void setFullText(const QString &prefix, const QString &text);
        QString fullText() const;
        QSize minimumSizeHint() const override;

    protected:
        void resizeEvent(QResizeEvent *event) override;

    private:
        void elide();

        QString m_prefix;
        QString m_full;
    };
}  // namespace Lockstep::Ui
