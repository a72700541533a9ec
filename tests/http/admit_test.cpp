// http::admit on plain request heads, one branch at a time: what the server answers before it
// reads a body, and what it hands on when it does read one. No sockets: the server runs this
// same function on the header Beast parsed.
#include "http/admit.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <utility>

using namespace cas::http;
namespace json = boost::json;

namespace {

constexpr std::string_view kToken = "secret";
constexpr std::size_t kLimit = 1000;

Handler dummy() {
    return [](const Request&) -> boost::asio::awaitable<Response> { co_return Response{}; };
}

const Router& table() {
    static const Router router = [] {
        Router r;
        r.add("GET", "/health", Access::open, dummy());
        r.add("POST", "/execute", Access::bearer, dummy());
        r.add("GET", "/jobs/{id}", Access::bearer, dummy());
        r.add("DELETE", "/jobs/{id}", Access::bearer, dummy());
        r.add("GET", "/v1/models", Access::bearer, dummy());
        r.add("POST", "/v1/chat/completions", Access::bearer, dummy());
        r.add("POST", "/v1/messages", Access::api_key, dummy());
        return r;
    }();
    return router;
}

const Fields kHost{{"Host", "x"}};
const Fields kAuthorized{{"Host", "x"}, {"Authorization", "Bearer secret"}};

RequestHead head(std::string method, std::string target, Fields fields = kHost) {
    RequestHead h;
    h.method = std::move(method);
    h.target = std::move(target);
    h.fields = std::move(fields);
    return h;
}

RequestHead with_length(RequestHead h, std::uint64_t length) {
    h.content_length = length;
    return h;
}

Admission run(RequestHead h, std::string_view token = kToken) {
    return admit(std::move(h), table(), {.max_body_bytes = kLimit}, token);
}

const Refusal& refusal(const Admission& admission) {
    const auto* refused = std::get_if<Refusal>(&admission.outcome);
    REQUIRE(refused != nullptr);
    return *refused;
}

const Admitted& admitted(const Admission& admission) {
    const auto* in = std::get_if<Admitted>(&admission.outcome);
    REQUIRE(in != nullptr);
    REQUIRE(in->route != nullptr);
    return *in;
}

std::optional<std::string> header(const Response& response, std::string_view name) {
    for (const auto& [key, value] : response.headers) {
        if (key == name) return value;
    }
    return std::nullopt;
}

// The FastAPI dialect's detail, or OpenAI's error.message; fails on any other shape.
std::string detail_of(const Response& response) {
    auto body = json::parse(response.body).as_object();
    REQUIRE(body.size() == 1);
    REQUIRE(body.contains("detail"));
    return std::string(body.at("detail").as_string());
}

std::string openai_message_of(const Response& response) {
    auto body = json::parse(response.body).as_object();
    REQUIRE(body.size() == 1);
    const auto& error = body.at("error").as_object();
    CHECK(error.contains("type"));
    return std::string(error.at("message").as_string());
}

// Anthropic's {"type": "error", "error": {"type", "message"}}: the error's type and message.
std::pair<std::string, std::string> anthropic_error_of(const Response& response) {
    auto body = json::parse(response.body).as_object();
    REQUIRE(body.size() == 2);
    REQUIRE(body.at("type") == "error");
    const auto& error = body.at("error").as_object();
    REQUIRE(error.size() == 2);
    return {std::string(error.at("type").as_string()),
            std::string(error.at("message").as_string())};
}

}  // namespace

TEST_CASE("admit: a Transfer-Encoding not ending in chunked is refused and closes") {
    auto h = head("POST", "/v1/chat/completions", {{"Host", "x"}, {"Transfer-Encoding", "gzip"}});
    auto admission = run(h);
    const auto& refused = refusal(admission);
    CHECK(refused.response.status == 400);
    // Refused before the target is read, so in the default dialect whatever the path.
    CHECK(detail_of(refused.response) == "Unsupported Transfer-Encoding");
    // No length and not chunked: Beast would call the request complete and read the body
    // as the next request.
    CHECK(refused.close);
    // The log line still names the request.
    CHECK(admission.request.method == "POST");
    CHECK(admission.request.target == "/v1/chat/completions");
    CHECK(admission.request.request_id.size() == 16);

    h.chunked = true;
    h.fields[1].second = "gzip, chunked";
    auto framed = run(h);
    CHECK(refusal(framed).response.status == 401);  // on to auth: the framing is known
}

