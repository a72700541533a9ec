// `git pull --rebase` in the workspace before a run, as the reference app does, but with
// its own timeout (a hung remote cannot hold the slot), no terminal prompts, and an
// outcome the job records.
#pragma once

#include "agent/cancellation.hpp"
#include "agent/git_command.hpp"
#include "agent/git_sync_mode.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace cas::agent {

struct GitSyncResult {
    enum class Status { skipped, ok, failed, timed_out, cancelled };
    Status status = Status::skipped;
    std::string detail;  // git's output (trimmed) or why it could not run
};

std::string_view to_string(GitSyncResult::Status status);

// `git pull --rebase` as `context` says (where, with what environment, by when, as whom).
boost::asio::awaitable<GitSyncResult> git_sync(GitContext context, Cancellation& cancel);

}  // namespace cas::agent
