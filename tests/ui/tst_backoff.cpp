#include <QTest>

#include "backoff.h"

using namespace std::chrono_literals;
using Lockstep::Ui::Backoff;
using Lockstep::Ui::BackoffOptions;

// Capped exponential backoff with jitter, driven by an injected random source.
class TestBackoff : public QObject
{
    Q_OBJECT

private:
    static Backoff::RandomSource constant(double value)
    {
        return [value] { return value; };
    }

private slots:
    void growsAndCapsWithoutJitter()
    {
        Backoff backoff(BackoffOptions{.initial = 500ms, .maximum = 8000ms, .multiplier = 2.0, .jitter = 0.0},
                        constant(0.7));
        const std::chrono::milliseconds expected[] = {500ms, 1000ms, 2000ms, 4000ms, 8000ms, 8000ms, 8000ms};
        for (const auto delay : expected)
            QCOMPARE(backoff.next(), delay);
        QCOMPARE(backoff.attempts(), 7);
    }

    void jitterSpreadsAroundTheBase()
    {
        const BackoffOptions options{.initial = 1000ms, .maximum = 60000ms, .multiplier = 2.0, .jitter = 0.25};
        Backoff low(options, constant(0.0));
        Backoff middle(options, constant(0.5));
        Backoff high(options, constant(0.999999));
        QCOMPARE(low.next(), 750ms);
        QCOMPARE(middle.next(), 1000ms);
        QCOMPARE(high.next(), 1250ms);
        QCOMPARE(low.next(), 1500ms);
        QCOMPARE(middle.next(), 2000ms);
        QCOMPARE(high.next(), 2500ms);
    }

    void jitterNeverExceedsTheCap()
    {
        Backoff backoff(BackoffOptions{.initial = 1000ms, .maximum = 4000ms, .multiplier = 2.0, .jitter = 0.5},
                        constant(0.999999));
        for (int i = 0; i < 10; ++i)
            QVERIFY(backoff.next() <= 4000ms);
        QCOMPARE(backoff.next(), 4000ms);
    }

    void sequenceFollowsTheRandomSource()
    {
        QList<double> values{0.0, 1.0 - 1e-9, 0.5, 0.25};
        qsizetype i = 0;
        Backoff backoff(BackoffOptions{.initial = 100ms, .maximum = 10000ms, .multiplier = 3.0, .jitter = 0.5},
                        [&] { return values.at(i++ % values.size()); });
        QCOMPARE(backoff.next(), 50ms);    // 100 * 0.5
        QCOMPARE(backoff.next(), 450ms);   // 300 * 1.5
        QCOMPARE(backoff.next(), 900ms);   // 900 * 1.0
        QCOMPARE(backoff.next(), 2025ms);  // 2700 * 0.75
    }

    void resetStartsOver()
    {
        Backoff backoff(BackoffOptions{.initial = 200ms, .maximum = 5000ms, .jitter = 0.0}, constant(0.3));
        backoff.next();
        backoff.next();
        backoff.next();
        backoff.reset();
        QCOMPARE(backoff.attempts(), 0);
        QCOMPARE(backoff.next(), 200ms);
    }

    void lockHeldNeverRetriesEarly()
    {
        Backoff backoff(
            BackoffOptions{
                .initial = 500ms, .maximum = 30000ms, .multiplier = 2.0, .jitter = 0.0, .lockHeldMinimum = 5000ms},
            constant(0.0));
        QCOMPARE(backoff.nextAfterLockHeld(), 5000ms);  // floor, although the base is 500
        QCOMPARE(backoff.nextAfterLockHeld(), 5000ms);  // 1000 -> floor
        QCOMPARE(backoff.nextAfterLockHeld(), 5000ms);  // 2000 -> floor
        QCOMPARE(backoff.nextAfterLockHeld(), 5000ms);  // 4000 -> floor
        QCOMPARE(backoff.nextAfterLockHeld(), 8000ms);  // grows past the floor
        for (int i = 0; i < 10; ++i)
            QVERIFY(backoff.nextAfterLockHeld() <= 30000ms);
    }

    void lockHeldWithJitterStaysAroundTheFloor()
    {
        Backoff backoff(BackoffOptions{.initial = 500ms, .maximum = 30000ms, .jitter = 0.2, .lockHeldMinimum = 5000ms},
                        constant(0.0));
        QCOMPARE(backoff.nextAfterLockHeld(), 4000ms);  // 5000 * 0.8
    }

    void badOptionsAreClamped()
    {
        Backoff backoff(BackoffOptions{.initial = 0ms, .maximum = -5ms, .multiplier = 0.5, .jitter = 7.0},
                        constant(0.5));
        QCOMPARE(backoff.options().initial, 1ms);
        QCOMPARE(backoff.options().maximum, 1ms);
        QCOMPARE(backoff.options().multiplier, 1.0);
        QCOMPARE(backoff.options().jitter, 1.0);
        QCOMPARE(backoff.next(), 1ms);
        Backoff wild(BackoffOptions{.initial = 10ms, .maximum = 100ms, .jitter = 0.0}, constant(42.0));
        QCOMPARE(wild.next(), 10ms);
    }

    void manyAttemptsDoNotOverflow()
    {
        Backoff backoff(BackoffOptions{.initial = 1000ms, .maximum = 60000ms, .multiplier = 10.0, .jitter = 0.0},
                        constant(0.5));
        for (int i = 0; i < 1000; ++i)
            QVERIFY(backoff.next() <= 60000ms);
        QCOMPARE(backoff.next(), 60000ms);
    }

    void defaultRandomStaysInRange()
    {
        Backoff backoff(BackoffOptions{.initial = 1000ms, .maximum = 1000ms, .jitter = 0.5});
        for (int i = 0; i < 200; ++i)
        {
            const auto delay = backoff.next();
            QVERIFY(delay >= 500ms);
            QVERIFY(delay <= 1000ms);
        }
    }
};

QTEST_GUILESS_MAIN(TestBackoff)
#include "tst_backoff.moc"