TEST_CASE("admit: a target that is not origin-form is 400") {
    for (const auto* target : {"http://[bad", "*", "/a b", "/%zz"}) {
        auto admission = run(head("GET", target));
        const auto& refused = refusal(admission);
        CHECK(refused.response.status == 400);
        CHECK(detail_of(refused.response) == "Malformed request target");
        CHECK_FALSE(refused.close);  // nothing follows the header
    }
    // With a body on the wire, the connection cannot be reused.
    CHECK(refusal(run(with_length(head("POST", "http://[bad"), 5))).close);
}

TEST_CASE("admit: an unknown path is 404 in its path's dialect") {
    auto plain = run(head("GET", "/nope"));
    CHECK(refusal(plain).response.status == 404);
    CHECK(detail_of(refusal(plain).response) == "Not Found");
    CHECK_FALSE(refusal(plain).close);

    auto v1 = run(head("GET", "/v1/nope"));
    CHECK(refusal(v1).response.status == 404);
    CHECK(openai_message_of(refusal(v1).response) == "Not Found");

    // Routing comes before the token, and a refusal with a declared body closes.
    auto anonymous = run(with_length(head("POST", "/nope"), 5));
    CHECK(refusal(anonymous).response.status == 404);
    CHECK(refusal(anonymous).close);
}

TEST_CASE("admit: a wrong method is 405 with Allow, which lists HEAD beside GET") {
    auto health = run(head("DELETE", "/health"));
    CHECK(refusal(health).response.status == 405);
    CHECK(detail_of(refusal(health).response) == "Method Not Allowed");
    CHECK(header(refusal(health).response, "Allow") == "GET, HEAD");
    CHECK(health.request.route.empty());

    auto job = run(head("PUT", "/jobs/abc"));
    CHECK(header(refusal(job).response, "Allow") == "DELETE, GET, HEAD");

    // HEAD is implicit on GET routes only.
    auto execute = run(head("HEAD", "/execute", kAuthorized));
    CHECK(refusal(execute).response.status == 405);
    CHECK(header(refusal(execute).response, "Allow") == "POST");

    auto chat = run(head("GET", "/v1/chat/completions", kAuthorized));
    CHECK(refusal(chat).response.status == 405);
    CHECK(openai_message_of(refusal(chat).response) == "Method Not Allowed");
    CHECK(header(refusal(chat).response, "Allow") == "POST");
}

TEST_CASE("admit: HEAD is admitted to the GET route, auth and all") {
    auto health = run(head("HEAD", "/health"));
    CHECK(admitted(health).route->method == "GET");
    CHECK(admitted(health).route->pattern == "/health");
    CHECK(health.request.method == "HEAD");  // the server leaves the body out by this
    CHECK(health.request.route == "/health");

    auto job = run(head("HEAD", "/jobs/abc", kAuthorized));
    CHECK(admitted(job).route->method == "GET");
    REQUIRE(job.request.params.size() == 1);
    CHECK(job.request.param("id") == "abc");

    auto anonymous = run(head("HEAD", "/jobs/abc"));
    CHECK(refusal(anonymous).response.status == 401);
}

TEST_CASE("admit: HTTP/1.1 needs exactly one Host; HTTP/1.0 may leave it out") {
    auto missing = run(head("GET", "/health", {}));
    CHECK(refusal(missing).response.status == 400);
    CHECK(detail_of(refusal(missing).response) == "Missing Host header");
    CHECK_FALSE(refusal(missing).close);

    auto v1 = run(head("GET", "/v1/models", {{"Authorization", "Bearer secret"}}));
    CHECK(refusal(v1).response.status == 400);
    CHECK(openai_message_of(refusal(v1).response) == "Missing Host header");

    // Checked before the route: a request without Host is malformed whatever it asks for.
    CHECK(refusal(run(head("GET", "/nope", {}))).response.status == 400);

    auto http10 = head("GET", "/health", {});
    http10.version = 10;
    CHECK(admitted(run(http10)).route->pattern == "/health");

    auto lowercase = run(head("GET", "/health", {{"host", "x"}}));
    CHECK(admitted(lowercase).route->pattern == "/health");

    auto two = run(head("GET", "/health", {{"Host", "a"}, {"Host", "b"}}));
    CHECK(refusal(two).response.status == 400);
    CHECK(detail_of(refusal(two).response) == "More than one Host header");
    http10.fields = {{"Host", "a"}, {"host", "a"}};
    CHECK(refusal(run(http10)).response.status == 400);
}

