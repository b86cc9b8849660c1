#include "workflowtab.h"

#include <QApplication>
#include <QCheckBox>
#include <QHBoxLayout>
#include <QKeyEvent>
#include <QLabel>
#include <QListWidget>
#include <QLocale>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSplitter>
#include <QTabWidget>
#include <QToolButton>
#include <QVBoxLayout>

#include "cancelconfirmation.h"
#include "chatlogdelegate.h"
#include "chatlogmodel.h"
#include "chatlogview.h"
#include "common/logging.h"
#include "elidedlabel.h"
#include "frameinspector.h"
#include "historyview.h"
#include "lockpanel.h"
#include "locktimeline.h"
#include "locktracker.h"
#include "protocol/closecode.h"
#include "theme.h"

namespace Lockstep::Ui
{
    namespace
    {
        void setTone(QLabel *label, const Theme::Tone tone, const bool filled)
        {
            const QPalette base = QApplication::palette(label);
            QPalette palette = label->palette();
            palette.setColor(QPalette::WindowText, (tone == Theme::Tone::Neutral) ? base.color(QPalette::WindowText)
                                                                                  : Theme::toneColor(tone, base));
            if (filled)
                palette.setColor(QPalette::Window, Theme::toneBackground(tone, base));
            label->setPalette(palette);
            label->setAutoFillBackground(filled);
        }

        Theme::Tone connectionTone(const ConnectionStatus &status)
        {
            switch (status.state)
            {
            case ConnectionState::Connected: return Theme::Tone::Good;
            case ConnectionState::Connecting:
            case ConnectionState::Reconnecting: return Theme::Tone::Warning;
            case ConnectionState::Closed:
                if (status.closeCode == quint16(CloseCode::Normal))
                    return Theme::Tone::Neutral;
                // Someone else is driving: a fact to know, not a fault.
                return (status.closeCode == quint16(CloseCode::TryAgainLater)) ? Theme::Tone::Warning
                                                                               : Theme::Tone::Bad;
            case ConnectionState::Idle: break;
            }
            return Theme::Tone::Neutral;
        }
    }  // namespace

    QString toString(const TabAction action)
    {
        switch (action)
        {
        case TabAction::Resume: return QStringLiteral("Resume");
        case TabAction::Send: return QStringLiteral("Send");
        case TabAction::Cancel: return QStringLiteral("Cancel");
        case TabAction::Approve: return QStringLiteral("Approve");
        case TabAction::Reject: return QStringLiteral("Reject");
        }
        return {};
    }

    QString WorkflowTab::recordText(const Record &record)
    {
        return QStringLiteral("%1: %2").arg(toString(record.action), outcomeText(record.outcome));
    }

