#include "profiles.h"

#include <algorithm>
#include <memory>

#include <QPointer>
#include <QSettings>
#include <QTimer>

#include <qt6keychain/keychain.h>

#include "common/logging.h"

namespace Lockstep::Ui
{
    namespace
    {
        const QString ProfilesGroup = QStringLiteral("profiles");
    }  // namespace

    QString toString(const TokenStorage storage)
    {
        switch (storage)
        {
        case TokenStorage::Keychain: return QStringLiteral("keychain");
        case TokenStorage::SessionOnly: return QStringLiteral("session");
        case TokenStorage::PlainText: return QStringLiteral("plaintext");
        }
        return QStringLiteral("keychain");
    }

    TokenStorage tokenStorageFromString(const QString &text)
    {
        if (text == u"session")
            return TokenStorage::SessionOnly;
        if (text == u"plaintext")
            return TokenStorage::PlainText;
        return TokenStorage::Keychain;
    }

    // ---- ProfileStore ----

    ProfileStore::ProfileStore(QSettings *settings)
        : m_settings(settings)
    {}

    QString ProfileStore::group(const QString &name) const
    {
        // Any profile name is safe as a settings key this way (slashes, spaces, …).
        return ProfilesGroup + u'/' +
               QString::fromLatin1(
                   name.toUtf8().toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals));
    }

    QList<GatewayProfile> ProfileStore::profiles() const
    {
        QList<GatewayProfile> result;
        m_settings->beginGroup(ProfilesGroup);
        const QStringList groups = m_settings->childGroups();
        m_settings->endGroup();
        for (const QString &key : groups)
        {
            const QString name =
                QString::fromUtf8(QByteArray::fromBase64(key.toLatin1(), QByteArray::Base64UrlEncoding));
            if (auto p = profile(name))
                result.append(*p);
        }
        std::sort(result.begin(), result.end(), [](const GatewayProfile &a, const GatewayProfile &b) {
            return a.name.localeAwareCompare(b.name) < 0;
        });
        return result;
    }

    std::optional<GatewayProfile> ProfileStore::profile(const QString &name) const
    {
        if (name.isEmpty())
            return std::nullopt;
        m_settings->beginGroup(group(name));
        const bool exists = m_settings->contains(QStringLiteral("url"));
        GatewayProfile profile;
        profile.name = name;
        profile.url = m_settings->value(QStringLiteral("url")).toString();
        profile.caFile = m_settings->value(QStringLiteral("caFile")).toString();
        profile.verifyTls = m_settings->value(QStringLiteral("verifyTls"), true).toBool();
        profile.tokenStorage = tokenStorageFromString(m_settings->value(QStringLiteral("tokenStorage")).toString());
        m_settings->endGroup();
        if (!exists)
            return std::nullopt;
        return profile;
    }

    void ProfileStore::save(const GatewayProfile &profile)
    {
        m_settings->beginGroup(group(profile.name));
        m_settings->setValue(QStringLiteral("name"), profile.name);
        m_settings->setValue(QStringLiteral("url"), profile.url);
        m_settings->setValue(QStringLiteral("caFile"), profile.caFile);
        m_settings->setValue(QStringLiteral("verifyTls"), profile.verifyTls);
        m_settings->setValue(QStringLiteral("tokenStorage"), toString(profile.tokenStorage));
        if (profile.tokenStorage != TokenStorage::PlainText)
            m_settings->remove(QStringLiteral("plainTextToken"));
        m_settings->endGroup();
        m_settings->sync();
    }

    void ProfileStore::remove(const QString &name)
    {
        m_settings->remove(group(name));
        if (lastUsed() == name)
            m_settings->remove(QStringLiteral("lastProfile"));
        m_settings->sync();
    }

    QString ProfileStore::lastUsed() const
    {
        return m_settings->value(QStringLiteral("lastProfile")).toString();
    }

    void ProfileStore::setLastUsed(const QString &name)
    {
        m_settings->setValue(QStringLiteral("lastProfile"), name);
        m_settings->sync();
    }

    QString ProfileStore::plainTextToken(const QString &name) const
    {
        return m_settings->value(group(name) + QStringLiteral("/plainTextToken")).toString();
    }

    void ProfileStore::setPlainTextToken(const QString &name, const QString &token)
    {
        m_settings->setValue(group(name) + QStringLiteral("/plainTextToken"), token);
        m_settings->sync();
    }

    void ProfileStore::clearPlainTextToken(const QString &name)
    {
        m_settings->remove(group(name) + QStringLiteral("/plainTextToken"));
        m_settings->sync();
    }

    QString ProfileStore::fileName() const
    {
        return m_settings->fileName();
    }

    // ---- KeychainResult ----

    QString KeychainResult::message() const
    {
        switch (status)
        {
        case Status::Ok: return QStringLiteral("The token is in the system keychain.");
        case Status::NotFound: return QStringLiteral("The system keychain holds no token for this profile.");
        case Status::Unavailable:
            return detail.isEmpty() ? QStringLiteral("The system keychain is unavailable.")
                                    : QStringLiteral("The system keychain is unavailable (%1).").arg(detail);
        case Status::Failed:
            return detail.isEmpty() ? QStringLiteral("The system keychain failed.")
                                    : QStringLiteral("The system keychain failed (%1).").arg(detail);
        }
        return {};
    }

    // ---- TokenVault ----

    TokenVault::TokenVault(QString service, QObject *parent)
        : QObject(parent)
        , m_service(std::move(service))
    {}

    void TokenVault::setRetryDelay(const std::chrono::milliseconds delay)
    {
        m_retryDelay = delay;
    }

    void TokenVault::setAttemptTimeout(const std::chrono::milliseconds timeout)
    {
        m_attemptTimeout = timeout;
    }

    QString TokenVault::keyFor(const QString &profile)
    {
        return QStringLiteral("gateway-profile:") + profile;
    }

    void TokenVault::readToken(const QString &profile, QObject *context, Done done)
    {
        run(Operation::Read, profile, {}, context, std::move(done), 1);
    }

    void TokenVault::writeToken(const QString &profile, const QString &token, QObject *context, Done done)
    {
        run(Operation::Write, profile, token, context, std::move(done), 1);
    }

    void TokenVault::deleteToken(const QString &profile, QObject *context, Done done)
    {
        run(Operation::Delete, profile, {}, context, std::move(done), 1);
    }

    void TokenVault::run(const Operation operation, const QString &profile, const QString &token, QObject *context,
                         Done done, const int attempt)
    {
        QKeychain::Job *job = nullptr;
        switch (operation)
        {
        case Operation::Read: job = new QKeychain::ReadPasswordJob(m_service); break;
        case Operation::Write:
        {
            auto *write = new QKeychain::WritePasswordJob(m_service);
            write->setTextData(token);
            job = write;
            break;
        }
        case Operation::Delete: job = new QKeychain::DeletePasswordJob(m_service); break;
        }
        job->setAutoDelete(true);
        // Never QtKeychain's own plain-text fallback: the opt-in is ours and explicit.
        job->setInsecureFallback(false);
        job->setKey(keyFor(profile));

        const bool guarded = (context != nullptr);
        QPointer<QObject> guard(context);
        auto settled = std::make_shared<bool>(false);
        auto *watchdog = new QTimer(this);
        watchdog->setSingleShot(true);

        const auto deliver = [guard, guarded, done](const KeychainResult &result) {
            if (guarded && !guard)
                return;
            done(result);
        };

        connect(watchdog, &QTimer::timeout, this, [this, settled, watchdog, deliver, attempt] {
            watchdog->deleteLater();
            if (*settled)
                return;
            *settled = true;
            qCWarning(lcUi) << "the keychain did not answer within" << m_attemptTimeout.count() << "ms";
            deliver(
                KeychainResult{.status = KeychainResult::Status::Unavailable,
                               .detail = QStringLiteral("no answer within %1 s").arg(m_attemptTimeout.count() / 1000),
                               .attempts = attempt});
        });
        connect(job, &QKeychain::Job::finished, this,
                [this, settled, watchdog, deliver, operation, profile, token, context, done, attempt, guard,
                 guarded](QKeychain::Job *finished) {
                    if (*settled)
                        return;
                    *settled = true;
                    watchdog->stop();
                    watchdog->deleteLater();
                    KeychainResult result;
                    result.attempts = attempt;
                    result.detail = finished->errorString();
                    switch (finished->error())
                    {
                    case QKeychain::NoError:
                        result.status = KeychainResult::Status::Ok;
                        result.detail.clear();
                        if (operation == Operation::Read)
                            result.token = static_cast<QKeychain::ReadPasswordJob *>(finished)->textData();
                        break;
                    case QKeychain::EntryNotFound:
                        result.status = (operation == Operation::Delete) ? KeychainResult::Status::Ok
                                                                         : KeychainResult::Status::NotFound;
                        break;
                    case QKeychain::NoBackendAvailable:
                    case QKeychain::OtherError:
                    case QKeychain::NotImplemented:
                        // Maybe the backend is still starting (login): one more try, later.
                        if ((attempt == 1) && (finished->error() != QKeychain::NotImplemented))
                        {
                            qCInfo(lcUi).noquote()
                                << "keychain unavailable (" << finished->errorString() << "), retrying once";
                            QTimer::singleShot(m_retryDelay, this,
                                               [this, operation, profile, token, context, done, guard, guarded] {
                                                   if (guarded && !guard)
                                                       return;
                                                   run(operation, profile, token, context, done, 2);
                                               });
                            return;
                        }
                        result.status = KeychainResult::Status::Unavailable;
                        break;
                    case QKeychain::AccessDenied:
                    case QKeychain::AccessDeniedByUser:
                        // A locked collection without a prompt, or a refusal: unusable now.
                        result.status = KeychainResult::Status::Unavailable;
                        break;
                    case QKeychain::CouldNotDeleteEntry: result.status = KeychainResult::Status::Failed; break;
                    }
                    if (result.status == KeychainResult::Status::Unavailable)
                        qCWarning(lcUi).noquote() << "keychain unavailable:" << result.detail;
                    deliver(result);
                });
        watchdog->start(m_attemptTimeout);
        job->start();
    }

    // ---- ProfileManager ----

    ProfileManager::ProfileManager(QSettings *settings, TokenVault *vault, QObject *parent)
        : QObject(parent)
        , m_store(settings)
        , m_vault(vault)
    {}

    ProfileStore &ProfileManager::store()
    {
        return m_store;
    }

    TokenVault *ProfileManager::vault() const
    {
        return m_vault;
    }

    void ProfileManager::rememberForSession(const QString &profile, const QString &token)
    {
        if (token.isEmpty())
            m_sessionTokens.remove(profile);
        else
            m_sessionTokens.insert(profile, token);
    }

    QString ProfileManager::sessionToken(const QString &profile) const
    {
        return m_sessionTokens.value(profile);
    }

    void ProfileManager::saveProfile(const GatewayProfile &profile, const QString &givenToken,
                                     std::function<void(const SaveResult &)> finished)
    {
        // Always answers later, never from inside this call (the keychain path is asynchronous anyway).
        const auto done = [this, finished](const SaveResult &result) {
            QMetaObject::invokeMethod(
                this, [finished, result] { finished(result); }, Qt::QueuedConnection);
        };
        const std::optional<GatewayProfile> previous = m_store.profile(profile.name);
        m_store.save(profile);
        QString token = givenToken.isEmpty() ? m_sessionTokens.value(profile.name) : givenToken;
        if (!givenToken.isEmpty())
            m_sessionTokens.insert(profile.name, givenToken);
        // Leaving the keychain: do not leave the old token behind there.
        if (previous && (previous->tokenStorage == TokenStorage::Keychain) &&
            (profile.tokenStorage != TokenStorage::Keychain))
            m_vault->deleteToken(profile.name, this, [](const KeychainResult &) {});

        switch (profile.tokenStorage)
        {
        case TokenStorage::PlainText:
            if (token.isEmpty())
                token = m_store.plainTextToken(profile.name);
            if (!token.isEmpty())
                m_store.setPlainTextToken(profile.name, token);
            done(SaveResult{.storedIn = TokenStorage::PlainText,
                            .message = QStringLiteral("Saved. As you chose, the token is stored in plain text in %1.")
                                           .arg(m_store.fileName())});
            return;
        case TokenStorage::SessionOnly:
            m_store.clearPlainTextToken(profile.name);
            done(SaveResult{.storedIn = TokenStorage::SessionOnly,
                            .message = QStringLiteral("Saved. The token is kept for this session only.")});
            return;
        case TokenStorage::Keychain: m_store.clearPlainTextToken(profile.name); break;
        }
        if (givenToken.isEmpty())
        {
            done(SaveResult{.storedIn = TokenStorage::Keychain, .message = QStringLiteral("Saved.")});
            return;
        }
        m_vault->writeToken(profile.name, givenToken, this, [done](const KeychainResult &result) {
            if (result.status == KeychainResult::Status::Ok)
            {
                done(SaveResult{.storedIn = TokenStorage::Keychain,
                                .message = QStringLiteral("Saved. The token is in the system keychain.")});
                return;
            }
            done(SaveResult{
                .keychainUnavailable = true,
                .storedIn = TokenStorage::SessionOnly,
                .message =
                    QStringLiteral("Saved, but %1 The token is kept for this session only and was not written "
                                   "to disk. To keep it across restarts, choose \u201cplain text in the settings "
                                   "file\u201d (not recommended).")
                        .arg(result.message().replace(0, 1, result.message().at(0).toLower())),
            });
        });
    }

    void ProfileManager::removeProfile(const QString &name)
    {
        const std::optional<GatewayProfile> profile = m_store.profile(name);
        m_store.remove(name);
        m_sessionTokens.remove(name);
        if (profile && (profile->tokenStorage == TokenStorage::Keychain))
            m_vault->deleteToken(name, this, [](const KeychainResult &) {});
    }

    void ProfileManager::lookUpToken(const GatewayProfile &profile, std::function<void(const TokenLookup &)> done)
    {
        const QString session = m_sessionTokens.value(profile.name);
        if (!session.isEmpty())
        {
            done(TokenLookup{.token = session, .source = TokenSource::Session});
            return;
        }
        switch (profile.tokenStorage)
        {
        case TokenStorage::SessionOnly: done(TokenLookup{}); return;
        case TokenStorage::PlainText:
        {
            const QString token = m_store.plainTextToken(profile.name);
            done(TokenLookup{.token = token, .source = token.isEmpty() ? TokenSource::None : TokenSource::PlainText});
            return;
        }
        case TokenStorage::Keychain: break;
        }
        const QString name = profile.name;
        m_vault->readToken(name, this, [this, name, done](const KeychainResult &result) {
            switch (result.status)
            {
            case KeychainResult::Status::Ok:
                m_sessionTokens.insert(name, result.token);
                done(TokenLookup{.token = result.token, .source = TokenSource::Keychain});
                return;
            case KeychainResult::Status::NotFound: done(TokenLookup{}); return;
            case KeychainResult::Status::Unavailable:
            case KeychainResult::Status::Failed: done(TokenLookup{.message = result.message()}); return;
            }
        });
    }
}  // namespace Lockstep::Ui
