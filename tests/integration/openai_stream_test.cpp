// Streamed completions over a raw socket: SSE framing, keep-alive comments, deltas sent as
// they are produced, errors after the stream began, and a client leaving mid-run.
#include "agent/process_tree.hpp"
#include "integration/agent_fixture.hpp"

#include <unistd.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <filesystem>
#include <thread>

using namespace cas::test;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

struct Service {
    TempDir workspace;
    ServiceProcess process;
    explicit Service(std::map<std::string, std::string> env = {})
        : process([&] {
              env.try_emplace("API_BEARER_TOKEN", "test-token");
              env.try_emplace("CLAUDE_BIN", kFake);
              env.try_emplace("WORKSPACE_DIR", workspace.path.string());
              env.try_emplace("GIT_SYNC", "off");
              env.try_emplace("WARM_CLI", "off");  // descendants are checked
              return env;
          }()) {}
    [[nodiscard]] bool busy() const {
        return json::parse(request(process.port(), "GET", "/health").body).at("busy").as_bool();
    }
    // Time until /health says the slot is free (or `limit`).
    std::chrono::milliseconds time_until_idle(std::chrono::milliseconds limit) const {
        auto start = std::chrono::steady_clock::now();
        while (busy() && std::chrono::steady_clock::now() - start < limit)
            std::this_thread::sleep_for(10ms);
        return std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - start);
    }
};

std::string completion_request(const std::string& content, bool stream, bool keep_alive = false) {
    auto body = json::serialize(json::object{
        {"model", "claude-haiku-4-5"},
        {"stream", stream},
        {"stream_options", json::object{{"include_usage", true}}},
        {"messages", json::array{json::object{{"role", "user"}, {"content", content}}}}});
    return fmt::format(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer test-token\r\n"
        "Content-Type: application/json\r\nContent-Length: {}\r\n{}\r\n{}",
        body.size(), keep_alive ? "" : "Connection: close\r\n", body);
}

// The JSON of each "data: {...}" event in an SSE body, in order.
std::vector<json::value> events_of(const std::string& body) {
    std::vector<json::value> out;
    std::size_t at = 0;
    while ((at = body.find("data: {", at)) != std::string::npos) {
        auto end = body.find("\n\n", at);
        out.push_back(json::parse(body.substr(at + 6, end - at - 6)));
        at = end;
    }
    return out;
}

}  // namespace

TEST_CASE("streamed completion: SSE framing, chunks in order, usage, [DONE]") {
    Service s;
    Connection conn(s.process.port());
    conn.send(completion_request("hello streaming world", true));
    auto reply = conn.read_reply();
    REQUIRE(reply.status == 200);
    CHECK(reply.header("content-type") == "text/event-stream");
    CHECK(reply.header("transfer-encoding") == "chunked");
    CHECK(reply.body.ends_with("data: [DONE]\n\n"));
    auto events = events_of(reply.body);
    REQUIRE(events.size() >= 4);
    CHECK(events.front().at("choices").at(0).at("delta").at("role") == "assistant");
    std::string text;
    int finishes = 0;
    for (const auto& e : events) {
        const auto& choices = e.at("choices").as_array();
        if (choices.empty()) continue;
        if (const auto* c = choices.at(0).at("delta").as_object().if_contains("content"))
            text += c->as_string();
        if (!choices.at(0).at("finish_reason").is_null()) ++finishes;
    }
    CHECK(text == "fake reply: Request:");
    CHECK(finishes == 1);
    CHECK(events.back().at("choices").as_array().empty());
    CHECK(events.back().at("usage").at("total_tokens") == 36);
    CHECK_FALSE(s.busy());
}

TEST_CASE("streamed completion: deltas leave as they are produced, keep-alives fill silence") {
    Service s(std::map<std::string, std::string>{{"SSE_KEEPALIVE_MS", "200"}});
    Connection conn(s.process.port());
    auto start = std::chrono::steady_clock::now();
    conn.send(completion_request(
        "x\nFAKE:sleep=0.7\nFAKE:stream-pause=0.5\nFAKE:text=0123456789abcdef", true));
    // The first delta arrives while the fake still has a pause per delta to go.
    auto seen = conn.read_until("01234567", 5s);
    auto first_delta = std::chrono::steady_clock::now();
    REQUIRE_FALSE(seen.empty());
    CHECK(seen.find(": keep-alive\n\n") != std::string::npos);  // during the 0.7 s of silence
    CHECK(seen.find("89abcdef") == std::string::npos);          // the second is 0.5 s away
    CHECK_FALSE(conn.read_until("data: [DONE]\n\n", 5s).empty());
    // Sent ahead of the end by at least the fake's pause before the next delta: measured from
    // the first delta, not from the request, so a loaded machine's slow start cannot fail it.
    CHECK(std::chrono::steady_clock::now() - first_delta >= 400ms);
    CHECK(first_delta - start < 5s);
}

