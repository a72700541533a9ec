#include "webhooks/webhook_client.hpp"

#include "util/async.hpp"
#include "webhooks/address_policy.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <fmt/format.h>

#include <fstream>
#include <openssl/ssl.h>
#include <stdexcept>

namespace cas::webhooks {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

namespace {

constexpr std::size_t kMaxAnswerBytes = 16U * 1024U;
constexpr std::size_t kErrorExcerptBytes = 200;

// A receiver's words in our record and logs: printable ASCII only, and short.
std::string excerpt(std::string_view text) {
    std::string out;
    for (char c : text.substr(0, kErrorExcerptBytes)) {
        out += c >= 0x20 && c < 0x7f ? c : '?';
    }
    return out;
}

std::string host_header(const CallbackUrl& url) {
    auto host = url.host.find(':') != std::string::npos ? fmt::format("[{}]", url.host) : url.host;
    bool default_port = url.port == (url.https ? 443 : 80);
    return default_port ? host : fmt::format("{}:{}", host, url.port);
}

template <class Stream>
asio::awaitable<AttemptOutcome> exchange(Stream& stream,
                                         http::request<http::string_body>& request) {
    auto [write_error, written] = co_await http::async_write(stream, request, kUseNothrow);
    if (write_error)
        co_return AttemptOutcome{std::nullopt, fmt::format("sending: {}", write_error.message())};
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(kMaxAnswerBytes);
    auto [read_error, read] = co_await http::async_read(stream, buffer, parser, kUseNothrow);
    if (read_error && !(read_error == http::error::body_limit && parser.is_header_done())) {
        co_return AttemptOutcome{std::nullopt,
                                 fmt::format("reading the answer: {}", read_error.message())};
    }
    const auto& answer = parser.get();
    int status = static_cast<int>(answer.result_int());
    AttemptOutcome outcome{status, ""};
    if (status >= 300 && status < 400) {
        outcome.error = fmt::format("HTTP {} (redirects are not followed)", status);
    } else if (status < 200 || status >= 300) {
        outcome.error = fmt::format("HTTP {}", status);
        if (!answer.body().empty()) {
            outcome.error += ": ";
            outcome.error += excerpt(answer.body());
        }
    }
    co_return outcome;
}

}  // namespace

WebhookClient::WebhookClient(std::optional<std::string> ca_file) : ca_file_(std::move(ca_file)) {
    if (ca_file_ && !std::ifstream(*ca_file_)) {
        throw std::runtime_error(fmt::format("WEBHOOK_CA_FILE '{}' cannot be read", *ca_file_));
    }
}

asio::ssl::context& WebhookClient::tls() {
    if (tls_) return *tls_;
    asio::ssl::context context(asio::ssl::context::tls_client);
    context.set_verify_mode(asio::ssl::verify_peer);
    boost::system::error_code ec;
    if (ca_file_) {
        context.load_verify_file(*ca_file_, ec);
        if (ec) {
            throw std::runtime_error(
                fmt::format("WEBHOOK_CA_FILE '{}' cannot be loaded: {}", *ca_file_, ec.message()));
        }
    } else {
        context.set_default_verify_paths(ec);  // honours SSL_CERT_FILE and SSL_CERT_DIR
        if (ec) {
            throw std::runtime_error(
                fmt::format("the system's certificate store cannot be loaded: {}", ec.message()));
        }
    }
    tls_.emplace(std::move(context));
    return *tls_;
}

asio::awaitable<AttemptOutcome> WebhookClient::post(const CallbackUrl& url, HostMatch match,
                                                    const OutgoingRequest& request,
                                                    std::chrono::milliseconds timeout) {
    auto executor = co_await asio::this_coro::executor;
    tcp::resolver resolver(executor);
    auto [resolve_error, found] =
        co_await resolver.async_resolve(url.host, std::to_string(url.port), kUseNothrow);
    if (resolve_error) {
        co_return AttemptOutcome{
            std::nullopt, fmt::format("resolving {}: {}", url.host, resolve_error.message())};
    }
    std::vector<asio::ip::address> addresses;
    for (const auto& entry : found) addresses.push_back(entry.endpoint().address());
    auto permitted = reachable(addresses, match);
    if (permitted.allowed.empty()) {
        co_return AttemptOutcome{
            std::nullopt,
            fmt::format("refused: {} resolves only to addresses callbacks may not reach ({}); "
                        "list it by name in WEBHOOK_ALLOWED_HOSTS to allow it",
                        url.host, permitted.refused)};
    }
    std::vector<tcp::endpoint> endpoints;
    for (const auto& address : permitted.allowed) endpoints.emplace_back(address, url.port);

    http::request<http::string_body> message{http::verb::post, url.target, 11};
    message.set(http::field::host, host_header(url));
    message.set(http::field::user_agent, "claude-agent-service");
    message.set(http::field::content_type, "application/json");
    message.set(http::field::connection, "close");
    for (const auto& [name, value] : request.headers) message.set(name, value);
    message.body() = request.body;
    message.prepare_payload();

    beast::tcp_stream tcp_stream(executor);
    tcp_stream.expires_after(timeout);  // one deadline for the whole exchange
    auto [connect_error, endpoint] = co_await tcp_stream.async_connect(endpoints, kUseNothrow);
    if (connect_error) {
        co_return AttemptOutcome{
            std::nullopt, fmt::format("connecting to {}: {}", url.host, connect_error.message())};
    }
    if (!url.https) {
        auto outcome = co_await exchange(tcp_stream, message);
        co_return outcome;
    }
    asio::ssl::context* context = nullptr;
    std::string tls_problem;
    try {
        context = &tls();
    } catch (const std::runtime_error& e) {
        tls_problem = fmt::format("TLS: {}", e.what());
    }
    if (context == nullptr) co_return AttemptOutcome{std::nullopt, tls_problem};
    beast::ssl_stream<beast::tcp_stream> tls_stream(std::move(tcp_stream), *context);
    if (!url.host_is_address &&
        SSL_set_tlsext_host_name(tls_stream.native_handle(), url.host.c_str()) != 1) {
        co_return AttemptOutcome{std::nullopt, "TLS: cannot set the server name"};
    }
    tls_stream.set_verify_callback(asio::ssl::host_name_verification(url.host));
    auto [handshake_error] =
        co_await tls_stream.async_handshake(asio::ssl::stream_base::client, kUseNothrow);
    if (handshake_error) {
        co_return AttemptOutcome{std::nullopt,
                                 fmt::format("TLS handshake: {}", handshake_error.message())};
    }
    auto outcome = co_await exchange(tls_stream, message);
    co_return outcome;
}

}  // namespace cas::webhooks
