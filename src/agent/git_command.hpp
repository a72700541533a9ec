// git as a child process of a run: the pre-run pull (git_sync.hpp) and the record of what a
// job did to its workspace (workspace_capture.hpp) start it the same way: never waiting on a
// credential prompt, without the service's secrets, by a deadline, with its output capped.
#pragma once

#include "agent/cancellation.hpp"
#include "agent/confinement.hpp"
#include "agent/runner.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace cas::agent {

// Where and how git runs: in `workspace_dir`, with `environment` as its whole environment
// (git_environment), ended by `deadline` at the latest, as the agent's user (git refuses a
// repository another user owns).
struct GitContext {
    std::string workspace_dir;
    std::vector<std::string> environment;
    std::chrono::steady_clock::time_point deadline;
    Confinement confinement;
};

// This process's environment without `secret_env`, plus `extra_env` ("NAME=value"), plus
// what keeps git from asking anything (no terminal prompt, ssh in batch mode).
std::vector<std::string> git_environment(const std::vector<std::string>& secret_env,
                                         std::vector<std::string> extra_env);

// Runs `git <args>`; stdout and stderr are kept up to `output_cap` bytes each.
boost::asio::awaitable<ProcessResult> run_git(GitContext context, std::vector<std::string> args,
                                              std::size_t output_cap, Cancellation& cancel);

// What git said: its stderr, else its stdout, without trailing blanks, as valid UTF-8.
std::string git_message(const ProcessResult& run);

}  // namespace cas::agent
