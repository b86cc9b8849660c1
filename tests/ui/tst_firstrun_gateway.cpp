#include <QApplication>
#include <QFile>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QRadioButton>
#include <QSettings>
#include <QSignalSpy>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>

#include "aboutdialog.h"
#include "connectioncheck.h"
#include "connectioncheckview.h"
#include "embeddedgateway.h"
#include "firstrundialog.h"
#include "freeport.h"
#include "mainwindow.h"
#include "notificationbar.h"
#include "profiledialog.h"
#include "profiles.h"
#include "testgateway.h"
#include "theme.h"

using namespace std::chrono_literals;
using namespace Lockstep;
using namespace Lockstep::Ui;

// First run, "Test connection" and the About box against real lockstep-gateway
// processes: the checker with a good token, a wrong one, no gateway, a gateway
// with a QA switch off, something that is not a gateway; the first-run dialog
// (only without a profile and flags; embedded remembered; remote tested, saved
// and connected); the profile dialog's button; the About box's gateway values.
class tst_FirstRunGateway : public QObject
{
    Q_OBJECT

private:
    Test::TestGateway m_gateway;
    QTemporaryDir m_dir;
    int m_settingsCount = 0;

    QString newSettingsFile()
    {
        return m_dir.filePath(QStringLiteral("console-%1.ini").arg(++m_settingsCount));
    }

    // A console with nothing on its command line (as a first start is).
    ConsoleOptions bareOptions(const QString &settingsFile) const
    {
        ConsoleOptions o;
        o.settingsFile = settingsFile;
        o.dataDir = m_dir.filePath(QStringLiteral("console-data"));
        o.gatewayBinary = qEnvironmentVariable("LOCKSTEP_GATEWAY_BIN");
        o.embeddedDataDir = m_dir.filePath(QStringLiteral("embedded"));
        o.pollInterval = 300ms;
        o.askForMissingToken = false;
        o.keychainRetryDelay = 20ms;
        return o;
    }

    static GatewayEndpoint endpointOf(const QString &url, const QString &token)
    {
        auto endpoint = GatewayEndpoint::fromUrl(url);
        endpoint->token = token;
        return *endpoint;
    }

    static ConnectionReport check(const GatewayEndpoint &endpoint, std::chrono::milliseconds timeout = 8s)
    {
        ConnectionCheck checker;
        checker.setTimeout(timeout);
        QSignalSpy finished(&checker, &ConnectionCheck::finished);
        checker.start(endpoint);
        if (!finished.wait(20000))
            return {};
        return finished.constFirst().at(0).value<ConnectionReport>();
    }

    static QString labelText(QWidget *parent, const char *name)
    {
        auto *label = parent->findChild<QLabel *>(QString::fromLatin1(name));
        return label ? label->text() : QStringLiteral("<no label %1>").arg(QString::fromLatin1(name));
    }

private slots:
    void initTestCase()
    {
        // No Secret Service here, whatever the machine has: the keychain-unavailable path is deterministic.
        qunsetenv("DBUS_SESSION_BUS_ADDRESS");
        qRegisterMetaType<SaveResult>();
        QVERIFY(m_dir.isValid());
        QVERIFY2(m_gateway.start(), "the gateway did not start");
    }

    // ---- the checker ----

    void checkerGoodToken()
    {
        const ConnectionReport report = check(endpointOf(m_gateway.url(), m_gateway.token()));
        QCOMPARE(report.verdict, ConnectionReport::Verdict::Ok);
        QVERIFY(report.reachable);
        QCOMPARE(report.tokenAccepted, std::optional<bool>(true));
        QCOMPARE(report.version, QStringLiteral(LOCKSTEP_VERSION));
        QCOMPARE(report.replica, QStringLiteral("test-replica"));
        QCOMPARE(report.lockStore, QStringLiteral("memory"));
        QCOMPARE(report.store, QStringLiteral("sqlite"));
        QVERIFY(report.switches.allOn());
        QCOMPARE(report.tone(), Theme::Tone::Good);
        QVERIFY2(report.verdictText().contains(QStringLiteral(LOCKSTEP_VERSION)), qPrintable(report.verdictText()));
    }

