#include "frameinspector.h"

#include <algorithm>

#include <QComboBox>
#include <QFontDatabase>
#include <QFontMetrics>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QPlainTextEdit>
#include <QScrollBar>
#include <QSplitter>
#include <QTableView>
#include <QTreeWidget>
#include <QVBoxLayout>

#include "frametablemodel.h"
#include "protocol/names.h"

namespace Lockstep::Ui
{
    namespace
    {
        enum SessionColumn
        {
            SessionName,
            SessionMode,
            SessionState,
            SessionFrames,
            SessionEvents,
            SessionEventBytes,
            SessionWireIn,
            SessionWireOut,
            SessionColumnCount,
        };

        QString bytes(const qint64 count)
        {
            return QLocale().toString(count);
        }

        QString modeText(const FrameSession &session)
        {
            return session.isLegacy() ? FrameInspector::tr("legacy") : FrameInspector::tr("incremental");
        }

        // The events of one session in a line: "live 3: 12 events, 8 432 B (703 B per event)".
        QString eventLine(const FrameSession &session)
        {
            const qint64 perEvent = (session.events() > 0) ? (session.eventBytes() / session.events()) : 0;
            return FrameInspector::tr("%1 (%2): %3 events, %4 B (%5 B per event)")
                .arg(session.label(), modeText(session))
                .arg(session.events())
                .arg(bytes(session.eventBytes()), bytes(perEvent));
        }
    }  // namespace

