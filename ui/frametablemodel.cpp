#include "frametablemodel.h"

#include <algorithm>

#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLatin1StringView>
#include <QLocale>

#include "protocol/closecode.h"
#include "protocol/names.h"

namespace Lockstep::Ui
{
    namespace
    {
        constexpr int SummaryChars = 160;

        QString shortened(QString text)
        {
            text.replace(u'\n', u' ');
            if (text.size() > SummaryChars)
                text = text.left(SummaryChars - 1) + QChar(0x2026);
            return text;
        }

        QString closeSummary(const Transport::FrameRecord &frame)
        {
            QString text = QStringLiteral("%1 %2").arg(frame.closeCode).arg(closeCodeMeaning(frame.closeCode));
            if (!frame.payload.isEmpty())
                text += QStringLiteral(" — ") + QString::fromUtf8(frame.payload);
            text += frame.closedByClient ? FrameTableModel::tr(" · closed by client")
                                         : FrameTableModel::tr(" · closed by server");
            return text;
        }

        // The checkpoint string of a newCheckpoint, parsed (null if it is not an object).
        QJsonObject checkpointObject(const QJsonObject &body)
        {
            return QJsonDocument::fromJson(body.value(Protocol::Names::Checkpoint).toString().toUtf8()).object();
        }

        QString messageSummary(const QJsonObject &message, const QString &type)
        {
            const QJsonObject body = message.value(type).toObject();
            if (type == Protocol::Names::NewCheckpoint)
            {
                const QJsonObject checkpoint = checkpointObject(body);
                const auto log = checkpoint.value(Protocol::Names::ChannelValues)
                                     .toObject()
                                     .value(Protocol::Names::UiChatLog)
                                     .toArray();
                QString text = QStringLiteral("%1 · %2").arg(body.value(Protocol::Names::Status).toString(),
                                                             (log.size() == 1)
                                                                 ? FrameTableModel::tr("1 entry")
                                                                 : FrameTableModel::tr("%1 entries").arg(log.size()));
                if (checkpoint.contains(Protocol::Names::Seq))
                    text += QStringLiteral(" · seq %1").arg(checkpoint.value(Protocol::Names::Seq).toInteger());
                else
                    text += FrameTableModel::tr(" · full checkpoint (legacy)");
                return text;
            }
            if (type == Protocol::Names::LockStatus)
                return FrameTableModel::tr("%1 · holder %2 · fence %3 · TTL %4 ms")
                    .arg(body.value(Protocol::Names::State).toString(), body.value(Protocol::Names::Holder).toString())
                    .arg(body.value(Protocol::Names::Fence).toInteger())
                    .arg(body.value(Protocol::Names::TtlMs).toInteger());
            if (type == Protocol::Names::RunStatus)
            {
                QString text = body.value(Protocol::Names::Status).toString();
                const QString reason = body.value(Protocol::Names::Reason).toString();
                if (!reason.isEmpty())
                    text += QStringLiteral(" — ") + reason;
                return text;
            }
            if (type == Protocol::Names::StartRequest)
            {
                const QString goal = body.value(Protocol::Names::Goal).toString();
                QString text = goal.isEmpty() ? FrameTableModel::tr("resume") : QStringLiteral("“%1”").arg(goal);
                const QJsonArray capabilities = body.value(Protocol::Names::ClientCapabilities).toArray();
                text += capabilities.contains(QString(Protocol::Names::IncrementalStreaming))
                            ? QStringLiteral(" · incremental_streaming")
                            : FrameTableModel::tr(" · legacy (no incremental_streaming)");
                return text;
            }
            if (type == Protocol::Names::Subscribe)
                return body.value(Protocol::Names::WorkflowId).toString();
            if (type == Protocol::Names::Heartbeat)
                return QDateTime::fromMSecsSinceEpoch(body.value(Protocol::Names::Timestamp).toInteger())
                    .toString(QStringLiteral("HH:mm:ss.zzz"));
            if (type == Protocol::Names::StopWorkflow)
                return body.value(Protocol::Names::Reason).toString();
            return QString::fromUtf8(QJsonDocument(body).toJson(QJsonDocument::Compact));
        }

        QString directionText(const Transport::FrameDirection direction)
        {
            return (direction == Transport::FrameDirection::In) ? FrameTableModel::tr("← in")
                                                                : FrameTableModel::tr("→ out");
        }
    }  // namespace

    FrameTableModel::FrameTableModel(QObject *parent)
        : QAbstractTableModel(parent)
    {}

    FrameTableModel::~FrameTableModel() = default;