    void checkerWrongToken()
    {
        const ConnectionReport report = check(endpointOf(m_gateway.url(), QStringLiteral("not-the-token")));
        QCOMPARE(report.verdict, ConnectionReport::Verdict::TokenRefused);
        QVERIFY(report.reachable);  // still reachable: only the token is wrong
        QCOMPARE(report.tokenAccepted, std::optional<bool>(false));
        QVERIFY(!report.tokenDetail.isEmpty());  // the gateway's own message
        QVERIFY2(report.verdictText().contains(report.tokenDetail), qPrintable(report.verdictText()));
        QCOMPARE(report.version, QStringLiteral(LOCKSTEP_VERSION));
        QCOMPARE(report.tone(), Theme::Tone::Bad);
    }

    void checkerNoGateway()
    {
        const QString url = QStringLiteral("ws://127.0.0.1:%1").arg(Test::freePort());
        const ConnectionReport report = check(endpointOf(url, m_gateway.token()));
        QCOMPARE(report.verdict, ConnectionReport::Verdict::Unreachable);
        QCOMPARE(report.failure, ConnectionReport::Failure::Refused);
        QVERIFY(!report.reachable);
        QVERIFY(!report.tokenAccepted.has_value());
        QVERIFY2(report.verdictText().contains(u"connection refused"), qPrintable(report.verdictText()));
    }

    void checkerNotAGatewayAndSilence()
    {
        // Something that answers HTTP, but not as a gateway; and something that never answers.
        QTcpServer web;
        QVERIFY(web.listen(QHostAddress::LocalHost));
        connect(&web, &QTcpServer::newConnection, this, [&web] {
            while (QTcpSocket *socket = web.nextPendingConnection())
            {
                connect(socket, &QTcpSocket::readyRead, socket, [socket] {
                    socket->readAll();
                    socket->write("HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found");
                    socket->disconnectFromHost();
                });
            }
        });
        const ConnectionReport other = check(endpointOf(QStringLiteral("ws://127.0.0.1:%1").arg(web.serverPort()), {}));
        QCOMPARE(other.verdict, ConnectionReport::Verdict::Unreachable);
        QCOMPARE(other.failure, ConnectionReport::Failure::NotLockstep);
        QVERIFY2(other.verdictText().contains(u"not a Lockstep gateway"), qPrintable(other.verdictText()));

        QTcpServer silent;  // accepts (the kernel does) and never says a word
        QVERIFY(silent.listen(QHostAddress::LocalHost));
        const ConnectionReport quiet =
            check(endpointOf(QStringLiteral("ws://127.0.0.1:%1").arg(silent.serverPort()), {}), 700ms);
        QCOMPARE(quiet.verdict, ConnectionReport::Verdict::Unreachable);
        QCOMPARE(quiet.failure, ConnectionReport::Failure::Timeout);
    }

    void checkerSwitchOffIsShownInRed()
    {
        Test::TestGateway unguarded;
        QVERIFY(unguarded.start({QStringLiteral("--no-cas-guards")}));
        ConnectionCheckView view;
        view.show();
        QSignalSpy finished(view.checker(), &ConnectionCheck::finished);
        view.run(endpointOf(unguarded.url(), unguarded.token()));
        QVERIFY(finished.wait(20000));
        const ConnectionReport report = view.checker()->report();
        QCOMPARE(report.verdict, ConnectionReport::Verdict::SwitchesOff);
        QVERIFY(!report.switches.casGuards);
        QVERIFY(report.switches.lockEnabled);
        QCOMPARE(report.tokenAccepted, std::optional<bool>(true));
        QCOMPARE(report.tone(), Theme::Tone::Warning);
        // The off switch in the bad tone's colour, the others as plain text.
        const QString red = Theme::toneColor(Theme::Tone::Bad, view.palette()).name();
        QVERIFY2(view.detailsText().contains(QStringLiteral("color:%1\">CAS guards OFF").arg(red)),
                 qPrintable(view.detailsText()));
        QVERIFY2(view.detailsText().contains(u"lock on"), qPrintable(view.detailsText()));
        QVERIFY(!view.detailsText().contains(u"lock OFF"));
        QCOMPARE(view.verdictText(), report.verdictText());
        QVERIFY2(report.verdictText().contains(u"the CAS guards off"), qPrintable(report.verdictText()));
        QVERIFY(!report.verdictText().contains(u"run lock"));
    }

