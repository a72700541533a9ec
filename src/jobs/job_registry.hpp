// The jobs of this replica: admits new ones through the store's queue (shared by every
// replica of a PostgreSQL store, this process's alone with SQLite), claims queued ones
// when the slot is free, runs them through the run service while renewing their lease,
// cancels them (here, or by asking the replica that runs them), keeps the live event logs
// of the ones running here, and sweeps: leases that ran out (their replica died) and old
// records. Status changes are the pure functions of job_state.hpp; the store saves them
// before they are reported.
#pragma once

#include "agent/cancellation.hpp"
#include "jobs/job_events.hpp"
#include "jobs/job_state.hpp"
#include "jobs/job_store.hpp"
#include "jobs/record_cache.hpp"
#include "runs/run_service.hpp"
#include "util/async.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace cas::jobs {

struct RegistryOptions {
    // This replica's name in the store: the owner of the jobs it runs.
    std::string replica_id = "local";
    // Jobs that may wait, cluster-wide; 0: a job is refused unless some replica is idle.
    std::size_t queue_depth = 0;
    std::chrono::seconds retention{30LL * 24 * 3600};
    std::size_t max_records = 100000;
    std::chrono::seconds sweep_interval{3600};
    std::chrono::seconds idempotency_window{24LL * 3600};
    // Chat conversations are kept this long; session copies this long or `retention`,
    // whichever is longer (a job can be resumed as long as its record is kept).
    std::chrono::seconds session_ttl{7LL * 24 * 3600};
    std::chrono::milliseconds save_retry_interval{1000};  // a final record that failed to save
    // A running job's lease: renewed every third of it; a job whose lease ran out is
    // interrupted by whichever replica sweeps next (every half of it).
    std::chrono::seconds lease{30};
    // How often a replica of a shared store looks for queued jobs without being told
    // (a NOTIFY lost across a reconnect), and polls a job it does not run.
    std::chrono::milliseconds poll_interval{1000};
    // Finished records kept as the text GET /jobs/{id} answers with (record_cache.hpp).
    std::size_t record_cache_bytes = 8U * 1024U * 1024U;
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

    // Marks the jobs this replica left `running` (a restart) `interrupted`; before it serves.
    boost::asio::awaitable<void> recover();
    // Starts the dispatcher, the heartbeat and lease sweep, the listener for other replicas'
    // notices and the retention sweep.
    void start();
    // Ends them (shutdown); queued jobs stay queued in the store.
    void stop();

    boost::asio::awaitable<Submission> submit(NewJob request);
    // A queued job ends `cancelled` at once; a running one is stopped, and the answer waits
    // for its final record however long the kill sequence and the final save take (it may
    // have finished otherwise meanwhile: the record says how it ended). A job running on
    // another replica is stopped by its owner, told through the store.
    boost::asio::awaitable<CancelResult> cancel(std::string id);
    // A job's record as JSON text (null: no such job); a finished one from the cache.
    boost::asio::awaitable<RecordCache::Text> record_text(std::string id);
    // The live event log of a job running here (null otherwise).
    [[nodiscard]] std::shared_ptr<JobEvents> events(std::string_view id) const;
    // Waits until a job started or ended here, or `interval` passed, or the registry stopped.
    boost::asio::awaitable<void> wait_for_change(std::chrono::milliseconds interval);
    [[nodiscard]] bool stopping() const { return stopping_.requested(); }
    // The cluster as the last heartbeat saw it (gauges).
    [[nodiscard]] std::size_t queued() const { return cluster_.queued; }
    [[nodiscard]] std::size_t live_replicas() const { return cluster_.live_replicas; }
    [[nodiscard]] const RegistryOptions& options() const { return options_; }

private:
    struct Active {
        std::shared_ptr<agent::Cancellation> cancel;
        std::shared_ptr<JobEvents> events;
    };
    // What a run and its lease keeper share.
    struct RunState;

    Job new_record(NewJob request);
    void begin(Job job, runs::RunService::Handle handle, Ownership owner);
    // `progress` is the job's event log, named apart from events() (see README, GCC 12 bugs).
    boost::asio::awaitable<void> run(Job job, runs::RunService::Handle handle,
                                     std::shared_ptr<JobEvents> progress, Ownership owner);
    boost::asio::awaitable<void> execute(Job& job, runs::RunService::Handle& handle,
                                         std::shared_ptr<JobEvents> progress,
                                         std::shared_ptr<RunState> state);
    boost::asio::awaitable<void> keep_lease(std::string id, Ownership owner,
                                            std::shared_ptr<RunState> state);
    // With a shared store: copies the event log into it as it grows, for readers on other
    // replicas; `flush_events` sends the rest once the log has ended.
    boost::asio::awaitable<void> publish_events(std::string id, std::shared_ptr<JobEvents> log,
                                                std::shared_ptr<RunState> state);
    boost::asio::awaitable<void> flush_events(const std::string& id, const JobEvents& log,
                                              RunState& state);
    boost::asio::awaitable<void> drop_events_later(std::string id);
    // Saves the final record while this replica owns the job; false when it lost the lease.
    boost::asio::awaitable<bool> save_final(const Job& job, const Ownership& owner);
    boost::asio::awaitable<Job> wait_until_finished(std::string id, Job job);
    boost::asio::awaitable<void> dispatch();
    boost::asio::awaitable<void> heartbeat();
    boost::asio::awaitable<void> listen();
    boost::asio::awaitable<void> sweep();
    // Ends the job's event log with its final record and forgets it.
    void finish_events(Job job);

    boost::asio::any_io_executor executor_;
    JobStore& store_;
    runs::RunService& runs_;
    RegistryOptions options_;
    std::map<std::string, Active, std::less<>> active_;
    ClusterState cluster_;
    RecordCache finished_records_;
    Event queue_changed_;  // a job was queued, or the slot may be free for one
    Event jobs_changed_;   // a job started or ended here
    Event beat_now_;       // this replica became busy or idle: tell the cluster now
    agent::Cancellation stopping_;
};

}  // namespace cas::jobs
