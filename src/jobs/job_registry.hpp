// Owns the jobs that are not finished: starts each through the run service, queues them
// (opt-in, FIFO) when the slot is taken, cancels them, keeps their live event logs,
// recovers them after a restart, and prunes old records. Status changes are the pure
// functions of job_state.hpp; this is where they are saved (before they are reported).
#pragma once

#include "agent/cancellation.hpp"
#include "jobs/job_events.hpp"
#include "jobs/job_state.hpp"
#include "jobs/job_store.hpp"
#include "runs/run_service.hpp"
#include "util/async.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace cas::jobs {

struct RegistryOptions {
    std::size_t queue_depth = 0;  // 0: a job is refused while the slot is taken
    std::chrono::seconds retention{30LL * 24 * 3600};
    std::size_t max_records = 100000;
    std::chrono::seconds sweep_interval{3600};
    std::chrono::seconds idempotency_window{24LL * 3600};
    // Chat conversations are kept this long; session copies this long or `retention`,
    // whichever is longer (a job can be resumed as long as its record is kept).
    std::chrono::seconds session_ttl{7LL * 24 * 3600};
    std::chrono::milliseconds save_retry_interval{1000};  // a final record that failed to save
};

struct Submission {
    // key_reused: the idempotency key names an earlier job with other parameters.
    enum class Kind { started, queued, replayed, key_reused, busy, queue_full };
    Kind kind;
    std::optional<Job> job;    // for started, queued, replayed, key_reused (the earlier job)
    std::size_t position = 0;  // 1-based place in the queue, for queued
};

struct CancelResult {
    enum class Kind { cancelled, finished, not_found };
    Kind kind;
    std::optional<Job> job;  // cancelled: the final record; finished: the record as it was
};

class JobRegistry {
public:
    JobRegistry(boost::asio::any_io_executor executor, JobStore& store, runs::RunService& runs,
                RegistryOptions options);

    // Marks jobs left `running` by a previous process `interrupted`, queues the queued ones
    // again in their order, and starts the dispatcher and the retention sweep.
    void recover_and_start();
    // Ends the dispatcher and the sweep (shutdown); queued jobs stay queued in the store.
    void stop();

    boost::asio::awaitable<Submission> submit(NewJob request);
    // A queued job ends `cancelled` at once; a running one is stopped, and the answer waits
    // for its final record however long the kill sequence and the final save take (it may
    // have finished otherwise meanwhile: the record says how it ended).
    boost::asio::awaitable<CancelResult> cancel(std::string id);
    // The live event log of a queued or running job (null once it has finished).
    [[nodiscard]] std::shared_ptr<JobEvents> events(std::string_view id) const;
    [[nodiscard]] std::size_t queued() const { return queue_.size(); }

private:
    struct Active {
        std::shared_ptr<agent::Cancellation> cancel;  // null while queued
        std::shared_ptr<JobEvents> events;
    };

    Job new_record(NewJob request, JobStatus status);
    boost::asio::awaitable<void> begin(Job job, runs::RunService::Handle handle);
    // `progress` is the job's event log, named apart from events() (see README, GCC 12 bugs).
    boost::asio::awaitable<void> run(Job job, runs::RunService::Handle handle,
                                     std::shared_ptr<JobEvents> progress);
    boost::asio::awaitable<void> save_final(const Job& job);
    boost::asio::awaitable<void> recover_then_dispatch();
    boost::asio::awaitable<void> dispatch();
    boost::asio::awaitable<void> sweep();
    // Ends the job's event log with its final record and forgets it.
    void finish_events(Job job);

    boost::asio::any_io_executor executor_;
    JobStore& store_;
    runs::RunService& runs_;
    RegistryOptions options_;
    std::deque<std::string> queue_;
    std::map<std::string, Active, std::less<>> active_;
    Event queue_changed_;
    agent::Cancellation stopping_;
};

}  // namespace cas::jobs
