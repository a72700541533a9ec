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

TEST_CASE("errors: 401 carries WWW-Authenticate in both dialects") {
    for (auto dialect : {ErrorDialect::detail, ErrorDialect::openai}) {
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
    CHECK(dialect_for({}) == ErrorDialect::detail);
}
