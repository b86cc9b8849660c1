#include "websocketclient.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <functional>
#include <future>
#include <iterator>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <QFile>
#include <QHostAddress>
#include <QPointer>

// The only translation unit of the project that includes Beast/Asio.
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <pthread.h>
#include <sys/socket.h>

#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "common/logging.h"

namespace Lockstep::Transport
{
    namespace
    {
        namespace net = boost::asio;
        namespace ssl = boost::asio::ssl;
        namespace beast = boost::beast;
        namespace http = boost::beast::http;
        namespace websocket = boost::beast::websocket;
        using tcp = boost::asio::ip::tcp;
        using boost::system::error_code;
        using namespace std::chrono_literals;

        // The io_context's own executor, not the type-erased any_io_executor:
        // copying and destroying the polymorphic one showed up in profiles.
        using Executor = net::io_context::executor_type;
        using Socket = net::basic_stream_socket<tcp, Executor>;
        using Resolver = net::ip::basic_resolver<tcp, Executor>;
        using Timer =
            net::basic_waitable_timer<std::chrono::steady_clock, net::wait_traits<std::chrono::steady_clock>, Executor>;
        // Frame masks (RFC 6455 5.3: unpredictable) from OpenSSL's CSPRNG, fetched
        // in blocks so a message costs no call into OpenSSL.
        class MaskSource
        {
        public:
            std::array<unsigned char, 4> next()
            {
                if (m_used + 4 > m_pool.size())
                {
                    if (RAND_bytes(m_pool.data(), static_cast<int>(m_pool.size())) != 1)
                        fallbackFill();
                    m_used = 0;
                }
                std::array<unsigned char, 4> mask;
                std::memcpy(mask.data(), m_pool.data() + m_used, 4);
                m_used += 4;
                return mask;
            }

        private:
            void fallbackFill()
            {
                // OpenSSL without entropy: still vary the masks.
                std::random_device device;
                for (auto &byte : m_pool)
                    byte = static_cast<unsigned char>(device());
            }

            std::array<unsigned char, 1024> m_pool{};
            std::size_t m_used = 1024;
        };

        // Sits between Beast's websocket stream and the socket (or TLS stream).
        // Reads: one large read serves many of Beast's small ones (its frame
        // buffer is only 1536 bytes), and `beforeWait` runs right before the
        // stream waits for the network, so received messages are handed to the
        // GUI thread in one batch per socket read. Writes: everything goes
        // through one buffer that leaves in one write per batch: Beast's control
        // frames (ping, pong, close) and the client's text frames, which are
        // framed straight into the buffer (appendTextFrames) -- no asynchronous
        // operation per message. On plain TCP the GUI thread may append and send
        // itself (sendFromOtherThread), sparing a wakeup of the worker per
        // message batch; the mutex keeps frames whole and in order, and the
        // worker marks the socket closed (markClosed) before it closes it.
        template <typename Next>
        class BufferedStream
        {
        public:
            using executor_type = typename Next::executor_type;
            using next_layer_type = Next;

            template <typename... Args>
            explicit BufferedStream(Args &&...args)
                : m_next(std::forward<Args>(args)...)
            {}

            executor_type get_executor() noexcept
            {
                return m_next.get_executor();
            }
            Next &next_layer() noexcept
            {
                return m_next;
            }
            const Next &next_layer() const noexcept
            {
                return m_next;
            }

            void setBeforeWait(std::function<void()> hook)
            {
                m_beforeWait = std::move(hook);
            }

            // Worker thread: frames the messages and starts sending them.
            void appendTextFrames(const std::vector<QByteArray> &messages, MaskSource &masks)
            {
                std::lock_guard lock(m_writeMutex);
                if (!acceptsDataLocked())
                    return;
                for (const QByteArray &message : messages)
                    appendTextFrameLocked(message, masks.next());
                maybeFlushLocked();
            }

