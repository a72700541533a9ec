// Classification, in order: git (when required), could not start, timed out, cancelled,
// then the CLI's own verdict. `is_error: true` with exit code 0 is a failure here (the
// reference app returned it as a successful answer).
#include "agent/agent_run.hpp"

#include <boost/describe/enum_to_string.hpp>
#include <fmt/format.h>

#include <algorithm>

namespace cas::agent {

std::string_view to_string(RunStatus status) {
    return boost::describe::enum_to_string(status, "error");
}

RunReport run_report(const AgentOutcome& run, std::string_view kind, std::string_view model) {
    return {.kind = kind,
            .outcome = to_string(run.status),
            .model = model,
            .duration = run.elapsed,
            .cost_usd = run.cli.total_cost_usd.value_or(0.0),
            .input_tokens = run.cli.tokens.input_tokens,
            .output_tokens = run.cli.tokens.output_tokens,
            .cache_creation_tokens = run.cli.tokens.cache_creation_input_tokens,
            .cache_read_tokens = run.cli.tokens.cache_read_input_tokens,
            .git_sync_failed = run.git.status == GitSyncResult::Status::failed ||
                               run.git.status == GitSyncResult::Status::timed_out,
            .processes_killed = run.process.killed_processes};
}

void classify_exit(AgentOutcome& outcome) {
    const auto& process = outcome.process;
    outcome.cli = parse_cli_result(process.out.text);
    if (!outcome.cli.found && !process.out.last_line.empty()) {
        // Past the cap, the result line is not in the kept text: the runner kept it aside.
        outcome.cli = parse_cli_result(process.out.last_line);
    }
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
}

namespace {

std::vector<std::string> marker_env(const AgentSettings& settings) {
    if (settings.run_marker.empty()) return {};
    return {settings.run_marker};
}

boost::asio::awaitable<AgentOutcome> run_unmeasured(const AgentSettings& settings,
                                                    AgentRequest request, Cancellation& cancel) {
    using Clock = std::chrono::steady_clock;
    const auto deadline = Clock::now() + request.timeout;
    AgentOutcome outcome;
    if (cancel.requested()) {
        outcome.status = RunStatus::cancelled;
        outcome.reason = "cancelled before it started";
        co_return outcome;
    }

    if (settings.git_sync != GitSyncMode::off) {
        auto git_deadline = std::min(deadline, Clock::now() + settings.git_timeout);
        outcome.git = co_await git_sync(settings.workspace_dir, git_deadline, settings.secret_env,
                                        marker_env(settings), cancel);
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
    spec.environment = child_environment(settings.secret_env, marker_env(settings));
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
    classify_exit(outcome);
    co_return outcome;
}

}  // namespace

boost::asio::awaitable<AgentOutcome> run_agent(const AgentSettings& settings, AgentRequest request,
                                               Cancellation& cancel) {
    auto started = std::chrono::steady_clock::now();
    auto outcome = co_await run_unmeasured(settings, std::move(request), cancel);
    outcome.elapsed = std::chrono::steady_clock::now() - started;
    co_return outcome;
}

}  // namespace cas::agent
