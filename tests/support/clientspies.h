#pragma once

#include <QSignalSpy>
#include <QString>

#include "transport/websocketclient.h"

namespace Lockstep::Test
{
    // Every signal of one WebSocketClient, recorded, with readers for the first
    // failure or close and the i-th text message.
    struct ClientSpies
    {
        explicit ClientSpies(Transport::WebSocketClient &client);

        Transport::ConnectFailure failure() const;
        Transport::CloseInfo closeInfo() const;
        QString textAt(int i) const;

        QSignalSpy connected;
        QSignalSpy text;
        QSignalSpy failed;
        QSignalSpy closed;
    };
}  // namespace Lockstep::Test
