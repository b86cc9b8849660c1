#include "agenttoken.h"

#include <QRandomGenerator>

namespace Lockstep::Workspace
{
    QByteArray generateAgentSecret()
    {
        QByteArray bytes(32, Qt::Uninitialized);
        QRandomGenerator::system()->fillRange(reinterpret_cast<quint32 *>(bytes.data()), bytes.size() / 4);
        return bytes.toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals);
    }

    bool AgentTokens::isValidToken(const QByteArrayView token)
    {
        return TokenSet::isValidToken(token);
    }

    Result<AgentTokens, QString> AgentTokens::fromTokens(const QList<QByteArray> &tokens)
    {
        if (tokens.isEmpty())
            return unexpected(QStringLiteral("no token"));
        for (const QByteArray &token : tokens)
        {
            if (!isValidToken(token))
                return unexpected(QStringLiteral("a token must be 8 to 4096 characters of [A-Za-z0-9-._~+/=]"));
        }
        AgentTokens result;
        result.m_accepted = TokenSet::fromTokens(tokens);
        result.m_first = tokens.constFirst();
        return result;
    }

    Result<AgentTokens, QString> AgentTokens::loadFile(const QString &path)
    {
        auto tokens = readTokenFile(path);
        if (!tokens)
            return unexpected(std::move(tokens).error());
        return fromTokens(*tokens);
    }

    bool AgentTokens::accepts(const QByteArrayView candidate) const
    {
        return m_accepted.accepts(candidate);
    }

    QByteArray AgentTokens::first() const
    {
        return m_first;
    }
}  // namespace Lockstep::Workspace
