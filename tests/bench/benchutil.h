#pragma once

#include <functional>
#include <vector>

#include <QByteArray>
#include <QtGlobal>

// Helpers the benchmarks share: latency percentiles, /proc memory figures,
// the bare Redis floor and the gateway binary they start.
namespace Lockstep::Bench
{
    struct Latency
    {
        double p50Us = 0;
        double p99Us = 0;
        double maxUs = 0;
        int errors = 0;
    };

    // p50, p99 and max of the samples (nanoseconds), in microseconds.
    Latency summarise(std::vector<qint64> ns, int errors);

    // A "Vm...:" field of /proc/<pid>/status in kB, -1 when unreadable.
    qint64 statusKb(qint64 pid, const char *field);
    // VmRSS of process `pid` in kB, -1 when unreadable.
    qint64 rssKb(qint64 pid);

    // `tries` bare `SET key contender NX PX 30000` on a held key through a
    // blocking hiredis connection: the floor a refused acquire is held to.
    Latency floorSync(quint16 port, const QByteArray &key, int tries);

    // Runs the event loop until `done()` or `timeoutMs` passed; false on the timeout.
    bool spinUntil(const std::function<bool()> &done, int timeoutMs);

    // LOCKSTEP_GATEWAY_BIN, unless set already, names `fallback` (the build's gateway).
    void useGatewayBinary(const char *fallback);
}  // namespace Lockstep::Bench
