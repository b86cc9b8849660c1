#include "agenttoken.h"

#include <QCryptographicHash>
#include <QFile>

namespace Lockstep::Workspace
{
    namespace
    {
        constexpr qsizetype MinTokenLength = 8;
        constexpr qsizetype MaxTokenLength = 4096;
        constexpr qint64 MaxFileBytes = 1024 * 1024;

        QByteArray digest(const QByteArrayView token)
        {
            return QCryptographicHash::hash(token, QCryptographicHash::Sha256);
        }

        // Both digests have the same length; the loop never exits early.
        bool sameDigest(const QByteArray &a, const QByteArray &b)
        {
            if (a.size() != b.size())
                return false;
            unsigned char difference = 0;
            for (qsizetype i = 0; i < a.size(); ++i)
                difference |= static_cast<unsigned char>(a.at(i) ^ b.at(i));
            return difference == 0;
        }
    } // namespace

    bool AgentTokens::isValidToken(const QByteArrayView token)
    {
        if (token.size() < MinTokenLength || token.size() > MaxTokenLength)
            return false;
        for (const char c : token)
        {
            const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'
                            || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' || c == '=';
            if (!ok)
                return false;
        }
        return true;
    }

    Result<AgentTokens, QString> AgentTokens::fromTokens(const QList<QByteArray> &tokens)
    {
        if (tokens.isEmpty())
            return unexpected(QStringLiteral("no token"));
        AgentTokens result;
        for (const QByteArray &token : tokens)
        {
            if (!isValidToken(token))
                return unexpected(QStringLiteral("a token must be 8 to 4096 characters of [A-Za-z0-9-._~+/=]"));
            result.m_digests.append(digest(token));
        }
        result.m_first = tokens.constFirst();
        return result;
    }

    Result<AgentTokens, QString> AgentTokens::loadFile(const QString &path)
    {
        QFile file(path);
        if (!file.open(QIODevice::ReadOnly))
            return unexpected(QStringLiteral("cannot read '%1': %2").arg(path, file.errorString()));
        if (file.size() > MaxFileBytes)
            return unexpected(QStringLiteral("'%1' is larger than 1 MiB").arg(path));
        const QByteArray content = file.readAll();
        QList<QByteArray> tokens;
        int lineNumber = 0;
        for (const QByteArray &rawLine : content.split('\n'))
        {
            ++lineNumber;
            const QByteArray line = rawLine.trimmed();
            if (line.isEmpty() || line.startsWith('#'))
                continue;
            if (!isValidToken(line))
                return unexpected(QStringLiteral("'%1' line %2 is not a valid token (8 to 4096 characters of [A-Za-z0-9-._~+/=])")
                                      .arg(path).arg(lineNumber));
            tokens.append(line);
        }
        if (tokens.isEmpty())
            return unexpected(QStringLiteral("'%1' holds no token").arg(path));
        return fromTokens(tokens);
    }

    bool AgentTokens::accepts(const QByteArrayView candidate) const
    {
        if (candidate.isEmpty())
            return false;
        const QByteArray wanted = digest(candidate);
        bool accepted = false;
        for (const QByteArray &known : m_digests)
            accepted = sameDigest(known, wanted) || accepted;   // no early exit
        return accepted;
    }

    QByteArray AgentTokens::first() const
    {
        return m_first;
    }
} // namespace Lockstep::Workspace
