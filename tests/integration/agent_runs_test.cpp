// Agent runs end to end over HTTP with the fake CLI: jobs and completions, every way a run
// can end, the execution slot after each, and what reaches (and does not reach) the child.
#include "agent/cli_command.hpp"
#include "agent/process_tree.hpp"
#include "integration/agent_fixture.hpp"

#include <signal.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

using namespace cas::test;
using namespace std::chrono_literals;
namespace json = boost::json;
namespace fs = std::filesystem;

TEST_CASE("a job runs to completion and records the CLI's result") {
    Fixture f;
    auto id = f.start_job("triage this please");
    CHECK(id.size() == 12);
    auto job = f.wait_job(id);
    CHECK(job.at("status") == "completed");
    CHECK(job.at("exit_code") == 0);
    CHECK(job.at("result") == "fake reply: triage this please");
    CHECK(job.at("is_error") == false);
    CHECK(job.at("total_cost_usd").as_double() == Approx(0.0123));
    CHECK(job.at("usage").at("output_tokens") == 13);
    CHECK(cas::agent::is_session_id(std::string(job.at("session_id").as_string())));
    CHECK(job.at("agent") == "recruiter-triage");
    CHECK(job.at("prompt") == "triage this please");
    // Jobs run with stream-json (for live events): the record keeps every line, the last
    // being the result object.
    const auto& output = job.at("output").as_array();
    REQUIRE(output.size() > 2);
    CHECK(output.at(0).as_string().starts_with(R"({"type": "system")"));
    CHECK(output.back().as_string().starts_with(R"({"type": "result")"));
    CHECK(job.at("created_at").is_string());
    CHECK(job.at("started_at").is_string());
    CHECK(job.at("output_cap_bytes") == 8 * 1024 * 1024);
    CHECK(job.at("finished_at").is_string());
    CHECK(job.at("metadata").is_null());
    CHECK(f.idle_after_final_record());
    // The command line: the prompt is not on it.
    auto argv = f.record.read("argv");
    CHECK(argv ==
          "-p\n--agent\nrecruiter-triage\n--dangerously-skip-permissions\n"
          "--max-budget-usd\n5\n--input-format\nstream-json\n--output-format\nstream-json\n--"
          "verbose\n"
          "--include-partial-messages\n");
    // First the CLI is asked its agents, then given the prompt.
    CHECK(
        f.record.read("stdin") ==
        R"({"type":"control_request","request_id":"cas-initialize","request":{"subtype":"initialize"}})"
        "\n"
        R"({"type":"user","message":{"role":"user","content":"triage this please"}})"
        "\n");
    CHECK(f.record.read("prompt") == "triage this please");
}

TEST_CASE("metadata and options are kept on the record") {
    Fixture f;
    auto id = f.start_job(
        "x",
        {{"metadata", {{"source", "webhook"}}}, {"max_budget_usd", 1.5}, {"timeout_seconds", 30}});
    auto job = f.wait_job(id);
    CHECK(job.at("metadata").at("source") == "webhook");
    CHECK(job.at("max_budget_usd").as_double() == 1.5);
    CHECK(job.at("timeout_seconds") == 30);
    CHECK(f.record.read("argv").find("--max-budget-usd\n1.5\n") != std::string::npos);
}

TEST_CASE("a CLI that exits non-zero fails the job with its reason") {
    Fixture f;
    auto job = f.wait_job(f.start_job("boom\nFAKE:exit=3\nFAKE:stderr-bytes=10"));
    CHECK(job.at("status") == "failed");
    CHECK(job.at("exit_code") == 3);
    CHECK(job.at("error").as_string().size() > 0);
    CHECK(f.idle_after_final_record());
}

TEST_CASE("is_error with exit code 0 is a failed job, not a success") {
    Fixture f;
    auto job = f.wait_job(f.start_job("x\nFAKE:is-error"));
    CHECK(job.at("status") == "failed");
    CHECK(job.at("exit_code") == 0);
    CHECK(job.at("error") == "API Error: 400 fake failure");
}

