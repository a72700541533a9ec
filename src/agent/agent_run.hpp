// One agent run, shared by REST jobs and chat completions: git sync, then the CLI with the
// prompt on stdin, all under one deadline, one stall limit and one Cancellation, then the
// CLI's output parsed and the run classified. The caller holds the execution slot.
#pragma once

#include "agent/cancellation.hpp"
#include "agent/cli_command.hpp"
#include "agent/cli_output.hpp"
#include "agent/confinement.hpp"
#include "agent/git_sync.hpp"
#include "agent/runner.hpp"
#include "agent/workspace_changes.hpp"
#include "telemetry/metrics.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/describe/enum.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace cas::agent {

struct AgentSettings {
    std::string claude_bin = "claude";
    std::string workspace_dir;
    GitSyncMode git_sync = GitSyncMode::best_effort;
    std::chrono::seconds git_timeout{60};
    std::size_t output_cap = 8U * 1024U * 1024U;
    std::chrono::milliseconds kill_grace{1000};
    // A CLI that prints nothing on stdout for this long is ended (zero: never). The headless
    // CLI is known to hang mid-stream.
    std::chrono::seconds stall_timeout{600};
    // After its result line the CLI has this long to exit, then it is ended and the run keeps
    // its result. The CLI is known to print its result and stay alive.
    std::chrono::milliseconds result_exit_grace{2000};
    std::vector<std::string> secret_env{"API_BEARER_TOKEN"};  // never passed to the child
    // Withheld from every run whatever its caller asks (TOOLS_ALWAYS_DISALLOWED).
    std::vector<std::string> always_disallowed_tools;
    // "NAME=value" in the environment of every process of a run (inherited by all it
    // starts): a restart after a crash finds the leftovers by it. Empty: none.
    std::string run_marker;
    // The user, HOME and sandbox of the CLI and of git (AGENT_USER, AGENT_SANDBOX).
    Confinement confinement;
};

// `interrupted`: cancelled because the service is shutting down (set by the run service,
// which knows; the agent run itself only sees a cancellation).
enum class RunStatus { completed, failed, timeout, cancelled, error, interrupted };
BOOST_DESCRIBE_ENUM(RunStatus, completed, failed, timeout, cancelled, error, interrupted)

struct AgentOutcome {
    RunStatus status = RunStatus::error;
    // The run gave the CLI a JSON Schema: a result without structured output is a failure.
    bool expects_structured_output = false;
    std::chrono::duration<double> elapsed{};  // git sync included
    std::string reason;  // for every status but completed: what went wrong, in one line
    GitSyncResult git;
    ProcessResult process;
    CliResult cli;
    // What the run did to the workspace, for a request that asked (record_workspace) and got
    // past the git sync; else none.
    std::optional<WorkspaceChanges> workspace = std::nullopt;
};

struct AgentRequest {
    std::string prompt;
    CliInvocation cli;
    std::chrono::seconds timeout{2700};
    std::function<void(std::string_view)> on_stdout;  // live stdout, for streaming
    // Called at most once, as soon as the CLI has printed a result that reports success,
    // with the outcome that result gives (answer_from_result): a caller that needs only the
    // answer may give it then. The run goes on until the CLI exits (or is ended after the
    // exit grace), and its own outcome may still say otherwise (a non-zero exit).
    std::function<void(const AgentOutcome&)> on_answer;
    // Read HEAD before the CLI starts and what changed after it ended (outcome.workspace):
    // a few git commands, so only jobs, whose record shows it, ask.
    bool record_workspace = false;
};

std::string_view to_string(RunStatus status);

// For a CLI that exited by itself (outcome.process.end == exited): reads its result and
// decides completed or failed, with the reason. Pure: the CLI-output fuzzer calls it.
void classify_exit(AgentOutcome& outcome);

// The outcome of a run whose CLI has printed `so_far` and not exited yet, if that holds a
// result reporting success: completed, with that result (else nothing). Pure.
std::optional<AgentOutcome> answer_from_result(const ProcessResult& so_far,
                                               const GitSyncResult& git,
                                               bool expects_structured_output);

// What the metrics record of a finished run.
RunReport run_report(const AgentOutcome& run, std::string_view kind, std::string_view model);

// How the CLI is started for `invocation`: the same for every run with the same invocation.
ProcessLaunch cli_launch(const AgentSettings& settings, const CliInvocation& invocation);

// A CLI process for a run: started for it, or ahead of it (the warm CLI), in which case it
// may have answered the initialize request already.
struct CliProcess {
    std::optional<ChildProcess> child;
    std::string error;  // why none could be started
    bool started_ahead = false;
    std::optional<InitializeAnswer> initialized;
};

// Where a run's CLI process comes from, asked after the pre-run git sync: empty starts one
// now (start_process); the run service passes its warm CLI (runs/warm_cli.hpp), which may
// hand over one it started ahead for an equal launch. `cancel` is the run's.
using StartCli =
    std::function<boost::asio::awaitable<CliProcess>(const ProcessLaunch&, Cancellation&)>;

// Asks a started CLI the initialize request and reads its answer (skipping any other line),
// by `deadline`. `answered`: `answer` is the answer. `ended`: stdout ended (or the CLI
// closed its stdin) first. A CLI that has not answered by `deadline` is not ended here.
enum class InitializeEnd { answered, ended, timed_out, cancelled };
struct Initialized {
    InitializeEnd end = InitializeEnd::ended;
    InitializeAnswer answer;
};
boost::asio::awaitable<Initialized> initialize_cli(ChildProcess& cli,
                                                   std::chrono::steady_clock::time_point deadline,
                                                   Cancellation& cancel);

// `cancel` must outlive the call. A run whose cancellation was requested before it began
// ends `cancelled` without starting anything.
boost::asio::awaitable<AgentOutcome> run_agent(const AgentSettings& settings, AgentRequest request,
                                               Cancellation& cancel,
                                               const StartCli& start_cli = {});

}  // namespace cas::agent
