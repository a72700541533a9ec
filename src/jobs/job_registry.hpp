// Owns the jobs that are not finished: starts each as a coroutine holding the execution
// slot, queues them (opt-in, FIFO) when the slot is taken, cancels them, keeps their live
// event logs, recovers them after a restart, and prunes old records. It is the one place a
// job's status changes, and every change is saved before it is reported.
#pragma once

#include "agent/agent_run.hpp"
#include "agent/execution_slot.hpp"
#include "agent/in_flight.hpp"
#include "jobs/job_events.hpp"
#include "jobs/job_store.hpp"
#include "service_metrics.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace cas::jobs {

struct NewJob {
    std::string prompt;
    std::string agent;
    boost::json::value metadata;
    double max_budget_usd = 5.0;
    std::int64_t timeout_seconds = 2700;
    std::optional<std::string> idempotency_key;
};

struct RegistryOptions {
    std::size_t queue_depth = 0;  // 0: a job is refused while the slot is taken
    std::chrono::seconds retention{30LL * 24 * 3600};
    std::size_t max_records = 100000;
    std::chrono::seconds sweep_interval{3600};
    std::chrono::seconds idempotency_window{24LL * 3600};
    std::chrono::milliseconds save_retry_interval{1000};  // a final record that failed to save
};

struct Submission {
    enum class Kind { started, queued, replayed, busy, queue_full };
    Kind kind;
    std::optional<Job> job;    // for started, queued, replayed
    std::size_t position = 0;  // 1-based place in the queue, for queued
};

struct CancelResult {
    enum class Kind { cancelled, cancelling, finished, not_found };
    Kind kind;
    std::optional<Job> job;
};

class JobRegistry {
public:
    JobRegistry(boost::asio::any_io_executor executor, JobStore& store,
                const agent::AgentSettings& settings, agent::InFlightRuns& runs,
                agent::ExecutionSlot& slot, Metrics& metrics, RegistryOptions options);

    // Marks jobs left `running` by a previous process `interrupted`, queues the queued ones
    // again in their order, and starts the dispatcher and the retention sweep.
    void recover_and_start();
    // Ends the dispatcher and the sweep (shutdown); queued jobs stay queued in the store.
    void stop();

    Submission submit(NewJob request);
    CancelResult cancel(std::string_view id);
    // The live event log of a queued or running job (null once it has finished).
    [[nodiscard]] std::shared_ptr<JobEvents> events(std::string_view id) const;
    [[nodiscard]] std::size_t queued() const { return queue_.size(); }

private:
    struct Active {
        std::shared_ptr<agent::Cancellation> cancel;  // null while queued
        std::shared_ptr<JobEvents> events;
    };

    Job new_record(NewJob request, JobStatus status);
    void begin(Job job, agent::ExecutionSlot::Permit permit);
    boost::asio::awaitable<void> run(Job job, agent::ExecutionSlot::Permit permit,
                                     std::shared_ptr<agent::Cancellation> cancel,
                                     std::shared_ptr<JobEvents> events);
    boost::asio::awaitable<void> save_final(const Job& job);
    boost::asio::awaitable<void> dispatch();
    boost::asio::awaitable<void> sweep();
    void finish(Job& job, const agent::AgentOutcome& outcome);
    void publish_status(const Job& job, JobEvents& events);
    void close_events(const Job& job);

    boost::asio::any_io_executor executor_;
    JobStore& store_;
    const agent::AgentSettings& settings_;
    agent::InFlightRuns& runs_;  // a shutdown cancels them all; such jobs end `interrupted`
    agent::ExecutionSlot& slot_;
    Metrics& metrics_;
    RegistryOptions options_;
    std::deque<std::string> queue_;
    std::map<std::string, Active, std::less<>> active_;
    boost::asio::steady_timer queue_changed_;
    agent::Cancellation stopping_;
};

}  // namespace cas::jobs
