#pragma once

#include <QList>
#include <QObject>

class QSocketNotifier;

namespace Lockstep
{
    // Turns SIGTERM and SIGINT into a Qt signal. The C signal handler only
    // writes one byte to a self-pipe; a QSocketNotifier on the other end emits
    // received() on the event loop, where Qt work is safe. One instance a process.
    // watch() adds more signals to the same pipe (the gateway's SIGHUP reload).
    class ShutdownSignals final : public QObject
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(ShutdownSignals)

    public:
        explicit ShutdownSignals(QObject *parent = nullptr);
        // Restores the default handlers.
        ~ShutdownSignals() override;

        // false if the pipe or the handlers could not be installed.
        bool isActive() const;
        // Also turns `signalNumber` into received() (restored on destruction).
        // false if the handler could not be installed.
        bool watch(int signalNumber);

    signals:
        void received(int signalNumber);

    private:
        void onReadable();

        QSocketNotifier *m_notifier = nullptr;
        QList<int> m_watched;
        bool m_active = false;
    };
}  // namespace Lockstep