TEST_CASE("a job past its timeout ends `timeout` promptly with no process left") {
    Fixture f;
    auto started = std::chrono::steady_clock::now();
    auto id = f.start_job("slow\nFAKE:sleep=30", {{"timeout_seconds", 1}});
    auto job = f.wait_job(id);
    auto elapsed = std::chrono::steady_clock::now() - started;
    CHECK(job.at("status") == "timeout");
    CHECK(job.at("finished_at").is_string());
    // Ended by the deadline, not by the CLI's 30 s: a bound with room for a loaded machine
    // (the CLI may take a second to start under ASan next to other tests).
    CHECK(elapsed < 8s);
    CHECK(f.idle_after_final_record());
    CHECK(f.no_descendants());
}

TEST_CASE("a CLI silent past STALL_TIMEOUT_SECONDS ends `timeout`, saying it stalled") {
    Fixture f(Fixture::Env{{"STALL_TIMEOUT_SECONDS", "1"}});
    auto started = std::chrono::steady_clock::now();
    auto id = f.start_job("hang\nFAKE:silent-sleep=30");
    auto job = f.wait_job(id);
    auto elapsed = std::chrono::steady_clock::now() - started;
    CHECK(job.at("status") == "timeout");
    CHECK(job.at("error") == "stalled: the CLI printed nothing for 1 s");
    CHECK(elapsed < 8s);  // the stall limit, not the CLI's 30 s (room for a loaded machine)
    SECTION("a CLI stalled mid-stream too") {
        auto mid = f.wait_job(f.start_job("hang\nFAKE:stall-after-init=30"));
        CHECK(mid.at("status") == "timeout");
        CHECK(mid.at("output").as_array().size() == 1);  // the init line, then nothing
    }
    CHECK(f.idle_after_final_record());
    CHECK(f.no_descendants());
}

TEST_CASE("a CLI that lingers after its result is ended; the job keeps its result") {
    Fixture f(Fixture::Env{{"RESULT_EXIT_GRACE_MS", "300"}});
    auto started = std::chrono::steady_clock::now();
    auto job = f.wait_job(f.start_job("answer then hang\nFAKE:linger=30"));
    auto elapsed = std::chrono::steady_clock::now() - started;
    CHECK(job.at("status") == "completed");
    CHECK(job.at("result") == "fake reply: answer then hang");
    CHECK(job.at("error").is_null());
    CHECK(elapsed < 1300ms);  // the grace + 1 s
    CHECK(f.no_descendants());
}

TEST_CASE("a completion is answered at the CLI's result; the next run waits for that CLI's end") {
    Fixture f(Fixture::Env{{"RESULT_EXIT_GRACE_MS", "1500"}});
    auto reply = f.complete(chat("answer then hang\nFAKE:linger=30"));
    CHECK(reply.status == 200);
    CHECK(reply.body.find("fake reply: ") != std::string::npos);
    const auto lingering = std::stoi(f.record.read("pid"));
    CHECK(alive(lingering));             // answered before the CLI exited (it would not, for 30 s)
    CHECK(f.idle_after_final_record());  // and the slot is free
    // The next completion is admitted, and runs once the lingering CLI is ended (the grace;
    // tests/runs/run_service_test.cpp checks the order).
    auto next = f.complete(chat("next"));
    CHECK(next.status == 200);
    CHECK_FALSE(alive(lingering));
    CHECK(std::stoi(f.record.read("pid")) != lingering);
    CHECK(eventually([&] { return f.no_descendants(); }));
}

