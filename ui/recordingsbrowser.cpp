#include "recordingsbrowser.h"

#include <QAbstractTableModel>
#include <QDialogButtonBox>
#include <QDir>
#include <QFile>
#include <QFileDialog>
#include <QHeaderView>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLabel>
#include <QLocale>
#include <QMenu>
#include <QMessageBox>
#include <QPointer>
#include <QPushButton>
#include <QSaveFile>
#include <QSplitter>
#include <QStackedWidget>
#include <QTableView>
#include <QTableWidget>
#include <QTreeWidget>
#include <QTreeWidgetItemIterator>
#include <QVBoxLayout>

#include "connection.h"
#include "historystore.h"
#include "locktracker.h"
#include "outcome.h"
#include "race/reporthtml.h"
#include "theme.h"

namespace Lockstep::Ui
{
    namespace
    {
        enum ItemType
        {
            WorkflowItem = 1,
            SessionItem,
            RaceItem,
            GroupItem,
        };
        constexpr int TypeRole = Qt::UserRole;
        constexpr int KeyRole = Qt::UserRole + 1;

        QString timeText(const QDateTime &at)
        {
            if (!at.isValid())
                return QStringLiteral("—");
            const QDateTime local = at.toLocalTime();
            return QLocale().toString(local, QStringLiteral("yyyy-MM-dd HH:mm:ss.zzz"));
        }

        QString shortTime(const QDateTime &at)
        {
            return at.isValid() ? QLocale().toString(at.toLocalTime(), QStringLiteral("yyyy-MM-dd HH:mm:ss"))
                                : QStringLiteral("—");
        }

        QString sessionOutcome(const RecordedSession &session)
        {
            if (!session.closedAt.isValid())
                return RecordingsBrowser::tr("not closed");
            if (session.closeCode)
                return closeWording(*session.closeCode, session.closeReason);
            if (session.closedBy == u"failed")
                return RecordingsBrowser::tr("failed to connect");
            if (session.closedBy == u"client")
                return RecordingsBrowser::tr("closed by the console");
            return RecordingsBrowser::tr("connection lost");
        }

        // "lock on, CAS guards off, fencing on": what the gateway's switches were.
        QString switchesText(const QJsonObject &switches)
        {
            QStringList parts;
            const std::pair<const char *, QString> names[] = {
                {"lockEnabled", RecordingsBrowser::tr("lock")},
                {"casGuards", RecordingsBrowser::tr("CAS guards")},
                {"fencing", RecordingsBrowser::tr("fencing")},
            };
            for (const auto &[key, name] : names)
            {
                const QJsonValue value = switches.value(QLatin1StringView(key));
                if (value.isBool())
                    parts.append(QStringLiteral("%1 %2").arg(name, value.toBool() ? RecordingsBrowser::tr("on")
                                                                                  : RecordingsBrowser::tr("off")));
            }
            return parts.isEmpty() ? RecordingsBrowser::tr("switches unknown") : parts.join(QStringLiteral(", "));
        }

        QTableWidgetItem *cell(const QString &text)
        {
            auto *item = new QTableWidgetItem(text);
            item->setFlags(Qt::ItemIsSelectable | Qt::ItemIsEnabled);
            return item;
        }

        void setRow(QTableWidget *table, const int row, const QStringList &texts)
        {
            for (int column = 0; column < texts.size(); ++column)
                table->setItem(row, column, cell(texts.at(column)));
        }

        QTableWidget *makeTable(const char *name, const QStringList &headers, QWidget *parent)
        {
            auto *table = new QTableWidget(0, static_cast<int>(headers.size()), parent);
            table->setObjectName(QString::fromLatin1(name));
            table->setHorizontalHeaderLabels(headers);
            table->setEditTriggers(QAbstractItemView::NoEditTriggers);
            table->setSelectionBehavior(QAbstractItemView::SelectRows);
            table->verticalHeader()->hide();
            table->horizontalHeader()->setStretchLastSection(true);
            table->setWordWrap(false);
            return table;
        }
    }  // namespace

    // The frames of one recorded session, read-only: time, direction, kind, size, payload.
    class RecordedFrameModel final : public QAbstractTableModel
    {
    public:
        enum Column
        {
            Seq,
            Time,
            Direction,
            Kind,
            Size,
            Payload,
            ColumnCount,
        };

