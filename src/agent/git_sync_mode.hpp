// Whether the workspace is pulled before a run, as GIT_SYNC names it: off, best-effort (a
// failed pull is recorded and the run goes on) or required (a failed pull fails the run).
// Apart from git_sync.hpp so the configuration can name it without Asio.
#pragma once

#include <optional>
#include <string_view>

namespace cas::agent {

enum class GitSyncMode { off, best_effort, required };

constexpr std::string_view to_string(GitSyncMode mode) {
    switch (mode) {
        case GitSyncMode::off: return "off";
        case GitSyncMode::best_effort: return "best-effort";
        case GitSyncMode::required: return "required";
    }
    return "best-effort";
}

constexpr std::optional<GitSyncMode> parse_git_sync_mode(std::string_view text) {
    for (auto mode : {GitSyncMode::off, GitSyncMode::best_effort, GitSyncMode::required}) {
        if (to_string(mode) == text) return mode;
    }
    return std::nullopt;
}

}  // namespace cas::agent
