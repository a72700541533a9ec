// Boost.Process v2 (1.81) specifics: the launcher's env pointer is set directly so the child
// gets exactly the environment we built; a launcher initializer puts the child in its own
// process group, ties its life to ours (PDEATHSIG) and closes every inherited descriptor
// before exec. The process is detached from Boost at once and waited for here (see
// Child): every path ends with the child reaped.
#include "agent/runner.hpp"

#include "agent/line_splitter.hpp"
#include "agent/process_tree.hpp"
#include "util/async.hpp"

#include <fcntl.h>
#include <grp.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/readable_pipe.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/writable_pipe.hpp>
#include <boost/asio/write.hpp>
#include <boost/process/v2/environment.hpp>
#include <boost/process/v2/posix/default_launcher.hpp>
#include <boost/process/v2/process.hpp>
#include <boost/process/v2/start_dir.hpp>
#include <boost/process/v2/stdio.hpp>

#include <algorithm>
#include <array>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <linux/close_range.h>
#include <optional>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

extern char** environ;  // NOLINT(readability-redundant-declaration)

namespace cas::agent {
namespace asio = boost::asio;
namespace bp = boost::process::v2;
using namespace boost::asio::experimental::awaitable_operators;

namespace {

// The umask children get (make_created_files_private): the one the service started with.
mode_t child_umask = 022;  // NOLINT(cppcoreguidelines-avoid-non-const-global-variables)

// Runs in the child between fork and exec: only async-signal-safe calls.
struct ChildSetup {
    const RunAs* run_as = nullptr;

    template <class Launcher, class Argv>
    boost::system::error_code on_exec_setup(Launcher& /*launcher*/,
                                            const bp::filesystem::path& /*exe*/, Argv&& /*argv*/) {
        // Own process group: SIGTERM reaches the CLI and its direct helpers together.
        ::setpgid(0, 0);
        ::umask(child_umask);
        if (run_as != nullptr) {
            // Groups first: once the uid is not root's, the groups can no longer be changed.
            // No new privileges: a setuid program (sudo) cannot take the agent back to root.
            if (::setgroups(run_as->groups.size(), run_as->groups.data()) != 0 ||
                ::setgid(run_as->gid) != 0 || ::setuid(run_as->uid) != 0 ||
                ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
                return {errno, boost::system::system_category()};
            }
        }
        // If the service dies, the CLI dies with it (its setsid'd tool shells are found by
        // the /proc walk instead, while the service lives). After setuid: a change of
        // credentials clears the death signal.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        // The service ignores SIGPIPE; an ignored signal survives exec, and tools such as
        // `yes | head` in the agent's shell need the default.
        (void)::signal(SIGPIPE, SIG_DFL);
        // Descriptors without FD_CLOEXEC (Asio's sockets: the listener, clients' connections
        // carrying their tokens; other runs' pipes) would reach the agent: Boost 1.81's own
        // close-all skips most of them. Close everything above stdio at exec.
        if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
            for (int fd = 3, last = static_cast<int>(::sysconf(_SC_OPEN_MAX)); fd < last; ++fd) {
                (void)::fcntl(fd, F_SETFD, FD_CLOEXEC);
            }
        }
        return {};
    }
};

// Beyond the cap, keeps the last complete line aside (a line longer than the cap is not kept).
class TailLine {
public:
    explicit TailLine(std::size_t cap) : cap_(cap) {}
    void feed(std::string_view bytes, std::string& last_line) {
        for (auto newline = bytes.find('\n'); newline != std::string_view::npos;
             newline = bytes.find('\n')) {
            append(bytes.substr(0, newline));
            if (!overflow_ && !partial_.empty()) last_line.swap(partial_);
            partial_.clear();
            overflow_ = false;
            bytes.remove_prefix(newline + 1);
        }
        append(bytes);
    }
    void end(std::string& last_line) {
        if (!overflow_ && !partial_.empty()) last_line.swap(partial_);
    }

private:
    void append(std::string_view bytes) {
        if (overflow_ || partial_.size() + bytes.size() > cap_) {
            overflow_ = true;
            partial_.clear();
            return;
        }
        partial_.append(bytes);
    }
    std::size_t cap_;
    std::string partial_;
    bool overflow_ = false;
};

// The child, waited for by us. Boost.Process 1.81's async_wait calls a blocking waitpid()
// as soon as its pidfd looks readable, and Asio may report readiness that is not there: the
// whole service then blocked on a CLI that was waiting for its stdin (found by
// bench/soak.sh under load). Here readiness is only a hint: waitpid(WNOHANG), and if the
// child still runs, wait again. Without pidfd_open (Linux < 5.3) it polls.
class Child {
public:
    explicit Child(pid_t pid) : pid_(pid) {}
    ~Child() {
        // Only if the coroutine is destroyed mid-run (shutdown): never leave it running.
        if (reaped_) return;
        ::kill(-pid_, SIGKILL);
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
    }
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;

