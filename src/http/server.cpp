// Listener and sessions on Beast. The order inside a session is the point of this file:
// read headers (bounded, timed) → admit (http::admit: framing, target, route, token, declared
// length) → read the body (bounded, timed) → run the handler → write (headers alone for
// HEAD) → keep-alive or close. Anything the client sends wrong ends in a JSON 4xx or a
// close, never an exception escaping the session.
#include "http/server.hpp"

#include "http/admit.hpp"
#include "http/response.hpp"
#include "http/response_head.hpp"
#include "telemetry/log.hpp"
#include "util/async.hpp"
#include "util/random_id.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <cmath>
#include <exception>
#include <unordered_set>

namespace cas::http {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

using Clock = std::chrono::steady_clock;
using Parser = bhttp::request_parser<bhttp::string_body>;

// What the session knows about a connection, so stop() can close idle ones.
struct SessionState {
    beast::tcp_stream* stream;
    bool idle = true;  // waiting for (the rest of) a request's headers
};

// A response to HEAD carries GET's headers and no body (RFC 9110 9.3.2).
bool headers_only(const Request& request) {
    return request.method == "HEAD";
}

// Milliseconds to at most 3 decimals: the log line needs no nanoseconds of noise.
double rounded_ms(std::chrono::duration<double> elapsed) {
    return std::round(elapsed.count() * 1e6) / 1e3;
}

// The connection as a handler sees it: a watch for the client leaving, and a chunked
// body writer for streamed responses.
class SessionConnection final : public ClientConnection, public BodyWriter {
public:
    SessionConnection(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                      std::chrono::seconds write_timeout, std::size_t buffer_limit)
        : stream_(stream),
          buffer_(buffer),
          write_timeout_(write_timeout),
          buffer_limit_(buffer_limit) {}

    asio::awaitable<void> wait_gone() override {
        // Bytes that arrive meanwhile (a pipelined request) are kept for the session; a
        // client that floods them is still present, so stop reading and just wait.
        while (buffer_.size() < buffer_limit_) {
            auto [ec, n] =
                co_await stream_.socket().async_read_some(buffer_.prepare(4096), kUseNothrow);
            if (ec) co_return;  // EOF, reset, or cancelled
            buffer_.commit(n);
        }
        Event never(stream_.get_executor());
        co_await never.wait();
    }

    // The header block of a streamed response, sent before its first piece.
    void hold_head(bhttp::response<bhttp::empty_body> head) { head_ = std::move(head); }

    bool add_header(std::string_view name, std::string_view value) override {
        if (!head_) return false;
        head_->set(name, value);
        return true;
    }

    asio::awaitable<bool> write(std::string_view data) override {
        if (data.empty()) co_return !failed_;  // an empty chunk would end the body
        bool headed = co_await send_head();
        if (!headed) co_return false;
        stream_.expires_after(write_timeout_);
        auto [ec, n] =
            co_await asio::async_write(stream_, bhttp::make_chunk(asio::buffer(data)), kUseNothrow);
        failed_ = static_cast<bool>(ec);
        co_return !failed_;
    }

    // Ends the chunked body; false if the client is gone.
    asio::awaitable<bool> finish() {
        bool headed = co_await send_head();
        if (!headed) co_return false;
        stream_.expires_after(write_timeout_);
        auto [ec, n] = co_await asio::async_write(stream_, bhttp::make_chunk_last(), kUseNothrow);
        co_return !ec;
    }

private:
    asio::awaitable<bool> send_head() {
        if (failed_) co_return false;
        if (!head_) co_return true;
        auto head = std::move(*head_);
        head_.reset();
        bhttp::response_serializer<bhttp::empty_body> serializer{head};
        stream_.expires_after(write_timeout_);
        auto [ec, bytes] = co_await bhttp::async_write_header(stream_, serializer, kUseNothrow);
        failed_ = static_cast<bool>(ec);
        co_return !failed_;
    }

    std::optional<bhttp::response<bhttp::empty_body>> head_;
    beast::tcp_stream& stream_;
    beast::flat_buffer& buffer_;
    std::chrono::seconds write_timeout_;
    std::size_t buffer_limit_;
    bool failed_ = false;
};

}  // namespace

struct Server::Impl {
    asio::io_context& io;
    const Router& router;
    ServerOptions options;
    tcp::acceptor acceptor;
    std::unordered_set<SessionState*> sessions;
    bool stopping = false;

    Impl(asio::io_context& io_, const Router& router_, ServerOptions options_)
        : io(io_), router(router_), options(std::move(options_)), acceptor(io_) {}

