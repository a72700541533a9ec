#include "runs/warm_choice.hpp"

#include <boost/describe/enum_to_string.hpp>

namespace cas::runs {

std::string_view to_string(WarmMiss miss) {
    return boost::describe::enum_to_string(miss, "none");
}

std::string_view to_string(WarmDiscard discard) {
    return boost::describe::enum_to_string(discard, "replaced");
}

TakeDecision decide_take(const std::optional<WarmCandidate>& waiting,
                         const agent::ProcessLaunch& wanted,
                         const agent::WorkspaceFingerprint& workspace,
                         std::chrono::steady_clock::time_point now, std::chrono::seconds max_age) {
    if (!waiting) return {.miss = WarmMiss::none, .discard = std::nullopt};
    if (waiting->exited) return {.miss = WarmMiss::none, .discard = WarmDiscard::died};
    if (now - waiting->started >= max_age) {
        return {.miss = WarmMiss::none, .discard = WarmDiscard::expired};
    }
    // Kept: the run after this one may want it again; keep_after_run decides.
    if (*waiting->launch != wanted) return {.miss = WarmMiss::arguments, .discard = std::nullopt};
    if (*waiting->fingerprint != workspace) {
        return {.miss = WarmMiss::stale, .discard = WarmDiscard::stale};
    }
    return {.use = true, .miss = std::nullopt, .discard = std::nullopt};
}

bool keep_after_run(const std::optional<WarmCandidate>& waiting, const agent::ProcessLaunch& last) {
    return waiting && !waiting->exited && *waiting->launch == last;
}

}  // namespace cas::runs