        // Frames are read a page at a time as the view scrolls (fetchMore): a
        // session of 100 000 frames opens at once and costs memory only as far as it is read.
        static constexpr int PageSize = 2000;

        using QAbstractTableModel::QAbstractTableModel;

        void setSession(const RecordingStore *store, const qint64 session, const qint64 total)
        {
            beginResetModel();
            m_store = store;
            m_session = session;
            m_total = total;
            m_frames.clear();
            m_frames.squeeze();
            endResetModel();
            if (canFetchMore({}))
                fetchMore({});
        }

        bool canFetchMore(const QModelIndex &parent) const override
        {
            return !parent.isValid() && m_store && (m_frames.size() < m_total);
        }

        void fetchMore(const QModelIndex &parent) override
        {
            if (!canFetchMore(parent))
                return;
            const qint64 after = m_frames.isEmpty() ? 0 : m_frames.constLast().sequence;
            const QList<Transport::FrameRecord> page = m_store->frames(m_session, PageSize, after);
            if (page.isEmpty())
            {
                m_total = m_frames.size();  // fewer on disk than the totals said (pruned, never written)
                return;
            }
            const int first = static_cast<int>(m_frames.size());
            beginInsertRows({}, first, first + static_cast<int>(page.size()) - 1);
            m_frames.append(page);
            endInsertRows();
        }

        int rowCount(const QModelIndex &parent) const override
        {
            return parent.isValid() ? 0 : static_cast<int>(m_frames.size());
        }

        int columnCount(const QModelIndex &parent) const override
        {
            return parent.isValid() ? 0 : ColumnCount;
        }

        QVariant headerData(const int section, const Qt::Orientation orientation, const int role) const override
        {
            if ((orientation != Qt::Horizontal) || (role != Qt::DisplayRole))
                return {};
            switch (section)
            {
            case Seq: return RecordingsBrowser::tr("#");
            case Time: return RecordingsBrowser::tr("Time");
            case Direction: return RecordingsBrowser::tr("Direction");
            case Kind: return RecordingsBrowser::tr("Kind");
            case Size: return RecordingsBrowser::tr("Size");
            case Payload: return RecordingsBrowser::tr("Payload");
            default: return {};
            }
        }

        QVariant data(const QModelIndex &index, const int role) const override
        {
            if (!index.isValid() || (index.row() >= m_frames.size()))
                return {};
            const Transport::FrameRecord &frame = m_frames.at(index.row());
            if (role == Qt::TextAlignmentRole && (index.column() == Size || index.column() == Seq))
                return QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
            if ((role != Qt::DisplayRole) && (role != Qt::ToolTipRole))
                return {};
            switch (index.column())
            {
            case Seq: return frame.sequence;
            case Time:  // the date is in the header line above
                return frame.at.isValid()
                           ? QLocale().toString(frame.at.toLocalTime().time(), QStringLiteral("HH:mm:ss.zzz"))
                           : QStringLiteral("—");
            case Direction:
                return (frame.direction == Transport::FrameDirection::In) ? RecordingsBrowser::tr("← in")
                                                                          : RecordingsBrowser::tr("→ out");
            case Kind: return Transport::toString(frame.kind);
            case Size: return QLocale().formattedDataSize(frame.payloadBytes, 1, QLocale::DataSizeTraditionalFormat);
            case Payload:
                if (frame.kind == Transport::FrameKind::Close)
                {
                    return RecordingsBrowser::tr("%1, closed by the %2")
                        .arg(closeWording(frame.closeCode, QString::fromUtf8(frame.payload)),
                             frame.closedByClient ? RecordingsBrowser::tr("console")
                                                  : RecordingsBrowser::tr("gateway"));
                }
                // The table shows the start of a long frame; the tooltip a bit more.
                return QString::fromUtf8(frame.payload.left(role == Qt::ToolTipRole ? 4096 : 512));
            default: return {};
            }
        }

    private:
        QPointer<const RecordingStore> m_store;
        qint64 m_session = 0;
        qint64 m_total = 0;
        QList<Transport::FrameRecord> m_frames;
    };