    WorkflowTab::WorkflowTab(const TabContext &context, const QString &workflowId, QWidget *parent)
        : QWidget(parent)
        , m_context(context)
        , m_workflowId(workflowId)
        , m_model(new ChatLogModel(this))
        , m_view(new ChatLogView(m_model, this))
        , m_lock(context.lock ? context.lock : new LockTracker(this))
        , m_lockPanel(new LockPanel(m_lock, this))
        , m_live(new LiveConnection(context.endpoint, workflowId, context.backoff, context.random, this))
        , m_title(new QLabel(this))
        , m_statusIcon(new QLabel(this))
        , m_status(new QLabel(this))
        , m_goal(new ElidedLabel(this))
        , m_latest(new ElidedLabel(this))
        , m_liveLabel(new QLabel(this))
        , m_driveLabel(new QLabel(this))
        , m_outcome(new QLabel(this))
        , m_historyList(new QListWidget(this))
        , m_composer(new QPlainTextEdit(this))
        , m_sendButton(new QPushButton(tr("&Send"), this))
        , m_resumeButton(new QPushButton(tr("&Resume"), this))
        , m_cancelButton(new QPushButton(tr("&Cancel run…"), this))
        , m_newTabButton(new QPushButton(tr("Open in &new tab"), this))
        , m_framesButton(new QPushButton(tr("Fra&mes…"), this))
        , m_legacyEvents(new QCheckBox(tr("Legacy events (no incremental_streaming)"), this))
        , m_frameSessions(new FrameSessionList(this))
        , m_lockWatchBackoff(context.backoff, context.random)
    {
        setObjectName(QStringLiteral("workflowTab"));
        if (!context.lock)
        {
            m_lock->setWorkflowDeadline(context.workflowDeadline);
            m_lock->setSource(context.api, workflowId);
        }

        // ---- header ----
        m_title->setObjectName(QStringLiteral("workflowIdLabel"));
        m_title->setText(workflowId);
        m_title->setTextInteractionFlags(Qt::TextSelectableByMouse | Qt::TextSelectableByKeyboard);
        QFont titleFont = m_title->font();
        titleFont.setBold(true);
        titleFont.setPointSizeF(titleFont.pointSizeF() * 1.15);
        m_title->setFont(titleFont);
        m_status->setObjectName(QStringLiteral("runStatusLabel"));
        m_status->setAccessibleName(tr("Run status"));
        m_goal->setObjectName(QStringLiteral("goalLabel"));
        m_goal->setAccessibleName(tr("Goal"));
        m_latest->setObjectName(QStringLiteral("latestMessageLabel"));
        m_latest->setAccessibleName(tr("Latest message"));
        m_latest->hide();

        m_resumeButton->setObjectName(QStringLiteral("resumeButton"));
        m_resumeButton->setAccessibleName(tr("Resume"));
        m_resumeButton->setToolTip(tr("Resume the run (Ctrl+R): a startRequest with an empty goal"));
        m_cancelButton->setObjectName(QStringLiteral("cancelButton"));
        m_cancelButton->setToolTip(tr("Cancel the run (Ctrl+Shift+K); asks first"));
        m_newTabButton->setObjectName(QStringLiteral("newTabButton"));
        m_newTabButton->setToolTip(
            tr("Open this workflow again in a second tab, on its own connection (Ctrl+Shift+T)"));
        m_framesButton->setObjectName(QStringLiteral("framesButton"));
        m_framesButton->setToolTip(tr("Every frame of this tab's sessions, their bytes and close codes"));
        m_legacyEvents->setObjectName(QStringLiteral("legacyEventsBox"));
        m_legacyEvents->setToolTip(tr("Resume and Send ask for the full checkpoint in every event, as old clients "
                                      "did; the frame inspector compares the bytes"));
        m_frameSessions->setFrameCapacity(context.maxFrames);
        m_live->setFrameCapacity(context.maxFrames);
        connect(m_live, &LiveConnection::frameSessionStarted, m_frameSessions, &FrameSessionList::add);
        connect(m_framesButton, &QPushButton::clicked, this, &WorkflowTab::openFrameInspector);
        for (QPushButton *button : {m_resumeButton, m_cancelButton, m_newTabButton, m_sendButton, m_framesButton})
            button->setAutoDefault(false);

        auto *header = new QHBoxLayout;
        header->addWidget(m_title);
        header->addWidget(m_statusIcon);
        header->addWidget(m_status);
        header->addStretch(1);
        header->addWidget(m_resumeButton);
        header->addWidget(m_cancelButton);
        header->addWidget(m_newTabButton);
        header->addWidget(m_framesButton);

        // ---- connection lines and the outcome banner ----
        m_liveLabel->setObjectName(QStringLiteral("liveConnectionLabel"));
        m_liveLabel->setAccessibleName(tr("Live connection"));
        m_liveLabel->setWordWrap(true);
        m_driveLabel->setObjectName(QStringLiteral("driveConnectionLabel"));
        m_driveLabel->setAccessibleName(tr("Driving session"));
        m_driveLabel->setWordWrap(true);
        m_outcome->setObjectName(QStringLiteral("outcomeLabel"));
        m_outcome->setAccessibleName(tr("Last outcome"));
        m_outcome->setWordWrap(true);
        m_outcome->setTextInteractionFlags(Qt::TextSelectableByMouse | Qt::TextSelectableByKeyboard);
        m_outcome->setMargin(fontMetrics().height() / 3);
        // The banner can be dismissed; the outcome stays in History.
        m_outcomeRow = new QWidget(this);
        auto *outcomeLayout = new QHBoxLayout(m_outcomeRow);
        outcomeLayout->setContentsMargins(0, 0, 0, 0);
        outcomeLayout->addWidget(m_outcome, 1);
        auto *dismiss = new QToolButton(m_outcomeRow);
        dismiss->setObjectName(QStringLiteral("dismissOutcomeButton"));
        dismiss->setAccessibleName(tr("Dismiss the last outcome"));
        dismiss->setToolTip(tr("Dismiss (the outcome stays in History)"));
        dismiss->setText(QStringLiteral("×"));
        dismiss->setAutoRaise(true);
        connect(dismiss, &QToolButton::clicked, m_outcomeRow, &QWidget::hide);
        outcomeLayout->addWidget(dismiss, 0, Qt::AlignTop);
        m_outcomeRow->hide();

        // ---- chat log | lock and history ----
        m_historyList->setObjectName(QStringLiteral("outcomeHistory"));
        m_historyList->setAccessibleName(tr("Outcome history"));
        m_historyList->setWordWrap(true);
        auto *side = new QTabWidget(this);
        side->setObjectName(QStringLiteral("sideTabs"));
        side->addTab(m_lockPanel, tr("&Lock"));
        side->addTab(new LockTimeline(m_lock, side), tr("&Timeline"));
        if (context.history)
        {
            // The stored history (across restarts) replaces the session-only list.
            m_historyList->hide();
            side->addTab(new HistoryView(context.history, workflowId, side), tr("&History"));
        }
        else
            side->addTab(m_historyList, tr("&History"));
        auto *splitter = new QSplitter(Qt::Horizontal, this);
        splitter->addWidget(m_view);
        splitter->addWidget(side);
        splitter->setStretchFactor(0, 3);
        splitter->setStretchFactor(1, 1);
        splitter->setChildrenCollapsible(false);

        // ---- composer ----
        m_composer->setObjectName(QStringLiteral("composer"));
        m_composer->setAccessibleName(tr("Next message"));
        m_composer->setPlaceholderText(tr("Type the next message for the agent… (Ctrl+Enter sends)"));
        m_composer->setTabChangesFocus(true);
        m_composer->setFixedHeight((fontMetrics().lineSpacing() * 3) + (2 * m_composer->frameWidth()) + 8);
        m_sendButton->setObjectName(QStringLiteral("sendButton"));
        m_sendButton->setToolTip(tr("Send the message (Ctrl+Enter): a startRequest with it as the goal"));
        auto *composerRow = new QHBoxLayout;
        composerRow->addWidget(m_composer, 1);
        auto *sendColumn = new QVBoxLayout;
        sendColumn->addStretch(1);
        sendColumn->addWidget(m_legacyEvents);
        sendColumn->addWidget(m_sendButton, 0, Qt::AlignRight);
        composerRow->addLayout(sendColumn);

        auto *layout = new QVBoxLayout(this);
        layout->addLayout(header);
        layout->addWidget(m_goal);
        layout->addWidget(m_latest);
        layout->addWidget(m_liveLabel);
        layout->addWidget(m_driveLabel);
        layout->addWidget(m_outcomeRow);
        layout->addWidget(splitter, 1);
        layout->addLayout(composerRow);

        setTabOrder(m_view, m_composer);
        setTabOrder(m_composer, m_sendButton);
        setTabOrder(m_sendButton, m_resumeButton);
        setTabOrder(m_resumeButton, m_cancelButton);
        setTabOrder(m_cancelButton, m_newTabButton);
        setTabOrder(m_newTabButton, m_framesButton);
        setTabOrder(m_framesButton, side);

        // Ctrl+Enter sends; plain Enter is a new line.
        m_composer->installEventFilter(this);
        connect(m_sendButton, &QPushButton::clicked, this, &WorkflowTab::send);
        connect(m_resumeButton, &QPushButton::clicked, this, &WorkflowTab::resume);
        connect(m_cancelButton, &QPushButton::clicked, this, &WorkflowTab::requestCancel);
        connect(m_newTabButton, &QPushButton::clicked, this, [this] { emit openInNewTabRequested(m_workflowId); });

        // ---- live events ----
        connect(m_live, &LiveConnection::statusChanged, this, [this](const ConnectionStatus &status) {
            const bool connected = (status.state == ConnectionState::Connected);
            if (connected)
                m_liveLostAt.reset();
            else if (std::exchange(m_liveUp, false))
                m_liveLostAt = QDateTime::currentDateTime();
            m_liveUp = connected;
            if (m_lock)
                m_lock->setFeedConnected(this, connected);
            refreshConnectionLabels();
            refreshStatusLabel();
        });
        connect(m_live, &LiveConnection::entriesReceived, this,
                [this](const QList<Protocol::ChatLogEntry> &entries) { m_model->enqueue(entries); });
        connect(m_model, &ChatLogModel::batchApplied, this, &WorkflowTab::refreshFromLog);
        connect(m_model, &QAbstractItemModel::modelReset, this, &WorkflowTab::refreshFromLog);
        connect(m_view, &ChatLogView::requestAnswered, this, &WorkflowTab::answerRequest);
        connect(m_live, &LiveConnection::runStatusSeen, this, &WorkflowTab::setRunStatus);
        connect(m_live, &LiveConnection::lockStatusReceived, m_lock, &LockTracker::apply);
        connect(m_lock, &LockTracker::changed, this, &WorkflowTab::onLockChanged);

        m_countdown.setInterval(500);
        connect(&m_countdown, &QTimer::timeout, this, &WorkflowTab::refreshConnectionLabels);
        m_lockWatchTimer.setSingleShot(true);
        connect(&m_lockWatchTimer, &QTimer::timeout, this, &WorkflowTab::checkLock);

        refreshStatusLabel();
        refreshConnectionLabels();
        m_live->start();
        m_lock->reconcile();
        refreshDriving();
        if (m_context.api)
        {
            m_context.api->getWorkflow(workflowId, this, [this](ApiResult<RunInfo> run) {
                if (!run)
                    return;
                setGoal(run->goal);
                if (run->status && !m_runStatus)
                    setRunStatus(*run->status, run->reason);
            });
        }
    }