TEST_CASE("a CLI that ignores SIGTERM is killed after the grace") {
    Fixture f(Fixture::Env{{"KILL_GRACE_MS", "300"}});
    auto started = std::chrono::steady_clock::now();
    auto job = f.wait_job(
        f.start_job("stubborn\nFAKE:ignore-term\nFAKE:sleep=30", {{"timeout_seconds", 1}}));
    CHECK(job.at("status") == "timeout");
    CHECK(std::chrono::steady_clock::now() - started < 3s);
    CHECK(f.no_descendants());
    CHECK(f.idle_after_final_record());
}

TEST_CASE("a grandchild that called setsid() is killed on timeout and after a normal exit") {
    SECTION("timeout") {
        Fixture f;
        auto id = f.start_job("x\nFAKE:grandchild=60\nFAKE:sleep=30", {{"timeout_seconds", 2}});
        // The grandchild is there before the deadline (on a loaded machine the fake CLI may
        // take a while to start and fork it).
        REQUIRE(eventually([&] { return !f.record.read("grandchild.pid").empty(); }, 2s));
        auto job = f.wait_job(id);
        CHECK(job.at("status") == "timeout");
        auto grandchild = std::stoi(f.record.read("grandchild.pid"));
        CHECK_FALSE(alive(grandchild));
        CHECK(f.no_descendants());
    }
    SECTION("normal exit leaves a background process behind") {
        Fixture f;
        auto job = f.wait_job(f.start_job("x\nFAKE:grandchild=60"));
        CHECK(job.at("status") == "completed");
        auto grandchild = std::stoi(f.record.read("grandchild.pid"));
        CHECK_FALSE(alive(grandchild));
        CHECK(f.no_descendants());
    }
}

TEST_CASE("one run at a time: 409 for jobs, 503 for completions, busy in /health") {
    Fixture f;
    auto id = f.start_job("hold the slot\nFAKE:sleep=2");
    CHECK(f.busy());
    auto second = f.execute({{"prompt", "x"}, {"agent", "a"}});
    CHECK(second.status == 409);
    CHECK(second.body == R"({"detail":"Agent is busy"})");
    auto completion = f.complete(chat("hi"));
    CHECK(completion.status == 503);
    CHECK(completion.header("retry-after") == "5");
    CHECK(json::parse(completion.body).at("error").at("message") == "agent is busy");
    CHECK(f.wait_job(id).at("status") == "completed");
    CHECK(f.idle_after_final_record());
    CHECK(f.execute({{"prompt", "again"}, {"agent", "a"}}).status == 202);
}

TEST_CASE("20 MiB of output neither deadlocks nor is kept past the cap") {
    Fixture f(Fixture::Env{{"MAX_OUTPUT_BYTES", "1048576"}});
    auto job =
        f.wait_job(f.start_job("big\nFAKE:stdout-bytes=20971520\nFAKE:stderr-bytes=409600"), 60s);
    CHECK(job.at("status") == "completed");
    CHECK(job.at("output_truncated") == true);
    CHECK(job.at("stderr_truncated") == false);
    CHECK(job.at("stderr").as_string().size() == 409600);
    std::size_t kept = 0;
    for (const auto& line : job.at("output").as_array()) kept += line.as_string().size();
    CHECK(kept == 1048576);
    CHECK(f.idle_after_final_record());
}

TEST_CASE("prompts reach the child's stdin byte-exact, never its argv") {
    Fixture f;
    SECTION("a prompt that looks like a flag") {
        f.wait_job(f.start_job("--version"));
        CHECK(f.record.read("prompt") == "--version");
        CHECK(f.record.read("argv").find("--version") == std::string::npos);
    }
    SECTION("a 1 MiB prompt") {
        std::string big;
        for (int i = 0; big.size() < 1024 * 1024; ++i) big += fmt::format("line {} é ✓\n", i);
        big.resize(1024 * 1024 - 3);
        big += "end";
        auto job = f.wait_job(f.start_job(big));
        CHECK(job.at("status") == "completed");
        CHECK(f.record.read("prompt") == big);
    }
}

