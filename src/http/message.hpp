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

struct Request {
    std::string method;
    std::string target;                 // as sent, for logs
    std::vector<std::string> segments;  // decoded path segments
    Fields query;                       // decoded query parameters, in order
    Fields headers;                     // as sent
    Fields params;                      // path parameters from the route pattern
    std::string body;
    std::string request_id;

    // First header with this name (case-insensitive), if any.
    [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const;
    [[nodiscard]] std::optional<std::string_view> param(std::string_view name) const;
    [[nodiscard]] std::optional<std::string_view> query_param(std::string_view name) const;
};

struct Response {
    unsigned status = 200;
    std::string content_type = "application/json";
    std::string body;
    Fields headers;  // extra headers (Allow, WWW-Authenticate, Retry-After, ...)
};

// The request outlives the handler: the session awaits it before touching the request again.
using Handler = std::function<boost::asio::awaitable<Response>(const Request&)>;

}  // namespace cas::http