    [[nodiscard]] pid_t pid() const { return pid_; }
    [[nodiscard]] bool exited() const {
        siginfo_t info{};
        return reaped_ ||
               (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
                info.si_pid == pid_);
    }

    // The raw wait status, or -1 if it could not be read (or the wait was cancelled).
    asio::awaitable<int> wait() {
        auto executor = co_await asio::this_coro::executor;
        if (!pidfd_) {
            int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
            if (fd >= 0) pidfd_.emplace(executor, fd);
        }
        asio::steady_timer poll(executor);
        for (;;) {
            int status = 0;
            pid_t reaped = ::waitpid(pid_, &status, WNOHANG);
            if (reaped == pid_) {
                reaped_ = true;
                co_return status;
            }
            if (reaped < 0 && errno != EINTR) {
                reaped_ = errno == ECHILD;  // not ours to wait for any more
                co_return -1;
            }
            boost::system::error_code ec;
            if (pidfd_) {
                std::tie(ec) = co_await pidfd_->async_wait(asio::posix::descriptor_base::wait_read,
                                                           kUseNothrow);
            } else {
                poll.expires_after(std::chrono::milliseconds(10));
                std::tie(ec) = co_await poll.async_wait(kUseNothrow);
            }
            if (ec == asio::error::operation_aborted) co_return -1;
        }
    }

private:
    pid_t pid_;
    bool reaped_ = false;
    std::optional<asio::posix::stream_descriptor> pidfd_;
};

// `already_read`: bytes of the stream read before (ChildProcess::read_line), taken first.
asio::awaitable<void> read_stream(asio::readable_pipe& pipe, CapturedStream& into, std::size_t cap,
                                  const std::function<void(std::string_view)>& on_data,
                                  std::string already_read = {}) {
    std::array<char, 65536> buffer{};
    TailLine tail(cap);
    auto take = [&](std::string_view piece) {
        into.total_bytes += piece.size();
        auto kept = std::min(piece.size(), cap - into.text.size());
        into.text.append(piece.substr(0, kept));
        if (kept < piece.size()) {
            into.truncated = true;
            tail.feed(piece.substr(kept), into.last_line);
        }
        if (on_data) on_data(piece);
    };
    if (!already_read.empty()) take(already_read);
    for (;;) {
        auto [ec, n] = co_await pipe.async_read_some(asio::buffer(buffer), kUseNothrow);
        if (n > 0) take(std::string_view(buffer.data(), n));
        if (ec) {  // EOF, or cancelled by the deadline / cancel race
            tail.end(into.last_line);
            co_return;
        }
    }
}

asio::awaitable<void> write_input(asio::writable_pipe& pipe, const std::string& input) {
    // A child that exits without reading gets EPIPE here; that is its business, not ours.
    co_await asio::async_write(pipe, asio::buffer(input), kUseNothrow);
    boost::system::error_code ignored;
    pipe.close(ignored);
}

std::string resolve_program(const std::string& program) {
    if (program.find('/') != std::string::npos) return program;
    return bp::environment::find_executable(program).string();
}

}  // namespace

void make_created_files_private() {
    child_umask = ::umask(077);
}

std::vector<std::string> child_environment(const std::vector<std::string>& drop,
                                           const std::vector<std::string>& extra) {
    auto name_of = [](std::string_view entry) { return entry.substr(0, entry.find('=')); };
    auto listed = [&](std::string_view name, const std::vector<std::string>& list, bool entries) {
        for (const auto& item : list) {
            if ((entries ? name_of(item) : std::string_view(item)) == name) return true;
        }
        return false;
    };
    std::vector<std::string> out;
    for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
        std::string_view text(*entry);
        auto name = name_of(text);
        if (listed(name, drop, false) || listed(name, extra, true)) continue;
        out.emplace_back(text);
    }
    out.insert(out.end(), extra.begin(), extra.end());
    return out;
}

