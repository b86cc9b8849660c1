#include "runfeed.h"

#include <QJsonArray>
#include <QJsonDocument>

#include "common/logging.h"
#include "flows/execution.h"
#include "flows/flowlibrary.h"
#include "flows/legacycheckpoint.h"
#include "protocol/names.h"

namespace Lockstep::Gateway
{
    namespace Names = Protocol::Names;

    RunFeed::RunFeed(QString workflowId, Store::RunStore &store, const Flows::FlowLibrary &flows,
                     const std::chrono::milliseconds pollInterval, QObject *parent)
        : QObject(parent)
        , m_workflowId(std::move(workflowId))
        , m_store(store)
        , m_flows(flows)
    {
        m_poll.setInterval(pollInterval);
        connect(&m_poll, &QTimer::timeout, this, &RunFeed::refresh);
    }

    RunFeed::~RunFeed() = default;

    QString RunFeed::workflowId() const
    {
        return m_workflowId;
    }

    bool RunFeed::hasListeners() const
    {
        return !m_listeners.isEmpty();
    }

    int RunFeed::listenerCount() const
    {
        return int(m_listeners.size());
    }

    std::optional<RunStatus> RunFeed::status() const
    {
        if (!m_run)
            return std::nullopt;
        return m_run->status;
    }

    Flows::Execution *RunFeed::liveExecution() const
    {
        for (const QPointer<Flows::Execution> &execution : m_executions)
        {
            if (execution && !execution->isFinished())
                return execution.data();
        }
        return nullptr;
    }

    void RunFeed::attachExecution(Flows::Execution *execution)
    {
        m_executions.removeAll(nullptr);
        m_executions.append(execution);
        // Every signal means "the store has something new": read it from there.
        connect(execution, &Flows::Execution::entryPersisted, this, [this] { refresh(); });
        connect(execution, &Flows::Execution::statusChanged, this, [this] { refresh(); });
        connect(execution, &Flows::Execution::finished, this, [this] { refresh(); });
    }

    RunFeed::AddResult RunFeed::addListener(FeedListener *listener, qint64 afterSeq, QString *error)
    {
        refresh();
        const auto run = m_store.getRun(m_workflowId);
        if (!run)
        {
            if (error)
                *error = run.error().shortText();
            return AddResult::StoreError;
        }
        if (!run->has_value())
            return AddResult::NotFound;
        m_run = **run;
        // A client that claims more than exists saw another store: start over.
        if (afterSeq > m_run->lastSeq)
            afterSeq = 0;
        const auto entries = m_store.entriesSince(m_workflowId, afterSeq);
        if (!entries)
        {
            if (error)
                *error = entries.error().shortText();
            return AddResult::StoreError;
        }
        qint64 seq = afterSeq;
        for (const Store::StoredEntry &entry : *entries)
            seq = qMax(seq, entry.seq);
        m_listeners.insert(listener, ListenerState {.seq = seq});

        listener->sendFrame(listener->wantsIncremental() ? checkpointFrame(*entries, seq) : legacyFrame());
        if (m_listeners.contains(listener))
            listener->sendFrame(statusFrame(m_run->status, m_run->reason));
        // Zero: the store announces changes (PostgreSQL LISTEN/NOTIFY), no polling.
        if (!m_poll.isActive() && (m_poll.interval() > 0))
            m_poll.start();
        return AddResult::Added;
    }

    void RunFeed::removeListener(FeedListener *listener)
    {
        m_listeners.remove(listener);
        if (m_listeners.isEmpty())
            m_poll.stop();
    }

    void RunFeed::refresh()
    {
        // A frame sent from here can close a session, which may come back here.
        if (m_refreshing)
        {
            m_refreshAgain = true;
            return;
        }
        m_refreshing = true;
        do
        {
            m_refreshAgain = false;
            const auto run = m_store.getRun(m_workflowId);
            if (!run)
            {
                // Once per outage, not at every poll.
                if (!m_storeFailing)
                    qCWarning(lcGateway).noquote() << "cannot read workflow" << m_workflowId << ":" << run.error().message;
                m_storeFailing = true;
                break;
            }
            if (m_storeFailing)
                qCInfo(lcGateway).noquote() << "reading workflow" << m_workflowId << "works again";
            m_storeFailing = false;
            if (!run->has_value())
                break;
            const Store::Run &current = **run;
            const bool statusChanged = !m_run || (m_run->status != current.status) || (m_run->reason != current.reason);
            m_run = current;
            if (current.lastSeq > m_seq)
            {
                const auto entries = m_store.entriesSince(m_workflowId, m_seq);
                if (!entries)
                {
                    qCWarning(lcGateway).noquote() << "cannot read the chat log of" << m_workflowId << ":" << entries.error().message;
                    break;
                }
                for (const Store::StoredEntry &entry : *entries)
                    m_seq = qMax(m_seq, entry.seq);
                if (!entries->isEmpty())
                    deliverEntries(*entries);
            }
            if (statusChanged)
            {
                deliverStatus(current.status, current.reason);
            }
        } while (m_refreshAgain);
        m_refreshing = false;
    }

