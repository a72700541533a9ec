// Listener and sessions on Beast. The order inside a session is the point of this file:
// read headers (bounded, timed) → route → authenticate → check the declared length →
// read the body (bounded, timed) → run the handler → write → keep-alive or close.
// Anything the client sends wrong ends in a JSON 4xx or a close, never an exception
// escaping the session.
#include "http/server.hpp"

#include "http/auth.hpp"
#include "http/response.hpp"
#include "log.hpp"
#include "random_id.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>

#include <chrono>
#include <exception>
#include <unordered_set>

namespace cas::http {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kNothrow = asio::as_tuple(asio::use_awaitable);
using Clock = std::chrono::steady_clock;

// What the session knows about a connection, so stop() can close idle ones.
struct SessionState {
    beast::tcp_stream* stream;
    bool idle = true;  // waiting for (the rest of) a request's headers
};

bool valid_request_id(std::string_view id) {
    if (id.empty() || id.size() > 128) return false;
    for (char c : id) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '.';
        if (!ok) return false;
    }
    return true;
}

// Copies what handlers need out of Beast's header; false if the target is not a valid
// origin-form URL.
bool to_request(const bhttp::request_parser<bhttp::string_body>::value_type& msg, Request& out) {
    out.method = msg.method_string();
    out.target = msg.target();
    auto url = boost::urls::parse_origin_form(msg.target());
    if (!url) return false;
    for (auto segment : url->segments()) out.segments.emplace_back(segment);
    for (auto param : url->params()) out.query.emplace_back(param.key, param.value);
    for (const auto& field : msg) out.headers.emplace_back(field.name_string(), field.value());
    auto id = out.header("X-Request-Id");
    out.request_id = id && valid_request_id(*id) ? std::string(*id) : random_hex(16);
    return true;
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
                co_await stream_.socket().async_read_some(buffer_.prepare(4096), kNothrow);
            if (ec) co_return;  // EOF, reset, or cancelled
            buffer_.commit(n);
        }
        asio::steady_timer forever(stream_.get_executor(), asio::steady_timer::time_point::max());
        co_await forever.async_wait(kNothrow);
    }

    asio::awaitable<bool> write(std::string_view data) override {
        if (failed_) co_return false;
        if (data.empty()) co_return true;  // an empty chunk would end the body
        stream_.expires_after(write_timeout_);
        auto [ec, n] =
            co_await asio::async_write(stream_, bhttp::make_chunk(asio::buffer(data)), kNothrow);
        failed_ = static_cast<bool>(ec);
        co_return !failed_;
    }

    // Ends the chunked body; false if the client is gone.
    asio::awaitable<bool> finish() {
        if (failed_) co_return false;
        stream_.expires_after(write_timeout_);
        auto [ec, n] = co_await asio::async_write(stream_, bhttp::make_chunk_last(), kNothrow);
        co_return !ec;
    }

private:
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
    void admit(tcp::socket socket);
    asio::awaitable<void> session(tcp::socket socket);
    // Handles one request whose headers are parsed. Reads the body when the request is
    // allowed in. Sets `close` when the connection cannot be reused.
    asio::awaitable<Response> serve(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                    bhttp::request_parser<bhttp::string_body>& parser,
                                    Request& request, bool& close);
    asio::awaitable<bool> write(beast::tcp_stream& stream, const Request& request,
                                Response response, bool keep_alive, unsigned version);
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
        auto [ec, socket] = co_await acceptor.async_accept(kNothrow);
        if (ec) {
            if (stopping || ec == asio::error::operation_aborted) co_return;
            // EMFILE and friends: log, back off briefly, keep serving.
            log::warn("accept failed", {{"error", ec.message()}});
            asio::steady_timer pause(io, std::chrono::milliseconds(50));
            co_await pause.async_wait(kNothrow);
            continue;
        }
        admit(std::move(socket));
        // Take what else is waiting now: one accept per turn of the event loop left new
        // connections queued behind every busy session (0.5 s at 256 connections).
        for (int burst = 0; burst < 64; ++burst) {
            tcp::socket next(io);
            acceptor.accept(next, ec);  // the acceptor is non-blocking
            if (ec) break;
            admit(std::move(next));
        }
    }
}

