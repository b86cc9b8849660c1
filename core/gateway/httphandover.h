#pragma once

#include <QTcpServer>

class QTcpSocket;

namespace Lockstep::Gateway
{
    // The one place that relies on how QtHttpServer takes a connection over
    // (not on its documented API): see httphandover.cpp for what exactly, and
    // for which Qt versions it was checked. tst_gatewayhandover fails, naming the
    // Qt version, when a Qt upgrade changes it.
    //
    // A QTcpServer to bind a QAbstractHttpServer to (bind()) that hands it
    // connections whose request it has already read whole: the front door reads
    // the head and the body itself, so that it can refuse a request (token,
    // limits, timeouts) before the HTTP server sees a byte of it.
    class HttpHandover : public QTcpServer
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(HttpHandover)

    public:
        using QTcpServer::QTcpServer;

    protected:
        // `socket` holds one whole request (nothing after it). The bound HTTP
        // server takes it and dispatches the request before this returns; it
        // never reads from `socket` again, so whatever comes later is the
        // caller's (readyRead has no receiver left).
        void handToHttpServer(QTcpSocket *socket);
    };
}  // namespace Lockstep::Gateway
