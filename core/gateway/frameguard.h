#pragma once

#include <QByteArray>
#include <QByteArrayView>
#include <QObject>
#include <QString>
#include <QTimer>

class QTcpSocket;

namespace Lockstep::Gateway
{
    // Looks at the websocket frames of one connection before QWebSocket reads
    // them, and takes the connection over when the gateway closes it.
    //
    // Why by hand: QWebSocket (Qt 6.4) has no hook for any of these, and each
    // is a hole:
    //  - it accepts unmasked client frames (RFC 6455 5.1: the server must
    //    close the connection);
    //  - it answers every ping with a pong and tells nobody, so a client that
    //    pings and never reads grows our write buffer without bound;
    //  - close() sends the close frame and then closes the TCP socket at once,
    //    which stops reading: whatever the client still sends (the rest of an
    //    oversized message) makes the kernel answer with a reset, which can
    //    overtake the close frame (the client sees 1006 instead of 1009).
    // So the guard is connected to the socket's readyRead before QWebSocket,
    // peeks at the bytes QWebSocket is about to read and follows the frames
    // field by field exactly as QWebSocket 6.4 consumes them (QWebSocketFrame:
    // the 2 header bytes, the extended length, the mask as soon as each is
    // there, then the whole payload at once). It only ever reads headers,
    // never a payload. It
    //  - refuses (refused()) an unmasked frame and every frame QWebSocket would
    //    refuse with 1002, and a message over the size limit with 1009, as soon
    //    as the header is in, before QWebSocket has seen any of it;
    //  - reports pings and pongs (controlFrame()) before QWebSocket answers;
    //  - on closeWith() writes the close frame itself, then reads and drops
    //    everything (QWebSocket sees nothing more) until the client's close
    //    frame or end of stream, then closes; after DrainTimeoutMs it aborts.
    class FrameGuard final : public QObject
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(FrameGuard)

    public:
        static constexpr int DrainTimeoutMs = 2000;

        // Attach it before `socket` goes to QWebSocketServer (it must be the
        // first receiver of readyRead). `headBytes`: the upgrade request, still
        // buffered in `socket`. The guard is a child of `socket`.
        FrameGuard(QTcpSocket *socket, qint64 headBytes, qint64 maxMessageBytes);

        // The guard attached to `socket`, if any.
        static FrameGuard *of(QTcpSocket *socket);

        // The handshake is done: QWebSocket reads frames from now on.
        void startFrames();
        // Sends a close frame and drains the connection (see above); later calls
        // are ignored. `reason` must fit a close frame (123 bytes of UTF-8).
        void closeWith(quint16 code, const QString &reason);
        bool isClosing() const;

    signals:
        // A ping or a pong arrived; QWebSocket answers a ping right after this.
        void controlFrame();
        // A frame that must end the connection; the receiver should closeWith().
        void refused(quint16 code, const QString &reason);

    private:
        enum class Mode
        {
            Handshake,  // the upgrade request is still buffered; QWebSocketServer reads it
            Frames,     // QWebSocket reads frames; the guard looks ahead
            Draining,   // our close frame is out; everything is read and dropped
            Done,       // closed on our side (or by QWebSocket)
        };
        enum class Field
        {
            Header,  // 2 bytes: FIN, RSV, opcode; MASK, length
            Length16,
            Length64,
            Mask,
            Payload,
        };

        void onReadyRead();
        // Frames mode: follows the frames of the buffered bytes without reading them.
        void lookAhead();
        // Draining: reads everything, follows the frames to find the client's close frame.
        void drain();
        void followDropped(QByteArrayView bytes);
        qsizetype fieldSize() const;
        // The bytes of the current field (not a payload) are in: check and move on.
        void takeField(QByteArrayView bytes);
        void afterLength();
        void frameDone();
        void refuse(quint16 code, const QString &reason, bool framingLost);
        void finish();

        QTcpSocket *m_socket = nullptr;
        qint64 m_headBytes = 0;
        qint64 m_maxMessageBytes = 0;
        Mode m_mode = Mode::Handshake;

        // The frame being read: where QWebSocket is (Frames) or where the drain is.
        Field m_field = Field::Header;
        quint8 m_opcode = 0;
        bool m_fin = false;
        bool m_masked = false;
        quint64 m_length = 0;
        quint64 m_remaining = 0;     // payload bytes still to come
        bool m_fragmented = false;   // a data message continues in the next frame
        quint64 m_messageBytes = 0;  // of the fragmented message so far

        bool m_lookingAhead = false;
        qint64 m_unconsumed = 0;     // buffered bytes QWebSocket could not read yet (after a look-ahead)
        bool m_framingLost = false;  // after garbage: drop bytes without following frames
        QByteArray m_partial;        // a field split across reads while draining
        QTimer m_deadline;
    };
}  // namespace Lockstep::Gateway