            // Another thread (the GUI thread), plain TCP only: frames the messages
            // and sends what the socket takes right away, without the worker;
            // the worker only gets the rest, if any. False: not accepted (closing).
            bool sendFromOtherThread(const std::vector<QByteArray> &messages, MaskSource &masks)
            {
                static_assert(std::is_same_v<Next, Socket>, "direct sends only on plain TCP");
                std::lock_guard lock(m_writeMutex);
                if (!acceptsDataLocked())
                    return false;
                for (const QByteArray &message : messages)
                    appendTextFrameLocked(message, masks.next());
                if (m_flushing)
                    return true;  // the worker's write in flight takes it along
                while (m_writeBuffer.size() > 0)
                {
                    const auto data = m_writeBuffer.data();
                    const ssize_t sent =
                        ::send(m_next.native_handle(), data.data(), data.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
                    if (sent > 0)
                    {
                        m_writeBuffer.consume(static_cast<std::size_t>(sent));
                        continue;
                    }
                    if (sent < 0 && errno == EINTR)
                        continue;
                    if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
                    {
                        // The read side reports how the connection ended.
                        m_writeError = error_code(errno, boost::system::system_category());
                        return true;
                    }
                    break;  // socket buffer full: the worker waits for room
                }
                if (m_writeBuffer.size() > 0 && !m_flushPosted)
                {
                    m_flushPosted = true;
                    net::post(m_next.get_executor(), [this] {
                        std::lock_guard flushLock(m_writeMutex);
                        m_flushPosted = false;
                        maybeFlushLocked();
                    });
                }
                return true;
            }

            // Worker thread, before the socket is closed: no other thread may use it after.
            void markClosed()
            {
                std::lock_guard lock(m_writeMutex);
                m_closed = true;
            }

            template <typename MutableBufferSequence, typename ReadHandler>
            auto async_read_some(const MutableBufferSequence &buffers, ReadHandler &&handler)
            {
                return net::async_initiate<ReadHandler, void(error_code, std::size_t)>(
                    [this](auto h, const MutableBufferSequence &b) { startRead(std::move(h), b); }, handler, buffers);
            }

            template <typename ConstBufferSequence, typename WriteHandler>
            auto async_write_some(const ConstBufferSequence &buffers, WriteHandler &&handler)
            {
                return net::async_initiate<WriteHandler, void(error_code, std::size_t)>(
                    [this](auto h, const ConstBufferSequence &b) { startWrite(std::move(h), b); }, handler, buffers);
            }

            // Runs `done` (posted) once everything written so far has left.
            void whenFlushed(std::function<void()> done)
            {
                std::lock_guard lock(m_writeMutex);
                if ((!m_flushing && m_writeBuffer.size() == 0) || m_writeError || m_closed)
                {
                    net::post(m_next.get_executor(), std::move(done));
                    return;
                }
                m_flushWaiters.push_back(std::move(done));
                maybeFlushLocked();
            }

        private:
            static constexpr std::size_t ReadChunk = 64 * 1024;

            bool acceptsDataLocked() const
            {
                return !m_closeQueued && !m_closed && !m_writeError;
            }

            // A complete, masked client text frame (RFC 6455 5.2).
            void appendTextFrameLocked(const QByteArray &payload, const std::array<unsigned char, 4> &mask)
            {
                const auto size = static_cast<std::uint64_t>(payload.size());
                unsigned char header[14];
                std::size_t headerSize = 2;
                header[0] = 0x81;  // FIN, text
                if (size < 126)
                {
                    header[1] = static_cast<unsigned char>(0x80 | size);
                }
                else if (size <= 0xFFFF)
                {
                    header[1] = 0x80 | 126;
                    header[2] = static_cast<unsigned char>(size >> 8);
                    header[3] = static_cast<unsigned char>(size);
                    headerSize = 4;
                }
                else
                {
                    header[1] = 0x80 | 127;
                    for (int i = 0; i < 8; ++i)
                        header[2 + i] = static_cast<unsigned char>(size >> (56 - 8 * i));
                    headerSize = 10;
                }
                std::memcpy(header + headerSize, mask.data(), 4);
                headerSize += 4;

                const auto total = headerSize + static_cast<std::size_t>(size);
                auto *out = static_cast<unsigned char *>(m_writeBuffer.prepare(total).data());
                std::memcpy(out, header, headerSize);
                out += headerSize;
                const auto *in = reinterpret_cast<const unsigned char *>(payload.constData());
                // The key twice over, to mask eight bytes at a time.
                unsigned char eight[8];
                std::memcpy(eight, mask.data(), 4);
                std::memcpy(eight + 4, mask.data(), 4);
                std::uint64_t wideMask = 0;
                std::memcpy(&wideMask, eight, 8);
                std::size_t i = 0;
                for (; i + 8 <= size; i += 8)
                {
                    std::uint64_t chunk;
                    std::memcpy(&chunk, in + i, 8);
                    chunk ^= wideMask;
                    std::memcpy(out + i, &chunk, 8);
                }
                for (; i < size; ++i)
                    out[i] = in[i] ^ mask[i % 4];
                m_writeBuffer.commit(total);
            }

            template <typename Handler, typename MutableBufferSequence>
            void startRead(Handler handler, const MutableBufferSequence &buffers)
            {
                if (m_readBuffer.size() > 0)
                {
                    const std::size_t n = net::buffer_copy(buffers, m_readBuffer.data());
                    m_readBuffer.consume(n);
                    net::post(m_next.get_executor(), beast::bind_front_handler(std::move(handler), error_code{}, n));
                    return;
                }
                if (m_beforeWait)
                    m_beforeWait();
                if (net::buffer_size(buffers) >= ReadChunk)
                {
                    m_next.async_read_some(buffers, std::move(handler));  // large: straight in
                    return;
                }
                m_next.async_read_some(
                    m_readBuffer.prepare(ReadChunk),
                    [this, buffers, handler = std::move(handler)](const error_code &ec, const std::size_t n) mutable {
                        m_readBuffer.commit(n);
                        if (n == 0)
                        {
                            handler(ec, 0);
                            return;
                        }
                        // Data first; an error, if any, comes again with the next read.
                        const std::size_t copied = net::buffer_copy(buffers, m_readBuffer.data());
                        m_readBuffer.consume(copied);
                        handler(error_code{}, copied);
                    });
            }

            // Beast's writes: the upgrade request, then whole control frames.
            template <typename Handler, typename ConstBufferSequence>
            void startWrite(Handler handler, const ConstBufferSequence &buffers)
            {
                std::unique_lock lock(m_writeMutex);
                if (m_writeError || m_closed)
                {
                    const error_code ec =
                        m_writeError ? m_writeError : net::error::make_error_code(net::error::shut_down);
                    lock.unlock();
                    net::post(m_next.get_executor(), beast::bind_front_handler(std::move(handler), ec, 0));
                    return;
                }
                const std::size_t n = net::buffer_size(buffers);
                const auto into = m_writeBuffer.prepare(n);
                m_writeBuffer.commit(net::buffer_copy(into, buffers));
                if (m_handshakeDone && n > 0 && (*static_cast<const unsigned char *>(into.data()) & 0x0F) == 0x8)
                    m_closeQueued = true;  // a close frame: no data frame may follow it
                m_handshakeDone = true;    // the first write is the HTTP upgrade request
                maybeFlushLocked();
                lock.unlock();
                net::post(m_next.get_executor(), beast::bind_front_handler(std::move(handler), error_code{}, n));
            }

            void maybeFlushLocked()
            {
                if (m_flushing || m_writeBuffer.size() == 0 || m_writeError || m_closed)
                    return;
                m_flushing = true;
                std::swap(m_writeBuffer, m_inFlight);
                net::async_write(m_next, m_inFlight.data(), [this](const error_code &ec, std::size_t) {
                    std::vector<std::function<void()>> waiters;
                    {
                        std::lock_guard lock(m_writeMutex);
                        m_flushing = false;
                        m_inFlight.clear();
                        if (m_inFlight.capacity() > 1024 * 1024)
                            m_inFlight.shrink_to_fit();  // do not keep a huge message's buffer forever
                        if (ec)
                            m_writeError = ec;
                        else
                            maybeFlushLocked();
                        if (m_writeError || m_closed || (!m_flushing && m_writeBuffer.size() == 0))
                            waiters = std::exchange(m_flushWaiters, {});
                    }
                    for (auto &waiter : waiters)
                        waiter();
                });
            }

            Next m_next;
            beast::flat_buffer m_readBuffer;  // worker only
            std::function<void()> m_beforeWait;

            std::mutex m_writeMutex;  // guards everything below
            beast::flat_buffer m_writeBuffer;
            beast::flat_buffer m_inFlight;
            std::vector<std::function<void()>> m_flushWaiters;
            error_code m_writeError;
            bool m_flushing = false;
            bool m_flushPosted = false;
            bool m_handshakeDone = false;
            bool m_closeQueued = false;
            bool m_closed = false;
        };

        // Beast finds these by argument-dependent lookup when it closes the stream:
        // let the buffered close frame leave first, then tear down the layer below.
        template <typename Next, typename TeardownHandler>
        void async_teardown(const beast::role_type role, BufferedStream<Next> &stream, TeardownHandler &&handler)
        {
            auto shared = std::make_shared<std::decay_t<TeardownHandler>>(std::forward<TeardownHandler>(handler));
            stream.whenFlushed([&stream, role, shared] {
                stream.markClosed();
                using beast::websocket::async_teardown;
                async_teardown(role, stream.next_layer(), std::move(*shared));
            });
        }

        template <typename Next>
        void teardown(const beast::role_type role, BufferedStream<Next> &stream, error_code &ec)
        {
            using beast::websocket::teardown;
            teardown(role, stream.next_layer(), ec);
        }

        using PlainWs = websocket::stream<BufferedStream<Socket>>;
        using TlsWs = websocket::stream<BufferedStream<beast::ssl_stream<Socket>>>;