TEST_CASE("streamed completion: a failure after the stream began is an error event") {
    Service s;
    Connection conn(s.process.port());
    conn.send(completion_request("x\nFAKE:is-error", true));
    auto reply = conn.read_reply();
    REQUIRE(reply.status == 200);
    auto events = events_of(reply.body);
    REQUIRE_FALSE(events.empty());
    CHECK_THAT(std::string(events.back().at("error").at("message").as_string()),
               Catch::Contains("API Error: 400 fake failure"));
    CHECK(reply.body.find("[DONE]") == std::string::npos);
    CHECK_FALSE(s.busy());
}

TEST_CASE("a client that leaves a streamed completion frees the slot within a second") {
    // The role event (and the headers) go at the CLI's first line, which names the session,
    // or, from a CLI silent before it, at the first keep-alive.
    auto [prompt, env] = GENERATE(
        std::pair<std::string, std::map<std::string, std::string>>{"x\nFAKE:stall-after-init=30",
                                                                   {}},
        std::pair<std::string, std::map<std::string, std::string>>{"x\nFAKE:sleep=30",
                                                                   {{"SSE_KEEPALIVE_MS", "300"}}});
    Service s(env);
    {
        Connection conn(s.process.port());
        conn.send(completion_request(prompt, true));
        REQUIRE_FALSE(conn.read_until("\"role\":\"assistant\"", 5s).empty());
        CHECK(s.busy());
        conn.close_now();
    }
    CHECK(s.time_until_idle(3s) < 1000ms);
    CHECK(cas::agent::descendants_of(s.process.pid()).empty());
}

TEST_CASE("a client that leaves a plain completion frees the slot within a second") {
    Service s;
    {
        Connection conn(s.process.port());
        conn.send(completion_request("x\nFAKE:sleep=30", false));
        std::this_thread::sleep_for(300ms);
        CHECK(s.busy());
        conn.close_now();
    }
    CHECK(s.time_until_idle(3s) < 1000ms);
    // Killed, and reaped soon after (the slot is free once the CLI has exited; a loaded
    // machine may take a moment to finish the rest of the sweep).
    CHECK(eventually([&] { return cas::agent::descendants_of(s.process.pid()).empty(); }, 2s));
}

TEST_CASE("keep-alive connections carry a streamed response and then the next request") {
    Service s;
    Connection conn(s.process.port());
    conn.send(completion_request("first", true, true));
    auto first = conn.read_reply();
    CHECK(first.body.ends_with("data: [DONE]\n\n"));
    conn.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(conn.read_reply().status == 200);
}

TEST_CASE("/v1 speaks OpenAI errors: auth, models, unknown paths") {
    Service s;
    auto anonymous = request(s.process.port(), "GET", "/v1/models");
    CHECK(anonymous.status == 401);
    CHECK(anonymous.header("www-authenticate") == "Bearer");
    auto error = json::parse(anonymous.body).at("error");
    CHECK(error.at("type") == "authentication_error");
    CHECK(error.at("message") == "Missing bearer token");

    std::map<std::string, std::string> auth{{"Authorization", "Bearer test-token"}};
    auto models = json::parse(request(s.process.port(), "GET", "/v1/models", "", auth).body);
    CHECK(models.at("object") == "list");
    REQUIRE(models.at("data").as_array().size() == 3);
    CHECK(models.at("data").at(0).at("id") == "claude-haiku-4-5");
    CHECK(models.at("data").at(0).at("object") == "model");
    CHECK(models.at("data").at(0).at("owned_by") == "anthropic");
    CHECK(models.at("data").at(0).at("created").is_int64());
    auto one = request(s.process.port(), "GET", "/v1/models/claude-opus-4-7", "", auth);
    CHECK(json::parse(one.body).at("id") == "claude-opus-4-7");
    auto missing = request(s.process.port(), "GET", "/v1/models/gpt-4", "", auth);
    CHECK(missing.status == 404);
    CHECK(json::parse(missing.body).at("error").at("code") == "model_not_found");
    auto image = request(
        s.process.port(), "POST", "/v1/chat/completions",
        R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]})",
        auth);
    CHECK(image.status == 400);
    CHECK_THAT(image.body, Catch::Contains("image_url"));
}
