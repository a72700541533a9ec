// Operating the service: the Prometheus scrape after a mixed run (checked by promtool),
// METRICS_TOKEN, request ids and JSON log lines, and the API description routes.
#include "integration/agent_fixture.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <sstream>

using namespace cas::test;

namespace {

// The value of one sample line ("name{labels} value"), or -1 if absent.
double sample(const std::string& scrape, const std::string& series) {
    std::istringstream lines(scrape);
    std::string line;
    while (std::getline(lines, line)) {
        if (line.starts_with(series + " ")) return std::stod(line.substr(series.size() + 1));
    }
    return -1;
}

// Runs `command` with `input` on stdin; returns its exit status and output.
std::pair<int, std::string> run_with_input(const std::string& command, const std::string& input) {
    TempDir dir;
    auto in = (dir.path / "in").string();
    auto out = (dir.path / "out").string();
    {
        std::ofstream f(in, std::ios::binary);
        f << input;
    }
    int status = std::system(fmt::format("{} < {} > {} 2>&1", command, in, out).c_str());
    return {WEXITSTATUS(status), dir.read("out")};
}

}  // namespace

TEST_CASE("metrics after a mixed run: promtool accepts the scrape and the counts are right") {
    Fixture f;
    f.wait_job(f.start_job("ok"));
    f.wait_job(f.start_job("x\nFAKE:exit=3"));
    f.wait_job(f.start_job("x\nFAKE:sleep=5", {{"timeout_seconds", 1}}));
    CHECK(f.complete(chat("hello", {{"model", "claude-haiku-4-5"}})).status == 200);
    CHECK(eventually([&] {  // recorded when the CLI has exited, just after the answer; the
                            // slot is free once the run's session is kept in the store too
        auto scrape = request(f.port(), "GET", "/metrics").body;
        return sample(scrape, R"(cas_runs_total{kind="completion",outcome="completed"})") == 1 &&
               sample(scrape, "cas_slot_busy") == 0;
    }));
    request(f.port(), "GET", "/jobs/000000000000");  // 401
    request(f.port(), "GET", "/no/such/path");       // 404
    // Method names are the client's: each new one must not become a new series.
    request(f.port(), "FROB", "/health");  // 405
    request(f.port(), "ZAP", "/health");   // 405

    auto reply = request(f.port(), "GET", "/metrics");
    REQUIRE(reply.status == 200);
    CHECK_THAT(reply.header("content-type"), Catch::StartsWith("text/plain; version=0.0.4"));
    const auto& scrape = reply.body;
    CHECK(sample(scrape, R"(cas_runs_total{kind="job",outcome="completed"})") == 1);
    CHECK(sample(scrape, R"(cas_runs_total{kind="job",outcome="failed"})") == 1);
    CHECK(sample(scrape, R"(cas_runs_total{kind="job",outcome="timeout"})") == 1);
    CHECK(sample(scrape, R"(cas_runs_total{kind="completion",outcome="completed"})") == 1);
    CHECK(sample(scrape, R"(cas_runs_total{kind="job",outcome="interrupted"})") == 0);
    CHECK(sample(scrape, R"(cas_tokens_total{model="claude-haiku-4-5",type="output"})") == 13);
    CHECK(sample(scrape, R"(cas_cost_usd_total{model="claude-haiku-4-5"})") == Approx(0.0123));
    CHECK(sample(scrape,
                 R"(cas_http_requests_total{method="GET",route="/jobs/{id}",status="401"})") == 1);
    CHECK(sample(scrape,
                 R"(cas_http_requests_total{method="GET",route="unmatched",status="404"})") == 1);
    CHECK(sample(scrape,
                 R"(cas_http_requests_total{method="other",route="unmatched",status="405"})") == 2);
    CHECK(scrape.find("FROB") == std::string::npos);
    CHECK(sample(scrape, "cas_slot_busy") == 0);
    CHECK(sample(scrape, "cas_queue_depth") == 0);
    CHECK(sample(scrape, "cas_child_processes_killed_total") >= 1);  // the timed-out run
    CHECK(sample(scrape, R"(cas_run_duration_seconds_count{kind="job"})") == 3);

    auto [status, output] = run_with_input("promtool check metrics", scrape);
    INFO(output);
    CHECK(status == 0);
}

