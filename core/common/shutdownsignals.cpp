#include "shutdownsignals.h"

#include <csignal>
#include <fcntl.h>
#include <unistd.h>

#include <QSocketNotifier>

#include "common/logging.h"

namespace Lockstep
{
    namespace
    {
        int g_pipe[2] = {-1, -1};

        extern "C" void onSignal(const int number)
        {
            // Async-signal-safe only: write(2) of one byte, errno preserved.
            const int savedErrno = errno;
            const auto byte = static_cast<unsigned char>(number);
            [[maybe_unused]] const ssize_t written = ::write(g_pipe[1], &byte, 1);
            errno = savedErrno;
        }

        bool install(const int number, void (*handler)(int))
        {
            struct sigaction action = {};
            action.sa_handler = handler;
            sigemptyset(&action.sa_mask);
            action.sa_flags = SA_RESTART;
            return ::sigaction(number, &action, nullptr) == 0;
        }
    }  // namespace

    ShutdownSignals::ShutdownSignals(QObject *parent)
        : QObject(parent)
    {
        if (g_pipe[0] >= 0)
        {
            qCWarning(lcApp) << "shutdown signals are already watched";
            return;
        }
        if (::pipe2(g_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
        {
            qCWarning(lcApp) << "cannot create the signal pipe; SIGTERM will not shut down gracefully";
            return;
        }
        m_notifier = new QSocketNotifier(g_pipe[0], QSocketNotifier::Read, this);
        connect(m_notifier, &QSocketNotifier::activated, this, &ShutdownSignals::onReadable);
        m_active = watch(SIGTERM) && watch(SIGINT);
    }

    bool ShutdownSignals::watch(const int signalNumber)
    {
        if (!m_notifier || !install(signalNumber, onSignal))
            return false;
        if (!m_watched.contains(signalNumber))
            m_watched << signalNumber;
        return true;
    }

    ShutdownSignals::~ShutdownSignals()
    {
        if (!m_notifier)
            return;  // another instance owns the pipe
        for (const int number : std::as_const(m_watched))
            install(number, SIG_DFL);
        delete m_notifier;
        ::close(g_pipe[0]);
        ::close(g_pipe[1]);
        g_pipe[0] = g_pipe[1] = -1;
    }

    bool ShutdownSignals::isActive() const
    {
        return m_active;
    }

    void ShutdownSignals::onReadable()
    {
        unsigned char byte = 0;
        while (::read(g_pipe[0], &byte, 1) == 1)
            emit received(int(byte));
    }
}  // namespace Lockstep
