#include <QColor>
#include <QDir>
#include <QFile>
#include <QImage>
#include <QJsonArray>
#include <QJsonObject>
#include <QProcess>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QtTest>

#include "protocol/closecode.h"
#include "race/reporthtml.h"
#include "samplereports.h"

using namespace Lockstep;

// The HTML page of a report: self-contained (nothing to fetch), every string
// from the report escaped, rounds with other than one runner marked, and it
// renders in headless Chromium (the screenshot stays in the build folder).
class tst_ReportHtml : public QObject
{
    Q_OBJECT

private:
    static int count(const QString &html, const QString &needle)
    {
        return static_cast<int>(html.count(needle));
    }

    // Nothing a browser would fetch: no http(s) URL, no src, no url(), no
    // @import, links only to anchors in the page, and "//" only in the
    // gateway's ws:// URL shown as text.
    static QString networkReference(const QString &html)
    {
        for (const QString &word :
             {QStringLiteral("http://"), QStringLiteral("https://"), QStringLiteral("src="), QStringLiteral("url("),
              QStringLiteral("@import"), QStringLiteral("<link"), QStringLiteral("<script"), QStringLiteral("<iframe")})
            if (html.contains(word, Qt::CaseInsensitive))
                return word;
        static const QRegularExpression href(QStringLiteral("href\\s*=\\s*\"([^\"]*)\""));
        for (const QRegularExpressionMatch &match : href.globalMatch(html))
            if (!match.captured(1).startsWith(u'#'))
                return match.captured(0);
        static const QRegularExpression slashes(QStringLiteral("(\\w*:)?//"));
        for (const QRegularExpressionMatch &match : slashes.globalMatch(html))
            if ((match.captured(1) != u"ws:") && (match.captured(1) != u"wss:"))
                return html.mid(std::max<qsizetype>(0, match.capturedStart() - 20), 60);
        return {};
    }

    // Where the screenshots stay after the test (the build tree, beside the test binary).
    static QString outputDir()
    {
        const QString dir = QCoreApplication::applicationDirPath() + QStringLiteral("/report-output");
        QDir().mkpath(dir);
        return dir;
    }

    struct Shot
    {
        QString error;
        QString png;
    };

    static Shot screenshot(const QString &html, const QString &name, const QSize &window)
    {
        const QString chromium = QStringLiteral("/usr/bin/chromium");
        if (!QFileInfo::exists(chromium))
            return {.error = QStringLiteral("%1 is missing: install the chromium package (installer/bootstrap.sh does)")
                                 .arg(chromium)};
        const QString page = outputDir() + QStringLiteral("/%1.html").arg(name);
        const QString png = outputDir() + QStringLiteral("/%1.png").arg(name);
        QFile::remove(png);
        QFile file(page);
        if (!file.open(QIODevice::WriteOnly) || (file.write(html.toUtf8()) < 0))
            return {.error = file.errorString()};
        file.close();
        QTemporaryDir profile;
        // No network: a proxy that refuses and no name resolution, so nothing could be fetched anyway.
        const QStringList arguments{QStringLiteral("--headless"),
                                    QStringLiteral("--no-sandbox"),
                                    QStringLiteral("--disable-gpu"),
                                    QStringLiteral("--disable-quic"),
                                    QStringLiteral("--no-first-run"),
                                    QStringLiteral("--disable-background-networking"),
                                    QStringLiteral("--disable-component-update"),
                                    QStringLiteral("--disable-sync"),
                                    QStringLiteral("--proxy-server=127.0.0.1:9"),
                                    QStringLiteral("--host-resolver-rules=MAP * ~NOTFOUND"),
                                    QStringLiteral("--hide-scrollbars"),
                                    QStringLiteral("--window-size=%1,%2").arg(window.width()).arg(window.height()),
                                    QStringLiteral("--user-data-dir=%1").arg(profile.path()),
                                    QStringLiteral("--screenshot=%1").arg(png),
                                    QUrl::fromLocalFile(page).toString()};
        QProcess process;
        process.setProcessChannelMode(QProcess::MergedChannels);
        process.start(chromium, arguments);
        if (!process.waitForFinished(120000))
        {
            process.kill();
            process.waitForFinished();
            return {.error = QStringLiteral("chromium did not finish within 120 s")};
        }
        if ((process.exitStatus() != QProcess::NormalExit) || (process.exitCode() != 0))
            return {.error = QStringLiteral("chromium exited with %1: %2")
                                 .arg(process.exitCode())
                                 .arg(QString::fromUtf8(process.readAll()).right(2000))};
        return {.png = png};
    }

