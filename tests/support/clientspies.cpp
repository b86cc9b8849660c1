#include "clientspies.h"

namespace Lockstep::Test
{
    using Transport::WebSocketClient;

    ClientSpies::ClientSpies(WebSocketClient &client)
        : connected(&client, &WebSocketClient::connected)
        , text(&client, &WebSocketClient::textMessageReceived)
        , failed(&client, &WebSocketClient::failed)
        , closed(&client, &WebSocketClient::closed)
    {}

    Transport::ConnectFailure ClientSpies::failure() const
    {
        return failed.at(0).at(0).value<Transport::ConnectFailure>();
    }

    Transport::CloseInfo ClientSpies::closeInfo() const
    {
        return closed.at(0).at(0).value<Transport::CloseInfo>();
    }

    QString ClientSpies::textAt(const int i) const
    {
        return text.at(i).at(0).toString();
    }
}  // namespace Lockstep::Test
