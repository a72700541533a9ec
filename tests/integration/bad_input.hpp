// The bad-input catalogue's machinery, shared by its files (bad_input_test.cpp: the HTTP layer,
// the jobs and chat routes; bad_input_model_apis_test.cpp: responses and messages): raw request
// builders, the expected bodies as the service serializes them, and an entry's run: its
// replies checked exactly and the invariants every reply must hold, the connection after it,
// and the service still healthy with the slot free.
#pragma once

#include "integration/agent_fixture.hpp"
#include "util/json_text.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace cas::test::bad_input {
using namespace std::chrono_literals;
namespace json = boost::json;

using Clock = std::chrono::steady_clock;

// The settings every entry runs under: a 1 s read timeout so stalls are cut quickly, and a
// 64 KiB body limit so size cases are cheap (the largest legitimate entry is 50 KB).
inline const Fixture::Env kEnv{{"READ_TIMEOUT_SECONDS", "1"}, {"MAX_BODY_BYTES", "65536"}};
constexpr auto kReadTimeout = 1000ms;

// ---- request builders (raw bytes; no Connection: close, so keep-alive can be checked) ----

inline const std::string kBearer = "Authorization: Bearer test-token\r\n";

inline std::string get(const std::string& target, const std::string& extra = {}, bool auth = true) {
    return "GET " + target + " HTTP/1.1\r\nHost: x\r\n" + (auth ? kBearer : "") + extra + "\r\n";
}

inline std::string post(const std::string& target, const std::string& body,
                        const std::string& extra = {}, bool auth = true) {
    return fmt::format(
        "POST {} HTTP/1.1\r\nHost: x\r\n{}Content-Type: application/json\r\nContent-Length: "
        "{}\r\n{}\r\n{}",
        target, auth ? kBearer : "", body.size(), extra, body);
}

// A request smuggled inside a body: it must never be answered.
inline const std::string kSmuggled = "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n";

// ---- expected bodies, serialized the way the service serializes them ----

inline std::string detail(std::string_view message) {
    return cas::json_text(json::object{{"detail", message}});
}

inline std::string field_error(std::string_view field, std::string_view msg,
                               std::string_view type = "value_error",
                               std::string_view where = "body") {
    return cas::json_text(json::object{
        {"detail",
         json::array{json::object{{"loc", json::array{json::string(where), json::string(field)}},
                                  {"msg", msg},
                                  {"type", type}}}}});
}

inline std::string openai_error(std::string_view message, std::optional<std::string_view> param,
                                std::optional<std::string_view> code = std::nullopt) {
    return cas::json_text(json::object{
        {"error",
         json::object{{"message", message},
                      {"type", "invalid_request_error"},
                      {"param", param ? json::value(json::string(*param)) : json::value()},
                      {"code", code ? json::value(json::string(*code)) : json::value()}}}});
}

inline const std::string kHealthy = R"({"status":"ok","busy":false})";
inline const std::string kNoJobs = R"({"jobs":[],"next_cursor":null})";

// ---- the table ----

struct Want {
    int status = 0;
    std::string body;                                          // exact body, unless empty
    std::vector<std::string> has;                              // fragments the body must contain
    std::vector<std::pair<std::string, std::string>> headers;  // lowercase name, exact value
    std::function<void(const HttpReply&)> also;                // anything else to check
};

inline Want exact(int status, std::string body) {
    return Want{status, std::move(body), {}, {}, {}};
}
inline Want has(int status, std::vector<std::string> fragments) {
    return Want{status, {}, std::move(fragments), {}, {}};
}
inline Want with_header(Want want, std::string name, std::string value) {
    want.headers.emplace_back(std::move(name), std::move(value));
    return want;
}
inline Want also(Want want, std::function<void(const HttpReply&)> check) {
    want.also = std::move(check);
    return want;
}

enum class Then {
    any,                   // nothing more is checked about the connection
    open,                  // still usable: a further GET /health on it gets 200
    closed,                // closed promptly, with no further response (nothing smuggled)
    closed_after_timeout,  // no further response; closed after the read timeout, not before
};

