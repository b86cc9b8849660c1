#pragma once

#include <variant>

#include <QByteArray>
#include <QByteArrayView>
#include <QList>
#include <QPair>

namespace Lockstep::Gateway
{
    // The head (request line and headers) of an HTTP/1.x request, as the front
    // door sees it before deciding who serves the connection. Only what routing,
    // auth and limits need; the body is read by whoever serves the request.
    struct RequestHead
    {
        QByteArray method;                             // "GET"
        QByteArray target;                             // "/api/v1/ws?x=1"
        QByteArray path;                               // "/api/v1/ws"
        QByteArray version;                            // "HTTP/1.1"
        QList<QPair<QByteArray, QByteArray>> headers;  // names lower-cased, values trimmed
        qsizetype size = 0;                            // bytes of the head, blank line included

        // The values of every header with this (lower-case) name, joined by ", ".
        QByteArray value(QByteArrayView lowerName) const;
        bool has(QByteArrayView lowerName) const;
        // "Upgrade: websocket" with a "Connection: upgrade" token.
        bool isWebSocketUpgrade() const;
    };

    struct HeadIncomplete
    {};
    struct HeadError
    {
        int httpStatus = 400;  // 400 bad request, 431 head too large, 505 version
        QByteArray reason;
    };
    using HeadParse = std::variant<HeadIncomplete, HeadError, RequestHead>;

    inline constexpr qsizetype MaxHeadBytes = 16 * 1024;
    inline constexpr int MaxHeaderCount = 100;

    // Parses the head at the start of `buffer` (which may hold more: a body).
    HeadParse parseRequestHead(QByteArrayView buffer);
}  // namespace Lockstep::Gateway
