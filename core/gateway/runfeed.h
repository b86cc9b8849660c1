#pragma once

#include <chrono>
#include <functional>
#include <optional>

#include <QHash>
#include <QList>
#include <QObject>
#include <QPointer>
#include <QString>
#include <QTimer>

#include "protocol/messages.h"
#include "protocol/runstatus.h"
#include "store/runstore.h"

namespace Lockstep::Flows
{
    class Execution;
    class FlowLibrary;
}

namespace Lockstep::Store
{
    class StoreWorker;
}

namespace Lockstep::Gateway
{
    // Someone who receives the events of one workflow: a subscribing or a
    // driving websocket session.
    class FeedListener
    {
    public:
        virtual ~FeedListener() = default;
        // incremental_streaming: chat-log deltas with seq; else the legacy full checkpoint.
        virtual bool wantsIncremental() const = 0;
        // `frame` is a serialized server message (compact JSON, UTF-8).
        virtual void sendFrame(const QByteArray &frame) = 0;
    };

    // The events of one workflow for every listener on this gateway.
    //
    // The store is the source of truth: each listener gets a snapshot of the
    // chat log (entries after the seq it already has), then deltas. A delta is
    // read from the store (entriesSince) whenever something may have changed:
    // a local execution persisted an entry or changed the status, a cancel
    // went through here, or the poll timer fired (runs executing on another
    // replica, cancels made elsewhere). Each listener remembers the highest seq
    // it was sent and only ever gets entries above it, so there are no gaps and
    // no duplicates, also across a reconnect with afterSeq.
    // runStatus goes out on every status change the feed sees, once per
    // listener. Store reads go through the StoreWorker: one refresh is out at
    // a time, and the requests that come meanwhile make one more.
    class RunFeed final : public QObject
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(RunFeed)

    public:
        RunFeed(QString workflowId, Store::StoreWorker &store, const Flows::FlowLibrary &flows,
                std::chrono::milliseconds pollInterval, QObject *parent = nullptr);
        ~RunFeed() override;

        QString workflowId() const;
        // Reads the snapshot (entries with seq > afterSeq, and the status),
        // sends it, then keeps the listener up to date; `done` says how it went
        // (`error`: the store's reason; nothing was sent unless Added). A
        // listener removed before the store answered gets nothing, nor does `done`.
        enum class AddResult
        {
            Added,
            NotFound,
            StoreError,
        };
        using AddDone = std::function<void(AddResult result, const QString &error)>;
        void addListener(FeedListener *listener, qint64 afterSeq, AddDone done);
        void removeListener(FeedListener *listener);
        // Listeners, counting those whose snapshot is being read.
        bool hasListeners() const;
        int listenerCount() const;

        // A local execution of this run: its signals trigger immediate updates
        // and its legacyCheckpoint() serves legacy listeners.
        void attachExecution(Flows::Execution *execution);
        // Read the store now (after a cancel, a status written here, ...).
        void refresh();
        // The status last seen.
        std::optional<RunStatus> status() const;

    private:
        struct ListenerState
        {
            qint64 seq = 0;
            std::optional<std::pair<RunStatus, QString>> status;  // last sent
        };
        // What one store round trip read.
        struct Reading
        {
            Store::StoreResult<std::optional<Store::Run>> run = std::optional<Store::Run>();
            Store::StoreResult<QList<Store::StoredEntry>> entries = QList<Store::StoredEntry>();
            // The whole chat log, for legacy listeners when no execution here has it.
            std::optional<QList<Store::StoredEntry>> fullLog;
        };

        void applyRefresh(const Reading &reading);
        void applySnapshot(FeedListener *listener, qint64 afterSeq, const Reading &reading, const AddDone &done);
        bool needsStoredLog() const;
        void deliverEntries(const QList<Store::StoredEntry> &entries,
                            const std::optional<QList<Store::StoredEntry>> &fullLog);
        void deliverStatus(RunStatus status, const QString &reason);
        void sendStatus(FeedListener *listener, RunStatus status, const QString &reason);
        QByteArray checkpointFrame(const QList<Store::StoredEntry> &entries, qint64 seq) const;
        QByteArray legacyFrame(const std::optional<QList<Store::StoredEntry>> &fullLog) const;
        QByteArray statusFrame(RunStatus status, const QString &reason) const;
        Flows::Execution *liveExecution() const;

        QString m_workflowId;
        Store::StoreWorker &m_store;
        const Flows::FlowLibrary &m_flows;
        QHash<FeedListener *, ListenerState> m_listeners;
        QHash<FeedListener *, quint64> m_pending;  // snapshot being read, by attempt
        quint64 m_attempts = 0;
        QList<QPointer<Flows::Execution>> m_executions;
        std::optional<Store::Run> m_run;  // as last read
        qint64 m_seq = 0;                 // highest seq read from the store
        bool m_refreshing = false;        // a refresh is out
        bool m_refreshAgain = false;
        bool m_storeFailing = false;
        QTimer m_poll;
    };
}  // namespace Lockstep::Gateway
