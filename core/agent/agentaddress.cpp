#include "agentaddress.h"

namespace Lockstep::Workspace
{
    namespace
    {
        constexpr qsizetype MaxIdLength = 128;

        bool isIdChar(const QChar ch, const bool first)
        {
            const char16_t c = ch.unicode();
            const bool alnum = (c >= u'a' && c <= u'z') || (c >= u'A' && c <= u'Z') || (c >= u'0' && c <= u'9');
            if (first)
                return alnum;
            return alnum || (c == u'_') || (c == u'.') || (c == u'-');
        }

        bool isValidId(const QStringView id)
        {
            if (id.isEmpty() || id.size() > MaxIdLength)
                return false;
            for (qsizetype i = 0; i < id.size(); ++i)
            {
                if (!isIdChar(id.at(i), i == 0))
                    return false;
            }
            return true;
        }
    }  // namespace

    bool isValidWorkspaceId(const QStringView id)
    {
        return isValidId(id);
    }

    bool isValidAgentId(const QStringView id)
    {
        return isValidId(id);
    }

    bool AgentAddress::operator==(const AgentAddress &other) const
    {
        return (agentId == other.agentId) && (host == other.host) && (port == other.port) && (secret == other.secret);
    }

    QString AgentAddress::toString() const
    {
        const QString hostText =
            host.protocol() == QAbstractSocket::IPv6Protocol ? u'[' + host.toString() + u']' : host.toString();
        return QStringLiteral("%1 at %2:%3").arg(agentId, hostText).arg(port);
    }
}  // namespace Lockstep::Workspace
