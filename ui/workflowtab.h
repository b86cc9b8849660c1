#pragma once

#include <optional>

#include <QDeadlineTimer>
#include <QJsonObject>
#include <QList>
#include <QPointer>
#include <QSet>
#include <QTimer>
#include <QWidget>

#include "backoff.h"
#include "connection.h"
#include "gatewayapi.h"
#include "outcome.h"
#include "theme.h"

class QCheckBox;
class QLabel;
class QListWidget;
class QMessageBox;
class QPlainTextEdit;
class QPushButton;

namespace Lockstep::Ui
{
    class ChatLogModel;
    class ChatLogView;
    class ElidedLabel;
    class FrameInspector;
    class HistoryStore;
    class LockPanel;
    class LockTracker;

    // What a tab needs from the window.
    struct TabContext
    {
        GatewayApi *api = nullptr;
        GatewayEndpoint endpoint;
        BackoffOptions backoff;
        Backoff::RandomSource random;
        std::chrono::milliseconds workflowDeadline{5 * 60 * 1000};
        // The workflow's lock model, shared by its tabs; null: the tab makes its own.
        LockTracker *lock = nullptr;
        // The console's stored history: the History tab shows it. Null: this tab's outcomes only.
        HistoryStore *history = nullptr;
        // The ring buffer of each session's frames (settings: inspector/maxFrames).
        int maxFrames = Transport::FrameLog::DefaultCapacity;
    };

    // User actions whose outcome a tab records.
    enum class TabAction
    {
        Resume,
        Send,
        Cancel,
        Approve,
        Reject,
    };
    QString toString(TabAction action);  // "Resume", "Send", "Cancel", "Approve", "Reject"

    // One opened workflow: its chat log (live, on the tab's own connection),
    // the composer, Resume / Cancel / Open in new tab, the lock panel, the
    // connection state and the history of outcomes.
    class WorkflowTab final : public QWidget
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(WorkflowTab)

    public:
        struct Record
        {
            TabAction action = TabAction::Resume;
            ActionOutcome outcome;
        };

        WorkflowTab(const TabContext &context, const QString &workflowId, QWidget *parent = nullptr);
        ~WorkflowTab() override;

        QString workflowId() const;
        std::optional<RunStatus> runStatus() const;
        // Tab title: the start of the goal and a short ID ("Create a file… · hello-1");
        // the ID alone until the goal is known. The window adds the status icon.
        QString title() const;
        // The tab's tooltip: the full ID and the goal.
        QString titleToolTip() const;
        // The run's goal (its first message) and the latest user message, as shown in the header.
        QString goalText() const;
        QString latestMessageText() const;

        // Resume: startRequest with an empty goal.
        void resume();
        // Asks to confirm (a window-modal box); Yes cancels.
        void requestCancel();
        // Cancels without asking (POST .../cancel).
        void cancelNow();
        // Sends the composer's text (startRequest with it as goal).
        void send();
        void sendMessage(const QString &text);
        // Creates the run with its first message: a startRequest with `goal` and
        // workflowMetadata (New workflow with an ID or a workspace).
        void startNew(const QString &goal, const QJsonObject &metadata);
        // Answers the pending request entry `requestId` (startRequest.approval).
        void answerRequest(const QString &requestId, bool approve);
        // The request entry Approve / Reject answer now; empty when none waits.
        QString answerableRequest() const;
        void focusComposer();
        void reconnect();
        // The gateway answers again: reconnect and re-check at once, no backoff wait.
        void gatewayBack();
        // This tab's session drives a run right now (closing it pauses the run).
        bool isDriving() const;
        // The lock holders that were this tab's own driving sessions.
        const QSet<QString> &ownHolders() const;

        // From the run list poll.
        void setRunInfo(const RunInfo &run, bool stale);

