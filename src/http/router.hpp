// The route table: method + path pattern ("/jobs/{id}") → handler, with the access rule
// the server enforces before it reads the body. Telling 404 from 405 needs the whole table,
// so matching lives here rather than in each handler. HEAD is implicit on every GET route
// (RFC 9110 9.3.2): the GET handler answers it and the server leaves the body out, so the
// table (and docs/openapi.json, which mirrors it) lists GET alone.
#pragma once

#include "http/message.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace cas::http {

// bearer: `Authorization: Bearer <token>`; api_key: that or `x-api-key: <token>` (what
// Anthropic's clients send).
enum class Access { open, bearer, api_key };

struct Route {
    std::string method;
    std::string pattern;
    Access access;
    Handler handler;
};

struct RouteMatch {
    enum class Kind { found, not_found, method_not_allowed };
    Kind kind = Kind::not_found;
    const Route* route = nullptr;  // when found
    Fields params;                 // when found
    std::string allow;             // when method_not_allowed: "GET, HEAD, POST"
};

class Router {
public:
    // Throws std::invalid_argument for a pattern not starting with '/' and for HEAD.
    void add(std::string method, std::string pattern, Access access, Handler handler);
    [[nodiscard]] RouteMatch match(std::string_view method,
                                   const std::vector<std::string>& segments) const;
    [[nodiscard]] const std::vector<Route>& routes() const { return routes_; }

private:
    struct Entry {
        std::vector<std::string> segments;  // "{name}" matches any one non-empty segment
    };
    std::vector<Route> routes_;
    std::vector<Entry> entries_;  // parallel to routes_
};

}  // namespace cas::http