    FrameInspector::FrameInspector(FrameSessionList *sessions, QWidget *parent)
        : QWidget(parent, Qt::Window)
        , m_sessions(sessions)
        , m_model(new FrameTableModel(this))
        , m_proxy(new FrameFilterProxy(this))
        , m_sessionList(new QTreeWidget(this))
        , m_direction(new QComboBox(this))
        , m_type(new QComboBox(this))
        , m_search(new QLineEdit(this))
        , m_table(new QTableView(this))
        , m_detail(new QPlainTextEdit(this))
        , m_counters(new QLabel(this))
        , m_comparison(new QLabel(this))
    {
        setObjectName(QStringLiteral("frameInspector"));
        setAttribute(Qt::WA_DeleteOnClose);
        setWindowTitle(tr("Frames"));

        m_sessionList->setObjectName(QStringLiteral("frameSessions"));
        m_sessionList->setAccessibleName(tr("Sessions"));
        m_sessionList->setRootIsDecorated(false);
        m_sessionList->setUniformRowHeights(true);
        m_sessionList->setHeaderLabels({tr("Session"), tr("Mode"), tr("State"), tr("Frames"), tr("Events"),
                                        tr("Event bytes"), tr("Wire in"), tr("Wire out")});
        m_sessionList->header()->setSectionResizeMode(QHeaderView::ResizeToContents);
        m_sessionList->header()->setStretchLastSection(false);

        m_direction->setObjectName(QStringLiteral("directionFilter"));
        m_direction->setAccessibleName(tr("Direction"));
        m_direction->addItem(tr("In and out"));
        m_direction->addItem(tr("In (from the gateway)"), QVariant::fromValue(int(Transport::FrameDirection::In)));
        m_direction->addItem(tr("Out (from the console)"), QVariant::fromValue(int(Transport::FrameDirection::Out)));
        m_type->setObjectName(QStringLiteral("typeFilter"));
        m_type->setAccessibleName(tr("Message type"));
        m_type->addItem(tr("Every message"));
        for (const QLatin1StringView name :
             {Protocol::Names::NewCheckpoint, Protocol::Names::LockStatus, Protocol::Names::RunStatus,
              Protocol::Names::StartRequest, Protocol::Names::Subscribe, Protocol::Names::Heartbeat,
              Protocol::Names::StopWorkflow, Protocol::Names::ActionResponse})
            m_type->addItem(QString(name), QString(name));
        for (const Transport::FrameKind kind :
             {Transport::FrameKind::Ping, Transport::FrameKind::Pong, Transport::FrameKind::Close})
            m_type->addItem(Transport::toString(kind), Transport::toString(kind));
        m_search->setObjectName(QStringLiteral("frameSearch"));
        m_search->setAccessibleName(tr("Search the frames"));
        m_search->setPlaceholderText(tr("Search payloads…"));
        m_search->setClearButtonEnabled(true);

        m_proxy->setSourceModel(m_model);
        m_table->setObjectName(QStringLiteral("frameTable"));
        m_table->setAccessibleName(tr("Frames"));
        m_table->setModel(m_proxy);
        m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
        m_table->setSelectionMode(QAbstractItemView::SingleSelection);
        m_table->setWordWrap(false);
        m_table->verticalHeader()->hide();
        // Fixed row heights and column widths: no pass over every row (100 000 of them).
        m_table->verticalHeader()->setSectionResizeMode(QHeaderView::Fixed);
        m_table->verticalHeader()->setDefaultSectionSize(fontMetrics().height() + 6);
        QHeaderView *columns = m_table->horizontalHeader();
        columns->setStretchLastSection(true);
        const int digit = fontMetrics().horizontalAdvance(QLatin1Char('0'));
        m_table->setColumnWidth(FrameTableModel::SequenceColumn, digit * 8);
        m_table->setColumnWidth(FrameTableModel::TimeColumn,
                                fontMetrics().horizontalAdvance(QStringLiteral("00:00:00.000")) + digit * 2);
        // The header is bold: measure its title in its own font.
        m_table->setColumnWidth(FrameTableModel::DirectionColumn,
                                std::max(fontMetrics().horizontalAdvance(tr("→ out")),
                                         QFontMetrics(columns->font()).horizontalAdvance(tr("Direction"))) +
                                    (digit * 4));
        m_table->setColumnWidth(FrameTableModel::KindColumn, digit * 7);
        m_table->setColumnWidth(FrameTableModel::SizeColumn, digit * 10);
        m_table->setColumnWidth(FrameTableModel::TypeColumn,
                                fontMetrics().horizontalAdvance(QStringLiteral("newCheckpoint")) + digit * 2);

        m_detail->setObjectName(QStringLiteral("frameDetail"));
        m_detail->setAccessibleName(tr("The selected frame"));
        m_detail->setReadOnly(true);
        m_detail->setLineWrapMode(QPlainTextEdit::NoWrap);
        m_detail->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
        m_detail->setPlaceholderText(tr("Select a frame to see it whole."));

        m_counters->setObjectName(QStringLiteral("sessionCounters"));
        m_counters->setAccessibleName(tr("Session bytes"));
        m_counters->setTextInteractionFlags(Qt::TextSelectableByMouse);
        m_counters->setWordWrap(true);
        m_comparison->setObjectName(QStringLiteral("eventComparison"));
        m_comparison->setAccessibleName(tr("Incremental against legacy event bytes"));
        m_comparison->setTextInteractionFlags(Qt::TextSelectableByMouse);
        m_comparison->setWordWrap(true);

        auto *filters = new QHBoxLayout;
        filters->addWidget(m_direction);
        filters->addWidget(m_type);
        filters->addWidget(m_search, 1);

        auto *framesPane = new QWidget(this);
        auto *framesLayout = new QVBoxLayout(framesPane);
        framesLayout->setContentsMargins(0, 0, 0, 0);
        framesLayout->addLayout(filters);
        auto *tableSplit = new QSplitter(Qt::Vertical, framesPane);
        tableSplit->addWidget(m_table);
        tableSplit->addWidget(m_detail);
        tableSplit->setStretchFactor(0, 3);
        tableSplit->setStretchFactor(1, 2);
        tableSplit->setChildrenCollapsible(false);
        framesLayout->addWidget(tableSplit, 1);

        // Sessions and counters keep their height; the frames and the detail share the rest.
        m_sessionList->setMaximumHeight(m_sessionList->header()->sizeHint().height() +
                                        (7 * (fontMetrics().height() + 4)));
        auto *layout = new QVBoxLayout(this);
        layout->addWidget(m_sessionList);
        layout->addWidget(m_counters);
        layout->addWidget(m_comparison);
        layout->addWidget(framesPane, 1);
        resize(std::max(1200, fontMetrics().averageCharWidth() * 170), std::max(820, fontMetrics().height() * 52));

        connect(m_direction, &QComboBox::currentIndexChanged, this, [this] {
            const QVariant value = m_direction->currentData();
            m_proxy->setDirection(value.isValid() ? std::optional(static_cast<Transport::FrameDirection>(value.toInt()))
                                                  : std::nullopt);
        });
        connect(m_type, &QComboBox::currentIndexChanged, this,
                [this] { m_proxy->setMessageType(m_type->currentData().toString()); });
        // Searching 100 000 payloads takes a moment: once typing pauses.
        m_searchDelay.setSingleShot(true);
        m_searchDelay.setInterval(200);
        connect(m_search, &QLineEdit::textChanged, this, [this] { m_searchDelay.start(); });
        connect(&m_searchDelay, &QTimer::timeout, this, [this] { m_proxy->setSearchText(m_search->text()); });
        connect(m_table->selectionModel(), &QItemSelectionModel::currentRowChanged, this, &FrameInspector::showDetail);
        connect(m_table->verticalScrollBar(), &QScrollBar::valueChanged, this,
                [this](const int value) { m_follow = (value == m_table->verticalScrollBar()->maximum()); });
        connect(m_proxy, &QAbstractItemModel::rowsInserted, this, [this] {
            if (m_follow)
                m_table->scrollToBottom();
            scheduleRefresh();
        });
        connect(m_sessionList, &QTreeWidget::currentItemChanged, this, [this](QTreeWidgetItem *item) {
            if (!item || !m_sessions)
                return;
            const auto *chosen = static_cast<const FrameSession *>(item->data(0, Qt::UserRole).value<void *>());
            for (const auto &session : m_sessions->sessions())
            {
                if ((session.get() == chosen) && (session != m_model->session()))
                {
                    selectSession(session);
                    return;
                }
            }
        });
        m_refresh.setSingleShot(true);
        m_refresh.setInterval(250);
        connect(&m_refresh, &QTimer::timeout, this, [this] {
            refreshSessions();
            refreshCounters();
        });
        if (m_sessions)
        {
            connect(m_sessions, &FrameSessionList::sessionsChanged, this, &FrameInspector::scheduleRefresh);
            // The newest session is the interesting one when the window opens.
            if (!m_sessions->sessions().empty())
                selectSession(m_sessions->sessions().back());
        }
        refreshSessions();
        refreshCounters();
    }

