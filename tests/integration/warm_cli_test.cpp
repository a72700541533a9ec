// The warm CLI through the real service and the fake CLI: a process started ahead answers
// the next run with equal arguments (the fake's `report` tells which process answered and
// how long it had waited for its prompt), other arguments start a fresh one, a pushed agent
// change discards it, one killed from outside is replaced, and shutdown leaves none.
#include "integration/agent_fixture.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>

using namespace cas::test;

namespace {

const Fixture::Env kWarm{{"WARM_CLI", "on"}};

// The value of one sample line of /metrics ("name{labels} value"), or -1 if absent.
double metric(const Fixture& f, const std::string& series) {
    auto scrape = request(f.port(), "GET", "/metrics").body;
    std::istringstream lines(scrape);
    std::string line;
    while (std::getline(lines, line)) {
        if (line.starts_with(series + " ")) return std::stod(line.substr(series.size() + 1));
    }
    return -1;
}

// The pid of the CLI process waiting for the next run, once there is one other than `not`.
pid_t waiting_cli(const Fixture& f, pid_t not_this = -1) {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    for (;;) {
        auto text = f.record.read("pid");
        pid_t pid = text.empty() ? -1 : std::stoi(text);
        if (pid > 0 && pid != not_this && alive(pid)) return pid;
        REQUIRE(std::chrono::steady_clock::now() < deadline);
        std::this_thread::sleep_for(10ms);
    }
}

struct Report {
    pid_t pid = -1;
    int waited_ms = -1;
};

// The fake's `report` answer: which process answered, and how long it waited for its prompt.
Report parse_report(const std::string& text) {
    Report report;
    REQUIRE(std::sscanf(text.c_str(), "pid=%d waited_ms=%d", &report.pid, &report.waited_ms) == 2);
    return report;
}

Report complete_report(const Fixture& f, json::object extra = {}) {
    auto reply = f.complete(chat("FAKE:report", std::move(extra)));
    REQUIRE(reply.status == 200);
    auto body = json::parse(reply.body);
    return parse_report(
        std::string(body.at("choices").at(0).at("message").at("content").as_string()));
}

int run(const std::string& command) {
    return std::system(command.c_str());  // NOLINT(cert-env33-c): test set-up, fixed commands
}

}  // namespace

TEST_CASE("warm CLI: the first completion is answered by the process started at start-up") {
    Fixture f(kWarm);
    pid_t warm = waiting_cli(f);
    std::this_thread::sleep_for(300ms);  // it waits, prompt-less, for as long as it takes
    CHECK(metric(f, "cas_warm_cli_waiting") == 1);
    auto report = complete_report(f);
    CHECK(report.pid == warm);
    CHECK(report.waited_ms >= 300);
    CHECK(metric(f, "cas_warm_cli_hits_total") == 1);
    CHECK(f.record.read("prompt") == "Request:\nFAKE:report");
    SECTION("and the next one by the process started after it") {
        pid_t next = waiting_cli(f, warm);
        auto second = complete_report(f);
        CHECK(second.pid == next);
        CHECK(metric(f, "cas_warm_cli_hits_total") == 2);
        CHECK(metric(f, R"(cas_warm_cli_misses_total{reason="stale"})") == 0);
    }
}

TEST_CASE("warm CLI: other arguments start a fresh process; the next alike is warm again") {
    Fixture f(kWarm);
    pid_t warm = waiting_cli(f);  // for the default model
    auto other = complete_report(f, {{"model", "claude-haiku-4-5"}});
    CHECK(other.pid != warm);
    CHECK(metric(f, R"(cas_warm_cli_misses_total{reason="arguments"})") == 1);
    CHECK(metric(f, "cas_warm_cli_hits_total") == 0);
    // After the run the waiting process is for the run's arguments: the default one went.
    pid_t haiku = waiting_cli(f, other.pid);
    CHECK_FALSE(alive(warm));
    CHECK(metric(f, R"(cas_warm_cli_discards_total{reason="replaced"})") == 1);
    CHECK(f.record.read("argv").find("--model\nclaude-haiku-4-5\n") != std::string::npos);
    auto again = complete_report(f, {{"model", "claude-haiku-4-5"}});
    CHECK(again.pid == haiku);
    CHECK(metric(f, "cas_warm_cli_hits_total") == 1);
}

TEST_CASE("warm CLI: consecutive jobs of one agent after the first are warm") {
    Fixture f(kWarm);
    auto first = f.wait_job(f.start_job("FAKE:report"));
    REQUIRE(first.at("status") == "completed");
    auto first_pid = parse_report(std::string(first.at("result").as_string())).pid;
    pid_t warm = waiting_cli(f, first_pid);
    auto second = f.wait_job(f.start_job("FAKE:report"));
    REQUIRE(second.at("status") == "completed");
    CHECK(parse_report(std::string(second.at("result").as_string())).pid == warm);
    CHECK(metric(f, "cas_warm_cli_hits_total") == 1);
}

