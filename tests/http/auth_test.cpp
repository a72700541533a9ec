#include "http/auth.hpp"

#include <catch2/catch.hpp>

using cas::http::AuthOutcome;
using cas::http::check_bearer;

TEST_CASE("auth: an unconfigured service refuses everyone, even an empty token") {
    CHECK(check_bearer(std::nullopt, "") == AuthOutcome::unconfigured);
    CHECK(check_bearer("Bearer ", "") == AuthOutcome::unconfigured);
    CHECK(check_bearer("Bearer x", "") == AuthOutcome::unconfigured);
}

TEST_CASE("auth: missing header or scheme") {
    CHECK(check_bearer(std::nullopt, "tok") == AuthOutcome::missing);
    CHECK(check_bearer("", "tok") == AuthOutcome::missing);
    CHECK(check_bearer("Basic dG9r", "tok") == AuthOutcome::missing);
    CHECK(check_bearer("bearer tok", "tok") ==
          AuthOutcome::missing);  // case-sensitive, as the reference
    CHECK(check_bearer("Bearer", "tok") == AuthOutcome::missing);
}

TEST_CASE("auth: wrong, malformed and non-ASCII tokens are invalid") {
    CHECK(check_bearer("Bearer tok", "tok") == AuthOutcome::ok);
    CHECK(check_bearer("Bearer tok2", "tok") == AuthOutcome::invalid);
    CHECK(check_bearer("Bearer to", "tok") == AuthOutcome::invalid);
    CHECK(check_bearer("Bearer ", "tok") == AuthOutcome::invalid);
    CHECK(check_bearer("Bearer  tok", "tok") == AuthOutcome::invalid);
    CHECK(check_bearer("Bearer t\xc3\xb6k", "tok") == AuthOutcome::invalid);
    CHECK(check_bearer(std::string_view("Bearer t\0k", 9), "tok") == AuthOutcome::invalid);
}

TEST_CASE("auth: constant-time comparison is still an equality") {
    using cas::http::constant_time_equals;
    CHECK(constant_time_equals("abc", "abc"));
    CHECK_FALSE(constant_time_equals("abd", "abc"));
    CHECK_FALSE(constant_time_equals("", "abc"));
    CHECK_FALSE(constant_time_equals("abcabc", "abc"));  // wraps around: length must count
    CHECK_FALSE(constant_time_equals("ab", "abc"));
}

TEST_CASE("auth: failure messages are the reference app's") {
    using cas::http::auth_failure_message;
    CHECK(auth_failure_message(AuthOutcome::unconfigured) == "Service unauthenticated");
    CHECK(auth_failure_message(AuthOutcome::missing) == "Missing bearer token");
    CHECK(auth_failure_message(AuthOutcome::invalid) == "Invalid token");
}

TEST_CASE("auth: x-api-key, when sent, is checked instead of the bearer token") {
    using cas::http::check_api_key;
    CHECK(check_api_key("tok", std::nullopt, "tok") == AuthOutcome::ok);
    CHECK(check_api_key("tok2", std::nullopt, "tok") == AuthOutcome::invalid);
    CHECK(check_api_key("", std::nullopt, "tok") == AuthOutcome::invalid);
    CHECK(check_api_key("t\xc3\xb6k", std::nullopt, "tok") == AuthOutcome::invalid);
    CHECK(check_api_key(std::string_view("t\0k", 3), std::nullopt, "tok") == AuthOutcome::invalid);
    // It wins over the Authorization header, right or wrong.
    CHECK(check_api_key("nope", "Bearer tok", "tok") == AuthOutcome::invalid);
    CHECK(check_api_key("tok", "Bearer nope", "tok") == AuthOutcome::ok);
}

TEST_CASE("auth: without x-api-key the bearer token is checked") {
    using cas::http::check_api_key;
    CHECK(check_api_key(std::nullopt, "Bearer tok", "tok") == AuthOutcome::ok);
    CHECK(check_api_key(std::nullopt, "Bearer nope", "tok") == AuthOutcome::invalid);
    CHECK(check_api_key(std::nullopt, std::nullopt, "tok") == AuthOutcome::missing);
}

TEST_CASE("auth: an unconfigured service refuses an x-api-key too, even an empty one") {
    using cas::http::check_api_key;
    CHECK(check_api_key("", std::nullopt, "") == AuthOutcome::unconfigured);
    CHECK(check_api_key("tok", std::nullopt, "") == AuthOutcome::unconfigured);
    CHECK(check_api_key(std::nullopt, "Bearer ", "") == AuthOutcome::unconfigured);
}
