#pragma once

#include <QByteArray>
#include <QByteArrayView>
#include <QList>
#include <QString>

#include "common/result.h"
#include "common/tokenauth.h"

namespace Lockstep::Workspace
{
    // A list of tokens in the format of the gateway's token file (one a line;
    // blank lines and '#' comments skipped; 8..4096 characters of
    // [A-Za-z0-9-._~+/=]). The agent uses it twice: the gateway token it
    // registers with (--token-file, first token), and its own secret that
    // callers present in the hello (--secret-file, or generateAgentSecret()).
    // The gateway never presents one of its own tokens to an agent.
    // The file rules and the constant-time digest comparison are the gateway's
    // (common/tokenauth.h: readTokenFile, TokenSet); this adds the token to present.
    // A fresh random agent secret (256 bits, base64url: a valid token).
    QByteArray generateAgentSecret();

    class AgentTokens
    {
    public:
        // An unreadable file, a bad line or no token at all is an error that
        // never quotes the file's content.
        static Result<AgentTokens, QString> loadFile(const QString &path);
        static Result<AgentTokens, QString> fromTokens(const QList<QByteArray> &tokens);

        bool accepts(QByteArrayView candidate) const;
        // The token this side presents.
        QByteArray first() const;

        static bool isValidToken(QByteArrayView token);

    private:
        QByteArray m_first;
        TokenSet m_accepted;
    };
}  // namespace Lockstep::Workspace