        // How long the destructor lets a connected client say goodbye, and how
        // long it waits for the worker thread before leaving it behind.
        constexpr auto DestructorCloseBudget = 250ms;
        constexpr auto DestructorJoinBudget = 1500ms;
        constexpr auto DestructorStopBudget = 500ms;
        // A close reason must fit a control frame: 125 bytes minus the code.
        constexpr qsizetype MaxCloseReasonBytes = 123;

        struct Event
        {
            enum class Kind
            {
                Connected,
                Text,
                Failed,
                Closed,
            };
            Kind kind = Kind::Text;
            QString text;  // Connected: subprotocol, Text: the message
            ConnectFailure failure;
            CloseInfo close;
        };

        // What open() checked and worked out from the options, for the worker.
        struct Target
        {
            bool tls = false;
            std::string host;  // for DNS, SNI and certificate checks (no brackets)
            std::string port;
            std::string hostHeader;  // Host: value
            std::string path;        // request target
            bool hostIsAddress = false;
            std::string authorization;  // "Bearer ..." or empty
            std::string subprotocolHeader;
        };

        QString fromStd(const std::string &text)
        {
            return QString::fromUtf8(text.data(), static_cast<qsizetype>(text.size()));
        }

        QString fromView(const beast::string_view text)
        {
            return QString::fromUtf8(text.data(), static_cast<qsizetype>(text.size()));
        }

        // RFC 7230 tchar: the characters a subprotocol (an HTTP token) may use.
        bool isHttpToken(const QString &text)
        {
            if (text.isEmpty())
                return false;
            static const QString specials = QStringLiteral("!#$%&'*+-.^_`|~");
            return std::all_of(text.cbegin(), text.cend(), [](const QChar c) {
                const char16_t u = c.unicode();
                return (u >= u'a' && u <= u'z') || (u >= u'A' && u <= u'Z') || (u >= u'0' && u <= u'9') ||
                       (u < 128 && specials.contains(c));
            });
        }

        // A header value must not be able to end the header (no CR/LF, no controls).
        bool isSafeHeaderValue(const QString &text)
        {
            return std::all_of(text.cbegin(), text.cend(),
                               [](const QChar c) { return c.unicode() > 0x20 && c.unicode() < 0x7f; });
        }

        bool isSendableCloseCode(const quint16 code)
        {
            // RFC 6455 7.4: 1004-1006 and 1015 are reserved, 1016-2999 belong to
            // future RFCs, 3000-4999 to libraries and applications.
            if (code >= 3000 && code <= 4999)
                return true;
            return code >= 1000 && code <= 1014 && code != 1004 && code != 1005 && code != 1006;
        }

        // At most maxBytes of UTF-8, cut at a character boundary.
        QByteArray truncatedUtf8(const QString &text, const qsizetype maxBytes)
        {
            QByteArray utf8 = text.toUtf8();
            if (utf8.size() <= maxBytes)
                return utf8;
            qsizetype end = maxBytes;
            while (end > 0 && (static_cast<unsigned char>(utf8.at(end)) & 0xC0) == 0x80)
                --end;  // utf8[end] is a continuation byte: the character starts earlier
            utf8.truncate(end);
            return utf8;
        }

        QString describe(const QUrl &url)
        {
            // Never the query: it is not where a token belongs, but be safe.
            return url.toDisplayString(QUrl::RemoveUserInfo | QUrl::RemoveQuery | QUrl::RemoveFragment);
        }

        std::optional<ConnectFailure> checkOptions(const ClientOptions &options, Target &target)
        {
            const auto bad = [](const ConnectError kind, const QString &message) {
                return std::optional<ConnectFailure>(ConnectFailure{.kind = kind, .message = message});
            };
            const QUrl &url = options.url;
            if (url.isEmpty())
                return bad(ConnectError::InvalidUrl, QStringLiteral("invalid URL: empty"));
            if (!url.isValid() || url.isRelative())
                return bad(ConnectError::InvalidUrl,
                           QStringLiteral("invalid URL \"%1\": %2").arg(describe(url), url.errorString()));
            const QString scheme = url.scheme();
            if (scheme != u"ws" && scheme != u"wss")
                return bad(ConnectError::InvalidUrl,
                           QStringLiteral("invalid URL: scheme must be ws or wss, not \"%1\"").arg(scheme));
            if (url.host().isEmpty())
                return bad(ConnectError::InvalidUrl, QStringLiteral("invalid URL: no host"));
            if (!url.userInfo().isEmpty())
                return bad(ConnectError::InvalidUrl,
                           QStringLiteral("invalid URL: credentials in the URL are not supported, "
                                          "use the bearer token"));

            if (!options.bearerToken.isEmpty() && !isSafeHeaderValue(options.bearerToken))
                return bad(ConnectError::InvalidOptions,
                           QStringLiteral("invalid bearer token: only visible ASCII characters are allowed"));
            if (options.tokenAsSubprotocol)
            {
                if (options.bearerToken.isEmpty())
                    return bad(ConnectError::InvalidOptions,
                               QStringLiteral("tokenAsSubprotocol is set but the bearer token is empty"));
                if (!isHttpToken(options.bearerToken))
                    return bad(ConnectError::InvalidOptions,
                               QStringLiteral("the bearer token has characters a subprotocol cannot carry "
                                              "(such as '/' or '='); send it as a header only"));
            }
            for (const QString &protocol : options.subprotocols)
            {
                if (!isHttpToken(protocol))
                    return bad(ConnectError::InvalidOptions,
                               QStringLiteral("invalid subprotocol \"%1\"").arg(protocol));
            }
            if (options.maxMessageSize <= 0)
                return bad(ConnectError::InvalidOptions, QStringLiteral("maxMessageSize must be positive"));
            if (options.connectTimeout <= 0ms)
                return bad(ConnectError::InvalidOptions, QStringLiteral("connectTimeout must be positive"));
            if (options.closeTimeout <= 0ms)
                return bad(ConnectError::InvalidOptions, QStringLiteral("closeTimeout must be positive"));
            if (options.pingInterval < 0ms || options.pongTimeout < 0ms)
                return bad(ConnectError::InvalidOptions,
                           QStringLiteral("pingInterval and pongTimeout must not be negative"));

            target.tls = (scheme == u"wss");
            const int defaultPort = target.tls ? 443 : 80;
            const int port = url.port(defaultPort);
            const QString host = url.host(QUrl::FullyEncoded);  // IDN as ASCII, IPv6 without brackets
            const bool isV6 = host.contains(u':');
            target.host = host.toStdString();
            target.hostIsAddress = !QHostAddress(host).isNull();
            target.port = std::to_string(port);
            const QString hostPart = isV6 ? QStringLiteral("[%1]").arg(host) : host;
            target.hostHeader =
                (port == defaultPort ? hostPart : QStringLiteral("%1:%2").arg(hostPart).arg(port)).toStdString();
            QString path = url.path(QUrl::FullyEncoded);
            if (path.isEmpty())
                path = QStringLiteral("/");
            if (url.hasQuery())
                path = QStringLiteral("%1?%2").arg(path, url.query(QUrl::FullyEncoded));
            target.path = path.toStdString();

            if (!options.bearerToken.isEmpty())
                target.authorization = "Bearer " + options.bearerToken.toStdString();
            QStringList protocols = options.subprotocols;
            if (options.tokenAsSubprotocol)
                protocols.append(QStringLiteral("bearer.%1").arg(options.bearerToken));
            target.subprotocolHeader = protocols.join(QStringLiteral(", ")).toStdString();
            return std::nullopt;
        }
    }  // namespace

