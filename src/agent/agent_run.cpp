// Classification, in order: git (when required), could not start, timed out, cancelled,
// then the CLI's own verdict. `is_error: true` with exit code 0 is a failure here (the
// reference app returned it as a successful answer).
#include "agent/agent_run.hpp"

#include "agent/process_tree.hpp"
#include "agent/workspace_capture.hpp"
#include "telemetry/log.hpp"
#include "util/async.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
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

// The workspace record's git commands take at most this long, before the run and after it
// (or GIT_TIMEOUT_SECONDS if that is shorter): they are cheap, and a job waits for them.
constexpr std::chrono::seconds kWorkspaceGitTime{10};

// git in the workspace by `deadline`, as the agent's user, with `extra` in its environment.
GitContext git_context(const AgentSettings& settings,
                       std::chrono::steady_clock::time_point deadline,
                       std::vector<std::string> extra = {}) {
    auto environment = marker_env(settings);
    environment.insert(environment.end(), extra.begin(), extra.end());
    return {.workspace_dir = settings.workspace_dir,
            .environment = git_environment(settings.secret_env, std::move(environment)),
            .deadline = deadline,
            .confinement = settings.confinement};
}

// git for the workspace record, by `deadline`: as the pull runs it, and with
// GIT_OPTIONAL_LOCKS=0 so that `git status` does not write the index behind the run.
GitContext workspace_git(const AgentSettings& settings,
                         std::chrono::steady_clock::time_point deadline) {
    return git_context(settings,
                       std::min(deadline, std::chrono::steady_clock::now() +
                                              std::min(settings.git_timeout, kWorkspaceGitTime)),
                       {"GIT_OPTIONAL_LOCKS=0"});
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

namespace {

void read_cli_result(AgentOutcome& outcome) {
    const auto& process = outcome.process;
    outcome.cli = parse_cli_result(process.out.text);
    if (!outcome.cli.found && !process.out.last_line.empty()) {
        // Past the cap, the result line is not in the kept text: the runner kept it aside.
        outcome.cli = parse_cli_result(process.out.last_line);
    }
}

// A run asked for a structured answer (json_schema) completes only with one: the CLI that
// ends without calling its StructuredOutput tool answered in prose no caller can parse.
void require_structured_output(AgentOutcome& outcome) {
    if (outcome.status != RunStatus::completed || !outcome.expects_structured_output) return;
    if (!outcome.cli.structured_output.is_null()) return;
    outcome.status = RunStatus::failed;
    outcome.reason = "the agent ended without a structured answer to the json_schema";
}

}  // namespace

void classify_exit(AgentOutcome& outcome) {
    const auto& process = outcome.process;
    read_cli_result(outcome);
    if (process.end == ProcessEnd::lingered) {
        // It said all it had to say; we ended it for not exiting, so its status says nothing.
        if (outcome.cli.found && !outcome.cli.is_error) {
            outcome.status = RunStatus::completed;
        } else {
            outcome.status = RunStatus::failed;
            outcome.reason = outcome.cli.found ? failure_reason(outcome.cli, process.err.text, 0)
                                               : "the CLI did not exit after its result";
        }
    } else if (process.exit_code == 0 && process.term_signal == 0 &&
               !(outcome.cli.found && outcome.cli.is_error)) {
        outcome.status = RunStatus::completed;
    } else {
        outcome.status = RunStatus::failed;
        outcome.reason = process.term_signal != 0
                             ? fmt::format("the CLI was killed by signal {}", process.term_signal)
                             : failure_reason(outcome.cli, process.err.text, process.exit_code);
    }
    require_structured_output(outcome);
}

std::optional<AgentOutcome> answer_from_result(const ProcessResult& so_far,
                                               const GitSyncResult& git,
                                               bool expects_structured_output) {
    AgentOutcome outcome{.status = RunStatus::completed,
                         .expects_structured_output = expects_structured_output,
                         .elapsed = {},
                         .reason = {},
                         .git = git,
                         .process = so_far,
                         .cli = {}};
    read_cli_result(outcome);
    if (!outcome.cli.found || outcome.cli.is_error) return std::nullopt;
    require_structured_output(outcome);
    if (outcome.status != RunStatus::completed) return std::nullopt;
    return outcome;
}

ProcessLaunch cli_launch(const AgentSettings& settings, const CliInvocation& invocation) {
    auto extra = marker_env(settings);
    if (invocation.max_output_tokens) {
        extra.push_back("CLAUDE_CODE_MAX_OUTPUT_TOKENS=" +
                        std::to_string(*invocation.max_output_tokens));
    }
    auto args = cli_arguments(invocation);
    for (const auto& tool : settings.always_disallowed_tools) {
        args.push_back("--disallowedTools=" + tool);
    }
    return confine({.program = settings.claude_bin,
                    .args = std::move(args),
                    .working_dir = settings.workspace_dir,
                    .environment = child_environment(settings.secret_env, extra),
                    .run_as = std::nullopt},
                   settings.confinement, Confine::user_and_sandbox);
}

namespace {

// Ends a CLI that will not get its prompt, and anything it started.
boost::asio::awaitable<void> end_unprompted(CliProcess& cli, AgentOutcome& outcome) {
    cli.child->kill();
    cli.child.reset();  // reaped
    outcome.process.killed_processes = 1 + co_await kill_descendants(-1);
}

// The prompt goes only to a CLI that runs the agent the run asked for (with stream-json
// input an unknown --agent would silently be its default agent): unless it answered ahead,
// the CLI is asked its agents first. False, with `outcome` filled, when the run ends here.
boost::asio::awaitable<bool> check_before_prompt(const AgentSettings& settings, CliProcess& cli,
                                                 std::string_view agent,
                                                 std::chrono::steady_clock::time_point deadline,
                                                 std::chrono::seconds timeout, Cancellation& cancel,
                                                 AgentOutcome& outcome) {
    using Clock = std::chrono::steady_clock;
    if (!cli.initialized) {
        // Not answering counts as printing nothing: the stall limit applies.
        auto answer_by = settings.stall_timeout.count() == 0
                             ? deadline
                             : std::min(deadline, Clock::now() + settings.stall_timeout);
        auto initialized = co_await initialize_cli(*cli.child, answer_by, cancel);
        switch (initialized.end) {
            case InitializeEnd::answered: cli.initialized = std::move(initialized.answer); break;
            case InitializeEnd::ended: co_return true;  // the run reads how and why it ended
            case InitializeEnd::cancelled:
                co_await end_unprompted(cli, outcome);
                outcome.status = RunStatus::cancelled;
                outcome.reason = "cancelled";
                co_return false;
            case InitializeEnd::timed_out:
                co_await end_unprompted(cli, outcome);
                outcome.status = RunStatus::timeout;
                outcome.reason = Clock::now() >= deadline
                                     ? fmt::format("timed out after {} s", timeout.count())
                                     : fmt::format("stalled: the CLI did not answer for {} s",
                                                   settings.stall_timeout.count());
                co_return false;
        }
    }
    std::optional<std::string> problem;
    if (!cli.initialized->ok) {
        problem = "the CLI refused its initialize request: " + cli.initialized->error;
    } else {
        problem = unknown_agent(*cli.initialized, agent);
    }
    if (!problem) co_return true;
    co_await end_unprompted(cli, outcome);
    outcome.status = RunStatus::failed;
    outcome.reason = std::move(*problem);
    co_return false;
}

boost::asio::awaitable<AgentOutcome> run_unmeasured(const AgentSettings& settings,
                                                    AgentRequest request, Cancellation& cancel,
                                                    const StartCli& start_cli,
                                                    std::chrono::steady_clock::time_point began) {
    using Clock = std::chrono::steady_clock;
    const auto deadline = Clock::now() + request.timeout;
    AgentOutcome outcome;
    outcome.expects_structured_output = request.cli.options.json_schema.has_value();
    if (cancel.requested()) {
        outcome.status = RunStatus::cancelled;
        outcome.reason = "cancelled before it started";
        co_return outcome;
    }

    if (settings.git_sync != GitSyncMode::off) {
        auto git_deadline = std::min(deadline, Clock::now() + settings.git_timeout);
        outcome.git = co_await git_sync(git_context(settings, git_deadline), cancel);
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
    if (request.record_workspace) {
        auto git = workspace_git(settings, deadline);
        auto before = co_await workspace_before(std::move(git), cancel);
        outcome.workspace = std::move(before);
    }

    auto launch = cli_launch(settings, request.cli);
    auto process_run = [&] {
        ProcessRun run;
        run.input = user_message_line(request.prompt);
        run.output_cap = settings.output_cap;
        run.deadline = deadline;
        run.kill_grace = settings.kill_grace;
        run.stall_timeout = settings.stall_timeout;
        run.judge_line = [](std::string_view line) {
            return is_result_line(line) ? LineVerdict::last : LineVerdict::more;
        };
        run.exit_grace = settings.result_exit_grace;
        if (request.on_answer) {
            run.on_last_line = [&](const ProcessResult& so_far) {
                auto answer =
                    answer_from_result(so_far, outcome.git, outcome.expects_structured_output);
                if (!answer) return;
                answer->elapsed = Clock::now() - began;
                request.on_answer(*answer);
            };
        }
        run.on_stdout = request.on_stdout;
        return run;
    };
    auto executor = co_await boost::asio::this_coro::executor;
    for (int attempt = 0;; ++attempt) {
        CliProcess cli;
        if (attempt == 0 && start_cli) {
            cli = co_await start_cli(launch, cancel);
        } else {
            auto started = start_process(executor, launch);
            cli = {.child = std::move(started.child),
                   .error = std::move(started.error),
                   .started_ahead = false,
                   .initialized = std::nullopt};
        }
        if (!cli.child) {
            // A child the kernel refused to exec has exited, unreaped (the launcher does not
            // say its pid): the sweep that ends every run reaps it.
            int swept = co_await kill_descendants(-1);
            (void)swept;
            outcome.status = RunStatus::error;
            outcome.reason = "cannot run the Claude CLI (CLAUDE_BIN): " + cli.error;
            co_return outcome;
        }
        bool ready = co_await check_before_prompt(settings, cli, request.cli.agent, deadline,
                                                  request.timeout, cancel, outcome);
        if (!ready) co_return outcome;
        outcome.process = co_await drive_process(std::move(*cli.child), process_run(), cancel);
        bool died_unused = cli.started_ahead && outcome.process.end == ProcessEnd::exited &&
                           outcome.process.out.total_bytes == 0;
        if (!died_unused || attempt > 0) break;
        // It died before it said anything (the CLI's first line answers the prompt at once):
        // it was dead or dying when the run took it, so nothing of the prompt ran. Once more,
        // in a fresh process.
        log::warn(
            "the CLI started ahead had died; running in a fresh one",
            {{"exit_code", outcome.process.exit_code}, {"signal", outcome.process.term_signal}});
    }
    const auto& process = outcome.process;

    switch (process.end) {
        case ProcessEnd::failed_to_start:  // a started child always ends otherwise
            outcome.status = RunStatus::error;
            outcome.reason = "cannot run the Claude CLI (CLAUDE_BIN): " + process.error;
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

boost::asio::awaitable<Initialized> initialize_cli(ChildProcess& cli,
                                                   std::chrono::steady_clock::time_point deadline,
                                                   Cancellation& cancel) {
    using namespace boost::asio::experimental::awaitable_operators;
    // The answer lists the CLI's commands, agents and models: tens of KiB.
    constexpr std::size_t kMaxAnswerBytes = 4U * 1024U * 1024U;
    constexpr int kMaxOtherLines = 64;
    auto exchange = [&]() -> boost::asio::awaitable<Initialized> {
        bool written = co_await cli.write_line(initialize_request_line());
        if (!written) co_return Initialized{.end = InitializeEnd::ended, .answer = {}};
        for (int skipped = 0; skipped <= kMaxOtherLines; ++skipped) {
            auto line = co_await cli.read_line(kMaxAnswerBytes);
            if (!line) break;
            auto answer = parse_initialize_answer(*line);
            if (answer.found)
                co_return Initialized{.end = InitializeEnd::answered, .answer = answer};
        }
        co_return Initialized{.end = InitializeEnd::ended, .answer = {}};
    };
    auto executor = co_await boost::asio::this_coro::executor;
    Timer timer(executor, deadline);
    auto first = co_await (exchange() || timer.async_wait() || cancel.wait());
    if (first.index() == 0) co_return std::get<0>(std::move(first));
    co_return Initialized{
        .end = first.index() == 1 ? InitializeEnd::timed_out : InitializeEnd::cancelled,
        .answer = {}};
}

boost::asio::awaitable<AgentOutcome> run_agent(const AgentSettings& settings, AgentRequest request,
                                               Cancellation& cancel, const StartCli& start_cli) {
    auto started = std::chrono::steady_clock::now();
    auto outcome =
        co_await run_unmeasured(settings, std::move(request), cancel, start_cli, started);
    if (outcome.workspace) {
        // Whatever ended the run, what it did is recorded: with a cancellation of its own, as
        // the run's may have been requested already.
        auto executor = co_await boost::asio::this_coro::executor;
        Cancellation unstoppable(executor);
        auto git = workspace_git(settings, std::chrono::steady_clock::time_point::max());
        auto after =
            co_await workspace_after(std::move(*outcome.workspace), std::move(git), unstoppable);
        outcome.workspace = std::move(after);
    }
    outcome.elapsed = std::chrono::steady_clock::now() - started;
    co_return outcome;
}

}  // namespace cas::agent
