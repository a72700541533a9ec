// git is asked for exactly what the record needs, with -z so that any byte in a file name
// comes through unquoted, and with GIT_OPTIONAL_LOCKS=0 (set by the caller's environment,
// see agent_run.cpp) so that `git status` does not write the index behind a run.
#include "agent/workspace_capture.hpp"

#include <fmt/format.h>

#include <optional>
#include <utility>

namespace cas::agent {
namespace {

constexpr std::size_t kHeadOutputCap = 4096;
// The lists: 4 MiB is tens of thousands of paths, far past what the record keeps.
constexpr std::size_t kListOutputCap = 4U * 1024U * 1024U;

// Why `git <what>` did not do its work; nothing when it exited 0.
std::optional<std::string> failure(const ProcessResult& run, std::string_view what) {
    switch (run.end) {
        case ProcessEnd::failed_to_start: return "cannot run git: " + run.error;
        case ProcessEnd::timed_out:
        case ProcessEnd::stalled:  // no stall limit is set
            return fmt::format("git {} did not finish in time", what);
        case ProcessEnd::cancelled: return fmt::format("git {} was cancelled", what);
        case ProcessEnd::exited:
        case ProcessEnd::lingered: break;  // no line is judged
    }
    if (run.exit_code == 0) return std::nullopt;
    auto message = git_message(run);
    if (message.empty()) return fmt::format("git {} exited with {}", what, run.exit_code);
    return fmt::format("git {} failed: {}", what, message);
}

struct Head {
    std::optional<std::string> commit;  // none: HEAD has no commit yet
    std::optional<std::string> error;
};

boost::asio::awaitable<Head> read_head(const GitContext& context, Cancellation& cancel) {
    // --verify --quiet: an unborn HEAD (a repository without a commit) is exit 1, silent;
    // outside a repository git says so and exits 128.
    std::vector<std::string> args{"rev-parse", "--verify", "--quiet", "HEAD"};
    auto run = co_await run_git(context, std::move(args), kHeadOutputCap, cancel);
    Head head;
    if (run.end == ProcessEnd::exited && run.exit_code == 1 && run.out.text.empty() &&
        run.err.text.empty()) {
        co_return head;
    }
    head.error = failure(run, "rev-parse HEAD");
    if (!head.error) head.commit = git_message(run);
    co_return head;
}

// What the changes are counted from: head_before, or the empty tree when there was no
// commit (its id depends on the repository's hash, so git gives it).
boost::asio::awaitable<std::optional<std::string>> diff_base(WorkspaceChanges& changes,
                                                             const GitContext& context,
                                                             Cancellation& cancel) {
    if (changes.head_before) co_return changes.head_before;
    std::vector<std::string> args{"hash-object", "-t", "tree", "/dev/null"};
    auto run = co_await run_git(context, std::move(args), kHeadOutputCap, cancel);
    changes.error = failure(run, "hash-object");
    if (changes.error) co_return std::nullopt;
    co_return git_message(run);
}

}  // namespace

boost::asio::awaitable<WorkspaceChanges> workspace_before(GitContext context,
                                                          Cancellation& cancel) {
    auto head = co_await read_head(context, cancel);
    WorkspaceChanges changes;
    changes.head_before = std::move(head.commit);
    changes.error = std::move(head.error);
    co_return changes;
}

boost::asio::awaitable<WorkspaceChanges> workspace_after(WorkspaceChanges before,
                                                         GitContext context, Cancellation& cancel) {
    auto changes = std::move(before);
    if (changes.error) co_return changes;
    auto head = co_await read_head(context, cancel);
    if (head.error) {
        changes.error = std::move(head.error);
        co_return changes;
    }
    changes.head_after = std::move(head.commit);

    auto base = co_await diff_base(changes, context, cancel);
    if (!base) co_return changes;
    // The working tree (tracked files) against the commit, committed changes included.
    std::vector<std::string> diff_args{"diff",          "--name-status", "-z",
                                       "--no-renames",  "--no-relative", "--no-color",
                                       "--no-ext-diff", *base,           "--"};
    auto diff = co_await run_git(context, std::move(diff_args), kListOutputCap, cancel);
    changes.error = failure(diff, "diff");
    if (changes.error) co_return changes;
    // Against HEAD now: dirty, and the untracked files (every one, not just their folders).
    std::vector<std::string> status_args{"status", "--porcelain=v2", "-z", "--untracked-files=all",
                                         "--no-renames"};
    auto status = co_await run_git(context, std::move(status_args), kListOutputCap, cancel);
    changes.error = failure(status, "status");
    if (changes.error) co_return changes;

    auto tree = parse_porcelain_v2(status.out.text);
    changes.dirty = tree.dirty;
    set_changed_files(changes, parse_name_status(diff.out.text), std::move(tree.untracked),
                      diff.out.truncated || status.out.truncated);
    co_return changes;
}

}  // namespace cas::agent
