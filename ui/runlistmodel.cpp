#include "runlistmodel.h"

#include <QApplication>
#include <QLocale>
#include <QPalette>

#include "outcome.h"
#include "theme.h"

namespace Lockstep::Ui
{
    RunListModel::RunListModel(QObject *parent)
        : QAbstractTableModel(parent)
        , m_now([] { return QDateTime::currentDateTimeUtc(); })
    {
    }

    int RunListModel::rowCount(const QModelIndex &parent) const
    {
        return parent.isValid() ? 0 : static_cast<int>(m_rows.size());
    }

    int RunListModel::columnCount(const QModelIndex &parent) const
    {
        return parent.isValid() ? 0 : ColumnCount;
    }

    bool RunListModel::isStale(const RunInfo &run) const
    {
        return (run.status == RunStatus::Running) && run.lastActivityAt.isValid()
            && (run.lastActivityAt.msecsTo(m_now()) > m_staleAfter.count());
    }

    QString RunListModel::statusText(const RunInfo &run) const
    {
        if (!run.status)
            return tr("unknown");
        const QString word = humanName(*run.status);
        return isStale(run) ? tr("%1 (stale)").arg(word) : word;
    }

    QString RunListModel::holderOf(const QString &workflowId) const
    {
        return m_holders.value(workflowId);
    }

    QVariant RunListModel::data(const QModelIndex &index, const int role) const
    {
        if (!index.isValid() || (index.row() >= rowCount()))
            return {};
        const Row &row = m_rows[static_cast<std::size_t>(index.row())];
        const RunInfo &run = row.run;
        switch (role)
        {
        case WorkflowIdRole:
            return run.workflowId;
        case StatusRole:
            return run.status ? QVariant(static_cast<int>(*run.status)) : QVariant();
        case StaleRole:
            return row.stale;
        default:
            break;
        }
        const QPalette palette = QApplication::palette();
        switch (index.column())
        {
        case IdColumn:
            if ((role == Qt::DisplayRole) || (role == SortRole) || (role == Qt::ToolTipRole))
                return run.workflowId;
            break;
        case GoalColumn:
            if ((role == Qt::DisplayRole) || (role == SortRole))
                return run.goal.section(u'\n', 0, 0);
            if (role == Qt::ToolTipRole)
                return run.goal;
            break;
        case StatusColumn:
            if (role == Qt::DisplayRole)
                return statusText(run);
            if (role == SortRole)
                return run.status ? static_cast<int>(*run.status) : -1;
            if (role == Qt::DecorationRole)
            {
                if (row.stale)
                    return Theme::staleIcon(palette);
                return run.status ? QVariant(Theme::statusIcon(*run.status, palette)) : QVariant();
            }
            if (role == Qt::ForegroundRole)
            {
                if (row.stale)
                    return Theme::toneColor(Theme::Tone::Warning, palette);
                return run.status ? QVariant(Theme::toneColor(Theme::statusTone(*run.status), palette)) : QVariant();
            }
            if (role == Qt::ToolTipRole)
            {
                QString tip = statusText(run);
                if (row.stale)
                    tip += tr(": no activity for more than %1 s; it can be resumed").arg(m_staleAfter.count() / 1000);
                if (!run.reason.isEmpty())
                    tip += QStringLiteral(" — ") + run.reason;
                return tip;
            }
            break;
        case ActivityColumn:
            if (role == Qt::DisplayRole)
            {
                if (!run.lastActivityAt.isValid())
                    return QStringLiteral("—");
                const QDateTime local = run.lastActivityAt.toLocalTime();
                const QLocale locale;
                if (local.date() == QDate::currentDate())
                    return locale.toString(local.time(), QStringLiteral("HH:mm:ss"));
                return locale.toString(local, QLocale::ShortFormat);
            }
            if (role == SortRole)
                return run.lastActivityAt;
            if (role == Qt::ToolTipRole)
                return run.lastActivityAt.toLocalTime().toString(Qt::ISODate);
            break;
        case HolderColumn:
        {
            // The one holder wording of the console (panel, banners, list).
            const QString holder = m_holders.value(run.workflowId);
            if (role == Qt::DisplayRole)
                return holderWording(holder);
            if (role == SortRole)
                return holder;
            if ((role == Qt::ToolTipRole) && !holder.isEmpty())
                return tr("held by %1").arg(holderWording(holder));
            break;
        }
        default:
            break;
        }
        if ((role == Qt::AccessibleTextRole) && (index.column() == StatusColumn))
            return statusText(run);
        return {};
    }

    QVariant RunListModel::headerData(const int section, const Qt::Orientation orientation, const int role) const
    {
        if ((orientation != Qt::Horizontal) || (role != Qt::DisplayRole))
            return QAbstractTableModel::headerData(section, orientation, role);
        switch (section)
        {
        case IdColumn: return tr("Workflow ID");
        case GoalColumn: return tr("Goal");
        case StatusColumn: return tr("Status");
        case ActivityColumn: return tr("Last activity");
        case HolderColumn: return tr("Lock holder");
        default: return {};
        }
    }

