// The rules of the warm CLI, apart from the processes (runs/warm_cli.cpp does the I/O): what
// a run does with the process waiting, and what waits after a run.
//
// A run uses the waiting process only if it was started with an equal launch (program,
// arguments, directory, environment), is alive, is younger than the maximum age, and the
// workspace's fingerprint now (after the pre-run git sync) equals the one taken just before
// it started. After every run the process waiting is for that run's launch: kept if it
// already is, else ended ("replaced") and a new one started. So a workload of one agent is
// always warm, and a mix pays a cold start whenever the launch changes.
#pragma once

#include "agent/runner.hpp"
#include "agent/workspace_fingerprint.hpp"

#include <boost/describe/enum.hpp>

#include <chrono>
#include <optional>
#include <string_view>

namespace cas::runs {

// Why a run started its CLI itself: no process was waiting (or the one waiting had died or
// expired), it was started for other arguments, or the workspace changed since.
enum class WarmMiss { none, arguments, stale };
BOOST_DESCRIBE_ENUM(WarmMiss, none, arguments, stale)

// Why a waiting process was ended unused.
enum class WarmDiscard { replaced, stale, died, expired, shutdown };
BOOST_DESCRIBE_ENUM(WarmDiscard, replaced, stale, died, expired, shutdown)

std::string_view to_string(WarmMiss miss);
std::string_view to_string(WarmDiscard discard);

// The waiting process, as the rules see it.
struct WarmCandidate {
    const agent::ProcessLaunch* launch;
    const agent::WorkspaceFingerprint* fingerprint;  // taken just before it started
    std::chrono::steady_clock::time_point started;
    bool exited = false;
};

struct TakeDecision {
    bool use = false;
    std::optional<WarmMiss> miss;        // when not used
    std::optional<WarmDiscard> discard;  // the waiting process is ended now
};

// For a run about to start `wanted`, with the workspace as `workspace` says now.
TakeDecision decide_take(const std::optional<WarmCandidate>& waiting,
                         const agent::ProcessLaunch& wanted,
                         const agent::WorkspaceFingerprint& workspace,
                         std::chrono::steady_clock::time_point now, std::chrono::seconds max_age);

// After a run of `last`: whether the waiting process (if any) stays as it is.
bool keep_after_run(const std::optional<WarmCandidate>& waiting, const agent::ProcessLaunch& last);

}  // namespace cas::runs