TEST_CASE("warm CLI: an agent change pushed between two runs discards the warm process") {
    TempDir repos;
    auto remote = (repos.path / "remote.git").string();
    auto seed = (repos.path / "seed").string();
    auto workspace = (repos.path / "workspace").string();
    auto agent_file = [](const std::string& body) {
        return "---\nname: recruiter-triage\ndescription: d\n---\n" + body + "\n";
    };
    const std::string git = "git -c user.email=t@t -c user.name=t ";
    REQUIRE(run(git + "init -q --bare -b main " + remote) == 0);
    REQUIRE(run(git + "clone -q " + remote + " " + seed + " 2>/dev/null") == 0);
    repos.write("seed/.claude/agents/recruiter-triage.md", agent_file("You are VERSION-ONE."));
    REQUIRE(run(git + "-C " + seed + " add -A && " + git + "-C " + seed + " commit -qm one && " +
                git + "-C " + seed + " push -q origin HEAD:main") == 0);
    REQUIRE(run(git + "clone -q " + remote + " " + workspace) == 0);

    Fixture f(
        Fixture::Env{{"WARM_CLI", "on"}, {"GIT_SYNC", "required"}, {"WORKSPACE_DIR", workspace}});
    auto one = f.wait_job(f.start_job("FAKE:agent-text"));
    REQUIRE(one.at("status") == "completed");
    CHECK(one.at("result") == "agent says: You are VERSION-ONE.");
    waiting_cli(f, -1);

    SECTION("nothing changed: the pull brings nothing and the warm process is used") {
        auto two = f.wait_job(f.start_job("FAKE:agent-text"));
        CHECK(two.at("result") == "agent says: You are VERSION-ONE.");
        CHECK(metric(f, "cas_warm_cli_hits_total") == 1);
    }
    SECTION("a pushed change: the warm process read the old agent, so a fresh one runs") {
        std::this_thread::sleep_for(200ms);  // the warm process has read VERSION-ONE by now
        repos.write("seed/.claude/agents/recruiter-triage.md", agent_file("You are VERSION-TWO."));
        REQUIRE(run(git + "-C " + seed + " commit -qam two && " + git + "-C " + seed +
                    " push -q origin HEAD:main") == 0);
        auto two = f.wait_job(f.start_job("FAKE:agent-text"));
        REQUIRE(two.at("status") == "completed");
        CHECK(two.at("result") == "agent says: You are VERSION-TWO.");
        CHECK(metric(f, R"(cas_warm_cli_misses_total{reason="stale"})") == 1);
        CHECK(metric(f, R"(cas_warm_cli_discards_total{reason="stale"})") == 1);
        CHECK(metric(f, "cas_warm_cli_hits_total") == 0);
    }
}

TEST_CASE("warm CLI: one killed from outside is replaced, and the next run still works") {
    Fixture f(kWarm);
    pid_t warm = waiting_cli(f);
    REQUIRE(kill(warm, SIGKILL) == 0);
    SECTION("a run right after the kill starts its own") {
        auto report = complete_report(f);
        CHECK(report.pid != warm);
    }
    SECTION("the death is noticed while waiting, and a new one is started") {
        pid_t replacement = waiting_cli(f, warm);  // after a 1 s pause
        CHECK(metric(f, R"(cas_warm_cli_discards_total{reason="died"})") == 1);
        CHECK(complete_report(f).pid == replacement);
    }
}

TEST_CASE("warm CLI: shutdown ends the waiting process too; nothing is left") {
    Fixture f(kWarm);
    pid_t warm = waiting_cli(f);
    CHECK_FALSE(f.no_descendants());
    CHECK(f.service->stop(SIGTERM) == 0);
    CHECK_FALSE(alive(warm));
    CHECK(kill(warm, 0) != 0);  // reaped, not a zombie
}

TEST_CASE("warm CLI off: nothing is started ahead, every run starts its own") {
    Fixture f(Fixture::Env{{"WARM_CLI", "off"}});
    std::this_thread::sleep_for(300ms);
    CHECK(f.no_descendants());
    auto report = complete_report(f);
    CHECK(report.waited_ms < 250);
    std::this_thread::sleep_for(300ms);
    CHECK(f.no_descendants());
    CHECK(metric(f, "cas_warm_cli_hits_total") == 0);
    CHECK(metric(f, R"(cas_warm_cli_misses_total{reason="none"})") == 0);
    CHECK(metric(f, "cas_warm_cli_waiting") == 0);
}