    void RunListModel::setRuns(const QList<RunInfo> &runs)
    {
        QHash<QString, const RunInfo *> incoming;
        incoming.reserve(runs.size());
        for (const RunInfo &run : runs)
            incoming.insert(run.workflowId, &run);

        // Remove rows that are gone, bottom up so row numbers stay valid.
        for (int row = rowCount() - 1; row >= 0; --row)
        {
            if (incoming.contains(m_rows[static_cast<std::size_t>(row)].run.workflowId))
                continue;
            beginRemoveRows({}, row, row);
            m_rows.erase(m_rows.begin() + row);
            endRemoveRows();
        }
        m_rowById.clear();
        for (int row = 0; row < rowCount(); ++row)
            m_rowById.insert(m_rows[static_cast<std::size_t>(row)].run.workflowId, row);

        QList<const RunInfo *> fresh;
        for (const RunInfo &run : runs)
        {
            const auto it = m_rowById.constFind(run.workflowId);
            if (it == m_rowById.cend())
            {
                fresh.append(&run);
                continue;
            }
            Row &row = m_rows[static_cast<std::size_t>(*it)];
            const bool stale = isStale(run);
            if ((row.run == run) && (row.stale == stale))
                continue;
            row.run = run;
            row.stale = stale;
            emit dataChanged(index(*it, 0), index(*it, ColumnCount - 1));
        }
        if (!fresh.isEmpty())
        {
            const int first = rowCount();
            beginInsertRows({}, first, first + static_cast<int>(fresh.size()) - 1);
            for (const RunInfo *run : std::as_const(fresh))
            {
                m_rowById.insert(run->workflowId, rowCount());
                m_rows.push_back(Row {.run = *run, .stale = isStale(*run)});
            }
            endInsertRows();
        }
        // Holders of runs that are gone.
        for (auto it = m_holders.begin(); it != m_holders.end();)
        {
            if (!m_rowById.contains(it.key()))
                it = m_holders.erase(it);
            else
                ++it;
        }
    }

    void RunListModel::setLockHolder(const QString &workflowId, const QString &holder)
    {
        if (m_holders.value(workflowId) == holder)
            return;
        if (holder.isEmpty())
            m_holders.remove(workflowId);
        else
            m_holders.insert(workflowId, holder);
        const int row = rowOf(workflowId);
        if (row >= 0)
            emit dataChanged(index(row, HolderColumn), index(row, HolderColumn));
    }

    void RunListModel::setStaleAfter(const std::chrono::milliseconds staleAfter)
    {
        m_staleAfter = staleAfter;
    }

    void RunListModel::setClock(std::function<QDateTime()> now)
    {
        m_now = std::move(now);
    }

    int RunListModel::rowOf(const QString &workflowId) const
    {
        return m_rowById.value(workflowId, -1);
    }

    const RunInfo *RunListModel::run(const int row) const
    {
        if ((row < 0) || (row >= rowCount()))
            return nullptr;
        return &m_rows[static_cast<std::size_t>(row)].run;
    }

    const RunInfo *RunListModel::run(const QString &workflowId) const
    {
        return run(rowOf(workflowId));
    }

    // ---- RunFilterProxy ----

    RunFilterProxy::RunFilterProxy(QObject *parent)
        : QSortFilterProxyModel(parent)
    {
        setSortRole(RunListModel::SortRole);
        setDynamicSortFilter(true);
        setSortCaseSensitivity(Qt::CaseInsensitive);
    }

    void RunFilterProxy::setStatusFilter(const StatusFilter filter, const std::optional<RunStatus> status)
    {
        m_filter = filter;
        m_status = status;
        invalidateFilter();
    }

    void RunFilterProxy::setSearchText(const QString &text)
    {
        m_search = text.trimmed();
        invalidateFilter();
    }

    bool RunFilterProxy::filterAcceptsRow(const int sourceRow, const QModelIndex &sourceParent) const
    {
        const auto *model = qobject_cast<const RunListModel *>(sourceModel());
        if (!model || sourceParent.isValid())
            return false;
        const RunInfo *run = model->run(sourceRow);
        if (!run)
            return false;
        switch (m_filter)
        {
        case StatusFilter::All:
            break;
        case StatusFilter::One:
            if (run->status != m_status)
                return false;
            break;
        case StatusFilter::Stale:
            if (!model->isStale(*run))
                return false;
            break;
        case StatusFilter::Active:
            if (!run->status || isFinal(*run->status))
                return false;
            break;
        }
        if (m_search.isEmpty())
            return true;
        return run->workflowId.contains(m_search, Qt::CaseInsensitive) || run->goal.contains(m_search, Qt::CaseInsensitive);
    }
} // namespace Lockstep::Ui