TEST_CASE("metrics: METRICS_TOKEN protects the scrape with its own token") {
    Fixture f(Fixture::Env{{"METRICS_TOKEN", "scrape-secret"}});
    CHECK(request(f.port(), "GET", "/metrics").status == 401);
    CHECK(request(f.port(), "GET", "/metrics", "", kAuth).status ==
          401);  // the API token is not it
    CHECK(request(f.port(), "GET", "/metrics", "", {{"Authorization", "Bearer scrape-secret"}})
              .status == 200);
    f.wait_job(f.start_job("env"));
    CHECK(f.record.read("env").find("scrape-secret") == std::string::npos);
}

TEST_CASE("logs: one JSON object per line with request id, route, status and job id") {
    Fixture f;
    auto id = f.start_job("logged");
    f.wait_job(id);
    auto reply =
        request(f.port(), "GET", "/jobs/" + id, "",
                {{"Authorization", "Bearer test-token"}, {"X-Request-Id", "trace-abc.123"}});
    CHECK(reply.header("x-request-id") == "trace-abc.123");
    auto bad = request(f.port(), "GET", "/health", "", {{"X-Request-Id", "bad id with spaces"}});
    CHECK(bad.header("x-request-id").size() == 16);

    std::istringstream lines(f.service->log_through("trace-abc.123"));
    std::string line;
    bool found = false;
    while (std::getline(lines, line)) {
        auto entry = json::parse(line).as_object();  // every line is JSON
        CHECK(entry.contains("time"));
        CHECK(entry.contains("level"));
        if (entry.at("msg") == "request" && entry.at("request_id") == "trace-abc.123") {
            found = true;
            CHECK(entry.at("route") == "/jobs/{id}");
            CHECK(entry.at("status") == 200);
            CHECK(entry.at("job_id").as_string() == id);
            CHECK(entry.at("duration_ms").is_double());
        }
    }
    CHECK(found);
    CHECK(f.service->log().find("test-token") == std::string::npos);
}

TEST_CASE("LOG_LEVEL=warn keeps request lines out of the log") {
    Fixture f(Fixture::Env{{"LOG_LEVEL", "warn"}});
    request(f.port(), "GET", "/health");
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // longer than a batch waits
    CHECK(f.service->log().find("\"msg\":\"request\"") == std::string::npos);
}

TEST_CASE("the log is written in batches: kill -9 loses no line older than a batch") {
    Fixture f;
    auto early = request(f.port(), "GET", "/health", "", {{"X-Request-Id", "before-the-pause"}});
    CHECK(early.status == 200);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // a batch waits 50 ms at most
    CHECK(f.service->stop(SIGKILL) == 128 + SIGKILL);
    CHECK_THAT(f.service->log(), Catch::Contains(R"("request_id":"before-the-pause")"));
}

TEST_CASE(
    "the log is written in batches: a warning is written at once, after the lines before "
    "it") {
    Fixture f(Fixture::Env{{"MAX_CONNECTIONS", "1"}});
    Connection held(f.port());  // the one connection allowed
    REQUIRE(held.send("GET /health HTTP/1.1\r\nHost: x\r\nX-Request-Id: just-before\r\n\r\n"));
    CHECK(held.read_reply().status == 200);
    Connection refused(f.port());  // refused with a warning
    CHECK(refused.closed_within(std::chrono::seconds(5)));
    CHECK(f.service->stop(SIGKILL) == 128 + SIGKILL);

    auto log = f.service->log();
    INFO(log);
    CHECK_THAT(log, Catch::Contains(R"("request_id":"just-before")"));
    CHECK_THAT(
        log, Catch::Contains(R"("level":"warn","msg":"connection refused: too many connections")"));
}

