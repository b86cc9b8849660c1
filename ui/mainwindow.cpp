#include "mainwindow.h"

#include <algorithm>

#include <QAction>
#include <QActionGroup>
#include <QApplication>
#include <QClipboard>
#include <QCloseEvent>
#include <QComboBox>
#include <QDockWidget>
#include <QHeaderView>
#include <QInputDialog>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QPushButton>
#include <QSet>
#include <QSettings>
#include <QStackedWidget>
#include <QStandardPaths>
#include <QStatusBar>
#include <QTabBar>
#include <QTabWidget>
#include <QTableView>
#include <QTime>
#include <QUuid>
#include <QVBoxLayout>

#include "aboutdialog.h"
#include "cancelconfirmation.h"
#include "chatlogview.h"
#include "common/logging.h"
#include "connection.h"
#include "embeddedgateway.h"
#include "firstrundialog.h"
#include "flows/flowlibrary.h"
#include "framesession.h"
#include "locktracker.h"
#include "newworkflowdialog.h"
#include "notificationbar.h"
#include "preferencesdialog.h"
#include "profiledialog.h"
#include "profiles.h"
#include "protocol/closecode.h"
#include "protocol/workflowid.h"
#include "race/racereport.h"
#include "racedialog.h"
#include "recordingsbrowser.h"
#include "recordingstore.h"
#include "runlistmodel.h"
#include "sessionrecorder.h"
#include "workflowtab.h"

namespace Lockstep::Ui
{
    namespace
    {
        constexpr int MaxLockLookupsPerPoll = 20;
        constexpr int FilterAll = -1;
        constexpr int FilterActive = -2;
        constexpr int FilterStale = -3;

        QString consoleDataDir(const QString &configured)
        {
            if (!configured.isEmpty())
                return configured;
            const QString fromEnvironment = qEnvironmentVariable("LOCKSTEP_CONSOLE_DATA_DIR");
            if (!fromEnvironment.isEmpty())
                return fromEnvironment;
            return QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
        }

        // The tone of a lock event line (LockTracker's wording).
        Theme::Tone lockEventTone(const QString &text)
        {
            if (text.startsWith(u"acquired"))
                return Theme::Tone::Info;
            if (text.startsWith(u"released"))
                return Theme::Tone::Good;
            if (text.startsWith(u"lost") || text.startsWith(u"expired") || text.contains(u"unavailable"))
                return Theme::Tone::Bad;
            return Theme::Tone::Neutral;
        }
    }  // namespace

    MainWindow::MainWindow(ConsoleOptions options, QWidget *parent)
        : QMainWindow(parent)
        , m_options(std::move(options))
        , m_settings(m_options.settingsFile.isEmpty()
                         ? std::make_unique<QSettings>()
                         : std::make_unique<QSettings>(m_options.settingsFile, QSettings::IniFormat))
        , m_vault(new TokenVault(QStringLiteral("lockstep"), this))
        , m_profiles(new ProfileManager(m_settings.get(), m_vault, this))
        , m_api(new GatewayApi(this))
        , m_runs(new RunListModel(this))
        , m_proxy(new RunFilterProxy(this))
        , m_center(new QStackedWidget(this))
        , m_tabs(new QTabWidget(this))
        , m_welcome(new QLabel(this))
        , m_gatewayStatus(new QLabel(this))
        , m_notification(new NotificationBar(this))
        , m_switchesBanner(new NotificationBar(this))
    {
        setObjectName(QStringLiteral("mainWindow"));
        setWindowTitle(QStringLiteral("Lockstep"));
        // The application's icon, so every window and dialog has it, not only this one.
        QApplication::setWindowIcon(Theme::appIcon());
        m_vault->setRetryDelay(m_options.keychainRetryDelay);
        m_runs->setStaleAfter(m_options.staleAfter);
        m_proxy->setSourceModel(m_runs);

        m_tabs->setObjectName(QStringLiteral("workflowTabs"));
        m_tabs->setTabsClosable(true);
        m_tabs->setMovable(true);
        m_tabs->setDocumentMode(true);
        connect(m_tabs, &QTabWidget::tabCloseRequested, this, &MainWindow::requestCloseTab);
        connect(m_tabs, &QTabWidget::currentChanged, this, [this] { updateActions(); });
        connect(m_tabs->tabBar(), &QTabBar::tabMoved, this, [this] { saveOpenTabs(); });

        m_welcome->setObjectName(QStringLiteral("welcomeLabel"));
        m_welcome->setAlignment(Qt::AlignCenter);
        m_welcome->setWordWrap(true);
        m_welcome->setTextFormat(Qt::PlainText);
        m_welcome->setText(welcomeText());
        m_center->addWidget(m_welcome);
        m_center->addWidget(m_tabs);
        auto *central = new QWidget(this);
        auto *centralLayout = new QVBoxLayout(central);
        centralLayout->setContentsMargins(0, 0, 0, 0);
        m_switchesBanner->setObjectName(QStringLiteral("switchesBanner"));
        m_switchesBanner->setAccessibleName(tr("Gateway switches"));
        // Not one more failed action: a standing warning about the gateway itself.
        QFont bannerFont = m_switchesBanner->font();
        bannerFont.setBold(true);
        m_switchesBanner->setFont(bannerFont);
        centralLayout->addWidget(m_switchesBanner);
        centralLayout->addWidget(m_notification);
        centralLayout->addWidget(m_center, 1);
        setCentralWidget(central);

        m_gatewayStatus->setObjectName(QStringLiteral("gatewayStatusLabel"));
        m_gatewayStatus->setTextInteractionFlags(Qt::TextSelectableByMouse);
        statusBar()->addPermanentWidget(m_gatewayStatus, 1);
        setGatewayStatus(tr("Gateway: not connected"), Theme::Tone::Neutral);

        createRunList();
        createActions();

        m_pollTimer.setSingleShot(true);
        connect(&m_pollTimer, &QTimer::timeout, this, &MainWindow::pollNow);

        // History first: nothing else depends on it, and a database that cannot be
        // opened is said once, here, while the console goes on without it.
        // Preferences… may have changed the limits the options give.
        m_history = std::make_unique<HistoryStore>(consoleDataDir(m_options.dataDir),
                                                   PreferencesDialog::limitsFrom(*m_settings, m_options.historyLimits));
        m_recordings = std::make_unique<RecordingStore>(m_history.get());
        if (!m_history->isPersistent())
            notify(tr("History is kept for this session only — %1. Everything else works.").arg(m_history->error()),
                   Theme::Tone::Warning);

        setTheme(Theme::modeFromString(m_settings->value(QStringLiteral("ui/theme")).toString()));
        const QByteArray geometry = m_settings->value(QStringLiteral("ui/geometry")).toByteArray();
        if (geometry.isEmpty() || !restoreGeometry(geometry))
            resize(fontMetrics().averageCharWidth() * 200, fontMetrics().height() * 45);
        restoreState(m_settings->value(QStringLiteral("ui/state")).toByteArray());
        updateActions();
    }

    MainWindow::~MainWindow()
    {
        // Tabs (and their sessions) go before the gateway they talk to.
        while (m_tabs->count() > 0)
        {
            QWidget *tab = m_tabs->widget(0);
            m_tabs->removeTab(0);
            delete tab;
        }
        if (m_embedded)
            m_embedded->stop();
    }

    // ---- set-up ----