TEST_CASE("admit: the three 401s, with WWW-Authenticate, in the path's dialect") {
    auto unconfigured = run(head("GET", "/jobs/abc", kAuthorized), "");
    CHECK(refusal(unconfigured).response.status == 401);
    CHECK(detail_of(refusal(unconfigured).response) == "Service unauthenticated");
    CHECK(header(refusal(unconfigured).response, "WWW-Authenticate") == "Bearer");

    auto missing = run(head("GET", "/jobs/abc", {{"Host", "x"}, {"Authorization", "Basic eA=="}}));
    CHECK(detail_of(refusal(missing).response) == "Missing bearer token");

    auto wrong = run(head("GET", "/jobs/abc", {{"Host", "x"}, {"Authorization", "Bearer nope"}}));
    CHECK(detail_of(refusal(wrong).response) == "Invalid token");
    CHECK(header(refusal(wrong).response, "WWW-Authenticate") == "Bearer");

    auto v1 = run(head("GET", "/v1/models"));
    CHECK(refusal(v1).response.status == 401);
    CHECK(openai_message_of(refusal(v1).response) == "Missing bearer token");
    CHECK(json::parse(refusal(v1).response.body).at("error").at("type") == "authentication_error");
    CHECK(header(refusal(v1).response, "WWW-Authenticate") == "Bearer");

    // An open route needs no token, even when none is configured.
    CHECK(admitted(run(head("GET", "/health"), "")).route->pattern == "/health");
    CHECK(admitted(run(head("GET", "/jobs/abc", kAuthorized))).route->pattern == "/jobs/{id}");
}

TEST_CASE("admit: a declared length over the limit is 413 before the body is read") {
    auto over = run(with_length(head("POST", "/execute", kAuthorized), kLimit + 1));
    CHECK(refusal(over).response.status == 413);
    CHECK(detail_of(refusal(over).response) == "Request body too large (limit 1000 bytes)");
    CHECK(refusal(over).close);

    auto v1 = run(with_length(head("POST", "/v1/chat/completions", kAuthorized), kLimit + 1));
    CHECK(refusal(v1).response.status == 413);
    CHECK(openai_message_of(refusal(v1).response) == "Request body too large (limit 1000 bytes)");

    // An anonymous caller learns nothing of the limit: 401 first.
    auto anonymous = run(with_length(head("POST", "/execute"), kLimit + 1));
    CHECK(refusal(anonymous).response.status == 401);
    CHECK(refusal(anonymous).close);

    auto at_limit = run(with_length(head("POST", "/execute", kAuthorized), kLimit));
    CHECK(admitted(at_limit).read_body);
}

TEST_CASE("admit: admitted with or without a body to read") {
    auto no_length = run(head("GET", "/health"));
    CHECK_FALSE(admitted(no_length).read_body);
    CHECK_FALSE(admitted(run(with_length(head("POST", "/execute", kAuthorized), 0))).read_body);
    CHECK(admitted(run(with_length(head("GET", "/health"), 5))).read_body);

    auto chunked = head("POST", "/execute", kAuthorized);
    chunked.fields.emplace_back("Transfer-Encoding", "chunked");
    chunked.chunked = true;
    CHECK(admitted(run(chunked)).read_body);
}