    asio::awaitable<void> accept_loop();
    void spawn_session(tcp::socket socket);
    asio::awaitable<void> session(tcp::socket socket);
    // Reads the body of an admitted request, if it has one, and runs its handler. Sets
    // `close` when the connection cannot be reused.
    asio::awaitable<Response> serve(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                    Parser& parser, const Admitted& admitted, Request& request,
                                    bool& close);
    asio::awaitable<bool> write(beast::tcp_stream& stream, std::string& head,
                                const Request& request, const Response& response, bool keep_alive,
                                unsigned version);
    asio::awaitable<bool> write_streamed(beast::tcp_stream& stream, SessionConnection& connection,
                                         const Request& request, Response response, bool keep_alive,
                                         unsigned version);
};

Server::Server(asio::io_context& io, const Router& router, ServerOptions options)
    : impl_(std::make_unique<Impl>(io, router, std::move(options))) {}

Server::~Server() = default;

std::uint16_t Server::listen() {
    auto address = asio::ip::make_address(impl_->options.host);
    tcp::endpoint endpoint(address, impl_->options.port);
    auto& acceptor = impl_->acceptor;
    acceptor.open(endpoint.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen(asio::socket_base::max_listen_connections);
    acceptor.non_blocking(true);
    return acceptor.local_endpoint().port();
}

void Server::start() {
    asio::co_spawn(impl_->io, impl_->accept_loop(), [](const std::exception_ptr& e) {
        if (!e) return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            log::error("accept loop failed", {{"error", ex.what()}});
        }
    });
}

void Server::stop() {
    auto& impl = *impl_;
    impl.stopping = true;
    boost::system::error_code ignored;
    impl.acceptor.close(ignored);
    for (auto* state : impl.sessions) {
        // Busy sessions finish their request and then close (they check `stopping`).
        if (state->idle) state->stream->socket().close(ignored);
    }
}

asio::awaitable<void> Server::Impl::accept_loop() {
    for (;;) {
        auto [ec, socket] = co_await acceptor.async_accept(kUseNothrow);
        if (ec) {
            if (stopping || ec == asio::error::operation_aborted) co_return;
            // EMFILE and friends: log, back off briefly, keep serving.
            log::warn("accept failed", {{"error", ec.message()}});
            Timer pause(io, std::chrono::milliseconds(50));
            co_await pause.async_wait();
            continue;
        }
        spawn_session(std::move(socket));
        // Take what else is waiting now: one accept per turn of the event loop left new
        // connections queued behind every busy session (0.5 s at 256 connections).
        for (int burst = 0; burst < 64; ++burst) {
            tcp::socket next(io);
            acceptor.accept(next, ec);  // the acceptor is non-blocking
            if (ec) break;
            spawn_session(std::move(next));
        }
    }
}

void Server::Impl::spawn_session(tcp::socket socket) {
    boost::system::error_code ignored;
    if (sessions.size() >= options.max_connections) {
        log::warn("connection refused: too many connections", {{"limit", options.max_connections}});
        socket.close(ignored);
        return;
    }
    socket.set_option(tcp::no_delay(true), ignored);
    asio::co_spawn(io, session(std::move(socket)), [](const std::exception_ptr& e) {
        if (!e) return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            log::error("session failed", {{"error", ex.what()}});
        }
    });
}

