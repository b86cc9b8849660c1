#pragma once

#include <chrono>
#include <functional>
#include <optional>

#include <QHash>
#include <QList>
#include <QObject>
#include <QPointer>
#include <QString>

class QSettings;

namespace Lockstep::Ui
{
    // Where a profile's bearer token lives. Never in the settings file unless
    // the user chose PlainText explicitly.
    enum class TokenStorage
    {
        Keychain,     // the system keychain (Secret Service, Keychain, Credential Manager)
        SessionOnly,  // memory of this run only
        PlainText,    // opt-in: the settings file, readable by anyone who can read it
    };
    QString toString(TokenStorage storage);  // "keychain", "session", "plaintext"
    TokenStorage tokenStorageFromString(const QString &text);

    // A gateway profile as kept with QSettings (without its token).
    struct GatewayProfile
    {
        QString name;
        QString url;  // ws[s]:// or http[s]:// host:port
        QString caFile;
        bool verifyTls = true;
        TokenStorage tokenStorage = TokenStorage::Keychain;

        bool operator==(const GatewayProfile &) const = default;
    };

    // Profiles in a QSettings (group "profiles", one subgroup per profile).
    class ProfileStore
    {
    public:
        explicit ProfileStore(QSettings *settings);

        QList<GatewayProfile> profiles() const;
        std::optional<GatewayProfile> profile(const QString &name) const;
        void save(const GatewayProfile &profile);
        void remove(const QString &name);
        QString lastUsed() const;
        void setLastUsed(const QString &name);

        // Only for TokenStorage::PlainText profiles.
        QString plainTextToken(const QString &name) const;
        void setPlainTextToken(const QString &name, const QString &token);
        void clearPlainTextToken(const QString &name);

        QString fileName() const;

    private:
        QString group(const QString &name) const;

        QSettings *m_settings;
    };

    // The outcome of one keychain operation.
    struct KeychainResult
    {
        enum class Status
        {
            Ok,
            NotFound,     // read: no token stored for this profile
            Unavailable,  // no Secret Service / no backend / locked or access refused
            Failed,       // anything else
        };
        Status status = Status::Failed;
        QString token;   // read: the token
        QString detail;  // the backend's own words, for the message
        int attempts = 0;

        // A sentence for the user: "The system keychain is unavailable (…)".
        QString message() const;
    };

    // Tokens in the system keychain through QtKeychain. QtKeychain 0.13 reports
    // a missing Secret Service as OtherError as often as NoBackendAvailable, so
    // both (and access refusals) count as "unavailable". A transient error is
    // retried once after a short delay, as the Nextcloud client does (the
    // backend may still be starting at login). Each attempt has a watchdog.
    class TokenVault final : public QObject
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(TokenVault)

    public:
        using Done = std::function<void(const KeychainResult &)>;

        explicit TokenVault(QString service = QStringLiteral("lockstep"), QObject *parent = nullptr);

        void setRetryDelay(std::chrono::milliseconds delay);
        void setAttemptTimeout(std::chrono::milliseconds timeout);

        void readToken(const QString &profile, QObject *context, Done done);
        void writeToken(const QString &profile, const QString &token, QObject *context, Done done);
        void deleteToken(const QString &profile, QObject *context, Done done);

        static QString keyFor(const QString &profile);

    private:
        enum class Operation
        {
            Read,
            Write,
            Delete,
        };
        void run(Operation operation, const QString &profile, const QString &token, QObject *context, Done done,
                 int attempt);

        QString m_service;
        std::chrono::milliseconds m_retryDelay{1500};
        std::chrono::milliseconds m_attemptTimeout{10000};
    };

    // Where a token came from.
    enum class TokenSource
    {
        None,
        Session,
        Keychain,
        PlainText,
    };

    struct TokenLookup
    {
        QString token;
        TokenSource source = TokenSource::None;
        QString message;  // set when the keychain could not be used
    };

    struct SaveResult
    {
        bool keychainUnavailable = false;
        TokenStorage storedIn = TokenStorage::SessionOnly;  // where the token ended up
        QString message;                                    // for the status label of the profile dialog
    };

    // Profiles plus their tokens: the keychain first, the session memory when
    // the keychain is unavailable, the settings file only on the opt-in.
    class ProfileManager final : public QObject
    {
        Q_OBJECT
        Q_DISABLE_COPY_MOVE(ProfileManager)

    public:
        ProfileManager(QSettings *settings, TokenVault *vault, QObject *parent = nullptr);

        ProfileStore &store();
        TokenVault *vault() const;

        // Saves the profile; `token` empty keeps the stored one (if any).
        // `done` runs later, never from inside this call.
        void saveProfile(const GatewayProfile &profile, const QString &token,
                         std::function<void(const SaveResult &)> done);
        void removeProfile(const QString &name);
        // The session memory, then the keychain or plain text per the profile.
        void lookUpToken(const GatewayProfile &profile, std::function<void(const TokenLookup &)> done);
        // For this run only (e.g. typed at a prompt).
        void rememberForSession(const QString &profile, const QString &token);
        QString sessionToken(const QString &profile) const;

    private:
        ProfileStore m_store;
        TokenVault *m_vault;
        QHash<QString, QString> m_sessionTokens;
    };
}  // namespace Lockstep::Ui

Q_DECLARE_METATYPE(Lockstep::Ui::SaveResult)