    bool WorkflowTab::eventFilter(QObject *watched, QEvent *event)
    {
        if ((watched == m_composer) && (event->type() == QEvent::KeyPress))
        {
            const auto *key = static_cast<QKeyEvent *>(event);
            if (((key->key() == Qt::Key_Return) || (key->key() == Qt::Key_Enter)) &&
                key->modifiers().testFlag(Qt::ControlModifier))
            {
                send();
                return true;
            }
        }
        return QWidget::eventFilter(watched, event);
    }

    void WorkflowTab::changeEvent(QEvent *event)
    {
        QWidget::changeEvent(event);
        if (event->type() != QEvent::PaletteChange)
            return;
        // The labels carry tone colours picked from the old palette: pick them again
        // (a theme switch must not leave dark text on a dark ground).
        refreshStatusLabel();
        refreshConnectionLabels();
        if (!m_history.isEmpty())
            setTone(m_outcome, outcomeTone(m_history.constLast().outcome.kind), true);
        for (int row = 0; row < m_historyList->count(); ++row)
        {
            QListWidgetItem *item = m_historyList->item(row);
            const int index = m_historyList->count() - 1 - row;  // newest on top
            if ((index >= 0) && (index < m_history.size()))
                item->setForeground(Theme::toneColor(outcomeTone(m_history.at(index).outcome.kind), palette()));
        }
        // Rendered entries may hold colours of the old palette.
        m_view->chatDelegate()->resetCache();
        m_view->viewport()->update();
    }