asio::awaitable<void> Server::Impl::session(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    SessionState state{&stream};
    sessions.insert(&state);
    struct Unregister {
        std::unordered_set<SessionState*>& set;
        SessionState* state;
        ~Unregister() { set.erase(state); }
    } unregister{sessions, &state};

    const auto read_timeout = options.read_timeout;
    // Bounded: chunk-extension and trailer lines are not covered by the header or body
    // limits, so without a cap an endless one would grow this buffer without end.
    beast::flat_buffer buffer(options.max_header_bytes + 64U * 1024U);
    std::string head;  // each response's head, in memory kept from the one before
    bool keep_alive = true;
    while (keep_alive && !stopping) {
        Parser parser;
        parser.header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
        parser.body_limit(boost::none);  // after admission, see serve()

        state.idle = true;
        stream.expires_after(read_timeout);
        auto [ec, bytes] = co_await bhttp::async_read_header(stream, buffer, parser, kUseNothrow);
        state.idle = false;
        auto started = Clock::now();
        if (ec == bhttp::error::end_of_stream || ec == asio::error::operation_aborted ||
            ec == asio::error::connection_reset || ec == asio::error::bad_descriptor) {
            break;  // the client left, or stop() closed an idle connection
        }
        if (ec == beast::error::timeout) {
            log::info("connection closed: read timeout",
                      {{"timeout_s", options.read_timeout.count()}});
            break;
        }

        Request request;
        SessionConnection connection(stream, buffer, read_timeout, options.max_header_bytes);
        Response response;
        bool close = false;
        unsigned version = 11;
        if (ec) {
            close = true;
            request.request_id = random_hex(16);
            response = ec == bhttp::error::header_limit
                           ? error_response(ErrorDialect::detail, 431, "Request headers too large")
                           : error_response(ErrorDialect::detail, 400,
                                            "Malformed HTTP request: " + ec.message());
        } else {
            version = parser.get().version();
            auto admission =
                admit(request_head(parser), router, {.max_body_bytes = options.max_body_bytes},
                      options.bearer_token);
            request = std::move(admission.request);
            request.client = &connection;
            if (auto* refusal = std::get_if<Refusal>(&admission.outcome)) {
                response = std::move(refusal->response);
                close = refusal->close;
            } else {
                try {
                    response =
                        co_await serve(stream, buffer, parser,
                                       std::get<Admitted>(admission.outcome), request, close);
                } catch (const std::exception& ex) {
                    // The one boundary for the unexpected: log it, answer a generic 500.
                    log::error("handler failed",
                               {{"request_id", request.request_id}, {"error", ex.what()}});
                    response =
                        error_response(dialect_for(request.segments), 500, "Internal server error");
                }
            }
            keep_alive = parser.keep_alive();
        }
        if (close || stopping) keep_alive = false;
        auto status = response.status;
        auto job_id = std::move(response.job_id);
        bool written = response.stream
                           ? co_await write_streamed(stream, connection, request,
                                                     std::move(response), keep_alive, version)
                           : co_await write(stream, head, request, response, keep_alive, version);
        std::chrono::duration<double> elapsed = Clock::now() - started;
        log::Line line(log::Level::info, "request");
        line.field("request_id", request.request_id)
            .field("method", request.method)
            .field("target", request.target)
            .field("route", request.route)
            .field("status", status)
            .field("duration_ms", rounded_ms(elapsed));
        if (!job_id.empty()) line.field("job_id", job_id);
        line.write();
        if (options.on_request) options.on_request(request.route, request.method, status, elapsed);
        if (!written) co_return;
    }
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

asio::awaitable<Response> Server::Impl::serve(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                              Parser& parser, const Admitted& admitted,
                                              Request& request, bool& close) {
    if (admitted.read_body) {
        // Until the body is read whole, what follows on the wire is not the next request.
        close = true;
        parser.body_limit(options.max_body_bytes);
        stream.expires_after(options.read_timeout);
        auto [ec, bytes] = co_await bhttp::async_read(stream, buffer, parser, kUseNothrow);
        auto dialect = dialect_for(request.segments);
        if (ec == bhttp::error::body_limit) {
            co_return body_too_large(dialect, options.max_body_bytes);
        }
        if (ec) {
            // A timeout has already closed the socket (tcp_stream does), so this answer is
            // only written for a malformed body; then the connection closes.
            co_return error_response(dialect, 400, "Malformed request body: " + ec.message());
        }
        close = false;
    }
    request.body = std::move(parser.get().body());
    co_return co_await admitted.route->handler(request);
}

asio::awaitable<bool> Server::Impl::write_streamed(beast::tcp_stream& stream,
                                                   SessionConnection& connection,
                                                   const Request& request, Response response,
                                                   bool keep_alive, unsigned version) {
    bhttp::response<bhttp::empty_body> message{static_cast<bhttp::status>(response.status),
                                               version};
    message.set(bhttp::field::content_type, response.content_type);
    message.set(bhttp::field::cache_control, "no-cache");
    if (!request.request_id.empty()) message.set("X-Request-Id", request.request_id);
    for (auto& [name, value] : response.headers) message.set(name, value);
    message.keep_alive(keep_alive);
    message.chunked(true);
    if (headers_only(request)) {  // the stream never starts
        bhttp::response_serializer<bhttp::empty_body> serializer{message};
        stream.expires_after(options.read_timeout);
        auto [ec, bytes] = co_await bhttp::async_write_header(stream, serializer, kUseNothrow);
        co_return !ec;
    }
    connection.hold_head(std::move(message));
    try {
        co_await response.stream(connection);
    } catch (const std::exception& ex) {
        // Headers are out: all that is left is to end the body early and close.
        log::error("stream failed", {{"request_id", request.request_id}, {"error", ex.what()}});
        co_return false;
    }
    co_return co_await connection.finish();
}

asio::awaitable<bool> Server::Impl::write(beast::tcp_stream& stream, std::string& head,
                                          const Request& request, const Response& response,
                                          bool keep_alive, unsigned version) {
    // Content-Length as GET would send it, for HEAD too.
    render_head(head, response, response.body.size(),
                {.request_id = request.request_id, .keep_alive = keep_alive, .version = version});
    stream.expires_after(options.read_timeout);
    std::array<asio::const_buffer, 2> pieces{asio::buffer(head), asio::buffer(response.body)};
    if (headers_only(request)) pieces[1] = asio::const_buffer();
    auto [ec, bytes] = co_await asio::async_write(stream, pieces, kUseNothrow);
    co_return !ec;
}

}  // namespace cas::http