    QString connectErrorName(const ConnectError error)
    {
        switch (error)
        {
        case ConnectError::InvalidUrl: return QStringLiteral("invalid URL");
        case ConnectError::InvalidOptions: return QStringLiteral("invalid options");
        case ConnectError::DnsFailure: return QStringLiteral("DNS failure");
        case ConnectError::ConnectionRefused: return QStringLiteral("connection refused");
        case ConnectError::Timeout: return QStringLiteral("timeout");
        case ConnectError::TlsFailure: return QStringLiteral("TLS failure");
        case ConnectError::HandshakeRejected: return QStringLiteral("handshake rejected");
        case ConnectError::Cancelled: return QStringLiteral("cancelled");
        case ConnectError::Other: return QStringLiteral("connection failed");
        }
        return QStringLiteral("connection failed");
    }

    // Shared between the client (GUI thread) and its worker thread. The
    // worker thread owns a reference too, so a worker that outlives a
    // destroyed client (bounded join gave up) still has valid state.
    struct WebSocketClient::Shared
    {
        std::mutex mutex;
        // All guarded by mutex.
        WebSocketClient *owner = nullptr;  // null once the client is gone
        std::vector<Event> events;         // worker -> GUI thread
        bool deliveryQueued = false;
        std::vector<QByteArray> outbox;  // GUI thread -> worker
        bool flushQueued = false;
        Session *session = nullptr;  // null once the worker tore down its io_context

        // GUI thread only.
        std::vector<Event> spare;  // a drained batch, kept for its capacity
        // Set while the signals of a batch are emitted: what slots send meanwhile
        // is staged without locking and handed to the worker once, after the batch.
        bool delivering = false;
        std::vector<QByteArray> staged;
        bool flushEventQueued = false;  // the nested-event-loop safety net is pending

        MaskSource guiMasks;  // for direct sends, under mutex

        // GUI thread: sends what is staged (see sendLocked).
        void handOverStaged();
        // GUI thread, mutex held: sends `messages` (emptying it) straight to the
        // socket when the connection allows it (plain TCP, open) and nothing
        // older is still on its way through the outbox; else via the outbox.
        void sendLocked(std::vector<QByteArray> &messages);
        // With mutex held: wakes the worker to take the outbox, once.
        void queueFlushLocked();

        std::thread thread;
        std::future<void> finished;

        void push(Event &&event);
        // Moves all of `batch` over (leaving it empty, maybe with spare capacity).
        void pushAll(std::vector<Event> &batch);
        // Runs f(Session &) on the worker thread; false if the worker is gone.
        template <typename F>
        bool post(F &&f);
    };

    // Lives and dies on the worker thread (created by open(), destroyed by the
    // worker once io_context::run() returns). Handlers capture `this`: they
    // run only inside run(), and pending ones are dropped with the io_context.
    class WebSocketClient::Session
    {
    public:
        Session(WebSocketClient::Shared &shared, ClientOptions options, Target target)
            : m_shared(shared)
            , m_options(std::move(options))
            , m_target(std::move(target))
            , m_resolver(m_ioc)
            , m_connectTimer(m_ioc)
            , m_pingTimer(m_ioc)
            , m_pongTimer(m_ioc)
            , m_closeTimer(m_ioc)
        {}

        net::io_context &ioc()
        {
            return m_ioc;
        }

        void run()
        {
            net::post(m_ioc, [this] { start(); });
            try
            {
                m_ioc.run();
            }
            catch (const std::exception &e)
            {
                // Nothing in here should throw; if it does, say so rather than terminate.
                qCCritical(lcTransport, "websocket worker stopped by an exception: %s", e.what());
                if (!m_done)
                {
                    const QString why = QStringLiteral("internal error: %1").arg(QString::fromUtf8(e.what()));
                    if (m_phase == Phase::Open)
                        emitClosed(CloseInfo{.code = ConnectionLostCode, .reason = why});
                    else
                        emitFailure(ConnectError::Other, why);
                }
            }
        }

        // GUI thread -> worker.
        void flushOutbox()
        {
            // Framed while the lock is held, so a direct send of the GUI thread
            // cannot overtake these older messages.
            std::lock_guard lock(m_shared.mutex);
            m_shared.flushQueued = false;
            std::vector<QByteArray> &outbox = m_shared.outbox;
            if (m_writeQueue.empty())
                m_writeQueue.swap(outbox);
            else
                std::move(outbox.begin(), outbox.end(), std::back_inserter(m_writeQueue));
            outbox.clear();
            if (m_done)
            {
                m_writeQueue.clear();
                return;
            }
            maybeWrite();
        }

        // GUI thread, Shared::mutex held: see Shared::sendLocked.
        bool directSend(const std::vector<QByteArray> &messages, MaskSource &masks)
        {
            if (!m_directSends.load(std::memory_order_acquire))
                return false;
            return m_plain->next_layer().sendFromOtherThread(messages, masks);
        }

        void requestClose(const quint16 code, const QString &reason)
        {
            requestClose(code, reason, m_options.closeTimeout);
        }

        void requestClose(const quint16 code, const QString &reason, const std::chrono::milliseconds timeout)
        {
            if (m_done)
                return;
            if (m_phase != Phase::Open)
            {
                emitFailure(ConnectError::Cancelled, QStringLiteral("connection attempt cancelled"));
                return;
            }
            if (m_closeRequested)
            {
                // Already closing: only ever shorten the wait.
                if (m_closeTimer.expiry() > Timer::clock_type::now() + timeout)
                    armCloseTimer(timeout);
                return;
            }
            m_closeRequested = true;
            m_directSends.store(false, std::memory_order_release);
            m_closeCode = code;
            m_closeReason = reason;
            armCloseTimer(timeout);
            maybeWrite();  // sends what is queued, then the close frame
        }

        // The client object is being destroyed.
        void shutdown()
        {
            if (m_done)
                return;
            requestClose(1001, QStringLiteral("client going away"),
                         std::min<std::chrono::milliseconds>(m_options.closeTimeout, DestructorCloseBudget));
        }

        // Ends everything at once (last resort of the destructor).
        void stop()
        {
            m_ioc.stop();
        }