    void RunFeed::deliverEntries(const QList<Store::StoredEntry> &entries)
    {
        const qint64 newest = entries.constLast().seq;
        QHash<qint64, QByteArray> incrementalFrames;   // by the listener's previous seq
        QByteArray legacy;
        const QList<FeedListener *> listeners = m_listeners.keys();
        for (FeedListener *listener : listeners)
        {
            const auto found = m_listeners.find(listener);
            if ((found == m_listeners.end()) || (found->seq >= newest))
                continue;
            const qint64 previous = found->seq;
            found->seq = newest;
            if (listener->wantsIncremental())
            {
                auto frame = incrementalFrames.find(previous);
                if (frame == incrementalFrames.end())
                {
                    QList<Store::StoredEntry> delta;
                    for (const Store::StoredEntry &entry : entries)
                    {
                        if (entry.seq > previous)
                            delta.append(entry);
                    }
                    frame = incrementalFrames.insert(previous, checkpointFrame(delta, newest));
                }
                listener->sendFrame(*frame);
            }
            else
            {
                if (legacy.isEmpty())
                    legacy = legacyFrame();
                listener->sendFrame(legacy);
            }
        }
    }

    void RunFeed::deliverStatus(const RunStatus status, const QString &reason)
    {
        const QByteArray frame = statusFrame(status, reason);
        const QList<FeedListener *> listeners = m_listeners.keys();
        for (FeedListener *listener : listeners)
        {
            if (m_listeners.contains(listener))
                listener->sendFrame(frame);
        }
    }

    QByteArray RunFeed::checkpointFrame(const QList<Store::StoredEntry> &entries, const qint64 seq) const
    {
        QJsonArray log;
        for (const Store::StoredEntry &entry : entries)
            log.append(entry.entry);
        const QJsonObject payload {
            {QString(Names::ChannelValues), QJsonObject {{QString(Names::UiChatLog), log}}},
            {QString(Names::Seq), seq},
        };
        Protocol::NewCheckpoint message;
        message.status = m_run ? m_run->status : RunStatus::Running;
        message.goal = m_run ? m_run->goal : QString();
        if (m_run && (m_run->status == RunStatus::Failed) && !m_run->reason.isEmpty())
            message.errors << m_run->reason;
        message.checkpoint = QString::fromUtf8(QJsonDocument(payload).toJson(QJsonDocument::Compact));
        return Protocol::serialize(Protocol::ServerMessage(message));
    }

    QByteArray RunFeed::legacyFrame() const
    {
        QJsonObject checkpoint;
        if (Flows::Execution *execution = liveExecution())
        {
            checkpoint = execution->legacyCheckpoint();
        }
        else
        {
            // Executing elsewhere (or not at all): rebuild it from the store.
            const auto entries = m_store.entriesSince(m_workflowId, 0);
            const std::optional<Flows::Flow> flow = m_run ? m_flows.find(m_run->flow) : std::nullopt;
            Flows::LegacyCheckpointInput input;
            input.workflowId = m_workflowId;
            input.goal = m_run ? m_run->goal : QString();
            input.flow = flow ? &*flow : nullptr;
            input.status = m_run ? m_run->status : RunStatus::Running;
            input.checkpointNumber = int(m_seq);
            if (entries)
            {
                for (const Store::StoredEntry &entry : *entries)
                    input.chatLog.append(entry.entry);
            }
            checkpoint = Flows::buildLegacyCheckpoint(input);
        }
        Protocol::NewCheckpoint message;
        message.status = m_run ? m_run->status : RunStatus::Running;
        message.goal = m_run ? m_run->goal : QString();
        if (m_run && (m_run->status == RunStatus::Failed) && !m_run->reason.isEmpty())
            message.errors << m_run->reason;
        message.checkpoint = QString::fromUtf8(QJsonDocument(checkpoint).toJson(QJsonDocument::Compact));
        return Protocol::serialize(Protocol::ServerMessage(message));
    }

    QByteArray RunFeed::statusFrame(const RunStatus status, const QString &reason) const
    {
        Protocol::RunStatusMessage message;
        message.workflowID = m_workflowId;
        message.status = status;
        message.reason = reason;
        return Protocol::serialize(Protocol::ServerMessage(message));
    }
} // namespace Lockstep::Gateway
