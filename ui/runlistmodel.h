#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <vector>

#include <QAbstractTableModel>
#include <QHash>
#include <QSortFilterProxyModel>
#include <QTimer>

#include "gatewayapi.h"

namespace Lockstep::Ui
{
    // The gateway's runs: ID, goal, flow, status (icon and word, "stale" for
    // a running run without recent activity), created, duration, last
    // activity, lock holder. setRuns() diffs by workflow ID so selections and
    // sort survive a poll. The duration of a run that is not final runs up to
    // now: a one-second tick updates the rows whose shown text changed.
    class RunListModel final : public QAbstractTableModel
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(RunListModel)

    public:
        enum Column
        {
            IdColumn,
            GoalColumn,
            FlowColumn,
            StatusColumn,
            CreatedColumn,
            DurationColumn,
            ActivityColumn,
            HolderColumn,
            ColumnCount,
        };

        enum Role
        {
            WorkflowIdRole = Qt::UserRole + 1,
            StatusRole,  // int(RunStatus), invalid when unknown
            StaleRole,   // bool
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
        // Re-reads the clock for the durations of runs that are not final;
        // emits dataChanged only for rows whose text changed. The model's own
        // timer calls it every second while such a row exists.
        void tick();
        bool isTicking() const;

        int rowOf(const QString &workflowId) const;
        const RunInfo *run(int row) const;
        const RunInfo *run(const QString &workflowId) const;
        bool isStale(const RunInfo &run) const;
        QString holderOf(const QString &workflowId) const;
        // "running", "running (stale)", "input required", ...
        QString statusText(const RunInfo &run) const;
        // created -> completed, or -> now while the run is not final; nullopt
        // without a creation time.
        std::optional<qint64> durationMs(const RunInfo &run) const;
        // "45 s", "3 min 05 s", "2 h 04 min", "3 d 02 h".
        static QString durationText(qint64 milliseconds);

    private:
        struct Row
        {
            RunInfo run;
            bool stale = false;
            QString durationShown;  // what the Duration column last said
        };

        static bool runsUntilNow(const RunInfo &run);
        void updateTicking();
        QString shownDuration(const RunInfo &run) const;

        std::vector<Row> m_rows;
        QHash<QString, int> m_rowById;
        QHash<QString, QString> m_holders;
        std::chrono::milliseconds m_staleAfter{90000};
        std::function<QDateTime()> m_now;
        QTimer m_tick;
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
            One,     // the status set with setStatus()
            Stale,   // running without recent activity
            Active,  // not final
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
}  // namespace Lockstep::Ui