    private:
        enum class Phase
        {
            Resolving,
            Connecting,
            TlsHandshake,
            WsHandshake,
            Open,
        };

        template <typename F>
        void withWs(F &&f)
        {
            if (m_tls)
                f(*m_tls);
            else
                f(*m_plain);
        }

        Socket &socket()
        {
            return m_tls ? beast::get_lowest_layer(*m_tls) : beast::get_lowest_layer(*m_plain);
        }

        void start()
        {
            if (m_done)
                return;
            if (m_target.tls)
            {
                if (!setUpTls())
                    return;
            }
            else
            {
                m_plain.emplace(m_ioc);
            }

            m_connectTimer.expires_after(m_options.connectTimeout);
            m_connectTimer.async_wait([this](const error_code &ec) { onConnectTimeout(ec); });

            if (m_target.hostIsAddress)
            {
                // No DNS for an address (and no resolver thread either).
                error_code ec;
                const auto address = net::ip::make_address(m_target.host, ec);
                if (!ec)
                {
                    m_phase = Phase::Connecting;
                    const tcp::endpoint endpoint(address, static_cast<unsigned short>(std::stoi(m_target.port)));
                    socket().async_connect(endpoint, [this](const error_code &error) { onConnected(error); });
                    return;
                }
            }
            m_phase = Phase::Resolving;
            const QString host = fromStd(m_target.host);
            if (host == u"invalid" || host.endsWith(u".invalid"))
            {
                // RFC 6761 6.4: never resolves, answer at once without asking a server.
                emitFailure(ConnectError::DnsFailure,
                            QStringLiteral("DNS failure: cannot resolve %1: .invalid names never resolve").arg(host));
                return;
            }
            m_resolver.async_resolve(
                m_target.host, m_target.port,
                [this](const error_code &ec, const Resolver::results_type &results) { onResolved(ec, results); });
        }

        bool setUpTls()
        {
            m_ssl.emplace(ssl::context::tls_client);
            SSL_CTX_set_min_proto_version(m_ssl->native_handle(), TLS1_2_VERSION);
            error_code ec;
            m_ssl->set_default_verify_paths(ec);
            if (ec)
                qCWarning(lcTransport, "cannot use the system CA store: %s", ec.message().c_str());
            if (!m_options.caFile.isEmpty())
            {
                QFile file(m_options.caFile);
                if (!file.open(QIODevice::ReadOnly))
                {
                    emitFailure(ConnectError::TlsFailure, QStringLiteral("TLS failure: cannot read CA file %1: %2")
                                                              .arg(m_options.caFile, file.errorString()));
                    return false;
                }
                const QByteArray pem = file.readAll();
                m_ssl->add_certificate_authority(net::buffer(pem.constData(), static_cast<std::size_t>(pem.size())),
                                                 ec);
                if (ec)
                {
                    emitFailure(ConnectError::TlsFailure,
                                QStringLiteral("TLS failure: CA file %1 holds no usable PEM certificate")
                                    .arg(m_options.caFile));
                    return false;
                }
            }
            m_ssl->set_verify_mode(m_options.verifyPeer ? ssl::verify_peer : ssl::verify_none);

            m_tls.emplace(m_ioc, *m_ssl);
            SSL *handle = m_tls->next_layer().next_layer().native_handle();
            if (!m_target.hostIsAddress)
            {
                // SNI (RFC 6066 allows no IP literals). The macro hides a C cast.
                SSL_ctrl(handle, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                         const_cast<char *>(m_target.host.c_str()));
            }
            if (m_options.verifyPeer)
            {
                X509_VERIFY_PARAM *param = SSL_get0_param(handle);
                X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
                const int ok = m_target.hostIsAddress
                                   ? X509_VERIFY_PARAM_set1_ip_asc(param, m_target.host.c_str())
                                   : X509_VERIFY_PARAM_set1_host(param, m_target.host.c_str(), m_target.host.size());
                if (ok != 1)
                {
                    emitFailure(ConnectError::TlsFailure,
                                QStringLiteral("TLS failure: cannot set up host name verification"));
                    return false;
                }
            }
            return true;
        }

        void onConnectTimeout(const error_code &ec)
        {
            if (ec || m_done || m_phase == Phase::Open)
                return;
            static const char *const phaseNames[] = {"resolving the host", "connecting", "in the TLS handshake",
                                                     "in the websocket handshake", ""};
            emitFailure(ConnectError::Timeout, QStringLiteral("timed out after %1 ms %2")
                                                   .arg(m_options.connectTimeout.count())
                                                   .arg(QLatin1String(phaseNames[static_cast<int>(m_phase)])));
        }

        void onResolved(const error_code &ec, const Resolver::results_type &results)
        {
            if (m_done)
                return;
            if (ec)
            {
                emitFailure(ConnectError::DnsFailure, QStringLiteral("DNS failure: cannot resolve %1: %2")
                                                          .arg(fromStd(m_target.host), fromStd(ec.message())));
                return;
            }
            m_phase = Phase::Connecting;
            net::async_connect(socket(), results,
                               [this](const error_code &error, const tcp::endpoint &) { onConnected(error); });
        }

        void onConnected(const error_code &ec)
        {
            if (m_done)
                return;
            if (ec)
            {
                if (ec == net::error::connection_refused)
                    emitFailure(ConnectError::ConnectionRefused,
                                QStringLiteral("connection refused by %1:%2")
                                    .arg(fromStd(m_target.host), fromStd(m_target.port)));
                else if (ec == net::error::timed_out)
                    emitFailure(ConnectError::Timeout, QStringLiteral("timed out connecting to %1:%2")
                                                           .arg(fromStd(m_target.host), fromStd(m_target.port)));
                else
                    emitFailure(ConnectError::Other,
                                QStringLiteral("cannot connect to %1:%2: %3")
                                    .arg(fromStd(m_target.host), fromStd(m_target.port), fromStd(ec.message())));
                return;
            }
            error_code ignored;
            socket().set_option(tcp::no_delay(true), ignored);  // small frames, round trips matter
            if (m_tls)
            {
                m_phase = Phase::TlsHandshake;
                m_tls->next_layer().next_layer().async_handshake(
                    ssl::stream_base::client, [this](const error_code &error) { onTlsHandshake(error); });
                return;
            }
            startWsHandshake();
        }

        void onTlsHandshake(const error_code &ec)
        {
            if (m_done)
                return;
            if (ec)
            {
                const long verify = SSL_get_verify_result(m_tls->next_layer().next_layer().native_handle());
                QString message;
                if (m_options.verifyPeer && verify != X509_V_OK)
                    message = QStringLiteral("TLS failure: certificate verify failed: %1")
                                  .arg(QString::fromUtf8(X509_verify_cert_error_string(verify)));
                else
                    message = QStringLiteral("TLS failure: %1").arg(fromStd(ec.message()));
                emitFailure(ConnectError::TlsFailure, message);
                return;
            }
            startWsHandshake();
        }

