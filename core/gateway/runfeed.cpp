#include "runfeed.h"

#include <QJsonArray>
#include <QJsonDocument>

#include "common/logging.h"
#include "flows/execution.h"
#include "flows/flowlibrary.h"
#include "flows/legacycheckpoint.h"
#include "protocol/names.h"
#include "store/storeworker.h"

namespace Lockstep::Gateway
{
    namespace Names = Protocol::Names;

    RunFeed::RunFeed(QString workflowId, Store::StoreWorker &store, const Flows::FlowLibrary &flows,
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
        return !m_listeners.isEmpty() || !m_pending.isEmpty();
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

    void RunFeed::addListener(FeedListener *listener, const qint64 afterSeq, AddDone done)
    {
        // Queued ahead of the snapshot: the feed has read at least as far when it comes.
        refresh();
        const quint64 attempt = ++m_attempts;
        m_pending.insert(listener, attempt);
        const bool wholeLog = !listener->wantsIncremental();
        m_store.call(
            this,
            [workflowId = m_workflowId, afterSeq, wholeLog](Store::RunStore &store) {
                Reading reading;
                reading.run = store.getRun(workflowId);
                if (!reading.run || !reading.run->has_value())
                    return reading;
                // A client that claims more than exists saw another store: start over.
                const qint64 after = (wholeLog || afterSeq > (*reading.run)->lastSeq) ? 0 : afterSeq;
                reading.entries = store.entriesSince(workflowId, after);
                return reading;
            },
            [this, listener, attempt, afterSeq, done = std::move(done)](const Reading &reading) {
                // Removed (or added again) while the store was read.
                if (m_pending.value(listener) != attempt)
                    return;
                m_pending.remove(listener);
                applySnapshot(listener, afterSeq, reading, done);
            });
    }

    void RunFeed::applySnapshot(FeedListener *listener, qint64 afterSeq, const Reading &reading, const AddDone &done)
    {
        if (!reading.run)
            return done(AddResult::StoreError, reading.run.error().shortText());
        if (!reading.run->has_value())
            return done(AddResult::NotFound, {});
        if (!reading.entries)
            return done(AddResult::StoreError, reading.entries.error().shortText());
        const Store::Run &run = **reading.run;
        if (!listener->wantsIncremental() || afterSeq > run.lastSeq)
            afterSeq = 0;
        qint64 seq = afterSeq;
        for (const Store::StoredEntry &entry : *reading.entries)
            seq = qMax(seq, entry.seq);
        // Read after everything the feed read before (one worker, in order).
        m_run = run;
        m_listeners.insert(listener, ListenerState{.seq = seq, .status = std::nullopt});
        listener->sendFrame(listener->wantsIncremental() ? checkpointFrame(*reading.entries, seq)
                                                         : legacyFrame(*reading.entries));
        if (m_listeners.contains(listener))
            sendStatus(listener, run.status, run.reason);
        // Zero: the store announces changes (PostgreSQL LISTEN/NOTIFY), no polling.
        if (!m_poll.isActive() && (m_poll.interval() > 0))
            m_poll.start();
        done(AddResult::Added, {});
    }

    void RunFeed::removeListener(FeedListener *listener)
    {
        m_listeners.remove(listener);
        m_pending.remove(listener);
        if (m_listeners.isEmpty())
            m_poll.stop();
    }

    bool RunFeed::needsStoredLog() const
    {
        if (liveExecution())
            return false;
        for (auto it = m_listeners.constBegin(); it != m_listeners.constEnd(); ++it)
        {
            if (!it.key()->wantsIncremental())
                return true;
        }
        return false;
    }

    void RunFeed::refresh()
    {
        if (m_refreshing)
        {
            m_refreshAgain = true;
            return;
        }
        m_refreshing = true;
        m_refreshAgain = false;
        m_store.call(
            this,
            [workflowId = m_workflowId, after = m_seq, storedLog = needsStoredLog()](Store::RunStore &store) {
                Reading reading;
                reading.run = store.getRun(workflowId);
                if (!reading.run || !reading.run->has_value() || (*reading.run)->lastSeq <= after)
                    return reading;
                if (!storedLog)
                {
                    reading.entries = store.entriesSince(workflowId, after);
                    return reading;
                }
                // Legacy listeners need the whole log: one read, the new entries taken from it.
                reading.entries = store.entriesSince(workflowId, 0);
                if (!reading.entries)
                    return reading;
                reading.fullLog = *reading.entries;
                reading.entries->removeIf([after](const Store::StoredEntry &entry) { return entry.seq <= after; });
                return reading;
            },
            [this](const Reading &reading) {
                applyRefresh(reading);
                m_refreshing = false;
                // A frame sent from here can close a session, which may come
                // back here: that and anything else meanwhile is one more read.
                if (std::exchange(m_refreshAgain, false))
                    refresh();
            });
    }

    void RunFeed::applyRefresh(const Reading &reading)
    {
        if (!reading.run)
        {
            // Once per outage, not at every poll.
            if (!m_storeFailing)
                qCWarning(lcGateway).noquote()
                    << "cannot read workflow" << m_workflowId << ":" << reading.run.error().message;
            m_storeFailing = true;
            return;
        }
        if (m_storeFailing)
            qCInfo(lcGateway).noquote() << "reading workflow" << m_workflowId << "works again";
        m_storeFailing = false;
        if (!reading.run->has_value())
            return;
        const Store::Run current = **reading.run;
        m_run = current;
        if (!reading.entries)
        {
            qCWarning(lcGateway).noquote()
                << "cannot read the chat log of" << m_workflowId << ":" << reading.entries.error().message;
            return;
        }
        for (const Store::StoredEntry &entry : *reading.entries)
            m_seq = qMax(m_seq, entry.seq);
        if (!reading.entries->isEmpty())
            deliverEntries(*reading.entries, reading.fullLog);
        deliverStatus(current.status, current.reason);
    }

    void RunFeed::deliverEntries(const QList<Store::StoredEntry> &entries,
                                 const std::optional<QList<Store::StoredEntry>> &fullLog)
    {
        const qint64 newest = entries.constLast().seq;
        QHash<qint64, QByteArray> incrementalFrames;  // by the listener's previous seq
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
                    legacy = legacyFrame(fullLog);
                listener->sendFrame(legacy);
            }
        }
    }

    void RunFeed::deliverStatus(const RunStatus status, const QString &reason)
    {
        const QList<FeedListener *> listeners = m_listeners.keys();
        for (FeedListener *listener : listeners)
            sendStatus(listener, status, reason);
    }

    void RunFeed::sendStatus(FeedListener *listener, const RunStatus status, const QString &reason)
    {
        const auto found = m_listeners.find(listener);
        if (found == m_listeners.end())
            return;
        const std::pair<RunStatus, QString> now{status, reason};
        if (found->status == now)
            return;
        found->status = now;
        listener->sendFrame(statusFrame(status, reason));
    }

    QByteArray RunFeed::checkpointFrame(const QList<Store::StoredEntry> &entries, const qint64 seq) const
    {
        QJsonArray log;
        for (const Store::StoredEntry &entry : entries)
            log.append(entry.entry);
        const QJsonObject payload{
            {QString(Names::ChannelValues), QJsonObject{{QString(Names::UiChatLog), log}}},
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

    QByteArray RunFeed::legacyFrame(const std::optional<QList<Store::StoredEntry>> &fullLog) const
    {
        QJsonObject checkpoint;
        if (Flows::Execution *execution = liveExecution())
        {
            checkpoint = execution->legacyCheckpoint();
        }
        else
        {
            // Executing elsewhere (or not at all): rebuild it from the stored log.
            const std::optional<Flows::Flow> flow = m_run ? m_flows.find(m_run->flow) : std::nullopt;
            Flows::LegacyCheckpointInput input;
            input.workflowId = m_workflowId;
            input.goal = m_run ? m_run->goal : QString();
            input.flow = flow ? &*flow : nullptr;
            input.status = m_run ? m_run->status : RunStatus::Running;
            input.checkpointNumber = int(m_seq);
            if (fullLog)
            {
                for (const Store::StoredEntry &entry : *fullLog)
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
}  // namespace Lockstep::Gateway
