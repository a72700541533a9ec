#include "http/router.hpp"

#include <catch2/catch.hpp>

using namespace cas::http;

namespace {

Handler dummy() {
    return [](const Request&) -> boost::asio::awaitable<Response> { co_return Response{}; };
}

Router table() {
    Router router;
    router.add("GET", "/health", Access::open, dummy());
    router.add("POST", "/execute", Access::bearer, dummy());
    router.add("GET", "/jobs/{id}", Access::bearer, dummy());
    router.add("DELETE", "/jobs/{id}", Access::bearer, dummy());
    router.add("POST", "/jobs/{id}/cancel", Access::bearer, dummy());
    return router;
}

}  // namespace

TEST_CASE("router: exact paths match their method") {
    auto router = table();
    auto m = router.match("GET", {"health"});
    REQUIRE(m.kind == RouteMatch::Kind::found);
    CHECK(m.route->pattern == "/health");
    CHECK(m.route->access == Access::open);
    CHECK(m.params.empty());
}

TEST_CASE("router: path parameters are captured") {
    auto router = table();
    auto m = router.match("POST", {"jobs", "abc123", "cancel"});
    REQUIRE(m.kind == RouteMatch::Kind::found);
    CHECK(m.route->pattern == "/jobs/{id}/cancel");
    REQUIRE(m.params.size() == 1);
    CHECK(m.params[0] == std::pair<std::string, std::string>{"id", "abc123"});
}

TEST_CASE("router: unknown paths are 404") {
    auto router = table();
    CHECK(router.match("GET", {"nope"}).kind == RouteMatch::Kind::not_found);
    CHECK(router.match("GET", {}).kind == RouteMatch::Kind::not_found);
    CHECK(router.match("GET", {"health", ""}).kind ==
          RouteMatch::Kind::not_found);  // trailing slash
    CHECK(router.match("GET", {"jobs"}).kind == RouteMatch::Kind::not_found);
    CHECK(router.match("GET", {"jobs", ""}).kind == RouteMatch::Kind::not_found);  // empty param
    CHECK(router.match("GET", {"jobs", "a", "b"}).kind == RouteMatch::Kind::not_found);
}

TEST_CASE("router: wrong methods are 405 with every allowed method") {
    auto router = table();
    auto m = router.match("POST", {"health"});
    CHECK(m.kind == RouteMatch::Kind::method_not_allowed);
    CHECK(m.allow == "GET, HEAD");
    auto jobs = router.match("PUT", {"jobs", "x"});
    CHECK(jobs.kind == RouteMatch::Kind::method_not_allowed);
    CHECK(jobs.allow == "DELETE, GET, HEAD");
    CHECK(router.match("get", {"health"}).kind == RouteMatch::Kind::method_not_allowed);
}

TEST_CASE("router: HEAD is answered by the GET route, and only there") {
    auto router = table();
    auto health = router.match("HEAD", {"health"});
    REQUIRE(health.kind == RouteMatch::Kind::found);
    CHECK(health.route->method == "GET");
    CHECK(health.route->pattern == "/health");

    auto job = router.match("HEAD", {"jobs", "abc"});
    REQUIRE(job.kind == RouteMatch::Kind::found);
    CHECK(job.route->method == "GET");
    CHECK(job.params == Fields{{"id", "abc"}});

    auto execute = router.match("HEAD", {"execute"});
    CHECK(execute.kind == RouteMatch::Kind::method_not_allowed);
    CHECK(execute.allow == "POST");
    CHECK(router.match("HEAD", {"nope"}).kind == RouteMatch::Kind::not_found);
    CHECK(router.match("head", {"health"}).kind == RouteMatch::Kind::method_not_allowed);
}

TEST_CASE("router: a pattern must start with a slash, and HEAD is not added by hand") {
    Router router;
    CHECK_THROWS_AS(router.add("GET", "health", Access::open, dummy()), std::invalid_argument);
    CHECK_THROWS_AS(router.add("HEAD", "/health", Access::open, dummy()), std::invalid_argument);
}
