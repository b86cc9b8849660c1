#include "runlistmodel.h"

#include <algorithm>

#include <QApplication>
#include <QLocale>
#include <QPalette>

#include "outcome.h"
#include "theme.h"

namespace Lockstep::Ui
{
    namespace
    {
        // Today: the time; before: the short date and time.
        QString timeText(const QDateTime &at)
        {
            if (!at.isValid())
                return QStringLiteral("—");
            const QDateTime local = at.toLocalTime();
            const QLocale locale;
            if (local.date() == QDate::currentDate())
                return locale.toString(local.time(), QStringLiteral("HH:mm:ss"));
            return locale.toString(local, QLocale::ShortFormat);
        }
    }  // namespace

    RunListModel::RunListModel(QObject *parent)
        : QAbstractTableModel(parent)
        , m_now([] { return QDateTime::currentDateTimeUtc(); })
    {
        // A second is the finest unit a duration shows.
        m_tick.setInterval(1000);
        connect(&m_tick, &QTimer::timeout, this, &RunListModel::tick);
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
        return (run.status == RunStatus::Running) && run.lastActivityAt.isValid() &&
               (run.lastActivityAt.msecsTo(m_now()) > m_staleAfter.count());
    }

    QString RunListModel::statusText(const RunInfo &run) const
    {
        if (!run.status)
            return tr("unknown");
        const QString word = humanName(*run.status);
        return isStale(run) ? tr("%1 (stale)").arg(word) : word;
    }

    bool RunListModel::runsUntilNow(const RunInfo &run)
    {
        return run.createdAt.isValid() && !run.completedAt && !(run.status && isFinal(*run.status));
    }

    std::optional<qint64> RunListModel::durationMs(const RunInfo &run) const
    {
        if (!run.createdAt.isValid())
            return std::nullopt;
        QDateTime end = m_now();
        if (run.completedAt)
            end = *run.completedAt;
        else if (run.status && isFinal(*run.status) && run.lastActivityAt.isValid())
            end = run.lastActivityAt;  // final without a completion time: its last sign of life
        return std::max<qint64>(0, run.createdAt.msecsTo(end));
    }

    QString RunListModel::durationText(const qint64 milliseconds)
    {
        const qint64 seconds = milliseconds / 1000;
        if (seconds < 60)
            return tr("%1 s").arg(seconds);
        if (seconds < 3600)
            return tr("%1 min %2 s").arg(seconds / 60).arg(seconds % 60, 2, 10, QChar(u'0'));
        if (seconds < 86400)
            return tr("%1 h %2 min").arg(seconds / 3600).arg((seconds % 3600) / 60, 2, 10, QChar(u'0'));
        return tr("%1 d %2 h").arg(seconds / 86400).arg((seconds % 86400) / 3600, 2, 10, QChar(u'0'));
    }

    void RunListModel::tick()
    {
        for (int row = 0; row < rowCount(); ++row)
        {
            Row &entry = m_rows[static_cast<std::size_t>(row)];
            if (!runsUntilNow(entry.run))
                continue;
            const QString text = shownDuration(entry.run);
            if (text == entry.durationShown)
                continue;
            entry.durationShown = text;
            emit dataChanged(index(row, DurationColumn), index(row, DurationColumn));
        }
    }

    QString RunListModel::shownDuration(const RunInfo &run) const
    {
        const std::optional<qint64> ms = durationMs(run);
        return ms ? durationText(*ms) : QString();
    }

    bool RunListModel::isTicking() const
    {
        return m_tick.isActive();
    }

    void RunListModel::updateTicking()
    {
        const bool any =
            std::any_of(m_rows.cbegin(), m_rows.cend(), [](const Row &row) { return runsUntilNow(row.run); });
        if (any && !m_tick.isActive())
            m_tick.start();
        else if (!any)
            m_tick.stop();
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
        case WorkflowIdRole: return run.workflowId;
        case StatusRole: return run.status ? QVariant(static_cast<int>(*run.status)) : QVariant();
        case StaleRole: return row.stale;
        default: break;
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
        case FlowColumn:
            if ((role == Qt::DisplayRole) || (role == SortRole) || (role == Qt::ToolTipRole))
                return run.flow.isEmpty() ? QVariant() : QVariant(run.flow);
            break;
        case CreatedColumn:
            if (role == Qt::DisplayRole)
                return timeText(run.createdAt);
            if (role == SortRole)
                return run.createdAt;
            if ((role == Qt::ToolTipRole) && run.createdAt.isValid())
                return tr("created %1").arg(run.createdAt.toLocalTime().toString(Qt::ISODate));
            break;
        case DurationColumn:
        {
            const std::optional<qint64> ms = durationMs(run);
            if (role == Qt::DisplayRole)
                return ms ? durationText(*ms) : QStringLiteral("—");
            if (role == SortRole)
                return ms ? QVariant(*ms) : QVariant(qint64(-1));
            if ((role == Qt::ToolTipRole) && ms)
            {
                if (runsUntilNow(run))
                    return tr("%1 so far (since %2; not finished)").arg(durationText(*ms), timeText(run.createdAt));
                return tr("%1 from creation to completion").arg(durationText(*ms));
            }
            if (role == Qt::TextAlignmentRole)
                return QVariant(Qt::AlignRight | Qt::AlignVCenter);
            break;
        }
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
                return timeText(run.lastActivityAt);
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
        default: break;
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
        case FlowColumn: return tr("Flow");
        case StatusColumn: return tr("Status");
        case CreatedColumn: return tr("Created");
        case DurationColumn: return tr("Duration");
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
            row.durationShown = shownDuration(run);
            emit dataChanged(index(*it, 0), index(*it, ColumnCount - 1));
        }
        if (!fresh.isEmpty())
        {
            const int first = rowCount();
            beginInsertRows({}, first, first + static_cast<int>(fresh.size()) - 1);
            for (const RunInfo *run : std::as_const(fresh))
            {
                m_rowById.insert(run->workflowId, rowCount());
                m_rows.push_back(Row{.run = *run, .stale = isStale(*run), .durationShown = shownDuration(*run)});
            }
            endInsertRows();
        }
        updateTicking();
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
        case StatusFilter::All: break;
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
        return run->workflowId.contains(m_search, Qt::CaseInsensitive) ||
               run->goal.contains(m_search, Qt::CaseInsensitive);
    }
}  // namespace Lockstep::Ui