TEST_CASE("a fatal signal writes the lines waiting for their batch before the service dies") {
    Fixture f;
    auto first = request(f.port(), "GET", "/health", "", {{"X-Request-Id", "right-before-abort"}});
    CHECK(first.status == 200);
    // Answered after the first request's line was logged (one thread, in order): that line is
    // waiting for its batch now.
    CHECK(request(f.port(), "GET", "/health").status == 200);
    CHECK(f.service->stop(SIGABRT) == 128 + SIGABRT);
    CHECK_THAT(f.service->log(), Catch::Contains(R"("request_id":"right-before-abort")"));
}

// The start-up checks (src/startup_checks.hpp) as an operator sees them: before "listening",
// one warning line per missing piece, each naming the setting that fixes it.
namespace {

// setting → message of every start-up warning in `log`.
std::map<std::string, std::string> startup_warnings_in(const std::string& log) {
    std::map<std::string, std::string> found;
    auto listening = log.find("\"msg\":\"listening\"");
    std::istringstream lines(log.substr(0, log.rfind('\n', listening) + 1));
    std::string line;
    while (std::getline(lines, line)) {
        auto entry = json::parse(line).as_object();
        if (entry.at("level") == "warn" && entry.contains("setting")) {
            found[std::string(entry.at("setting").as_string())] =
                std::string(entry.at("msg").as_string());
        }
    }
    return found;
}

}  // namespace

TEST_CASE("start-up: each missing piece is a warning naming its setting; /health is unchanged") {
    TempDir home;  // no ~/.claude, no ~/.claude.json
    auto missing_cli = (home.path / "no-such-claude").string();
    Fixture f(Fixture::Env{{"CLAUDE_BIN", missing_cli},
                           {"WORKSPACE_DIR", "/nonexistent/cas-workspace"},
                           {"GIT_SYNC", "best-effort"},
                           {"HOME", home.path.string()}});
    auto warnings = startup_warnings_in(f.service->log());
    INFO(f.service->log());
    REQUIRE(warnings.count("CLAUDE_BIN") == 1);
    CHECK_THAT(warnings["CLAUDE_BIN"], Catch::Contains("CLAUDE_BIN=" + missing_cli));
    REQUIRE(warnings.count("WORKSPACE_DIR") == 1);
    CHECK_THAT(warnings["WORKSPACE_DIR"],
               Catch::Contains("WORKSPACE_DIR=/nonexistent/cas-workspace does not exist"));
    REQUIRE(warnings.count("ANTHROPIC_API_KEY") == 1);
    CHECK_THAT(warnings["ANTHROPIC_API_KEY"], Catch::Contains("set ANTHROPIC_API_KEY"));
    CHECK(warnings.count("IS_SANDBOX") == (geteuid() == 0 ? 1U : 0U));
    CHECK(warnings.size() == (geteuid() == 0 ? 4U : 3U));

    auto health = request(f.port(), "GET", "/health");
    CHECK(health.status == 200);
    CHECK(json::parse(health.body) == json::parse(R"({"status":"ok","busy":false})"));
}

TEST_CASE("start-up: no warning when the CLI, a checkout and credentials are there") {
    TempDir home;
    TempDir checkout;
    REQUIRE(std::system(fmt::format("git init -q {}", checkout.path.string()).c_str()) == 0);
    Fixture f(Fixture::Env{{"WORKSPACE_DIR", checkout.path.string()},
                           {"GIT_SYNC", "best-effort"},
                           {"HOME", home.path.string()},
                           {"ANTHROPIC_API_KEY", "sk-test"},
                           {"IS_SANDBOX", "1"}});
    INFO(f.service->log());
    CHECK(startup_warnings_in(f.service->log()).empty());
    // The CLI answered --version, and the log says which one runs.
    CHECK_THAT(f.service->log(), Catch::Contains(R"("msg":"claude cli")") &&
                                     Catch::Contains(R"x("version":"0.0.0 (fake Claude Code)")x"));
}
