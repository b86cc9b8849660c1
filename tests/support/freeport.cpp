#include "freeport.h"

#include <QTcpServer>

namespace Lockstep::Test
{
    std::uint16_t freePort()
    {
        QTcpServer server;
        if (!server.listen(QHostAddress::LocalHost, 0))
            qFatal("freePort: cannot listen on loopback: %s", qPrintable(server.errorString()));
        return server.serverPort();
    }
}  // namespace Lockstep::Test
