#include <cmath>

#include <QAbstractButton>
#include <QAbstractItemView>
#include <QAction>
#include <QApplication>
#include <QLabel>
#include <QListWidget>
#include <QPlainTextEdit>
#include <QSettings>
#include <QStatusBar>
#include <QTemporaryDir>
#include <QTest>

#include "historyview.h"
#include "lockpanel.h"
#include "mainwindow.h"
#include "notificationbar.h"
#include "testgateway.h"
#include "theme.h"
#include "workflowtab.h"

using namespace std::chrono_literals;
using namespace Lockstep;
using namespace Lockstep::Ui;

namespace
{
    // WCAG relative luminance and contrast ratio (1 … 21).
    double luminance(const QColor &color)
    {
        const auto channel = [](const double v) {
            return (v <= 0.03928) ? (v / 12.92) : std::pow((v + 0.055) / 1.055, 2.4);
        };
        return (0.2126 * channel(color.redF())) + (0.7152 * channel(color.greenF())) +
               (0.0722 * channel(color.blueF()));
    }

    double contrast(const QColor &a, const QColor &b)
    {
        const double la = luminance(a);
        const double lb = luminance(b);
        return (std::max(la, lb) + 0.05) / (std::min(la, lb) + 0.05);
    }

    // What a widget's text is painted on: its own filled background, else the
    // nearest filled ancestor's, else the window's.
    QColor groundOf(const QWidget *widget, const QPalette::ColorGroup group)
    {
        for (const QWidget *w = widget; w; w = w->parentWidget())
        {
            if (w->autoFillBackground() || w->isWindow())
                return w->palette().color(group, w->backgroundRole());
        }
        return widget->palette().color(group, QPalette::Window);
    }

    QString describe(const QWidget *w)
    {
        QString name = w->objectName().isEmpty() ? QString::fromLatin1(w->metaObject()->className()) : w->objectName();
        if (const auto *label = qobject_cast<const QLabel *>(w))
            name += QStringLiteral(" '%1'").arg(label->text().left(40));
        return name;
    }

    // Every visible text-bearing widget under `root`: text against what it is
    // painted on. Enabled widgets need 3:1 (WCAG for UI text); greyed ones
    // (disabled, "last known") 2:1 on a dark palette, where dark-on-dark is ~1.5.
    QStringList lowContrast(const QWidget *root, const bool dark)
    {
        QStringList problems;
        const auto check = [&problems](const QString &what, const QColor &fg, const QColor &bg, const double minimum) {
            const double ratio = contrast(fg, bg);
            if (ratio < minimum)
                problems.append(
                    QStringLiteral("%1: %2 on %3 (%4:1)").arg(what, fg.name(), bg.name()).arg(ratio, 0, 'f', 2));
        };
        QList<const QWidget *> widgets{root};
        for (const QWidget *w : root->findChildren<QWidget *>())
            widgets.append(w);
        for (const QWidget *w : std::as_const(widgets))
        {
            if (!w->isVisibleTo(root->window()) || w->isHidden())
                continue;
            const bool enabled = w->isEnabled();
            if (!enabled && !dark)
                continue;  // Fusion's light palette greys disabled text on purpose
            const double minimum = enabled ? 3.0 : 2.0;
            for (const QPalette::ColorGroup group :
                 enabled ? QList<QPalette::ColorGroup>{QPalette::Active, QPalette::Inactive}
                         : QList<QPalette::ColorGroup>{QPalette::Disabled})
            {
                const QPalette &p = w->palette();
                if (qobject_cast<const QLabel *>(w))
                    check(describe(w), p.color(group, w->foregroundRole()), groundOf(w, group), minimum);
                else if (qobject_cast<const QAbstractButton *>(w))
                    check(describe(w), p.color(group, QPalette::ButtonText), p.color(group, QPalette::Button), minimum);
                else if (qobject_cast<const QAbstractItemView *>(w) || qobject_cast<const QPlainTextEdit *>(w))
                    check(describe(w), p.color(group, QPalette::Text), p.color(group, QPalette::Base), minimum);
                // Items with a colour of their own (tone) on the list's base.
                if (const auto *list = qobject_cast<const QListWidget *>(w))
                {
                    for (int row = 0; row < list->count(); ++row)
                    {
                        const QBrush brush = list->item(row)->foreground();
                        if (brush.style() != Qt::NoBrush)
                            check(describe(w) + QStringLiteral(" item '") + list->item(row)->text().left(40) +
                                      QStringLiteral("'"),
                                  brush.color(), p.color(group, QPalette::Base), minimum);
                    }
                }
            }
        }
        return problems;
    }
}  // namespace

// Switching the theme (View ▸ Theme) restyles every open tab at once: after
// light -> dark no widget in an open tab (labels with tone colours, the
// outcome banner, the lock panel, history items, the chat log) keeps a dark
// text colour on a dark ground, and back to light no light text on light.
class TestThemeGateway : public QObject
{
    Q_OBJECT

private:
    Test::TestGateway m_gateway;
    QTemporaryDir m_settingsDir;
    std::unique_ptr<MainWindow> m_window;

    QStringList problems(const bool dark) const
    {
        QStringList all;
        for (WorkflowTab *tab : m_window->tabs())
        {
            // Every tab, not just the current one: show each, as a user would.
            m_window->tabWidget()->setCurrentWidget(tab);
            for (const QString &problem : lowContrast(tab, dark))
                all.append(tab->workflowId() + QStringLiteral(": ") + problem);
        }
        for (const QString &problem : lowContrast(m_window->notificationBar(), dark))
            all.append(QStringLiteral("notification bar: ") + problem);
        for (const QString &problem :
             lowContrast(m_window->findChild<QLabel *>(QStringLiteral("gatewayStatusLabel")), dark))
            all.append(QStringLiteral("status bar: ") + problem);
        return all;
    }