    WorkflowTab::~WorkflowTab()
    {
        // Closing a tab closes its sessions; a driven run pauses at its next step.
        m_live->disconnect(this);
        m_live->stop();
        if (m_lock)
        {
            m_lock->disconnect(this);
            m_lock->setFeedConnected(this, false);
        }
    }

    QString WorkflowTab::workflowId() const
    {
        return m_workflowId;
    }

    std::optional<RunStatus> WorkflowTab::runStatus() const
    {
        return m_runStatus;
    }

    QString WorkflowTab::title() const
    {
        // Enough of the ID to tell runs apart; the tooltip has it whole.
        const QString shortId = (m_workflowId.size() <= 12) ? m_workflowId : m_workflowId.left(8) + QStringLiteral("…");
        if (m_goalText.isEmpty())
            return shortId;
        const QString goal = m_goalText.simplified();
        constexpr qsizetype GoalChars = 22;
        const QString start =
            (goal.size() <= GoalChars) ? goal : goal.left(GoalChars - 1).trimmed() + QStringLiteral("…");
        return QStringLiteral("%1 · %2").arg(start, shortId);
    }

    QString WorkflowTab::titleToolTip() const
    {
        if (m_goalText.isEmpty())
            return m_workflowId;
        return tr("%1\nGoal: %2").arg(m_workflowId, m_goalText.left(300));
    }

    QString WorkflowTab::goalText() const
    {
        return m_goalText;
    }

    QString WorkflowTab::latestMessageText() const
    {
        return m_latest->isHidden() ? QString() : m_latest->fullText();
    }

    void WorkflowTab::setGoal(const QString &goal)
    {
        if (goal.isEmpty() || (goal == m_goalText))
            return;
        m_goalText = goal;
        m_goal->setFullText(tr("Goal: "), goal);
        refreshFromLog();
        emit titleChanged();
    }

    QString WorkflowTab::answerableRequest() const
    {
        const bool waits =
            (m_runStatus == RunStatus::PlanApprovalRequired) || (m_runStatus == RunStatus::ToolCallApprovalRequired);
        return waits ? m_model->pendingRequestId() : QString();
    }

    void WorkflowTab::refreshFromLog()
    {
        // A run created from this tab has no goal from the API yet: its first message is the goal.
        if (m_goalText.isEmpty())
            setGoal(m_model->firstUserMessage());
        const QString latest = m_model->latestUserMessage();
        if (!latest.isEmpty() && (latest != m_goalText))
        {
            m_latest->setFullText(tr("Latest message: "), latest);
            m_latest->show();
        }
        else
            m_latest->hide();
        const bool driving = isDriving();
        m_view->setAnswerableRequest(answerableRequest(), !driving,
                                     driving ? tr("This tab is driving the run: its session has to end first")
                                             : QString());
    }

