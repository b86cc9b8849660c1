#include "framesession.h"

#include <algorithm>

#include <QSettings>

#include "connection.h"
#include "protocol/names.h"

namespace Lockstep::Ui
{
    namespace
    {
        constexpr qsizetype NotFound = -1;

        qsizetype skipSpace(const QByteArray &text, qsizetype at)
        {
            while ((at < text.size()) &&
                   ((text.at(at) == ' ') || (text.at(at) == '\n') || (text.at(at) == '\r') || (text.at(at) == '\t')))
                ++at;
            return at;
        }

        // A JSON string starting at `at` (its opening quote): its end (after the
        // closing quote), and its text in `out` when the string has no escapes.
        qsizetype readString(const QByteArray &text, qsizetype at, QByteArray *out)
        {
            if ((at >= text.size()) || (text.at(at) != '"'))
                return NotFound;
            const qsizetype start = at + 1;
            for (qsizetype i = start; i < text.size(); ++i)
            {
                if (text.at(i) == '\\')
                {
                    ++i;
                    continue;
                }
                if (text.at(i) == '"')
                {
                    if (out)
                        *out = text.mid(start, i - start);
                    return i + 1;
                }
            }
            return NotFound;
        }

        // A scalar or string value at `at`: where it ends. Objects and arrays are
        // not skipped (the protocol's requestID is a string).
        qsizetype skipScalar(const QByteArray &text, const qsizetype at)
        {
            if ((at < text.size()) && (text.at(at) == '"'))
                return readString(text, at, nullptr);
            qsizetype i = at;
            while ((i < text.size()) && (text.at(i) != ',') && (text.at(i) != '}'))
            {
                if ((text.at(i) == '{') || (text.at(i) == '['))
                    return NotFound;
                ++i;
            }
            return i;
        }

        // The protocol's message names share one string each (a table of 100 000
        // frames keeps one per row).
        QString sharedName(const QByteArray &key)
        {
            static const QStringList known = [] {
                QStringList names;
                for (const QLatin1StringView name :
                     {Protocol::Names::NewCheckpoint, Protocol::Names::LockStatus, Protocol::Names::RunStatus,
                      Protocol::Names::StartRequest, Protocol::Names::Subscribe, Protocol::Names::Heartbeat,
                      Protocol::Names::StopWorkflow, Protocol::Names::ActionResponse})
                    names.append(QString(name));
                return names;
            }();
            for (const QString &name : known)
            {
                if (QLatin1StringView(key) == name)
                    return name;
            }
            return QString::fromUtf8(key);
        }
    }  // namespace

    QString maxFramesSettingsKey()
    {
        return QStringLiteral("inspector/maxFrames");
    }

    int frameCapacity(const QSettings &settings)
    {
        bool ok = false;
        const int frames = settings.value(maxFramesSettingsKey(), Transport::FrameLog::DefaultCapacity).toInt(&ok);
        return ok ? std::clamp(frames, MinFrameCapacity, MaxFrameCapacity) : Transport::FrameLog::DefaultCapacity;
    }

    QString frameMessageType(const Transport::FrameRecord &frame)
    {
        if (frame.kind != Transport::FrameKind::Text)
            return Transport::toString(frame.kind);
        // The protocol's messages are one object with one message key and maybe
        // "requestID" (which compact JSON may write first): read keys until another.
        const QByteArray &text = frame.payload;
        qsizetype at = skipSpace(text, 0);
        if ((at >= text.size()) || (text.at(at) != '{'))
            return {};
        for (int keys = 0; keys < 2; ++keys)
        {
            at = skipSpace(text, at + 1);
            QByteArray key;
            at = readString(text, at, &key);
            if (at == NotFound)
                return {};
            if (key != "requestID")
                return sharedName(key);
            at = skipSpace(text, at);
            if ((at >= text.size()) || (text.at(at) != ':'))
                return {};
            at = skipScalar(text, skipSpace(text, at + 1));
            if (at == NotFound)
                return {};
            at = skipSpace(text, at);
            if ((at >= text.size()) || (text.at(at) != ','))
                return {};
        }
        return {};
    }

    // ---- FrameSession ----

    FrameSession::FrameSession(const Role role, const int capacity, QObject *parent)
        : QObject(parent)
        , m_role(role)
        , m_log(capacity)
        , m_startedAt(QDateTime::currentDateTimeUtc())
    {}

    FrameSession::~FrameSession() = default;

    FrameSession::Role FrameSession::role() const
    {
        return m_role;
    }

    QString FrameSession::label() const
    {
        return m_label;
    }

    void FrameSession::setLabel(const QString &label)
    {
        m_label = label;
        emit changed();
    }