    void FrameTableModel::setSession(const std::shared_ptr<FrameSession> &session)
    {
        if (m_session)
            m_session->disconnect(this);
        beginResetModel();
        m_session = session;
        m_types.clear();
        m_summaries.clear();
        if (m_session)
        {
            const auto &frames = m_session->log().frames();
            m_firstSequence = frames.empty() ? 0 : frames.front().sequence;
            for (const Transport::FrameRecord &frame : frames)
                m_types.push_back(frameMessageType(frame));
            m_summaries.resize(m_types.size());
            connect(m_session.get(), &FrameSession::frameRecorded, this, &FrameTableModel::sync);
            // A smaller ring buffer drops frames without a new one.
            connect(m_session.get(), &FrameSession::changed, this, &FrameTableModel::sync);
        }
        endResetModel();
    }

    std::shared_ptr<FrameSession> FrameTableModel::session() const
    {
        return m_session;
    }

    void FrameTableModel::sync()
    {
        const auto &frames = m_session->log().frames();
        // The ring buffer dropped frames from the front.
        if (!m_types.empty())
        {
            const qint64 first = frames.empty() ? (m_firstSequence + std::ssize(m_types)) : frames.front().sequence;
            const int dropped = static_cast<int>(std::min<qint64>(std::ssize(m_types), first - m_firstSequence));
            if (dropped > 0)
            {
                beginRemoveRows({}, 0, dropped - 1);
                m_types.erase(m_types.begin(), m_types.begin() + dropped);
                m_summaries.erase(m_summaries.begin(), m_summaries.begin() + dropped);
                m_firstSequence += dropped;
                endRemoveRows();
            }
        }
        const int have = static_cast<int>(m_types.size());
        const int now = static_cast<int>(frames.size());
        if (now <= have)
            return;
        if (have == 0)
            m_firstSequence = frames.front().sequence;
        beginInsertRows({}, have, now - 1);
        for (int row = have; row < now; ++row)
            m_types.push_back(frameMessageType(frames[static_cast<std::size_t>(row)]));
        m_summaries.resize(m_types.size());
        endInsertRows();
    }

    const Transport::FrameRecord *FrameTableModel::frameAt(const int row) const
    {
        if (!m_session || (row < 0) || (row >= std::ssize(m_types)))
            return nullptr;
        return &m_session->log().frames()[static_cast<std::size_t>(row)];
    }

    QString FrameTableModel::typeAt(const int row) const
    {
        return ((row >= 0) && (row < std::ssize(m_types))) ? m_types[static_cast<std::size_t>(row)] : QString();
    }

    int FrameTableModel::rowCount(const QModelIndex &parent) const
    {
        return parent.isValid() ? 0 : static_cast<int>(m_types.size());
    }

    int FrameTableModel::columnCount(const QModelIndex &parent) const
    {
        return parent.isValid() ? 0 : ColumnCount;
    }

    QVariant FrameTableModel::data(const QModelIndex &index, const int role) const
    {
        const Transport::FrameRecord *frame = frameAt(index.row());
        if (!frame)
            return {};
        if (role == Qt::TextAlignmentRole)
        {
            if ((index.column() == SequenceColumn) || (index.column() == SizeColumn))
                return QVariant(Qt::AlignRight | Qt::AlignVCenter);
            return {};
        }
        if (role == Qt::ToolTipRole && (index.column() == SummaryColumn))
            return data(index, Qt::DisplayRole);
        if (role != Qt::DisplayRole)
            return {};
        switch (index.column())
        {
        case SequenceColumn: return frame->sequence;
        case TimeColumn: return frame->at.toLocalTime().toString(QStringLiteral("HH:mm:ss.zzz"));
        case DirectionColumn: return directionText(frame->direction);
        case KindColumn: return Transport::toString(frame->kind);
        case SizeColumn: return QLocale().toString(frame->payloadBytes);
        case TypeColumn: return m_types[static_cast<std::size_t>(index.row())];
        case SummaryColumn:
        {
            QString &cached = m_summaries[static_cast<std::size_t>(index.row())];
            if (cached.isNull())
                cached = summary(*frame, m_types[static_cast<std::size_t>(index.row())]);
            return cached;
        }
        default: return {};
        }
    }

    QVariant FrameTableModel::headerData(const int section, const Qt::Orientation orientation, const int role) const
    {
        if ((orientation != Qt::Horizontal) || (role != Qt::DisplayRole))
            return {};
        switch (section)
        {
        case SequenceColumn: return tr("#");
        case TimeColumn: return tr("Time");
        case DirectionColumn: return tr("Direction");
        case KindColumn: return tr("Kind");
        case SizeColumn: return tr("Bytes");
        case TypeColumn: return tr("Message");
        case SummaryColumn: return tr("Summary");
        default: return {};
        }
    }

