#include <QApplication>
#include <QSettings>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include "mainwindow.h"
#include "notificationbar.h"
#include "testgateway.h"
#include "theme.h"

using namespace Lockstep;
using namespace Lockstep::Ui;

// The red banner of a gateway whose /healthz says the run lock or the CAS
// guards are off, against a real lockstep-gateway started with the QA switches:
// shown on connect, gone when the gateway comes back with them on.
class tst_SwitchBannerGateway : public QObject
{
    Q_OBJECT

private:
    static BackoffOptions fastBackoff()
    {
        BackoffOptions backoff;
        backoff.initial = std::chrono::milliseconds(100);
        backoff.maximum = std::chrono::milliseconds(400);
        return backoff;
    }

private slots:
    void lockOffShowsTheBanner()
    {
        Test::TestGateway gateway;
        QVERIFY(gateway.start({QStringLiteral("--no-lock-concurrent-flows")}));
        QTemporaryDir dir;
        MainWindow window(gateway.consoleOptions(dir.filePath(QStringLiteral("settings.ini")), fastBackoff()));
        QSignalSpy checked(&window, &MainWindow::switchesChecked);
        QVERIFY(Test::showConsole(window));
        QTRY_COMPARE_WITH_TIMEOUT(checked.size(), 1, 10000);
        QCOMPARE(checked.at(0).at(0).toJsonObject().value(u"lockEnabled").toBool(true), false);
        NotificationBar *banner = window.switchesBanner();
        QVERIFY(banner->isVisible());
        QVERIFY(banner->text().startsWith(u"Lock OFF on this gateway: concurrent executions"));
        QVERIFY(!banner->text().contains(u"CAS guards OFF"));
        // Bad tone: the red wash of the theme, not the failed-action bar's place.
        QCOMPARE(banner->palette().color(QPalette::Window),
                 Theme::toneBackground(Theme::Tone::Bad, QApplication::palette(banner)));
        QVERIFY(window.notificationBar()->text().isEmpty());

        // The gateway comes back with the switches on: the banner goes.
        gateway.kill();
        QTRY_VERIFY_WITH_TIMEOUT(window.gatewayStatusText().contains(u"unreachable"), 10000);
        QVERIFY(gateway.restart(QStringList{}));
        QTRY_VERIFY_WITH_TIMEOUT(checked.size() >= 2, 20000);
        QVERIFY(checked.constLast().at(0).toJsonObject().value(u"lockEnabled").toBool(false));
        QVERIFY(!banner->isVisible());
        QVERIFY(banner->text().isEmpty());

        // And back off again, both switches this time.
        const qsizetype before = checked.size();
        gateway.kill();
        QTRY_VERIFY_WITH_TIMEOUT(window.gatewayStatusText().contains(u"unreachable"), 10000);
        QVERIFY(gateway.restart({QStringLiteral("--no-lock-concurrent-flows"), QStringLiteral("--no-cas-guards")}));
        QTRY_VERIFY_WITH_TIMEOUT(checked.size() > before, 20000);
        QTRY_VERIFY(banner->isVisible());
        QVERIFY(banner->text().contains(u"Lock OFF on this gateway"));
        QVERIFY(banner->text().contains(u"CAS guards OFF"));
    }

    void switchesOnShowNoBanner()
    {
        Test::TestGateway gateway;
        QVERIFY(gateway.start());
        QTemporaryDir dir;
        MainWindow window(gateway.consoleOptions(dir.filePath(QStringLiteral("settings.ini")), fastBackoff()));
        QSignalSpy checked(&window, &MainWindow::switchesChecked);
        QVERIFY(Test::showConsole(window));
        QTRY_COMPARE_WITH_TIMEOUT(checked.size(), 1, 10000);
        QVERIFY(checked.at(0).at(0).toJsonObject().value(u"lockEnabled").toBool(false));
        QVERIFY(checked.at(0).at(0).toJsonObject().value(u"casGuards").toBool(false));
        QVERIFY(!window.switchesBanner()->isVisible());
    }
};

QTEST_MAIN(tst_SwitchBannerGateway)
#include "tst_switchbanner_gateway.moc"
