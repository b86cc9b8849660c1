#include "httphandover.h"

#include <QTcpSocket>
#include <QtHttpServerVersion>

namespace Lockstep::Gateway
{
    // What this relies on, beyond QtHttpServer's documented API.
    //
    // QAbstractHttpServer has no public call for "serve this connection", let
    // alone one whose request is already buffered (none up to Qt 6.8: bind()
    // takes a QTcpServer, listen() makes its own). So the front door is that
    // QTcpServer, and:
    //  1. bind() connects QTcpServer::pendingConnectionAvailable (emitted by
    //     addPendingConnection()) directly, and the slot takes the socket with
    //     nextPendingConnection() and connects its readyRead: the server owns
    //     the connection when addPendingConnection() returns.
    //  2. It reads a request only on readyRead. The request is in the socket's
    //     buffer already, so no readyRead would come: we emit it, as
    //     QtHttpServer itself does after it hands a socket on
    //     (QWebSocketServer::handleConnection) or keeps bytes for later. With
    //     the whole request buffered, it parses it and calls handleRequest()
    //     within that emit.
    //  3. readyRead is its only way in: cut from it, it reads nothing more (a
    //     second request on the connection would otherwise be served without
    //     the front door's checks).
    // Checked against the QtHttpServer sources of 6.4.0 to 6.4.3 (Debian
    // bookworm ships 6.4.2): QAbstractHttpServerPrivate::handleNewConnections()
    // and handleReadyRead(). Not valid as is for 6.5 and later: there 3 no
    // longer holds (QHttpServerStream::responderDestroyed() connects readyRead
    // again after an answer given later), and the gateway does not build there
    // anyway (handleRequest() takes a QHttpServerResponder).
    static_assert((QTHTTPSERVER_VERSION >= QT_VERSION_CHECK(6, 4, 0)) &&
                      (QTHTTPSERVER_VERSION < QT_VERSION_CHECK(6, 5, 0)),
                  "HttpHandover relies on QtHttpServer 6.4 internals (see the comment above): check 1 to 3 "
                  "for this version, then widen this range (tst_gatewayhandover tests them)");

    void HttpHandover::handToHttpServer(QTcpSocket *socket)
    {
        addPendingConnection(socket);
        emit socket->readyRead();
        disconnect(socket, &QTcpSocket::readyRead, nullptr, nullptr);
    }
}  // namespace Lockstep::Gateway
