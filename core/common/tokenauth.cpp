#include "tokenauth.h"

#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QRandomGenerator>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "common/privatefiles.h"

namespace Lockstep
{
    namespace
    {
        constexpr qint64 MaxTokenFileBytes = 1024 * 1024;
        constexpr QFileDevice::Permissions OwnerOnly = QFileDevice::ReadOwner | QFileDevice::WriteOwner;

        QByteArray digest(QByteArrayView token)
        {
            return QCryptographicHash::hash(token, QCryptographicHash::Sha256);
        }

        bool isTokenCharacter(const char c)
        {
            return ((c >= 'a') && (c <= 'z')) || ((c >= 'A') && (c <= 'Z')) || ((c >= '0') && (c <= '9')) ||
                   (c == '-') || (c == '.') || (c == '_') || (c == '~') || (c == '+') || (c == '/') || (c == '=');
        }

        QByteArray randomToken()
        {
            QByteArray bytes(32, Qt::Uninitialized);
            if (RAND_bytes(reinterpret_cast<unsigned char *>(bytes.data()), int(bytes.size())) != 1)
            {
                // OpenSSL's generator failed (no entropy source?): the OS generator is as good.
                QRandomGenerator::system()->generate(bytes.begin(), bytes.end());
            }
            return bytes.toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals);
        }
    }  // namespace

    Result<QList<QByteArray>, QString> readTokenFile(const QString &path)
    {
        QFile file(path);
        if (!file.open(QIODevice::ReadOnly))
            return unexpected(QStringLiteral("cannot read token file %1: %2").arg(path, file.errorString()));
        if (file.size() > MaxTokenFileBytes)
            return unexpected(QStringLiteral("token file %1 is larger than 1 MiB").arg(path));
        const QByteArray content = file.readAll();
        QList<QByteArray> tokens;
        int lineNumber = 0;
        for (const QByteArray &rawLine : content.split('\n'))
        {
            ++lineNumber;
            const QByteArray line = rawLine.trimmed();
            if (line.isEmpty() || line.startsWith('#'))
                continue;
            if (!TokenSet::isValidToken(line))
                return unexpected(
                    QStringLiteral("token file %1, line %2: a token is 8 to 4096 characters of [A-Za-z0-9-._~+/=]")
                        .arg(path)
                        .arg(lineNumber));
            tokens << line;
        }
        if (tokens.isEmpty())
            return unexpected(QStringLiteral("token file %1 holds no token").arg(path));
        return tokens;
    }

    bool TokenSet::isValidToken(const QByteArrayView token)
    {
        if ((token.size() < 8) || (token.size() > 4096))
            return false;
        for (const char c : token)
        {
            if (!isTokenCharacter(c))
                return false;
        }
        return true;
    }

    TokenSet TokenSet::fromTokens(const QList<QByteArray> &tokens)
    {
        TokenSet set;
        for (const QByteArray &token : tokens)
            set.m_digests << digest(token);
        return set;
    }

    Result<TokenSet, QString> TokenSet::loadFile(const QString &path)
    {
        auto tokens = readTokenFile(path);
        if (!tokens)
            return unexpected(tokens.error());
        return fromTokens(*tokens);
    }

    Result<TokenSet, QString> TokenSet::ensureGenerated(const QString &dataDir, QString *path)
    {
        if (!PrivateFiles::makePath(dataDir))
            return unexpected(QStringLiteral("cannot create data folder %1").arg(dataDir));
        const QString filePath = QDir(dataDir).filePath(GeneratedTokenFileName);
        if (path)
            *path = filePath;

        const QFileInfo existing(filePath);
        if (existing.exists())
        {
            // Group or world bits set: someone may have read it, make a new one.
            const bool isPrivate =
                (existing.permissions() & ~(OwnerOnly | QFileDevice::ReadUser | QFileDevice::WriteUser)) == 0;
            if (isPrivate && existing.isFile())
            {
                if (auto tokens = readTokenFile(filePath); tokens && (tokens->size() == 1))
                    return fromTokens(*tokens);
            }
            if (!QFile::remove(filePath))
                return unexpected(QStringLiteral("cannot replace token file %1").arg(filePath));
        }

        // Created with mode 0600 from the start, then moved into place, so the
        // token is never readable by others, not even for a moment.
        const QString temporary = filePath + u".new";
        QFile::remove(temporary);
        QFile file(temporary);
        if (!file.open(QIODevice::WriteOnly | QIODevice::NewOnly, OwnerOnly))
            return unexpected(QStringLiteral("cannot write token file %1: %2").arg(temporary, file.errorString()));
        const QByteArray token = randomToken();
        const bool written = (file.write(token + '\n') == token.size() + 1) && file.flush();
        file.close();
        if (!written || !QFile::rename(temporary, filePath))
        {
            QFile::remove(temporary);
            return unexpected(QStringLiteral("cannot write token file %1").arg(filePath));
        }
        return fromTokens({token});
    }

    bool TokenSet::accepts(const QByteArrayView candidate) const
    {
        if (candidate.isEmpty() || (candidate.size() > 4096))
            return false;
        const QByteArray candidateDigest = digest(candidate);
        // Every digest is compared, whatever matched, so the time does not say which.
        int matches = 0;
        for (const QByteArray &known : m_digests)
            matches |= int(CRYPTO_memcmp(known.constData(), candidateDigest.constData(), size_t(known.size())) == 0);
        return matches != 0;
    }

    int TokenSet::size() const
    {
        return int(m_digests.size());
    }

    QByteArray presentedToken(const QByteArrayView authorizationHeader, const QByteArrayView subprotocolHeader)
    {
        const QByteArray authorization = authorizationHeader.trimmed().toByteArray();
        constexpr QByteArrayView scheme{"bearer "};
        if ((authorization.size() > scheme.size()) &&
            (authorization.left(scheme.size()).toLower() == scheme.toByteArray()))
            return authorization.mid(scheme.size()).trimmed();

        for (const QByteArray &entry : subprotocolHeader.toByteArray().split(','))
        {
            const QByteArray trimmed = entry.trimmed();
            if (trimmed.startsWith(BearerSubprotocolPrefix) && (trimmed.size() > BearerSubprotocolPrefix.size()))
                return trimmed.mid(BearerSubprotocolPrefix.size());
        }
        return {};
    }
}  // namespace Lockstep