    ChatLogModel *WorkflowTab::chatModel() const
    {
        return m_model;
    }

    ChatLogView *WorkflowTab::chatView() const
    {
        return m_view;
    }

    LockTracker *WorkflowTab::lockTracker() const
    {
        return m_lock;
    }

    LockPanel *WorkflowTab::lockPanel() const
    {
        return m_lockPanel;
    }

    FrameSessionList *WorkflowTab::frameSessions() const
    {
        return m_frameSessions;
    }

    FrameInspector *WorkflowTab::openFrameInspector()
    {
        if (!m_inspector)
        {
            m_inspector = new FrameInspector(m_frameSessions, this);
            m_inspector->setWindowTitle(tr("Frames — %1").arg(m_workflowId));
        }
        m_inspector->show();
        m_inspector->raise();
        m_inspector->activateWindow();
        return m_inspector;
    }

    LiveConnection *WorkflowTab::liveConnection() const
    {
        return m_live;
    }

    const QList<WorkflowTab::Record> &WorkflowTab::history() const
    {
        return m_history;
    }

    QString WorkflowTab::outcomeBannerText() const
    {
        return m_outcomeRow->isHidden() ? QString() : m_outcome->text();
    }

    QString WorkflowTab::liveConnectionText() const
    {
        return m_liveLabel->text();
    }

    QString WorkflowTab::driveConnectionText() const
    {
        return m_driveLabel->text();
    }

    QMessageBox *WorkflowTab::cancelConfirmation() const
    {
        return m_confirm;
    }

    void WorkflowTab::focusComposer()
    {
        m_composer->setFocus(Qt::ShortcutFocusReason);
    }

    void WorkflowTab::reconnect()
    {
        m_live->reconnectNow();
    }

    void WorkflowTab::gatewayBack()
    {
        m_live->reconnectNow();
        if (m_lockWatchTimer.isActive())
        {
            m_lockWatchTimer.stop();
            checkLock();
        }
        m_lock->reconcile();
    }

    const QSet<QString> &WorkflowTab::ownHolders() const
    {
        return m_ownHolders;
    }

    bool WorkflowTab::isDriving() const
    {
        for (const DriveSession *drive : m_drives)
        {
            if (drive->isAccepted() && drive->isActive())
                return true;
        }
        return false;
    }

    void WorkflowTab::resume()
    {
        if (isDriving())
        {
            // A second startRequest would only race this tab's own session (1013).
            record(TabAction::Resume,
                   ActionOutcome{.kind = OutcomeKind::DrivingHere, .at = QDateTime::currentDateTime()});
            return;
        }
        startDrive(TabAction::Resume, {});
    }

    void WorkflowTab::send()
    {
        const QString text = m_composer->toPlainText().trimmed();
        if (text.isEmpty())
        {
            focusComposer();
            return;
        }
        m_composer->clear();
        sendMessage(text);
    }

    void WorkflowTab::sendMessage(const QString &text)
    {
        if (isDriving())
        {
            if (m_composer->toPlainText().trimmed().isEmpty())
                m_composer->setPlainText(text);
            record(TabAction::Send,
                   ActionOutcome{.kind = OutcomeKind::DrivingHere, .at = QDateTime::currentDateTime()});
            return;
        }
        startDrive(TabAction::Send, text);
    }

    void WorkflowTab::startNew(const QString &goal, const QJsonObject &metadata)
    {
        if (isDriving())
            return;
        startDrive(TabAction::Send, goal, metadata);
    }

    void WorkflowTab::answerRequest(const QString &requestId, const bool approve)
    {
        const TabAction action = approve ? TabAction::Approve : TabAction::Reject;
        if (isDriving())
        {
            record(action, ActionOutcome{.kind = OutcomeKind::DrivingHere, .at = QDateTime::currentDateTime()});
            return;
        }
        // The gateway checks that the run still waits for this request (else 4400).
        startDrive(
            action, {}, {},
            QJsonObject{{QStringLiteral("decision"), approve ? QStringLiteral("approved") : QStringLiteral("rejected")},
                        {QStringLiteral("requestID"), requestId}});
    }