TEST_CASE("admit: the admitted request carries what handlers read") {
    auto fields = kAuthorized;
    fields.emplace_back("X-Request-Id", "trace-1.a_B");
    auto admission = run(head("GET", "/jobs/a%20b?status=failed&limit=2&q=%C3%A9", fields));
    const auto& request = admission.request;
    CHECK(admitted(admission).route->pattern == "/jobs/{id}");
    CHECK(request.method == "GET");
    CHECK(request.target == "/jobs/a%20b?status=failed&limit=2&q=%C3%A9");
    CHECK(request.segments == std::vector<std::string>{"jobs", "a b"});
    CHECK(request.param("id") == "a b");
    CHECK(request.query_param("status") == "failed");
    CHECK(request.query_param("q") == "\xC3\xA9");
    CHECK(request.query.size() == 3);
    CHECK(request.headers == fields);
    CHECK(request.route == "/jobs/{id}");
    CHECK(request.request_id == "trace-1.a_B");
    CHECK(request.client == nullptr);  // the server's to set
    CHECK(request.body.empty());       // and to read

    for (const auto& bad : {std::string("<script>"), std::string(129, 'a'), std::string()}) {
        auto replaced = run(head("GET", "/health", {{"Host", "x"}, {"X-Request-Id", bad}}));
        CHECK(replaced.request.request_id.size() == 16);
        CHECK(replaced.request.request_id != bad);
    }
    auto longest = std::string(128, 'a');
    CHECK(run(head("GET", "/health", {{"Host", "x"}, {"X-Request-Id", longest}}))
              .request.request_id == longest);
    // A refused request keeps the caller's id too, for the log line and X-Request-Id.
    CHECK(run(head("GET", "/nope", {{"Host", "x"}, {"x-request-id", "abc"}})).request.request_id ==
          "abc");
}

TEST_CASE("admit: an api_key route takes x-api-key or the bearer token") {
    auto key = run(head("POST", "/v1/messages", {{"Host", "x"}, {"x-api-key", "secret"}}));
    CHECK(admitted(key).route->pattern == "/v1/messages");
    auto capitalised = run(head("POST", "/v1/messages", {{"Host", "x"}, {"X-Api-Key", "secret"}}));
    CHECK(admitted(capitalised).route->pattern == "/v1/messages");
    CHECK(admitted(run(head("POST", "/v1/messages", kAuthorized))).route->pattern ==
          "/v1/messages");

    // A bearer route does not read x-api-key.
    auto bearer_route =
        run(head("POST", "/v1/chat/completions", {{"Host", "x"}, {"x-api-key", "secret"}}));
    CHECK(refusal(bearer_route).response.status == 401);
}

TEST_CASE("admit: an api_key route refuses a bad key with Anthropic's 401") {
    auto wrong = run(head("POST", "/v1/messages", {{"Host", "x"}, {"x-api-key", "nope"}}));
    const auto& refused = refusal(wrong).response;
    CHECK(refused.status == 401);
    CHECK(anthropic_error_of(refused) ==
          std::pair<std::string, std::string>{"authentication_error", "Invalid token"});
    CHECK(header(refused, "WWW-Authenticate") == "Bearer");

    // The key wins over a right bearer token; with neither, the token is missing.
    auto both =
        run(head("POST", "/v1/messages",
                 {{"Host", "x"}, {"x-api-key", "nope"}, {"Authorization", "Bearer secret"}}));
    CHECK(refusal(both).response.status == 401);
    auto anonymous = run(head("POST", "/v1/messages"));
    CHECK(anthropic_error_of(refusal(anonymous).response).second == "Missing bearer token");
    auto unconfigured =
        run(head("POST", "/v1/messages", {{"Host", "x"}, {"x-api-key", "secret"}}), "");
    CHECK(anthropic_error_of(refusal(unconfigured).response).second == "Service unauthenticated");
}

TEST_CASE("admit: /v1/messages refusals before auth are in Anthropic's dialect too") {
    auto method = run(head("GET", "/v1/messages"));
    CHECK(refusal(method).response.status == 405);
    CHECK(anthropic_error_of(refusal(method).response) ==
          std::pair<std::string, std::string>{"invalid_request_error", "Method Not Allowed"});
    auto missing = run(head("POST", "/v1/messages/count_tokens"));
    CHECK(refusal(missing).response.status == 404);
    CHECK(anthropic_error_of(refusal(missing).response).first == "not_found_error");
    auto over = run(with_length(
        head("POST", "/v1/messages", {{"Host", "x"}, {"x-api-key", "secret"}}), kLimit + 1));
    CHECK(refusal(over).response.status == 413);
    CHECK(anthropic_error_of(refusal(over).response).first == "request_too_large");
}