    RecordingsBrowser::RecordingsBrowser(RecordingStore *store, QWidget *parent)
        : QDialog(parent)
        , m_store(store)
        , m_tree(new QTreeWidget(this))
        , m_pages(new QStackedWidget(this))
        , m_overview(new QLabel(this))
        , m_workflowHeader(new QLabel(this))
        , m_lockEvents(makeTable("lockEventTable",
                                 {tr("Time"), tr("State"), tr("Holder"), tr("Fence"), tr("TTL"), tr("Close code")},
                                 this))
        , m_sessionHeader(new QLabel(this))
        , m_frames(new QTableView(this))
        , m_frameModel(new RecordedFrameModel(this))
        , m_raceHeader(new QLabel(this))
        , m_rounds(makeTable(
              "roundTable",
              {tr("Round"), tr("Workflow"), tr("Runners"), tr("Final status"), tr("Fence"), tr("Sessions")}, this))
        , m_export(new QPushButton(tr("&Export…"), this))
    {
        setObjectName(QStringLiteral("recordingsBrowser"));
        setWindowTitle(tr("Recordings"));
        setSizeGripEnabled(true);

        m_tree->setObjectName(QStringLiteral("recordingsTree"));
        m_tree->setHeaderLabels({tr("Recording"), tr("When"), tr("Outcome")});
        m_tree->setRootIsDecorated(true);
        m_tree->setUniformRowHeights(true);
        m_tree->setAccessibleName(tr("Recorded workflows, sessions and races"));

        for (QLabel *label : {m_overview, m_workflowHeader, m_sessionHeader, m_raceHeader})
        {
            label->setWordWrap(true);
            label->setTextInteractionFlags(Qt::TextSelectableByMouse);
            label->setAlignment(Qt::AlignTop | Qt::AlignLeft);
        }
        m_overview->setObjectName(QStringLiteral("recordingsOverview"));

        m_frames->setObjectName(QStringLiteral("frameTable"));
        m_frames->setModel(m_frameModel);
        m_frames->setEditTriggers(QAbstractItemView::NoEditTriggers);
        m_frames->setSelectionBehavior(QAbstractItemView::SelectRows);
        m_frames->setWordWrap(false);
        m_frames->verticalHeader()->hide();
        // Fixed row heights: 100 000 frames scroll without measuring each row.
        m_frames->verticalHeader()->setSectionResizeMode(QHeaderView::Fixed);
        m_frames->verticalHeader()->setDefaultSectionSize(m_frames->fontMetrics().height() + 6);
        m_frames->horizontalHeader()->setStretchLastSection(true);
        m_frames->setAccessibleName(tr("Frames of the session"));

        const auto page = [this](QLabel *header, QWidget *body) {
            auto *widget = new QWidget(m_pages);
            auto *layout = new QVBoxLayout(widget);
            layout->setContentsMargins(0, 0, 0, 0);
            layout->addWidget(header);
            if (body)
                layout->addWidget(body, 1);
            else
                layout->addStretch(1);
            m_pages->addWidget(widget);
        };
        page(m_overview, nullptr);
        page(m_workflowHeader, m_lockEvents);
        page(m_sessionHeader, m_frames);
        page(m_raceHeader, m_rounds);

        auto *splitter = new QSplitter(Qt::Horizontal, this);
        splitter->addWidget(m_tree);
        splitter->addWidget(m_pages);
        splitter->setStretchFactor(0, 1);
        splitter->setStretchFactor(1, 1);
        splitter->setSizes({fontMetrics().averageCharWidth() * 90, fontMetrics().averageCharWidth() * 90});

        auto *exportMenu = new QMenu(m_export);
        QAction *asJson = exportMenu->addAction(tr("As &JSON…"));
        asJson->setObjectName(QStringLiteral("exportJsonAction"));
        QAction *asHtml = exportMenu->addAction(tr("As &HTML…"));
        asHtml->setObjectName(QStringLiteral("exportHtmlAction"));
        exportMenu->setToolTipsVisible(true);
        m_export->setObjectName(QStringLiteral("exportButton"));
        m_export->setMenu(exportMenu);
        connect(asJson, &QAction::triggered, this, [this] {
            const QString path =
                QFileDialog::getSaveFileName(this, tr("Export as JSON"), QString(), tr("JSON report (*.json)"));
            QString error;
            if (!path.isEmpty() && !exportJson(path, &error))
                QMessageBox::warning(this, tr("Export"), error);
        });
        connect(asHtml, &QAction::triggered, this, [this] {
            const QString path =
                QFileDialog::getSaveFileName(this, tr("Export as HTML"), QString(), tr("HTML report (*.html)"));
            QString error;
            if (!path.isEmpty() && !exportHtml(path, &error))
                QMessageBox::warning(this, tr("Export"), error);
        });

        auto *buttons = new QDialogButtonBox(QDialogButtonBox::Close, this);
        buttons->addButton(m_export, QDialogButtonBox::ActionRole);
        QPushButton *refreshButton = buttons->addButton(tr("&Refresh"), QDialogButtonBox::ActionRole);
        refreshButton->setObjectName(QStringLiteral("refreshButton"));
        connect(refreshButton, &QPushButton::clicked, this, &RecordingsBrowser::refresh);
        connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);

