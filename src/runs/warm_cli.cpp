// A waiting process is first asked the initialize request by its watcher, then watched
// through a pidfd (exit), a timer (maximum age) and `changed_` (taken, replaced or closed):
// the watcher of a generation ends as soon as waiting_ is no longer that generation's, so at
// most one watcher acts on a process. A run never reads the process while its watcher does:
// it takes the process only once the answer is in.
#include "runs/warm_cli.hpp"

#include "sessions/session_keeper.hpp"
#include "telemetry/log.hpp"

#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <algorithm>
#include <string>
#include <sys/syscall.h>
#include <utility>

namespace cas::runs {
namespace asio = boost::asio;
using namespace boost::asio::experimental::awaitable_operators;
using Clock = std::chrono::steady_clock;

struct WarmCli::Waiting {
    Waiting(agent::ChildProcess started_child, agent::ProcessLaunch started_launch,
            agent::WorkspaceFingerprint taken_before, const asio::any_io_executor& executor)
        : child(std::move(started_child)),
          launch(std::move(started_launch)),
          fingerprint(std::move(taken_before)),
          spared(std::in_place, child.pid()),
          stop(executor) {}
    agent::ChildProcess child;  // destroyed last: killed and reaped after the spare ends
    agent::ProcessLaunch launch;
    agent::WorkspaceFingerprint fingerprint;
    Clock::time_point started = Clock::now();
    std::optional<agent::SparedTree> spared;  // until a run takes it
    agent::Cancellation stop;                 // discarded while its watcher awaits the answer
    std::optional<agent::InitializeAnswer> answer;
};

namespace {

// A CLI that has not answered its initialize request by then is taken for dead.
constexpr std::chrono::seconds kAnswerLimit{60};

// What the CLI of `launch` reads when it starts: its working directory, its HOME and the
// session it resumes (another run of that session changes it).
agent::WorkspaceFingerprint fingerprint_for(const agent::ProcessLaunch& launch) {
    std::string home;
    for (const auto& entry : launch.environment) {
        if (entry.starts_with("HOME=")) home = entry.substr(5);
    }
    std::vector<std::string> session;
    auto resume = std::find(launch.args.begin(), launch.args.end(), "--resume");
    if (resume != launch.args.end() && std::next(resume) != launch.args.end() && !home.empty()) {
        session.push_back(sessions::session_file(home, launch.working_dir, *std::next(resume)));
    }
    return agent::workspace_fingerprint(launch.working_dir, home, session);
}

}  // namespace

WarmCli::WarmCli(const asio::any_io_executor& executor, WarmCliSettings settings, Metrics& metrics)
    : executor_(executor), settings_(settings), metrics_(metrics), changed_(executor) {}

WarmCli::~WarmCli() = default;

std::optional<WarmCandidate> WarmCli::candidate() const {
    if (!waiting_) return std::nullopt;
    return WarmCandidate{.launch = &waiting_->launch,
                         .fingerprint = &waiting_->fingerprint,
                         .started = waiting_->started,
                         .exited = waiting_->child.exited()};
}

std::optional<pid_t> WarmCli::waiting_pid() const {
    if (!waiting_) return std::nullopt;
    return waiting_->child.pid();
}

asio::awaitable<agent::CliProcess> WarmCli::start(const agent::ProcessLaunch& launch,
                                                  agent::Cancellation& cancel) {
    if (settings_.enabled && !closed_) {
        auto workspace = waiting_ ? fingerprint_for(launch) : agent::WorkspaceFingerprint{};
        auto decision =
            decide_take(candidate(), launch, workspace, Clock::now(), settings_.max_age);
        if (decision.discard) discard(*decision.discard);
        if (decision.use) {
            // Still starting: its answer comes sooner than a new process's would.
            auto waiting = waiting_;
            while (waiting_ == waiting && !waiting->answer && !cancel.requested()) {
                co_await (changed_.wait() || cancel.wait());
            }
            if (waiting_ == waiting && waiting->answer) {
                metrics_.record_warm_hit();
                deaths_in_a_row_ = 0;
                waiting_.reset();
                ++generation_;
                changed_.notify();
                waiting->spared.reset();  // the run's from here
                co_return agent::CliProcess{.child = std::move(waiting->child),
                                            .error = {},
                                            .started_ahead = true,
                                            .initialized = std::move(waiting->answer)};
            }
            decision.miss = WarmMiss::none;  // it died while starting, or the run was cancelled
        }
        metrics_.record_warm_miss(to_string(decision.miss.value_or(WarmMiss::none)));
    }
    auto started = agent::start_process(executor_, launch);
    co_return agent::CliProcess{.child = std::move(started.child),
                                .error = std::move(started.error),
                                .started_ahead = false,
                                .initialized = std::nullopt};
}

void WarmCli::prepare(const agent::ProcessLaunch& launch) {
    if (!settings_.enabled || closed_) return;
    if (keep_after_run(candidate(), launch)) return;
    if (waiting_) discard(WarmDiscard::replaced);
    spawn(launch);
}

void WarmCli::close() {
    closed_ = true;
    if (waiting_) {
        discard(WarmDiscard::shutdown);
    } else {
        ++generation_;  // a watcher waiting to replace a dead process must not
        changed_.notify();
    }
}

void WarmCli::discard(WarmDiscard reason) {
    metrics_.record_warm_discard(to_string(reason));
    auto gone = std::exchange(waiting_, nullptr);
    gone->child.kill();
    gone->stop.request();
    ++generation_;
    changed_.notify();
    // Reaped as `gone` goes: here, or when its watcher (reading its answer) lets it go.
}

void WarmCli::spawn(const agent::ProcessLaunch& launch) {
    // Before the start: a change between the two is seen as a change at the next run.
    auto fingerprint = fingerprint_for(launch);
    auto started = agent::start_process(executor_, launch);
    if (!started.child) {
        // The run that needs it starts one itself, and reports the same error.
        log::warn("cannot start the CLI ahead", {{"error", started.error}});
        return;
    }
    waiting_ = std::make_shared<Waiting>(std::move(*started.child), launch, std::move(fingerprint),
                                         executor_);
    ++generation_;
    changed_.notify();
    asio::co_spawn(executor_, watch(waiting_, generation_), asio::detached);
}

asio::awaitable<void> WarmCli::watch(std::shared_ptr<Waiting> waiting, std::uint64_t generation) {
    // Asked now, so the run that takes it finds the answer (and its agents) ready.
    auto initialized =
        co_await agent::initialize_cli(waiting->child, Clock::now() + kAnswerLimit, waiting->stop);
    if (generation != generation_) co_return;  // discarded, replaced or closed meanwhile
    if (initialized.end == agent::InitializeEnd::answered) {
        waiting->answer = std::move(initialized.answer);
        changed_.notify();  // a run may be waiting for it

        std::optional<asio::posix::stream_descriptor> pidfd;
        if (int fd = static_cast<int>(::syscall(SYS_pidfd_open, waiting->child.pid(), 0));
            fd >= 0) {
            pidfd.emplace(executor_, fd);
        }
        Timer expiry(executor_, waiting->started + settings_.max_age);
        Timer poll(executor_);
        auto exit_or_poll = [&]() -> asio::awaitable<void> {
            if (pidfd) {
                co_await pidfd->async_wait(asio::posix::descriptor_base::wait_read, kUseNothrow);
            } else {
                poll.expires_after(std::chrono::milliseconds(100));
                co_await poll.async_wait();
            }
        };
        for (;;) {
            auto woke = co_await (exit_or_poll() || expiry.async_wait() || changed_.wait());
            if (generation != generation_) co_return;  // taken, replaced, discarded or closed
            if (woke.index() == 1) {
                auto launch = waiting->launch;
                discard(WarmDiscard::expired);
                spawn(launch);
                co_return;
            }
            if (woke.index() == 0 && waiting->child.exited()) break;
        }
    }
    // Died while waiting (or never answered): replaced, later each time it happens again (a
    // CLI that cannot start must not be restarted in a loop).
    auto launch = waiting->launch;
    discard(WarmDiscard::died);
    ++deaths_in_a_row_;
    auto delay = std::min<Clock::duration>(
        settings_.max_age, std::chrono::seconds(1) * (1 << std::min(deaths_in_a_row_ - 1, 16)));
    Timer backoff(executor_, delay);
    const auto after_discard = generation_;
    co_await (backoff.async_wait() || changed_.wait());
    if (after_discard == generation_ && !closed_) spawn(launch);
}

}  // namespace cas::runs
