#include "workflowid.h"

namespace Lockstep::Protocol
{
    namespace
    {
        bool isIdCharacter(const QChar c)
        {
            const char16_t u = c.unicode();
            return ((u >= u'a') && (u <= u'z')) || ((u >= u'A') && (u <= u'Z')) || ((u >= u'0') && (u <= u'9')) ||
                   (u == u'.') || (u == u'_') || (u == u':') || (u == u'-');
        }
    }

    bool isValidWorkflowId(const QStringView id)
    {
        return workflowIdProblem(id).isEmpty();
    }

    QString workflowIdProblem(const QStringView id)
    {
        if (id.isEmpty())
            return QStringLiteral("empty");
        if (id.size() > MaxWorkflowIdLength)
            return QStringLiteral("longer than %1 characters").arg(MaxWorkflowIdLength);
        for (const QChar c : id)
        {
            if (!isIdCharacter(c))
                return QStringLiteral("has a character outside [A-Za-z0-9._:-]");
        }
        // ".", ".." and the like name no run in a URL path: clients and proxies
        // resolve them as path segments, so such a run could never be reached.
        if (id.count(u'.') == id.size())
            return QStringLiteral("is made only of dots; it needs at least one character of [A-Za-z0-9_:-]");
        return {};
    }
}  // namespace Lockstep::Protocol
