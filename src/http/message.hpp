// The request and response as handlers see them: plain data with no Beast types, so the
// API layer compiles without Beast and is tested without sockets.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cas::http {

using Fields = std::vector<std::pair<std::string, std::string>>;

// The client's side of the connection, for handlers that work for a long time and should
// stop when nobody is waiting any more.
class ClientConnection {
public:
    virtual ~ClientConnection() = default;
    // Completes when the client has closed or broken the connection (or when cancelled).
    virtual boost::asio::awaitable<void> wait_gone() = 0;
};

// The Server-Sent Events comment that keeps a quiet stream open through proxies, for every
// streamed route.
inline constexpr std::string_view kSseKeepAlive = ": keep-alive\n\n";

// Sends a streamed response body piece by piece, each as soon as it is written. The header
// block goes with the first piece (or the end of an empty body), so a header learned before
// it (the chat's X-Session-Id, from the CLI's first line) can still be added.
class BodyWriter {
public:
    virtual ~BodyWriter() = default;
    // False once the client is gone.
    virtual boost::asio::awaitable<bool> write(std::string_view data) = 0;
    // One more response header; false (and nothing added) once the headers are out.
    virtual bool add_header(std::string_view name, std::string_view value) = 0;
};

struct Request {
    std::string method;
    std::string target;                 // as sent, for logs
    std::vector<std::string> segments;  // decoded path segments
    Fields query;                       // decoded query parameters, in order
    Fields headers;                     // as sent
    Fields params;                      // path parameters from the route pattern
    std::string body;
    std::string request_id;
    std::string route;                   // the matched pattern ("/jobs/{id}"), empty if none
    ClientConnection* client = nullptr;  // set by the server for the handler's lifetime

    // First header with this name (case-insensitive), if any.
    [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const;
    [[nodiscard]] std::optional<std::string_view> param(std::string_view name) const;
    [[nodiscard]] std::optional<std::string_view> query_param(std::string_view name) const;
};

struct Response {
    unsigned status = 200;
    std::string_view content_type = "application/json";  // always a literal: not copied
    std::string body;
    Fields headers;      // extra headers (Allow, WWW-Authenticate, Retry-After, ...)
    std::string job_id;  // for the request log line, when the request concerns a job
    // When set, the body is streamed (chunked) by this coroutine and `body` is unused.
    std::function<boost::asio::awaitable<void>(BodyWriter&)> stream;
};

// The request outlives the handler: the session awaits it before touching the request again.
using Handler = std::function<boost::asio::awaitable<Response>(const Request&)>;

}  // namespace cas::http