    bool FrameSession::isLegacy() const
    {
        return m_legacy;
    }

    void FrameSession::setLegacy(const bool legacy)
    {
        m_legacy = legacy;
    }

    const Transport::FrameLog &FrameSession::log() const
    {
        return m_log;
    }

    void FrameSession::setCapacity(const int capacity)
    {
        const qint64 evicted = m_log.evicted();
        m_log.setCapacity(capacity);
        if (m_log.evicted() != evicted)
            emit changed();
    }

    void FrameSession::record(Transport::FrameRecord frame)
    {
        if ((frame.direction == Transport::FrameDirection::In) && (frame.kind == Transport::FrameKind::Text) &&
            (frameMessageType(frame) == u"newCheckpoint"))
        {
            ++m_events;
            m_eventBytes += frame.payloadBytes;
        }
        emit frameRecorded(m_log.append(std::move(frame)));
    }

    QDateTime FrameSession::startedAt() const
    {
        return m_startedAt;
    }

    bool FrameSession::isOpen() const
    {
        return !m_endedAt.has_value();
    }

    std::optional<QDateTime> FrameSession::endedAt() const
    {
        return m_endedAt;
    }

    QString FrameSession::endText() const
    {
        return m_endText;
    }

    void FrameSession::setWireBytes(const qint64 in, const qint64 out)
    {
        if ((in == m_wireIn) && (out == m_wireOut))
            return;
        m_wireIn = in;
        m_wireOut = out;
        emit changed();
    }

    qint64 FrameSession::wireBytesIn() const
    {
        return m_wireIn;
    }

    qint64 FrameSession::wireBytesOut() const
    {
        return m_wireOut;
    }

    void FrameSession::end(const Transport::CloseInfo &info)
    {
        QString who = tr("connection lost");
        if (!info.connectionLost())
            who = info.initiatedByClient ? tr("closed by the console") : tr("closed by the server");
        end(QStringLiteral("%1: %2").arg(who, closeWording(info.code, info.reason)), info.wireBytesIn,
            info.wireBytesOut);
    }

    void FrameSession::end(const Transport::ConnectFailure &failure)
    {
        end(tr("failed: %1").arg(describeFailure(failure)), failure.wireBytesIn, failure.wireBytesOut);
    }

    void FrameSession::end(const QString &text, const qint64 wireIn, const qint64 wireOut)
    {
        if (m_endedAt)
            return;
        m_endedAt = QDateTime::currentDateTimeUtc();
        m_endText = text;
        m_wireIn = wireIn;
        m_wireOut = wireOut;
        emit changed();
    }

    qint64 FrameSession::events() const
    {
        return m_events;
    }

    qint64 FrameSession::eventBytes() const
    {
        return m_eventBytes;
    }

    // ---- FrameSessionList ----

    FrameSessionList::FrameSessionList(QObject *parent)
        : QObject(parent)
    {}

    FrameSessionList::~FrameSessionList() = default;

    void FrameSessionList::add(const std::shared_ptr<FrameSession> &session)
    {
        const QString role = (session->role() == FrameSession::Role::Live)    ? tr("live")
                             : (session->role() == FrameSession::Role::Drive) ? tr("drive")
                                                                              : tr("session");
        session->setLabel(QStringLiteral("%1 %2").arg(role).arg(m_next++));
        session->setCapacity(m_frameCapacity);
        m_sessions.push_back(session);
        // A session that ends may now be pruned.
        connect(session.get(), &FrameSession::changed, this, [this] { prune(); });
        prune();
        emit sessionsChanged();
    }

    const std::vector<std::shared_ptr<FrameSession>> &FrameSessionList::sessions() const
    {
        return m_sessions;
    }

    void FrameSessionList::setMaxSessions(const int count)
    {
        m_maxSessions = std::max(1, count);
        prune();
    }

    int FrameSessionList::frameCapacity() const
    {
        return m_frameCapacity;
    }

    void FrameSessionList::setFrameCapacity(const int frames)
    {
        m_frameCapacity = std::max(1, frames);
        for (const auto &session : m_sessions)
            session->setCapacity(m_frameCapacity);
    }

    void FrameSessionList::prune()
    {
        bool removed = false;
        while (std::ssize(m_sessions) > m_maxSessions)
        {
            const auto closed = std::find_if(m_sessions.begin(), m_sessions.end(),
                                             [](const auto &session) { return !session->isOpen(); });
            if (closed == m_sessions.end())
                break;
            (*closed)->disconnect(this);
            m_sessions.erase(closed);
            removed = true;
        }
        if (removed)
            emit sessionsChanged();
    }
}  // namespace Lockstep::Ui
