// Error bodies in one place so every path (router, auth, limits, handlers) answers alike.
#include "http/response.hpp"

#include "util/json_text.hpp"
#include "util/utf8.hpp"

#include <boost/json.hpp>

namespace cas::http {
namespace json = boost::json;
namespace {

std::string_view openai_error_type(unsigned status) {
    switch (status) {
        case 401: return "authentication_error";
        case 403: return "permission_error";
        case 429: return "rate_limit_error";
        default: return status >= 500 ? "server_error" : "invalid_request_error";
    }
}

json::object anthropic_error_body(unsigned status, std::string_view message) {
    return {{"type", "error"},
            {"error", json::object{{"type", anthropic_error_type(status)}, {"message", message}}}};
}

json::value null_if_empty(std::string_view text) {
    return text.empty() ? json::value(nullptr) : json::value(json::string(text));
}

}  // namespace

ErrorDialect dialect_for(const std::vector<std::string>& segments) {
    if (segments.empty() || segments.front() != "v1") return ErrorDialect::detail;
    return segments.size() > 1 && segments[1] == "messages" ? ErrorDialect::anthropic
                                                            : ErrorDialect::openai;
}

std::string_view anthropic_error_type(unsigned status) {
    switch (status) {
        case 401: return "authentication_error";
        case 403: return "permission_error";
        case 404: return "not_found_error";
        case 413: return "request_too_large";
        case 429: return "rate_limit_error";
        case 529: return "overloaded_error";
        default: return status >= 500 ? "api_error" : "invalid_request_error";
    }
}

Response json_response(unsigned status, const json::value& body) {
    Response response;
    response.status = status;
    // Strings may echo request bytes (a decoded path segment): never emit invalid UTF-8.
    response.body = ensure_valid_utf8(json_text(body));
    return response;
}

Response error_response(ErrorDialect dialect, unsigned status, std::string_view message,
                        std::string_view param, std::string_view code) {
    if (dialect == ErrorDialect::detail) {
        return json_response(status, json::object{{"detail", message}});
    }
    if (dialect == ErrorDialect::anthropic) {
        return json_response(status, anthropic_error_body(status, message));
    }
    return json_response(status, openai_error_body(status, message, param, code));
}

json::object openai_error_body(unsigned status, std::string_view message, std::string_view param,
                               std::string_view code) {
    return {{"error", json::object{
                          {"message", message},
                          {"type", openai_error_type(status)},
                          {"param", null_if_empty(param)},
                          {"code", null_if_empty(code)},
                      }}};
}

Response unauthorized(ErrorDialect dialect, std::string_view message) {
    auto response = error_response(dialect, 401, message);
    response.headers.emplace_back("WWW-Authenticate", "Bearer");
    return response;
}

}  // namespace cas::http
