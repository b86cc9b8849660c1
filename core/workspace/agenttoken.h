#pragma once

#include <QByteArray>
#include <QByteArrayView>
#include <QList>
#include <QString>

#include "common/result.h"
#include "gateway/tokenauth.h"

namespace Lockstep::Workspace
{
    // The shared secret between the gateway and its workspace agents: the
    // gateway's token file (one token a line; blank lines and '#' comments
    // skipped; 8..4096 characters of [A-Za-z0-9-._~+/=]). The gateway presents
    // the first token when it dials an agent; the agent accepts any token of its
    // file and presents the first one when it registers with the gateway.
    // The file rules and the constant-time digest comparison are the gateway's
    // (Gateway::readTokenFile, Gateway::TokenSet); this adds the token to present.
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
        Gateway::TokenSet m_accepted;
    };
} // namespace Lockstep::Workspace
