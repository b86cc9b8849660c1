#pragma once

#include <QPointer>
#include <QString>
#include <QTreeView>

namespace Lockstep::Ui
{
    class ChatLogDelegate;
    class ChatLogModel;

    // The chat-log list: one column, rows painted by ChatLogDelegate. QTreeView
    // rather than QListView because it computes row heights lazily (only rows
    // on screen), so appending to a 100 000-row log stays cheap. Follows the
    // tail while the user is at the bottom. Space (or a click) folds and
    // unfolds a tool call; Enter shows an entry in full.
    class ChatLogView final : public QTreeView
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(ChatLogView)

    public:
        explicit ChatLogView(ChatLogModel *model, QWidget *parent = nullptr);

        ChatLogModel *chatModel() const;
        ChatLogDelegate *chatDelegate() const;
        // True while new entries scroll into view.
        bool isFollowingTail() const;
        // A dialog with the whole entry (Markdown, arguments, response).
        void showDetails(int row);

        // Per-item scrolling (a log over PixelScrollRowLimit rows): rows outside
        // the viewport get an empty rectangle: QTreeView would otherwise walk
        // every row between the top of the view and the index (a hover or focus
        // far up a 100 000-row log costs a full sizing pass).
        QRect visualRect(const QModelIndex &index) const override;

        // Up to this many rows the log scrolls per pixel (a tall entry reads
        // smoothly, nothing is cut). Above it, QTreeView would size every row
        // at each appended batch, so it scrolls per entry and tall entries
        // are cut (Enter shows them whole).
        static constexpr int PixelScrollRowLimit = 3000;

        // Shows Approve and Reject under the request entry `messageId` (empty:
        // none); `enabled` false greys them with `why` as the tooltip.
        void setAnswerableRequest(const QString &messageId, bool enabled = true, const QString &why = {});
        QString answerableRequest() const;
        // The bar with the two buttons, while shown.
        QWidget *answerBar() const;

    signals:
        void requestAnswered(const QString &requestId, bool approve);

    protected:
        void resizeEvent(QResizeEvent *event) override;
        void keyPressEvent(QKeyEvent *event) override;
        void changeEvent(QEvent *event) override;

    private:
        bool atBottom() const;
        // Per-pixel scrolling while the log is short enough (see PixelScrollRowLimit).
        void chooseScrollMode(int rows);
        void placeAnswerBar();

        ChatLogModel *m_model;
        ChatLogDelegate *m_delegate;
        bool m_follow = true;
        int m_laidOutWidth = -1;
        QString m_answerable;
        QPointer<QWidget> m_answerBar;
        bool m_answerEnabled = true;
        QString m_answerWhy;
    };
}  // namespace Lockstep::Ui
