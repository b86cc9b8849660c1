#pragma once

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

        // Rows outside the viewport get an empty rectangle: QTreeView would
        // otherwise walk every row between the top of the view and the index
        // (a hover or focus far up a 100 000-row log costs a full sizing pass).
        QRect visualRect(const QModelIndex &index) const override;

    protected:
        void resizeEvent(QResizeEvent *event) override;
        void keyPressEvent(QKeyEvent *event) override;
        void changeEvent(QEvent *event) override;

    private:
        bool atBottom() const;

        ChatLogModel *m_model;
        ChatLogDelegate *m_delegate;
        bool m_follow = true;
        int m_laidOutWidth = -1;
    };
} // namespace Lockstep::Ui
