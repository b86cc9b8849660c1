#include "chatlogmodel.h"

namespace Lockstep::Ui
{
    using Protocol::ChatLogEntry;
    using Protocol::MessageType;

    ChatLogModel::ChatLogModel(QObject *parent)
        : QAbstractListModel(parent)
    {
        m_flushTimer.setSingleShot(true);
        m_flushTimer.setInterval(DefaultBatchInterval);
        connect(&m_flushTimer, &QTimer::timeout, this, &ChatLogModel::flush);
    }

    int ChatLogModel::rowCount(const QModelIndex &parent) const
    {
        return parent.isValid() ? 0 : static_cast<int>(m_rows.size());
    }

    QVariant ChatLogModel::data(const QModelIndex &index, const int role) const
    {
        if (!index.isValid() || (index.row() >= rowCount()))
            return {};
        const Row &row = m_rows[static_cast<std::size_t>(index.row())];
        switch (role)
        {
        case Qt::DisplayRole:
        case Qt::AccessibleTextRole: return summary(row.entry);
        case MessageIdRole: return row.entry.messageId;
        case TypeRole: return static_cast<int>(row.entry.messageType);
        case StatusRole: return row.entry.status ? QVariant(static_cast<int>(*row.entry.status)) : QVariant();
        case ExpandedRole: return row.expanded;
        case RevisionRole: return row.revision;
        default: return {};
        }
    }

    bool ChatLogModel::setData(const QModelIndex &index, const QVariant &value, const int role)
    {
        if (!index.isValid() || (role != ExpandedRole))
            return false;
        setExpanded(index.row(), value.toBool());
        return true;
    }

    Qt::ItemFlags ChatLogModel::flags(const QModelIndex &index) const
    {
        return index.isValid() ? (Qt::ItemIsEnabled | Qt::ItemIsSelectable | Qt::ItemNeverHasChildren)
                               : Qt::NoItemFlags;
    }

    void ChatLogModel::enqueue(const QList<ChatLogEntry> &entries)
    {
        for (const ChatLogEntry &entry : entries)
            enqueue(entry);
    }

    void ChatLogModel::enqueue(QList<ChatLogEntry> &&entries)
    {
        for (ChatLogEntry &entry : entries)
            enqueue(std::move(entry));
        entries.clear();
    }

    void ChatLogModel::enqueue(ChatLogEntry entry)
    {
        const auto pendingIt = m_pendingById.constFind(entry.messageId);
        if (pendingIt != m_pendingById.cend())
            m_pending[*pendingIt] = std::move(entry);
        else
        {
            m_pendingById.insert(entry.messageId, m_pending.size());
            m_pending.append(std::move(entry));
        }
        scheduleFlush();
    }

    void ChatLogModel::scheduleFlush()
    {
        // Not restarted by later entries: the first queued entry waits at most one interval.
        if (!m_flushTimer.isActive())
            m_flushTimer.start();
    }

    void ChatLogModel::flush()
    {
        m_flushTimer.stop();
        if (m_pending.isEmpty())
            return;
        QList<ChatLogEntry> pending;
        pending.swap(m_pending);
        m_pendingById.clear();

        QList<ChatLogEntry> fresh;
        fresh.reserve(pending.size());
        int updated = 0;
        for (ChatLogEntry &entry : pending)
        {
            const auto it = m_rowById.constFind(entry.messageId);
            if (it == m_rowById.cend())
            {
                fresh.append(std::move(entry));
                continue;
            }
            Row &row = m_rows[static_cast<std::size_t>(*it)];
            if (row.entry == entry)
                continue;
            row.entry = std::move(entry);
            ++row.revision;
            ++updated;
            const QModelIndex changed = index(*it);
            emit dataChanged(changed, changed);
        }

        if (!fresh.isEmpty())
        {
            const int first = rowCount();
            beginInsertRows({}, first, first + static_cast<int>(fresh.size()) - 1);
            for (ChatLogEntry &entry : fresh)
            {
                m_rowById.insert(entry.messageId, static_cast<int>(m_rows.size()));
                m_rows.push_back(Row{.entry = std::move(entry)});
            }
            endInsertRows();
        }
        emit batchApplied(static_cast<int>(fresh.size()), updated);
    }

