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