struct ChildProcess::State {
    State(asio::writable_pipe stdin_pipe, asio::readable_pipe stdout_pipe,
          asio::readable_pipe stderr_pipe, pid_t pid)
        : in(std::move(stdin_pipe)),
          out(std::move(stdout_pipe)),
          err(std::move(stderr_pipe)),
          child(pid) {}
    asio::writable_pipe in;
    asio::readable_pipe out;
    asio::readable_pipe err;
    Child child;
    std::string stdout_read_ahead;  // read by read_line past its line: the driver's first piece
};

ChildProcess::ChildProcess(std::unique_ptr<State> state) : state_(std::move(state)) {}
ChildProcess::ChildProcess(ChildProcess&&) noexcept = default;
ChildProcess& ChildProcess::operator=(ChildProcess&&) noexcept = default;
ChildProcess::~ChildProcess() = default;

pid_t ChildProcess::pid() const {
    return state_->child.pid();
}

bool ChildProcess::exited() const {
    return state_->child.exited();
}

void ChildProcess::kill() {
    ::kill(-state_->child.pid(), SIGKILL);
    ::kill(state_->child.pid(), SIGKILL);
}

asio::awaitable<bool> ChildProcess::write_line(std::string line) {
    auto [ec, n] = co_await asio::async_write(state_->in, asio::buffer(line), kUseNothrow);
    co_return !ec && n == line.size();
}

asio::awaitable<std::optional<std::string>> ChildProcess::read_line(std::size_t max_bytes) {
    auto& ahead = state_->stdout_read_ahead;
    std::array<char, 4096> buffer{};
    for (;;) {
        if (auto newline = ahead.find('\n'); newline != std::string::npos) {
            if (newline > max_bytes) co_return std::nullopt;
            std::string line = ahead.substr(0, newline);
            ahead.erase(0, newline + 1);
            co_return line;
        }
        if (ahead.size() > max_bytes) co_return std::nullopt;
        // Whatever a read returns is kept before anything else: a read that completes as
        // an outer `||` cancels it still lands here.
        auto [ec, n] = co_await state_->out.async_read_some(asio::buffer(buffer), kUseNothrow);
        ahead.append(buffer.data(), n);
        if (ec) co_return std::nullopt;
    }
}

StartedProcess start_process(const asio::any_io_executor& executor, const ProcessLaunch& launch) {
    StartedProcess started;
    auto exe = resolve_program(launch.program);
    if (exe.empty()) {
        started.error = "'" + launch.program + "' was not found on PATH";
        return started;
    }
    if (::access(exe.c_str(), X_OK) != 0) {
        started.error = "'" + exe + "' is not an executable file: " + std::strerror(errno);
        return started;
    }
    std::error_code dir_ec;
    if (!std::filesystem::is_directory(launch.working_dir, dir_ec)) {
        started.error = "working directory '" + launch.working_dir + "' does not exist";
        return started;
    }

    std::vector<std::string> environment = launch.environment;
    std::vector<char*> envp;
    envp.reserve(environment.size() + 1);
    for (auto& entry : environment) envp.push_back(entry.data());
    envp.push_back(nullptr);

    asio::writable_pipe in(executor);
    asio::readable_pipe out(executor);
    asio::readable_pipe err(executor);
    bp::posix::default_launcher launcher;
    launcher.env = envp.data();
    boost::system::error_code ec;
    auto proc = launcher(executor, ec, bp::filesystem::path(exe), launch.args,
                         bp::process_stdio{in, out, err}, bp::process_start_dir{launch.working_dir},
                         ChildSetup{.run_as = launch.run_as ? &*launch.run_as : nullptr});
    if (ec) {
        started.error = "cannot start '" + exe + "': " + ec.message();
        return started;
    }
    const pid_t pid = proc.id();
    proc.detach();  // ours to wait for and reap from here on
    started.child.emplace(ChildProcess(
        std::make_unique<ChildProcess::State>(std::move(in), std::move(out), std::move(err), pid)));
    return started;
}