    FrameInspector::~FrameInspector() = default;

    void FrameInspector::selectSession(const std::shared_ptr<FrameSession> &session)
    {
        if (const auto previous = m_model->session())
            previous->disconnect(this);
        m_model->setSession(session);
        m_detail->clear();
        m_follow = true;
        m_table->scrollToBottom();
        if (session)
        {
            setWindowTitle(tr("Frames — %1").arg(session->label()));
            connect(session.get(), &FrameSession::changed, this, &FrameInspector::scheduleRefresh);
        }
        refreshSessions();
        refreshCounters();
    }

    std::shared_ptr<FrameSession> FrameInspector::currentSession() const
    {
        return m_model->session();
    }

    FrameTableModel *FrameInspector::frameModel() const
    {
        return m_model;
    }

    FrameFilterProxy *FrameInspector::filterModel() const
    {
        return m_proxy;
    }

    QTableView *FrameInspector::frameView() const
    {
        return m_table;
    }

    QString FrameInspector::countersText() const
    {
        return m_counters->text();
    }

    QString FrameInspector::comparisonText() const
    {
        return m_comparison->text();
    }

    QString FrameInspector::detailText() const
    {
        return m_detail->toPlainText();
    }

    void FrameInspector::scheduleRefresh()
    {
        if (!m_refresh.isActive())
            m_refresh.start();
    }