    void MainWindow::createRunList()
    {
        auto *dock = new QDockWidget(tr("Runs"), this);
        dock->setObjectName(QStringLiteral("runsDock"));
        dock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable);
        auto *panel = new QWidget(dock);
        auto *layout = new QVBoxLayout(panel);
        layout->setContentsMargins(0, 0, 0, 0);

        m_search = new QLineEdit(panel);
        m_search->setObjectName(QStringLiteral("runSearch"));
        m_search->setPlaceholderText(tr("Search ID or goal (Ctrl+F)"));
        m_search->setClearButtonEnabled(true);
        m_search->setAccessibleName(tr("Search runs"));
        connect(m_search, &QLineEdit::textChanged, m_proxy, &RunFilterProxy::setSearchText);

        m_statusFilter = new QComboBox(panel);
        m_statusFilter->setObjectName(QStringLiteral("statusFilter"));
        m_statusFilter->setAccessibleName(tr("Status filter"));
        m_statusFilter->addItem(tr("All statuses"), FilterAll);
        m_statusFilter->addItem(tr("Active (not finished or stopped)"), FilterActive);
        m_statusFilter->addItem(tr("Stale running"), FilterStale);
        for (const RunStatus status : AllRunStatuses)
            m_statusFilter->addItem(Theme::statusIcon(status, palette()), humanName(status), static_cast<int>(status));
        connect(m_statusFilter, &QComboBox::currentIndexChanged, this, [this] {
            const int code = m_statusFilter->currentData().toInt();
            if (code == FilterAll)
                m_proxy->setStatusFilter(RunFilterProxy::StatusFilter::All);
            else if (code == FilterActive)
                m_proxy->setStatusFilter(RunFilterProxy::StatusFilter::Active);
            else if (code == FilterStale)
                m_proxy->setStatusFilter(RunFilterProxy::StatusFilter::Stale);
            else
                m_proxy->setStatusFilter(RunFilterProxy::StatusFilter::One, static_cast<RunStatus>(code));
        });

        m_runView = new QTableView(panel);
        m_runView->setObjectName(QStringLiteral("runTable"));
        m_runView->setAccessibleName(tr("Runs"));
        m_runView->setModel(m_proxy);
        m_runView->setSortingEnabled(true);
        m_runView->sortByColumn(RunListModel::ActivityColumn, Qt::DescendingOrder);
        m_runView->setSelectionBehavior(QAbstractItemView::SelectRows);
        m_runView->setSelectionMode(QAbstractItemView::SingleSelection);
        m_runView->setEditTriggers(QAbstractItemView::NoEditTriggers);
        m_runView->setWordWrap(false);
        m_runView->verticalHeader()->hide();
        m_runView->horizontalHeader()->setSectionResizeMode(QHeaderView::Interactive);
        m_runView->horizontalHeader()->setSectionResizeMode(RunListModel::GoalColumn, QHeaderView::Stretch);
        m_runView->horizontalHeader()->setHighlightSections(false);
        m_runView->horizontalHeader()->resizeSection(RunListModel::IdColumn, fontMetrics().averageCharWidth() * 14);

        // Narrow columns fit their widest usual value or their title, whichever is wider.
        const auto fit = [this](const int column, const QString &sample) {
            const QFontMetrics metrics = m_runView->fontMetrics();
            const QString title = m_runs->headerData(column, Qt::Horizontal).toString();
            const int padding = metrics.averageCharWidth() * 3;
            m_runView->horizontalHeader()->resizeSection(
                column, std::max(metrics.horizontalAdvance(sample), metrics.horizontalAdvance(title)) + padding);
        };
        fit(RunListModel::StatusColumn, QStringLiteral("input required ") + QString(4, u'M'));  // and its icon
        fit(RunListModel::FlowColumn, QStringLiteral("approval"));
        fit(RunListModel::CreatedColumn, QStringLiteral("00:00:00"));
        fit(RunListModel::DurationColumn, QStringLiteral("00 min 00 s"));
        fit(RunListModel::ActivityColumn, QStringLiteral("00:00:00"));
        m_runView->setContextMenuPolicy(Qt::CustomContextMenu);
        connect(m_runView, &QWidget::customContextMenuRequested, this, [this](const QPoint &pos) {
            QMenu *menu = makeRunContextMenu(m_runView->indexAt(pos));
            if (!menu)
                return;
            menu->setAttribute(Qt::WA_DeleteOnClose);
            menu->popup(m_runView->viewport()->mapToGlobal(pos));
        });
        connect(m_runView, &QAbstractItemView::activated, this, [this](const QModelIndex &index) {
            const QString id = index.data(RunListModel::WorkflowIdRole).toString();
            if (!id.isEmpty())
                openWorkflow(id);
        });

