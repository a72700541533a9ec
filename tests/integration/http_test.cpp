// The HTTP core over real sockets against the real binary: health, auth answers, limits,
// malformed input, HEAD and Host, keep-alive and pipelining, timeouts, and graceful stop.
#include "integration/agent_fixture.hpp"
#include "integration/service_process.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <csignal>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace cas::test;
using namespace std::chrono_literals;
using namespace std::string_literals;

namespace {

const std::map<std::string, std::string> kTokenEnv{{"API_BEARER_TOKEN", "test-token"}};

std::map<std::string, std::string> bearer(const std::string& token) {
    return {{"Authorization", "Bearer " + token}};
}

const std::string kHealthy = R"({"status":"ok","busy":false})";

// One response's status line and header fields (lowercase names), cut off the front of `raw`.
// Responses to HEAD are read raw: Connection::read_reply would wait for the body that their
// Content-Length announces and that never comes.
struct Head {
    std::string status_line;
    std::map<std::string, std::string> fields;
};

Head take_head(std::string& raw) {
    auto end = raw.find("\r\n\r\n");
    REQUIRE(end != std::string::npos);
    Head head;
    std::istringstream lines(raw.substr(0, end));
    auto next_line = [&lines](std::string& line) {
        if (!std::getline(lines, line)) return false;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        return true;
    };
    next_line(head.status_line);
    for (std::string line; next_line(line);) {
        auto colon = line.find(':');
        REQUIRE(colon != std::string::npos);
        std::string name = line.substr(0, colon);
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        head.fields[name] = line.substr(line.find_first_not_of(' ', colon + 1));
    }
    raw.erase(0, end + 4);
    return head;
}

// The body a GET response's Content-Length announces, cut off the front of `raw`.
std::string take_body(std::string& raw, const Head& head) {
    auto length = std::stoul(head.fields.at("content-length"));
    REQUIRE(raw.size() >= length);
    auto body = raw.substr(0, length);
    raw.erase(0, length);
    return body;
}

// What HEAD must send exactly as GET does: every field but the per-request id.
std::map<std::string, std::string> without_request_id(std::map<std::string, std::string> fields) {
    fields.erase("x-request-id");
    return fields;
}

}  // namespace

TEST_CASE("health answers without auth") {
    ServiceProcess service(kTokenEnv);
    auto reply = request(service.port(), "GET", "/health");
    CHECK(reply.status == 200);
    CHECK(reply.body == R"({"status":"ok","busy":false})");
    CHECK(reply.header("content-type") == "application/json");
    CHECK(reply.header("x-request-id").size() == 16);
}

TEST_CASE("protected routes give the reference app's three 401s") {
    SECTION("unconfigured token") {
        ServiceProcess service;
        for (const auto& headers :
             {std::map<std::string, std::string>{}, bearer(""), bearer("x")}) {
            auto reply = request(service.port(), "GET", "/jobs/abc", "", headers);
            CHECK(reply.status == 401);
            CHECK(reply.body == R"({"detail":"Service unauthenticated"})");
            CHECK(reply.header("www-authenticate") == "Bearer");
        }
    }
    SECTION("missing and wrong tokens") {
        ServiceProcess service(kTokenEnv);
        auto missing = request(service.port(), "GET", "/jobs/abc");
        CHECK(missing.status == 401);
        CHECK(missing.body == R"({"detail":"Missing bearer token"})");
        CHECK(missing.header("www-authenticate") == "Bearer");

        auto basic =
            request(service.port(), "GET", "/jobs/abc", "", {{"Authorization", "Basic eA=="}});
        CHECK(basic.body == R"({"detail":"Missing bearer token"})");

        auto wrong = request(service.port(), "GET", "/jobs/abc", "", bearer("nope"));
        CHECK(wrong.status == 401);
        CHECK(wrong.body == R"({"detail":"Invalid token"})");
        CHECK(wrong.header("www-authenticate") == "Bearer");

        auto non_ascii =
            request(service.port(), "GET", "/jobs/abc", "", bearer("t\xc3\xa9st-token"));
        CHECK(non_ascii.status == 401);
        CHECK(non_ascii.body == R"({"detail":"Invalid token"})");
    }
    SECTION("the token never reaches the log") {
        ServiceProcess service(kTokenEnv);
        request(service.port(), "GET", "/jobs/abc", "", bearer("test-token"));
        request(service.port(), "GET", "/jobs/abc", "", bearer("wrong-guess"));
        CHECK(service.log().find("test-token") == std::string::npos);
        CHECK(service.log().find("wrong-guess") == std::string::npos);
    }
}

