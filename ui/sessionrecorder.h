#pragma once

#include <functional>
#include <optional>

#include <QJsonObject>
#include <QObject>
#include <QPointer>
#include <QString>

#include "recordingstore.h"
#include "transport/framelog.h"

namespace Lockstep::Ui
{
    class DriveSession;
    class LiveConnection;

    // Records one of a tab's websocket sessions (its live view or a driving
    // session) into the RecordingStore: a session row per connection, its
    // frames (recordFrame), and its end with the close code and who closed.
    // A child of the connection it watches: it goes when the connection goes
    // (a session still open then ends as closed by the client).
    class SessionRecorder final : public QObject
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(SessionRecorder)

    public:
        // `gateway`: the gateway as known when a session opens (URL, /healthz).
        using GatewayInfo = std::function<QJsonObject()>;

        static SessionRecorder *watch(RecordingStore *store, LiveConnection *live, GatewayInfo gateway);
        static SessionRecorder *watch(RecordingStore *store, DriveSession *drive, const QString &workflowId,
                                      GatewayInfo gateway);

        SessionRecorder(RecordingStore *store, QString workflowId, QString label, GatewayInfo gateway, QObject *parent);
        ~SessionRecorder() override;

        // The session being recorded; 0: none open.
        qint64 currentSession() const;
        // Every session this recorder opened, oldest first.
        const QList<qint64> &sessions() const;

    public slots:
        // A frame of the watched connection (ProtocolSocket::frameRecorded). A
        // frame with no session open opens one.
        void recordFrame(const Lockstep::Transport::FrameRecord &frame);
        // The connection is up (a new session) or over.
        void opened();
        void ended(const Lockstep::Ui::SessionEnd &end);

    private:
        void begin();
        void finish();

        QPointer<RecordingStore> m_store;
        QString m_workflowId;
        QString m_label;
        GatewayInfo m_gateway;
        qint64 m_session = 0;
        std::optional<SessionEnd> m_ending;  // ended, written at the next turn of the event loop
        bool m_closeSentByClient = false;
        bool m_sawClose = false;
        QList<qint64> m_sessions;
    };
}  // namespace Lockstep::Ui