        auto *filters = new QHBoxLayout;
        filters->addWidget(m_search, 2);
        filters->addWidget(m_statusFilter, 1);
        layout->addLayout(filters);
        layout->addWidget(m_runView, 1);
        dock->setWidget(panel);
        addDockWidget(Qt::LeftDockWidgetArea, dock);
        resizeDocks({dock}, {fontMetrics().averageCharWidth() * 105}, Qt::Horizontal);
        setTabOrder(m_search, m_statusFilter);
        setTabOrder(m_statusFilter, m_runView);
    }

    void MainWindow::createActions()
    {
        const auto add = [this](QMenu *menu, const char *name, const QString &text, const QKeySequence &keys,
                                auto slot) {
            auto *action = new QAction(text, this);
            action->setObjectName(QString::fromLatin1(name));
            if (!keys.isEmpty())
                action->setShortcut(keys);
            connect(action, &QAction::triggered, this, slot);
            menu->addAction(action);
            return action;
        };

        QMenu *file = menuBar()->addMenu(tr("&File"));
        add(file, "newWorkflowAction", tr("&New workflow…"), QKeySequence(Qt::CTRL | Qt::Key_N),
            [this] { showNewWorkflow(); });
        add(file, "openWorkflowAction", tr("&Open workflow by ID…"), QKeySequence(Qt::CTRL | Qt::Key_O),
            [this] { showOpenWorkflow(); });
        QAction *openRun = add(file, "openRunAction", tr("Open the selected &run"), QKeySequence(), [this] {
            const QModelIndex index = m_runView->currentIndex();
            if (index.isValid())
                openWorkflow(index.data(RunListModel::WorkflowIdRole).toString());
        });
        QAction *newTab = add(
            file, "openInNewTabAction", tr("Open in new &tab"), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_T), [this] {
                if (m_runView->hasFocus() && m_runView->currentIndex().isValid())
                    openWorkflow(m_runView->currentIndex().data(RunListModel::WorkflowIdRole).toString(), true);
                else if (WorkflowTab *tab = currentTab())
                    openWorkflow(tab->workflowId(), true);
            });
        m_runView->addAction(openRun);
        m_runView->addAction(newTab);
        add(file, "closeTabAction", tr("&Close tab"), QKeySequence(Qt::CTRL | Qt::Key_W), [this] {
            if (m_tabs->count() > 0)
                requestCloseTab(m_tabs->currentIndex());
        });
        file->addSeparator();
        add(file, "recordingsAction", tr("&Recordings…"), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_H),
            [this] { showRecordings(); });
        // Most Linux desktops define no standard key for Preferences: Ctrl+, as elsewhere.
        const QKeySequence preferencesKeys = QKeySequence(QKeySequence::Preferences).isEmpty()
                                                 ? QKeySequence(Qt::CTRL | Qt::Key_Comma)
                                                 : QKeySequence(QKeySequence::Preferences);
        add(file, "preferencesAction", tr("Pre&ferences…"), preferencesKeys, [this] { showPreferences(); });
        file->addSeparator();
        add(file, "quitAction", tr("&Quit"), QKeySequence::Quit, [this] { close(); });

        QMenu *gateway = menuBar()->addMenu(tr("&Gateway"));
        add(gateway, "profilesAction", tr("&Profiles…"), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_P),
            [this] { showProfiles(); });
        QAction *startEmbedded = add(gateway, "startEmbeddedAction", tr("Start a &local gateway at launch"),
                                     QKeySequence(), [this](const bool on) { setStartEmbedded(on); });
        startEmbedded->setCheckable(true);
        startEmbedded->setChecked(m_settings->value(startEmbeddedKey()).toBool());
        startEmbedded->setToolTip(tr("When the console starts without --gateway or --profile, it runs its own "
                                     "gateway (SQLite, in-process lock)"));
        add(gateway, "reconnectAction", tr("&Reconnect now"), QKeySequence(Qt::Key_F5), [this] {
            if (WorkflowTab *tab = currentTab())
                tab->reconnect();
            pollNow();
        });

        QMenu *workflow = menuBar()->addMenu(tr("&Workflow"));
        add(workflow, "resumeAction", tr("&Resume"), QKeySequence(Qt::CTRL | Qt::Key_R), [this] {
            if (WorkflowTab *tab = currentTab())
                tab->resume();
        });
        add(workflow, "cancelAction", tr("&Cancel run…"), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_K), [this] {
            if (WorkflowTab *tab = currentTab())
                tab->requestCancel();
        });
        add(workflow, "sendAction", tr("&Send message"), QKeySequence(), [this] {
            if (WorkflowTab *tab = currentTab())
                tab->send();
        })->setToolTip(tr("Ctrl+Enter in the message box"));
        add(workflow, "focusComposerAction", tr("Write a &message"), QKeySequence(Qt::CTRL | Qt::Key_L), [this] {
            if (WorkflowTab *tab = currentTab())
                tab->focusComposer();
        });
        workflow->addSeparator();
        add(workflow, "raceAction", tr("R&ace…"), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_A), [this] {
            showRace();
        })->setToolTip(tr("Send from several sessions at once, round after round, and count who ran"));

        QMenu *view = menuBar()->addMenu(tr("&View"));
        add(view, "focusRunsAction", tr("&Run list"), QKeySequence(Qt::CTRL | Qt::Key_1),
            [this] { m_runView->setFocus(Qt::ShortcutFocusReason); });
        add(view, "focusChatAction", tr("&Chat log"), QKeySequence(Qt::CTRL | Qt::Key_2), [this] {
            if (WorkflowTab *tab = currentTab())
                tab->chatView()->setFocus(Qt::ShortcutFocusReason);
        });
        add(view, "searchRunsAction", tr("&Search runs"), QKeySequence::Find, [this] {
            m_search->setFocus(Qt::ShortcutFocusReason);
            m_search->selectAll();
        });
        view->addSeparator();
        QMenu *theme = view->addMenu(tr("&Theme"));
        m_themeGroup = new QActionGroup(this);
        for (const auto &[mode, text] :
             {std::pair{Theme::Mode::System, tr("Follow the &system")}, std::pair{Theme::Mode::Light, tr("&Light")},
              std::pair{Theme::Mode::Dark, tr("&Dark")}})
        {
            QAction *action = theme->addAction(text);
            action->setObjectName(QStringLiteral("theme-") + Theme::toString(mode));
            action->setCheckable(true);
            action->setData(Theme::toString(mode));
            m_themeGroup->addAction(action);
            connect(action, &QAction::triggered, this, [this, mode] { setTheme(mode); });
        }

        QMenu *help = menuBar()->addMenu(tr("&Help"));
        add(help, "aboutAction", tr("&About Lockstep"), QKeySequence(), [this] { showAbout(); });
        add(help, "aboutQtAction", tr("About &Qt"), QKeySequence(), [] { QApplication::aboutQt(); });
    }

    QAction *MainWindow::action(const QString &objectName) const
    {
        return findChild<QAction *>(objectName);
    }

    void MainWindow::updateActions()
    {
        const bool hasTab = (currentTab() != nullptr);
        for (const char *name :
             {"resumeAction", "cancelAction", "sendAction", "focusComposerAction", "closeTabAction", "focusChatAction"})
        {
            if (QAction *a = action(QString::fromLatin1(name)))
                a->setEnabled(hasTab);
        }
        m_center->setCurrentWidget(hasTab ? static_cast<QWidget *>(m_tabs) : m_welcome);
    }

    RaceDialog *MainWindow::showRace()
    {
        if (!m_race)
        {
            const WorkflowTab *tab = currentTab();
            m_race = new RaceDialog(m_api->endpoint(), tab ? tab->workflowId() : QString(), knownFlows(), this);
            m_race->setAttribute(Qt::WA_DeleteOnClose);
            // Every race lands in the console's recordings (File → Recordings…).
            m_race->setRecorder([this](const Race::RaceReport &report) {
                if (m_recordings)
                    m_recordings->recordRace(report.toJson());
            });
            m_api->health(m_race, [race = m_race](const ApiResult<QJsonObject> &health) {
                if (health && race)
                    race->showGatewayHealth(*health);
            });
        }
        m_race->show();
        m_race->raise();
        m_race->activateWindow();
        return m_race;
    }

    AboutDialog *MainWindow::showAbout()
    {
        if (!m_about)
        {
            m_about = new AboutDialog(this);
            m_about->setAttribute(Qt::WA_DeleteOnClose);
            updateAbout();
        }
        m_about->show();
        m_about->raise();
        m_about->activateWindow();
        return m_about;
    }

    void MainWindow::updateAbout()
    {
        if (!m_about)
            return;
        QString state = m_reachableOnce ? tr("connected") : tr("connecting…");
        bool problem = false;
        if (m_unreachable)
        {
            state = tr("unreachable since %1: %2")
                        .arg(QLocale().toString(m_unreachableSince.time(), QStringLiteral("HH:mm:ss")),
                             m_unreachableReason);
            problem = true;
        }
        else if (m_tokenRefused)
        {
            state = tr("token refused (HTTP 401)");
            problem = true;
        }
        m_about->setGateway(m_connected ? m_api->endpoint().webSocketUrl.toString() : QString(), m_gatewayHealth, state,
                            problem);
    }

    void MainWindow::setTheme(const Theme::Mode mode)
    {
        Theme::apply(mode);
        m_settings->setValue(QStringLiteral("ui/theme"), Theme::toString(mode));
        if (m_themeGroup)
        {
            for (QAction *a : m_themeGroup->actions())
                a->setChecked(a->data().toString() == Theme::toString(mode));
        }
    }

    // ---- connecting ----

    void MainWindow::start()
    {
        m_pendingWorkflow = m_options.workflowId;
        if (m_options.embedded)
        {
            startEmbedded();
            return;
        }
        if (!m_options.gatewayUrl.isEmpty())
        {
            auto endpoint = GatewayEndpoint::fromUrl(m_options.gatewayUrl);
            if (!endpoint)
            {
                setGatewayStatus(tr("Gateway: %1").arg(endpoint.error()), Theme::Tone::Bad);
                // Nothing works without a gateway: say so in a dialog, with the way out.
                auto *box = new QMessageBox(
                    QMessageBox::Warning, tr("Gateway URL"),
                    tr("The gateway URL '%1' cannot be used:\n%2\n\nPick or add a gateway under Profiles.")
                        .arg(m_options.gatewayUrl, endpoint.error()),
                    QMessageBox::Close, this);
                box->setObjectName(QStringLiteral("badGatewayDialog"));
                box->setAttribute(Qt::WA_DeleteOnClose);
                QPushButton *profiles = box->addButton(tr("&Profiles…"), QMessageBox::AcceptRole);
                profiles->setObjectName(QStringLiteral("openProfilesButton"));
                connect(profiles, &QPushButton::clicked, this, [this] { showProfiles(); });
                box->open();
                return;
            }
            endpoint->token = m_options.token;
            if (endpoint->token.isEmpty() && !m_options.profile.isEmpty())
            {
                // --gateway overrides the profile's URL; the profile still supplies the token.
                if (auto profile = m_profiles->store().profile(m_options.profile))
                {
                    profile->url = m_options.gatewayUrl;
                    const GatewayEndpoint base = *endpoint;
                    m_profiles->lookUpToken(*profile, [this, base](const TokenLookup &lookup) {
                        GatewayEndpoint withToken = base;
                        withToken.token = lookup.token;
                        connectToEndpoint(withToken, m_options.gatewayUrl);
                    });
                    return;
                }
            }
            connectToEndpoint(*endpoint, m_options.gatewayUrl);
            return;
        }
        // Chosen at the first start (or under Gateway): a start without flags runs the local gateway.
        if (m_options.profile.isEmpty() && m_settings->value(startEmbeddedKey()).toBool())
        {
            startEmbedded();
            return;
        }
        const QString profile = m_options.profile.isEmpty() ? m_profiles->store().lastUsed() : m_options.profile;
        if (!profile.isEmpty())
        {
            connectWithProfile(profile);
            return;
        }
        m_welcome->setText(tr("Not connected to a gateway.\n\nAdd one under Gateway ▸ Profiles… (Ctrl+Shift+P), "
                              "or start the console with --embedded to run a local gateway."));
        if (m_profiles->store().profiles().isEmpty())
            showFirstRun();
    }

    void MainWindow::startEmbedded()
    {
        if (m_embedded && m_embedded->isRunning())
            return;
        delete m_embedded;
        m_embedded = new EmbeddedGateway(this);
        connect(m_embedded, &EmbeddedGateway::ready, this, [this](const QString &url, const QString &token) {
            auto endpoint = GatewayEndpoint::fromUrl(url);
            if (!endpoint)
            {
                setGatewayStatus(tr("Gateway: embedded gateway at an unusable address: %1").arg(endpoint.error()),
                                 Theme::Tone::Bad);
                return;
            }
            endpoint->token = token;
            connectToEndpoint(*endpoint, tr("embedded"));
        });
        connect(m_embedded, &EmbeddedGateway::failed, this, [this](const QString &message) {
            setGatewayStatus(tr("Gateway: the embedded gateway failed: %1").arg(message), Theme::Tone::Bad);
            m_welcome->setText(tr("The embedded gateway is not running:\n%1").arg(message));
            emit embeddedGatewayFailed(message);
        });
        setGatewayStatus(tr("Gateway: starting the embedded gateway…"), Theme::Tone::Warning);
        m_embedded->start(
            EmbeddedGateway::Options{.binary = m_options.gatewayBinary, .dataDir = m_options.embeddedDataDir});
    }

    QString MainWindow::welcomeText()
    {
        return tr("No workflow open.\n\nOpen a run from the list (Enter or double-click), start a new one (Ctrl+N), "
                  "or connect to a gateway (Ctrl+Shift+P).");
    }

    QString MainWindow::startEmbeddedKey()
    {
        return QStringLiteral("gateway/startEmbedded");
    }

    void MainWindow::setStartEmbedded(const bool on)
    {
        if (on)
            m_settings->setValue(startEmbeddedKey(), true);
        else
            m_settings->remove(startEmbeddedKey());
        if (QAction *a = action(QStringLiteral("startEmbeddedAction")))
            a->setChecked(on);
    }

    void MainWindow::showFirstRun()
    {
        if (m_firstRun)
            return;
        m_firstRun = new FirstRunDialog(m_profiles, EmbeddedGateway::isInstalled(m_options.gatewayBinary), this);
        m_firstRun->setAttribute(Qt::WA_DeleteOnClose);
        connect(m_firstRun, &FirstRunDialog::embeddedChosen, this, [this] {
            setStartEmbedded(true);
            startEmbedded();
        });
        connect(m_firstRun, &FirstRunDialog::profileSaved, this, [this](const QString &name, const SaveResult &result) {
            // The keychain could not take the token: say where it went (never silently to disk).
            if (result.keychainUnavailable)
                notify(result.message, Theme::Tone::Warning);
            connectWithProfile(name);
        });
        m_firstRun->open();
    }

    FirstRunDialog *MainWindow::firstRunDialog() const
    {
        return m_firstRun;
    }

    void MainWindow::connectWithProfile(const QString &name)
    {
        const std::optional<GatewayProfile> profile = m_profiles->store().profile(name);
        if (!profile)
        {
            setGatewayStatus(tr("Gateway: there is no profile named %1").arg(name), Theme::Tone::Bad);
            return;
        }
        auto endpoint = GatewayEndpoint::fromUrl(profile->url);
        if (!endpoint)
        {
            setGatewayStatus(tr("Gateway: profile %1: %2").arg(name, endpoint.error()), Theme::Tone::Bad);
            m_notification->showMessage(tr("Profile %1 has an unusable gateway URL: %2").arg(name, endpoint.error()),
                                        Theme::Tone::Bad, tr("&Profiles…"), [this] { showProfiles(); });
            return;
        }
        endpoint->caFile = profile->caFile;
        endpoint->verifyPeer = profile->verifyTls;
        m_profiles->store().setLastUsed(name);
        setGatewayStatus(tr("Gateway: %1 — looking up the token…").arg(name), Theme::Tone::Warning);
        const GatewayEndpoint base = *endpoint;
        m_profiles->lookUpToken(*profile, [this, name, base](const TokenLookup &lookup) {
            GatewayEndpoint withToken = base;
            withToken.token = lookup.token;
            if (lookup.token.isEmpty())
            {
                const QString why =
                    lookup.message.isEmpty() ? tr("No token is stored for profile %1.").arg(name) : lookup.message;
                if (m_options.askForMissingToken)
                {
                    promptForToken(name, withToken, why);
                    return;
                }
                notify(why, Theme::Tone::Warning);
            }
            connectToEndpoint(withToken, name);
        });
    }

    void MainWindow::promptForToken(const QString &profile, const GatewayEndpoint &endpoint, const QString &why)
    {
        auto *dialog = new QInputDialog(this);
        dialog->setObjectName(QStringLiteral("tokenPrompt"));
        dialog->setAttribute(Qt::WA_DeleteOnClose);
        dialog->setWindowTitle(tr("Token for %1").arg(profile));
        dialog->setLabelText(tr("%1\nEnter the gateway's bearer token; it is kept for this session only.").arg(why));
        dialog->setTextEchoMode(QLineEdit::Password);
        connect(dialog, &QInputDialog::textValueSelected, this, [this, profile, endpoint](const QString &token) {
            m_profiles->rememberForSession(profile, token);
            GatewayEndpoint withToken = endpoint;
            withToken.token = token;
            connectToEndpoint(withToken, profile);
        });
        connect(dialog, &QInputDialog::rejected, this,
                [this, profile, endpoint] { connectToEndpoint(endpoint, profile); });
        dialog->open();
    }

    void MainWindow::connectToEndpoint(const GatewayEndpoint &endpoint, const QString &label)
    {
        const bool sameGateway =
            (m_api->endpoint().httpBase == endpoint.httpBase) && (m_api->endpoint().token == endpoint.token);
        if (!sameGateway)
        {
            // The old gateway's tabs stay saved for when it is used again.
            m_holdTabSave = true;
            while (m_tabs->count() > 0)
                closeTab(0);
            m_holdTabSave = false;
            m_runs->setRuns({});
            m_gatewayHealth = {};  // the new gateway's answer replaces it
        }
        m_api->setEndpoint(endpoint);
        // "work (http://host:8080)"; a bare URL is not repeated.
        const QString base = endpoint.httpBase.toString();
        m_gatewayLabel =
            ((label == base) || label.startsWith(u"ws")) ? base : QStringLiteral("%1 (%2)").arg(label, base);
        m_gatewayStatus->setToolTip(endpoint.webSocketUrl.toString());
        m_connected = true;
        m_reachableOnce = false;
        m_switchesBanner->dismiss();  // the new gateway says its own at the first answer
        setGatewayStatus(tr("Gateway: %1 — connecting…").arg(m_gatewayLabel), Theme::Tone::Warning);
        updateAbout();
        m_welcome->setText(welcomeText());  // not "not connected" any more
        qCInfo(lcUi).noquote() << "gateway" << label << endpoint.httpBase.toString();
        m_pollTimer.stop();
        pollNow();
        if (!sameGateway)
            restoreOpenTabs();
        if (!m_pendingWorkflow.isEmpty())
        {
            const QString id = m_pendingWorkflow;
            m_pendingWorkflow.clear();
            openWorkflow(id);
        }
    }

    // ---- polling ----

    void MainWindow::schedulePoll()
    {
        if (m_connected)
            m_pollTimer.start(m_options.pollInterval);
    }

    void MainWindow::pollNow()
    {
        if (m_polling || !m_connected)
            return;
        m_polling = true;
        m_pollTimer.stop();
        m_api->listWorkflows(200, this, [this](ApiResult<QList<RunInfo>> runs) {
            m_polling = false;
            if (!runs)
            {
                const ApiError &error = runs.error();
                if (error.httpStatus == 401)
                {
                    // Reachable, but it refuses us: waiting will not fix that, Profiles will.
                    setGatewayStatus(tr("Gateway: %1 — token refused (HTTP 401)").arg(m_gatewayLabel),
                                     Theme::Tone::Bad);
                    if (!std::exchange(m_tokenRefused, true))
                        notifyTokenRefused(tr("Gateway %1").arg(m_gatewayLabel));
                    updateAbout();
                    schedulePoll();
                    return;
                }
                setGatewayStatus(
                    tr("Gateway: %1 — unreachable: %2; trying again").arg(m_gatewayLabel, error.describe()),
                    Theme::Tone::Bad);
                if (!std::exchange(m_unreachable, true))
                    m_unreachableSince = QDateTime::currentDateTime();
                m_unreachableReason = error.describe();
                updateAbout();
                schedulePoll();
                return;
            }
            onRunsListed(*runs);
            schedulePoll();
        });
    }

    void MainWindow::onRunsListed(const QList<RunInfo> &runs)
    {
        m_tokenRefused = false;
        m_runs->setRuns(runs);
        setGatewayStatus(tr("Gateway: %1 — connected, %n run(s), updated %2", nullptr, static_cast<int>(runs.size()))
                             .arg(m_gatewayLabel, QLocale().toString(QTime::currentTime(), QStringLiteral("HH:mm:ss"))),
                         Theme::Tone::Good);
        // Back after an outage: every tab reconnects and re-checks now, not when its backoff ends.
        const bool back = std::exchange(m_unreachable, false);
        // A gateway that comes back may be another build or run with other switches.
        if (back || !m_reachableOnce)
            checkSwitches();
        for (WorkflowTab *tab : tabs())
        {
            if (const RunInfo *run = m_runs->run(tab->workflowId()))
                tab->setRunInfo(*run, m_runs->isStale(*run));
            if (back)
                tab->gatewayBack();
        }
        // Lock holders: only runs that can hold one, and a bounded number per poll.
        // An open workflow's holder comes from its lock model (see trackerFor).
        int lookups = 0;
        for (const RunInfo &run : runs)
        {
            if (m_trackers.contains(run.workflowId))
                continue;
            if (run.status != RunStatus::Running)
            {
                m_runs->setLockHolder(run.workflowId, {});
                continue;
            }
            if (++lookups > MaxLockLookupsPerPoll)
                continue;
            const QString id = run.workflowId;
            m_api->getLock(id, this, [this, id](ApiResult<LockInfo> info) {
                if (info)
                    m_runs->setLockHolder(id, info->held ? info->holder : QString());
            });
        }
        if (!m_reachableOnce)
        {
            m_reachableOnce = true;
            emit gatewayReachable();
        }
        updateAbout();
    }

    void MainWindow::checkSwitches()
    {
        m_api->health(this, [this](ApiResult<QJsonObject> health) {
            if (!health)
                return;  // the poll reports an unreachable gateway; the next answer asks again
            // Recorded sessions and the About box name the gateway's version, replica and switches.
            m_gatewayHealth = *health;
            updateAbout();
            // A switch is off only when the gateway says so (an older one does not say).
            const Race::GatewaySwitches switches = Race::GatewaySwitches::fromHealth(*health);
            QStringList warnings;
            if (!switches.lockEnabled)
                warnings.append(tr("Lock OFF on this gateway: concurrent executions of one workflow are possible"));
            if (!switches.casGuards)
                warnings.append(tr("CAS guards OFF: resume and cancel are not guarded"));
            if (!switches.fencing)
                warnings.append(tr("fencing OFF: a stale lock holder can still write"));
            if (warnings.isEmpty())
                m_switchesBanner->dismiss();
            else
                m_switchesBanner->showMessage(warnings.join(QStringLiteral(" · ")), Theme::Tone::Bad);
            emit switchesChecked(*health);
        });
    }

    NotificationBar *MainWindow::switchesBanner() const
    {
        return m_switchesBanner;
    }

    void MainWindow::setGatewayStatus(const QString &text, const Theme::Tone tone)
    {
        m_gatewayTone = tone;
        m_gatewayStatus->setText(text);
        QPalette palette = m_gatewayStatus->palette();
        palette.setColor(QPalette::WindowText, (tone == Theme::Tone::Neutral)
                                                   ? this->palette().color(QPalette::WindowText)
                                                   : Theme::toneColor(tone, this->palette()));
        m_gatewayStatus->setPalette(palette);
    }

    QString MainWindow::gatewayStatusText() const
    {
        return m_gatewayStatus->text();
    }

    NotificationBar *MainWindow::notificationBar() const
    {
        return m_notification;
    }

    void MainWindow::notify(const QString &text, const Theme::Tone tone)
    {
        qCInfo(lcUi).noquote() << "notice:" << text;
        m_notification->showMessage(text, tone);
    }

    void MainWindow::notifyTokenRefused(const QString &what)
    {
        qCInfo(lcUi).noquote() << "notice:" << what << "(token refused)";
        m_notification->showMessage(tr("%1: token refused — open Profiles to set the right one.").arg(what),
                                    Theme::Tone::Bad, tr("&Profiles…"), [this] { showProfiles(); });
    }

    // ---- tabs ----

    WorkflowTab *MainWindow::openWorkflow(const QString &workflowId, const bool newTab)
    {
        const QString id = workflowId.trimmed();
        if (!Protocol::isValidWorkflowId(id))
        {
            notify(tr("Cannot open '%1': not a workflow ID — %2").arg(id, Protocol::workflowIdProblem(id)));
            return nullptr;
        }
        if (!newTab)
        {
            for (int i = 0; i < m_tabs->count(); ++i)
            {
                auto *tab = qobject_cast<WorkflowTab *>(m_tabs->widget(i));
                if (tab && (tab->workflowId() == id))
                {
                    m_tabs->setCurrentIndex(i);
                    return tab;
                }
            }
        }
        TabContext context;
        context.api = m_api;
        context.endpoint = m_api->endpoint();
        context.backoff = m_options.backoff;
        context.random = m_options.random;
        context.lock = trackerFor(id);
        context.history = m_history.get();
        context.maxFrames = frameCapacity(*m_settings);
        auto *tab = new WorkflowTab(context, id, m_tabs);
        connect(tab, &WorkflowTab::openInNewTabRequested, this,
                [this](const QString &wid) { openWorkflow(wid, true); });
        connect(tab, &WorkflowTab::statusChanged, this, [this, tab] { updateTabIcon(tab); });
        connect(tab, &WorkflowTab::drivingChanged, this, [this, tab] { updateTabIcon(tab); });
        connect(
            tab, &WorkflowTab::outcomeRecorded, this, [this](const QString &wid, const WorkflowTab::Record &record) {
                statusBar()->showMessage(QStringLiteral("%1 — %2").arg(wid, WorkflowTab::recordText(record)), 15000);
                m_history->add(HistoryEntry{.workflowId = wid,
                                            .at = record.outcome.at,
                                            .kind = HistoryEntry::Kind::Outcome,
                                            .text = WorkflowTab::recordText(record),
                                            .tone = outcomeTone(record.outcome.kind)});
                // A 1013 is a lock event too: the lock refused this console's session.
                if (record.outcome.kind == OutcomeKind::AlreadyRunning)
                    m_recordings->recordLockEvent(RecordedLockEvent{.workflowId = wid,
                                                                    .at = record.outcome.at,
                                                                    .state = QStringLiteral("refused"),
                                                                    .holder = record.outcome.holder,
                                                                    .closeCode = quint16(CloseCode::TryAgainLater)});
            });
        watchSessions(tab);
        int copies = 0;
        for (WorkflowTab *other : tabs())
            copies += (other->workflowId() == id) ? 1 : 0;
        // A second tab of one workflow says so in its title ("… (2)").
        tab->setProperty("copyNumber", copies + 1);
        connect(tab, &WorkflowTab::titleChanged, this, [this, tab] { updateTabIcon(tab); });
        const int index = m_tabs->addTab(tab, tab->title());
        m_tabs->setCurrentIndex(index);
        if (const RunInfo *run = m_runs->run(id))
            tab->setRunInfo(*run, m_runs->isStale(*run));
        updateTabIcon(tab);
        updateActions();
        saveOpenTabs();
        return tab;
    }

    void MainWindow::recordHistory(const QString &workflowId, const HistoryEntry::Kind kind, const QString &text,
                                   const Theme::Tone tone)
    {
        m_history->add(HistoryEntry{.workflowId = workflowId, .kind = kind, .text = text, .tone = tone});
    }

    void MainWindow::watchSessions(WorkflowTab *tab)
    {
        // Close codes with their reasons: a driving session's end, and the live
        // view's closes other than a normal one (once per workflow until it is back).
        connect(tab, &WorkflowTab::sessionEnded, this,
                [this](const QString &wid, const quint16 code, const QString &reason) {
                    recordHistory(wid, HistoryEntry::Kind::Session,
                                  tr("Session closed: %1").arg(closeWording(code, reason)),
                                  (code == quint16(CloseCode::Normal)) ? Theme::Tone::Neutral : Theme::Tone::Warning);
                });
        const QString wid = tab->workflowId();
        // Every session of the tab is recorded: opened, its frames, how it closed.
        const auto gateway = [this] { return gatewayInfo(); };
        SessionRecorder::watch(m_recordings.get(), tab->liveConnection(), gateway);
        connect(tab, &WorkflowTab::driveStarted, this, [this, wid, gateway](DriveSession *drive) {
            SessionRecorder::watch(m_recordings.get(), drive, wid, gateway);
        });
        connect(
            tab->liveConnection(), &LiveConnection::statusChanged, this, [this, wid](const ConnectionStatus &status) {
                if (status.state == ConnectionState::Connected)
                {
                    m_lastLiveClose.remove(wid);
                    return;
                }
                if (((status.state != ConnectionState::Closed) && (status.state != ConnectionState::Reconnecting)) ||
                    !status.closeCode || (*status.closeCode == quint16(CloseCode::Normal)))
                    return;
                const QString text =
                    tr("Live view closed: %1").arg(closeWording(*status.closeCode, status.closeReason));
                if (m_lastLiveClose.value(wid) == text)
                    return;
                m_lastLiveClose.insert(wid, text);
                recordHistory(wid, HistoryEntry::Kind::Session, text, Theme::Tone::Warning);
            });
    }

    QStringList MainWindow::openTabIds() const
    {
        QStringList ids;
        for (const WorkflowTab *tab : tabs())
            ids.append(tab->workflowId());
        return ids;
    }

    QString MainWindow::tabsKey() const
    {
        // Tabs belong to a gateway; the embedded one changes its port between runs.
        if (m_embedded)
            return QStringLiteral("embedded");
        const QUrl base = m_api->endpoint().httpBase;
        return QStringLiteral("%1_%2").arg(base.host()).arg(base.port(base.scheme() == u"https" ? 443 : 80));
    }

    void MainWindow::saveOpenTabs()
    {
        if (m_holdTabSave || m_tabsKey.isEmpty())
            return;
        m_settings->setValue(QStringLiteral("openTabs/") + m_tabsKey, openTabIds());
    }

    void MainWindow::restoreOpenTabs()
    {
        m_tabsKey = tabsKey();
        if (!m_options.restoreTabs)
            return;
        const QStringList ids = m_settings->value(QStringLiteral("openTabs/") + m_tabsKey).toStringList();
        if (ids.isEmpty())
            return;
        qCInfo(lcUi).noquote() << "restoring" << ids.size() << "tab(s):" << ids.join(u' ');
        m_holdTabSave = true;
        QSet<QString> opened;
        for (const QString &id : ids)
        {
            // A workflow open twice (the two-tab race) comes back twice.
            if (Protocol::isValidWorkflowId(id))
                openWorkflow(id, opened.contains(id));
            opened.insert(id);
        }
        m_holdTabSave = false;
        saveOpenTabs();
    }

    void MainWindow::updateTabIcon(WorkflowTab *tab)
    {
        const int index = m_tabs->indexOf(tab);
        if (index < 0)
            return;
        const std::optional<RunStatus> status = tab->runStatus();
        m_tabs->setTabIcon(index, status ? Theme::statusIcon(*status, palette()) : QIcon());
        // Driving tabs are marked in the tab bar: closing one pauses its run.
        static const QString mark = QStringLiteral("▶ ");
        const int copy = tab->property("copyNumber").toInt();
        const QString text = (copy > 1) ? QStringLiteral("%1 (%2)").arg(tab->title()).arg(copy) : tab->title();
        m_tabs->setTabText(index, tab->isDriving() ? mark + text : text);
        m_tabs->setTabToolTip(index, tab->isDriving() ? tr("%1\n— this tab is driving the run").arg(tab->titleToolTip())
                                                      : tab->titleToolTip());
    }

    LockTracker *MainWindow::trackerFor(const QString &workflowId)
    {
        if (LockTracker *tracker = m_trackers.value(workflowId))
            return tracker;
        auto *tracker = new LockTracker(this);
        tracker->setSource(m_api, workflowId);
        m_trackers.insert(workflowId, tracker);
        connect(tracker, &LockTracker::changed, this, [this, tracker, workflowId] {
            m_runs->setLockHolder(workflowId,
                                  (tracker->state() == LockTracker::State::Held) ? tracker->holder() : QString());
        });
        connect(tracker, &LockTracker::eventAdded, this, [this, workflowId](const LockTracker::Event &event) {
            m_history->add(HistoryEntry{.workflowId = workflowId,
                                        .at = event.at,
                                        .kind = HistoryEntry::Kind::Lock,
                                        .text = event.text,
                                        .tone = lockEventTone(event.text)});
        });
        connect(tracker, &LockTracker::statusApplied, this, [this, workflowId](const Protocol::LockStatus &status) {
            m_recordings->recordLockEvent(
                RecordedLockEvent{.workflowId = workflowId,
                                  // The gateway's time when it says; else when the console saw it.
                                  .at = (status.at > 0) ? QDateTime::fromMSecsSinceEpoch(status.at, Qt::UTC)
                                                        : QDateTime::currentDateTimeUtc(),
                                  .state = Protocol::toWireString(status.state),
                                  .holder = status.holder,
                                  .fence = status.fence,
                                  .ttlMs = status.ttlMs});
        });
        connect(tracker, &LockTracker::expired, this, [this, workflowId](const QString &holder, const qint64 fence) {
            m_recordings->recordLockEvent(RecordedLockEvent{.workflowId = workflowId,
                                                            .at = QDateTime::currentDateTimeUtc(),
                                                            .state = QStringLiteral("expired"),
                                                            .holder = holder,
                                                            .fence = fence});
        });
        return tracker;
    }

    LockTracker *MainWindow::lockTracker(const QString &workflowId) const
    {
        return m_trackers.value(workflowId);
    }

    HistoryStore *MainWindow::history() const
    {
        return m_history.get();
    }

    RecordingStore *MainWindow::recordings() const
    {
        return m_recordings.get();
    }

    QJsonObject MainWindow::gatewayInfo() const
    {
        QJsonObject info = m_gatewayHealth;
        info.insert(QStringLiteral("url"), m_api->endpoint().webSocketUrl.toString());
        return info;
    }

    RecordingsBrowser *MainWindow::showRecordings()
    {
        if (!m_recordingsBrowser)
        {
            m_recordingsBrowser = new RecordingsBrowser(m_recordings.get(), this);
            m_recordingsBrowser->setAttribute(Qt::WA_DeleteOnClose);
        }
        else
            m_recordingsBrowser->refresh();
        m_recordingsBrowser->show();
        m_recordingsBrowser->raise();
        m_recordingsBrowser->activateWindow();
        return m_recordingsBrowser;
    }

    void MainWindow::showPreferences()
    {
        auto *dialog = new PreferencesDialog(m_settings.get(), m_options.historyLimits, this);
        dialog->setAttribute(Qt::WA_DeleteOnClose);
        connect(dialog, &PreferencesDialog::applied, this, [this](const HistoryLimits &limits, const int maxFrames) {
            m_history->setLimits(limits);
            m_history->prune();
            // Open tabs too: their sessions' ring buffers and the sessions they open next.
            for (WorkflowTab *tab : tabs())
                tab->frameSessions()->setFrameCapacity(maxFrames);
        });
        dialog->open();
    }

    void MainWindow::requestCloseTab(const int index)
    {
        auto *tab = qobject_cast<WorkflowTab *>(m_tabs->widget(index));
        if (tab && tab->isDriving())
        {
            const auto answer = QMessageBox::question(
                this, tr("Close tab"),
                tr("This tab drives workflow %1. Closing it ends its session and the run pauses at its next step "
                   "(Resume continues it).\n\nClose the tab?")
                    .arg(tab->workflowId()),
                QMessageBox::Close | QMessageBox::Cancel, QMessageBox::Cancel);
            if (answer != QMessageBox::Close)
                return;
        }
        closeTab(index);
    }

    void MainWindow::closeTab(const int index)
    {
        auto *tab = qobject_cast<WorkflowTab *>(m_tabs->widget(index));
        const QString id = tab ? tab->workflowId() : QString();
        m_tabs->removeTab(index);
        delete tab;
        // The lock model lives as long as a tab shows the workflow.
        bool shown = false;
        for (WorkflowTab *other : tabs())
            shown |= (other->workflowId() == id);
        if (!shown)
            delete m_trackers.take(id);
        updateActions();
        saveOpenTabs();
    }

    WorkflowTab *MainWindow::currentTab() const
    {
        return qobject_cast<WorkflowTab *>(m_tabs->currentWidget());
    }

    QList<WorkflowTab *> MainWindow::tabs() const
    {
        QList<WorkflowTab *> result;
        for (int i = 0; i < m_tabs->count(); ++i)
        {
            if (auto *tab = qobject_cast<WorkflowTab *>(m_tabs->widget(i)))
                result.append(tab);
        }
        return result;
    }

    QTabWidget *MainWindow::tabWidget() const
    {
        return m_tabs;
    }
    RunListModel *MainWindow::runModel() const
    {
        return m_runs;
    }
    RunFilterProxy *MainWindow::runProxy() const
    {
        return m_proxy;
    }
    QTableView *MainWindow::runView() const
    {
        return m_runView;
    }
    ProfileManager *MainWindow::profiles() const
    {
        return m_profiles;
    }
    GatewayApi *MainWindow::api() const
    {
        return m_api;
    }
    EmbeddedGateway *MainWindow::embeddedGateway() const
    {
        return m_embedded;
    }
    QSettings *MainWindow::settings() const
    {
        return m_settings.get();
    }

    // ---- run list ----

    QMenu *MainWindow::makeRunContextMenu(const QModelIndex &index)
    {
        const QString id = index.isValid() ? index.data(RunListModel::WorkflowIdRole).toString() : QString();
        if (id.isEmpty())
            return nullptr;
        auto *menu = new QMenu(this);
        menu->setObjectName(QStringLiteral("runContextMenu"));
        menu->setToolTipsVisible(true);
        const auto add = [menu](const char *name, const QString &text, auto slot) {
            QAction *action = menu->addAction(text);
            action->setObjectName(QString::fromLatin1(name));
            connect(action, &QAction::triggered, menu, slot);
            return action;
        };
        add("runMenuOpen", tr("&Open"), [this, id] { openWorkflow(id); });
        add("runMenuOpenNewTab", tr("Open in &new tab"), [this, id] { openWorkflow(id, true); });
        add("runMenuCopyId", tr("&Copy ID"), [this, id] {
            QGuiApplication::clipboard()->setText(id);
            statusBar()->showMessage(tr("Copied %1").arg(id), 5000);
        });
        menu->addSeparator();
        QAction *cancel = add("runMenuCancel", tr("C&ancel run…"), [this, id] { requestCancelRun(id); });
        const RunInfo *run = m_runs->run(id);
        if (run && run->status && isFinal(*run->status))
        {
            // Nothing to cancel: say why rather than offer a no-op.
            cancel->setEnabled(false);
            cancel->setToolTip(tr("The run is %1 already").arg(humanName(*run->status)));
        }
        return menu;
    }

    void MainWindow::requestCancelRun(const QString &workflowId)
    {
        // A tab that shows the run asks, so its banner and history have the outcome.
        for (WorkflowTab *tab : tabs())
        {
            if (tab->workflowId() == workflowId)
            {
                m_tabs->setCurrentWidget(tab);
                tab->requestCancel();
                return;
            }
        }
        if (m_runCancelConfirm)
        {
            m_runCancelConfirm->raise();
            return;
        }
        const RunInfo *run = m_runs->run(workflowId);
        QMessageBox *box = makeCancelConfirmation(workflowId, run ? run->status : std::nullopt, this);
        connect(box, &QMessageBox::finished, this, [this, box, workflowId] {
            if (!cancelConfirmed(box))
                return;
            m_api->cancel(workflowId, this, [this, workflowId](ActionOutcome outcome) {
                const WorkflowTab::Record record{.action = TabAction::Cancel, .outcome = outcome};
                const QString text = WorkflowTab::recordText(record);
                m_history->add(HistoryEntry{.workflowId = workflowId,
                                            .at = outcome.at,
                                            .kind = HistoryEntry::Kind::Outcome,
                                            .text = text,
                                            .tone = outcomeTone(outcome.kind)});
                if (isSuccess(outcome.kind))
                    statusBar()->showMessage(QStringLiteral("%1 — %2").arg(workflowId, text), 15000);
                else if (outcome.detail.contains(u"HTTP 401"))  // outcomeFromCancelReply's wording
                    notifyTokenRefused(tr("Cancel %1").arg(workflowId));
                else
                    notify(tr("%1 — %2").arg(workflowId, text));
                pollNow();
            });
        });
        m_runCancelConfirm = box;
        box->open();
    }

    // ---- dialogs ----

    QStringList MainWindow::knownFlows() const
    {
        QStringList flows = Flows::FlowLibrary::load().names();
        for (const QString &name : {QStringLiteral("hello"), QStringLiteral("long"), QStringLiteral("approval"),
                                    QStringLiteral("failure"), QStringLiteral("workspace")})
        {
            if (!flows.contains(name))
                flows.append(name);
        }
        flows.removeAll(QStringLiteral("hello"));
        flows.sort();
        flows.prepend(QStringLiteral("hello"));
        return flows;
    }

    void MainWindow::showProfiles()
    {
        auto *dialog = new ProfileDialog(m_profiles, this);
        dialog->setAttribute(Qt::WA_DeleteOnClose);
        connect(dialog, &ProfileDialog::connectRequested, this, [this](const QString &name) {
            // A profile chosen by hand is what the next start uses, not the local gateway.
            setStartEmbedded(false);
            connectWithProfile(name);
        });
        dialog->open();
    }

    void MainWindow::showNewWorkflow()
    {
        auto *dialog = new NewWorkflowDialog(m_api, knownFlows(), this);
        dialog->setAttribute(Qt::WA_DeleteOnClose);
        connect(dialog, &QDialog::accepted, this, [this, dialog] {
            createWorkflow(dialog->goal(), dialog->flow(), dialog->workflowId(), dialog->workspaceId());
        });
        dialog->open();
    }

    void MainWindow::showOpenWorkflow()
    {
        auto *dialog = new QInputDialog(this);
        dialog->setAttribute(Qt::WA_DeleteOnClose);
        dialog->setWindowTitle(tr("Open workflow"));
        dialog->setLabelText(tr("&Workflow ID:"));
        connect(dialog, &QInputDialog::textValueSelected, this, [this](const QString &id) { openWorkflow(id); });
        dialog->open();
    }

    void MainWindow::createWorkflow(const QString &goal, const QString &flow, const QString &workflowId,
                                    const QString &workspaceId)
    {
        if (goal.trimmed().isEmpty())
        {
            notify(tr("New workflow: the goal is empty — say what the agent should do."));
            return;
        }
        if (!workflowId.isEmpty() || !workspaceId.isEmpty())
        {
            startWorkflowAt(goal, flow, workflowId, workspaceId);
            return;
        }
        statusBar()->showMessage(tr("Creating a %1 workflow…").arg(flow));
        m_api->createWorkflow(goal, flow, this, [this, flow](ApiResult<QString> id) {
            if (!id)
            {
                statusBar()->clearMessage();
                if (id.error().httpStatus == 401)
                    notifyTokenRefused(tr("New workflow (%1) failed").arg(flow));
                else
                    notify(tr("New workflow (%1) failed: %2").arg(flow, id.error().describe()));
                return;
            }
            statusBar()->showMessage(tr("Created workflow %1").arg(*id), 10000);
            pollNow();
            if (WorkflowTab *tab = openWorkflow(*id))
                tab->resume();
        });
    }

    void MainWindow::startWorkflowAt(const QString &goal, const QString &flow, const QString &workflowId,
                                     const QString &workspaceId)
    {
        // A generated ID names the flow, so the run list reads well.
        const QString id = workflowId.isEmpty()
                               ? QStringLiteral("%1-%2").arg(flow, QUuid::createUuid().toString(QUuid::Id128).left(12))
                               : workflowId;
        if (!Protocol::isValidWorkflowId(id))
        {
            notify(tr("New workflow: '%1' is not a workflow ID — %2").arg(id, Protocol::workflowIdProblem(id)));
            return;
        }
        QJsonObject metadata{{QStringLiteral("flow"), flow}};
        if (!workspaceId.isEmpty())
            metadata.insert(QStringLiteral("workspaceID"), workspaceId);
        // A startRequest with a goal on an existing run is its next message: a new
        // workflow must not land in someone else's run, so a taken ID is refused.
        m_api->getWorkflow(id, this, [this, id, goal, flow, metadata](ApiResult<RunInfo> existing) {
            if (existing)
            {
                notify(tr("New workflow: %1 exists already — open it (File → Open workflow…) or choose another ID.")
                           .arg(id));
                return;
            }
            if (existing.error().httpStatus == 401)
            {
                notifyTokenRefused(tr("New workflow (%1) failed").arg(flow));
                return;
            }
            if (existing.error().httpStatus != 404)
            {
                notify(tr("New workflow (%1) failed: %2").arg(flow, existing.error().describe()));
                return;
            }
            if (WorkflowTab *tab = openWorkflow(id))
                tab->startNew(goal, metadata);
        });
    }

    // ---- window ----

    void MainWindow::closeEvent(QCloseEvent *event)
    {
        m_settings->setValue(QStringLiteral("ui/geometry"), saveGeometry());
        m_settings->setValue(QStringLiteral("ui/state"), saveState());
        m_settings->sync();
        m_pollTimer.stop();
        m_connected = false;
        QMainWindow::closeEvent(event);
    }

    void MainWindow::changeEvent(QEvent *event)
    {
        QMainWindow::changeEvent(event);
        if (event->type() == QEvent::PaletteChange)
        {
            for (WorkflowTab *tab : tabs())
                updateTabIcon(tab);
            if (m_runView)
                m_runView->viewport()->update();
            // Its colour came from the old palette.
            setGatewayStatus(m_gatewayStatus->text(), m_gatewayTone);
        }
    }
}  // namespace Lockstep::Ui
