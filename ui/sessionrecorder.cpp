#include "sessionrecorder.h"

#include <QTimer>

#include "connection.h"
#include "framesession.h"

namespace Lockstep::Ui
{
    namespace
    {
        // Who closed, in the report's words: the close frame says when there was one.
        QString closedBy(const bool sawClose, const bool byClient, const std::optional<quint16> code)
        {
            if (sawClose)
                return byClient ? QStringLiteral("client") : QStringLiteral("server");
            return code ? QStringLiteral("server") : QStringLiteral("lost");
        }

        // Every frame of every connection `owner` opens (a LiveConnection or a
        // DriveSession: each open() starts a FrameSession) goes into the recording.
        template <typename Owner>
        void recordFramesOf(Owner *owner, SessionRecorder *recorder)
        {
            QObject::connect(owner, &Owner::frameSessionStarted, recorder,
                             [recorder](const std::shared_ptr<FrameSession> &session) {
                                 QObject::connect(session.get(), &FrameSession::frameRecorded, recorder,
                                                  &SessionRecorder::recordFrame);
                             });
        }
    }  // namespace

    SessionRecorder *SessionRecorder::watch(RecordingStore *store, LiveConnection *live, GatewayInfo gateway)
    {
        auto *recorder =
            new SessionRecorder(store, live->workflowId(), QStringLiteral("live"), std::move(gateway), live);
        connect(live, &LiveConnection::statusChanged, recorder, [recorder](const ConnectionStatus &status) {
            switch (status.state)
            {
            case ConnectionState::Connected: recorder->opened(); break;
            case ConnectionState::Idle:
                // stop(): the console dropped it.
                recorder->ended(SessionEnd{.closedBy = QStringLiteral("client")});
                break;
            case ConnectionState::Reconnecting:
            case ConnectionState::Closed:
                recorder->ended(
                    SessionEnd{.code = status.closeCode,
                               .reason = status.closeReason,
                               .closedBy = status.failure.isEmpty() ? QString() : QStringLiteral("failed")});
                break;
            case ConnectionState::Connecting: break;
            }
        });
        recordFramesOf(live, recorder);
        return recorder;
    }

    SessionRecorder *SessionRecorder::watch(RecordingStore *store, DriveSession *drive, const QString &workflowId,
                                            GatewayInfo gateway)
    {
        auto *recorder = new SessionRecorder(store, workflowId, QStringLiteral("drive"), std::move(gateway), drive);
        connect(drive, &DriveSession::statusChanged, recorder, [recorder](const ConnectionStatus &status) {
            if (status.state == ConnectionState::Connected)
                recorder->opened();
        });
        connect(drive, &DriveSession::ended, recorder, [recorder](const DriveSession::End &end) {
            const bool failed = end.failure.has_value() && !end.connected;
            recorder->ended(SessionEnd{
                .code = end.connected && (end.close.code != 0) ? std::optional<quint16>(end.close.code) : std::nullopt,
                .reason = end.close.reason,
                .closedBy = failed ? QStringLiteral("failed") : QString()});
        });
        recordFramesOf(drive, recorder);
        return recorder;
    }

    SessionRecorder::SessionRecorder(RecordingStore *store, QString workflowId, QString label, GatewayInfo gateway,
                                     QObject *parent)
        : QObject(parent)
        , m_store(store)
        , m_workflowId(std::move(workflowId))
        , m_label(std::move(label))
        , m_gateway(std::move(gateway))
    {}

    SessionRecorder::~SessionRecorder()
    {
        if (m_store && (m_session != 0) && !m_ending)
            m_ending = SessionEnd{.closedBy = QStringLiteral("client")};
        finish();
    }

    qint64 SessionRecorder::currentSession() const
    {
        return m_ending ? 0 : m_session;
    }

    const QList<qint64> &SessionRecorder::sessions() const
    {
        return m_sessions;
    }

    void SessionRecorder::begin()
    {
        finish();
        if (!m_store || (m_session != 0))
            return;
        m_sawClose = false;
        m_closeSentByClient = false;
        m_session = m_store->beginSession(m_workflowId, m_label, m_gateway ? m_gateway() : QJsonObject());
        if (m_session != 0)
            m_sessions.append(m_session);
    }

    void SessionRecorder::finish()
    {
        if (!m_ending)
            return;
        SessionEnd end = *std::exchange(m_ending, std::nullopt);
        const qint64 session = std::exchange(m_session, 0);
        if (end.closedBy.isEmpty())
            end.closedBy = closedBy(m_sawClose, m_closeSentByClient, end.code);
        if (m_store && (session != 0))
            m_store->endSession(session, end);
    }

    void SessionRecorder::opened()
    {
        begin();
    }

    void SessionRecorder::recordFrame(const Transport::FrameRecord &frame)
    {
        if (!m_ending)
            begin();  // a frame before the connection said it is up
        if (!m_store || (m_session == 0))
            return;
        if ((frame.kind == Transport::FrameKind::Close) && !m_sawClose)
        {
            m_sawClose = true;
            m_closeSentByClient = frame.closedByClient;
        }
        m_store->appendFrame(m_session, frame);
    }

    void SessionRecorder::ended(const SessionEnd &end)
    {
        if (!m_store || (m_session == 0) || m_ending)
            return;
        // A close frame the transport reports right after the close still belongs to this session.
        m_ending = end;
        QTimer::singleShot(0, this, &SessionRecorder::finish);
    }
}  // namespace Lockstep::Ui
