#pragma once

#include <chrono>
#include <memory>

#include <QElapsedTimer>
#include <QObject>
#include <QPointer>
#include <QString>
#include <QTimer>

#include "gateway/runfeed.h"
#include "protocol/messages.h"

class QTcpSocket;
class QWebSocket;

namespace Lockstep::Gateway
{
    class FrameGuard;

    // One accepted websocket. It enforces the per-connection limits (message
    // size: 1009, rate: 1008 (pings and pongs count as messages), a client that
    // does not read what we send: 1008, binary frames and bad JSON: 4400),
    // parses frames and hands typed messages to the Gateway, which decides what
    // they mean. The FrameGuard of its TCP socket refuses malformed frames (1002)
    // and sends every close frame of the session (see frameguard.h).
    // It is a FeedListener once the Gateway made it a driver or an observer.
    class Session final : public QObject, public FeedListener
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(Session)

    public:
        enum class Role
        {
            Undecided,  // waiting for the first message
            Driver,     // sent startRequest: drives an execution
            Observer,   // sent subscribe
        };

        struct Limits
        {
            qint64 maxMessageBytes = 1024 * 1024;
            int maxMessagesPerSecond = 100;
            // Without a first message by then: close 4400.
            std::chrono::milliseconds firstMessageTimeout{60000};
            // A client that reads slower than we send (messages, pongs): close
            // 1008 past this backlog of bytes queued for it.
            qint64 maxBacklogBytes = 64 * 1024 * 1024;
        };

        // `transport` is the TCP socket under `socket`: QWebSocket does not own
        // it, so the session deletes it after the websocket. Its FrameGuard (if
        // it has one) starts following frames now.
        Session(std::unique_ptr<QWebSocket> socket, QPointer<QTcpSocket> transport, Limits limits,
                QObject *parent = nullptr);
        ~Session() override;

        quint64 id() const;
        QString peer() const;
        Role role() const;
        QString workflowId() const;
        void setRole(Role role, const QString &workflowId, bool incremental);

        bool wantsIncremental() const override;
        void sendFrame(const QByteArray &frame) override;
        void send(const Protocol::ServerMessage &message);

        // Sends a close frame (once; later calls are ignored). Anything but a
        // normal end is logged once with the peer address.
        void closeWith(quint16 code, const QString &reason);
        bool isClosing() const;
        bool isOpen() const;

    signals:
        // The first message, parsed: startRequest or subscribe (anything else
        // was refused with 4400). `afterSeq` is the optional extension field
        // "afterSeq" of either: the last seq the client already has.
        void opening(Lockstep::Gateway::Session *session, const Lockstep::Protocol::ClientMessage &message,
                     qint64 afterSeq);
        // Later messages: heartbeat, stopWorkflow, actionResponse.
        void message(Lockstep::Gateway::Session *session, const Lockstep::Protocol::ClientMessage &message);
        // The connection is gone (emitted once, also after closeWith()).
        void ended(Lockstep::Gateway::Session *session);

    private:
        void onText(const QString &text);
        void onBinary(const QByteArray &data);
        void onDisconnected();
        void onControlFrame();
        bool withinRate();
        bool refuseIfBacklogged();

        static quint64 s_nextId;
        quint64 m_id = 0;
        std::unique_ptr<QWebSocket> m_socket;
        QPointer<QTcpSocket> m_transport;
        QPointer<FrameGuard> m_guard;
        Limits m_limits;
        QString m_peer;
        Role m_role = Role::Undecided;
        QString m_workflowId;
        bool m_incremental = false;
        bool m_opened = false;
        bool m_closing = false;
        bool m_ended = false;
        QElapsedTimer m_window;
        int m_inWindow = 0;
        QTimer m_firstMessageTimer;
        QTimer m_closeTimer;
    };
}  // namespace Lockstep::Gateway
