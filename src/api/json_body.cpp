#include "api/json_body.hpp"

#include "util/json_limits.hpp"

#include <boost/json.hpp>

#include <cmath>

namespace cas::api {
namespace json = boost::json;

std::variant<json::object, http::Response> parse_json_object(const http::Request& request,
                                                             http::ErrorDialect dialect) {
    boost::system::error_code ec;
    json::parse_options options;
    options.max_depth = kMaxJsonDepth;
    auto value = json::parse(request.body, ec, {}, options);
    if (ec) {
        return http::error_response(dialect, 400,
                                    "Request body is not valid JSON: " + ec.message());
    }
    if (!value.is_object()) {
        return http::error_response(dialect, 400, "Request body must be a JSON object");
    }
    return std::move(value.as_object());
}

http::Response validation_failed(const std::vector<FieldError>& errors) {
    json::array detail;
    for (const auto& e : errors) {
        detail.push_back(
            json::object{{"loc", json::array{json::string(e.location), json::string(e.field)}},
                         {"msg", e.message},
                         {"type", e.type}});
    }
    return http::json_response(422, json::object{{"detail", std::move(detail)}});
}

void FieldReader::fail(std::string field, std::string message, std::string type) {
    errors_.push_back({std::move(field), std::move(message), std::move(type)});
}

std::optional<std::string> FieldReader::text(std::string_view field, bool required) {
    const auto* v = body_.if_contains(field);
    if (v == nullptr || v->is_null()) {
        if (required) fail(std::string(field), "field required", "value_error.missing");
        return std::nullopt;
    }
    if (!v->is_string()) {
        fail(std::string(field), "must be a string", "type_error.str");
        return std::nullopt;
    }
    return std::string(v->as_string());
}

std::optional<double> FieldReader::number(std::string_view field) {
    const auto* v = body_.if_contains(field);
    if (v == nullptr || v->is_null()) return std::nullopt;
    if (!v->is_number()) {
        fail(std::string(field), "must be a number", "type_error.float");
        return std::nullopt;
    }
    double value = v->to_number<double>();
    if (!std::isfinite(value)) {
        fail(std::string(field), "must be a finite number", "value_error.float");
        return std::nullopt;
    }
    return value;
}

std::optional<std::int64_t> FieldReader::integer(std::string_view field) {
    const auto* v = body_.if_contains(field);
    if (v == nullptr || v->is_null()) return std::nullopt;
    if (v->is_int64()) return v->as_int64();
    if (v->is_uint64()) {
        fail(std::string(field), "integer is too large", "value_error.integer");
        return std::nullopt;
    }
    // 30.0 is an integer, as pydantic accepts it; 30.5 is not.
    if (v->is_double()) {
        double d = v->as_double();
        if (std::isfinite(d) && std::trunc(d) == d && std::fabs(d) < 9.0e15) {
            return static_cast<std::int64_t>(d);
        }
    }
    fail(std::string(field), "must be an integer", "type_error.integer");
    return std::nullopt;
}

std::optional<bool> FieldReader::boolean(std::string_view field) {
    const auto* v = body_.if_contains(field);
    if (v == nullptr || v->is_null()) return std::nullopt;
    if (!v->is_bool()) {
        fail(std::string(field), "must be true or false", "type_error.bool");
        return std::nullopt;
    }
    return v->as_bool();
}

}  // namespace cas::api
