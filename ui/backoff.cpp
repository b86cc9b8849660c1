#include "backoff.h"

#include <algorithm>
#include <cmath>

#include <QRandomGenerator>

namespace Lockstep::Ui
{
    Backoff::Backoff(BackoffOptions options, RandomSource random)
        : m_options(options)
        , m_random(std::move(random))
    {
        m_options.jitter = std::clamp(m_options.jitter, 0.0, 1.0);
        m_options.multiplier = std::max(1.0, m_options.multiplier);
        m_options.initial = std::max(m_options.initial, std::chrono::milliseconds(1));
        m_options.maximum = std::max(m_options.maximum, m_options.initial);
        if (!m_random)
            m_random = [] { return QRandomGenerator::global()->generateDouble(); };
    }

    std::chrono::milliseconds Backoff::next()
    {
        return delay(std::chrono::milliseconds(0));
    }

    std::chrono::milliseconds Backoff::nextAfterLockHeld()
    {
        return delay(m_options.lockHeldMinimum);
    }

    void Backoff::reset()
    {
        m_attempts = 0;
    }

    int Backoff::attempts() const
    {
        return m_attempts;
    }

    const BackoffOptions &Backoff::options() const
    {
        return m_options;
    }

    std::chrono::milliseconds Backoff::delay(const std::chrono::milliseconds floor)
    {
        const double maximum = static_cast<double>(m_options.maximum.count());
        // Grows until it reaches the cap; the exponent is bounded so pow() never overflows.
        const double exponent = std::min(m_attempts, 64);
        double base = static_cast<double>(m_options.initial.count()) * std::pow(m_options.multiplier, exponent);
        base = std::min(std::max(base, static_cast<double>(floor.count())), maximum);
        ++m_attempts;

        const double r = std::clamp(m_random(), 0.0, 1.0);
        const double jittered = base * (1.0 - m_options.jitter + (2.0 * m_options.jitter * r));
        const double capped = std::clamp(jittered, 1.0, maximum);
        return std::chrono::milliseconds(std::llround(capped));
    }
}  // namespace Lockstep::Ui