    // History lines carry their tone: after a switch each shows that tone's shade of the new palette.
    QStringList toneMismatches(const QPalette &palette) const
    {
        QStringList wrong;
        int checked = 0;
        for (WorkflowTab *tab : m_window->tabs())
        {
            const auto *list = tab->findChild<QListWidget *>(QStringLiteral("historyList"));
            for (int row = 0; list && (row < list->count()); ++row)
            {
                const QListWidgetItem *item = list->item(row);
                const auto tone = static_cast<Theme::Tone>(item->data(HistoryView::ToneRole).toInt());
                if (tone == Theme::Tone::Neutral)
                    continue;
                ++checked;
                if (item->foreground().color() != Theme::toneColor(tone, palette))
                    wrong.append(item->text() + QStringLiteral(": ") + item->foreground().color().name());
            }
        }
        if (checked == 0)
            wrong.append(QStringLiteral("no toned history line to check"));
        return wrong;
    }

private slots:
    void initTestCase()
    {
        QVERIFY(m_settingsDir.isValid());
        QVERIFY2(!qEnvironmentVariableIsEmpty("LOCKSTEP_GATEWAY_BIN"), "LOCKSTEP_GATEWAY_BIN");
        QVERIFY2(m_gateway.start(), "the gateway did not start");
        const ConsoleOptions options =
            m_gateway.consoleOptions(m_settingsDir.filePath(QStringLiteral("console.ini")),
                                     BackoffOptions{.initial = 200ms, .maximum = 2000ms, .lockHeldMinimum = 1000ms});
        QSettings(options.settingsFile, QSettings::IniFormat)
            .setValue(QStringLiteral("ui/theme"), QStringLiteral("light"));
        m_window = std::make_unique<MainWindow>(options);
        QVERIFY(Test::showConsole(*m_window));
    }

    void cleanupTestCase()
    {
        m_window.reset();
    }

    void darkSwitchRestylesOpenTabs()
    {
        QVERIFY(!Theme::isDark(QApplication::palette()));
        // Tabs in different states: an outcome banner and history (hello, turn
        // over), a run not found (red live line), a tab of a running run.
        m_window->createWorkflow(QStringLiteral("Create a file called hello.sh that prints hello"),
                                 QStringLiteral("hello"));
        QTRY_COMPARE_WITH_TIMEOUT(m_window->tabs().size(), 1, 10000);
        WorkflowTab *hello = m_window->tabs().constFirst();
        QTRY_VERIFY_WITH_TIMEOUT(hello->runStatus() == RunStatus::InputRequired, 15000);
        QTRY_COMPARE_WITH_TIMEOUT(hello->outcomeBannerText(),
                                  Test::outcomeLine(TabAction::Resume, {.kind = OutcomeKind::Resumed}), 5000);
        WorkflowTab *missing = m_window->openWorkflow(QStringLiteral("no-such-run"));
        QVERIFY(missing);
        missing->resume();
        QTRY_COMPARE_WITH_TIMEOUT(missing->outcomeBannerText(),
                                  Test::outcomeLine(TabAction::Resume, {.kind = OutcomeKind::NotFound}), 10000);
        m_window->createWorkflow(QStringLiteral("Refactor the parser, step by step"), QStringLiteral("long"));
        QTRY_COMPARE_WITH_TIMEOUT(m_window->tabs().size(), 3, 10000);
        QTRY_VERIFY_WITH_TIMEOUT(m_window->tabs().constLast()->isDriving(), 10000);
        QVERIFY(!m_window->openWorkflow(QStringLiteral("bad id!")));  // the notification bar shows
        const QStringList light = problems(false);
        QVERIFY2(light.isEmpty(), qPrintable(light.join(u'\n')));

        m_window->action(QStringLiteral("theme-dark"))->trigger();
        QVERIFY(Theme::isDark(QApplication::palette()));
        QCOMPARE(m_window->settings()->value(QStringLiteral("ui/theme")).toString(), QStringLiteral("dark"));
        // At once: no poll, no reconnect, no new event in between.
        QApplication::processEvents();
        const QStringList dark = problems(true);
        QVERIFY2(dark.isEmpty(), qPrintable(dark.join(u'\n')));
        // The tone colours are the dark shades now (not just readable: re-picked).
        const QPalette palette = QApplication::palette();
        QCOMPARE(hello->lockPanel()
                     ->findChild<QLabel *>(QStringLiteral("lockStateLabel"))
                     ->palette()
                     .color(QPalette::Active, QPalette::WindowText),
                 Theme::toneColor(Theme::Tone::Good, palette));
        auto *banner = hello->findChild<QLabel *>(QStringLiteral("outcomeLabel"));
        QCOMPARE(banner->palette().color(QPalette::Window), Theme::toneBackground(Theme::Tone::Good, palette));
        QCOMPARE(toneMismatches(palette), QStringList());

        m_window->action(QStringLiteral("theme-light"))->trigger();
        QApplication::processEvents();
        QVERIFY(!Theme::isDark(QApplication::palette()));
        const QStringList back = problems(false);
        QVERIFY2(back.isEmpty(), qPrintable(back.join(u'\n')));
        QCOMPARE(toneMismatches(QApplication::palette()), QStringList());
        m_window->tabs().constLast()->cancelNow();
    }
};

QTEST_MAIN(TestThemeGateway)
#include "tst_theme_gateway.moc"