    QString FrameTableModel::summary(const Transport::FrameRecord &frame, const QString &type)
    {
        switch (frame.kind)
        {
        case Transport::FrameKind::Close: return closeSummary(frame);
        case Transport::FrameKind::Ping:
        case Transport::FrameKind::Pong:
            return frame.payload.isEmpty() ? tr("no payload") : shortened(QString::fromUtf8(frame.payload));
        case Transport::FrameKind::Text: break;
        }
        if (type.isEmpty())
            return shortened(QString::fromUtf8(frame.payload));
        const QJsonObject message = QJsonDocument::fromJson(frame.payload).object();
        return shortened(messageSummary(message, type));
    }

    QString FrameTableModel::detail(const Transport::FrameRecord &frame)
    {
        QString text = tr("#%1 · %2 · %3 · %4 · %5 bytes\n")
                           .arg(frame.sequence)
                           .arg(frame.at.toLocalTime().toString(QStringLiteral("yyyy-MM-dd HH:mm:ss.zzz")),
                                directionText(frame.direction), Transport::toString(frame.kind),
                                QLocale().toString(frame.payloadBytes));
        switch (frame.kind)
        {
        case Transport::FrameKind::Close:
            text += tr("\nCode: %1 (%2)\nReason: %3\nClosed by: %4\n")
                        .arg(frame.closeCode)
                        .arg(closeCodeMeaning(frame.closeCode),
                             frame.payload.isEmpty() ? tr("(none)") : QString::fromUtf8(frame.payload),
                             frame.closedByClient ? tr("client (the console sent the first close frame)")
                                                  : tr("server (the gateway sent the first close frame)"));
            return text;
        case Transport::FrameKind::Ping:
        case Transport::FrameKind::Pong:
            text += frame.payload.isEmpty() ? tr("\n(no payload)")
                                            : QStringLiteral("\n%1").arg(QString::fromLatin1(frame.payload.toHex(' ')));
            return text;
        case Transport::FrameKind::Text: break;
        }
        QJsonParseError error{};
        QJsonDocument document = QJsonDocument::fromJson(frame.payload, &error);
        if (error.error != QJsonParseError::NoError)
            return text + QStringLiteral("\n") + QString::fromUtf8(frame.payload);
        QJsonObject message = document.object();
        const QString type = frameMessageType(frame);
        if (type == Protocol::Names::NewCheckpoint)
        {
            // The checkpoint is a JSON string on the wire: shown parsed, as what it holds.
            QJsonObject body = message.value(type).toObject();
            const QJsonObject checkpoint = checkpointObject(body);
            if (!checkpoint.isEmpty())
            {
                body.insert(Protocol::Names::Checkpoint, checkpoint);
                message.insert(type, body);
                text += tr("(checkpoint: a JSON string on the wire, shown parsed)\n");
            }
        }
        return text + QStringLiteral("\n") + QString::fromUtf8(QJsonDocument(message).toJson(QJsonDocument::Indented));
    }

    // ---- FrameFilterProxy ----

    FrameFilterProxy::FrameFilterProxy(QObject *parent)
        : QSortFilterProxyModel(parent)
    {}

    FrameFilterProxy::~FrameFilterProxy() = default;

    void FrameFilterProxy::setDirection(const std::optional<Transport::FrameDirection> direction)
    {
        m_direction = direction;
        refilter();
    }

    void FrameFilterProxy::setMessageType(const QString &type)
    {
        m_type = type;
        refilter();
    }

    void FrameFilterProxy::setSearchText(const QString &text)
    {
        m_search = text.toUtf8();
        refilter();
    }

    void FrameFilterProxy::refilter()
    {
        // One layout change rather than invalidateFilter()'s removal per range:
        // a type filter over 100 000 frames leaves tens of thousands of ranges.
        invalidate();
    }

    bool FrameFilterProxy::filterAcceptsRow(const int sourceRow, const QModelIndex &) const
    {
        const auto *model = static_cast<const FrameTableModel *>(sourceModel());
        const Transport::FrameRecord *frame = model->frameAt(sourceRow);
        if (!frame)
            return false;
        if (m_direction && (frame->direction != *m_direction))
            return false;
        if (!m_type.isEmpty() && (model->typeAt(sourceRow) != m_type))
            return false;
        if (m_search.isEmpty())
            return true;
        // Byte-wise, ASCII case folding: fast over large payloads, exact for UTF-8 text.
        const QLatin1StringView needle(m_search);
        if (QLatin1StringView(frame->payload).contains(needle, Qt::CaseInsensitive))
            return true;
        return (frame->kind == Transport::FrameKind::Close) &&
               closeSummary(*frame).contains(QString::fromUtf8(m_search), Qt::CaseInsensitive);
    }
}  // namespace Lockstep::Ui
