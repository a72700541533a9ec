// Classification, in order: git (when required), could not start, timed out, cancelled,
// then the CLI's own verdict. `is_error: true` with exit code 0 is a failure here (the
// reference app returned it as a successful answer).
#include "agent/agent_run.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace cas::agent {

boost::asio::awaitable<AgentOutcome> run_agent(const AgentSettings& settings, AgentRequest request,
                                               Cancellation& cancel) {
    using Clock = std::chrono::steady_clock;
    const auto deadline = Clock::now() + request.timeout;
    AgentOutcome outcome;

    if (settings.git_sync != GitSyncMode::off) {
        auto git_deadline = std::min(deadline, Clock::now() + settings.git_timeout);
        outcome.git = co_await git_sync(settings.workspace_dir, git_deadline, cancel);
        using S = GitSyncResult::Status;
        if (outcome.git.status == S::cancelled) {
            outcome.status = RunStatus::cancelled;
            outcome.reason = "cancelled during git sync";
            co_return outcome;
        }
        if (Clock::now() >= deadline) {
            outcome.status = RunStatus::timeout;
            outcome.reason = "timed out during git sync";
            co_return outcome;
        }
        if (settings.git_sync == GitSyncMode::required && outcome.git.status != S::ok) {
            outcome.status = RunStatus::failed;
            outcome.reason = "git pull failed: " + outcome.git.detail;
            co_return outcome;
        }
    }

    ProcessSpec spec;
    spec.program = settings.claude_bin;
    spec.args = cli_arguments(request.cli);
    spec.working_dir = settings.workspace_dir;
    spec.environment = child_environment(settings.secret_env);
    spec.input = std::move(request.prompt);
    spec.output_cap = settings.output_cap;
    spec.deadline = deadline;
    spec.kill_grace = settings.kill_grace;
    spec.on_stdout = std::move(request.on_stdout);
    outcome.process = co_await run_process(std::move(spec), cancel);
    const auto& process = outcome.process;

    switch (process.end) {
        case ProcessEnd::failed_to_start:
            outcome.status = RunStatus::error;
            outcome.reason = "cannot run the Claude CLI (CLAUDE_BIN): " + process.error;
            co_return outcome;
        case ProcessEnd::timed_out:
            outcome.status = RunStatus::timeout;
            outcome.reason = fmt::format("timed out after {} s", request.timeout.count());
            co_return outcome;
        case ProcessEnd::cancelled:
            outcome.status = RunStatus::cancelled;
            outcome.reason = "cancelled";
            co_return outcome;
        case ProcessEnd::exited: break;
    }
    outcome.cli = parse_cli_result(process.out.text);
    bool ok = process.exit_code == 0 && process.term_signal == 0 &&
              !(outcome.cli.found && outcome.cli.is_error);
    if (ok) {
        outcome.status = RunStatus::completed;
    } else {
        outcome.status = RunStatus::failed;
        outcome.reason = process.term_signal != 0
                             ? fmt::format("the CLI was killed by signal {}", process.term_signal)
                             : failure_reason(outcome.cli, process.err.text, process.exit_code);
    }
    co_return outcome;
}

}  // namespace cas::agent