    void WorkflowTab::startDrive(const TabAction action, const QString &goal, const QJsonObject &metadata,
                                 const QJsonObject &approval)
    {
        auto *drive = new DriveSession(m_context.endpoint, m_workflowId, goal, m_live->lastSeq(), this);
        drive->setWorkflowMetadata(metadata);
        drive->setApproval(approval);
        drive->setCapabilities(m_legacyEvents->isChecked() ? QStringList() : ProtocolSocket::defaultCapabilities());
        drive->setFrameCapacity(m_frameSessions->frameCapacity());
        connect(drive, &DriveSession::frameSessionStarted, m_frameSessions, &FrameSessionList::add);
        m_drives.append(drive);
        m_lastDrive = drive;
        m_lockWatchTimer.stop();
        m_lockWatchNote.clear();
        connect(drive, &DriveSession::statusChanged, this, [this] { refreshConnectionLabels(); });
        connect(drive, &DriveSession::entriesReceived, this,
                [this](const QList<Protocol::ChatLogEntry> &entries) { m_model->enqueue(entries); });
        connect(drive, &DriveSession::runStatusSeen, this, &WorkflowTab::setRunStatus);
        connect(drive, &DriveSession::lockStatusReceived, m_lock, &LockTracker::apply);
        // The acquisition this session made is this tab's own: its first "acquired",
        // kept once the gateway accepts the session (a 1013 never acquired).
        auto candidate = std::make_shared<QString>();
        connect(drive, &DriveSession::lockStatusReceived, this, [drive, candidate](const Protocol::LockStatus &status) {
            if ((status.state == Protocol::LockState::Acquired) && !drive->isAccepted() && candidate->isEmpty())
                *candidate = status.holder;
        });
        connect(drive, &DriveSession::accepted, this, [this, action, candidate] {
            if (!candidate->isEmpty())
            {
                m_ownHolders.insert(*candidate);
                m_lockPanel->setOwnHolders(m_ownHolders);
            }
            // A run created by this message exists now: its live view can start again.
            if (m_live->status().state == ConnectionState::Closed)
                m_live->reconnectNow();
            refreshDriving();
            m_lockWatchBackoff.reset();
            refreshConnectionLabels();
            record(action,
                   ActionOutcome{.kind = (action == TabAction::Send) ? OutcomeKind::MessageSent : OutcomeKind::Resumed,
                                 .at = QDateTime::currentDateTime()});
        });
        connect(drive, &DriveSession::ended, this,
                [this, drive, action](const DriveSession::End &end) { onDriveEnded(drive, action, end); });
        qCInfo(lcUi).noquote() << "tab" << m_workflowId << toString(action)
                               << (goal.isEmpty() ? "(resume)" : "(message)");
        emit driveStarted(drive);
        drive->start();
        refreshConnectionLabels();
    }

    void WorkflowTab::onDriveEnded(DriveSession *drive, const TabAction action, const DriveSession::End &end)
    {
        m_drives.removeAll(drive);
        drive->deleteLater();
        refreshDriving();
        // Whatever the close said, the lock may have changed hands: ask.
        m_lock->reconcile();
        const QString goal = drive->goal();
        const auto restoreMessage = [this, goal, action] {
            // A message that did not go in is not lost: it goes back to the composer.
            if ((action == TabAction::Send) && m_composer->toPlainText().trimmed().isEmpty())
                m_composer->setPlainText(goal);
        };
        refreshConnectionLabels();
        if (end.accepted)
        {
            if (!end.failure)
                emit sessionEnded(m_workflowId, end.close.code, end.close.reason);
            return;
        }
        if (end.failure)
        {
            record(action, ActionOutcome{.kind = OutcomeKind::Failed,
                                         .detail = describeFailure(*end.failure),
                                         .at = QDateTime::currentDateTime()});
            restoreMessage();
            return;
        }
        if (end.close.code == quint16(CloseCode::TryAgainLater))
        {
            restoreMessage();
            m_lock->noteRefusal(m_lock->holder());
            // Ask who holds it (the lock panel may not have heard yet), then say so.
            const QString known = m_lock->holder();
            const auto heldBy = [this, end](const QString &holder) {
                ActionOutcome outcome = outcomeFromClose(end.close.code, end.close.reason, holder);
                outcome.holderIsThisTab = m_ownHolders.contains(holder);
                return outcome;
            };
            if (!m_context.api)
            {
                record(action, heldBy(known));
                startLockWatch();
                return;
            }
            const quint64 askedAt = m_lock->generation();
            m_context.api->getLock(m_workflowId, this,
                                   [this, action, known, askedAt, heldBy](ApiResult<LockInfo> info) {
                                       QString holder = known;
                                       if (info)
                                       {
                                           m_lock->applySnapshot(*info, askedAt);
                                           if (info->held)
                                               holder = info->holder;
                                       }
                                       record(action, heldBy(holder));
                                       startLockWatch();
                                   });
            return;
        }
        record(action, outcomeFromClose(end.close.code, end.close.reason, m_lock->holder()));
        restoreMessage();
    }

