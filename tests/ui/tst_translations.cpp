#include <QFile>
#include <QTest>
#include <QTranslator>

#include "translations.h"

using namespace Lockstep::Ui;

// The console's translation is compiled into the binary (:/i18n), chosen by the
// system locale with English as the fallback, and the English file supplies the
// plural forms of the source texts.
class TestTranslations : public QObject
{
    Q_OBJECT

private slots:
    void cleanup()
    {
        // installTranslations() parents its translator to the application.
        qDeleteAll(QCoreApplication::instance()->findChildren<QTranslator *>());
    }

    void englishIsEmbedded()
    {
        QVERIFY(QFile::exists(QStringLiteral(":/i18n/lockstep_en.qm")));
    }

    void chosenByLocale_data()
    {
        QTest::addColumn<QLocale>("locale");
        QTest::newRow("en_US") << QLocale(QLocale::English, QLocale::UnitedStates);
        QTest::newRow("en_GB") << QLocale(QLocale::English, QLocale::UnitedKingdom);
        // No German translation (yet): English, not the bare source texts.
        QTest::newRow("de_DE, fallback") << QLocale(QLocale::German, QLocale::Germany);
        QTest::newRow("C, fallback") << QLocale::c();
    }

    void chosenByLocale()
    {
        QFETCH(QLocale, locale);
        QCOMPARE(installTranslations(QCoreApplication::instance(), locale), QStringLiteral("en"));
        QCOMPARE(QCoreApplication::instance()->findChildren<QTranslator *>().size(), 1);
    }

    // The source text says "%n run(s)"; the English translation says it right.
    void pluralForms()
    {
        const char *context = "Lockstep::Ui::MainWindow";
        const char *source = "Gateway: %1 — connected, %n run(s), updated %2";
        QCOMPARE(QCoreApplication::translate(context, source, nullptr, 1),
                 QStringLiteral("Gateway: %1 — connected, 1 run(s), updated %2"));
        QCOMPARE(installTranslations(QCoreApplication::instance(), QLocale(QLocale::English)), QStringLiteral("en"));
        QCOMPARE(QCoreApplication::translate(context, source, nullptr, 1),
                 QStringLiteral("Gateway: %1 — connected, 1 run, updated %2"));
        QCOMPARE(QCoreApplication::translate(context, source, nullptr, 3),
                 QStringLiteral("Gateway: %1 — connected, 3 runs, updated %2"));
    }
};

QTEST_GUILESS_MAIN(TestTranslations)
#include "tst_translations.moc"
