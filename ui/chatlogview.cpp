#include "chatlogview.h"

#include <algorithm>

#include <QDialog>
#include <QDialogButtonBox>
#include <QHeaderView>
#include <QJsonDocument>
#include <QKeyEvent>
#include <QScrollBar>
#include <QTextBrowser>
#include <QVBoxLayout>

#include "chatlogdelegate.h"
#include "chatlogmodel.h"

namespace Lockstep::Ui
{
    using Protocol::MessageType;

    ChatLogView::ChatLogView(ChatLogModel *model, QWidget *parent)
        : QTreeView(parent)
        , m_model(model)
        , m_delegate(new ChatLogDelegate(model, this))
    {
        setObjectName(QStringLiteral("chatLogView"));
        setAccessibleName(tr("Chat log"));
        setHeaderHidden(true);
        setRootIsDecorated(false);
        setItemsExpandable(false);
        setIndentation(0);
        setUniformRowHeights(false);
        setAllColumnsShowFocus(true);
        setSelectionMode(QAbstractItemView::SingleSelection);
        setEditTriggers(QAbstractItemView::NoEditTriggers);
        // Per-item scrolling keeps the scroll range O(rows on screen); per-pixel
        // scrolling would size every row of the log on each change.
        setVerticalScrollMode(QAbstractItemView::ScrollPerItem);
        setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
        setItemDelegate(m_delegate);
        setModel(model);
        header()->setStretchLastSection(true);

        connect(model, &QAbstractItemModel::rowsAboutToBeInserted, this, [this] { m_follow = atBottom(); });
        connect(model, &QAbstractItemModel::rowsInserted, this, [this] {
            if (m_follow)
                scrollToBottom();
        });
        connect(model, &QAbstractItemModel::modelReset, this, [this] {
            m_delegate->resetCache();
            m_follow = true;
        });
        connect(verticalScrollBar(), &QScrollBar::valueChanged, this, [this] { m_follow = atBottom(); });
        connect(this, &QAbstractItemView::clicked, this, [this](const QModelIndex &index) {
            if (index.isValid() && (m_model->entry(index.row()).messageType == MessageType::Tool))
                m_model->toggleExpanded(index.row());
        });
        connect(this, &QAbstractItemView::doubleClicked, this, [this](const QModelIndex &index) {
            if (index.isValid())
                showDetails(index.row());
        });
    }

    ChatLogModel *ChatLogView::chatModel() const
    {
        return m_model;
    }

    ChatLogDelegate *ChatLogView::chatDelegate() const
    {
        return m_delegate;
    }

    bool ChatLogView::isFollowingTail() const
    {
        return m_follow;
    }

    bool ChatLogView::atBottom() const
    {
        const QScrollBar *bar = verticalScrollBar();
        return bar->value() >= bar->maximum();
    }

    QRect ChatLogView::visualRect(const QModelIndex &index) const
    {
        if (!index.isValid())
            return {};
        // ScrollPerItem: the scroll value is the top row. No row is shorter than
        // one line, so this bounds the rows that can be on screen.
        const int top = verticalScrollBar()->value();
        const int maxVisible = (viewport()->height() / std::max(1, fontMetrics().height())) + 2;
        if ((index.row() < top) || (index.row() > (top + maxVisible)))
            return {};
        return QTreeView::visualRect(index);
    }

    void ChatLogView::resizeEvent(QResizeEvent *event)
    {
        const bool follow = m_follow;
        QTreeView::resizeEvent(event);
        // Row heights depend on the width: let the view ask the delegate again.
        if (viewport()->width() != m_laidOutWidth)
        {
            m_laidOutWidth = viewport()->width();
            scheduleDelayedItemsLayout();
            if (follow)
                scrollToBottom();
        }
    }

    void ChatLogView::changeEvent(QEvent *event)
    {
        QTreeView::changeEvent(event);
        if ((event->type() == QEvent::FontChange) || (event->type() == QEvent::StyleChange))
        {
            m_delegate->resetCache();
            scheduleDelayedItemsLayout();
        }
    }

    void ChatLogView::keyPressEvent(QKeyEvent *event)
    {
        const QModelIndex current = currentIndex();
        if (current.isValid() && (event->modifiers() == Qt::NoModifier))
        {
            if ((event->key() == Qt::Key_Space) && (m_model->entry(current.row()).messageType == MessageType::Tool))
            {
                m_model->toggleExpanded(current.row());
                event->accept();
                return;
            }
            if ((event->key() == Qt::Key_Return) || (event->key() == Qt::Key_Enter))
            {
                showDetails(current.row());
                event->accept();
                return;
            }
        }
        QTreeView::keyPressEvent(event);
    }

    void ChatLogView::showDetails(const int row)
    {
        if ((row < 0) || (row >= m_model->rowCount()))
            return;
        const Protocol::ChatLogEntry &entry = m_model->entry(row);
        QDialog dialog(this);
        dialog.setWindowTitle(tr("%1 — %2").arg(ChatLogModel::senderLabel(entry), entry.timestamp.toLocalTime().toString(Qt::ISODate)));
        auto *layout = new QVBoxLayout(&dialog);
        auto *browser = new QTextBrowser(&dialog);
        browser->setOpenExternalLinks(false);
        QString markdown;
        if (entry.messageType == MessageType::Agent)
            markdown = entry.content;
        else
        {
            const auto fence = [](const QString &text) { return QStringLiteral("\n```\n%1\n```\n").arg(text); };
            markdown = fence(entry.content);
            if (entry.toolInfo)
            {
                markdown += QStringLiteral("\n**%1**\n").arg(tr("Arguments"))
                    + fence(QString::fromUtf8(QJsonDocument(entry.toolInfo->args).toJson(QJsonDocument::Indented)));
                markdown += QStringLiteral("\n**%1**\n").arg(tr("Response"))
                    + fence(entry.toolInfo->toolResponse.value_or(tr("(none)")));
            }
        }
        browser->setMarkdown(markdown);
        layout->addWidget(browser);
        auto *buttons = new QDialogButtonBox(QDialogButtonBox::Close, &dialog);
        connect(buttons, &QDialogButtonBox::rejected, &dialog, &QDialog::reject);
        layout->addWidget(buttons);
        dialog.resize(fontMetrics().averageCharWidth() * 90, fontMetrics().height() * 30);
        dialog.exec();
    }
} // namespace Lockstep::Ui
