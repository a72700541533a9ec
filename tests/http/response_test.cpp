#include "http/response.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

using namespace cas::http;
namespace json = boost::json;

TEST_CASE("errors: the detail dialect is FastAPI's") {
    auto r = error_response(ErrorDialect::detail, 404, "Job not found");
    CHECK(r.status == 404);
    CHECK(r.content_type == "application/json");
    CHECK(json::parse(r.body) == json::parse(R"({"detail":"Job not found"})"));
}

TEST_CASE("errors: the openai dialect is OpenAI's error object") {
    auto r = error_response(ErrorDialect::openai, 400, "bad model", "model", "model_not_found");
    CHECK(json::parse(r.body) == json::parse(R"({"error":{"message":"bad model",
        "type":"invalid_request_error","param":"model","code":"model_not_found"}})"));
    auto server = error_response(ErrorDialect::openai, 503, "busy");
    CHECK(json::parse(server.body).at("error").at("type") == "server_error");
    CHECK(json::parse(server.body).at("error").at("param").is_null());
}

TEST_CASE("errors: 401 carries WWW-Authenticate in every dialect") {
    for (auto dialect : {ErrorDialect::detail, ErrorDialect::openai, ErrorDialect::anthropic}) {
        auto r = unauthorized(dialect, "Invalid token");
        CHECK(r.status == 401);
        REQUIRE(r.headers.size() == 1);
        CHECK(r.headers[0].first == "WWW-Authenticate");
        CHECK(r.headers[0].second == "Bearer");
    }
    CHECK(json::parse(unauthorized(ErrorDialect::openai, "x").body).at("error").at("type") ==
          "authentication_error");
}

TEST_CASE("errors: the dialect follows the first path segment") {
    CHECK(dialect_for({"v1", "models"}) == ErrorDialect::openai);
    CHECK(dialect_for({"jobs", "v1"}) == ErrorDialect::detail);
    CHECK(dialect_for({"jobs"}) == ErrorDialect::detail);
    CHECK(dialect_for({}) == ErrorDialect::detail);
}

TEST_CASE("errors: /v1/messages speaks Anthropic's dialect, the rest of /v1 OpenAI's") {
    CHECK(dialect_for({"v1", "messages"}) == ErrorDialect::anthropic);
    CHECK(dialect_for({"v1", "messages", "count_tokens"}) == ErrorDialect::anthropic);
    CHECK(dialect_for({"v1", "responses"}) == ErrorDialect::openai);
    CHECK(dialect_for({"v1", "chat", "completions"}) == ErrorDialect::openai);
    CHECK(dialect_for({"v1"}) == ErrorDialect::openai);
    CHECK(dialect_for({"messages"}) == ErrorDialect::detail);
}

TEST_CASE("errors: the anthropic dialect is Anthropic's error object") {
    auto r = error_response(ErrorDialect::anthropic, 400, "max_tokens: Field required",
                            "max_tokens", "ignored");
    CHECK(r.status == 400);
    CHECK(r.content_type == "application/json");
    CHECK(json::parse(r.body) == json::parse(R"({"type":"error","error":{
        "type":"invalid_request_error","message":"max_tokens: Field required"}})"));
    auto busy = error_response(ErrorDialect::anthropic, 529, "busy");
    CHECK(json::parse(busy.body).at("error").at("type") == "overloaded_error");

    auto unauthorized_body =
        json::parse(unauthorized(ErrorDialect::anthropic, "Invalid token").body);
    CHECK(unauthorized_body.at("type") == "error");
    CHECK(unauthorized_body.at("error").at("type") == "authentication_error");
}

TEST_CASE("errors: Anthropic's error types by status") {
    CHECK(anthropic_error_type(400) == "invalid_request_error");
    CHECK(anthropic_error_type(401) == "authentication_error");
    CHECK(anthropic_error_type(403) == "permission_error");
    CHECK(anthropic_error_type(404) == "not_found_error");
    CHECK(anthropic_error_type(405) == "invalid_request_error");
    CHECK(anthropic_error_type(413) == "request_too_large");
    CHECK(anthropic_error_type(429) == "rate_limit_error");
    CHECK(anthropic_error_type(500) == "api_error");
    CHECK(anthropic_error_type(503) == "api_error");
    CHECK(anthropic_error_type(529) == "overloaded_error");
}
