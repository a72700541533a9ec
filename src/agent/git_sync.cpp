#include "agent/git_sync.hpp"

#include "agent/runner.hpp"
#include "util/utf8.hpp"

namespace cas::agent {

std::string_view to_string(GitSyncResult::Status status) {
    switch (status) {
        case GitSyncResult::Status::skipped: return "skipped";
        case GitSyncResult::Status::ok: return "ok";
        case GitSyncResult::Status::failed: return "failed";
        case GitSyncResult::Status::timed_out: return "timeout";
        case GitSyncResult::Status::cancelled: return "cancelled";
    }
    return "failed";
}

boost::asio::awaitable<GitSyncResult> git_sync(std::string workspace_dir,
                                               std::chrono::steady_clock::time_point deadline,
                                               const std::vector<std::string>& secret_env,
                                               std::vector<std::string> extra_env,
                                               Cancellation& cancel) {
    // Never wait on a credential prompt; ssh must fail rather than ask.
    extra_env.insert(extra_env.end(),
                     {"GIT_TERMINAL_PROMPT=0", "GIT_SSH_COMMAND=ssh -oBatchMode=yes"});
    ProcessLaunch launch{.program = "git",
                         .args = {"pull", "--rebase"},
                         .working_dir = std::move(workspace_dir),
                         .environment = child_environment(secret_env, extra_env)};
    ProcessRun limits;
    limits.output_cap = 64U * 1024U;
    limits.deadline = deadline;
    auto run = co_await run_process(std::move(launch), std::move(limits), cancel);

    GitSyncResult result;
    auto output = run.err.text.empty() ? run.out.text : run.err.text;
    result.detail = to_valid_utf8(output.substr(0, output.find_last_not_of(" \r\n") + 1));
    switch (run.end) {
        case ProcessEnd::failed_to_start:
            result.status = GitSyncResult::Status::failed;
            result.detail = run.error;
            break;
        case ProcessEnd::timed_out:
        case ProcessEnd::stalled:  // no stall limit is set
            result.status = GitSyncResult::Status::timed_out;
            result.detail = "git pull did not finish in time";
            break;
        case ProcessEnd::cancelled: result.status = GitSyncResult::Status::cancelled; break;
        case ProcessEnd::exited:
        case ProcessEnd::lingered:  // no line is judged
            result.status =
                run.exit_code == 0 ? GitSyncResult::Status::ok : GitSyncResult::Status::failed;
            break;
    }
    co_return result;
}

}  // namespace cas::agent