TEST_CASE("auth happens before the body is read or parsed") {
    ServiceProcess service(kTokenEnv);
    // Anonymous, with a body the schema would reject: 401, not 422.
    auto reply = request(service.port(), "POST", "/execute", R"({"nonsense":1})");
    CHECK(reply.status == 401);
    CHECK(reply.body == R"({"detail":"Missing bearer token"})");

    // Anonymous with a declared 100 MiB body that is never sent: answered at once.
    Connection conn(service.port(), 5s);
    conn.send("POST /execute HTTP/1.1\r\nHost: x\r\nContent-Length: 104857600\r\n\r\n");
    auto early = conn.read_reply();
    CHECK(early.status == 401);
    CHECK(early.header("connection") == "close");
}

TEST_CASE("unknown paths are 404 and wrong methods 405 with Allow") {
    ServiceProcess service(kTokenEnv);
    auto missing = request(service.port(), "GET", "/nope");
    CHECK(missing.status == 404);
    CHECK(missing.body == R"({"detail":"Not Found"})");

    auto wrong = request(service.port(), "DELETE", "/health");
    CHECK(wrong.status == 405);
    CHECK(wrong.header("allow") == "GET, HEAD");
    CHECK(wrong.body == R"({"detail":"Method Not Allowed"})");

    auto v1 = request(service.port(), "GET", "/v1/nope");
    CHECK(v1.status == 404);
    CHECK(v1.body.find(R"("error":{"message":"Not Found")") != std::string::npos);
}