    void checkerCancelsWhenTheViewCloses()
    {
        QTcpServer silent;
        QVERIFY(silent.listen(QHostAddress::LocalHost));
        ConnectionCheckView view;
        view.show();
        QSignalSpy finished(view.checker(), &ConnectionCheck::finished);
        view.run(endpointOf(QStringLiteral("ws://127.0.0.1:%1").arg(silent.serverPort()), {}));
        QVERIFY(view.checker()->isRunning());
        view.hide();  // the dialog closed
        QVERIFY(!view.checker()->isRunning());
        QCOMPARE(finished.size(), 1);
        QCOMPARE(finished.constFirst().at(0).value<ConnectionReport>().verdict, ConnectionReport::Verdict::Cancelled);
        QTest::qWait(300);  // nothing arrives later
        QCOMPARE(finished.size(), 1);
    }

    // ---- first run ----

    void firstRunOnlyWithoutProfileOrFlags()
    {
        {
            MainWindow window(bareOptions(newSettingsFile()));
            window.show();
            window.start();
            QVERIFY(window.firstRunDialog());
            QTRY_VERIFY(window.firstRunDialog()->isVisible());
            // Cancel: today's welcome text, nothing saved, no gateway.
            window.firstRunDialog()->reject();
            QTRY_VERIFY(!window.firstRunDialog());
            QVERIFY(labelText(&window, "welcomeLabel").startsWith(u"Not connected to a gateway"));
            QVERIFY(window.profiles()->store().profiles().isEmpty());
            QVERIFY(!window.embeddedGateway());
        }
        {
            // A profile exists (none used last): no first run.
            const QString settingsFile = newSettingsFile();
            {
                QSettings settings(settingsFile, QSettings::IniFormat);
                ProfileStore(&settings).save(GatewayProfile{.name = QStringLiteral("work"), .url = m_gateway.url()});
            }
            MainWindow window(bareOptions(settingsFile));
            window.show();
            window.start();
            QVERIFY(!window.firstRunDialog());
        }
        {
            // --gateway: no first run either.
            MainWindow window(m_gateway.consoleOptions(newSettingsFile(), {}));
            QVERIFY(Test::showConsole(window));
            QVERIFY(!window.firstRunDialog());
            QVERIFY(window.profiles()->store().profiles().isEmpty());
        }
    }

    // The lockstep package installed without lockstep-gateway: the local choice
    // cannot work, so it is disabled, says what to install, and the remote form is ready.
    void firstRunWithoutGatewayBinaryOffersRemoteOnly()
    {
        ConsoleOptions options = bareOptions(newSettingsFile());
        options.gatewayBinary = m_dir.filePath(QStringLiteral("no-such-lockstep-gateway"));
        MainWindow window(options);
        window.show();
        window.start();
        QVERIFY(window.firstRunDialog());
        FirstRunDialog *dialog = window.firstRunDialog();
        QVERIFY(!dialog->embeddedOption()->isEnabled());
        QVERIFY(dialog->remoteOption()->isChecked());
        QVERIFY(dialog->urlEdit()->isEnabled());
        QVERIFY(labelText(dialog, "firstRunEmbeddedNote").contains(u"lockstep-gateway package"));
        dialog->reject();
        QTRY_VERIFY(!window.firstRunDialog());
        QVERIFY(!window.embeddedGateway());
    }