    void WorkflowTab::requestCancel()
    {
        if (m_confirm)
        {
            m_confirm->raise();
            return;
        }
        QMessageBox *box = makeCancelConfirmation(m_workflowId, m_runStatus, this);
        connect(box, &QMessageBox::finished, this, [this, box] {
            if (cancelConfirmed(box))
                cancelNow();
        });
        m_confirm = box;
        box->open();
    }

    void WorkflowTab::cancelNow()
    {
        if (!m_context.api)
            return;
        m_cancelButton->setEnabled(false);
        m_context.api->cancel(m_workflowId, this, [this](ActionOutcome outcome) {
            m_cancelButton->setEnabled(true);
            if ((outcome.kind == OutcomeKind::Cancelled))
                setRunStatus(RunStatus::Stopped, QString());
            else if ((outcome.kind == OutcomeKind::NothingToCancel) && outcome.status)
                setRunStatus(*outcome.status, m_runReason);
            record(TabAction::Cancel, std::move(outcome));
        });
    }

    void WorkflowTab::record(const TabAction action, ActionOutcome outcome)
    {
        if (!outcome.at.isValid())
            outcome.at = QDateTime::currentDateTime();
        const Record entry{.action = action, .outcome = outcome};
        m_history.append(entry);
        const QString text = recordText(entry);
        m_outcome->setText(text);
        m_outcome->setToolTip(outcome.at.toString(Qt::ISODate));
        setTone(m_outcome, outcomeTone(outcome.kind), true);
        m_outcomeRow->show();
        auto *item = new QListWidgetItem(
            QStringLiteral("%1  %2").arg(QLocale().toString(outcome.at.time(), QStringLiteral("HH:mm:ss")), text));
        item->setForeground(Theme::toneColor(outcomeTone(outcome.kind), m_historyList->palette()));
        m_historyList->insertItem(0, item);
        qCInfo(lcUi).noquote() << "tab" << m_workflowId << text;
        emit outcomeRecorded(m_workflowId, entry);
    }

    void WorkflowTab::setRunStatus(const RunStatus status, const QString &reason)
    {
        const bool changed = (m_runStatus != status) || (!reason.isEmpty() && (reason != m_runReason));
        m_runStatus = status;
        if (!reason.isEmpty())
            m_runReason = reason;
        // The run exists (the next message created it): "not found" is no longer true.
        if (!m_history.isEmpty() && (m_history.constLast().outcome.kind == OutcomeKind::NotFound))
            m_outcomeRow->hide();
        if (status != RunStatus::Running)
            m_stale = false;
        if (changed)
        {
            refreshStatusLabel();
            refreshFromLog();
            emit statusChanged();
        }
    }

    void WorkflowTab::setRunInfo(const RunInfo &run, const bool stale)
    {
        setGoal(run.goal);
        const bool staleChanged = (m_stale != stale);
        m_stale = stale;
        if (run.status)
            setRunStatus(*run.status, run.reason);
        if (staleChanged)
        {
            refreshStatusLabel();
            emit statusChanged();
        }
    }

    void WorkflowTab::refreshStatusLabel()
    {
        const QPalette palette = QApplication::palette(this);
        if (!m_runStatus)
        {
            m_status->setText(tr("status unknown"));
            m_statusIcon->clear();
            setTone(m_status, Theme::Tone::Neutral, false);
            return;
        }
        const int size = fontMetrics().height();
        if (m_stale)
        {
            m_status->setText(tr("%1 (stale: no recent activity)").arg(humanName(*m_runStatus)));
            m_statusIcon->setPixmap(Theme::staleIcon(palette).pixmap(size, size));
            setTone(m_status, Theme::Tone::Warning, false);
        }
        else
        {
            m_status->setText(humanName(*m_runStatus));
            m_statusIcon->setPixmap(Theme::statusIcon(*m_runStatus, palette).pixmap(size, size));
            setTone(m_status, Theme::statusTone(*m_runStatus), false);
        }
        if (m_liveLostAt)
        {
            // No live view: the status is what it was when the connection dropped.
            m_status->setText(
                tr("%1 — last known at %2")
                    .arg(m_status->text(), QLocale().toString(m_liveLostAt->time(), QStringLiteral("HH:mm:ss"))));
            QPalette grey = m_status->palette();
            grey.setColor(QPalette::WindowText, palette.color(QPalette::Disabled, QPalette::WindowText));
            m_status->setPalette(grey);
        }
        m_status->setToolTip(m_runReason);
    }

