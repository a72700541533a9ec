// One run at a time: the slot is the only admission; the handle is the only way to hold it,
// and its destructor the only release, so idle() has one place to hear about it.
#include "runs/run_service.hpp"

#include "agent/process_tree.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/describe/enum_to_string.hpp>

#include <utility>

namespace cas::runs {

RunService::Handle::Handle(RunService& service, ExecutionSlot::Permit permit)
    : service_(&service),
      permit_(std::move(permit)),
      cancel_(std::make_shared<agent::Cancellation>(service.executor_)) {
    service.current_ = cancel_;
}

RunService::Handle::Handle(Handle&& other) noexcept
    : service_(std::exchange(other.service_, nullptr)),
      permit_(std::move(other.permit_)),
      cancel_(std::move(other.cancel_)) {}

// notify() cancels a timer, which throws only when the reactor itself fails: then terminate is
// the right end.
RunService::Handle::~Handle() {       // NOLINT(bugprone-exception-escape)
    if (service_ == nullptr) return;  // moved from
    permit_.reset();
    service_->released_.notify();
}

// The answer a run gives before its end, or at its end if none came before.
struct RunService::EarlyAnswer {
    explicit EarlyAnswer(const boost::asio::any_io_executor& executor) : given(executor) {}
    void give(agent::AgentOutcome answer) {
        if (outcome) return;
        outcome = std::move(answer);
        given.notify();
    }
    std::optional<agent::AgentOutcome> outcome;
    Event given;
    bool taken = false;  // the caller has it: nothing more goes to its callbacks
};

boost::asio::awaitable<agent::AgentOutcome> RunService::Handle::run(agent::AgentRequest request,
                                                                    std::string kind,
                                                                    std::string model,
                                                                    Answer answer) {
    auto& service = *service_;
    co_await service.finishing_ended();
    if (answer == Answer::at_end) {
        auto outcome = co_await service.run_to_end(std::move(request), std::move(kind),
                                                   std::move(model), *cancel_);
        co_return outcome;
    }
    auto early = std::make_shared<EarlyAnswer>(service.executor_);
    request.on_answer = [early](const agent::AgentOutcome& outcome) { early->give(outcome); };
    if (request.on_stdout) {
        request.on_stdout = [early,
                             to_caller = std::move(request.on_stdout)](std::string_view piece) {
            if (!early->taken) to_caller(piece);
        };
    }
    service.finishing_ = true;
    boost::asio::co_spawn(
        service.executor_,
        finish(service, early, cancel_, std::move(request), std::move(kind), std::move(model)),
        boost::asio::detached);
    while (!early->outcome) {
        bool given = co_await early->given.wait();
        if (!given) {  // the caller's own wait was cancelled: so is the run
            cancel_->request();
            co_return agent::AgentOutcome{.status = agent::RunStatus::cancelled,
                                          .expects_structured_output = false,
                                          .elapsed = {},
                                          .reason = "cancelled",
                                          .git = {},
                                          .process = {},
                                          .cli = {}};
        }
    }
    early->taken = true;
    co_return std::move(*early->outcome);
}

boost::asio::awaitable<void> RunService::finish(RunService& service,
                                                std::shared_ptr<EarlyAnswer> answer,
                                                std::shared_ptr<agent::Cancellation> cancel,
                                                agent::AgentRequest request, std::string kind,
                                                std::string model) {
    auto outcome =
        co_await service.run_to_end(std::move(request), std::move(kind), std::move(model), *cancel);
    answer->give(std::move(outcome));
    service.finishing_ = false;
    service.released_.notify();
}

boost::asio::awaitable<agent::AgentOutcome> RunService::run_to_end(agent::AgentRequest request,
                                                                   std::string kind,
                                                                   std::string model,
                                                                   agent::Cancellation& cancel) {
    auto launch = agent::cli_launch(settings_, request.cli);
    if (sessions_ != nullptr && request.cli.resume) {
        auto restored = co_await sessions_->restore_if_missing(*request.cli.resume);
        if (restored != sessions::SessionRestore::present) {
            metrics_.record_session_restore(boost::describe::enum_to_string(restored, ""));
        }
    }
    auto outcome = co_await agent::run_agent(
        settings_, std::move(request), cancel,
        [this](const agent::ProcessLaunch& wanted, agent::Cancellation& run_cancel) {
            return warm_.start(wanted, run_cancel);
        });
    if (outcome.status == agent::RunStatus::cancelled && stopping_) {
        outcome.status = agent::RunStatus::interrupted;
        outcome.reason = "interrupted by service shutdown";
    }
    metrics_.record_run(agent::run_report(outcome, kind, model));
    if (sessions_ != nullptr && !outcome.cli.session_id.empty()) {
        auto copied = co_await sessions_->keep(outcome.cli.session_id);
        metrics_.record_session_copy(boost::describe::enum_to_string(copied, ""));
    }
    // The next run is most likely like this one. Posted: the caller answers first.
    if (!stopping_) {
        boost::asio::post(executor_, [this, next = std::move(launch)] {
            if (!stopping_) warm_.prepare(next);
        });
    }
    co_return outcome;
}

boost::asio::awaitable<void> RunService::finishing_ended() {
    for (bool notified = true; notified && finishing_;) notified = co_await released_.wait();
}

RunService::RunService(const boost::asio::any_io_executor& executor, agent::AgentSettings settings,
                       WarmCliSettings warm, Metrics& metrics, sessions::SessionKeeper* sessions)
    : executor_(executor),
      settings_(std::move(settings)),
      metrics_(metrics),
      sessions_(sessions),
      slot_(executor),
      warm_(executor, warm, metrics),
      released_(executor) {}

std::optional<RunService::Handle> RunService::take() {
    auto permit = slot_.try_acquire();
    if (!permit) return std::nullopt;
    return Handle(*this, std::move(*permit));
}

std::optional<RunService::Handle> RunService::try_start() {
    if (first_waiting_ > 0) return std::nullopt;
    return take();
}

// Waiters take turns by the release event: each wakes when a handle goes or a run finishes,
// in the order they began to wait, and tries once.
boost::asio::awaitable<std::optional<RunService::Handle>> RunService::start(
    agent::Cancellation& stop) {
    using namespace boost::asio::experimental::awaitable_operators;
    for (;;) {
        if (auto handle = try_start()) co_return handle;
        if (stop.requested()) co_return std::nullopt;
        auto woke = co_await (released_.wait() || stop.wait());
        if (woke.index() == 1) co_return std::nullopt;
    }
}

boost::asio::awaitable<std::optional<RunService::Handle>> RunService::start_first(
    std::chrono::milliseconds limit) {
    using namespace boost::asio::experimental::awaitable_operators;
    if (auto handle = try_start()) co_return handle;
    if (limit.count() <= 0) co_return std::nullopt;
    ++first_waiting_;
    struct Leave {
        int& waiting;
        ~Leave() { --waiting; }
    } leave{first_waiting_};
    Timer deadline(executor_, limit);
    for (;;) {
        auto woke = co_await (released_.wait() || deadline.async_wait());
        if (stopping_) co_return std::nullopt;  // no new run once a shutdown cancelled one
        if (auto handle = take()) co_return handle;
        if (woke.index() == 1) co_return std::nullopt;
    }
}

void RunService::warm_up(const agent::CliInvocation& invocation) {
    warm_.prepare(agent::cli_launch(settings_, invocation));
}

boost::asio::awaitable<void> RunService::close() {
    stopping_ = true;
    warm_.close();
    co_await agent::kill_descendants(-1);
}

void RunService::cancel_current() {
    stopping_ = true;
    if (auto current = current_.lock()) current->request();
}

boost::asio::awaitable<void> RunService::idle() {
    for (bool notified = true; notified && (busy() || finishing_);) {
        notified = co_await released_.wait();
    }
}

}  // namespace cas::runs