void Server::Impl::admit(tcp::socket socket) {
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

    const auto read_timeout = std::chrono::seconds(options.read_timeout_seconds);
    // Bounded: chunk-extension and trailer lines are not covered by the header or body
    // limits, so without a cap an endless one would grow this buffer without end.
    beast::flat_buffer buffer(options.max_header_bytes + 64U * 1024U);
    bool keep_alive = true;
    while (keep_alive && !stopping) {
        bhttp::request_parser<bhttp::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
        parser.body_limit(boost::none);  // checked after authentication, see serve()

        state.idle = true;
        stream.expires_after(read_timeout);
        auto [ec, bytes] = co_await bhttp::async_read_header(stream, buffer, parser, kNothrow);
        state.idle = false;
        auto started = Clock::now();
        if (ec == bhttp::error::end_of_stream || ec == asio::error::operation_aborted ||
            ec == asio::error::connection_reset || ec == asio::error::bad_descriptor) {
            break;  // the client left, or stop() closed an idle connection
        }
        if (ec == beast::error::timeout) {
            log::info("connection closed: read timeout",
                      {{"timeout_s", options.read_timeout_seconds}});
            break;
        }

        Request request;
        SessionConnection connection(stream, buffer, read_timeout, options.max_header_bytes);
        request.client = &connection;
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
            try {
                response = co_await serve(stream, buffer, parser, request, close);
            } catch (const std::exception& ex) {
                // The one boundary for the unexpected: log it, answer a generic 500.
                log::error("handler failed",
                           {{"request_id", request.request_id}, {"error", ex.what()}});
                response =
                    error_response(dialect_for(request.segments), 500, "Internal server error");
            }
            keep_alive = parser.keep_alive();
        }
        if (close || stopping) keep_alive = false;
        auto status = response.status;
        auto job_id = std::move(response.job_id);
        bool written =
            response.stream
                ? co_await write_streamed(stream, connection, request, std::move(response),
                                          keep_alive, version)
                : co_await write(stream, request, std::move(response), keep_alive, version);
        std::chrono::duration<double> elapsed = Clock::now() - started;
        boost::json::object fields{{"request_id", request.request_id},
                                   {"method", request.method},
                                   {"target", request.target},
                                   {"route", request.route},
                                   {"status", status},
                                   {"duration_ms", elapsed.count() * 1000.0}};
        if (!job_id.empty()) fields["job_id"] = job_id;
        log::info("request", std::move(fields));
        if (options.on_request) options.on_request(request.route, request.method, status, elapsed);
        if (!written) co_return;
    }
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

asio::awaitable<Response> Server::Impl::serve(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                              bhttp::request_parser<bhttp::string_body>& parser,
                                              Request& request, bool& close) {
    // A request that is refused before its body is read leaves the body on the wire.
    close = !parser.is_done();
    // A Transfer-Encoding that does not end in chunked leaves the body length unknowable
    // (RFC 9112 6.3): reading it any other way is how requests are smuggled.
    if (parser.get().count(bhttp::field::transfer_encoding) != 0 && !parser.chunked()) {
        close = true;
        request.request_id = random_hex(16);
        co_return error_response(ErrorDialect::detail, 400, "Unsupported Transfer-Encoding");
    }
    if (!to_request(parser.get(), request)) {
        request.request_id = random_hex(16);
        co_return error_response(ErrorDialect::detail, 400, "Malformed request target");
    }
    auto dialect = dialect_for(request.segments);
    auto match = router.match(request.method, request.segments);
    if (match.route != nullptr) request.route = match.route->pattern;
    if (match.kind == RouteMatch::Kind::not_found) {
        co_return error_response(dialect, 404, "Not Found");
    }
    if (match.kind == RouteMatch::Kind::method_not_allowed) {
        auto response = error_response(dialect, 405, "Method Not Allowed");
        response.headers.emplace_back("Allow", match.allow);
        co_return response;
    }
    if (match.route->access == Access::bearer) {
        auto outcome = check_bearer(request.header("Authorization"), options.bearer_token);
        if (outcome != AuthOutcome::ok)
            co_return unauthorized(dialect, auth_failure_message(outcome));
    }
    if (auto length = parser.content_length(); length && *length > options.max_body_bytes) {
        co_return error_response(
            dialect, 413,
            "Request body too large (limit " + std::to_string(options.max_body_bytes) + " bytes)");
    }
    if (!parser.is_done()) {
        parser.body_limit(options.max_body_bytes);
        stream.expires_after(std::chrono::seconds(options.read_timeout_seconds));
        auto [ec, bytes] = co_await bhttp::async_read(stream, buffer, parser, kNothrow);
        if (ec == bhttp::error::body_limit) {
            co_return error_response(dialect, 413,
                                     "Request body too large (limit " +
                                         std::to_string(options.max_body_bytes) + " bytes)");
        }
        if (ec) {
            // A timeout has already closed the socket (tcp_stream does), so this answer is
            // only written for a malformed body; then the connection closes.
            co_return error_response(dialect, 400, "Malformed request body: " + ec.message());
        }
        close = false;
    }
    request.body = std::move(parser.get().body());
    request.params = std::move(match.params);
    co_return co_await match.route->handler(request);
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
    bhttp::response_serializer<bhttp::empty_body> serializer{message};
    stream.expires_after(std::chrono::seconds(options.read_timeout_seconds));
    auto [ec, bytes] = co_await bhttp::async_write_header(stream, serializer, kNothrow);
    if (ec) co_return false;
    try {
        co_await response.stream(connection);
    } catch (const std::exception& ex) {
        // Headers are out: all that is left is to end the body early and close.
        log::error("stream failed", {{"request_id", request.request_id}, {"error", ex.what()}});
        co_return false;
    }
    co_return co_await connection.finish();
}

asio::awaitable<bool> Server::Impl::write(beast::tcp_stream& stream, const Request& request,
                                          Response response, bool keep_alive, unsigned version) {
    bhttp::response<bhttp::string_body> message{static_cast<bhttp::status>(response.status),
                                                version};
    message.set(bhttp::field::content_type, response.content_type);
    if (!request.request_id.empty()) message.set("X-Request-Id", request.request_id);
    for (auto& [name, value] : response.headers) message.set(name, value);
    message.body() = std::move(response.body);
    message.keep_alive(keep_alive);
    message.prepare_payload();
    stream.expires_after(std::chrono::seconds(options.read_timeout_seconds));
    auto [ec, bytes] = co_await bhttp::async_write(stream, message, kNothrow);
    co_return !ec;
}

}  // namespace cas::http
