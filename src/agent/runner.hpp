// Runs one child process as a coroutine: the input goes to its stdin (then EOF), stdout
// and stderr are read together (no pipe deadlock) up to a cap, and the run is raced
// against its deadline and a Cancellation. However it ends, no process of the run is
// left: on deadline or cancel the child gets SIGTERM, then after a grace SIGKILL along
// with every descendant; on a normal exit, leftovers it started are killed the same way.
#pragma once

#include "agent/cancellation.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace cas::agent {

struct ProcessSpec {
    std::string program;  // a path, or a name looked up on PATH
    std::vector<std::string> args;
    std::string working_dir;
    std::vector<std::string> environment;         // "NAME=value", the child's whole environment
    std::string input;                            // written to stdin, which is then closed
    std::size_t output_cap = 8U * 1024U * 1024U;  // per stream; the rest is counted, not kept
    std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
    std::chrono::milliseconds kill_grace{1000};  // between SIGTERM and SIGKILL
    // Called with each piece of stdout as it arrives (kept or not), for live streaming.
    std::function<void(std::string_view)> on_stdout;
};

enum class ProcessEnd { exited, timed_out, cancelled, failed_to_start };

struct CapturedStream {
    std::string text;  // the first `output_cap` bytes
    std::size_t total_bytes = 0;
    bool truncated = false;
    // Past the cap: the last whole line (if within the cap), where the CLI puts its result.
    std::string last_line;
};

struct ProcessResult {
    ProcessEnd end = ProcessEnd::failed_to_start;
    int exit_code = -1;   // when the child exited by itself (or after our SIGTERM)
    int term_signal = 0;  // when it was ended by a signal
    CapturedStream out;
    CapturedStream err;
    std::string error;         // why it could not start
    int killed_processes = 0;  // processes of the run we had to kill
};

// `cancel` must outlive the call.
boost::asio::awaitable<ProcessResult> run_process(ProcessSpec spec, Cancellation& cancel);

// This process's environment without the named variables (secrets the child must not see),
// plus `extra` entries ("NAME=value", replacing any of the same name).
std::vector<std::string> child_environment(const std::vector<std::string>& drop,
                                           const std::vector<std::string>& extra = {});

}  // namespace cas::agent
