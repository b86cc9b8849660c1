#include "httphead.h"

namespace Lockstep::Gateway
{
    namespace
    {
        bool isTokenChar(const char c)
        {
            if (((c >= 'a') && (c <= 'z')) || ((c >= 'A') && (c <= 'Z')) || ((c >= '0') && (c <= '9')))
                return true;
            return QByteArrayView("!#$%&'*+-.^_`|~").contains(c);
        }

        bool isToken(QByteArrayView text)
        {
            if (text.isEmpty())
                return false;
            for (const char c : text)
            {
                if (!isTokenChar(c))
                    return false;
            }
            return true;
        }

        bool hasControlCharacters(QByteArrayView text)
        {
            for (const char c : text)
            {
                const auto u = static_cast<unsigned char>(c);
                if (((u < 0x20) && (u != '\t')) || (u == 0x7f))
                    return true;
            }
            return false;
        }

        HeadError error(int status, const char *reason)
        {
            return HeadError{.httpStatus = status, .reason = QByteArray(reason)};
        }
    }  // namespace

    QByteArray RequestHead::value(const QByteArrayView lowerName) const
    {
        QByteArray result;
        for (const auto &[name, headerValue] : headers)
        {
            if (name != lowerName)
                continue;
            if (!result.isEmpty())
                result += ", ";
            result += headerValue;
        }
        return result;
    }

    bool RequestHead::has(const QByteArrayView lowerName) const
    {
        for (const auto &header : headers)
        {
            if (header.first == lowerName)
                return true;
        }
        return false;
    }

    bool RequestHead::isWebSocketUpgrade() const
    {
        if (value("upgrade").trimmed().toLower() != "websocket")
            return false;
        for (const QByteArray &token : value("connection").split(','))
        {
            if (token.trimmed().toLower() == "upgrade")
                return true;
        }
        return false;
    }

    HeadParse parseRequestHead(const QByteArrayView buffer)
    {
        const qsizetype end = buffer.indexOf(QByteArrayView("\r\n\r\n"));
        if (end < 0)
        {
            if (buffer.size() > MaxHeadBytes)
                return error(431, "request head larger than 16 KiB");
            return HeadIncomplete{};
        }
        if (end + 4 > MaxHeadBytes)
            return error(431, "request head larger than 16 KiB");

        RequestHead head;
        head.size = end + 4;
        // Every line with its CRLF; the split leaves an empty piece after the last one.
        const QByteArray text = buffer.first(end + 2).toByteArray();
        QList<QByteArray> lines = text.split('\n');
        lines.removeLast();
        if (lines.size() - 1 > MaxHeaderCount)
            return error(431, "more than 100 headers");

        QByteArray requestLine = lines.constFirst();
        if (!requestLine.endsWith('\r'))
            return error(400, "lines must end with CRLF");
        requestLine.chop(1);
        const QList<QByteArray> parts = requestLine.split(' ');
        if (parts.size() != 3)
            return error(400, "malformed request line");
        head.method = parts.at(0);
        head.target = parts.at(1);
        head.version = parts.at(2);
        if (!isToken(head.method))
            return error(400, "malformed method");
        if (!head.target.startsWith('/') || hasControlCharacters(head.target))
            return error(400, "malformed request target");
        if ((head.version != "HTTP/1.1") && (head.version != "HTTP/1.0"))
            return error(505, "only HTTP/1.0 and HTTP/1.1 are served");
        const qsizetype query = head.target.indexOf('?');
        head.path = (query < 0) ? head.target : head.target.left(query);

        for (qsizetype i = 1; i < lines.size(); ++i)
        {
            QByteArray line = lines.at(i);
            if (!line.endsWith('\r'))
                return error(400, "lines must end with CRLF");
            line.chop(1);
            if (line.startsWith(' ') || line.startsWith('\t'))
                return error(400, "folded header lines are not accepted");
            const qsizetype colon = line.indexOf(':');
            if (colon <= 0)
                return error(400, "malformed header line");
            const QByteArray name = line.left(colon);
            const QByteArray headerValue = line.mid(colon + 1).trimmed();
            if (!isToken(name) || hasControlCharacters(headerValue))
                return error(400, "malformed header line");
            head.headers.append({name.toLower(), headerValue});
        }
        return head;
    }
}  // namespace Lockstep::Gateway
