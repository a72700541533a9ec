#include "confinement_checks.hpp"

#include "startup_checks.hpp"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <unistd.h>

#include <fmt/format.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sys/stat.h>
#include <sys/wait.h>

extern char** environ;  // NOLINT(readability-redundant-declaration)

namespace cas {
namespace {

namespace fs = std::filesystem;
using agent::Confinement;
using agent::RunAs;

struct UserEntry {
    RunAs run_as;
    std::string home;
};

std::optional<UserEntry> look_up_user(const std::string& name) {
    std::vector<char> buffer(64U * 1024U);
    passwd entry{};
    passwd* found = nullptr;
    if (::getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found) != 0 ||
        found == nullptr) {
        return std::nullopt;
    }
    UserEntry user{.run_as = {.uid = found->pw_uid, .gid = found->pw_gid, .groups = {}},
                   .home = found->pw_dir != nullptr ? found->pw_dir : ""};
    int count = 16;
    std::vector<gid_t> groups(static_cast<std::size_t>(count));
    while (::getgrouplist(name.c_str(), found->pw_gid, groups.data(), &count) < 0) {
        groups.resize(static_cast<std::size_t>(count));  // count now says how many there are
    }
    groups.resize(static_cast<std::size_t>(count));
    user.run_as.groups = std::move(groups);
    return user;
}

// The capabilities switching users and ending the agent's processes need that this process
// lacks, by name; empty when it has them all (root has).
std::string missing_capabilities() {
    std::ifstream status("/proc/self/status");
    std::uint64_t effective = 0;
    for (std::string line; std::getline(status, line);) {
        if (!line.starts_with("CapEff:")) continue;
        try {
            effective = std::stoull(line.substr(7), nullptr, 16);
        } catch (const std::exception&) {
            effective = 0;
        }
    }
    constexpr std::array<std::pair<int, const char*>, 3> kNeeded{
        {{5, "CAP_KILL"}, {6, "CAP_SETGID"}, {7, "CAP_SETUID"}}};
    std::string missing;
    for (const auto& [bit, name] : kNeeded) {
        if ((effective >> bit & 1U) != 0) continue;
        missing += missing.empty() ? name : fmt::format(", {}", name);
    }
    return missing;
}

// Takes `user`'s identity in a child: the child's exit code is 3 when it could not.
bool become(const RunAs& user) {
    return ::setgroups(user.groups.size(), user.groups.data()) == 0 && ::setgid(user.gid) == 0 &&
           ::setuid(user.uid) == 0;
}

// 0: `user` may access `path` with `mode`; 1: it may not; 3: the identity could not be taken.
int access_as(const RunAs& user, const std::string& path, int mode) {
    const pid_t pid = ::fork();
    if (pid == 0) {
        if (!become(user)) ::_exit(3);
        ::_exit(::access(path.c_str(), mode) == 0 ? 0 : 1);
    }
    if (pid < 0) return 3;
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 3;
}

struct ProbeRun {
    int status = -1;  // the wait status; -1 if it could not be started or did not end in time
    std::string output;
};

// Runs argv (program first, looked up on PATH) as `user`, stdout and stderr kept together
// (4 KiB of them), stdin empty, for at most `limit`.
ProbeRun run_probe(const std::optional<RunAs>& user, const std::vector<std::string>& argv,
                   std::chrono::milliseconds limit) {
    ProbeRun run;
    std::vector<char*> args;
    args.reserve(argv.size() + 1);
    for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));  // NOLINT
    args.push_back(nullptr);
    std::array<int, 2> fds{};
    if (::pipe2(fds.data(), O_CLOEXEC) != 0) return run;
    const pid_t pid = ::fork();
    if (pid == 0) {
        int null = ::open("/dev/null", O_RDONLY);
        if (null < 0 || ::dup2(null, STDIN_FILENO) < 0 || ::dup2(fds[1], STDOUT_FILENO) < 0 ||
            ::dup2(fds[1], STDERR_FILENO) < 0 || (user && !become(*user))) {
            ::_exit(126);
        }
        (void)::signal(SIGPIPE, SIG_DFL);
        ::execvpe(args[0], args.data(), environ);
        ::_exit(127);
    }
    ::close(fds[1]);
    if (pid < 0) {
        ::close(fds[0]);
        return run;
    }
    auto deadline = std::chrono::steady_clock::now() + limit;
    std::array<char, 4096> buffer{};
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        pollfd ready{.fd = fds[0], .events = POLLIN, .revents = 0};
        if (left.count() <= 0 || ::poll(&ready, 1, static_cast<int>(left.count())) == 0) {
            ::kill(pid, SIGKILL);
            break;
        }
        auto n = ::read(fds[0], buffer.data(), buffer.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        run.output.append(buffer.data(), std::min<std::size_t>(static_cast<std::size_t>(n),
                                                               4096 - run.output.size()));
    }
    ::close(fds[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (std::chrono::steady_clock::now() < deadline) run.status = status;
    while (!run.output.empty() && (run.output.back() == '\n' || run.output.back() == ' ')) {
        run.output.pop_back();
    }
    return run;
}

bool inside(const fs::path& path, const fs::path& dir) {
    auto [end, rest] = std::mismatch(dir.begin(), dir.end(), path.begin(), path.end());
    return end == dir.end();
}

fs::path absolute_path(const std::string& path) {
    std::error_code ec;
    auto out = fs::weakly_canonical(path, ec);
    return ec ? fs::absolute(path) : out;
}

// DATA_DIR and the job database's files: neither group- nor other-readable, and not readable
// by the agent's user (whatever makes them so: mode, owner, group or ACL).
std::optional<std::string> check_data_dir(const std::string& data_dir, const std::string& user,
                                          const RunAs& as) {
    const fs::path dir(data_dir);
    for (const fs::path& path : {dir, dir / "jobs.db", dir / "jobs.db-wal", dir / "jobs.db-shm"}) {
        struct stat info {};
        if (::stat(path.c_str(), &info) != 0) continue;
        const bool is_dir = S_ISDIR(info.st_mode);
        if ((info.st_mode & (S_IRGRP | S_IROTH)) != 0) {
            return fmt::format(
                "DATA_DIR: {} is readable by its group or others (mode {:04o}), so AGENT_USER={} "
                "could read every job's prompt and output; chmod {} {} (the service creates "
                "its files so)",
                path.string(), info.st_mode & 07777U, user, is_dir ? "700" : "600", path.string());
        }
        switch (access_as(as, path.string(), R_OK)) {
            case 0:
                return fmt::format(
                    "DATA_DIR: {} is readable by AGENT_USER={} (it owns it, or an ACL or group "
                    "lets it): the agent could read every job; make DATA_DIR the service's own, "
                    "mode 700",
                    path.string(), user);
            case 1: break;
            default:
                return fmt::format("AGENT_USER={}: the service cannot take that user's identity",
                                   user);
        }
    }
    return std::nullopt;
}

// The home, the workspace and the CLI as the agent's user needs them.
std::optional<std::string> check_user_paths(const ConfinementRequest& request,
                                            const std::string& home, const RunAs& as) {
    const auto& user = request.agent_user;
    std::error_code ec;
    if (!fs::is_directory(home, ec)) {
        return fmt::format(
            "AGENT_HOME: {} is not a directory (AGENT_USER={}'s HOME: the CLI keeps its "
            "credentials and sessions there)",
            home, user);
    }
    if (access_as(as, home, W_OK | X_OK) != 0) {
        return fmt::format(
            "AGENT_HOME: {} is not writable by AGENT_USER={} (the CLI keeps its credentials and "
            "sessions there); chown {} {}",
            home, user, user, home);
    }
    if (access_as(as, request.workspace_dir, W_OK | X_OK) != 0) {
        return fmt::format(
            "WORKSPACE_DIR: {} is not writable by AGENT_USER={} (the agent edits it, and git "
            "pull runs as that user); chown -R {} {}",
            request.workspace_dir, user, user, request.workspace_dir);
    }
    auto cli = request.claude_bin.find('/') != std::string::npos
                   ? request.claude_bin
                   : find_on_path(request.claude_bin, request.path);
    if (!cli.empty() && access_as(as, cli, X_OK) != 0) {
        return fmt::format("CLAUDE_BIN: {} is not executable by AGENT_USER={}", cli, user);
    }
    return std::nullopt;
}

std::variant<agent::Sandbox, std::string> make_sandbox(const ConfinementRequest& request,
                                                       const Confinement& confinement) {
    auto bwrap = find_on_path("bwrap", request.path);
    if (bwrap.empty()) {
        return std::string(
            "AGENT_SANDBOX=bwrap: bwrap is not on PATH (Debian: apt-get install bubblewrap)");
    }
    agent::Sandbox sandbox{
        .bwrap = bwrap,
        .workspace_dir = absolute_path(request.workspace_dir).string(),
        .home = confinement.home.empty() ? request.service_home : confinement.home,
        .hidden = {absolute_path(request.data_dir).string()},
        .extra = request.sandbox_extra};
    if (!sandbox.home.empty()) sandbox.home = absolute_path(sandbox.home).string();
    const fs::path data = sandbox.hidden.front();
    for (const auto& [name, dir] : {std::pair{"WORKSPACE_DIR", sandbox.workspace_dir},
                                    std::pair{"the agent's HOME", sandbox.home}}) {
        if (dir.empty()) continue;
        if (inside(data, dir) || inside(dir, data)) {
            return fmt::format(
                "AGENT_SANDBOX=bwrap: DATA_DIR ({}) and {} ({}) overlap; the agent must see its "
                "own directory and not the job store: move one of them",
                data.string(), name, dir);
        }
    }
    for (const auto& extra : sandbox.extra) {
        std::error_code ec;
        if (!fs::exists(extra.path, ec)) {
            return fmt::format("AGENT_SANDBOX_EXTRA: {} does not exist", extra.path);
        }
    }
    // The box made once, with the CLI in it: bwrap can make its namespaces here, and the CLI
    // is there to run (one under /tmp, or under a hidden path, is not).
    auto probe = run_probe(confinement.run_as,
                           agent::sandbox_command(sandbox, {request.claude_bin, "--version"}),
                           std::chrono::seconds(10));
    if (probe.status != 0) {
        return fmt::format(
            "AGENT_SANDBOX=bwrap: `{} --version` cannot run in the sandbox{}: {} (bwrap needs "
            "unprivileged user namespaces, or root; a CLI under /tmp or a hidden path needs "
            "AGENT_SANDBOX_EXTRA=ro:<its directory>; the agent never runs unsandboxed instead)",
            request.claude_bin,
            confinement.run_as ? fmt::format(" as AGENT_USER={}", request.agent_user) : "",
            probe.output.empty() ? fmt::format("wait status {}", probe.status) : probe.output);
    }
    return sandbox;
}

}  // namespace