    void firstRunEmbeddedIsRemembered()
    {
        const QString settingsFile = newSettingsFile();
        qint64 firstPid = 0;
        {
            MainWindow window(bareOptions(settingsFile));
            window.show();
            QSignalSpy reachable(&window, &MainWindow::gatewayReachable);
            window.start();
            FirstRunDialog *dialog = window.firstRunDialog();
            QVERIFY(dialog);
            QVERIFY(dialog->embeddedOption()->isChecked());  // the default: Enter starts it
            QTest::keyClick(dialog, Qt::Key_Return);
            QVERIFY(reachable.wait(20000));
            QVERIFY(window.embeddedGateway()->isRunning());
            QVERIFY2(window.gatewayStatusText().contains(u"embedded"), qPrintable(window.gatewayStatusText()));
            QVERIFY(window.action(QStringLiteral("startEmbeddedAction"))->isChecked());
            firstPid = window.embeddedGateway()->processId();
        }
        QCOMPARE(QSettings(settingsFile, QSettings::IniFormat).value(MainWindow::startEmbeddedKey()).toBool(), true);
        {
            // The next start without flags runs it again, without asking.
            MainWindow window(bareOptions(settingsFile));
            window.show();
            QSignalSpy reachable(&window, &MainWindow::gatewayReachable);
            window.start();
            QVERIFY(!window.firstRunDialog());
            QVERIFY(reachable.wait(20000));
            QVERIFY(window.embeddedGateway()->isRunning());
            QVERIFY(window.embeddedGateway()->processId() != firstPid);
            // Turned off under Gateway: the next start asks again.
            window.action(QStringLiteral("startEmbeddedAction"))->trigger();
        }
        QVERIFY(!QSettings(settingsFile, QSettings::IniFormat).contains(MainWindow::startEmbeddedKey()));
        MainWindow window(bareOptions(settingsFile));
        window.show();
        window.start();
        QVERIFY(window.firstRunDialog());
        QVERIFY(!window.embeddedGateway());
    }

    void firstRunRemoteTestThenSave()
    {
        const QString settingsFile = newSettingsFile();
        MainWindow window(bareOptions(settingsFile));
        window.show();
        QSignalSpy reachable(&window, &MainWindow::gatewayReachable);
        window.start();
        FirstRunDialog *dialog = window.firstRunDialog();
        QVERIFY(dialog);
        QVERIFY(dialog->tokenStorage()->keychainOption()->isChecked());  // the keychain by default
        QVERIFY(!dialog->urlEdit()->isEnabled());                        // the form is for the other choice
        QVERIFY(QTest::qWaitForWindowExposed(dialog));
        QApplication::setActiveWindow(dialog);
        dialog->embeddedOption()->setFocus();
        QTest::keyClick(dialog->embeddedOption(), Qt::Key_Down);  // the arrow keys choose
        QVERIFY(dialog->remoteOption()->isChecked());
        QVERIFY(dialog->urlEdit()->isEnabled());
        QTest::keyClicks(dialog->urlEdit(), m_gateway.url());
        QCOMPARE(dialog->profileName(), QStringLiteral("127.0.0.1"));
        dialog->tokenEdit()->setText(QStringLiteral("wrong"));
        dialog->tokenStorage()->sessionOption()->setChecked(true);

        // Test connection, inline, before anything is saved.
        ConnectionCheckView *view = dialog->connectionCheck();
        QSignalSpy finished(view->checker(), &ConnectionCheck::finished);
        QTest::mouseClick(view->button(), Qt::LeftButton);
        QVERIFY(finished.wait(20000));
        QCOMPARE(view->checker()->report().verdict, ConnectionReport::Verdict::TokenRefused);
        QVERIFY(view->verdictText().contains(u"refused the token"));
        QVERIFY(window.profiles()->store().profiles().isEmpty());

        dialog->tokenEdit()->setText(m_gateway.token());
        QTest::mouseClick(view->button(), Qt::LeftButton);
        QVERIFY(finished.wait(20000));
        QCOMPARE(view->checker()->report().verdict, ConnectionReport::Verdict::Ok);
        QVERIFY2(view->detailsText().contains(u"test-replica"), qPrintable(view->detailsText()));
        QVERIFY(view->detailsText().contains(QStringLiteral(LOCKSTEP_VERSION)));

        // Save and connect.
        QTest::keyClick(dialog, Qt::Key_Return);
        QVERIFY(reachable.wait(20000));
        QTRY_VERIFY(!window.firstRunDialog());
        const auto profile = window.profiles()->store().profile(QStringLiteral("127.0.0.1"));
        QVERIFY(profile);
        QCOMPARE(profile->url, m_gateway.url());
        QVERIFY(profile->tokenStorage == TokenStorage::SessionOnly);
        QCOMPARE(window.profiles()->store().lastUsed(), QStringLiteral("127.0.0.1"));
        QVERIFY2(window.gatewayStatusText().contains(u"connected"), qPrintable(window.gatewayStatusText()));
        QVERIFY(!labelText(&window, "welcomeLabel").contains(u"Not connected"));
        QVERIFY(!window.settings()->contains(MainWindow::startEmbeddedKey()));
        window.settings()->sync();
        QFile file(settingsFile);
        QVERIFY(file.open(QIODevice::ReadOnly));
        QVERIFY(!file.readAll().contains(m_gateway.token().toUtf8()));
    }

