// The checks run in the order that keeps requests in sync and tells anonymous callers least:
// framing (a body of unknowable length cannot be skipped), target, Host, route (404/405 need
// no token, as in the reference app), token (before the length, so a 401 comes first), and
// the declared length last.
#include "http/admit.hpp"

#include "http/auth.hpp"
#include "util/random_id.hpp"

#include <boost/algorithm/string/predicate.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>

namespace cas::http {
namespace {

bool valid_request_id(std::string_view id) {
    if (id.empty() || id.size() > 128) return false;
    return std::all_of(id.begin(), id.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '_' || c == '.';
    });
}

std::ptrdiff_t count_fields(const Fields& fields, std::string_view name) {
    return std::count_if(fields.begin(), fields.end(), [name](const auto& field) {
        return boost::algorithm::iequals(field.first, name);
    });
}

// The decision itself: a response to send, or the route that answers. Fills `request` as far
// as it gets.
std::variant<Response, const Route*> decide(const RequestHead& head, Request& request,
                                            const Router& router, const AdmitLimits& limits,
                                            std::string_view bearer_token) {
    // A Transfer-Encoding that does not end in chunked leaves the body length unknowable
    // (RFC 9112 6.3): reading it any other way is how requests are smuggled.
    if (request.header("Transfer-Encoding") && !head.chunked) {
        return error_response(ErrorDialect::detail, 400, "Unsupported Transfer-Encoding");
    }
    auto url = boost::urls::parse_origin_form(request.target);
    if (!url) return error_response(ErrorDialect::detail, 400, "Malformed request target");
    for (auto segment : url->segments()) request.segments.emplace_back(segment);
    for (auto param : url->params()) request.query.emplace_back(param.key, param.value);
    auto dialect = dialect_for(request.segments);

    // RFC 9112 3.2: an HTTP/1.1 request must name its host, and no request may name two.
    auto hosts = count_fields(request.headers, "Host");
    if (hosts == 0 && head.version >= 11) {
        return error_response(dialect, 400, "Missing Host header");
    }
    if (hosts > 1) return error_response(dialect, 400, "More than one Host header");

    auto match = router.match(request.method, request.segments);
    if (match.kind == RouteMatch::Kind::not_found) return error_response(dialect, 404, "Not Found");
    if (match.kind == RouteMatch::Kind::method_not_allowed) {
        auto response = error_response(dialect, 405, "Method Not Allowed");
        response.headers.emplace_back("Allow", std::move(match.allow));
        return response;
    }
    request.route = match.route->pattern;
    request.params = std::move(match.params);
    if (match.route->access != Access::open) {
        auto outcome = match.route->access == Access::api_key
                           ? check_api_key(request.header("x-api-key"),
                                           request.header("Authorization"), bearer_token)
                           : check_bearer(request.header("Authorization"), bearer_token);
        if (outcome != AuthOutcome::ok) return unauthorized(dialect, auth_failure_message(outcome));
    }
    if (head.content_length && *head.content_length > limits.max_body_bytes) {
        return body_too_large(dialect, limits.max_body_bytes);
    }
    return match.route;
}

}  // namespace

Admission admit(RequestHead head, const Router& router, const AdmitLimits& limits,
                std::string_view bearer_token) {
    Admission admission;
    auto& request = admission.request;
    request.method = std::move(head.method);
    request.target = std::move(head.target);
    request.headers = std::move(head.fields);
    auto id = request.header("X-Request-Id");
    request.request_id = id && valid_request_id(*id) ? std::string(*id) : random_hex(16);

    // Body bytes follow the header (under a Transfer-Encoding, possibly of unknown length).
    const bool body_follows = head.chunked || head.content_length.value_or(0) > 0 ||
                              request.header("Transfer-Encoding").has_value();
    // The head's strings now live in the request; decide() reads only its framing facts.
    auto decision = decide(head, request, router, limits, bearer_token);
    if (auto* response = std::get_if<Response>(&decision)) {
        admission.outcome = Refusal{.response = std::move(*response), .close = body_follows};
    } else {
        admission.outcome =
            Admitted{.route = std::get<const Route*>(decision), .read_body = body_follows};
    }
    return admission;
}

Response body_too_large(ErrorDialect dialect, std::size_t limit) {
    return error_response(dialect, 413,
                          "Request body too large (limit " + std::to_string(limit) + " bytes)");
}

}  // namespace cas::http
