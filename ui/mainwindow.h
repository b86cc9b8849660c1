#pragma once

#include <chrono>
#include <memory>
#include <optional>

#include <QDateTime>
#include <QHash>
#include <QJsonObject>
#include <QMainWindow>
#include <QPointer>
#include <QTimer>

#include "backoff.h"
#include "gatewayapi.h"
#include "historystore.h"
#include "theme.h"

class QAction;
class QActionGroup;
class QComboBox;
class QLabel;
class QLineEdit;
class QMenu;
class QMessageBox;
class QSettings;
class QStackedWidget;
class QTabWidget;
class QTableView;

namespace Lockstep::Ui
{
    class AboutDialog;
    class EmbeddedGateway;
    class FirstRunDialog;
    class LockTracker;
    class NotificationBar;
    class ProfileManager;
    class RaceDialog;
    class RecordingStore;
    class RecordingsBrowser;
    class RunFilterProxy;
    class RunListModel;
    class TokenVault;
    class WorkflowTab;

    // How the console starts (command line, tests).
    struct ConsoleOptions
    {
        QString profile;          // --profile NAME
        QString gatewayUrl;       // --gateway URL
        QString workflowId;       // --workflow ID
        bool embedded = false;    // --embedded
        QString token;            // for --gateway (e.g. $LOCKSTEP_TOKEN); never stored
        QString settingsFile;     // empty: the default QSettings location
        QString gatewayBinary;    // embedded: empty finds it
        QString embeddedDataDir;  // embedded: empty uses the app data folder
        // The console's own data (history.sqlite). Empty: $LOCKSTEP_CONSOLE_DATA_DIR,
        // else the app data folder (QStandardPaths::AppDataLocation).
        QString dataDir;
        HistoryStore::Limits historyLimits;
        bool restoreTabs = true;  // reopen the tabs open at the last exit (per gateway)
        std::chrono::milliseconds pollInterval{1500};
        BackoffOptions backoff;
        Backoff::RandomSource random;
        std::chrono::milliseconds keychainRetryDelay{1500};
        std::chrono::milliseconds staleAfter{90000};
        bool askForMissingToken = true;  // false: never open the token prompt (tests)
    };

    // The console: run list on the left, one tab per opened workflow, the
    // gateway's state in the status bar.
    class MainWindow final : public QMainWindow
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(MainWindow)

    public:
        explicit MainWindow(ConsoleOptions options = {}, QWidget *parent = nullptr);
        ~MainWindow() override;

        // Applies the command line: embedded gateway, profile, URL, workflow.
        void start();

        void connectToEndpoint(const GatewayEndpoint &endpoint, const QString &label);
        void connectWithProfile(const QString &name);
        // Opens (or focuses) a tab; `newTab` always makes another one.
        WorkflowTab *openWorkflow(const QString &workflowId, bool newTab = false);
        // POST /api/v1/workflows, then opens it and resumes it. With a workflow
        // ID or a workspace ID: opens a tab for the ID (generated when empty)
        // and starts the run there with a startRequest whose workflowMetadata
        // carries {"flow","workspaceID"}; an ID that is taken is refused.
        void createWorkflow(const QString &goal, const QString &flow, const QString &workflowId = {},
                            const QString &workspaceId = {});
        void pollNow();

        WorkflowTab *currentTab() const;
        QList<WorkflowTab *> tabs() const;
        QTabWidget *tabWidget() const;
        RunListModel *runModel() const;
        RunFilterProxy *runProxy() const;
        QTableView *runView() const;
        ProfileManager *profiles() const;
        GatewayApi *api() const;
        EmbeddedGateway *embeddedGateway() const;
        QString gatewayStatusText() const;
        // The message above the tabs for a failed action (empty when none is shown).
        NotificationBar *notificationBar() const;
        // The red banner while the gateway's /healthz says its run lock, CAS
        // guards or fencing are off (QA switches); hidden otherwise.
        NotificationBar *switchesBanner() const;
        QSettings *settings() const;
        QAction *action(const QString &objectName) const;
        // The lock model of a workflow that has a tab open; null otherwise.
        LockTracker *lockTracker(const QString &workflowId) const;
        // Outcomes and lock events per workflow, kept across restarts.
        HistoryStore *history() const;
        // Sessions, frames, lock events and races, in the history database.
        RecordingStore *recordings() const;
        // File → Recordings… (one window, raised when open) and File → Preferences… (modal).
        RecordingsBrowser *showRecordings();
        void showPreferences();
        // The gateway as a recorded session names it: {"url"} and what /healthz said.
        QJsonObject gatewayInfo() const;
        // The run list's context menu for a row of runView() (Open, Open in
        // new tab, Copy ID, Cancel…); popped up on a right click. The caller
        // owns it (it deletes itself once closed when shown by the view).
        QMenu *makeRunContextMenu(const QModelIndex &index);
        // Cancel from the run list: the tab's confirmation when a tab shows
        // the run, else the same question here, then POST …/cancel.
        void requestCancelRun(const QString &workflowId);
        // The workflow IDs of the open tabs, in tab order (what is restored).
        QStringList openTabIds() const;
        // Workflow → Race…: one race window for the connected gateway (on the current tab's workflow).
        RaceDialog *showRace();
        // Help → About Lockstep (one window, raised when open; follows the gateway).
        AboutDialog *showAbout();
        // Open while the first start asks how to reach a gateway; null otherwise.
        FirstRunDialog *firstRunDialog() const;
        // The settings key that makes a start without flags run the embedded gateway.
        static QString startEmbeddedKey();