    void firstRunKeychainUnavailableIsSaid()
    {
        const QString settingsFile = newSettingsFile();
        MainWindow window(bareOptions(settingsFile));
        window.show();
        QSignalSpy reachable(&window, &MainWindow::gatewayReachable);
        window.start();
        FirstRunDialog *dialog = window.firstRunDialog();
        QVERIFY(dialog);
        dialog->remoteOption()->setChecked(true);
        dialog->urlEdit()->setText(m_gateway.url());
        dialog->nameEdit()->setText(QStringLiteral("office"));
        dialog->tokenEdit()->setText(m_gateway.token());
        dialog->accept();  // keychain, the default; there is no Secret Service here
        QVERIFY(reachable.wait(30000));
        QVERIFY(window.profiles()->store().profile(QStringLiteral("office")));
        QVERIFY2(window.notificationBar()->text().contains(u"keychain is unavailable"),
                 qPrintable(window.notificationBar()->text()));
        window.settings()->sync();
        QFile file(settingsFile);
        QVERIFY(file.open(QIODevice::ReadOnly));
        QVERIFY(!file.readAll().contains(m_gateway.token().toUtf8()));  // never silently in plain text
    }

    // A profile connected by hand is what the next start uses, not the remembered local gateway.
    void profileConnectTurnsOffTheLocalGateway()
    {
        const QString settingsFile = newSettingsFile();
        QSettings(settingsFile, QSettings::IniFormat).setValue(MainWindow::startEmbeddedKey(), true);
        MainWindow window(bareOptions(settingsFile));
        window.show();
        QVERIFY(window.action(QStringLiteral("startEmbeddedAction"))->isChecked());
        QSignalSpy reachable(&window, &MainWindow::gatewayReachable);
        window.action(QStringLiteral("profilesAction"))->trigger();
        auto *dialog = window.findChild<ProfileDialog *>();
        QVERIFY(dialog);
        dialog->nameEdit()->setText(QStringLiteral("lab"));
        dialog->urlEdit()->setText(m_gateway.url());
        dialog->tokenEdit()->setText(m_gateway.token());
        dialog->sessionOption()->setChecked(true);
        QTest::mouseClick(dialog->findChild<QPushButton *>(QStringLiteral("connectProfileButton")), Qt::LeftButton);
        QVERIFY(reachable.wait(20000));
        QVERIFY(!window.embeddedGateway());
        QVERIFY(!window.action(QStringLiteral("startEmbeddedAction"))->isChecked());
        QVERIFY(!window.settings()->contains(MainWindow::startEmbeddedKey()));
    }

    // ---- the profile dialog ----

    void profileDialogTestsTheFormsValues()
    {
        QSettings settings(newSettingsFile(), QSettings::IniFormat);
        TokenVault vault(QStringLiteral("lockstep-test"));
        vault.setRetryDelay(20ms);
        ProfileManager manager(&settings, &vault);
        ProfileDialog dialog(&manager);
        dialog.show();
        ConnectionCheckView *view = dialog.connectionCheck();
        QSignalSpy finished(view->checker(), &ConnectionCheck::finished);

        dialog.nameEdit()->setText(QStringLiteral("lab"));
        dialog.urlEdit()->setText(m_gateway.url());
        dialog.tokenEdit()->setText(QStringLiteral("typo"));
        QTest::mouseClick(view->button(), Qt::LeftButton);
        QVERIFY(finished.wait(20000));
        QCOMPARE(view->checker()->report().verdict, ConnectionReport::Verdict::TokenRefused);

        // Saved (this session), the field emptied: the test uses the stored token.
        dialog.tokenEdit()->setText(m_gateway.token());
        dialog.sessionOption()->setChecked(true);
        QSignalSpy saved(&dialog, &ProfileDialog::saved);
        dialog.save();
        QVERIFY(saved.wait(10000));
        QVERIFY(dialog.tokenEdit()->text().isEmpty());
        QTest::mouseClick(view->button(), Qt::LeftButton);
        QVERIFY(finished.wait(20000));
        QCOMPARE(view->checker()->report().verdict, ConnectionReport::Verdict::Ok);

        dialog.urlEdit()->setText(QStringLiteral("ftp://nowhere"));
        QTest::mouseClick(view->button(), Qt::LeftButton);
        QVERIFY2(view->verdictText().startsWith(u"The URL is not usable"), qPrintable(view->verdictText()));
    }

