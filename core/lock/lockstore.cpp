#include "lockstore.h"

#include <QCoreApplication>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSysInfo>

#include "lock/memorylockstore.h"
#include "lock/redislockstore.h"

namespace Lockstep::Lock
{
    namespace
    {
        constexpr qsizetype MaxIdLength = 512;
        constexpr std::chrono::milliseconds MaxTtl = std::chrono::hours(24);

        QString checkId(const QString &id, const QString &what)
        {
            if (id.isEmpty())
                return what + QStringLiteral(" is empty");
            if (id.size() > MaxIdLength)
                return what + QStringLiteral(" is longer than %1 characters").arg(MaxIdLength);
            for (const QChar c : id)
            {
                if (c.category() == QChar::Other_Control)
                    return what + QStringLiteral(" contains a control character");
            }
            return {};
        }

        QString defaultReplicaId()
        {
            return QSysInfo::machineHostName() + u':' + QString::number(QCoreApplication::applicationPid());
        }

        LockOptions withDefaults(LockOptions options)
        {
            if (options.replicaId.isEmpty())
                options.replicaId = defaultReplicaId();
            return options;
        }

        LockError invalid(const QString &message)
        {
            return {.kind = LockError::Kind::InvalidArgument, .message = message};
        }
    }  // namespace

    QString errorKindName(LockError::Kind kind)
    {
        switch (kind)
        {
        case LockError::Kind::Unavailable: return QStringLiteral("unavailable");
        case LockError::Kind::Timeout: return QStringLiteral("timeout");
        case LockError::Kind::InvalidArgument: return QStringLiteral("invalid argument");
        case LockError::Kind::StoreError: return QStringLiteral("store error");
        }
        return QStringLiteral("unknown");
    }

    QByteArray encodeLockValue(const QString &replica, const QString &session, qint64 fence)
    {
        // Same key order as the Redis acquire script builds (fence, replica, session).
        const QJsonObject object{
            {QStringLiteral("fence"), fence},
            {QStringLiteral("replica"), replica},
            {QStringLiteral("session"), session},
        };
        return QJsonDocument(object).toJson(QJsonDocument::Compact);
    }

    LockHolder decodeLockValue(const QByteArray &value)
    {
        LockHolder holder{.value = value};
        QJsonParseError error{};
        const QJsonDocument document = QJsonDocument::fromJson(value, &error);
        if (error.error != QJsonParseError::NoError || !document.isObject())
            return holder;
        const QJsonObject object = document.object();
        const QJsonValue fence = object.value(QStringLiteral("fence"));
        const QJsonValue replica = object.value(QStringLiteral("replica"));
        const QJsonValue session = object.value(QStringLiteral("session"));
        if (!fence.isDouble() || !replica.isString() || !session.isString())
            return holder;
        holder.fence = fence.toInteger();
        holder.replica = replica.toString();
        holder.session = session.toString();
        holder.parsed = true;
        return holder;
    }

    QString checkWorkflowId(const QString &workflowId)
    {
        return checkId(workflowId, QStringLiteral("workflow id"));
    }

    QString checkSessionId(const QString &sessionId)
    {
        return checkId(sessionId, QStringLiteral("session id"));
    }

    QString checkTtl(std::chrono::milliseconds ttl)
    {
        if (ttl.count() < 1 || ttl > MaxTtl)
            return QStringLiteral("lock TTL must be between 1 ms and 24 h (got %1 ms)").arg(ttl.count());
        return {};
    }

    LockStore::LockStore(LockOptions options, QObject *parent)
        : QObject(parent)
        , m_options(withDefaults(std::move(options)))
    {}

    LockStore::~LockStore() = default;

    const LockOptions &LockStore::options() const
    {
        return m_options;
    }

