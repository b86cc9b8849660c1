#pragma once

#include <deque>
#include <memory>
#include <optional>

#include <QAbstractTableModel>
#include <QSortFilterProxyModel>
#include <QString>

#include "framesession.h"

// The frame inspector's table: one row per frame a session still keeps, the
// filter by direction, message type and text.
namespace Lockstep::Ui
{
    class FrameTableModel final : public QAbstractTableModel
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(FrameTableModel)

    public:
        enum Column
        {
            SequenceColumn,
            TimeColumn,
            DirectionColumn,
            KindColumn,
            SizeColumn,
            TypeColumn,
            SummaryColumn,
            ColumnCount,
        };

        explicit FrameTableModel(QObject *parent = nullptr);
        ~FrameTableModel() override;

        // Shows `session` and follows its new frames (null: empty).
        void setSession(const std::shared_ptr<FrameSession> &session);
        std::shared_ptr<FrameSession> session() const;
        const Transport::FrameRecord *frameAt(int row) const;
        QString typeAt(int row) const;

        int rowCount(const QModelIndex &parent = {}) const override;
        int columnCount(const QModelIndex &parent = {}) const override;
        QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
        QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

        // One line about a frame: "1013 already running — … · closed by server",
        // "RUNNING · 2 entries · seq 7", "acquired · holder r1/… · fence 3", …
        static QString summary(const Transport::FrameRecord &frame, const QString &type);
        // The detail pane: what the frame is, then its payload as indented JSON
        // (a newCheckpoint's checkpoint string shown parsed), or the decoded close.
        static QString detail(const Transport::FrameRecord &frame);

    private:
        void sync();

        std::shared_ptr<FrameSession> m_session;
        std::deque<QString> m_types;              // per row
        mutable std::deque<QString> m_summaries;  // per row, made when first shown
        qint64 m_firstSequence = 0;               // row 0's frame
    };

    // Direction, message type and a case-insensitive text search over the
    // payload (and the summary of close frames).
    class FrameFilterProxy final : public QSortFilterProxyModel
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(FrameFilterProxy)

    public:
        explicit FrameFilterProxy(QObject *parent = nullptr);
        ~FrameFilterProxy() override;

        void setDirection(std::optional<Transport::FrameDirection> direction);
        void setMessageType(const QString &type);  // empty: any
        void setSearchText(const QString &text);

    protected:
        bool filterAcceptsRow(int sourceRow, const QModelIndex &sourceParent) const override;

    private:
        void refilter();

        std::optional<Transport::FrameDirection> m_direction;
        QString m_type;
        QByteArray m_search;  // UTF-8
    };
}  // namespace Lockstep::Ui
