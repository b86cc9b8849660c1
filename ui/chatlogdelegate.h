#pragma once

#include <vector>

#include <QCache>
#include <QStyledItemDelegate>
#include <QTextDocument>

class QAbstractItemView;
class QTextLayout;

namespace Lockstep::Ui
{
    class ChatLogModel;

    // Paints chat-log entries: user and request text, agent text as Markdown,
    // tool calls folded (name and summary) or unfolded (arguments and
    // response), the end of a workflow; pending, success and failure shown by
    // icon, word and colour. Row heights are cached per (row, width,
    // revision); Markdown documents are cached for the rows on screen.
    class ChatLogDelegate final : public QStyledItemDelegate
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(ChatLogDelegate)

    public:
        // Tall entries are cut to this many lines per block; the details
        // dialog shows everything.
        static constexpr int MaxBlockLines = 40;

        // `view` supplies the width (QTreeView does not pass it to sizeHint).
        ChatLogDelegate(const ChatLogModel *model, QAbstractItemView *view);
        ~ChatLogDelegate() override;

        void paint(QPainter *painter, const QStyleOptionViewItem &option, const QModelIndex &index) const override;
        QSize sizeHint(const QStyleOptionViewItem &option, const QModelIndex &index) const override;

        // Forget every cached size and document (model reset, font change).
        void resetCache();
        // The width rows are laid out for.
        int layoutWidth() const;

        // How many sizes were computed (not served from the cache); for tests and the benchmark.
        qint64 computedSizes() const;

    private:
        struct CachedSize
        {
            int width = -1;
            quint32 revision = 0;
            int height = 0;
        };
        struct MarkdownDoc
        {
            QTextDocument document;
            quint32 revision = 0;
        };

        int computeHeight(const QStyleOptionViewItem &option, int row) const;
        // Lays out (and paints, if `painter`) the entry's body; returns its height.
        int body(QPainter *painter, const QStyleOptionViewItem &option, int row, const QRect &rect) const;
        QTextDocument *markdown(const QStyleOptionViewItem &option, int row, int width) const;

        const ChatLogModel *m_model;
        QAbstractItemView *m_view;
        mutable std::vector<CachedSize> m_sizes;
        mutable QCache<QString, MarkdownDoc> m_documents;
        mutable qint64 m_computedSizes = 0;
    };
} // namespace Lockstep::Ui
