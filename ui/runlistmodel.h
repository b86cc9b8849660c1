#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <vector>

#include <QAbstractTableModel>
#include <QHash>
#include <QSortFilterProxyModel>

#include "gatewayapi.h"

namespace Lockstep::Ui
{
    // The gateway's runs: ID, goal, status (icon and word, "stale" for a
    // running run without recent activity), last activity, lock holder.
    // setRuns() diffs by workflow ID so selections and sort survive a poll.
    class RunListModel final : public QAbstractTableModel
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(RunListModel)

    public:
        enum Column
        {
            IdColumn,
            GoalColumn,
            StatusColumn,
            ActivityColumn,
            HolderColumn,
            ColumnCount,
        };

        enum Role
        {
            WorkflowIdRole = Qt::UserRole + 1,
            StatusRole,     // int(RunStatus), invalid when unknown
            StaleRole,      // bool
            SortRole,
        };

        explicit RunListModel(QObject *parent = nullptr);

        int rowCount(const QModelIndex &parent = {}) const override;
        int columnCount(const QModelIndex &parent = {}) const override;
        QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
        QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

        // Replaces the list: changed rows update in place, new ones are
        // appended, missing ones removed.
        void setRuns(const QList<RunInfo> &runs);
        // "" when free.
        void setLockHolder(const QString &workflowId, const QString &holder);
        void setStaleAfter(std::chrono::milliseconds staleAfter);
        // For tests: the wall clock.
        void setClock(std::function<QDateTime()> now);

        int rowOf(const QString &workflowId) const;
        const RunInfo *run(int row) const;
        const RunInfo *run(const QString &workflowId) const;
        bool isStale(const RunInfo &run) const;
        QString holderOf(const QString &workflowId) const;
        // "running", "running (stale)", "input required", ...
        QString statusText(const RunInfo &run) const;

    private:
        struct Row
        {
            RunInfo run;
            bool stale = false;
        };

        std::vector<Row> m_rows;
        QHash<QString, int> m_rowById;
        QHash<QString, QString> m_holders;
        std::chrono::milliseconds m_staleAfter {90000};
        std::function<QDateTime()> m_now;
    };

    // Status filter and search (ID or goal, case-insensitive) over RunListModel.
    class RunFilterProxy final : public QSortFilterProxyModel
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(RunFilterProxy)

    public:
        enum class StatusFilter
        {
            All,
            One,        // the status set with setStatus()
            Stale,      // running without recent activity
            Active,     // not final
        };

        explicit RunFilterProxy(QObject *parent = nullptr);

        void setStatusFilter(StatusFilter filter, std::optional<RunStatus> status = std::nullopt);
        void setSearchText(const QString &text);

    protected:
        bool filterAcceptsRow(int sourceRow, const QModelIndex &sourceParent) const override;

    private:
        StatusFilter m_filter = StatusFilter::All;
        std::optional<RunStatus> m_status;
        QString m_search;
    };
} // namespace Lockstep::Ui