    // Pixels close to a colour (the page's red #b00020 banner, for example).
    static int pixelsNear(const QImage &image, const QColor &colour)
    {
        int found = 0;
        for (int y = 0; y < image.height(); ++y)
            for (int x = 0; x < image.width(); ++x)
            {
                const QColor pixel = image.pixelColor(x, y);
                if ((std::abs(pixel.red() - colour.red()) < 12) && (std::abs(pixel.green() - colour.green()) < 12) &&
                    (std::abs(pixel.blue() - colour.blue()) < 12))
                    ++found;
            }
        return found;
    }

    static int distinctColours(const QImage &image)
    {
        QSet<QRgb> colours;
        for (int y = 0; y < image.height(); y += 2)
            for (int x = 0; x < image.width(); x += 2)
                colours.insert(image.pixel(x, y));
        return static_cast<int>(colours.size());
    }

private slots:
    void selfContained_data()
    {
        QTest::addColumn<QJsonObject>("report");
        QTest::newRow("race") << Test::raceReport({});
        QTest::newRow("race with findings and previous")
            << Test::raceReport({.doubleRounds = {1}, .lockEnabled = false, .casGuards = false, .withPrevious = true});
        QTest::newRow("session") << Test::exportReport(QStringLiteral("session"));
        QTest::newRow("workflow") << Test::exportReport(QStringLiteral("workflow"));
    }

    void selfContained()
    {
        QFETCH(QJsonObject, report);
        const QString html = Race::renderHtmlReport(report);
        QVERIFY(html.startsWith(u"<!DOCTYPE html>"));
        QVERIFY(html.contains(u"<style>"));
        const QString reference = networkReference(html);
        QVERIFY2(reference.isEmpty(), qPrintable(reference));
        // The gateway URL is there, as text.
        QVERIFY(html.contains(u"ws://127.0.0.1:8080/api/v1/ws"));
        QVERIFY(html.contains(u"0.12.0"));
    }

    void networkCheckBites()
    {
        // The check above would see a fetch if the page had one.
        QVERIFY(!networkReference(QStringLiteral("<img src=\"x.png\">")).isEmpty());
        QVERIFY(!networkReference(QStringLiteral("<a href=\"//cdn.example/x\">")).isEmpty());
        QVERIFY(!networkReference(QStringLiteral("b{background:url(//x)}")).isEmpty());
        QVERIFY(networkReference(QStringLiteral("<code>ws://h:1/api/v1/ws</code><a href=\"#round-1\">")).isEmpty());
    }

    void escapesEveryString()
    {
        const QString hostile = QStringLiteral("<script>alert(\"pwned\")</script> & <img onerror=x>");
        QJsonObject report = Test::raceReport({.doubleRounds = {0}, .message = hostile});
        QJsonObject gateway = report.value(u"gateway").toObject();
        gateway.insert(QStringLiteral("version"), hostile);
        gateway.insert(QStringLiteral("replicas"), QJsonArray{hostile});
        report.insert(QStringLiteral("gateway"), gateway);
        const QString html = Race::renderHtmlReport(report);
        QVERIFY(!html.contains(u"<script", Qt::CaseInsensitive));
        QVERIFY(!html.contains(u"<img", Qt::CaseInsensitive));
        QVERIFY(html.contains(u"&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt; &amp; &lt;img onerror=x&gt;"));

        const QString exported = Race::renderHtmlReport(Test::exportReport(QStringLiteral("workflow")));
        QVERIFY(!exported.contains(u"<script", Qt::CaseInsensitive));
        QVERIFY(exported.contains(u"&lt;script&gt;alert(1)&lt;/script&gt;"));
    }

