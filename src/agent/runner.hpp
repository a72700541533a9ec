// Runs one child process as a coroutine: the input goes to its stdin (then EOF), stdout
// and stderr are read together (no pipe deadlock) up to a cap, and the run is raced
// against its deadline, its stall limit, the exit grace after its last line and a
// Cancellation. However it ends, no process of the run is left: when we end it the child
// gets SIGTERM, then after a grace SIGKILL along with every descendant; on a normal exit,
// leftovers it started are killed the same way. Starting and driving are two steps, so a
// child can be started before its input exists (the warm CLI, runs/warm_cli.hpp).
#pragma once

#include "agent/cancellation.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace cas::agent {

// A Unix identity a child takes before exec (AGENT_USER): resolved once at start-up
// (getpwnam, getgrouplist), so between fork and exec the child only calls setgroups, setgid
// and setuid, which are safe there (initgroups reads /etc/group, and may lock or allocate).
struct RunAs {
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;  // supplementary groups, as initgroups would set them
    friend bool operator==(const RunAs&, const RunAs&) = default;
};

// How a child is started: everything but what it is then given to do. Two launches that are
// equal start the same program the same way (a warm CLI is used only for an equal launch).
struct ProcessLaunch {
    std::string program;  // a path, or a name looked up on PATH
    std::vector<std::string> args;
    std::string working_dir;
    std::vector<std::string> environment;  // "NAME=value", the child's whole environment
    std::optional<RunAs> run_as;           // none: the service's own user
    friend bool operator==(const ProcessLaunch&, const ProcessLaunch&) = default;
};

// From here on, what this process creates is private to it (umask 077: DATA_DIR, the job
// database, restored session files), while the processes it starts get the umask it was
// started with (the agent's files in the workspace are as the operator expects). Call once,
// at start-up.
void make_created_files_private();

// What one line of a child's stdout means for its run.
enum class LineVerdict { more, last };

// exited: by itself. lingered: printed its last line, then did not exit in time, so was ended.
// stalled: printed nothing for stall_timeout, so was ended.
enum class ProcessEnd { exited, lingered, timed_out, stalled, cancelled, failed_to_start };

struct CapturedStream {
    std::string text;  // the first `output_cap` bytes
    std::size_t total_bytes = 0;
    bool truncated = false;
    // Past the cap: the last whole line (if within the cap), where the CLI puts its result.
    std::string last_line;
};

struct ProcessResult {
    ProcessEnd end = ProcessEnd::failed_to_start;
    int exit_code = -1;   // when the child exited by itself (or after our SIGTERM)
    int term_signal = 0;  // when it was ended by a signal
    CapturedStream out;
    CapturedStream err;
    std::string error;         // why it could not start
    int killed_processes = 0;  // processes of the run we had to kill
};

// What a started child is given and how long it may take.
struct ProcessRun {
    std::string input;                            // written to stdin, which is then closed
    std::size_t output_cap = 8U * 1024U * 1024U;  // per stream; the rest is counted, not kept
    std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
    std::chrono::milliseconds kill_grace{1000};  // between SIGTERM and SIGKILL
    // No stdout at all for this long ends the run `stalled` (zero: no limit).
    std::chrono::milliseconds stall_timeout{0};
    // Each complete stdout line as it arrives (empty: none is judged). After a `last` line
    // the child has `exit_grace` to exit, or it is ended and the run ends `lingered`.
    std::function<LineVerdict(std::string_view line)> judge_line;
    std::chrono::milliseconds exit_grace{2000};
    // Called once, right after the `last` line, with what was read so far (the child has not
    // ended yet, so `end` and the exit status say nothing): a caller that needs only the
    // output may use it before the child exits.
    std::function<void(const ProcessResult& so_far)> on_last_line;
    // Called with each piece of stdout as it arrives (kept or not), for live streaming.
    std::function<void(std::string_view)> on_stdout;
};

// A started child whose stdin is still open and which has been given nothing yet: the warm
// CLI waiting for its run, or a child about to be driven. If it is destroyed undriven, it
// is killed (with its process group) and reaped.
class ChildProcess {
public:
    ChildProcess(ChildProcess&&) noexcept;
    ChildProcess& operator=(ChildProcess&&) noexcept;
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;
    ~ChildProcess();

    [[nodiscard]] pid_t pid() const;
    // Whether it has exited (without reaping it: that stays with the driver or destructor).
    [[nodiscard]] bool exited() const;

    // Before it is driven, a request and its answer: writes `line` to its stdin (which stays
    // open); reads its stdout up to the next newline, at most `max_bytes` long. What follows
    // that newline is kept for drive_process. Nothing when stdout ends or the line is too
    // long. A read cancelled by an outer `||` loses nothing.
    boost::asio::awaitable<bool> write_line(std::string line);
    boost::asio::awaitable<std::optional<std::string>> read_line(std::size_t max_bytes);
    // SIGKILL to it and its process group, now (reaped when it is destroyed or driven).
    void kill();

    struct State;

private:
    friend struct StartedProcess start_process(const boost::asio::any_io_executor& executor,
                                               const struct ProcessLaunch& launch);
    friend boost::asio::awaitable<ProcessResult> drive_process(ChildProcess, ProcessRun,
                                                               Cancellation&);
    explicit ChildProcess(std::unique_ptr<State> state);
    std::unique_ptr<State> state_;
};

// A child, or why it could not be started (not found, not executable, no working directory,
// fork or exec failed).
struct StartedProcess {
    std::optional<ChildProcess> child;
    std::string error;
};

// Starts the child with stdin, stdout and stderr as pipes, in its own process group, tied to
// this process's life (PDEATHSIG), with no descriptor of ours but the three.
StartedProcess start_process(const boost::asio::any_io_executor& executor,
                             const ProcessLaunch& launch);

// Gives a started child its input and runs it to its end (see the top of this file).
// `cancel` must outlive the call.
boost::asio::awaitable<ProcessResult> drive_process(ChildProcess child, ProcessRun run,
                                                    Cancellation& cancel);

// start_process, then drive_process.
boost::asio::awaitable<ProcessResult> run_process(ProcessLaunch launch, ProcessRun run,
                                                  Cancellation& cancel);

// This process's environment without the named variables (secrets the child must not see),
// plus `extra` entries ("NAME=value", replacing any of the same name).
std::vector<std::string> child_environment(const std::vector<std::string>& drop,
                                           const std::vector<std::string>& extra = {});

}  // namespace cas::agent
