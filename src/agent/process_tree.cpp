// Only ever waitpid() a specific pid that is our direct child: waitpid(-1) would take the
// CLI's exit status away from Boost.Process.
#include "agent/process_tree.hpp"

#include <dirent.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <charconv>
#include <chrono>
#include <csignal>
#include <fstream>
#include <iterator>
#include <string>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unordered_map>
#include <unordered_set>

namespace cas::agent {
namespace {

pid_t parse_pid(std::string_view text) {
    pid_t value = -1;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || ptr != text.data() + text.size()) return -1;
    return value;
}

std::string read_stat(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

bool become_child_subreaper() {
    return prctl(PR_SET_CHILD_SUBREAPER, 1) == 0;
}

pid_t parent_from_stat(std::string_view stat) {
    // "pid (comm) state ppid ..."
    auto close = stat.rfind(')');
    if (close == std::string_view::npos || close + 4 >= stat.size()) return -1;
    auto rest = stat.substr(close + 2);  // "state ppid ..."
    auto space = rest.find(' ');
    if (space == std::string_view::npos) return -1;
    rest = rest.substr(space + 1);
    return parse_pid(rest.substr(0, rest.find(' ')));
}

std::vector<pid_t> descendants_of(pid_t root) {
    std::unordered_map<pid_t, std::vector<pid_t>> children;
    if (DIR* dir = opendir("/proc")) {
        while (const dirent* entry = readdir(dir)) {
            pid_t pid = parse_pid(entry->d_name);
            if (pid <= 0) continue;
            pid_t parent = parent_from_stat(read_stat(pid));
            if (parent > 0) children[parent].push_back(pid);
        }
        closedir(dir);
    }
    std::vector<pid_t> out;
    std::vector<pid_t> pending{root};
    while (!pending.empty()) {
        pid_t next = pending.back();
        pending.pop_back();
        auto it = children.find(next);
        if (it == children.end()) continue;
        for (pid_t child : it->second) {
            out.push_back(child);
            pending.push_back(child);
        }
    }
    return out;
}

boost::asio::awaitable<int> kill_descendants(pid_t owned_child) {
    const pid_t self = getpid();
    std::unordered_set<pid_t> killed;
    auto executor = co_await boost::asio::this_coro::executor;
    boost::asio::steady_timer pause(executor);
    // Killed processes take a moment to die and their orphans to re-parent; a few passes
    // settle it. 200 × 5 ms bounds the wait for a process stuck in the kernel.
    for (int pass = 0; pass < 200; ++pass) {
        bool any_left = false;
        for (pid_t pid : descendants_of(self)) {
            bool direct = parent_from_stat(read_stat(pid)) == self;
            if (direct && pid != owned_child && waitpid(pid, nullptr, WNOHANG) == pid) {
                continue;  // a zombie child of ours: reaped now
            }
            if (pid == owned_child) continue;
            if (kill(pid, SIGKILL) == 0) killed.insert(pid);
            any_left = true;
        }
        if (owned_child > 0 && kill(owned_child, 0) == 0) {
            // Still alive (a zombie answers too; Boost.Process reaps it after this).
            kill(owned_child, SIGKILL);
        }
        if (!any_left) break;
        pause.expires_after(std::chrono::milliseconds(5));
        co_await pause.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    }
    co_return static_cast<int>(killed.size());
}

}  // namespace cas::agent