    void marksRoundsWithOtherThanOneRunner()
    {
        const QString html = Race::renderHtmlReport(Test::raceReport({.rounds = 4, .doubleRounds = {2}}));
        // Round index 2 is the page's round 3: rounds and sessions count from 1 there.
        QVERIFY(html.contains(u"<details id=\"round-3\" class=\"round odd\" open>"));
        for (const int index : {1, 2, 4})
            QVERIFY2(html.contains(QStringLiteral("<details id=\"round-%1\" class=\"round\"").arg(index)),
                     qPrintable(QString::number(index)));
        QCOMPARE(count(html, QStringLiteral("<span class=\"bad runners\">2 runner(s)</span>")), 1);
        QCOMPARE(count(html, QStringLiteral("<span class=\"good runners\">1 runner(s)</span>")), 3);
        // The summary names the round, the ran sessions of that round are red, the findings are listed.
        QVERIFY(html.contains(u"<span class=\"bad\"><a href=\"#round-3\">3</a> (2)</span>"));
        QCOMPARE(count(html, QStringLiteral("<tr class=\"ran bad\">")), 2);
        QVERIFY(html.contains(u"<span class=\"fail\">FAILED</span>"));
        QVERIFY(html.contains(u"<code>overlapping_executions</code>"));
        QVERIFY(html.contains(u"<code>lost_entries</code>"));
        QVERIFY(html.contains(u"m-2-1"));
        // The overlap's sessions (indexes 0 and 1) as the page counts them; timelines name sessions from 1.
        QVERIFY(html.contains(u"<td>1, 2</td>"));
        QVERIFY(html.contains(u">session 1</text>"));
        QVERIFY(!html.contains(u">session 0</text>"));
        // Close codes in the table, decoded.
        QVERIFY(html.contains(QStringLiteral("1013 %1").arg(closeCodeMeaning(1013).toHtmlEscaped())));

        const QString clean = Race::renderHtmlReport(Test::raceReport({.rounds = 4}));
        QVERIFY(!clean.contains(u"class=\"round odd\""));
        QVERIFY(!clean.contains(u"<tr class=\"ran bad\">"));
        QVERIFY(clean.contains(u"<span class=\"pass\">PASSED</span>"));
        QVERIFY(clean.contains(u"The anomaly checker found nothing."));
    }

    void switchBanners()
    {
        const QString on = Race::renderHtmlReport(Test::raceReport({}));
        QVERIFY(!on.contains(u"class=\"banner"));
        const QString lockOff = Race::renderHtmlReport(Test::raceReport({.lockEnabled = false}));
        QVERIFY(lockOff.contains(u"id=\"lock-off\">lock OFF"));
        QVERIFY(!lockOff.contains(u"id=\"cas-off\""));
        const QString bothOff = Race::renderHtmlReport(Test::raceReport({.lockEnabled = false, .casGuards = false}));
        QVERIFY(bothOff.contains(u"id=\"lock-off\">lock OFF"));
        QVERIFY(bothOff.contains(u"id=\"cas-off\">CAS guards OFF"));
    }

    void timelinesForTheRoundsThatMatter()
    {
        const QString html = Race::renderHtmlReport(Test::raceReport({.rounds = 100, .doubleRounds = {50, 77}}));
        // The first three and the two odd rounds; every round keeps its table.
        QCOMPARE(count(html, QStringLiteral("<svg ")), 5);
        QCOMPARE(count(html, QStringLiteral("<table class=\"round\">")), 100);
        QVERIFY(html.contains(u"Timelines are drawn for 5 of 100 rounds"));
        const qsizetype round50 = html.indexOf(u"id=\"round-51\"");  // index 50
        const qsizetype round51 = html.indexOf(u"id=\"round-52\"");
        QVERIFY(html.mid(round50, round51 - round50).contains(u"<svg "));
        // Round 50: two execution bars (red: two runners), one close mark per session.
        const QString svg50 = html.mid(round50, round51 - round50);
        QCOMPARE(count(svg50, QStringLiteral("class=\"exec\"")), 2);
        QCOMPARE(count(svg50, QStringLiteral("fill=\"#d1364b\"")), 2);
        QCOMPARE(count(svg50, QStringLiteral("<line class=\"close\"")), 2);

        const QString small = Race::renderHtmlReport(Test::raceReport({.rounds = 2}));
        QCOMPARE(count(small, QStringLiteral("<svg ")), 2);
        QVERIFY(small.contains(u"Every round has its timeline."));

        // Many odd rounds: capped.
        QList<int> odd;
        for (int i = 0; i < 60; ++i)
            odd.append(i * 2);
        const QString capped = Race::renderHtmlReport(Test::raceReport({.rounds = 120, .doubleRounds = odd}));
        QCOMPARE(count(capped, QStringLiteral("<svg ")), Race::MaxRoundTimelines);
    }