bool can_access_as(const RunAs& user, const std::string& path, int mode) {
    return access_as(user, path, mode) == 0;
}

std::variant<Confinement, std::string> prepare_confinement(const ConfinementRequest& request) {
    Confinement confinement;
    confinement.home = request.agent_home;
    if (!request.agent_user.empty()) {
        const auto& name = request.agent_user;
        auto user = look_up_user(name);
        if (!user) {
            return fmt::format(
                "AGENT_USER={}: no such user on this host (create it first, e.g. "
                "useradd --create-home {})",
                name, name);
        }
        if (user->run_as.uid == 0) {
            return fmt::format("AGENT_USER={}: is root (uid 0); name an unprivileged user", name);
        }
        if (auto missing = missing_capabilities(); !missing.empty()) {
            return fmt::format(
                "AGENT_USER={}: the service cannot run the agent as that user: it must run as "
                "root or with CAP_SETUID, CAP_SETGID and CAP_KILL (missing: {})",
                name, missing);
        }
        confinement.run_as = user->run_as;
        confinement.user_name = name;
        if (confinement.home.empty()) confinement.home = user->home;
        if (auto problem = check_user_paths(request, confinement.home, user->run_as)) {
            return *problem;
        }
    }
    if (confinement.run_as || request.sandbox != agent::SandboxMode::off) {
        // Made now (private: the umask is 077), so that it is checked, and can be hidden.
        std::error_code ec;
        fs::create_directories(request.data_dir, ec);
    }
    if (confinement.run_as) {
        if (auto problem =
                check_data_dir(request.data_dir, request.agent_user, *confinement.run_as)) {
            return *problem;
        }
    }
    if (request.sandbox == agent::SandboxMode::bwrap) {
        auto sandbox = make_sandbox(request, confinement);
        if (auto* problem = std::get_if<std::string>(&sandbox)) return *problem;
        confinement.sandbox = std::get<agent::Sandbox>(std::move(sandbox));
    }
    return confinement;
}

}  // namespace cas