    void FrameInspector::refreshSessions()
    {
        const QSignalBlocker blocker(m_sessionList);
        m_sessionList->clear();
        if (!m_sessions)
            return;
        for (const auto &session : m_sessions->sessions())
        {
            auto *item = new QTreeWidgetItem(m_sessionList);
            item->setData(0, Qt::UserRole, QVariant::fromValue(static_cast<void *>(session.get())));
            item->setText(SessionName, session->label());
            item->setText(SessionMode, modeText(*session));
            item->setText(SessionState, session->isOpen() ? tr("open") : session->endText());
            item->setToolTip(SessionState, item->text(SessionState));
            const Transport::FrameLog::Totals &totals = session->log().totals();
            item->setText(SessionFrames, bytes(totals.framesIn + totals.framesOut));
            item->setText(SessionEvents, bytes(session->events()));
            item->setText(SessionEventBytes, bytes(session->eventBytes()));
            item->setText(SessionWireIn, bytes(session->wireBytesIn()));
            item->setText(SessionWireOut, bytes(session->wireBytesOut()));
            for (const int column : {SessionFrames, SessionEvents, SessionEventBytes, SessionWireIn, SessionWireOut})
                item->setTextAlignment(column, Qt::AlignRight | Qt::AlignVCenter);
            if (session == m_model->session())
                m_sessionList->setCurrentItem(item);
        }
    }

    void FrameInspector::refreshCounters()
    {
        const std::shared_ptr<FrameSession> session = m_model->session();
        if (!session)
        {
            m_counters->setText(tr("No session yet: the tab's connections appear here."));
        }
        else
        {
            const Transport::FrameLog &log = session->log();
            const Transport::FrameLog::Totals &totals = log.totals();
            QStringList lines;
            lines << tr("%1 (%2) — %3")
                         .arg(session->label(), modeText(*session),
                              session->isOpen() ? tr("open") : session->endText());
            lines << tr("Frames: %1 in · %2 out · %3 pings · %4 pongs (the newest %5 kept, %6 dropped)")
                         .arg(bytes(totals.framesIn), bytes(totals.framesOut), bytes(totals.pings), bytes(totals.pongs),
                              bytes(log.capacity()), bytes(log.evicted()));
            lines
                << tr("Payload bytes: %1 in · %2 out").arg(bytes(totals.payloadBytesIn), bytes(totals.payloadBytesOut));
            lines << tr("Wire bytes: %1 in · %2 out (upgrade, frame headers, masks and TLS included)")
                         .arg(bytes(session->wireBytesIn()), bytes(session->wireBytesOut()));
            lines << tr("Event bytes (newCheckpoint): %1 in %2 events")
                         .arg(bytes(session->eventBytes()), bytes(session->events()));
            m_counters->setText(lines.join(u'\n'));
        }

        // Incremental against legacy: the newest session of each kind that received events.
        std::shared_ptr<FrameSession> incremental;
        std::shared_ptr<FrameSession> legacy;
        if (m_sessions)
        {
            for (const auto &candidate : m_sessions->sessions())
            {
                if (candidate->events() == 0)
                    continue;
                (candidate->isLegacy() ? legacy : incremental) = candidate;
            }
        }
        if (incremental && legacy)
        {
            const double perIncremental =
                static_cast<double>(incremental->eventBytes()) / static_cast<double>(incremental->events());
            const double perLegacy = static_cast<double>(legacy->eventBytes()) / static_cast<double>(legacy->events());
            m_comparison->setText(tr("Event bytes, incremental against legacy: %1  |  %2  —  legacy sends %3× the "
                                     "bytes per event")
                                      .arg(eventLine(*incremental), eventLine(*legacy))
                                      .arg(QLocale().toString(perLegacy / perIncremental, 'f', 1)));
        }
        else if (legacy || incremental)
        {
            m_comparison->setText(
                tr("Event bytes: %1. To compare, send a message with “Legacy events” %2 in the tab.")
                    .arg(eventLine(legacy ? *legacy : *incremental), legacy ? tr("unticked") : tr("ticked")));
        }
        else
        {
            m_comparison->setText(tr("No events (newCheckpoint) received yet."));
        }
    }

    void FrameInspector::showDetail()
    {
        const QModelIndex index = m_proxy->mapToSource(m_table->currentIndex());
        const Transport::FrameRecord *frame = m_model->frameAt(index.row());
        if (!frame)
        {
            m_detail->clear();
            return;
        }
        m_detail->setPlainText(FrameTableModel::detail(*frame));
    }
}  // namespace Lockstep::Ui
