// One run at a time: the slot is the only admission; the handle is the only way to hold it,
// and its destructor the only release, so idle() has one place to hear about it.
#include "runs/run_service.hpp"

#include "agent/process_tree.hpp"

#include <boost/asio/post.hpp>

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

boost::asio::awaitable<agent::AgentOutcome> RunService::Handle::run(agent::AgentRequest request,
                                                                    std::string_view kind,
                                                                    std::string model) {
    auto& service = *service_;
    auto launch = agent::cli_launch(service.settings_, request.cli);
    auto outcome = co_await agent::run_agent(
        service.settings_, std::move(request), *cancel_,
        [&service](const agent::ProcessLaunch& wanted, agent::Cancellation& cancel) {
            return service.warm_.start(wanted, cancel);
        });
    if (outcome.status == agent::RunStatus::cancelled && service.stopping_) {
        outcome.status = agent::RunStatus::interrupted;
        outcome.reason = "interrupted by service shutdown";
    }
    service.metrics_.record_run(agent::run_report(outcome, kind, model));
    // The next run is most likely like this one. Posted: the caller answers first.
    if (!service.stopping_) {
        boost::asio::post(service.executor_, [&service, next = std::move(launch)] {
            if (!service.stopping_) service.warm_.prepare(next);
        });
    }
    co_return outcome;
}

RunService::RunService(const boost::asio::any_io_executor& executor, agent::AgentSettings settings,
                       WarmCliSettings warm, Metrics& metrics)
    : executor_(executor),
      settings_(std::move(settings)),
      metrics_(metrics),
      slot_(executor),
      warm_(executor, warm, metrics),
      released_(executor) {}

std::optional<RunService::Handle> RunService::try_start() {
    auto permit = slot_.try_acquire();
    if (!permit) return std::nullopt;
    return Handle(*this, std::move(*permit));
}

boost::asio::awaitable<std::optional<RunService::Handle>> RunService::start(
    agent::Cancellation& stop) {
    auto permit = co_await slot_.acquire(stop);
    if (!permit) co_return std::nullopt;
    co_return Handle(*this, std::move(*permit));
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
    for (bool notified = true; notified && busy();) notified = co_await released_.wait();
}

}  // namespace cas::runs
