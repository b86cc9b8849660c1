#pragma once

#include <chrono>
#include <deque>

#include <QAbstractListModel>
#include <QHash>
#include <QList>
#include <QTimer>

#include "protocol/chatlog.h"

namespace Lockstep::Ui
{
    // A workflow's ui_chat_log. Incoming entries are queued and applied in
    // batches (one beginInsertRows per batch) so a fast stream costs one view
    // layout per batch, not one per entry. An entry whose message_id is known
    // replaces the old one in place (a pending tool call that succeeded).
    class ChatLogModel final : public QAbstractListModel
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(ChatLogModel)

    public:
        enum Role
        {
            MessageIdRole = Qt::UserRole + 1,
            TypeRole,      // int(Protocol::MessageType)
            StatusRole,    // int(Protocol::MessageStatus), invalid when absent
            ExpandedRole,  // bool: a tool call shows its arguments and response
            RevisionRole,  // quint32: changes whenever the row's look changes
        };

        static constexpr std::chrono::milliseconds DefaultBatchInterval{25};

        explicit ChatLogModel(QObject *parent = nullptr);

        int rowCount(const QModelIndex &parent = {}) const override;
        QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
        bool setData(const QModelIndex &index, const QVariant &value, int role) override;
        Qt::ItemFlags flags(const QModelIndex &index) const override;

        // Queues entries; they appear at the next batch (within the batch interval).
        void enqueue(const QList<Protocol::ChatLogEntry> &entries);
        void enqueue(QList<Protocol::ChatLogEntry> &&entries);
        void enqueue(Protocol::ChatLogEntry entry);
        // Applies everything queued now.
        void flush();
        void setBatchInterval(std::chrono::milliseconds interval);
        // Entries queued but not shown yet.
        int pendingCount() const;
        void clear();

        const Protocol::ChatLogEntry &entry(int row) const;
        // -1 if unknown (pending entries are not counted).
        int rowOf(const QString &messageId) const;
        bool isExpanded(int row) const;
        void setExpanded(int row, bool expanded);
        void toggleExpanded(int row);
        quint32 revision(int row) const;

        // The latest request entry that no decision answers yet (empty: none).
        QString pendingRequestId() const;
        // The first and the latest message the user wrote (not an approval or rejection).
        QString firstUserMessage() const;
        QString latestUserMessage() const;
        // An entry the gateway wrote for an Approve or Reject ("approval" / "rejection").
        static bool isDecision(const Protocol::ChatLogEntry &entry);

        // The one-line summary a screen reader or a copy gets ("Agent: …").
        static QString summary(const Protocol::ChatLogEntry &entry);
        static QString senderLabel(const Protocol::ChatLogEntry &entry);

    signals:
        // After each applied batch.
        void batchApplied(int inserted, int updated);

    private:
        struct Row
        {
            Protocol::ChatLogEntry entry;
            quint32 revision = 0;
            bool expanded = false;
        };

        void scheduleFlush();

        // A deque: appending never moves the rows already there.
        std::deque<Row> m_rows;
        QHash<QString, int> m_rowById;
        QList<Protocol::ChatLogEntry> m_pending;
        QHash<QString, qsizetype> m_pendingById;
        QTimer m_flushTimer;
    };
}  // namespace Lockstep::Ui