    signals:
        // The first successful list after connecting.
        void gatewayReachable();
        void embeddedGatewayFailed(const QString &message);
        // /healthz answered (on connect and when the gateway is back) and the banner follows it.
        void switchesChecked(const QJsonObject &health);

    protected:
        void closeEvent(QCloseEvent *event) override;
        void changeEvent(QEvent *event) override;

    private:
        void createActions();
        void createRunList();
        void setGatewayStatus(const QString &text, Theme::Tone tone);
        // A failed action, shown where the user acted until dismissed.
        void notify(const QString &text, Theme::Tone tone = Theme::Tone::Bad);
        // 401: "token refused — open Profiles", with the button.
        void notifyTokenRefused(const QString &what);
        void schedulePoll();
        void onRunsListed(const QList<RunInfo> &runs);
        // Asks /healthz which QA switches are off and shows or hides switchesBanner().
        void checkSwitches();
        void startEmbedded();
        // No profile and no command line: ask (embedded or remote) instead of a bare "not connected".
        void showFirstRun();
        void setStartEmbedded(bool on);
        static QString welcomeText();
        void updateAbout();
        void updateTabIcon(WorkflowTab *tab);
        LockTracker *trackerFor(const QString &workflowId);
        void updateActions();
        void showProfiles();
        void showNewWorkflow();
        // createWorkflow() with an ID or workspace: the run starts in its tab.
        void startWorkflowAt(const QString &goal, const QString &flow, const QString &workflowId,
                             const QString &workspaceId);
        void showOpenWorkflow();
        void promptForToken(const QString &profile, const GatewayEndpoint &endpoint, const QString &why);
        void closeTab(int index);
        // Asks first when the tab drives a run (closing it pauses the run).
        void requestCloseTab(int index);
        void setTheme(Theme::Mode mode);
        QStringList knownFlows() const;
        void recordHistory(const QString &workflowId, HistoryEntry::Kind kind, const QString &text, Theme::Tone tone);
        void watchSessions(WorkflowTab *tab);
        // Open tabs per gateway in the settings: saved on every change, reopened on connect.
        QString tabsKey() const;
        void saveOpenTabs();
        void restoreOpenTabs();

        ConsoleOptions m_options;
        std::unique_ptr<QSettings> m_settings;
        TokenVault *m_vault;
        ProfileManager *m_profiles;
        GatewayApi *m_api;
        RunListModel *m_runs;
        RunFilterProxy *m_proxy;
        QTableView *m_runView = nullptr;
        QLineEdit *m_search = nullptr;
        QComboBox *m_statusFilter = nullptr;
        QStackedWidget *m_center;
        QTabWidget *m_tabs;
        QLabel *m_welcome;
        QLabel *m_gatewayStatus;
        NotificationBar *m_notification;
        NotificationBar *m_switchesBanner;
        EmbeddedGateway *m_embedded = nullptr;
        QTimer m_pollTimer;
        bool m_polling = false;
        bool m_connected = false;
        bool m_reachableOnce = false;
        bool m_unreachable = false;    // the last poll failed
        QDateTime m_unreachableSince;  // the first failed poll of this outage
        QString m_unreachableReason;
        bool m_tokenRefused = false;  // the last poll got 401
        QHash<QString, LockTracker *> m_trackers;
        QString m_gatewayLabel;
        QString m_pendingWorkflow;
        QActionGroup *m_themeGroup = nullptr;
        Theme::Tone m_gatewayTone = Theme::Tone::Neutral;
        std::unique_ptr<HistoryStore> m_history;
        std::unique_ptr<RecordingStore> m_recordings;  // after m_history: goes first, flushing into it
        QPointer<RecordingsBrowser> m_recordingsBrowser;
        QJsonObject m_gatewayHealth;  // the last /healthz answer
        QString m_tabsKey;            // the gateway whose tabs are saved; empty: none yet
        bool m_holdTabSave = false;   // while tabs are restored or torn down
        QPointer<QMessageBox> m_runCancelConfirm;
        QPointer<RaceDialog> m_race;
        QPointer<AboutDialog> m_about;
        QPointer<FirstRunDialog> m_firstRun;
        QHash<QString, QString> m_lastLiveClose;  // per workflow: the live close last written to the history
    };
}  // namespace Lockstep::Ui
