#pragma once

#include <chrono>
#include <functional>

// Reconnect delays: capped exponential backoff with jitter. The random source
// is injectable so tests are deterministic.
namespace Lockstep::Ui
{
    struct BackoffOptions
    {
        std::chrono::milliseconds initial{500};
        std::chrono::milliseconds maximum{30000};
        double multiplier = 2.0;
        // Each delay is spread uniformly over [d * (1 - jitter), d * (1 + jitter)],
        // then capped at `maximum`. 0 disables jitter; clamped to [0, 1].
        double jitter = 0.25;
        // After 1013 (the run lock is held elsewhere) a retry earlier than this
        // only hammers the gateway: the other session runs for a while.
        std::chrono::milliseconds lockHeldMinimum{5000};
    };

    class Backoff
    {
    public:
        // Returns a number in [0, 1).
        using RandomSource = std::function<double()>;

        // An empty `random` uses QRandomGenerator::global().
        explicit Backoff(BackoffOptions options = {}, RandomSource random = {});

        // The delay before the next attempt; each call counts one attempt.
        std::chrono::milliseconds next();
        // Like next(), but never below lockHeldMinimum (before jitter).
        std::chrono::milliseconds nextAfterLockHeld();
        // A successful connection: start again from `initial`.
        void reset();
        // Attempts counted since the last reset().
        int attempts() const;
        const BackoffOptions &options() const;

    private:
        std::chrono::milliseconds delay(std::chrono::milliseconds floor);

        BackoffOptions m_options;
        RandomSource m_random;
        int m_attempts = 0;
    };
}  // namespace Lockstep::Ui
