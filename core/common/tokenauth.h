#pragma once

#include <QByteArray>
#include <QByteArrayView>
#include <QList>
#include <QString>
#include <QStringList>

#include "common/result.h"

namespace Lockstep
{
    // The non-secret subprotocol the gateway echoes (SPEC: browsers send
    // "lockstep.v1" and "bearer.<token>"; the server answers "lockstep.v1").
    inline const QString Subprotocol = QStringLiteral("lockstep.v1");
    inline constexpr QByteArrayView BearerSubprotocolPrefix{"bearer."};
    // Name of the generated token file in the data folder (no --token-file).
    inline const QString GeneratedTokenFileName = QStringLiteral("gateway.token");

    // The accepted bearer tokens. Only SHA-256 digests are kept, and a
    // candidate is compared with every one of them in constant time, so
    // neither timing nor a memory dump reveals a token.
    class TokenSet
    {
    public:
        // One token a line; blank lines and lines starting with '#' are skipped.
        // A token is 8 to 4096 characters of [A-Za-z0-9-._~+/=]. An unreadable
        // file, a bad line or a file without tokens is an error (no token text in it).
        static Result<TokenSet, QString> loadFile(const QString &path);
        // Reuses <dataDir>/gateway.token if it is valid and private (mode 0600),
        // else writes a new random token there with mode 0600. Returns the set
        // and, through `path`, where the token is.
        static Result<TokenSet, QString> ensureGenerated(const QString &dataDir, QString *path);
        static TokenSet fromTokens(const QList<QByteArray> &tokens);

        bool accepts(QByteArrayView candidate) const;
        int size() const;

        static bool isValidToken(QByteArrayView token);

    private:
        QList<QByteArray> m_digests;
    };

    // The tokens of a token file, in file order, with the rules of
    // TokenSet::loadFile. Shared with the workspace agents (AgentTokens).
    Result<QList<QByteArray>, QString> readTokenFile(const QString &path);

    // The token a client presented: "Authorization: Bearer <token>" first, else
    // the "bearer.<token>" entry of Sec-WebSocket-Protocol. Empty when none.
    QByteArray presentedToken(QByteArrayView authorizationHeader, QByteArrayView subprotocolHeader);
}  // namespace Lockstep
