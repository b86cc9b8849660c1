#include "chatlogview.h"

#include <algorithm>

#include <QDialog>
#include <QDialogButtonBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QJsonDocument>
#include <QKeyEvent>
#include <QPushButton>
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
        // Per-pixel while the log is short (chooseScrollMode); a wheel notch is
        // three lines, not half a tall entry.
        setVerticalScrollMode(QAbstractItemView::ScrollPerPixel);
        m_delegate->setCutTallRows(false);
        verticalScrollBar()->setSingleStep(fontMetrics().height());
        setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
        setItemDelegate(m_delegate);
        setModel(model);
        header()->setStretchLastSection(true);

        connect(model, &QAbstractItemModel::rowsAboutToBeInserted, this,
                [this](const QModelIndex &, int first, int last) {
                    m_follow = atBottom();
                    // Switch before the rows exist: switching after would size every
                    // new row once in per-pixel mode (Qt lays out before it switches).
                    chooseScrollMode(m_model->rowCount() + (last - first + 1));
                });
        connect(model, &QAbstractItemModel::rowsInserted, this, [this] {
            if (m_follow)
                scrollToBottom();
            // The request may have arrived after the tab asked for its buttons.
            if (!m_answerable.isEmpty() && !m_answerBar)
                placeAnswerBar();
        });
        connect(model, &QAbstractItemModel::modelReset, this, [this] {
            m_delegate->resetCache();
            m_follow = true;
            m_answerBar = nullptr;  // index widgets go with the rows
            chooseScrollMode(m_model->rowCount());
            placeAnswerBar();
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

    void ChatLogView::chooseScrollMode(const int rows)
    {
        const bool perPixel = rows <= PixelScrollRowLimit;
        if (perPixel == (verticalScrollMode() == QAbstractItemView::ScrollPerPixel))
            return;
        // Keep the reader's place across the switch.
        const QModelIndex top = indexAt(QPoint(1, 1));
        setVerticalScrollMode(perPixel ? QAbstractItemView::ScrollPerPixel : QAbstractItemView::ScrollPerItem);
        m_delegate->setCutTallRows(!perPixel);
        if (perPixel)
            verticalScrollBar()->setSingleStep(fontMetrics().height());
        scheduleDelayedItemsLayout();
        if (m_follow)
            scrollToBottom();
        else if (top.isValid())
            scrollTo(top, QAbstractItemView::PositionAtTop);
    }

    void ChatLogView::setAnswerableRequest(const QString &messageId, const bool enabled, const QString &why)
    {
        m_answerEnabled = enabled;
        m_answerWhy = why;
        if (messageId != m_answerable)
        {
            if (m_answerBar)
            {
                const int old = m_model->rowOf(m_answerable);
                if (old >= 0)
                    setIndexWidget(m_model->index(old), nullptr);  // deletes it later
                else
                    m_answerBar->deleteLater();
                m_answerBar = nullptr;
                m_delegate->setAnswerBar({}, 0);
                if (old >= 0)
                    QTreeView::dataChanged(m_model->index(old), m_model->index(old));  // its height shrinks back
            }
            m_answerable = messageId;
            placeAnswerBar();
        }
        if (m_answerBar)
        {
            m_answerBar->setEnabled(enabled);
            m_answerBar->setToolTip(why);
        }
    }

    void ChatLogView::placeAnswerBar()
    {
        const int row = m_answerable.isEmpty() ? -1 : m_model->rowOf(m_answerable);
        if ((row < 0) || m_answerBar)
            return;
        auto *bar = new QWidget(viewport());
        bar->setObjectName(QStringLiteral("requestAnswerBar"));
        bar->setAccessibleName(tr("Answer the request"));
        auto *approve = new QPushButton(tr("&Approve"), bar);
        approve->setObjectName(QStringLiteral("approveButton"));
        approve->setAccessibleName(tr("Approve the request"));
        approve->setToolTip(tr("Approve: the run carries on after this request"));
        auto *reject = new QPushButton(tr("Re&ject"), bar);
        reject->setObjectName(QStringLiteral("rejectButton"));
        reject->setAccessibleName(tr("Reject the request"));
        reject->setToolTip(tr("Reject: the turn ends; send a message to say what to do instead"));
        auto *layout = new QHBoxLayout(bar);
        layout->setContentsMargins(0, 0, 0, 0);
        layout->addWidget(approve);
        layout->addWidget(reject);
        const QString id = m_answerable;
        connect(approve, &QPushButton::clicked, this, [this, id] { emit requestAnswered(id, true); });
        connect(reject, &QPushButton::clicked, this, [this, id] { emit requestAnswered(id, false); });
        bar->setEnabled(m_answerEnabled);
        bar->setToolTip(m_answerWhy);
        m_answerBar = bar;
        m_delegate->setAnswerBar(id, bar->sizeHint().height());
        const QModelIndex index = m_model->index(row);
        setIndexWidget(index, bar);
        QTreeView::dataChanged(index, index);  // the entry grows to hold the bar
        if (m_follow)
            scrollToBottom();
    }

    QString ChatLogView::answerableRequest() const
    {
        return m_answerable;
    }

    QWidget *ChatLogView::answerBar() const
    {
        return m_answerBar;
    }

    QRect ChatLogView::visualRect(const QModelIndex &index) const
    {
        if (!index.isValid())
            return {};
        if (verticalScrollMode() == QAbstractItemView::ScrollPerPixel)
            return QTreeView::visualRect(index);
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
        // The palette colours code blocks: a theme switch re-renders them.
        if ((event->type() == QEvent::FontChange) || (event->type() == QEvent::StyleChange) ||
            (event->type() == QEvent::PaletteChange))
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
        dialog.setWindowTitle(
            tr("%1 — %2").arg(ChatLogModel::senderLabel(entry), entry.timestamp.toLocalTime().toString(Qt::ISODate)));
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
                markdown +=
                    QStringLiteral("\n**%1**\n").arg(tr("Arguments")) +
                    fence(QString::fromUtf8(QJsonDocument(entry.toolInfo->args).toJson(QJsonDocument::Indented)));
                markdown += QStringLiteral("\n**%1**\n").arg(tr("Response")) +
                            fence(entry.toolInfo->toolResponse.value_or(tr("(none)")));
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
}  // namespace Lockstep::Ui