    void WorkflowTab::refreshConnectionLabels()
    {
        const ConnectionStatus &live = m_live->status();
        m_liveLabel->setText(tr("Live: %1").arg(describeConnection(live)));
        setTone(m_liveLabel, connectionTone(live), false);

        bool ticking = (live.state == ConnectionState::Reconnecting);
        // The last driving session's state stays shown after the session object is gone.
        if (m_lastDrive)
        {
            const ConnectionStatus &drive = m_lastDrive->status();
            m_driveText = describeConnection(drive);
            if ((drive.state == ConnectionState::Connected) && m_lastDrive->isAccepted())
                m_driveText = tr("connected, this tab is driving the run");
            m_driveTone = connectionTone(drive);
        }
        QString text =
            tr("Session: %1").arg(m_driveText.isEmpty() ? tr("none (Resume or Send starts one)") : m_driveText);
        if (!m_lockWatchNote.isEmpty())
        {
            text += QStringLiteral(" — ") + m_lockWatchNote;
            if (const std::optional<QDateTime> known = m_lock->lastKnownAt())
                text += tr(" (last known at %1)").arg(QLocale().toString(known->time(), QStringLiteral("HH:mm:ss")));
            if (m_lockWatchTimer.isActive())
            {
                const qint64 seconds = (std::max<qint64>(0, m_lockWatchAt.remainingTime()) + 999) / 1000;
                text += tr(" — checking the lock again in %1 s").arg(seconds);
                ticking = true;
            }
        }
        m_driveLabel->setText(text);
        setTone(m_driveLabel, m_driveTone, false);
        if (ticking)
        {
            if (!m_countdown.isActive())
                m_countdown.start();
        }
        else
            m_countdown.stop();
    }

    QString WorkflowTab::holderText(const QString &holder) const
    {
        return holderWording(holder, m_ownHolders.contains(holder));
    }

    void WorkflowTab::onLockChanged()
    {
        // A lock seen free ends the wait after 1013 at once, not when the backoff runs out.
        if (m_lockWatchTimer.isActive() && m_lock->isLive())
        {
            if (m_lock->state() == LockTracker::State::Free)
            {
                m_lockWatchTimer.stop();
                m_lockWatchBackoff.reset();
                m_lockWatchNote = tr("the run is free again: Resume (Ctrl+R) or Send (Ctrl+Enter)");
            }
            else if ((m_lock->state() == LockTracker::State::Held) && !m_lock->holder().isEmpty())
                m_lockWatchNote = tr("held by %1").arg(holderText(m_lock->holder()));
        }
        refreshConnectionLabels();
    }

    void WorkflowTab::refreshDriving()
    {
        const bool driving = isDriving();
        // The driving tab does not race itself: Resume and Send wait for its session to end.
        const QString why = tr("This tab is driving the run: its session has to end first");
        m_resumeButton->setEnabled(!driving);
        m_sendButton->setEnabled(!driving);
        m_resumeButton->setToolTip(driving ? why : tr("Resume the run (Ctrl+R): a startRequest with an empty goal"));
        m_sendButton->setToolTip(driving ? why
                                         : tr("Send the message (Ctrl+Enter): a startRequest with it as the goal"));
        if (std::exchange(m_driving, driving) != driving)
        {
            refreshFromLog();
            emit drivingChanged(driving);
        }
    }

    void WorkflowTab::startLockWatch()
    {
        m_lockWatchNote = m_lock->holder().isEmpty() ? tr("the run is held by another session")
                                                     : tr("held by %1").arg(holderText(m_lock->holder()));
        scheduleLockCheck();
    }

    void WorkflowTab::scheduleLockCheck()
    {
        const std::chrono::milliseconds delay = m_lockWatchBackoff.nextAfterLockHeld();
        m_lockWatchAt = QDeadlineTimer(delay);
        m_lockWatchTimer.start(delay);
        refreshConnectionLabels();
    }

    void WorkflowTab::checkLock()
    {
        if (!m_context.api)
            return;
        const quint64 askedAt = m_lock->generation();
        m_context.api->getLock(m_workflowId, this, [this, askedAt](ApiResult<LockInfo> info) {
            if (!info)
            {
                m_lockWatchNote = tr("cannot check the lock: %1").arg(info.error().describe());
                scheduleLockCheck();
                return;
            }
            m_lock->applySnapshot(*info, askedAt);
            if (info->held)
            {
                startLockWatch();
                return;
            }
            m_lockWatchBackoff.reset();
            m_lockWatchNote = tr("the run is free again: Resume (Ctrl+R) or Send (Ctrl+Enter)");
            refreshConnectionLabels();
        });
    }
}  // namespace Lockstep::Ui