    // ---- About and the icon ----

    void aboutFollowsTheGateway()
    {
        MainWindow window(m_gateway.consoleOptions(newSettingsFile(), {}));
        AboutDialog *about = window.showAbout();
        QCOMPARE(labelText(about, "aboutGateway"), QStringLiteral("not connected"));
        QCOMPARE(labelText(about, "aboutVersion"), QApplication::applicationVersion().isEmpty()
                                                       ? QStringLiteral(LOCKSTEP_VERSION)
                                                       : QApplication::applicationVersion());
        QVERIFY(labelText(about, "aboutQtVersion").startsWith(QString::fromLatin1(qVersion())));
        // The application's icon, in every size, on the main window and the dialog alike.
        for (const int size : {16, 32, 48, 64, 128, 256})
            QVERIFY2(QApplication::windowIcon().availableSizes().contains(QSize(size, size)),
                     qPrintable(QString::number(size)));
        QCOMPARE(about->windowIcon().cacheKey(), QApplication::windowIcon().cacheKey());
        QCOMPARE(window.windowIcon().cacheKey(), QApplication::windowIcon().cacheKey());
        QVERIFY(!about->findChild<QLabel *>(QStringLiteral("aboutIcon"))->pixmap().isNull());

        QVERIFY(Test::showConsole(window));
        QTRY_COMPARE_WITH_TIMEOUT(labelText(about, "aboutGatewayVersion"), QStringLiteral(LOCKSTEP_VERSION), 10000);
        QCOMPARE(labelText(about, "aboutGatewayReplica"), QStringLiteral("test-replica"));
        QCOMPARE(labelText(about, "aboutGatewayLockStore"), QStringLiteral("memory"));
        QCOMPARE(labelText(about, "aboutGatewayStore"), QStringLiteral("sqlite"));
        QVERIFY(labelText(about, "aboutGateway").startsWith(m_gateway.url()));

        // Another gateway: the box follows it.
        Test::TestGateway other;
        QVERIFY(other.start({QStringLiteral("--replica-id"), QStringLiteral("other-replica")}));
        auto endpoint = GatewayEndpoint::fromUrl(other.url());
        endpoint->token = other.token();
        window.connectToEndpoint(*endpoint, other.url());
        QVERIFY(labelText(about, "aboutGateway").startsWith(other.url()));
        QTRY_COMPARE_WITH_TIMEOUT(labelText(about, "aboutGatewayReplica"), QStringLiteral("other-replica"), 10000);
        QTRY_COMPARE_WITH_TIMEOUT(labelText(about, "aboutGatewayState"), QStringLiteral("connected"), 10000);
        QCOMPARE(window.showAbout(), about);  // one box, raised again

        // The gateway dies: the box says so, and the values are marked as its last answer.
        other.kill();
        QTRY_VERIFY_WITH_TIMEOUT(labelText(about, "aboutGatewayState").startsWith(u"unreachable since"), 10000);
        QCOMPARE(labelText(about, "aboutGatewayVersion"),
                 QStringLiteral("%1 (last answer)").arg(QStringLiteral(LOCKSTEP_VERSION)));
        QCOMPARE(labelText(about, "aboutGatewayReplica"), QStringLiteral("other-replica (last answer)"));
        // Back: present tense again.
        QVERIFY(other.restart());
        QTRY_COMPARE_WITH_TIMEOUT(labelText(about, "aboutGatewayState"), QStringLiteral("connected"), 15000);
        QCOMPARE(labelText(about, "aboutGatewayReplica"), QStringLiteral("other-replica"));
    }
};

QTEST_MAIN(tst_FirstRunGateway)
#include "tst_firstrun_gateway.moc"
