// Segment-by-segment matching over a small table; a linear scan beats anything clever
// at a dozen routes.
#include "http/router.hpp"

#include <algorithm>
#include <stdexcept>

namespace cas::http {
namespace {

std::vector<std::string> split_pattern(std::string_view pattern) {
    if (pattern.empty() || pattern.front() != '/') {
        throw std::invalid_argument("route pattern must start with '/': " + std::string(pattern));
    }
    std::vector<std::string> out;
    std::size_t start = 1;
    while (start <= pattern.size()) {
        auto end = pattern.find('/', start);
        if (end == std::string_view::npos) end = pattern.size();
        out.emplace_back(pattern.substr(start, end - start));
        start = end + 1;
    }
    return out;
}

bool is_param(const std::string& segment) {
    return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

bool matches(const std::vector<std::string>& pattern, const std::vector<std::string>& segments,
             Fields* params) {
    if (pattern.size() != segments.size()) return false;
    for (std::size_t i = 0; i < pattern.size(); ++i) {
        if (is_param(pattern[i])) {
            if (segments[i].empty()) return false;
            if (params != nullptr) {
                params->emplace_back(pattern[i].substr(1, pattern[i].size() - 2), segments[i]);
            }
        } else if (pattern[i] != segments[i]) {
            return false;
        }
    }
    return true;
}

}  // namespace

void Router::add(std::string method, std::string pattern, Access access, Handler handler) {
    // A HEAD route beside the GET one would answer HEAD differently from GET.
    if (method == "HEAD") {
        throw std::invalid_argument("HEAD is answered by the GET route: " + pattern);
    }
    entries_.push_back({split_pattern(pattern)});
    routes_.push_back({std::move(method), std::move(pattern), access, std::move(handler)});
}

RouteMatch Router::match(std::string_view method, const std::vector<std::string>& segments) const {
    RouteMatch result;
    const std::string_view wanted = method == "HEAD" ? "GET" : method;
    std::vector<std::string_view> allowed;
    for (std::size_t i = 0; i < routes_.size(); ++i) {
        if (!matches(entries_[i].segments, segments, nullptr)) continue;
        if (routes_[i].method == wanted) {
            result.kind = RouteMatch::Kind::found;
            result.route = &routes_[i];
            matches(entries_[i].segments, segments, &result.params);
            return result;
        }
        allowed.push_back(routes_[i].method);
        if (routes_[i].method == "GET") allowed.emplace_back("HEAD");
    }
    if (allowed.empty()) return result;
    std::sort(allowed.begin(), allowed.end());
    allowed.erase(std::unique(allowed.begin(), allowed.end()), allowed.end());
    result.kind = RouteMatch::Kind::method_not_allowed;
    for (auto m : allowed) {
        if (!result.allow.empty()) result.allow += ", ";
        result.allow += m;
    }
    return result;
}

}  // namespace cas::http