    void comparesWithThePreviousRun()
    {
        const QString html = Race::renderHtmlReport(
            Test::raceReport({.rounds = 3, .doubleRounds = {1}, .lockEnabled = false, .withPrevious = true}));
        QVERIFY(html.contains(u"id=\"comparison\""));
        QVERIFY(html.contains(u"ws://staging.example:8080/api/v1/ws"));
        // Run lock: on before, OFF now, and the row is marked as changed.
        QVERIFY(
            html.contains(u"<tr class=\"changed\"><th>Run lock</th><td><span class=\"good\">on</span></td><td><span "
                          u"class=\"bad\">OFF</span></td></tr>"));
        QVERIFY(
            html.contains(u"<tr><td class=\"num\">2</td><td class=\"num\">1</td><td class=\"num bad\">2</td></tr>"));
        QVERIFY(!Race::renderHtmlReport(Test::raceReport({})).contains(u"id=\"comparison\""));
    }

    void workflowExport()
    {
        const QString html = Race::renderHtmlReport(Test::exportReport(QStringLiteral("workflow")));
        QVERIFY(html.contains(u"Lockstep workflow export"));
        QVERIFY(html.contains(u"<code>hello-1</code>"));
        QCOMPARE(count(html, QStringLiteral("<table class=\"frames\">")), 2);
        // Close frames decoded: code, meaning, reason, who closed.
        QVERIFY(html.contains(QStringLiteral("1013 %1 — “Failed to acquire lock on workflow” (closed by server)")
                                  .arg(closeCodeMeaning(1013).toHtmlEscaped())));
        // Long payloads shortened.
        QVERIFY(html.contains(u"… ("));
        QVERIFY(!html.contains(QString(600, QLatin1Char('x'))));
        // Lock timeline: two holders (a handover after a loss), their fences, the marks.
        QCOMPARE(count(html, QStringLiteral("<rect class=\"band\"")), 2);
        QVERIFY(html.contains(u"held by r1#1, fence 7"));
        QVERIFY(html.contains(u"held by r2#4, fence 8"));
        QCOMPARE(count(html, QStringLiteral("class=\"mark refreshed\"")), 3);
        QCOMPARE(count(html, QStringLiteral("class=\"mark lost\"")), 1);
        QCOMPARE(count(html, QStringLiteral("class=\"mark refused\"")), 1);
        QVERIFY(html.contains(u"Send: already running (1013)"));

        const QString session = Race::renderHtmlReport(Test::exportReport(QStringLiteral("session")));
        QVERIFY(session.contains(u"Lockstep session export"));
        QCOMPARE(count(session, QStringLiteral("<table class=\"frames\">")), 1);
    }

    void rendersInHeadlessChromium_data()
    {
        QTest::addColumn<QJsonObject>("report");
        QTest::addColumn<bool>("redBanner");
        QTest::addColumn<QSize>("window");  // tall enough for the race's first timelines
        QTest::newRow("race-lock-off") << Test::raceReport({.rounds = 6,
                                                            .sessions = 3,
                                                            .doubleRounds = {2, 4},
                                                            .lockEnabled = false,
                                                            .casGuards = false,
                                                            .withPrevious = true})
                                       << true << QSize(1200, 3200);
        QTest::newRow("workflow") << Test::exportReport(QStringLiteral("workflow")) << false << QSize(1200, 1400);
    }

    void rendersInHeadlessChromium()
    {
        QFETCH(QJsonObject, report);
        QFETCH(bool, redBanner);
        QFETCH(QSize, window);
        const Shot shot =
            screenshot(Race::renderHtmlReport(report), QString::fromLatin1(QTest::currentDataTag()), window);
        // Not a skip: a machine without Chromium cannot check the page, and that is a failure.
        QVERIFY2(shot.error.isEmpty(), qPrintable(shot.error));
        qInfo().noquote() << "screenshot:" << shot.png;
        QImage image(shot.png);
        QVERIFY2(!image.isNull(), qPrintable(shot.png));
        QCOMPARE(image.size(), window);
        // A page, not a blank: text, tables and colours.
        QVERIFY2(distinctColours(image) > 20, qPrintable(QString::number(distinctColours(image))));
        const int red = pixelsNear(image, QColor(0xb0, 0x00, 0x20));
        if (redBanner)
            QVERIFY2(red > 5000, qPrintable(QString::number(red)));  // the "lock OFF" banner, a full-width bar
        else
            QVERIFY2(red < 5000, qPrintable(QString::number(red)));
        // The timeline's blue bands or green execution bars were drawn.
        const int bars = pixelsNear(image, QColor(0x2f, 0x9e, 0x55)) + pixelsNear(image, QColor(0x6f, 0x9f, 0xf1));
        QVERIFY2(bars > 50, qPrintable(QString::number(bars)));
    }
};

QTEST_GUILESS_MAIN(tst_ReportHtml)
#include "tst_reporthtml.moc"
