// The warm CLI's rules without processes: which run uses the waiting process, why the
// others do not, and what is kept after a run.
#include "runs/warm_choice.hpp"

#include <catch2/catch.hpp>

using namespace cas;
using runs::WarmDiscard;
using runs::WarmMiss;
using Clock = std::chrono::steady_clock;

namespace {

agent::ProcessLaunch launch_for(const std::string& agent) {
    return {.program = "/usr/bin/claude",
            .args = {"-p", "--agent", agent},
            .working_dir = "/workspace",
            .environment = {"HOME=/home/agent"},
            .run_as = std::nullopt};
}

const agent::WorkspaceFingerprint kBefore{.head = "abc", .files = "CLAUDE.md\t1\t10\t5\t5\n"};
const agent::WorkspaceFingerprint kPulled{.head = "def", .files = "CLAUDE.md\t1\t10\t5\t5\n"};
constexpr std::chrono::seconds kMaxAge{300};

}  // namespace

TEST_CASE("warm choice: a run uses the waiting process only when everything still holds") {
    auto started = Clock::now();
    auto waiting_launch = launch_for("triage");
    runs::WarmCandidate waiting{
        .launch = &waiting_launch, .fingerprint = &kBefore, .started = started, .exited = false};
    auto soon = started + std::chrono::seconds(1);

    SECTION("same launch, workspace unchanged, alive, young: used") {
        auto d = runs::decide_take(waiting, launch_for("triage"), kBefore, soon, kMaxAge);
        CHECK(d.use);
        CHECK_FALSE(d.miss);
        CHECK_FALSE(d.discard);
    }
    SECTION("nothing waits") {
        auto d = runs::decide_take(std::nullopt, launch_for("triage"), kBefore, soon, kMaxAge);
        CHECK_FALSE(d.use);
        CHECK(d.miss == WarmMiss::none);
        CHECK_FALSE(d.discard);
    }
    SECTION("other arguments: not used, and kept (the rule after the run decides)") {
        auto d = runs::decide_take(waiting, launch_for("review"), kBefore, soon, kMaxAge);
        CHECK_FALSE(d.use);
        CHECK(d.miss == WarmMiss::arguments);
        CHECK_FALSE(d.discard);
    }
    SECTION("the workspace changed since it started: stale, ended") {
        auto d = runs::decide_take(waiting, launch_for("triage"), kPulled, soon, kMaxAge);
        CHECK_FALSE(d.use);
        CHECK(d.miss == WarmMiss::stale);
        CHECK(d.discard == WarmDiscard::stale);
    }
    SECTION("it died while waiting") {
        waiting.exited = true;
        auto d = runs::decide_take(waiting, launch_for("triage"), kBefore, soon, kMaxAge);
        CHECK_FALSE(d.use);
        CHECK(d.miss == WarmMiss::none);
        CHECK(d.discard == WarmDiscard::died);
    }
    SECTION("older than the maximum age") {
        auto d =
            runs::decide_take(waiting, launch_for("triage"), kBefore, started + kMaxAge, kMaxAge);
        CHECK_FALSE(d.use);
        CHECK(d.discard == WarmDiscard::expired);
    }
    SECTION("an environment difference is a different launch") {
        auto other = launch_for("triage");
        other.environment.emplace_back("EXTRA=1");
        CHECK(runs::decide_take(waiting, other, kBefore, soon, kMaxAge).miss ==
              WarmMiss::arguments);
    }
}

TEST_CASE("warm choice: after a run the waiting process is for that run's launch") {
    auto waiting_launch = launch_for("triage");
    runs::WarmCandidate waiting{.launch = &waiting_launch,
                                .fingerprint = &kBefore,
                                .started = Clock::now(),
                                .exited = false};
    CHECK(runs::keep_after_run(waiting, launch_for("triage")));
    CHECK_FALSE(runs::keep_after_run(waiting, launch_for("review")));
    CHECK_FALSE(runs::keep_after_run(std::nullopt, launch_for("triage")));
    waiting.exited = true;
    CHECK_FALSE(runs::keep_after_run(waiting, launch_for("triage")));
}

TEST_CASE("warm choice: reasons read as the metrics label them") {
    CHECK(runs::to_string(WarmMiss::arguments) == "arguments");
    CHECK(runs::to_string(WarmDiscard::died) == "died");
}
