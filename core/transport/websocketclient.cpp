#include "websocketclient.h"

#include <algorithm>
#include <atomic>
#include <deque>
#include <functional>
#include <iterator>
#include <limits>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <QFile>
#include <QHostAddress>
#include <QPointer>

// The only translation unit of the project that includes Beast/Asio.
#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/core/rate_policy.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/socket.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "common/logging.h"

// Beast closes a websocket's next layer through teardown()/async_teardown(),
// found by argument-dependent lookup; for a buffered_read_stream that is the
// socket below it.
namespace boost::beast
{
    template <typename Stream, typename Buffer, typename TeardownHandler>
    void async_teardown(const role_type role, buffered_read_stream<Stream, Buffer> &stream, TeardownHandler &&handler)
    {
        using websocket::async_teardown;
        async_teardown(role, stream.next_layer(), std::forward<TeardownHandler>(handler));
    }

    template <typename Stream, typename Buffer>
    void teardown(const role_type role, buffered_read_stream<Stream, Buffer> &stream, error_code &ec)
    {
        using websocket::teardown;
        teardown(role, stream.next_layer(), ec);
    }
}  // namespace boost::beast

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

        // The bytes a connection read and wrote, for the owner thread to read.
        struct WireBytes
        {
            std::atomic<qint64> in{0};
            std::atomic<qint64> out{0};
        };

        // Beast's rate-policy hook on basic_stream, with no limit: it sees every
        // byte the socket reads and writes, below TLS and the websocket framing.
        class WireCounter
        {
        public:
            WireCounter() = default;
            explicit WireCounter(WireBytes *bytes)
                : m_bytes(bytes)
            {}

        private:
            friend class boost::beast::rate_policy_access;

            static std::size_t available_read_bytes() noexcept
            {
                return std::numeric_limits<std::size_t>::max();
            }
            static std::size_t available_write_bytes() noexcept
            {
                return std::numeric_limits<std::size_t>::max();
            }
            void transfer_read_bytes(const std::size_t n) const noexcept
            {
                if (m_bytes)
                    m_bytes->in.fetch_add(static_cast<qint64>(n), std::memory_order_relaxed);
            }
            void transfer_write_bytes(const std::size_t n) const noexcept
            {
                if (m_bytes)
                    m_bytes->out.fetch_add(static_cast<qint64>(n), std::memory_order_relaxed);
            }
            static void on_timer() noexcept {}

            WireBytes *m_bytes = nullptr;  // owned by the client's Shared, which the session holds
        };

        using CountedSocket = beast::basic_stream<tcp, net::any_io_executor, WireCounter>;
        // Plain TCP reads through Beast's buffered_read_stream: one socket read
        // serves many small frames (the websocket stream's own buffer holds 1.5 KB).
        using BufferedSocket = beast::buffered_read_stream<CountedSocket, beast::flat_buffer>;
        using PlainWs = websocket::stream<BufferedSocket>;
        using TlsWs = websocket::stream<beast::ssl_stream<CountedSocket>>;

        // A close reason must fit a control frame: 125 bytes minus the code.
        constexpr qsizetype MaxCloseReasonBytes = 123;
        // Beast masks outgoing payload through a buffer of this size: one
        // socket write for every message up to it.
        constexpr std::size_t WriteBufferBytes = 64 * 1024;
        constexpr std::size_t ReadBufferBytes = 64 * 1024;

        // The one thread that runs every connection's Beast/Asio work. Made on
        // first use; at process exit it runs what was already handed to it
        // (goodbyes of destroyed clients go out) and stops, without waiting
        // for any reply. Before it waits for the network it runs the tasks of
        // whenIdle(): sessions hand their received messages to the GUI thread
        // there, in one batch per wake-up rather than one per message.
        class IoThread
        {
        public:
            static IoThread &instance()
            {
                static IoThread thread;
                return thread;
            }

            net::io_context &context()
            {
                return m_ioc;
            }

            // I/O thread only.
            void whenIdle(std::function<void()> task)
            {
                m_idleTasks.push_back(std::move(task));
            }

            ~IoThread()
            {
                m_work.reset();
                net::post(m_ioc, [this] { m_ioc.stop(); });
                m_thread.join();
            }

            IoThread(const IoThread &) = delete;
            IoThread &operator=(const IoThread &) = delete;

        private:
            IoThread()
                : m_work(net::make_work_guard(m_ioc))
            {
                // Set up before this object, so torn down after it (exit runs in reverse
                // order): handlers may log until the end, and OpenSSL's cleanup at exit
                // comes after this thread has ended (else its per-thread state leaks).
                lcTransport();
                OPENSSL_init_ssl(0, nullptr);
                m_thread = std::thread([this] {
                    pthread_setname_np(pthread_self(), "ws-io");  // for top, perf and gdb
                    run();
                });
            }

            void run()
            {
                for (;;)
                {
                    try
                    {
                        if (m_ioc.run_one() == 0)
                            return;    // stopped
                        m_ioc.poll();  // whatever else is ready, then the idle tasks
                        std::vector<std::function<void()>> tasks;
                        tasks.swap(m_idleTasks);
                        for (const auto &task : tasks)
                            task();
                    }
                    catch (const std::exception &e)
                    {
                        // Nothing in here should throw; if it does, say so rather than terminate.
                        qCCritical(lcTransport, "websocket I/O thread: a handler threw: %s", e.what());
                    }
                }
            }

            net::io_context m_ioc{1};
            net::executor_work_guard<net::io_context::executor_type> m_work;
            std::vector<std::function<void()>> m_idleTasks;
            std::thread m_thread;
        };

        struct Event
        {
            enum class Kind
            {
                Connected,
                Text,
                Frame,
                Failed,
                Closed,
            };
            Kind kind = Kind::Text;
            QString text;  // Connected: subprotocol, Text: the message
            FrameRecord frame;
            ConnectFailure failure;
            CloseInfo close;
        };

        // What open() checked and worked out from the options, for the session.
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

    // The hand-over between the client (GUI thread) and its session (I/O
    // thread), both ways, under one mutex.
    struct WebSocketClient::Shared
    {
        std::mutex mutex;
        WebSocketClient *owner = nullptr;  // null once the client is gone: nothing is delivered after
        std::vector<Event> events;         // session -> client
        bool deliveryQueued = false;
        std::vector<QByteArray> outbox;  // client -> session
        bool flushQueued = false;
        WireBytes wire;  // written by the session's socket, read by the client (no mutex)

        void push(Event &&event)
        {
            std::vector<Event> one;
            one.push_back(std::move(event));
            pushAll(one);
        }

        // Moves the events over; one queued call delivers everything that arrives meanwhile.
        void pushAll(std::vector<Event> &batch)
        {
            std::lock_guard lock(mutex);
            if (owner)
            {
                std::move(batch.begin(), batch.end(), std::back_inserter(events));
                if (!std::exchange(deliveryQueued, true))
                    QMetaObject::invokeMethod(owner, &WebSocketClient::deliverEvents, Qt::QueuedConnection);
            }
            batch.clear();
        }
    };

    // One connection, on the I/O thread only (every member function below runs
    // there). Each pending operation holds a shared_ptr to it, so a session
    // whose client is gone finishes its goodbye on its own and then goes away.
    class WebSocketClient::Session final : public std::enable_shared_from_this<Session>
    {
    public:
        Session(std::shared_ptr<Shared> shared, ClientOptions options, Target target)
            : m_shared(std::move(shared))
            , m_options(std::move(options))
            , m_target(std::move(target))
            , m_ioc(IoThread::instance().context())
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

        void start()
        {
            if (m_target.tls)
            {
                if (!setUpTls())
                    return;
            }
            else
            {
                m_plain.emplace(m_ioc);
                countedSocket().rate_policy() = WireCounter(&m_shared->wire);
                m_plain->next_layer().capacity(ReadBufferBytes);
                m_plain->next_layer().buffer().reserve(ReadBufferBytes);
            }

            m_connectTimer.expires_after(m_options.connectTimeout);
            m_connectTimer.async_wait(
                [self = shared_from_this()](const error_code &ec) { self->onConnectTimeout(ec); });

            if (m_target.hostIsAddress)
            {
                // No DNS for an address.
                error_code ec;
                const auto address = net::ip::make_address(m_target.host, ec);
                if (!ec)
                {
                    m_phase = Phase::Connecting;
                    const tcp::endpoint endpoint(address, static_cast<unsigned short>(std::stoi(m_target.port)));
                    socket().async_connect(endpoint,
                                           [self = shared_from_this()](const error_code &e) { self->onConnected(e); });
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
                [self = shared_from_this()](const error_code &ec, const tcp::resolver::results_type &results) {
                    self->onResolved(ec, results);
                });
        }

        // Takes what the client queued (see WebSocketClient::sendText).
        void flushOutbox()
        {
            std::vector<QByteArray> messages;
            {
                std::lock_guard lock(m_shared->mutex);
                m_shared->flushQueued = false;
                messages.swap(m_shared->outbox);
            }
            if (m_done || m_closeRequested)
                return;
            for (QByteArray &message : messages)
                m_writes.push_back(Outgoing{.kind = Outgoing::Kind::Text, .data = std::move(message)});
            pump();
        }

        void requestClose(const quint16 code, const QString &reason)
        {
            if (m_done)
                return;
            if (m_phase != Phase::Open)
            {
                emitFailure(ConnectError::Cancelled, QStringLiteral("connection attempt cancelled"));
                return;
            }
            if (m_closeRequested)
                return;
            flushOutbox();  // what was sent before close() leaves first
            m_closeRequested = true;
            m_closeCode = code;
            m_closeReason = reason;
            m_writes.push_back(Outgoing{.kind = Outgoing::Kind::Close});
            m_closeTimer.expires_after(m_options.closeTimeout);
            m_closeTimer.async_wait([self = shared_from_this()](const error_code &ec) { self->onCloseTimeout(ec); });
            pump();
        }

        // The client object is gone: say goodbye (or give up connecting) alone.
        void goAway()
        {
            requestClose(1001, QStringLiteral("client going away"));
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

        // What waits for its turn to be written: Beast allows one write
        // operation at a time, and ping and close count as writes.
        struct Outgoing
        {
            enum class Kind
            {
                Text,
                Ping,
                Close,
            };
            Kind kind = Kind::Text;
            QByteArray data;
        };

        template <typename F>
        void withWs(F &&f)
        {
            if (m_tls)
                f(*m_tls);
            else
                f(*m_plain);
        }

        tcp::socket &socket()
        {
            return countedSocket().socket();
        }

        CountedSocket &countedSocket()
        {
            return m_tls ? beast::get_lowest_layer(*m_tls) : beast::get_lowest_layer(*m_plain);
        }

        // ---- connecting

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
            countedSocket().rate_policy() = WireCounter(&m_shared->wire);
            SSL *handle = m_tls->next_layer().native_handle();
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

        void onResolved(const error_code &ec, const tcp::resolver::results_type &results)
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
            net::async_connect(
                socket(), results,
                [self = shared_from_this()](const error_code &e, const tcp::endpoint &) { self->onConnected(e); });
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
                m_tls->next_layer().async_handshake(
                    ssl::stream_base::client,
                    [self = shared_from_this()](const error_code &e) { self->onTlsHandshake(e); });
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
                const long verify = SSL_get_verify_result(m_tls->next_layer().native_handle());
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
                // Our own timers: connectTimeout covers the whole attempt, pings are ours.
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
                ws.write_buffer_bytes(WriteBufferBytes);
                ws.auto_fragment(false);  // one frame per message
                ws.text(true);
                // Received close frames are taken from ws.reason() when the connection ends.
                ws.control_callback([this](const websocket::frame_type kind, const beast::string_view payload) {
                    if (kind == websocket::frame_type::ping)
                    {
                        // Beast answers with a pong of the same payload right away.
                        recordFrame(FrameDirection::In, FrameKind::Ping, payload);
                        recordFrame(FrameDirection::Out, FrameKind::Pong, payload);
                    }
                    else if (kind == websocket::frame_type::pong)
                    {
                        recordFrame(FrameDirection::In, FrameKind::Pong, payload);
                        onPong();
                    }
                });
                ws.async_handshake(m_response, m_target.hostHeader, m_target.path,
                                   [self = shared_from_this()](const error_code &ec) { self->onWsHandshake(ec); });
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
            queueEvent(Event{.kind = Event::Kind::Connected, .text = chosen});
            startRead();
            armPingTimer();
            pump();  // what was sent while connecting
        }

        // ---- reading

        void startRead()
        {
            withWs([this](auto &ws) {
                ws.async_read(m_readBuffer,
                              [self = shared_from_this()](const error_code &ec, std::size_t) { self->onRead(ec); });
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
            // Whatever ended the read, a received close frame wins (a peer may
            // close the TCP connection right behind it).
            if (const auto closeFrame = receivedClose())
            {
                emitClosed(*closeFrame);
                return;
            }
            if (ec == websocket::error::closed)
            {
                // A close frame without a code: 1005, "no status received".
                emitClosed(CloseInfo{.receivedCloseFrame = true,
                                     .initiatedByClient = m_closeRequested,
                                     .code = 1005,
                                     .reason = QStringLiteral("no status")});
                return;
            }
            if (ec == websocket::error::message_too_big)
            {
                // Beast has sent the close frame with 1009.
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

        // ---- writing: one operation at a time, in order

        void pump()
        {
            if (m_writing || m_done || m_phase != Phase::Open || m_writes.empty())
                return;
            m_writing = true;
            if (m_writes.size() > 1 && !m_corked)
            {
                // Several frames to go: let the kernel pack them into full TCP
                // segments, and send the rest when the I/O thread goes idle.
                m_corked = true;
                setCork(true);
                IoThread::instance().whenIdle([self = shared_from_this()] {
                    self->m_corked = false;
                    self->setCork(false);
                });
            }
            const Outgoing &next = m_writes.front();
            switch (next.kind)
            {
            case Outgoing::Kind::Text:
                withWs([this, &next](auto &ws) {
                    ws.async_write(
                        net::buffer(next.data.constData(), static_cast<std::size_t>(next.data.size())),
                        [self = shared_from_this()](const error_code &ec, std::size_t) { self->onWritten(ec); });
                });
                break;
            case Outgoing::Kind::Ping:
                recordFrame(FrameDirection::Out, FrameKind::Ping, {});
                withWs([this](auto &ws) {
                    ws.async_ping({}, [self = shared_from_this()](const error_code &ec) { self->onWritten(ec); });
                });
                break;
            case Outgoing::Kind::Close:
            {
                const QByteArray reason = truncatedUtf8(m_closeReason, MaxCloseReasonBytes);
                const websocket::close_reason frame(
                    static_cast<websocket::close_code>(m_closeCode),
                    beast::string_view(reason.constData(), static_cast<std::size_t>(reason.size())));
                recordClose(FrameDirection::Out, m_closeCode, reason, true);
                withWs([this, &frame](auto &ws) {
                    ws.async_close(frame, [self = shared_from_this()](const error_code &ec) { self->onCloseDone(ec); });
                });
                break;
            }
            }
        }

        void setCork(const bool on)
        {
            if (m_done)
                return;
            const int value = on ? 1 : 0;
            ::setsockopt(socket().native_handle(), IPPROTO_TCP, TCP_CORK, &value, sizeof(value));
        }

        void onWritten(const error_code &ec)
        {
            m_writing = false;
            if (m_done)
                return;
            if (m_writes.front().kind == Outgoing::Kind::Ping)
                m_pingQueued = false;
            m_writes.pop_front();
            if (ec)
                return;  // the connection is failing: the pending read reports how it ended
            pump();
        }

        // ---- closing

        void onCloseDone(const error_code &ec)
        {
            m_writing = false;
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

        void onCloseTimeout(const error_code &ec)
        {
            if (ec || m_done)
                return;
            qCDebug(lcTransport, "the server did not answer the close frame in time");
            emitClosed(CloseInfo{.initiatedByClient = true, .code = m_closeCode, .reason = m_closeReason});
        }

        // ---- keepalive: our own timers so interval and timeout are independent

        void armPingTimer()
        {
            if (m_options.pingInterval <= 0ms)
                return;
            m_pingTimer.expires_after(m_options.pingInterval);
            m_pingTimer.async_wait([self = shared_from_this()](const error_code &ec) {
                if (ec || self->m_done)
                    return;
                self->sendPing();
                self->armPingTimer();
            });
        }

        void sendPing()
        {
            if (m_closeRequested)
                return;
            if (!m_pingQueued)
            {
                m_pingQueued = true;
                m_writes.push_back(Outgoing{.kind = Outgoing::Kind::Ping});
                pump();
            }
            if (m_options.pongTimeout > 0ms && !m_awaitingPong)
            {
                m_awaitingPong = true;
                m_pongTimer.expires_after(m_options.pongTimeout);
                m_pongTimer.async_wait([self = shared_from_this()](const error_code &ec) { self->onPongTimeout(ec); });
            }
        }

        void onPong()
        {
            if (!m_awaitingPong)
                return;
            m_awaitingPong = false;
            m_pongTimer.cancel();
        }

        void onPongTimeout(const error_code &ec)
        {
            if (ec || m_done || !m_awaitingPong)
                return;
            qCInfo(lcTransport, "no pong within %lld ms, dropping the connection",
                   static_cast<long long>(m_options.pongTimeout.count()));
            emitClosed(CloseInfo{.code = ConnectionLostCode,
                                 .reason = QStringLiteral("connection lost: pong timeout (no pong for %1 ms)")
                                               .arg(m_options.pongTimeout.count())});
        }

        // ---- events for the GUI thread: handed over when the I/O thread goes idle

        void queueEvent(Event &&event)
        {
            if (m_pending.empty())
                IoThread::instance().whenIdle(
                    [self = shared_from_this()] { self->m_shared->pushAll(self->m_pending); });
            m_pending.push_back(std::move(event));
        }

        // ---- the end: exactly one of these, then every pending operation is cancelled

        void emitFailure(const ConnectError kind, const QString &message, const int httpStatus = 0)
        {
            if (m_done)
                return;
            qCInfo(lcTransport) << "websocket connection to" << describe(m_options.url) << "failed:" << message;
            tearDown();
            queueEvent(Event{.kind = Event::Kind::Failed,
                             .failure = ConnectFailure{.kind = kind,
                                                       .httpStatus = httpStatus,
                                                       .message = message,
                                                       .wireBytesIn = m_shared->wire.in.load(),
                                                       .wireBytesOut = m_shared->wire.out.load()}});
        }

        void emitClosed(CloseInfo info)
        {
            if (m_done)
                return;
            qCInfo(lcTransport) << "websocket to" << describe(m_options.url) << "closed:" << info.code << info.reason
                                << (info.receivedCloseFrame ? "(close frame received)" : "(no close frame)");
            const bool sentClose = m_closeRequested && m_closeFrameWritten;
            if (info.receivedCloseFrame)
            {
                recordClose(FrameDirection::In, info.code, info.reason.toUtf8(), info.initiatedByClient);
                // The server closed first: Beast echoed its code (1000 for an empty close frame).
                if (!sentClose)
                    recordClose(FrameDirection::Out, (info.code == 1005) ? quint16(1000) : info.code, {}, false);
            }
            else if (info.initiatedByClient && !sentClose)
            {
                // 1009 or a protocol error: Beast failed the connection with this code.
                recordClose(FrameDirection::Out, info.code, {}, true);
            }
            tearDown();
            info.wireBytesIn = m_shared->wire.in.load();
            info.wireBytesOut = m_shared->wire.out.load();
            queueEvent(Event{.kind = Event::Kind::Closed, .close = info});
        }

        // ---- the frame tap: control frames for the owner, in order with the messages

        void recordFrame(const FrameDirection direction, const FrameKind kind, const beast::string_view payload)
        {
            FrameRecord frame;
            frame.at = QDateTime::currentDateTimeUtc();
            frame.direction = direction;
            frame.kind = kind;
            frame.payload = QByteArray(payload.data(), static_cast<qsizetype>(payload.size()));
            frame.payloadBytes = frame.payload.size();
            queueEvent(Event{.kind = Event::Kind::Frame, .frame = std::move(frame)});
        }

        void recordClose(const FrameDirection direction, const quint16 code, const QByteArray &reason,
                         const bool closedByClient)
        {
            if (direction == FrameDirection::Out)
                m_closeFrameWritten = true;
            FrameRecord frame;
            frame.at = QDateTime::currentDateTimeUtc();
            frame.direction = direction;
            frame.kind = FrameKind::Close;
            frame.payload = reason;
            // A close frame's payload: the 2-byte code and the reason (none for 1005).
            frame.payloadBytes = (code == 1005) ? 0 : 2 + reason.size();
            frame.closeCode = code;
            frame.closedByClient = closedByClient;
            queueEvent(Event{.kind = Event::Kind::Frame, .frame = std::move(frame)});
        }

        // The aborted handlers then run, drop their references, and the session goes.
        void tearDown()
        {
            m_done = true;
            m_resolver.cancel();
            m_connectTimer.cancel();
            m_pingTimer.cancel();
            m_pongTimer.cancel();
            m_closeTimer.cancel();
            if (m_plain || m_tls)
            {
                error_code ignored;
                socket().shutdown(tcp::socket::shutdown_both, ignored);
                socket().close(ignored);
            }
        }

        const std::shared_ptr<Shared> m_shared;
        const ClientOptions m_options;
        const Target m_target;

        net::io_context &m_ioc;
        std::optional<ssl::context> m_ssl;
        tcp::resolver m_resolver;
        std::optional<PlainWs> m_plain;
        std::optional<TlsWs> m_tls;
        net::steady_timer m_connectTimer;
        net::steady_timer m_pingTimer;
        net::steady_timer m_pongTimer;
        net::steady_timer m_closeTimer;
        websocket::response_type m_response;
        beast::flat_buffer m_readBuffer;
        // The front entry is being written while m_writing; it stays until its handler ran.
        std::deque<Outgoing> m_writes;
        std::vector<Event> m_pending;  // for the GUI thread, see queueEvent

        Phase m_phase = Phase::Resolving;
        bool m_done = false;
        bool m_writing = false;
        bool m_closeRequested = false;
        bool m_pingQueued = false;
        bool m_corked = false;
        bool m_awaitingPong = false;
        bool m_closeFrameWritten = false;  // a close frame of ours went out (or was queued to)
        quint16 m_closeCode = 1000;
        QString m_closeReason;
    };

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
        // The session says goodbye (1001) on the I/O thread; nothing here waits for it.
        if (m_session)
        {
            net::io_context &ioc = m_session->ioc();
            net::post(ioc, [session = std::move(m_session)] { session->goAway(); });
        }
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
        m_session = std::make_shared<Session>(m_shared, options, std::move(target));
        net::post(m_session->ioc(), [session = m_session] { session->start(); });
        return true;
    }

    bool WebSocketClient::sendText(const QString &message)
    {
        if (!m_session || (m_state != State::Connecting && m_state != State::Connected))
            return false;
        bool wake = false;
        {
            std::lock_guard lock(m_shared->mutex);
            m_shared->outbox.push_back(message.toUtf8());
            wake = !std::exchange(m_shared->flushQueued, true);
        }
        // One wake-up of the I/O thread takes everything queued until it runs.
        if (wake)
            net::post(m_session->ioc(), [session = m_session] { session->flushOutbox(); });
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
        if (m_session)  // else open() refused the options and failed() is on its way
            net::post(m_session->ioc(), [session = m_session, code, reason] { session->requestClose(code, reason); });
    }

    WebSocketClient::State WebSocketClient::state() const
    {
        return m_state;
    }

    QString WebSocketClient::subprotocol() const
    {
        return m_subprotocol;
    }

    qint64 WebSocketClient::wireBytesIn() const
    {
        return m_shared->wire.in.load();
    }

    qint64 WebSocketClient::wireBytesOut() const
    {
        return m_shared->wire.out.load();
    }

    void WebSocketClient::deliverEvents()
    {
        std::vector<Event> batch;
        {
            std::lock_guard lock(m_shared->mutex);
            batch.swap(m_shared->events);
            m_shared->deliveryQueued = false;
        }
        const QPointer<WebSocketClient> self(this);
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
            case Event::Kind::Frame: emit controlFrame(event.frame); break;
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
                return;  // a slot deleted us
        }
    }
}  // namespace Lockstep::Transport
