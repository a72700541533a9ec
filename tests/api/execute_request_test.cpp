#include "api/jobs.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <algorithm>

using namespace cas::api;
namespace json = boost::json;

TEST_CASE("execute: defaults and every problem at once") {
    JobLimits limits;
    auto ok =
        parse_execute_request(json::parse(R"({"prompt":"p","agent":"a"})").as_object(), limits);
    REQUIRE(std::holds_alternative<cas::jobs::NewJob>(ok));
    CHECK(std::get<cas::jobs::NewJob>(ok).max_budget_usd == 5.0);
    CHECK(std::get<cas::jobs::NewJob>(ok).timeout_seconds == 2700);

    auto bad = parse_execute_request(
        json::parse(R"({"agent":"-x","max_budget_usd":1000,"timeout_seconds":0,"typo":1})")
            .as_object(),
        limits);
    REQUIRE(std::holds_alternative<std::vector<FieldError>>(bad));
    std::vector<std::string> fields;
    for (const auto& e : std::get<std::vector<FieldError>>(bad)) fields.push_back(e.field);
    std::sort(fields.begin(), fields.end());
    CHECK(fields ==
          std::vector<std::string>{"agent", "max_budget_usd", "prompt", "timeout_seconds", "typo"});
}

TEST_CASE("execute: integral floats are integers, as pydantic accepts") {
    auto r = parse_execute_request(
        json::parse(R"({"prompt":"p","agent":"a","timeout_seconds":30.0})").as_object(), {});
    REQUIRE(std::holds_alternative<cas::jobs::NewJob>(r));
    CHECK(std::get<cas::jobs::NewJob>(r).timeout_seconds == 30);
}

TEST_CASE("execute: metadata must survive being stored (finite numbers only)") {
    auto r = parse_execute_request(
        json::parse(R"({"prompt":"p","agent":"a","metadata":{"x":[1,{"y":1e400}]}})").as_object(),
        {});
    REQUIRE(std::holds_alternative<std::vector<FieldError>>(r));
    CHECK(std::get<std::vector<FieldError>>(r).at(0).field == "metadata");
}

namespace {

// The one problem with `callback_url` under these allowed hosts, or none.
std::optional<FieldError> callback_problem(const std::string& url, const std::string& hosts) {
    JobLimits limits;
    limits.callback_hosts =
        std::get<std::vector<cas::webhooks::HostRule>>(cas::webhooks::parse_allowed_hosts(hosts));
    json::object body{{"prompt", "p"}, {"agent", "a"}, {"callback_url", url}};
    auto parsed = parse_execute_request(body, limits);
    if (auto* job = std::get_if<cas::jobs::NewJob>(&parsed)) {
        CHECK(job->callback_url == url);
        return std::nullopt;
    }
    auto errors = std::get<std::vector<FieldError>>(parsed);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].field == "callback_url");
    return errors[0];
}

}  // namespace

TEST_CASE("execute: callback_url must name an allowed host, and callbacks may be off") {
    CHECK_FALSE(callback_problem("https://hooks.example.com/done", "hooks.example.com"));
    CHECK_FALSE(callback_problem("http://127.0.0.1:9000/x", "127.0.0.1:9000"));
    auto off = callback_problem("https://hooks.example.com/done", "");
    REQUIRE(off);
    CHECK(off->type == "value_error.not_allowed");
    CHECK_THAT(off->message, Catch::Contains("WEBHOOK_ALLOWED_HOSTS"));
    auto outside = callback_problem("https://evil.example.net/", "hooks.example.com");
    REQUIRE(outside);
    CHECK(outside->type == "value_error.not_allowed");
    CHECK_THAT(outside->message, Catch::Contains("evil.example.net"));
    auto port = callback_problem("http://127.0.0.1:9001/x", "127.0.0.1:9000");
    REQUIRE(port);
    CHECK_THAT(port->message, Catch::Contains("port 9001"));
    auto malformed = callback_problem("gopher://hooks.example.com/", "hooks.example.com");
    REQUIRE(malformed);
    CHECK(malformed->type == "value_error.url");
}

TEST_CASE("execute: callback_url must be a string") {
    JobLimits limits;
    auto parsed = parse_execute_request(
        json::parse(R"({"prompt":"p","agent":"a","callback_url":["x"]})").as_object(), limits);
    REQUIRE(std::holds_alternative<std::vector<FieldError>>(parsed));
    CHECK(std::get<std::vector<FieldError>>(parsed).at(0).field == "callback_url");
}