        ChatLogModel *chatModel() const;
        ChatLogView *chatView() const;
        LockTracker *lockTracker() const;
        LockPanel *lockPanel() const;
        LiveConnection *liveConnection() const;
        const QList<Record> &history() const;
        // The tab's websocket sessions (live and driving, current and recent) and their frames.
        FrameSessionList *frameSessions() const;
        // Opens (or raises) the frame inspector over them.
        FrameInspector *openFrameInspector();
        QString outcomeBannerText() const;
        QString liveConnectionText() const;
        QString driveConnectionText() const;
        // The confirmation box while it is open.
        QMessageBox *cancelConfirmation() const;

        // "Resume: already running (1013) — held by …": the history/banner line.
        static QString recordText(const Record &record);

    signals:
        void openInNewTabRequested(const QString &workflowId);
        void outcomeRecorded(const QString &workflowId, const Lockstep::Ui::WorkflowTab::Record &record);
        void statusChanged();
        void drivingChanged(bool driving);
        void titleChanged();
        // A driving session the gateway had accepted closed (e.g. 1000 "input_required").
        void sessionEnded(const QString &workflowId, quint16 code, const QString &reason);

    protected:
        bool eventFilter(QObject *watched, QEvent *event) override;
        void changeEvent(QEvent *event) override;

    private:
        void startDrive(TabAction action, const QString &goal, const QJsonObject &metadata = {},
                        const QJsonObject &approval = {});
        void setGoal(const QString &goal);
        // After new entries or a status change: the latest message line and the request buttons.
        void refreshFromLog();
        void onDriveEnded(DriveSession *drive, TabAction action, const DriveSession::End &end);
        void record(TabAction action, ActionOutcome outcome);
        void setRunStatus(RunStatus status, const QString &reason);
        void startLockWatch();
        void scheduleLockCheck();
        void checkLock();
        void refreshConnectionLabels();
        void refreshStatusLabel();
        void onLockChanged();
        void refreshDriving();
        QString holderText(const QString &holder) const;

        TabContext m_context;
        QString m_workflowId;
        ChatLogModel *m_model;
        ChatLogView *m_view;
        QPointer<LockTracker> m_lock;
        LockPanel *m_lockPanel;
        LiveConnection *m_live;
        QList<DriveSession *> m_drives;
        QPointer<DriveSession> m_lastDrive;

        QLabel *m_title;
        QLabel *m_statusIcon;
        QLabel *m_status;
        ElidedLabel *m_goal;
        ElidedLabel *m_latest;
        QString m_goalText;
        QLabel *m_liveLabel;
        QLabel *m_driveLabel;
        QLabel *m_outcome;
        QWidget *m_outcomeRow;  // the banner: m_outcome and its dismiss button
        QListWidget *m_historyList;
        QPlainTextEdit *m_composer;
        QPushButton *m_sendButton;
        QPushButton *m_resumeButton;
        QPushButton *m_cancelButton;
        QPushButton *m_newTabButton;
        QPushButton *m_framesButton;
        QCheckBox *m_legacyEvents;  // driving sessions without incremental_streaming
        FrameSessionList *m_frameSessions;
        QPointer<FrameInspector> m_inspector;
        QPointer<QMessageBox> m_confirm;

        std::optional<RunStatus> m_runStatus;
        QString m_runReason;
        bool m_stale = false;
        QList<Record> m_history;
        QSet<QString> m_ownHolders;
        bool m_driving = false;
        bool m_liveUp = false;
        // When the live session last dropped after being connected (values since are "last known").
        std::optional<QDateTime> m_liveLostAt;

        // After 1013: who holds the run is re-checked with a backoff, never hammered.
        Backoff m_lockWatchBackoff;
        QTimer m_lockWatchTimer;
        QDeadlineTimer m_lockWatchAt;
        QString m_lockWatchNote;
        QString m_driveText;
        Theme::Tone m_driveTone = Theme::Tone::Neutral;
        QTimer m_countdown;
    };
}  // namespace Lockstep::Ui

Q_DECLARE_METATYPE(Lockstep::Ui::WorkflowTab::Record)