        void startWsHandshake()
        {
            m_phase = Phase::WsHandshake;
            withWs([this](auto &ws) {
                ws.set_option(websocket::stream_base::timeout{
                    .handshake_timeout = websocket::stream_base::none(),
                    .idle_timeout = websocket::stream_base::none(),
                    .keep_alive_pings = false,
                });
                ws.set_option(websocket::stream_base::decorator([this](websocket::request_type &request) {
                    request.set(http::field::user_agent, "lockstep/" LOCKSTEP_VERSION);
                    if (!m_target.authorization.empty())
                        request.set(http::field::authorization, m_target.authorization);
                    if (!m_target.subprotocolHeader.empty())
                        request.set(http::field::sec_websocket_protocol, m_target.subprotocolHeader);
                }));
                ws.read_message_max(static_cast<std::size_t>(m_options.maxMessageSize));
                ws.control_callback([this](const websocket::frame_type kind, beast::string_view) {
                    if (kind == websocket::frame_type::pong)
                        onPong();
                });
                ws.async_handshake(m_response, m_target.hostHeader, m_target.path,
                                   [this](const error_code &ec) { onWsHandshake(ec); });
            });
        }

        void onWsHandshake(const error_code &ec)
        {
            if (m_done)
                return;
            if (ec)
            {
                const int status = m_response.result_int();
                if (ec == websocket::error::upgrade_declined)
                {
                    QString reasonPhrase = fromView(m_response.reason());
                    if (reasonPhrase.isEmpty())
                        reasonPhrase = fromView(http::obsolete_reason(m_response.result()));
                    emitFailure(ConnectError::HandshakeRejected,
                                QStringLiteral("handshake rejected: HTTP %1 %2").arg(status).arg(reasonPhrase), status);
                }
                else if (ec.category() == websocket::make_error_code(websocket::error::closed).category())
                {
                    emitFailure(
                        ConnectError::HandshakeRejected,
                        QStringLiteral("handshake rejected: invalid upgrade response: %1").arg(fromStd(ec.message())),
                        status);
                }
                else
                {
                    emitFailure(ConnectError::Other,
                                QStringLiteral("websocket handshake failed: %1").arg(fromStd(ec.message())));
                }
                return;
            }
            m_phase = Phase::Open;
            m_connectTimer.cancel();
            const QString chosen = fromView(m_response[http::field::sec_websocket_protocol]).trimmed();
            m_response = {};
            qCDebug(lcTransport) << "websocket connected to" << describe(m_options.url)
                                 << (chosen.startsWith(u"bearer.") ? QStringLiteral("(token subprotocol)") : chosen);
            withWs([this](auto &ws) { ws.next_layer().setBeforeWait([this] { publishEvents(); }); });
            {
                // What was sent while connecting goes first; only then may the GUI
                // thread send by itself (plain TCP; TLS state is not shareable).
                std::lock_guard lock(m_shared.mutex);
                maybeWrite();
                if (m_plain && !m_closeRequested)
                    m_directSends.store(true, std::memory_order_release);
            }
            queueEvent(Event{.kind = Event::Kind::Connected, .text = chosen});
            publishEvents();
            startRead();
            armPingTimer();
        }

        // ---- open connection

        void startRead()
        {
            withWs([this](auto &ws) {
                ws.async_read(m_readBuffer, [this](const error_code &ec, std::size_t) { onRead(ec); });
            });
        }

        void onRead(const error_code &ec)
        {
            if (m_done)
                return;
            if (ec)
            {
                onReadFailed(ec);
                return;
            }
            bool text = true;
            withWs([&text](auto &ws) { text = ws.got_text(); });
            if (text)
            {
                const auto data = m_readBuffer.cdata();
                queueEvent(Event{.kind = Event::Kind::Text,
                                 .text = QString::fromUtf8(static_cast<const char *>(data.data()),
                                                           static_cast<qsizetype>(data.size()))});
            }
            else
            {
                qCWarning(lcTransport, "ignoring a binary message of %zu bytes", m_readBuffer.size());
            }
            m_readBuffer.consume(m_readBuffer.size());
            if (m_readBuffer.capacity() > 1024 * 1024)
                m_readBuffer.shrink_to_fit();  // do not keep a huge message's buffer forever
            startRead();
        }

        void onReadFailed(const error_code &ec)
        {
            // A server's close frame may end the read with eof or "not connected"
            // rather than websocket::error::closed (seen with QWebSocketServer
            // and 1013): whatever the error, a received close frame wins.
            if (const auto closeFrame = receivedClose())
            {
                emitClosed(*closeFrame);
                return;
            }
            if (ec == websocket::error::closed)
            {
                // A close frame without a code: 1005, "no status received".
                emitClosed(CloseInfo{.receivedCloseFrame = true, .initiatedByClient = m_closeRequested, .code = 1005});
                return;
            }
            if (ec == websocket::error::message_too_big)
            {
                // Beast has already sent the close frame with 1009.
                emitClosed(CloseInfo{
                    .initiatedByClient = true,
                    .code = 1009,
                    .reason = QStringLiteral("message too big (limit %1 bytes)").arg(m_options.maxMessageSize)});
                return;
            }
            if (ec.category() == websocket::make_error_code(websocket::error::closed).category())
            {
                // Any other websocket error is a protocol error of the peer; Beast
                // has failed the connection with 1007 (bad UTF-8) or 1002.
                const quint16 code = (ec == websocket::error::bad_frame_payload) ? 1007 : 1002;
                emitClosed(
                    CloseInfo{.initiatedByClient = true,
                              .code = code,
                              .reason = QStringLiteral("protocol error of the server: %1").arg(fromStd(ec.message()))});
                return;
            }
            if (m_closeRequested && ec == net::error::operation_aborted)
                return;  // the close operation reports
            emitClosed(CloseInfo{.code = ConnectionLostCode,
                                 .reason = QStringLiteral("connection lost: %1").arg(fromStd(ec.message()))});
        }

        std::optional<CloseInfo> receivedClose()
        {
            websocket::close_reason reason;
            withWs([&reason](auto &ws) { reason = ws.reason(); });
            if (reason.code == websocket::close_code::none)
                return std::nullopt;
            return CloseInfo{.receivedCloseFrame = true,
                             .initiatedByClient = m_closeRequested,
                             .code = static_cast<quint16>(reason.code),
                             .reason = fromStd(std::string(reason.reason.data(), reason.reason.size()))};
        }

        // Frames what is queued straight into the buffered layer and sends it in
        // one write; then the close frame, if close() asked for one.
        void maybeWrite()
        {
            if (m_done || m_phase != Phase::Open)
                return;
            if (!m_writeQueue.empty())
            {
                // The layer refuses data after a close frame (ours, or Beast's after a protocol error).
                if (!m_closeSent)
                    withWs([this](auto &ws) { ws.next_layer().appendTextFrames(m_writeQueue, m_masks); });
                m_writeQueue.clear();
            }
            if (m_closeRequested && !m_closeSent)
                startClose();
        }

