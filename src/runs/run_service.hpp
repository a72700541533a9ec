// The one path of an agent run, whoever asks for it (a job, a chat completion): the
// service owns the execution slot, the current run's cancellation, the warm CLI, the run
// metrics, the session files kept beyond a run and the drain at shutdown. A caller asks to start
// (try_start → a Handle, or nothing when busy; or waits for the slot), awaits the handle's run with
// its request, and lets the handle go when it no longer needs the slot. Nothing here knows about
// HTTP.
//
// A caller that needs only the answer (a completion) gets it at the CLI's result line and may
// let the slot go then; the run finishes in the background (the CLI exits, or is ended after
// the exit grace, and is swept), and the next run starts nothing before it has: so there is
// never more than one run's processes, and an answer does not wait for the CLI's exit.
#pragma once

#include "agent/agent_run.hpp"
#include "agent/cancellation.hpp"
#include "runs/execution_slot.hpp"
#include "runs/warm_cli.hpp"
#include "sessions/session_keeper.hpp"
#include "telemetry/metrics.hpp"
#include "util/async.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace cas::runs {

class RunService {
public:
    // The right to one run: holds the slot from try_start/start until it is destroyed, so a
    // caller may keep it past the run (a job holds it until its final record is saved).
    class Handle {
    public:
        Handle(Handle&& other) noexcept;
        Handle& operator=(Handle&&) = delete;
        Handle(const Handle&) = delete;
        Handle& operator=(const Handle&) = delete;
        ~Handle();  // NOLINT(bugprone-exception-escape): see run_service.cpp

        // Runs the agent (once per handle) and records it in the metrics under `kind`
        // ("job", "completion") and `model` ("" for the agent's own). A run cancelled by a
        // shutdown (cancel_current) ends `interrupted`, not `cancelled`. `answer`: when the
        // caller is given the outcome (see the top of this file).
        enum class Answer { at_end, at_result };
        boost::asio::awaitable<agent::AgentOutcome> run(agent::AgentRequest request,
                                                        std::string kind, std::string model,
                                                        Answer answer = Answer::at_end);
        // Asks this handle's run to stop (before or during it); the run ends `cancelled`.
        void cancel() { cancel_->request(); }
        // The same request, for whoever must cancel this run without holding the handle.
        [[nodiscard]] std::shared_ptr<agent::Cancellation> cancellation() const { return cancel_; }

    private:
        friend class RunService;
        Handle(RunService& service, ExecutionSlot::Permit permit);

        RunService* service_;
        std::optional<ExecutionSlot::Permit> permit_;
        std::shared_ptr<agent::Cancellation> cancel_;
    };

    // `sessions`: where the CLI's session files are kept beyond a run (none: not kept).
    RunService(const boost::asio::any_io_executor& executor, agent::AgentSettings settings,
               WarmCliSettings warm, Metrics& metrics, sessions::SessionKeeper* sessions = nullptr);
    RunService(const RunService&) = delete;
    RunService& operator=(const RunService&) = delete;

    // A handle if the slot is free and no one waits with start_first, without waiting.
    std::optional<Handle> try_start();
    // Waits for the slot behind start_first's waiters (the job queue: one waiter); nothing
    // if `stop` is requested first.
    boost::asio::awaitable<std::optional<Handle>> start(agent::Cancellation& stop);
    // Waits up to `limit` for the slot, in arrival order and ahead of start() (a chat
    // completion: its client is waiting); nothing if the slot is not free by then (with a
    // zero limit: at once, as try_start).
    boost::asio::awaitable<std::optional<Handle>> start_first(std::chrono::milliseconds limit);
    // Shutdown: the current run (if any) is cancelled and will be reported `interrupted`.
    void cancel_current();
    // Completes once no handle holds the slot and no run is finishing (at once if so).
    boost::asio::awaitable<void> idle();
    // Starts a CLI ahead for `invocation` (at start-up; after each run the service does it
    // for that run's arguments).
    void warm_up(const agent::CliInvocation& invocation);
    // Shutdown, once idle: the warm CLI is ended, then every process left of any run.
    boost::asio::awaitable<void> close();

    [[nodiscard]] bool busy() const { return slot_.busy(); }
    // True once cancel_current() was called for a shutdown: nothing must wait any more.
    [[nodiscard]] bool stopping() const { return stopping_; }
    [[nodiscard]] const agent::AgentSettings& settings() const { return settings_; }
    [[nodiscard]] const WarmCli& warm_cli() const { return warm_; }

private:
    // Runs the agent for a handle to its end: the metrics, the warm CLI for the next run.
    boost::asio::awaitable<agent::AgentOutcome> run_to_end(agent::AgentRequest request,
                                                           std::string kind, std::string model,
                                                           agent::Cancellation& cancel);
    struct EarlyAnswer;
    // A run answered at its result, to its end, in the background.
    static boost::asio::awaitable<void> finish(RunService& service,
                                               std::shared_ptr<EarlyAnswer> answer,
                                               std::shared_ptr<agent::Cancellation> cancel,
                                               agent::AgentRequest request, std::string kind,
                                               std::string model);
    // The slot, if it is free.
    std::optional<Handle> take();
    // Until the run answered at its result before has ended.
    boost::asio::awaitable<void> finishing_ended();

    boost::asio::any_io_executor executor_;
    agent::AgentSettings settings_;
    Metrics& metrics_;
    sessions::SessionKeeper* sessions_;
    ExecutionSlot slot_;
    WarmCli warm_;
    std::weak_ptr<agent::Cancellation> current_;  // the holder's, while a handle lives
    Event released_;                              // the slot was let go, or a run finished
    bool finishing_ = false;
    int first_waiting_ = 0;  // start_first callers waiting
    bool stopping_ = false;
};

}  // namespace cas::runs