    void LockStore::acquire(const QString &workflowId, const QString &sessionId, std::chrono::milliseconds ttl,
                            QObject *context, LockCallback<AcquireResult> done)
    {
        Completion<AcquireResult> completion(context, std::move(done));
        QString problem = checkWorkflowId(workflowId);
        if (problem.isEmpty())
            problem = checkSessionId(sessionId);
        if (problem.isEmpty())
            problem = checkTtl(ttl);
        if (!problem.isEmpty())
            return answerLater<AcquireResult>(std::move(completion), unexpected(invalid(problem)));
        doAcquire(workflowId, sessionId, ttl, std::move(completion));
    }

    void LockStore::refresh(const QString &workflowId, const QByteArray &value, std::chrono::milliseconds ttl,
                            QObject *context, LockCallback<bool> done)
    {
        Completion<bool> completion(context, std::move(done));
        QString problem = checkWorkflowId(workflowId);
        if (problem.isEmpty() && value.isEmpty())
            problem = QStringLiteral("lock value is empty");
        if (problem.isEmpty())
            problem = checkTtl(ttl);
        if (!problem.isEmpty())
            return answerLater<bool>(std::move(completion), unexpected(invalid(problem)));
        doRefresh(workflowId, value, ttl, std::move(completion));
    }

    void LockStore::release(const QString &workflowId, const QByteArray &value, QObject *context,
                            LockCallback<bool> done)
    {
        Completion<bool> completion(context, std::move(done));
        QString problem = checkWorkflowId(workflowId);
        if (problem.isEmpty() && value.isEmpty())
            problem = QStringLiteral("lock value is empty");
        if (!problem.isEmpty())
            return answerLater<bool>(std::move(completion), unexpected(invalid(problem)));
        doRelease(workflowId, value, std::move(completion));
    }

    void LockStore::peek(const QString &workflowId, QObject *context, LockCallback<LockSnapshot> done)
    {
        Completion<LockSnapshot> completion(context, std::move(done));
        const QString problem = checkWorkflowId(workflowId);
        if (!problem.isEmpty())
            return answerLater<LockSnapshot>(std::move(completion), unexpected(invalid(problem)));
        doPeek(workflowId, std::move(completion));
    }

    void LockStore::raiseFence(const QString &workflowId, const QByteArray &value, const qint64 floor, QObject *context,
                               LockCallback<std::optional<LockHolder>> done)
    {
        Completion<std::optional<LockHolder>> completion(context, std::move(done));
        QString problem = checkWorkflowId(workflowId);
        if (problem.isEmpty() && value.isEmpty())
            problem = QStringLiteral("lock value is empty");
        if (problem.isEmpty() && floor < 0)
            problem = QStringLiteral("fence floor is negative");
        if (!problem.isEmpty())
            return answerLater<std::optional<LockHolder>>(std::move(completion), unexpected(invalid(problem)));
        doRaiseFence(workflowId, value, floor, std::move(completion));
    }

    void LockStore::ping(QObject *context, LockCallback<Ok> done)
    {
        doPing(Completion<Ok>(context, std::move(done)));
    }

    LockKeeper *LockStore::keeper()
    {
        return nullptr;
    }

    QByteArray LockStore::lockKey(const QString &workflowId) const
    {
        return (m_options.keyPrefix + QStringLiteral("lock:") + workflowId).toUtf8();
    }

    QByteArray LockStore::fenceKey(const QString &workflowId) const
    {
        return (m_options.keyPrefix + QStringLiteral("fence:") + workflowId).toUtf8();
    }

    Result<std::unique_ptr<LockStore>, LockError> createLockStore(const QString &redisUrl, const LockOptions &options)
    {
        if (options.callTimeout.count() < 1)
            return unexpected(invalid(QStringLiteral("lock store call timeout must be positive")));
        if (const QString problem = checkTtl(options.ttl); !problem.isEmpty())
            return unexpected(invalid(problem));
        if (redisUrl.isEmpty())
            return std::unique_ptr<LockStore>(std::make_unique<MemoryLockStore>(options));
        auto endpoint = parseRedisUrl(redisUrl);
        if (!endpoint)
            return unexpected(std::move(endpoint).error());
        return std::unique_ptr<LockStore>(std::make_unique<RedisLockStore>(std::move(endpoint).value(), options));
    }
}  // namespace Lockstep::Lock