        void startClose()
        {
            m_closeSent = true;
            const QByteArray reason = truncatedUtf8(m_closeReason, MaxCloseReasonBytes);
            const websocket::close_reason frame(
                static_cast<websocket::close_code>(m_closeCode),
                beast::string_view(reason.constData(), static_cast<std::size_t>(reason.size())));
            withWs(
                [this, &frame](auto &ws) { ws.async_close(frame, [this](const error_code &ec) { onCloseDone(ec); }); });
        }

        void onCloseDone(const error_code &ec)
        {
            if (m_done)
                return;
            if (const auto closeFrame = receivedClose())
            {
                emitClosed(*closeFrame);
                return;
            }
            if (ec == net::error::operation_aborted)
                return;
            emitClosed(CloseInfo{.initiatedByClient = true, .code = m_closeCode, .reason = m_closeReason});
        }

        void armCloseTimer(const std::chrono::milliseconds timeout)
        {
            m_closeTimer.expires_after(timeout);
            m_closeTimer.async_wait([this](const error_code &ec) {
                if (ec || m_done)
                    return;
                qCDebug(lcTransport, "the server did not answer the close frame in time");
                emitClosed(CloseInfo{.initiatedByClient = true, .code = m_closeCode, .reason = m_closeReason});
            });
        }

        // ---- keepalive: our own timers so interval and timeout are independent

        void armPingTimer()
        {
            if (m_options.pingInterval <= 0ms)
                return;
            m_pingTimer.expires_after(m_options.pingInterval);
            m_pingTimer.async_wait([this](const error_code &ec) {
                if (ec || m_done)
                    return;
                sendPing();
                armPingTimer();
            });
        }

        void sendPing()
        {
            if (m_closeRequested)
                return;
            if (!m_pingInFlight)
            {
                m_pingInFlight = true;
                withWs([this](auto &ws) { ws.async_ping({}, [this](const error_code &) { m_pingInFlight = false; }); });
            }
            if (m_options.pongTimeout > 0ms && !m_awaitingPong)
            {
                m_awaitingPong = true;
                const quint64 generation = ++m_pongGeneration;
                m_pongTimer.expires_after(m_options.pongTimeout);
                m_pongTimer.async_wait([this, generation](const error_code &ec) {
                    if (ec || m_done || !m_awaitingPong || generation != m_pongGeneration)
                        return;
                    qCInfo(lcTransport, "no pong within %lld ms, dropping the connection",
                           static_cast<long long>(m_options.pongTimeout.count()));
                    emitClosed(CloseInfo{.code = ConnectionLostCode,
                                         .reason = QStringLiteral("connection lost: pong timeout (no pong for %1 ms)")
                                                       .arg(m_options.pongTimeout.count())});
                });
            }
        }

        void onPong()
        {
            if (!m_awaitingPong)
                return;
            m_awaitingPong = false;
            ++m_pongGeneration;
            m_pongTimer.cancel();
        }

        // ---- events for the GUI thread, handed over in batches

        void queueEvent(Event &&event)
        {
            m_pendingEvents.push_back(std::move(event));
        }

        void publishEvents()
        {
            if (!m_pendingEvents.empty())
                m_shared.pushAll(m_pendingEvents);
        }

        // ---- the end

        void emitFailure(const ConnectError kind, const QString &message, const int httpStatus = 0)
        {
            if (m_done)
                return;
            m_done = true;
            qCInfo(lcTransport) << "websocket connection to" << describe(m_options.url) << "failed:" << message;
            tearDown();
            queueEvent(Event{.kind = Event::Kind::Failed,
                             .failure = ConnectFailure{.kind = kind, .httpStatus = httpStatus, .message = message}});
            publishEvents();
        }

        void emitClosed(const CloseInfo &info)
        {
            if (m_done)
                return;
            m_done = true;
            qCInfo(lcTransport) << "websocket to" << describe(m_options.url) << "closed:" << info.code << info.reason
                                << (info.receivedCloseFrame ? "(close frame received)" : "(no close frame)");
            tearDown();
            queueEvent(Event{.kind = Event::Kind::Closed, .close = info});
            publishEvents();
        }

        // Cancels everything so run() returns once the aborted handlers ran.
        void tearDown()
        {
            m_done = true;
            m_writeQueue.clear();
            m_resolver.cancel();
            m_connectTimer.cancel();
            m_pingTimer.cancel();
            m_pongTimer.cancel();
            m_closeTimer.cancel();
            m_directSends.store(false, std::memory_order_release);
            if (m_plain || m_tls)
            {
                withWs([](auto &ws) { ws.next_layer().markClosed(); });  // before the descriptor goes
                error_code ignored;
                socket().shutdown(Socket::shutdown_both, ignored);
                socket().close(ignored);
            }
        }

        WebSocketClient::Shared &m_shared;
        const ClientOptions m_options;
        const Target m_target;

        net::io_context m_ioc{1};
        std::optional<ssl::context> m_ssl;
        Resolver m_resolver;
        std::optional<PlainWs> m_plain;
        std::optional<TlsWs> m_tls;
        Timer m_connectTimer;
        Timer m_pingTimer;
        Timer m_pongTimer;
        Timer m_closeTimer;
        websocket::response_type m_response;
        beast::flat_buffer m_readBuffer;

        std::vector<Event> m_pendingEvents;
        std::vector<QByteArray> m_writeQueue;  // until the connection is open, then one batch
        MaskSource m_masks;
        std::atomic<bool> m_directSends{false};  // the GUI thread may send on the socket itself
        Phase m_phase = Phase::Resolving;
        bool m_done = false;
        bool m_closeRequested = false;
        bool m_closeSent = false;
        bool m_pingInFlight = false;
        bool m_awaitingPong = false;
        quint64 m_pongGeneration = 0;
        quint16 m_closeCode = 1000;
        QString m_closeReason;
    };

    void WebSocketClient::Shared::push(Event &&event)
    {
        std::lock_guard lock(mutex);
        if (!owner)
            return;
        events.push_back(std::move(event));
        if (!deliveryQueued)
        {
            // One queued call drains everything that arrived in between.
            deliveryQueued = true;
            QMetaObject::invokeMethod(owner, &WebSocketClient::deliverEvents, Qt::QueuedConnection);
        }
    }

    void WebSocketClient::Shared::pushAll(std::vector<Event> &batch)
    {
        std::lock_guard lock(mutex);
        if (owner)
        {
            if (events.empty())
                events.swap(batch);
            else
                std::move(batch.begin(), batch.end(), std::back_inserter(events));
            if (!deliveryQueued)
            {
                deliveryQueued = true;
                QMetaObject::invokeMethod(owner, &WebSocketClient::deliverEvents, Qt::QueuedConnection);
            }
        }
        batch.clear();
    }

