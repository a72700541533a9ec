// Classification, in order: git (when required), could not start, timed out, cancelled,
// then the CLI's own verdict. `is_error: true` with exit code 0 is a failure here (the
// reference app returned it as a successful answer).
#include "agent/agent_run.hpp"

#include "telemetry/log.hpp"

#include <boost/asio/this_coro.hpp>
#include <boost/describe/enum_to_string.hpp>
#include <fmt/format.h>

#include <algorithm>

namespace cas::agent {
namespace {

std::vector<std::string> marker_env(const AgentSettings& settings) {
    if (settings.run_marker.empty()) return {};
    return {settings.run_marker};
}

}  // namespace

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
    if (process.end == ProcessEnd::lingered) {
        // It said all it had to say; we ended it for not exiting, so its status says nothing.
        if (outcome.cli.found && !outcome.cli.is_error) {
            outcome.status = RunStatus::completed;
        } else {
            outcome.status = RunStatus::failed;
            outcome.reason = outcome.cli.found ? failure_reason(outcome.cli, process.err.text, 0)
                                               : "the CLI did not exit after its result";
        }
        return;
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

ProcessLaunch cli_launch(const AgentSettings& settings, const CliInvocation& invocation) {
    return {.program = settings.claude_bin,
            .args = cli_arguments(invocation),
            .working_dir = settings.workspace_dir,
            .environment = child_environment(settings.secret_env, marker_env(settings))};
}

namespace {

boost::asio::awaitable<AgentOutcome> run_unmeasured(const AgentSettings& settings,
                                                    AgentRequest request, Cancellation& cancel,
                                                    const StartCli& start_cli) {
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

    auto launch = cli_launch(settings, request.cli);
    // (No co_await inside the expression: GCC 12 miscompiles it in a conditional.)
    auto executor = co_await boost::asio::this_coro::executor;
    auto started = start_cli ? start_cli(launch) : start_process(executor, launch);
    if (!started.child) {
        outcome.status = RunStatus::error;
        outcome.reason = "cannot run the Claude CLI (CLAUDE_BIN): " + started.error;
        co_return outcome;
    }
    std::string refusal;
    auto process_run = [&] {
        ProcessRun run;
        run.input = user_message_line(request.prompt);
        run.output_cap = settings.output_cap;
        run.deadline = deadline;
        run.kill_grace = settings.kill_grace;
        run.stall_timeout = settings.stall_timeout;
        run.judge_line = [&refusal, &agent = request.cli.agent](std::string_view line) {
            if (is_result_line(line)) return LineVerdict::last;
            if (auto problem = unknown_agent(line, agent)) {
                refusal = std::move(*problem);
                return LineVerdict::refuse;
            }
            return LineVerdict::more;
        };
        run.exit_grace = settings.result_exit_grace;
        run.on_stdout = request.on_stdout;
        return run;
    };
    const bool started_ahead = started.started_ahead;
    outcome.process = co_await drive_process(std::move(*started.child), process_run(), cancel);
    if (started_ahead && outcome.process.end == ProcessEnd::exited &&
        outcome.process.out.total_bytes == 0) {
        // It died before it said anything (the CLI's first line answers the prompt at once):
        // it was dead or dying when the run took it, so nothing of the prompt ran. Once more,
        // in a fresh process.
        log::warn(
            "the CLI started ahead had died; running in a fresh one",
            {{"exit_code", outcome.process.exit_code}, {"signal", outcome.process.term_signal}});
        auto fresh = start_process(executor, launch);
        if (!fresh.child) {
            outcome.status = RunStatus::error;
            outcome.reason = "cannot run the Claude CLI (CLAUDE_BIN): " + fresh.error;
            co_return outcome;
        }
        outcome.process = co_await drive_process(std::move(*fresh.child), process_run(), cancel);
    }
    const auto& process = outcome.process;

    switch (process.end) {
        case ProcessEnd::failed_to_start:  // a started child always ends otherwise
            outcome.status = RunStatus::error;
            outcome.reason = "cannot run the Claude CLI (CLAUDE_BIN): " + process.error;
            co_return outcome;
        case ProcessEnd::refused:
            outcome.status = RunStatus::failed;
            outcome.reason = refusal;
            co_return outcome;
        case ProcessEnd::stalled:
            outcome.status = RunStatus::timeout;
            outcome.reason = fmt::format("stalled: the CLI printed nothing for {} s",
                                         settings.stall_timeout.count());
            co_return outcome;
        case ProcessEnd::timed_out:
            outcome.status = RunStatus::timeout;
            outcome.reason = fmt::format("timed out after {} s", request.timeout.count());
            co_return outcome;
        case ProcessEnd::cancelled:
            outcome.status = RunStatus::cancelled;
            outcome.reason = "cancelled";
            co_return outcome;
        case ProcessEnd::exited:
        case ProcessEnd::lingered: break;
    }
    classify_exit(outcome);
    co_return outcome;
}

}  // namespace

boost::asio::awaitable<AgentOutcome> run_agent(const AgentSettings& settings, AgentRequest request,
                                               Cancellation& cancel, const StartCli& start_cli) {
    auto started = std::chrono::steady_clock::now();
    auto outcome = co_await run_unmeasured(settings, std::move(request), cancel, start_cli);
    outcome.elapsed = std::chrono::steady_clock::now() - started;
    co_return outcome;
}

}  // namespace cas::agent
