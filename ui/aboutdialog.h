#pragma once

#include <QDialog>
#include <QJsonObject>

class QLabel;

namespace Lockstep::Ui
{
    // Help → About Lockstep: the icon, the console's and Qt's versions, and the
    // connected gateway's version, replica, lock store and store (from the
    // /healthz answer the console already has); "not connected" without one.
    class AboutDialog final : public QDialog
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(AboutDialog)

    public:
        explicit AboutDialog(QWidget *parent = nullptr);

        // `url` empty: not connected. `health` empty: connected, no answer yet.
        // `state`: "connected", or what is wrong now ("unreachable since …"):
        // then the values shown are the gateway's last answer, and say so.
        void setGateway(const QString &url, const QJsonObject &health, const QString &state = {},
                        bool stateIsProblem = false);

        // "6.4.2" or "6.4.2 (built with 6.4.1)".
        static QString qtVersionText();

    private:
        QLabel *m_gateway;
        QLabel *m_state;
        QLabel *m_gatewayVersion;
        QLabel *m_replica;
        QLabel *m_lockStore;
        QLabel *m_store;
    };
}  // namespace Lockstep::Ui