    void WebSocketClient::Shared::queueFlushLocked()
    {
        if (flushQueued || outbox.empty() || !session)
            return;
        flushQueued = true;
        net::post(session->ioc(), [s = session] { s->flushOutbox(); });
    }

    void WebSocketClient::Shared::sendLocked(std::vector<QByteArray> &messages)
    {
        if (messages.empty())
            return;
        if (outbox.empty() && !flushQueued && session && session->directSend(messages, guiMasks))
        {
            messages.clear();
            return;
        }
        if (outbox.empty())
            outbox.swap(messages);
        else
            std::move(messages.begin(), messages.end(), std::back_inserter(outbox));
        messages.clear();
        queueFlushLocked();
    }

    void WebSocketClient::Shared::handOverStaged()
    {
        if (staged.empty())
            return;
        std::lock_guard lock(mutex);
        sendLocked(staged);
    }

    template <typename F>
    bool WebSocketClient::Shared::post(F &&f)
    {
        std::lock_guard lock(mutex);
        if (!session)
            return false;
        net::post(session->ioc(), [s = session, f = std::forward<F>(f)]() mutable { f(*s); });
        return true;
    }

    WebSocketClient::WebSocketClient(QObject *parent)
        : QObject(parent)
        , m_shared(std::make_shared<Shared>())
    {
        static const bool registered = [] {
            qRegisterMetaType<ConnectFailure>();
            qRegisterMetaType<CloseInfo>();
            return true;
        }();
        Q_UNUSED(registered);
        m_shared->owner = this;
    }

    WebSocketClient::~WebSocketClient()
    {
        {
            std::lock_guard lock(m_shared->mutex);
            m_shared->owner = nullptr;
            m_shared->events.clear();
        }
        if (!m_shared->thread.joinable())
            return;
        m_shared->handOverStaged();  // what was sent before goes out before the goodbye
        m_shared->post([](Session &session) { session.shutdown(); });
        if (m_shared->finished.wait_for(DestructorJoinBudget) != std::future_status::ready)
        {
            {
                std::lock_guard lock(m_shared->mutex);
                if (m_shared->session)
                    m_shared->session->stop();
            }
            if (m_shared->finished.wait_for(DestructorStopBudget) != std::future_status::ready)
            {
                // Stuck in something we cannot interrupt (e.g. a slow DNS lookup):
                // the thread holds its own reference to Shared and ends by itself.
                qCWarning(lcTransport, "websocket worker did not stop in time; leaving it to finish alone");
                m_shared->thread.detach();
                return;
            }
        }
        m_shared->thread.join();
    }

    bool WebSocketClient::open(const ClientOptions &options)
    {
        if (m_state != State::Idle)
        {
            qCWarning(lcTransport, "WebSocketClient::open() called twice; make a new client per connection");
            return false;
        }
        m_state = State::Connecting;
        Target target;
        if (const auto failure = checkOptions(options, target))
        {
            qCWarning(lcTransport) << "not connecting:" << failure->message;
            m_shared->push(Event{.kind = Event::Kind::Failed, .failure = *failure});
            return true;
        }
        qCDebug(lcTransport) << "connecting to" << describe(options.url);

        auto session = std::make_unique<Session>(*m_shared, options, std::move(target));
        m_shared->session = session.get();
        std::promise<void> finished;
        m_shared->finished = finished.get_future();
        m_shared->thread =
            std::thread([shared = m_shared, finished = std::move(finished), session = std::move(session)]() mutable {
                pthread_setname_np(pthread_self(), "ws-client");  // for top, perf and gdb
                session->run();
                {
                    std::lock_guard lock(shared->mutex);
                    shared->session = nullptr;
                }
                // Destroy the io_context here: it may wait for asio's resolver thread.
                session.reset();
                finished.set_value();
            });
        return true;
    }

    bool WebSocketClient::sendText(const QString &message)
    {
        if (m_state != State::Connecting && m_state != State::Connected)
            return false;
        QByteArray utf8 = message.toUtf8();
        if (m_shared->delivering)
        {
            // Sent from a slot during a batch of signals: gathered without locking
            // and handed over in one go after the batch.
            m_shared->staged.push_back(std::move(utf8));
            if (!m_shared->flushEventQueued)
            {
                // Covers a slot that spins a nested event loop (a modal dialog)
                // before the batch ends.
                m_shared->flushEventQueued = true;
                QMetaObject::invokeMethod(
                    this,
                    [shared = m_shared] {
                        shared->flushEventQueued = false;
                        shared->handOverStaged();
                    },
                    Qt::QueuedConnection);
            }
            return true;
        }
        std::lock_guard lock(m_shared->mutex);
        if (!m_shared->session)
            return false;
        m_shared->staged.push_back(std::move(utf8));  // after anything still staged
        m_shared->sendLocked(m_shared->staged);
        return true;
    }

    void WebSocketClient::close(quint16 code, const QString &reason)
    {
        if (m_state != State::Connecting && m_state != State::Connected)
            return;
        if (!isSendableCloseCode(code))
        {
            qCWarning(lcTransport, "close code %u cannot be sent, using 1000", code);
            code = 1000;
        }
        m_state = State::Closing;
        m_shared->handOverStaged();  // messages sent before close() leave first
        m_shared->post([code, reason](Session &session) { session.requestClose(code, reason); });
    }

    WebSocketClient::State WebSocketClient::state() const
    {
        return m_state;
    }

    QString WebSocketClient::subprotocol() const
    {
        return m_subprotocol;
    }

    void WebSocketClient::deliverEvents()
    {
        std::vector<Event> batch = std::exchange(m_shared->spare, {});
        {
            std::lock_guard lock(m_shared->mutex);
            batch.swap(m_shared->events);
            m_shared->deliveryQueued = false;
        }
        const QPointer<WebSocketClient> self(this);
        const bool outerDelivery = !m_shared->delivering;  // a slot may spin a nested event loop
        m_shared->delivering = true;
        for (Event &event : batch)
        {
            switch (event.kind)
            {
            case Event::Kind::Connected:
                if (m_state == State::Connecting)
                    m_state = State::Connected;
                m_subprotocol = event.text;
                emit connected(m_subprotocol);
                break;
            case Event::Kind::Text: emit textMessageReceived(event.text); break;
            case Event::Kind::Failed:
                m_state = State::Closed;
                emit failed(event.failure);
                break;
            case Event::Kind::Closed:
                m_state = State::Closed;
                emit closed(event.close);
                break;
            }
            if (!self)
                return;  // a slot deleted us; its destructor dropped the outbox
        }
        if (outerDelivery)
        {
            m_shared->delivering = false;
            m_shared->handOverStaged();
        }
        batch.clear();
        m_shared->spare = std::move(batch);
    }
}  // namespace Lockstep::Transport
