// The warm CLI: at most one Claude Code process started ahead of its run, with the prompt
// still to come on stdin, so the run skips the CLI's start-up (~0.4 s). The rules of when it
// is used are in warm_choice.hpp; this is the process side. Once started it is asked the
// initialize request (agent::initialize_cli), so its answer is ready too; a run that finds it
// still starting waits for that answer rather than start another. A waiting process holds no
// execution slot and has seen no prompt; it is a SparedTree until a run takes it (then it is
// that run's process, swept like any) and is ended when it is replaced, stale, too old, or
// the service stops. One that dies while waiting is replaced (after 1 s, doubling while
// replacements keep dying, up to the maximum age).
#pragma once

#include "agent/agent_run.hpp"
#include "agent/process_tree.hpp"
#include "agent/runner.hpp"
#include "agent/workspace_fingerprint.hpp"
#include "runs/warm_choice.hpp"
#include "telemetry/metrics.hpp"
#include "util/async.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>

namespace cas::runs {

struct WarmCliSettings {
    bool enabled = true;
    std::chrono::seconds max_age{300};  // the CLI's credentials or version may change
};

class WarmCli {
public:
    WarmCli(const boost::asio::any_io_executor& executor, WarmCliSettings settings,
            Metrics& metrics);
    WarmCli(const WarmCli&) = delete;
    WarmCli& operator=(const WarmCli&) = delete;
    ~WarmCli();

    // The CLI process for a run of `launch`, asked after its git sync: the waiting one if
    // the rules allow (once it has answered), else a new one.
    boost::asio::awaitable<agent::CliProcess> start(const agent::ProcessLaunch& launch,
                                                    agent::Cancellation& cancel);
    // After a run of `launch` (and at start-up): have a process waiting for the next one.
    void prepare(const agent::ProcessLaunch& launch);
    // Shutdown: the waiting process is ended and no other is started.
    void close();

    // The waiting process's pid, if one waits.
    [[nodiscard]] std::optional<pid_t> waiting_pid() const;

private:
    struct Waiting;
    [[nodiscard]] std::optional<WarmCandidate> candidate() const;
    void discard(WarmDiscard reason);
    void spawn(const agent::ProcessLaunch& launch);
    boost::asio::awaitable<void> watch(std::shared_ptr<Waiting> waiting, std::uint64_t generation);

    boost::asio::any_io_executor executor_;
    WarmCliSettings settings_;
    Metrics& metrics_;
    // Shared with its watcher, which may still be reading its answer when it is discarded.
    std::shared_ptr<Waiting> waiting_;
    std::uint64_t generation_ = 0;  // changes whenever waiting_ does: a watcher's cue to end
    Event changed_;
    int deaths_in_a_row_ = 0;
    bool closed_ = false;
};

}  // namespace cas::runs