        auto *layout = new QVBoxLayout(this);
        layout->addWidget(splitter, 1);
        layout->addWidget(buttons);

        connect(m_tree, &QTreeWidget::currentItemChanged, this, &RecordingsBrowser::showSelection);
        resize(fontMetrics().averageCharWidth() * 160, fontMetrics().height() * 40);
        refresh();
    }

    RecordingsBrowser::~RecordingsBrowser() = default;

    QTreeWidget *RecordingsBrowser::tree() const
    {
        return m_tree;
    }

    QTableView *RecordingsBrowser::frameView() const
    {
        return m_frames;
    }

    QTableWidget *RecordingsBrowser::roundTable() const
    {
        return m_rounds;
    }

    QTableWidget *RecordingsBrowser::lockEventTable() const
    {
        return m_lockEvents;
    }

    QString RecordingsBrowser::detailText() const
    {
        return m_detail ? m_detail->text() : QString();
    }

    void RecordingsBrowser::refresh()
    {
        QTreeWidgetItem *current = m_tree->currentItem();
        const int type = current ? current->data(0, TypeRole).toInt() : 0;
        const QVariant key = current ? current->data(0, KeyRole) : QVariant();

        const QSignalBlocker blocker(m_tree);
        m_tree->clear();
        if (!m_store || !m_store->isPersistent())
        {
            showOverview();
            return;
        }
        auto *workflows = new QTreeWidgetItem(m_tree, {tr("Workflows")});
        workflows->setData(0, TypeRole, GroupItem);
        for (const RecordedWorkflow &workflow : m_store->workflows())
        {
            auto *item = new QTreeWidgetItem(
                workflows, {workflow.workflowId, shortTime(workflow.lastAt),
                            tr("sessions: %1 · lock events: %2").arg(workflow.sessions).arg(workflow.lockEvents)});
            item->setData(0, TypeRole, WorkflowItem);
            item->setData(0, KeyRole, workflow.workflowId);
            for (const RecordedSession &session : m_store->sessions(workflow.workflowId))
            {
                const qint64 frames = session.totals.framesIn + session.totals.framesOut;
                auto *child = new QTreeWidgetItem(item, {tr("%1 · frames: %2").arg(session.label).arg(frames),
                                                         shortTime(session.startedAt), sessionOutcome(session)});
                child->setData(0, TypeRole, SessionItem);
                child->setData(0, KeyRole, session.id);
                if (session.closeCode && (*session.closeCode != 1000))
                    child->setForeground(2, Theme::toneColor(Theme::Tone::Warning, palette()));
            }
        }
        auto *races = new QTreeWidgetItem(m_tree, {tr("Races")});
        races->setData(0, TypeRole, GroupItem);
        for (const RecordedRace &race : m_store->races())
        {
            const QString what = tr("%1 · %2 sessions × %3 rounds")
                                     .arg(race.workflowId.isEmpty() ? tr("flow %1").arg(race.flow) : race.workflowId)
                                     .arg(race.sessions)
                                     .arg(race.rounds);
            const QString outcome = race.passed ? tr("passed") : tr("failed · findings: %1").arg(race.findings);
            auto *item = new QTreeWidgetItem(races, {what, shortTime(race.at), outcome});
            item->setData(0, TypeRole, RaceItem);
            item->setData(0, KeyRole, race.id);
            item->setForeground(2, Theme::toneColor(race.passed ? Theme::Tone::Good : Theme::Tone::Bad, palette()));
        }
        m_tree->expandItem(workflows);
        m_tree->expandItem(races);
        // A few workflows: their sessions show at once.
        if (workflows->childCount() <= 3)
        {
            for (int i = 0; i < workflows->childCount(); ++i)
                m_tree->expandItem(workflows->child(i));
        }
        for (int column = 0; column < m_tree->columnCount(); ++column)
            m_tree->resizeColumnToContents(column);
        if ((type == 0) || !selectItem(type, key))
            showOverview();
        else
            showSelection();
    }

    bool RecordingsBrowser::selectItem(const int type, const QVariant &key)
    {
        for (QTreeWidgetItemIterator it(m_tree); *it; ++it)
        {
            if (((*it)->data(0, TypeRole).toInt() == type) && ((*it)->data(0, KeyRole) == key))
            {
                m_tree->setCurrentItem(*it);
                return true;
            }
        }
        return false;
    }

    bool RecordingsBrowser::selectWorkflow(const QString &workflowId)
    {
        return selectItem(WorkflowItem, workflowId);
    }

    bool RecordingsBrowser::selectSession(const qint64 session)
    {
        return selectItem(SessionItem, session);
    }

    bool RecordingsBrowser::selectRace(const qint64 race)
    {
        return selectItem(RaceItem, race);
    }

    RecordingsBrowser::Selection RecordingsBrowser::selection() const
    {
        const QTreeWidgetItem *item = m_tree->currentItem();
        switch (item ? item->data(0, TypeRole).toInt() : 0)
        {
        case WorkflowItem: return Selection::Workflow;
        case SessionItem: return Selection::Session;
        case RaceItem: return Selection::Race;
        default: return Selection::None;
        }
    }

    void RecordingsBrowser::showSelection()
    {
        const QTreeWidgetItem *item = m_tree->currentItem();
        const QVariant key = item ? item->data(0, KeyRole) : QVariant();
        switch (selection())
        {
        case Selection::Workflow: showWorkflow(key.toString()); break;
        case Selection::Session: showSession(key.toLongLong()); break;
        case Selection::Race: showRace(key.toLongLong()); break;
        case Selection::None: showOverview(); break;
        }
        m_export->setEnabled(selection() != Selection::None);
    }

    void RecordingsBrowser::showOverview()
    {
        m_export->setEnabled(false);
        m_detail = m_overview;
        m_pages->setCurrentIndex(0);
        if (!m_store || !m_store->isPersistent())
        {
            const QString why = (m_store && m_store->history()) ? m_store->history()->error() : QString();
            m_overview->setText(tr("Nothing is recorded: the history database could not be opened%1.")
                                    .arg(why.isEmpty() ? QString() : QStringLiteral(" — ") + why));
            return;
        }
        const qint64 bytes = m_store->history()->usedBytes();
        const HistoryLimits &limits = m_store->history()->limits();
        m_overview->setText(
            tr("Recorded sessions: %1 · frames: %2 · races: %3\n\nKept in %4 (%5 of at most %6, for %7 days; "
               "Preferences… changes this). Select a session to see its frames, a race to see its rounds.")
                .arg(m_store->sessions({}, std::numeric_limits<int>::max()).size())
                .arg(QLocale().toString(m_store->frameCount()))
                .arg(m_store->races(std::numeric_limits<int>::max()).size())
                .arg(QDir::toNativeSeparators(m_store->history()->databasePath()),
                     QLocale().formattedDataSize(bytes, 1, QLocale::DataSizeTraditionalFormat),
                     QLocale().formattedDataSize(limits.maxBytes, 0, QLocale::DataSizeTraditionalFormat))
                .arg(limits.maxAge.count() / 24));
    }

    void RecordingsBrowser::showWorkflow(const QString &workflowId)
    {
        m_detail = m_workflowHeader;
        m_pages->setCurrentIndex(1);
        const QList<RecordedLockEvent> events = m_store->lockEvents(workflowId);
        const QList<RecordedSession> sessions = m_store->sessions(workflowId);
        m_workflowHeader->setText(tr("Workflow %1 · recorded sessions: %2 · lock events: %3\nExport… writes its "
                                     "sessions with their frames, its lock events and its history.")
                                      .arg(workflowId)
                                      .arg(sessions.size())
                                      .arg(events.size()));
        m_lockEvents->setRowCount(static_cast<int>(events.size()));
        for (int row = 0; row < events.size(); ++row)
        {
            const RecordedLockEvent &event = events.at(row);
            setRow(m_lockEvents, row,
                   {timeText(event.at), event.state, holderWording(event.holder), QString::number(event.fence),
                    (event.ttlMs > 0) ? formatDuration(event.ttlMs) : QStringLiteral("—"),
                    event.closeCode ? QString::number(*event.closeCode) : QString()});
            if ((event.state == u"lost") || (event.state == u"expired") || (event.state == u"refused"))
                m_lockEvents->item(row, 1)->setForeground(Theme::toneColor(Theme::Tone::Warning, palette()));
        }
        m_lockEvents->resizeColumnsToContents();
    }

    void RecordingsBrowser::showSession(const qint64 id)
    {
        m_detail = m_sessionHeader;
        m_pages->setCurrentIndex(2);
        const std::optional<RecordedSession> session = m_store->session(id);
        if (!session)
        {
            m_sessionHeader->setText(tr("This session is no longer recorded (pruned)."));
            m_frameModel->setSession(nullptr, 0, 0);
            return;
        }
        const Transport::FrameLog::Totals &t = session->totals;
        m_sessionHeader->setText(
            tr("%1 session of %2 on %3\n%4 → %5: %6\n%7 frames in (%8), %9 out (%10); %11 pings, %12 pongs")
                .arg(session->label, session->workflowId,
                     session->gateway.value(QStringLiteral("url")).toString(QStringLiteral("?")),
                     timeText(session->startedAt), timeText(session->closedAt), sessionOutcome(*session))
                .arg(t.framesIn)
                .arg(QLocale().formattedDataSize(t.payloadBytesIn, 1, QLocale::DataSizeTraditionalFormat))
                .arg(t.framesOut)
                .arg(QLocale().formattedDataSize(t.payloadBytesOut, 1, QLocale::DataSizeTraditionalFormat))
                .arg(t.pings)
                .arg(t.pongs));
        m_frameModel->setSession(m_store, id, m_store->frameCount(id));
        m_frames->resizeColumnToContents(RecordedFrameModel::Seq);
        m_frames->resizeColumnToContents(RecordedFrameModel::Time);
        m_frames->resizeColumnToContents(RecordedFrameModel::Direction);
        m_frames->resizeColumnToContents(RecordedFrameModel::Kind);
        m_frames->resizeColumnToContents(RecordedFrameModel::Size);
    }

    void RecordingsBrowser::showRace(const qint64 id)
    {
        m_detail = m_raceHeader;
        m_pages->setCurrentIndex(3);
        const QJsonObject report = m_store->raceReport(id);
        const QJsonObject race = report.value(QStringLiteral("race")).toObject();
        const QJsonObject summary = report.value(QStringLiteral("summary")).toObject();
        const QJsonObject gateway = report.value(QStringLiteral("gateway")).toObject();
        const bool passed = summary.value(QStringLiteral("passed")).toBool();
        QStringList findings;
        for (const QJsonValue &finding : report.value(QStringLiteral("findings")).toArray())
        {
            const QJsonObject f = finding.toObject();
            findings.append(
                QStringLiteral("• %1: %2")
                    .arg(f.value(QStringLiteral("kind")).toString(), f.value(QStringLiteral("detail")).toString()));
        }
        m_raceHeader->setText(
            tr("Race on %1 against %2 (gateway %3; %14)\n%4 sessions × %5 rounds, spread %6 ms — %7\n"
               "Rounds with one runner: %8 of %9 · runners per round: %10–%11 · findings: %12%13")
                .arg(
                    race.value(QStringLiteral("workflowID")).isString()
                        ? race.value(QStringLiteral("workflowID")).toString()
                        : tr("a new workflow of flow %1 each round").arg(race.value(QStringLiteral("flow")).toString()),
                    gateway.value(QStringLiteral("url")).toString(),
                    gateway.value(QStringLiteral("version")).toString())
                .arg(race.value(QStringLiteral("sessions")).toInt())
                .arg(race.value(QStringLiteral("rounds")).toInt())
                .arg(race.value(QStringLiteral("spreadMs")).toInt())
                .arg(passed ? tr("passed") : tr("FAILED"))
                .arg(summary.value(QStringLiteral("roundsWithOneRunner")).toInt())
                .arg(summary.value(QStringLiteral("rounds")).toInt())
                .arg(summary.value(QStringLiteral("minRunners")).toInt())
                .arg(summary.value(QStringLiteral("maxRunners")).toInt())
                .arg(summary.value(QStringLiteral("findings")).toInt())
                .arg(findings.isEmpty() ? QString() : QStringLiteral("\n") + findings.join(u'\n'))
                .arg(switchesText(gateway.value(QStringLiteral("switches")).toObject())));
        const QJsonArray rounds = report.value(QStringLiteral("rounds")).toArray();
        m_rounds->setRowCount(static_cast<int>(rounds.size()));
        for (int row = 0; row < rounds.size(); ++row)
        {
            const QJsonObject round = rounds.at(row).toObject();
            QStringList sessions;
            for (const QJsonValue &value : round.value(QStringLiteral("sessions")).toArray())
            {
                const QJsonObject s = value.toObject();
                sessions.append(QStringLiteral("s%1 %2 (%3)")
                                    .arg(s.value(QStringLiteral("index")).toInt())
                                    .arg(s.value(QStringLiteral("outcome")).toString())
                                    .arg(s.value(QStringLiteral("closeCode")).toInt()));
            }
            const int runners = round.value(QStringLiteral("runners")).toInt();
            const QJsonValue fence = round.value(QStringLiteral("finalFence"));
            setRow(m_rounds, row,
                   {QString::number(round.value(QStringLiteral("index")).toInt()),
                    round.value(QStringLiteral("workflowID")).toString(), QString::number(runners),
                    round.value(QStringLiteral("finalStatus")).toString(),
                    fence.isDouble() ? QString::number(fence.toInteger()) : QStringLiteral("—"),
                    sessions.join(QStringLiteral(" · "))});
            if (runners != 1)
            {
                // A round with no runner or with several is the thing to look at.
                for (int column = 0; column < m_rounds->columnCount(); ++column)
                    m_rounds->item(row, column)->setForeground(Theme::toneColor(Theme::Tone::Bad, palette()));
            }
        }
        m_rounds->resizeColumnsToContents();
    }

    QJsonObject RecordingsBrowser::currentReport() const
    {
        const QTreeWidgetItem *item = m_tree->currentItem();
        if (!item || !m_store)
            return {};
        const QVariant key = item->data(0, KeyRole);
        switch (selection())
        {
        case Selection::Workflow: return m_store->exportWorkflow(key.toString());
        case Selection::Session: return m_store->exportSession(key.toLongLong());
        case Selection::Race: return m_store->raceReport(key.toLongLong());
        case Selection::None: break;
        }
        return {};
    }

    bool RecordingsBrowser::exportJson(const QString &path, QString *error) const
    {
        const QJsonObject report = currentReport();
        const auto failWith = [error](const QString &why) {
            if (error)
                *error = why;
            return false;
        };
        if (report.isEmpty())
            return failWith(tr("Nothing to export: select a workflow, a session or a race."));
        QSaveFile file(path);
        if (!file.open(QIODevice::WriteOnly))
            return failWith(tr("Cannot write %1: %2").arg(QDir::toNativeSeparators(path), file.errorString()));
        file.write(QJsonDocument(report).toJson(QJsonDocument::Indented));
        if (!file.commit())
            return failWith(tr("Cannot write %1: %2").arg(QDir::toNativeSeparators(path), file.errorString()));
        return true;
    }

    bool RecordingsBrowser::exportHtml(const QString &path, QString *error) const
    {
        const auto failWith = [error](const QString &why) {
            if (error)
                *error = why;
            return false;
        };
        const QJsonObject report = currentReport();
        if (report.isEmpty())
            return failWith(tr("Nothing to export: select a workflow, a session or a race."));
        QSaveFile file(path);
        if (!file.open(QIODevice::WriteOnly))
            return failWith(tr("Cannot write %1: %2").arg(QDir::toNativeSeparators(path), file.errorString()));
        file.write(Race::renderHtmlReport(report).toUtf8());
        if (!file.commit())
            return failWith(tr("Cannot write %1: %2").arg(QDir::toNativeSeparators(path), file.errorString()));
        return true;
    }
}  // namespace Lockstep::Ui