struct Entry {
    std::string name;
    std::string raw;  // bytes sent at once on a fresh connection
    std::vector<Want> replies;
    Then then = Then::any;
    std::function<void(int port)> drive = {};  // replaces the raw/replies flow when set
};

// Invariants of every reply.
inline void check_reply_invariants(const HttpReply& reply) {
    CHECK(reply.header("content-type") == "application/json");
    CHECK_FALSE(reply.header("x-request-id").empty());
    if (reply.status == 401) CHECK(reply.header("www-authenticate") == "Bearer");
    for (const auto& [name, value] : reply.headers) {
        INFO("header " << name << ": " << value);
        CHECK_FALSE(name.starts_with("access-control-"));  // CORS is off
    }
    boost::system::error_code ec;
    json::parse(reply.body, ec);  // also rejects invalid UTF-8
    INFO("body: " << reply.body);
    CHECK_FALSE(ec);
}

inline void check_reply(const HttpReply& reply, const Want& want) {
    INFO("status " << reply.status << ", body: " << reply.body);
    CHECK(reply.status == want.status);
    if (reply.status != want.status) return;
    if (!want.body.empty()) CHECK(reply.body == want.body);
    for (const auto& fragment : want.has) CHECK_THAT(reply.body, Catch::Contains(fragment));
    for (const auto& [name, value] : want.headers) CHECK(reply.header(name) == value);
    if (want.also) want.also(reply);
    check_reply_invariants(reply);
}

// No further response arrives and the peer closes within `limit`; how long it took.
inline std::optional<Clock::duration> closes_without_answer(Connection& conn,
                                                            std::chrono::milliseconds limit) {
    auto start = Clock::now();
    auto more = conn.read_until("HTTP/1.", limit);  // empty on EOF or on timeout
    INFO("unexpected further bytes: " << more);
    CHECK(more.empty());
    if (!more.empty()) return std::nullopt;
    if (!conn.closed_within(50ms)) return std::nullopt;  // timed out: still open
    return Clock::now() - start;
}

inline void run_entry(int port, const Entry& entry) {
    if (entry.drive) {
        entry.drive(port);
        return;
    }
    Connection conn(port, 5s);
    CHECK(conn.send(entry.raw));
    for (const auto& want : entry.replies) check_reply(conn.read_reply(), want);
    switch (entry.then) {
        case Then::any: break;
        case Then::open: {
            CHECK(conn.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
            auto again = conn.read_reply();
            CHECK(again.status == 200);
            CHECK(again.body == kHealthy);
            break;
        }
        case Then::closed: {
            // Well inside the 1 s idle timeout, so a connection kept open is not mistaken
            // for one the server chose to close.
            auto took = closes_without_answer(conn, 300ms);
            CHECK(took);
            if (took) CHECK(*took < 300ms);
            break;
        }
        case Then::closed_after_timeout: {
            auto took = closes_without_answer(conn, 5s);
            CHECK(took);
            if (!took) break;
            CHECK(*took >= kReadTimeout - 100ms);
            CHECK(*took < kReadTimeout * 3);
            break;
        }
    }
}

// The service still answers, and no request took the execution slot.
inline void check_still_healthy(int port) {
    auto health = request(port, "GET", "/health");
    CHECK(health.status == 200);
    CHECK(health.body == kHealthy);
}

// The service's log with every line of the requests made so far: a request of its own, marked,
// is logged after them.
inline std::string settled_log(const Fixture& f) {
    static int requests = 0;
    auto marker = "log-settled-" + std::to_string(++requests);
    CHECK(request(f.port(), "GET", "/health", "", {{"X-Request-Id", marker}}).status == 200);
    return f.service->log_through(marker);
}

inline void run_catalogue(const Fixture& f, const std::vector<Entry>& entries) {
    for (const auto& entry : entries) {
        INFO("entry: " << entry.name);
        run_entry(f.port(), entry);
        check_still_healthy(f.port());
    }
}

}  // namespace cas::test::bad_input
