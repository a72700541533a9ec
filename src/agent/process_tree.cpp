// Only ever waitpid() a specific pid that is our direct child: waitpid(-1) would take the
// CLI's exit status away from the runner's Child, which waits for it.
#include "agent/process_tree.hpp"

#include "util/async.hpp"

#include <dirent.h>
#include <unistd.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

#include <charconv>
#include <chrono>
#include <csignal>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <string_view>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>
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

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string read_proc_file(pid_t pid, const char* name) {
    return read_file("/proc/" + std::to_string(pid) + "/" + name);
}

std::string read_stat(pid_t pid) {
    return read_proc_file(pid, "stat");
}

// The roots of the spared trees (at most one today: the warm CLI).
std::vector<pid_t>& spared_roots() {
    static std::vector<pid_t> roots;
    return roots;
}

std::unordered_set<pid_t> spared_processes() {
    std::unordered_set<pid_t> out;
    for (pid_t root : spared_roots()) {
        out.insert(root);
        for (pid_t pid : descendants_of(root)) out.insert(pid);
    }
    return out;
}

template <class F>
void for_each_pid(F&& f) {
    if (DIR* dir = opendir("/proc")) {
        while (const dirent* entry = readdir(dir)) {
            pid_t pid = parse_pid(entry->d_name);
            if (pid > 0) f(pid);
        }
        closedir(dir);
    }
}

}  // namespace

SparedTree::SparedTree(pid_t root) : root_(root) {
    spared_roots().push_back(root);
}

SparedTree::~SparedTree() {
    std::erase(spared_roots(), root_);
}

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

std::vector<pid_t> descendants_by_scan(pid_t root) {
    std::unordered_map<pid_t, std::vector<pid_t>> children;
    for_each_pid([&](pid_t pid) {
        pid_t parent = parent_from_stat(read_stat(pid));
        if (parent > 0) children[parent].push_back(pid);
    });
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

std::vector<pid_t> descendants_of(pid_t root) {
    // /proc/PID/task/TID/children (CONFIG_PROC_CHILDREN) lists each thread's children, so the
    // walk costs what the tree holds. Scanning all of /proc instead cost ~2-10 ms per run
    // (every process's stat), most of a completion's overhead over the CLI's own time.
    static const bool has_children_files =
        ::access(("/proc/self/task/" + std::to_string(getpid()) + "/children").c_str(), R_OK) == 0;
    if (!has_children_files) return descendants_by_scan(root);
    std::vector<pid_t> out;
    std::unordered_set<pid_t> seen{root};  // a pid reused mid-walk must not loop it
    std::vector<pid_t> pending{root};
    while (!pending.empty()) {
        pid_t next = pending.back();
        pending.pop_back();
        std::string task_dir = "/proc/" + std::to_string(next) + "/task";
        DIR* dir = opendir(task_dir.c_str());
        if (dir == nullptr) continue;  // gone
        while (const dirent* entry = readdir(dir)) {
            if (parse_pid(entry->d_name) <= 0) continue;
            std::istringstream list(read_file(task_dir + "/" + entry->d_name + "/children"));
            for (pid_t child = 0; list >> child;) {
                if (!seen.insert(child).second) continue;
                out.push_back(child);
                pending.push_back(child);
            }
        }
        closedir(dir);
    }
    return out;
}

boost::asio::awaitable<int> kill_descendants(pid_t owned_child) {
    const pid_t self = getpid();
    std::unordered_set<pid_t> killed;
    auto executor = co_await boost::asio::this_coro::executor;
    Timer pause(executor);
    // Killed processes take a moment to die and their orphans to re-parent; a few passes
    // settle it. 200 × 5 ms bounds the wait for a process stuck in the kernel. One empty
    // walk is not believed: the kernel's children lists are read by position, so a child
    // that exits while a list is read can hide a live sibling from that read (proc(5):
    // "not reliable"). CI once found a git helper left over after a timed-out pull.
    int clean_walks = 0;
    for (int pass = 0; pass < 200; ++pass) {
        bool any_left = false;
        const auto spared = spared_processes();
        for (pid_t pid : descendants_of(self)) {
            if (spared.contains(pid)) continue;
            bool direct = parent_from_stat(read_stat(pid)) == self;
            if (direct && pid != owned_child && waitpid(pid, nullptr, WNOHANG) == pid) {
                continue;  // a zombie child of ours: reaped now
            }
            if (pid == owned_child) continue;
            if (kill(pid, SIGKILL) == 0) killed.insert(pid);
            any_left = true;
        }
        if (owned_child > 0 && kill(owned_child, 0) == 0) {
            // Still alive (a zombie answers too; the caller's Child reaps it after this).
            kill(owned_child, SIGKILL);
        }
        clean_walks = any_left ? 0 : clean_walks + 1;
        if (clean_walks == 2) break;
        pause.expires_after(std::chrono::milliseconds(any_left ? 5 : 1));
        co_await pause.async_wait();
    }
    co_return static_cast<int>(killed.size());
}

std::vector<pid_t> processes_with_env_entry(std::string_view entry) {
    const pid_t self = getpid();
    std::vector<pid_t> out;
    for_each_pid([&](pid_t pid) {
        if (pid == self) return;
        // NUL-separated entries; a process that is gone or not ours reads as empty.
        std::string environ_text = read_proc_file(pid, "environ");
        std::string_view rest(environ_text);
        while (!rest.empty()) {
            auto end = rest.find('\0');
            if (rest.substr(0, end) == entry) {
                out.push_back(pid);
                return;
            }
            if (end == std::string_view::npos) break;
            rest.remove_prefix(end + 1);
        }
    });
    return out;
}

int kill_processes_with_env_entry(std::string_view entry) {
    std::unordered_set<pid_t> killed;
    // A process may fork while we look: a few passes settle it, as in kill_descendants.
    for (int pass = 0; pass < 200; ++pass) {
        auto found = processes_with_env_entry(entry);
        bool any_alive = false;
        for (pid_t pid : found) {
            // Zombies keep no environment (it reads as empty), so each one found is alive.
            if (kill(pid, SIGKILL) == 0) {
                killed.insert(pid);
                any_alive = true;
            }
        }
        if (!any_alive) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return static_cast<int>(killed.size());
}

}  // namespace cas::agent
