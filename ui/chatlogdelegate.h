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

    // Paints chat-log entries, every text through QTextDocument::setMarkdown
    // (so `code` and fenced blocks render, never raw backticks): user and
    // request text with their line breaks, agent text as Markdown, tool calls
    // folded (name and summary) or unfolded (arguments as indented JSON and
    // the response, in monospace blocks), the end of a workflow; pending, success and failure shown by
    // icon, word and colour. Row heights are cached per (row, width,
    // revision); Markdown documents are cached for the rows on screen.
    class ChatLogDelegate final : public QStyledItemDelegate
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(ChatLogDelegate)

    public:
        // With cutTallRows (a log too long for per-pixel scrolling), tall
        // entries are cut to this many lines; the details dialog shows everything.
        static constexpr int MaxBlockLines = 40;
        // Entries are rendered up to this many characters (a 100 KB entry whole).
        static constexpr qsizetype MaxRenderedChars = 1024 * 1024;

        // `view` supplies the width (QTreeView does not pass it to sizeHint).
        ChatLogDelegate(const ChatLogModel *model, QAbstractItemView *view);
        ~ChatLogDelegate() override;

        void paint(QPainter *painter, const QStyleOptionViewItem &option, const QModelIndex &index) const override;
        QSize sizeHint(const QStyleOptionViewItem &option, const QModelIndex &index) const override;

        // Forget every cached size and document (model reset, font or palette change).
        void resetCache();
        // Per-item scrolling cannot show a row taller than the view: cut them.
        void setCutTallRows(bool cut);
        bool cutsTallRows() const;
        // The request entry that shows the Approve / Reject bar (an index
        // widget of the view), and the bar's height; empty: none.
        void setAnswerBar(const QString &messageId, int height);
        void updateEditorGeometry(QWidget *editor, const QStyleOptionViewItem &option,
                                  const QModelIndex &index) const override;
        // The width rows are laid out for.
        int layoutWidth() const;

        // The entry as rendered, in plain text (what the reader sees, without
        // Markdown marks); for tests.
        QString renderedText(const QStyleOptionViewItem &option, int row) const;

        // How many sizes were computed (not served from the cache); for tests and the benchmark.
        qint64 computedSizes() const;

    private:
        struct CachedSize
        {
            int width = -1;
            quint32 revision = 0;
            int height = 0;
            bool withBar = false;
        };
        struct MarkdownDoc
        {
            QTextDocument document;
            quint32 revision = 0;
        };

        int computeHeight(const QStyleOptionViewItem &option, int row) const;
        // Lays out (and paints, if `painter`) the entry's body; returns its height.
        int body(QPainter *painter, const QStyleOptionViewItem &option, int row, const QRect &rect) const;
        // The entry's body as a rich text document (Markdown: inline and fenced
        // code rendered, tool arguments and output in monospace blocks).
        QTextDocument *document(const QStyleOptionViewItem &option, int row, int width) const;
        int barHeight(int row) const;

        const ChatLogModel *m_model;
        QAbstractItemView *m_view;
        mutable std::vector<CachedSize> m_sizes;
        mutable QCache<QString, MarkdownDoc> m_documents;
        mutable qint64 m_computedSizes = 0;
        bool m_cutTallRows = true;
        QString m_answerBarId;
        int m_answerBarHeight = 0;
    };
}  // namespace Lockstep::Ui
