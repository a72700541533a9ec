#include "agent/git_sync.hpp"

#include "agent/git_command.hpp"

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

boost::asio::awaitable<GitSyncResult> git_sync(GitContext context, Cancellation& cancel) {
    std::vector<std::string> args{"pull", "--rebase"};
    const std::size_t output_cap = 64U * 1024U;
    auto run = co_await run_git(std::move(context), std::move(args), output_cap, cancel);

    GitSyncResult result;
    result.detail = git_message(run);
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
