// Finding and ending every process a run left behind. The CLI's Bash tool starts each
// command in its own session, so process groups miss them; instead the service is a
// child subreaper, orphans re-parent to it, and a walk of its process tree finds them.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <string_view>
#include <sys/types.h>
#include <vector>

namespace cas::agent {

// Makes this process the reaper of its orphaned descendants. Call once at start-up.
bool become_child_subreaper();

// The parent pid from the text of /proc/PID/stat, or -1 if it does not parse.
// (The command name may contain spaces and parentheses: parse after the last ')'.)
pid_t parent_from_stat(std::string_view stat);

// Every live or zombie process below `root`, from the kernel's per-thread children lists
// (or one pass over all of /proc where the kernel has none).
std::vector<pid_t> descendants_of(pid_t root);

// The same from one pass over all of /proc, reading every process's parent.
std::vector<pid_t> descendants_by_scan(pid_t root);

// SIGKILLs every descendant of this process until none is left, reaping those that are
// its direct children, except `owned_child` (whose reaping belongs to the runner's Child;
// it is killed but not waited for; pass -1 once it has been reaped, as its pid may be
// reused) and the spared trees (SparedTree). Every other descendant is the current run's:
// callers rely on one run at a time. Returns how many processes were killed.
boost::asio::awaitable<int> kill_descendants(pid_t owned_child);

// While it lives, the process tree under `root` (root included) belongs to no run, so
// kill_descendants leaves it alone and does not reap `root`: the warm CLI, started for a
// run still to come. Its owner ends it. Single-threaded, like everything that sweeps.
class SparedTree {
public:
    explicit SparedTree(pid_t root);
    ~SparedTree();
    SparedTree(const SparedTree&) = delete;
    SparedTree& operator=(const SparedTree&) = delete;

private:
    pid_t root_;
};

// Every process (other than this one) whose initial environment holds `entry`
// ("NAME=value") exactly, of those whose environment this process may read.
std::vector<pid_t> processes_with_env_entry(std::string_view entry);

// SIGKILLs every process processes_with_env_entry(entry) finds, until none is left (for a
// second at most: blocking, for start-up). Returns how many were killed.
int kill_processes_with_env_entry(std::string_view entry);

}  // namespace cas::agent