TEST_CASE("HEAD answers as GET would, without a body, on a connection that stays usable") {
    ServiceProcess service(kTokenEnv);
    Connection conn(service.port());
    // Pipelined: a body after HEAD's headers would be read as the GET's status line.
    conn.send(
        "HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n"
        "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    auto raw = conn.read_until(kHealthy, 5s);
    auto head = take_head(raw);
    auto get = take_head(raw);
    CHECK(head.status_line == "HTTP/1.1 200 OK");
    CHECK(get.status_line == "HTTP/1.1 200 OK");
    CHECK(raw == kHealthy);  // the GET's body, and no other byte
    CHECK(head.fields["content-length"] == std::to_string(kHealthy.size()));
    CHECK(without_request_id(head.fields) == without_request_id(get.fields));
    CHECK(head.fields["x-request-id"].size() == 16);
}

TEST_CASE("HEAD on a protected GET route: the same auth, the same headers, no body") {
    Fixture f;
    auto id = f.start_job("triage this please");
    f.wait_job(id);
    const std::string auth = "Authorization: Bearer test-token\r\n";
    auto job = [&](const std::string& method, const std::string& extra) {
        return method + " /jobs/" + id + " HTTP/1.1\r\nHost: x\r\n" + extra + "\r\n";
    };
    Connection conn(f.port());
    conn.send(job("HEAD", auth) + job("GET", auth) + job("HEAD", "") + job("GET", "") +
              "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    auto raw = conn.read_until(kHealthy, 5s);

    auto head = take_head(raw);
    auto get = take_head(raw);
    CHECK(head.status_line == "HTTP/1.1 200 OK");
    CHECK(get.status_line == "HTTP/1.1 200 OK");
    CHECK(json::parse(take_body(raw, get)).at("job_id").as_string() == id);
    CHECK(without_request_id(head.fields) == without_request_id(get.fields));

    auto anonymous_head = take_head(raw);
    auto anonymous_get = take_head(raw);
    CHECK(anonymous_head.status_line == "HTTP/1.1 401 Unauthorized");
    CHECK(anonymous_head.fields["www-authenticate"] == "Bearer");
    CHECK(take_body(raw, anonymous_get) == R"({"detail":"Missing bearer token"})");
    CHECK(without_request_id(anonymous_head.fields) == without_request_id(anonymous_get.fields));

    CHECK(take_head(raw).status_line == "HTTP/1.1 200 OK");
    CHECK(raw == kHealthy);
}

TEST_CASE("HEAD on a streamed route sends the headers and never starts the stream") {
    Fixture f;
    auto id = f.start_job("slow\nFAKE:sleep=30");
    Connection conn(f.port());
    // While the job runs, GET would stream until it ends; HEAD answers at once.
    conn.send("HEAD /jobs/" + id +
              "/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer test-token\r\n\r\n"
              "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    auto raw = conn.read_until(R"("busy":true})", 5s);
    auto head = take_head(raw);
    CHECK(head.status_line == "HTTP/1.1 200 OK");
    CHECK(head.fields["content-type"] == "text/event-stream");
    CHECK(head.fields["transfer-encoding"] == "chunked");
    CHECK(take_head(raw).status_line == "HTTP/1.1 200 OK");
    CHECK(raw == R"({"status":"ok","busy":true})");
    CHECK(request(f.port(), "DELETE", "/jobs/" + id, "", kAuth).status == 200);
}

TEST_CASE("HEAD on a POST-only route is 405 with Allow, without a body") {
    ServiceProcess service(kTokenEnv);
    Connection conn(service.port());
    conn.send(
        "HEAD /execute HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer test-token\r\n\r\n"
        "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    auto raw = conn.read_until(kHealthy, 5s);
    auto head = take_head(raw);
    CHECK(head.status_line == "HTTP/1.1 405 Method Not Allowed");
    CHECK(head.fields["allow"] == "POST");
    CHECK(head.fields["content-length"] ==
          std::to_string(std::string_view(R"({"detail":"Method Not Allowed"})").size()));
    CHECK(take_head(raw).status_line == "HTTP/1.1 200 OK");
    CHECK(raw == kHealthy);
}

TEST_CASE("HTTP/1.1 without Host is 400; HTTP/1.0 without Host is served") {
    ServiceProcess service(kTokenEnv);
    Connection conn(service.port());
    conn.send("GET /health HTTP/1.1\r\n\r\n");
    auto missing = conn.read_reply();
    CHECK(missing.status == 400);
    CHECK(missing.body == R"({"detail":"Missing Host header"})");
    // Nothing unread followed the header, so the connection carries on.
    conn.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(conn.read_reply().status == 200);

    Connection old(service.port());
    old.send("GET /health HTTP/1.0\r\n\r\n");
    auto reply = old.read_reply();
    CHECK(reply.status == 200);
    CHECK(reply.body == kHealthy);
}

TEST_CASE("the request log line gives duration_ms in milliseconds to at most 3 decimals") {
    ServiceProcess service(kTokenEnv);
    for (int i = 0; i < 5; ++i) CHECK(request(service.port(), "GET", "/health").status == 200);
    // Each line is written just after its response: wait for the last.
    std::vector<double> durations;
    auto deadline = std::chrono::steady_clock::now() + 2s;
    while (durations.size() < 5 && std::chrono::steady_clock::now() < deadline) {
        durations.clear();
        std::istringstream lines(service.log());
        for (std::string line; std::getline(lines, line);) {
            boost::system::error_code ec;
            auto entry = json::parse(line, ec);
            if (ec || !entry.is_object() || entry.at("msg") != "request") continue;
            durations.push_back(entry.at("duration_ms").to_number<double>());
        }
        std::this_thread::sleep_for(10ms);
    }
    REQUIRE(durations.size() == 5);
    for (auto ms : durations) {
        CHECK(ms >= 0.0);
        CHECK(ms == std::round(ms * 1000.0) / 1000.0);
    }
}

TEST_CASE("a body over the limit is 413 and the server keeps serving") {
    ServiceProcess service(kTokenEnv);
    std::string big(5U * 1024U * 1024U, 'x');
    auto reply = request(service.port(), "POST", "/execute", big, bearer("test-token"));
    CHECK(reply.status == 413);
    CHECK(reply.body.find("too large") != std::string::npos);

    // Chunked bodies have no declared length: the limit applies while reading.
    ServiceProcess small(kTokenEnv, {"--max-body-bytes", "1000"});
    Connection conn(small.port());
    std::string chunk(800, 'y');
    conn.send(
        "POST /execute HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer test-token\r\n"
        "Transfer-Encoding: chunked\r\n\r\n" +
        fmt::format("{:x}\r\n{}\r\n{:x}\r\n{}\r\n0\r\n\r\n", chunk.size(), chunk, chunk.size(),
                    chunk));
    CHECK(conn.read_reply().status == 413);
    CHECK(request(small.port(), "GET", "/health").status == 200);
}

TEST_CASE("malformed HTTP gets 400 or a close, and the server keeps serving") {
    ServiceProcess service(kTokenEnv);
    // A TLS ClientHello's first bytes (NULs included: a plain literal would stop at the first).
    for (const auto& garbage :
         {"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n"s, "GET / HTTP/9.9\r\n\r\n"s,
          "NOT A REQUEST\r\n\r\n"s, "GET /health HTTP/1.1\r\nBad Header\r\n\r\n"s,
          "POST /execute HTTP/1.1\r\nContent-Length: -5\r\n\r\n"s}) {
        Connection conn(service.port(), 5s);
        conn.send(garbage);
        auto reply = conn.read_reply();
        CHECK((reply.status == 400 || reply.status == 0));
        if (reply.status == 400) CHECK(reply.body.find("\"detail\"") != std::string::npos);
    }
    auto bad_target = request(service.port(), "GET", "http://[bad");
    CHECK(bad_target.status == 400);
    CHECK(request(service.port(), "GET", "/health").status == 200);
}

TEST_CASE("headers over the limit get 431") {
    ServiceProcess service(kTokenEnv);
    auto reply =
        request(service.port(), "GET", "/health", "", {{"X-Filler", std::string(20000, 'a')}});
    CHECK(reply.status == 431);
    CHECK(request(service.port(), "GET", "/health").status == 200);
}

TEST_CASE("keep-alive and pipelined requests are answered in order") {
    ServiceProcess service(kTokenEnv);
    Connection conn(service.port());
    conn.send(
        "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
        "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
        "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(conn.read_reply().status == 200);
    CHECK(conn.read_reply().status == 404);
    CHECK(conn.read_reply().status == 200);
    // Still open for a fourth.
    conn.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(conn.read_reply().status == 200);
}

TEST_CASE("HTTP/1.0 without keep-alive is closed after the response") {
    ServiceProcess service(kTokenEnv);
    Connection conn(service.port());
    conn.send("GET /health HTTP/1.0\r\n\r\n");
    auto reply = conn.read_reply();
    CHECK(reply.status == 200);
    CHECK(conn.closed_within(2s));
}

TEST_CASE("a client that sends half a header is disconnected after the read timeout") {
    ServiceProcess service(kTokenEnv, {"--read-timeout", "1"});
    Connection conn(service.port());
    conn.send("GET /health HTTP/1.1\r\nHost: x\r\nX-Slow:");
    auto start = std::chrono::steady_clock::now();
    CHECK(conn.closed_within(5s));
    auto waited = std::chrono::steady_clock::now() - start;
    CHECK(waited >= 900ms);
    CHECK(waited < 3s);
    CHECK(request(service.port(), "GET", "/health").status == 200);
}

TEST_CASE("a client that stalls in the body is disconnected after the read timeout") {
    ServiceProcess service(kTokenEnv, {"--read-timeout", "1"});
    Connection conn(service.port());
    conn.send(
        "POST /execute HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer test-token\r\n"
        "Content-Length: 100\r\n\r\n{\"prompt\":");
    // The timed-out stream is closed by Beast, so there is no 408 to send: just the close.
    auto start = std::chrono::steady_clock::now();
    CHECK(conn.read_reply().status == 0);
    CHECK(std::chrono::steady_clock::now() - start < 3s);
    CHECK(request(service.port(), "GET", "/health").status == 200);
}

TEST_CASE("connections over the cap are closed, the rest keep working") {
    ServiceProcess service(kTokenEnv, {"--max-connections", "2"});
    Connection a(service.port());
    Connection b(service.port());
    a.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(a.read_reply().status == 200);
    b.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(b.read_reply().status == 200);
    Connection c(service.port());
    CHECK(c.closed_within(2s));
    a.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(a.read_reply().status == 200);
}

TEST_CASE("SIGTERM and SIGINT stop the server with exit code 0, closing idle connections") {
    for (int signal : {SIGTERM, SIGINT}) {
        ServiceProcess service(kTokenEnv);
        Connection idle(service.port());
        idle.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
        CHECK(idle.read_reply().status == 200);
        auto start = std::chrono::steady_clock::now();
        CHECK(service.stop(signal, 5s) == 0);
        CHECK(std::chrono::steady_clock::now() - start < 1s);
        CHECK(idle.closed_within(1s));
    }
}

TEST_CASE("bad configuration exits 2 before listening") {
    CHECK_THROWS_WITH(ServiceProcess({}, {"--port", "notaport"}), Catch::Contains("--port"));
    CHECK_THROWS_WITH(
        ServiceProcess(std::map<std::string, std::string>{{"MAX_BODY_BYTES", "lots"}}),
        Catch::Contains("MAX_BODY_BYTES"));
}