    void ChatLogModel::setBatchInterval(const std::chrono::milliseconds interval)
    {
        m_flushTimer.setInterval(interval);
    }

    int ChatLogModel::pendingCount() const
    {
        return static_cast<int>(m_pending.size());
    }

    void ChatLogModel::clear()
    {
        m_flushTimer.stop();
        beginResetModel();
        m_rows.clear();
        m_rowById.clear();
        m_pending.clear();
        m_pendingById.clear();
        endResetModel();
    }

    const ChatLogEntry &ChatLogModel::entry(const int row) const
    {
        return m_rows.at(static_cast<std::size_t>(row)).entry;
    }

    int ChatLogModel::rowOf(const QString &messageId) const
    {
        return m_rowById.value(messageId, -1);
    }

    bool ChatLogModel::isExpanded(const int row) const
    {
        return (row >= 0) && (row < rowCount()) && m_rows[static_cast<std::size_t>(row)].expanded;
    }

    void ChatLogModel::setExpanded(const int row, const bool expanded)
    {
        if ((row < 0) || (row >= rowCount()))
            return;
        Row &r = m_rows[static_cast<std::size_t>(row)];
        if (r.expanded == expanded)
            return;
        r.expanded = expanded;
        ++r.revision;
        const QModelIndex changed = index(row);
        emit dataChanged(changed, changed, {ExpandedRole, RevisionRole});
    }

    void ChatLogModel::toggleExpanded(const int row)
    {
        setExpanded(row, !isExpanded(row));
    }

    quint32 ChatLogModel::revision(const int row) const
    {
        return m_rows.at(static_cast<std::size_t>(row)).revision;
    }

    bool ChatLogModel::isDecision(const ChatLogEntry &entry)
    {
        return (entry.messageType == MessageType::User) &&
               ((entry.messageSubType == u"approval") || (entry.messageSubType == u"rejection"));
    }

    QString ChatLogModel::pendingRequestId() const
    {
        // From the end: a decision or a newer user message means the request was answered.
        for (auto it = m_rows.crbegin(); it != m_rows.crend(); ++it)
        {
            const ChatLogEntry &entry = it->entry;
            if (entry.messageType == MessageType::Request)
                return entry.messageId;
            if (entry.messageType == MessageType::User)
                return {};
        }
        return {};
    }

    QString ChatLogModel::firstUserMessage() const
    {
        for (const Row &row : m_rows)
        {
            if ((row.entry.messageType == MessageType::User) && !isDecision(row.entry))
                return row.entry.content;
        }
        return {};
    }

    QString ChatLogModel::latestUserMessage() const
    {
        for (auto it = m_rows.crbegin(); it != m_rows.crend(); ++it)
        {
            if ((it->entry.messageType == MessageType::User) && !isDecision(it->entry))
                return it->entry.content;
        }
        return {};
    }

    QString ChatLogModel::senderLabel(const ChatLogEntry &entry)
    {
        switch (entry.messageType)
        {
        case MessageType::User:
            if (entry.messageSubType == u"approval")
                return tr("You approved");
            if (entry.messageSubType == u"rejection")
                return tr("You rejected");
            return tr("You");
        case MessageType::Agent: return tr("Agent");
        case MessageType::Tool:
            return (entry.toolInfo && !entry.toolInfo->name.isEmpty()) ? tr("Tool · %1").arg(entry.toolInfo->name)
                                                                       : tr("Tool");
        case MessageType::Request: return tr("Request");
        case MessageType::WorkflowEnd: return tr("End of workflow");
        }
        return {};
    }

    QString ChatLogModel::summary(const ChatLogEntry &entry)
    {
        QString text = senderLabel(entry);
        if (entry.status)
            text += QStringLiteral(" (%1)").arg(Protocol::toWireString(*entry.status));
        text += QStringLiteral(": ") + entry.content.left(500);
        return text;
    }
}  // namespace Lockstep::Ui