TEST_CASE("the child's environment lacks API_BEARER_TOKEN") {
    constexpr const char* kWebhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    Fixture f(Fixture::Env{{"SOME_OTHER_SETTING", "kept"}, {"WEBHOOK_SECRET", kWebhookSecret}});
    f.wait_job(f.start_job("env"));
    auto env = f.record.read("env");
    CHECK(env.find("SOME_OTHER_SETTING=kept") != std::string::npos);
    CHECK(env.find("API_BEARER_TOKEN") == std::string::npos);
    CHECK(env.find("test-token") == std::string::npos);
    CHECK(env.find("WEBHOOK_SECRET") == std::string::npos);  // it signs the callbacks
    CHECK(env.find("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") == std::string::npos);
    if (f.database) {  // the job store's connection string (it may hold a password)
        CHECK(env.find("DATABASE_URL") == std::string::npos);
        CHECK(env.find(f.env.at("DATABASE_URL")) == std::string::npos);
    }
}

TEST_CASE("the agent cannot read the tokens from the service's own /proc environ either") {
    Fixture f(Fixture::Env{{"METRICS_TOKEN", "metrics-secret"},
                           {"WEBHOOK_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}});
    f.wait_job(f.start_job("x\nFAKE:read-parent-env"));
    auto parent_env = f.record.read("parent-env");
    REQUIRE_FALSE(parent_env.empty());
    CHECK(parent_env.find("WORKSPACE_DIR=") != std::string::npos);  // it did read the block
    CHECK(parent_env.find("test-token") == std::string::npos);
    CHECK(parent_env.find("metrics-secret") == std::string::npos);
    CHECK(parent_env.find("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") == std::string::npos);
    if (f.database) CHECK(parent_env.find(f.env.at("DATABASE_URL")) == std::string::npos);
}

TEST_CASE("the CLI inherits no descriptor of the service: no listener, no client's socket") {
    Fixture f;
    // An idle client that has sent its token: its connection must not reach the agent.
    Connection idle(f.port());
    REQUIRE(idle.send("GET /jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer test-token\r\n"));
    auto job = f.wait_job(f.start_job("x\nFAKE:list-fds"));
    REQUIRE(job.at("status") == "completed");
    auto fds = f.record.read("fds");
    REQUIRE_THAT(fds, Catch::StartsWith("0 -> pipe:"));
    std::istringstream lines(fds);
    for (std::string line; std::getline(lines, line);) {
        if (line.starts_with("0 ") || line.starts_with("1 ") || line.starts_with("2 ")) continue;
        INFO(fds);
        CHECK_THAT(line, !Catch::Contains("socket:") && !Catch::Contains("pipe:"));
    }
}

TEST_CASE("a bad agent name is 422 and nothing runs") {
    Fixture f;
    for (const std::string& agent :
         std::vector<std::string>{"--help", "", "a b", "../x", std::string(65, 'a'), "x;rm"}) {
        auto reply = f.execute({{"prompt", "x"}, {"agent", agent}});
        CHECK(reply.status == 422);
        CHECK(json::parse(reply.body).at("detail").at(0).at("loc").at(1) == "agent");
    }
    CHECK(f.record.read("argv").empty());
    CHECK(f.idle_after_final_record());
}

TEST_CASE("an agent the CLI does not know fails the job before the prompt is sent") {
    Fixture f;
    f.workspace.write(".claude/agents/other.md", "---\nname: other\ndescription: d\n---\nHi.\n");
    auto job = f.wait_job(f.start_job("secret prompt"));
    CHECK(job.at("status") == "failed");
    CHECK(job.at("error") ==
          "Agent 'recruiter-triage' not found; the CLI has: claude, Explore, general-purpose, "
          "Plan, other");
    // The CLI never saw the prompt: it was ended after answering which agents it has.
    CHECK(f.record.read("stdin").find("secret prompt") == std::string::npos);
    CHECK(f.no_descendants());
    SECTION("a known one runs") {
        f.workspace.write(".claude/agents/triage.md",
                          "---\nname: recruiter-triage\ndescription: d\n---\nHi.\n");
        CHECK(f.wait_job(f.start_job("hello")).at("status") == "completed");
    }
}

TEST_CASE("a missing or non-executable CLAUDE_BIN gives a job error with a clear message") {
    SECTION("missing") {
        Fixture f(Fixture::Env{{"CLAUDE_BIN", "/nonexistent/claude"}});
        auto job = f.wait_job(f.start_job("x"));
        CHECK(job.at("status") == "error");
        CHECK_THAT(std::string(job.at("error").as_string()),
                   Catch::Contains("/nonexistent/claude"));
        CHECK(f.idle_after_final_record());
    }
    SECTION("not on PATH") {
        Fixture f(Fixture::Env{{"CLAUDE_BIN", "no-such-claude-binary"}});
        auto job = f.wait_job(f.start_job("x"));
        CHECK(job.at("status") == "error");
        CHECK_THAT(std::string(job.at("error").as_string()), Catch::Contains("not found on PATH"));
    }
    SECTION("not executable") {
        Fixture f(Fixture::Env{{"CLAUDE_BIN", CAS_FIXTURES_DIR "/../CMakeLists.txt"}});
        auto job = f.wait_job(f.start_job("x"));
        CHECK(job.at("status") == "error");
        CHECK_THAT(std::string(job.at("error").as_string()), Catch::Contains("not an executable"));
    }
}

TEST_CASE("/execute validation names the field") {
    Fixture f;
    auto problem = [&](const std::string& body) {
        auto reply = request(f.port(), "POST", "/execute", body, kAuth);
        CHECK(reply.status == 422);
        if (reply.status != 422) return std::string();
        return std::string(json::parse(reply.body).at("detail").at(0).at("loc").at(1).as_string());
    };
    CHECK(problem(R"({"agent":"a"})") == "prompt");
    CHECK(problem(R"({"prompt":"x"})") == "agent");
    CHECK(problem(R"({"prompt":"","agent":"a"})") == "prompt");
    CHECK(problem(R"({"prompt":"a\u0000b","agent":"a"})") == "prompt");
    CHECK(problem(R"({"prompt":5,"agent":"a"})") == "prompt");
    CHECK(problem(R"({"prompt":"x","agent":"a","timeout_seconds":0})") == "timeout_seconds");
    CHECK(problem(R"({"prompt":"x","agent":"a","timeout_seconds":-5})") == "timeout_seconds");
    CHECK(problem(R"({"prompt":"x","agent":"a","timeout_seconds":1.5})") == "timeout_seconds");
    CHECK(problem(R"({"prompt":"x","agent":"a","timeout_seconds":"10"})") == "timeout_seconds");
    CHECK(problem(R"({"prompt":"x","agent":"a","timeout_seconds":99999999999})") ==
          "timeout_seconds");
    CHECK(problem(R"({"prompt":"x","agent":"a","max_budget_usd":0})") == "max_budget_usd");
    CHECK(problem(R"({"prompt":"x","agent":"a","max_budget_usd":-1})") == "max_budget_usd");
    CHECK(problem(R"({"prompt":"x","agent":"a","max_budget_usd":1e400})") != "");
    CHECK(problem(R"({"prompt":"x","agent":"a","metadata":[1]})") == "metadata");
    CHECK(problem(R"({"prompt":"x","agent":"a","timeout":10})") == "timeout");

    auto not_json = request(f.port(), "POST", "/execute", "{not json", kAuth);
    CHECK(not_json.status == 400);
    CHECK(json::parse(not_json.body)
              .at("detail")
              .as_string()
              .starts_with("Request body is not valid JSON"));
    CHECK(request(f.port(), "POST", "/execute", "[1,2]", kAuth).status == 400);
    // An unpaired surrogate (the reference stored it and then failed every read of the job).
    CHECK(
        request(f.port(), "POST", "/execute", R"({"prompt":"\ud800","agent":"a"})", kAuth).status ==
        400);
    CHECK(f.record.read("argv").empty());
}

TEST_CASE("unknown job ids are 404") {
    Fixture f;
    for (const std::string& id :
         std::vector<std::string>{"000000000000", "nope", "..%2F..%2Fetc", std::string(500, 'a')}) {
        auto reply = request(f.port(), "GET", "/jobs/" + id, "", kAuth);
        CHECK(reply.status == 404);
        CHECK(reply.body == R"({"detail":"Job not found"})");
    }
}

TEST_CASE("chat completions: success with usage, model choice and errors") {
    Fixture f;
    SECTION("success") {
        auto reply =
            f.complete(chat("Hello there", {{"model", "claude-haiku-4-5"}, {"temperature", 0.2}}));
        REQUIRE(reply.status == 200);
        auto body = json::parse(reply.body);
        CHECK(body.at("object") == "chat.completion");
        CHECK(body.at("model") == "claude-haiku-4-5");
        CHECK(body.at("id").as_string().starts_with("chatcmpl-"));
        CHECK(body.at("choices").at(0).at("message").at("content") == "fake reply: Request:");
        CHECK(body.at("choices").at(0).at("finish_reason") == "stop");
        CHECK(body.at("usage").at("prompt_tokens") == 23);
        CHECK(body.at("usage").at("completion_tokens") == 13);
        CHECK(body.at("usage").at("total_tokens") == 36);
        auto argv = f.record.read("argv");
        CHECK(argv.find("--agent\nrecruiter-triage\n") != std::string::npos);
        CHECK(argv.find("--model\nclaude-haiku-4-5\n") != std::string::npos);
        CHECK(argv.find("--max-budget-usd\n2\n") != std::string::npos);
        CHECK(f.record.read("prompt") == "Request:\nHello there");
    }
    SECTION("the default model") {
        auto reply = f.complete(chat("x"));
        REQUIRE(reply.status == 200);
        CHECK(json::parse(reply.body).at("model") == "claude-sonnet-4-6");
    }
    SECTION("unsupported model") {
        auto reply = f.complete(chat("x", {{"model", "gpt-4"}}));
        CHECK(reply.status == 400);
        auto error = json::parse(reply.body).at("error");
        CHECK(error.at("param") == "model");
        CHECK(error.at("supported").as_array().size() == 3);
        CHECK_THAT(std::string(error.at("message").as_string()), Catch::Contains("gpt-4"));
    }
    SECTION("CLI failure is 503 with the reason") {
        auto reply = f.complete(chat("x\nFAKE:is-error"));
        CHECK(reply.status == 503);
        CHECK_THAT(std::string(json::parse(reply.body).at("error").at("message").as_string()),
                   Catch::Contains("API Error: 400 fake failure"));
        auto exit1 = f.complete(chat("x\nFAKE:exit=1\nFAKE:no-json"));
        CHECK(exit1.status == 503);
        CHECK_THAT(exit1.body, Catch::Contains("exited with code 1"));
    }
    SECTION("bad messages") {
        CHECK(f.complete({{"messages", json::array{}}}).status == 400);
        CHECK(f.complete({{"model", "claude-haiku-4-5"}}).status == 400);
        auto role = f.complete(
            {{"messages", json::array{json::object{{"role", "robot"}, {"content", "x"}}}}});
        CHECK(role.status == 400);
        CHECK(json::parse(role.body).at("error").at("param") == "messages[0].role");
    }
    CHECK(f.idle_after_final_record());
}

TEST_CASE("a completion past its timeout is 503 and frees the slot") {
    Fixture f(Fixture::Env{{"OPENAI_TIMEOUT_SECONDS", "1"}});
    auto reply = f.complete(chat("slow\nFAKE:sleep=30"));
    CHECK(reply.status == 503);
    CHECK(json::parse(reply.body).at("error").at("message") == "agent timed out");
    CHECK(f.idle_after_final_record());
    CHECK(f.no_descendants());
}

TEST_CASE("git sync: best-effort records a failed pull and runs but required fails the job") {
    SECTION("best-effort") {
        Fixture f(Fixture::Env{{"GIT_SYNC", "best-effort"}});
        auto job = f.wait_job(f.start_job("x"));
        CHECK(job.at("status") == "completed");
        CHECK(job.at("git_sync").at("status") == "failed");
        CHECK(job.at("git_sync").at("detail").is_string());
    }
    SECTION("required") {
        Fixture f(Fixture::Env{{"GIT_SYNC", "required"}});
        auto job = f.wait_job(f.start_job("x"));
        CHECK(job.at("status") == "failed");
        CHECK_THAT(std::string(job.at("error").as_string()), Catch::StartsWith("git pull failed"));
        CHECK(f.record.read("argv").empty());
    }
}

TEST_CASE("SIGTERM during a run: the grace passes, the job ends `interrupted`, exit 0") {
    Fixture f(Fixture::Env{{"SHUTDOWN_GRACE", "1s"}});
    auto id = f.start_job("x\nFAKE:sleep=30\nFAKE:grandchild=60");
    std::this_thread::sleep_for(300ms);
    auto pid = f.service->pid();
    auto started = std::chrono::steady_clock::now();
    CHECK(f.service->stop(SIGTERM, 10s) == 0);
    auto took = std::chrono::steady_clock::now() - started;
    CHECK(took >= 900ms);  // the run had its grace
    CHECK(took < 4s);
    CHECK(cas::agent::descendants_of(pid).empty());
    auto grandchild = f.record.read("grandchild.pid");
    if (!grandchild.empty()) CHECK_FALSE(alive(std::stoi(grandchild)));
    f.service = std::make_unique<ServiceProcess>(f.env);
    auto job = f.job(id);
    CHECK(job.at("status") == "interrupted");
    CHECK(job.at("error") == "interrupted by service shutdown");
}

TEST_CASE("SIGTERM during a run that ends within the grace: the job completes, exit 0") {
    Fixture f(Fixture::Env{{"SHUTDOWN_GRACE", "10s"}});
    auto id = f.start_job("x\nFAKE:sleep=1");
    std::this_thread::sleep_for(200ms);
    auto started = std::chrono::steady_clock::now();
    CHECK(f.service->stop(SIGTERM, 10s) == 0);
    CHECK(std::chrono::steady_clock::now() - started < 3s);
    f.service = std::make_unique<ServiceProcess>(f.env);
    CHECK(f.job(id).at("status") == "completed");
}

TEST_CASE("a second SIGTERM cancels the run at once, and its record is still written") {
    Fixture f(Fixture::Env{{"SHUTDOWN_GRACE", "60s"}});
    auto id = f.start_job("x\nFAKE:sleep=30");
    std::this_thread::sleep_for(300ms);
    kill(f.service->pid(), SIGTERM);
    std::this_thread::sleep_for(300ms);
    auto started = std::chrono::steady_clock::now();
    CHECK(f.service->stop(SIGTERM, 10s) == 0);
    CHECK(std::chrono::steady_clock::now() - started < 3s);
    f.service = std::make_unique<ServiceProcess>(f.env);
    CHECK(f.job(id).at("status") == "interrupted");
}

TEST_CASE("a CLI that exits without reading its stdin neither kills nor wedges the service") {
    Fixture f(Fixture::Env{{"CLAUDE_BIN", "/bin/false"}});
    for (int i = 0; i < 3; ++i) {
        auto job = f.wait_job(f.start_job(std::string(1024 * 1024, 'p')));
        CHECK(job.at("status") == "failed");
        CHECK(job.at("exit_code") == 1);
    }
    CHECK(request(f.port(), "GET", "/health").status == 200);
    CHECK(f.idle_after_final_record());
}