namespace {

// Ends when stdout has been silent for `limit` (never when `limit` is zero), or when the
// race it is in is decided by another branch.
asio::awaitable<void> stall_watch(std::chrono::milliseconds limit,
                                  const std::chrono::steady_clock::time_point& last_output) {
    auto executor = co_await asio::this_coro::executor;
    Timer timer(executor);
    for (;;) {
        timer.expires_at(limit.count() == 0 ? std::chrono::steady_clock::time_point::max()
                                            : last_output + limit);
        auto [ec] = co_await timer.async_wait();
        if (ec || std::chrono::steady_clock::now() >= last_output + limit) co_return;
    }
}

// Ends `grace` after the last line was seen (never if it is not), or when the race it is in
// is decided by another branch.
asio::awaitable<void> exit_grace_watch(Event& last_line_seen, std::chrono::milliseconds grace) {
    bool seen = co_await last_line_seen.wait();
    if (!seen) co_return;
    auto executor = co_await asio::this_coro::executor;
    Timer timer(executor, grace);
    co_await timer.async_wait();
}

}  // namespace

asio::awaitable<ProcessResult> drive_process(ChildProcess process, ProcessRun run,
                                             Cancellation& cancel) {
    auto executor = co_await asio::this_coro::executor;
    auto& state = *process.state_;
    auto& child = state.child;
    const pid_t pid = child.pid();
    ProcessResult result;

    auto last_output = std::chrono::steady_clock::now();
    Event last_line_seen(executor);
    bool judged = false;  // the last line was seen: the rest is not judged
    LineSplitter lines(run.output_cap);
    auto on_stdout = [&](std::string_view piece) {
        last_output = std::chrono::steady_clock::now();
        if (run.judge_line && !judged) {
            lines.feed(piece, [&](std::string_view line) {
                if (judged) return;
                judged = run.judge_line(line) == LineVerdict::last;
                if (!judged) return;
                last_line_seen.notify();
                if (run.on_last_line) run.on_last_line(result);
            });
        }
        if (run.on_stdout) run.on_stdout(piece);
    };

    asio::steady_timer deadline(executor, run.deadline);
    auto io = [&]() -> asio::awaitable<void> {
        co_await (write_input(state.in, run.input) &&
                  read_stream(state.out, result.out, run.output_cap, on_stdout,
                              std::exchange(state.stdout_read_ahead, {})) &&
                  read_stream(state.err, result.err, run.output_cap, {}));
    };
    auto exit_then_sweep = [&]() -> asio::awaitable<int> {
        int status = co_await child.wait();
        // Leftovers (background tool processes) may hold the pipes open: end them so the
        // readers see EOF. The CLI itself is reaped, so its pid is not ours to touch.
        result.killed_processes += co_await kill_descendants(-1);
        co_return status;  // raw status: exit vs signal
    };
    auto finished = co_await ((io() && exit_then_sweep()) || deadline.async_wait(kUseNothrow) ||
                              cancel.wait() || stall_watch(run.stall_timeout, last_output) ||
                              exit_grace_watch(last_line_seen, run.exit_grace));

    if (finished.index() == 0) {
        result.end = ProcessEnd::exited;
        int status = std::get<0>(finished);
        if (status == -1) result.error = "could not read the exit status";
        if (status != -1 && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
        if (status != -1 && WIFSIGNALED(status)) result.term_signal = WTERMSIG(status);
        co_return result;
    }

    // We stop the run, and remember why (the CLI exits 143 after SIGTERM rather than dying
    // by the signal, so its status would not tell).
    constexpr std::array kEnds{ProcessEnd::exited, ProcessEnd::timed_out, ProcessEnd::cancelled,
                               ProcessEnd::stalled, ProcessEnd::lingered};
    result.end = kEnds.at(finished.index());
    ++result.killed_processes;  // the CLI itself, whether SIGTERM suffices or not
    ::kill(-pid, SIGTERM);
    ::kill(pid, SIGTERM);
    asio::steady_timer grace(executor, run.kill_grace);
    auto graceful = co_await (child.wait() || grace.async_wait(kUseNothrow));
    int status = -1;
    if (graceful.index() == 0) {
        status = std::get<0>(graceful);
        result.killed_processes += co_await kill_descendants(-1);
        if (status != -1 && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
    } else {
        result.killed_processes += co_await kill_descendants(pid);
        status = co_await child.wait();
    }
    if (status != -1 && WIFSIGNALED(status)) result.term_signal = WTERMSIG(status);
    co_return result;
}

asio::awaitable<ProcessResult> run_process(ProcessLaunch launch, ProcessRun run,
                                           Cancellation& cancel) {
    auto executor = co_await asio::this_coro::executor;
    auto started = start_process(executor, launch);
    if (!started.child) {
        ProcessResult result;
        result.error = std::move(started.error);
        co_return result;
    }
    co_return co_await drive_process(std::move(*started.child), std::move(run), cancel);
}

}  // namespace cas::agent
