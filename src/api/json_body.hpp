// Reading request bodies: JSON parsing with the right 400, and field-level validation
// errors in FastAPI's 422 shape ({"detail": [{"loc": ["body", field], "msg", "type"}]}),
// which the reference app's clients already understand.
#pragma once

#include "http/message.hpp"
#include "http/response.hpp"

#include <boost/json/object.hpp>

#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace cas::api {

struct FieldError {
    std::string field;
    std::string message;
    std::string type;
    std::string location = "body";  // or "query", "header"
};

// The body as a JSON object, or the 400 to answer (malformed JSON, not an object).
std::variant<boost::json::object, http::Response> parse_json_object(const http::Request& request,
                                                                    http::ErrorDialect dialect);

// 422 in the detail dialect listing every problem.
http::Response validation_failed(const std::vector<FieldError>& errors);

// Typed reads that record a FieldError instead of throwing.
class FieldReader {
public:
    explicit FieldReader(const boost::json::object& body) : body_(body) {}

    std::optional<std::string> text(std::string_view field, bool required);
    std::optional<double> number(std::string_view field);
    std::optional<std::int64_t> integer(std::string_view field);
    std::optional<bool> boolean(std::string_view field);
    void fail(std::string field, std::string message, std::string type = "value_error");

    [[nodiscard]] const std::vector<FieldError>& errors() const { return errors_; }

private:
    const boost::json::object& body_;
    std::vector<FieldError> errors_;
};

}  // namespace cas::api
