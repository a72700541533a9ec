// Status changes: queued → running → a finished status, or queued → cancelled, or running
// → interrupted (a replica died, or this one restarted). The store's queue decides: a new
// job starts here at once only when this replica's slot is free and nothing is queued
// anywhere; else it queues (within QUEUE_DEPTH, cluster-wide) for the first replica with a
// free slot to claim it. Runs use `stream-json`, so the event log carries the CLI's lines as
// they come.
#include "jobs/job_registry.hpp"

#include "agent/line_splitter.hpp"
#include "jobs/job_state.hpp"
#include "jobs/store_outage.hpp"
#include "telemetry/log.hpp"
#include "util/json_text.hpp"
#include "util/random_id.hpp"
#include "util/utf8.hpp"
#include "util/wall_clock.hpp"

#include <malloc.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <fmt/format.h>

namespace cas::jobs {
namespace asio = boost::asio;
using namespace boost::asio::experimental::awaitable_operators;

namespace {

void log_failure(const char* what, const std::exception_ptr& e) {
    if (!e) return;
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        log::error(what, {{"error", ex.what()}});
    }
}

}  // namespace

struct JobRegistry::RunState {
    RunState(const asio::any_io_executor& executor, std::shared_ptr<agent::Cancellation> cancel_)
        : cancel(std::move(cancel_)), ended_event(executor) {}
    std::shared_ptr<agent::Cancellation> cancel;
    bool ended = false;
    Event ended_event;
    bool lease_lost = false;
    std::size_t published = 0;  // events of the log copied into a shared store
};

JobRegistry::JobRegistry(asio::any_io_executor executor, JobStore& store, runs::RunService& runs,
                         RegistryOptions options)
    : executor_(std::move(executor)),
      store_(store),
      runs_(runs),
      options_(std::move(options)),
      finished_records_(options_.record_cache_bytes),
      queue_changed_(executor_),
      jobs_changed_(executor_),
      beat_now_(executor_),
      stopping_(executor_) {}

asio::awaitable<void> JobRegistry::recover() {
    try {
        auto left = co_await store_.interrupt_leftovers(options_.replica_id);
        for (const auto& job : left) {
            log::warn("job interrupted by a restart", {{"job_id", job.id}});
        }
    } catch (const StoreError& e) {
        log::error("cannot look for jobs left running by a restart", {{"error", e.what()}});
    }
}

void JobRegistry::start() {
    auto spawn = [this](asio::awaitable<void> task, const char* what) {
        asio::co_spawn(executor_, std::move(task),
                       [what](const std::exception_ptr& e) { log_failure(what, e); });
    };
    spawn(dispatch(), "job dispatcher failed");
    spawn(heartbeat(), "replica heartbeat failed");
    spawn(listen(), "listening for other replicas failed");
    spawn(sweep(), "retention sweep failed");
}

void JobRegistry::stop() {
    stopping_.request();
    queue_changed_.notify();
    jobs_changed_.notify();
}

Job JobRegistry::new_record(NewJob request) {
    Job job;
    job.id = new_job_id();
    job.status = JobStatus::queued;
    job.prompt = std::move(request.prompt);
    job.agent = std::move(request.agent);
    job.model = std::move(request.model);
    job.run_options = std::move(request.run_options);
    job.metadata = std::move(request.metadata);
    job.max_budget_usd = request.max_budget_usd;
    job.timeout_seconds = request.timeout_seconds;
    job.created_at = utc_now_iso();
    job.idempotency_key = std::move(request.idempotency_key);
    job.resumed_from = std::move(request.resumed_from);
    job.resumed_session = std::move(request.resume_session);
    job.fork = request.fork;
    job.output_cap = runs_.settings().output_cap;
    if (request.callback_url) {
        job.webhook = WebhookState{.url = std::move(*request.callback_url),
                                   .id = fmt::format("msg_{}", random_hex(24)),
                                   .status = WebhookStatus::pending,
                                   .attempts = 0,
                                   .last_status = std::nullopt,
                                   .last_error = std::nullopt,
                                   .delivered_at = std::nullopt,
                                   .next_attempt_at = std::nullopt};
    }
    return job;
}

asio::awaitable<Submission> JobRegistry::submit(NewJob request) {
    auto handle = runs_.try_start();
    InsertRules rules{
        .owner = {options_.replica_id, 0},
        .start_here = handle.has_value(),
        .queue_depth = options_.queue_depth,
        .key_since_unix = unix_seconds() - options_.idempotency_window.count(),
        .lease_seconds = options_.lease.count(),
    };
    auto job = new_record(request);
    auto inserted = co_await store_.insert(job, rules);
    switch (inserted.kind) {
        case Inserted::Kind::key_taken: {
            auto kind = same_request(inserted.job, request) ? Submission::Kind::replayed
                                                            : Submission::Kind::key_reused;
            co_return Submission{kind, std::move(inserted.job), 0};
        }
        case Inserted::Kind::started:
            begin(inserted.job, std::move(*handle), {options_.replica_id, 1});
            co_return Submission{Submission::Kind::started, std::move(inserted.job), 0};
        case Inserted::Kind::queued:
            cluster_.queued = inserted.position;
            queue_changed_.notify();
            co_return Submission{Submission::Kind::queued, std::move(inserted.job),
                                 inserted.position};
        case Inserted::Kind::full: break;
    }
    auto refused =
        options_.queue_depth == 0 ? Submission::Kind::busy : Submission::Kind::queue_full;
    co_return Submission{refused, std::nullopt, 0};
}

asio::awaitable<CancelResult> JobRegistry::cancel(std::string id) {
    if (auto it = active_.find(id); it != active_.end()) {
        // This coroutine's own reference: the run drops its own when it ends.
        std::shared_ptr<JobEvents> progress = it->second.events;
        it->second.cancel->request();
        co_await progress->wait_closed();
        if (const auto& final_record = progress->final_record()) {
            co_return CancelResult{CancelResult::Kind::cancelled, final_record};
        }
        auto saved = co_await store_.find(id);
        co_return CancelResult{CancelResult::Kind::cancelled, std::move(saved)};
    }
    auto request = co_await store_.request_cancel(id);
    switch (request.kind) {
        case CancelRequest::Kind::not_found:
            co_return CancelResult{CancelResult::Kind::not_found, std::nullopt};
        case CancelRequest::Kind::finished:
            co_return CancelResult{CancelResult::Kind::finished, std::move(request.job)};
        case CancelRequest::Kind::cancelled:
            if (cluster_.queued > 0) --cluster_.queued;
            jobs_changed_.notify();
            co_return CancelResult{CancelResult::Kind::cancelled, std::move(request.job)};
        case CancelRequest::Kind::requested: break;
    }
    // Running on another replica (or it just started here): its owner stops it and saves
    // the final record, which the answer waits for.
    auto final_record = co_await wait_until_finished(id, std::move(*request.job));
    co_return CancelResult{CancelResult::Kind::cancelled, std::move(final_record)};
}

asio::awaitable<Job> JobRegistry::wait_until_finished(std::string id, Job job) {
    while (!is_finished(job.status) && !stopping_.requested()) {
        if (auto it = active_.find(id); it != active_.end()) {
            std::shared_ptr<JobEvents> progress = it->second.events;
            it->second.cancel->request();
            co_await progress->wait_closed();
        } else {
            co_await wait_for_change(options_.poll_interval / 4);
        }
        auto now = co_await store_.find(id);
        if (!now) break;
        job = std::move(*now);
    }
    co_return job;
}

asio::awaitable<RecordCache::Text> JobRegistry::record_text(std::string id) {
    auto text = finished_records_.find(id);
    if (text) co_return text;
    auto generation = finished_records_.generation();
    auto job = co_await store_.find(id);
    if (!job) co_return text;
    // As json_response writes a body: records are valid UTF-8 already, but this is the body.
    text = std::make_shared<const std::string>(ensure_valid_utf8(json_text(to_json(*job))));
    if (record_is_settled(*job)) finished_records_.put_if_current(id, text, generation);
    co_return text;
}

std::shared_ptr<JobEvents> JobRegistry::events(std::string_view id) const {
    auto it = active_.find(id);
    return it == active_.end() ? nullptr : it->second.events;
}

asio::awaitable<void> JobRegistry::wait_for_change(std::chrono::milliseconds interval) {
    if (stopping_.requested()) co_return;
    Timer tick(executor_, interval);
    co_await (jobs_changed_.wait() || tick.async_wait() || stopping_.wait());
}

void JobRegistry::begin(Job job, runs::RunService::Handle handle, Ownership owner) {
    auto& active = active_[job.id];
    active.events = std::make_shared<JobEvents>(executor_);
    active.cancel = handle.cancellation();
    active.events->status(job);
    jobs_changed_.notify();
    beat_now_.notify();  // the cluster learns at once that this replica is busy
    asio::co_spawn(executor_,
                   run(std::move(job), std::move(handle), active.events, std::move(owner)),
                   asio::detached);
}

asio::awaitable<void> JobRegistry::run(Job job, runs::RunService::Handle handle,
                                       std::shared_ptr<JobEvents> progress, Ownership owner) {
    log::info("job started", {{"job_id", job.id}, {"agent", job.agent}});
    auto state = std::make_shared<RunState>(executor_, handle.cancellation());
    if (store_.shared()) {
        co_await (execute(job, handle, progress, state) && keep_lease(job.id, owner, state) &&
                  publish_events(job.id, progress, state));
    } else {
        co_await (execute(job, handle, progress, state) && keep_lease(job.id, owner, state));
    }
    bool saved = false;
    if (!state->lease_lost) saved = co_await save_final(job, owner);
    if (!saved) {
        // Another replica marked it interrupted when the lease ran out: that is the record.
        log::error("job's lease was lost: its record is the sweeper's", {{"job_id", job.id}});
        try {
            auto stored = co_await store_.find(job.id);
            if (stored) job = std::move(*stored);
        } catch (const StoreError& e) {
            log::error("cannot read the job's record", {{"job_id", job.id}, {"error", e.what()}});
        }
    }
    log::info("job finished", {{"job_id", job.id}, {"status", to_string(job.status)}});
    // Recording a large output takes several copies of it at once (lines, JSON, the stored
    // text); glibc keeps what is freed for reuse, so without a trim the peak stays for good.
    const bool large = output_bytes(job) >= 1024 * 1024;
    auto id = job.id;
    finish_events(std::move(job));  // the record moves into the event log, not copied
    {
        // The slot goes once the record is saved (and before the last events are shared):
        // a client that reads the final record finds the slot free.
        runs::RunService::Handle released(std::move(handle));
    }
    jobs_changed_.notify();
    queue_changed_.notify();  // the slot is free for a queued job
    beat_now_.notify();
    if (store_.shared()) {
        co_await flush_events(id, *progress, *state);
        asio::co_spawn(executor_, drop_events_later(id), asio::detached);
    }
    progress.reset();  // the event log now lives only as long as a client still reading it
    if (large) ::malloc_trim(0);
}

asio::awaitable<void> JobRegistry::execute(Job& job, runs::RunService::Handle& handle,
                                           std::shared_ptr<JobEvents> progress,
                                           std::shared_ptr<RunState> state) {
    try {
        const auto output_cap = runs_.settings().output_cap;
        agent::LineSplitter lines(output_cap);
        std::size_t published = 0;  // stdout bytes sent as events, capped like the record
        agent::AgentRequest request{
            .prompt = job.prompt,
            .cli = {.agent = job.agent,
                    .model = job.model,
                    .max_budget_usd = job.max_budget_usd,
                    .resume = job.resumed_session,
                    .fork = job.fork,
                    .max_output_tokens = std::nullopt,
                    .options = job.run_options},
            .timeout = std::chrono::seconds(job.timeout_seconds),
            .on_stdout =
                [&](std::string_view piece) {
                    lines.feed(piece, [&](std::string_view line) {
                        if (published + line.size() > output_cap) return;
                        published += line.size() + 1;
                        progress->output(line);
                    });
                },
            .on_answer = {},
            .record_workspace = true,  // the record shows what the run did to the workspace
        };
        auto outcome = co_await handle.run(std::move(request), "job", "");
        apply_outcome(job, outcome, utc_now_iso());
    } catch (const std::exception& e) {
        mark_internal_error(job, e.what(), utc_now_iso());
    }
    state->ended = true;
    state->ended_event.notify();
}

asio::awaitable<void> JobRegistry::keep_lease(std::string id, Ownership owner,
                                              std::shared_ptr<RunState> state) {
    Timer tick(executor_);
    while (!state->ended) {
        tick.expires_after(options_.lease / 3);
        co_await (tick.async_wait() || state->ended_event.wait());
        if (state->ended) co_return;
        try {
            auto lease = co_await store_.renew(id, owner, options_.lease.count());
            if (!lease.owned) {
                log::error("job's lease was lost (interrupted by another replica): stopping it",
                           {{"job_id", id}});
                state->lease_lost = true;
                state->cancel->request();
                co_return;
            }
            if (lease.cancel_requested) state->cancel->request();
        } catch (const StoreError& e) {
            log::warn("cannot renew the job's lease; retrying",
                      {{"job_id", id}, {"error", e.what()}});
        }
    }
}

asio::awaitable<void> JobRegistry::flush_events(const std::string& id, const JobEvents& log,
                                                RunState& state) {
    const auto& events = log.events();
    if (state.published >= events.size()) co_return;
    std::vector<std::string> batch(events.begin() + static_cast<std::ptrdiff_t>(state.published),
                                   events.end());
    try {
        co_await store_.append_events(id, state.published, batch);
        state.published += batch.size();
    } catch (const StoreError& e) {
        // Readers elsewhere miss these; the record has them (output) once it is saved.
        log::warn("cannot share the job's events", {{"job_id", id}, {"error", e.what()}});
    }
}

asio::awaitable<void> JobRegistry::publish_events(std::string id, std::shared_ptr<JobEvents> log,
                                                  std::shared_ptr<RunState> state) {
    Timer pace(executor_);
    while (!state->ended) {
        co_await (log->wait(state->published) || state->ended_event.wait());
        // A short pause gathers a burst of lines into one statement.
        pace.expires_after(std::chrono::milliseconds(50));
        co_await (pace.async_wait() || state->ended_event.wait());
        co_await flush_events(id, *log, *state);
    }
}

// Readers that joined before the end have had a minute to read the last events; later
// ones replay the record. (A replica that dies first leaves them to the retention sweep.)
asio::awaitable<void> JobRegistry::drop_events_later(std::string id) {
    Timer later(executor_, std::chrono::minutes(1));
    co_await (later.async_wait() || stopping_.wait());
    try {
        co_await store_.drop_events(id);
    } catch (const StoreError& e) {
        log::warn("cannot drop the job's shared events", {{"job_id", id}, {"error", e.what()}});
    }
}

asio::awaitable<bool> JobRegistry::save_final(const Job& job, const Ownership& owner) {
    // A full disk or a database that is down must not lose an outcome: the run keeps the
    // slot (nothing new could be recorded either) and retries until the save succeeds. Only
    // a shutdown that cancels runs gives up; the record then reads `interrupted`, by a
    // restart or by another replica's lease sweep.
    Timer pause(executor_);
    for (bool first = true;; first = false) {
        try {
            bool owned = co_await store_.save_owned(job, owner);
            if (!first) log::info("job's final record saved after all", {{"job_id", job.id}});
            co_return owned;
        } catch (const StoreError& e) {
            if (first) {
                log::error("cannot save the job's final record; retrying",
                           {{"job_id", job.id}, {"error", e.what()}});
            }
        }
        if (runs_.stopping()) {
            log::error("job's final record not saved: shutting down", {{"job_id", job.id}});
            co_return true;
        }
        pause.expires_after(options_.save_retry_interval);
        co_await pause.async_wait();
    }
}

asio::awaitable<void> JobRegistry::dispatch() {
    // Whether a queued job may be waiting: at start, and after every wake-up until a claim
    // finds none.
    bool maybe_queued = true;
    Timer poll(executor_);
    StoreOutage outage("cannot claim a queued job");
    while (!stopping_.requested()) {
        if (!maybe_queued) {
            if (store_.shared()) {
                poll.expires_after(options_.poll_interval);
                co_await (queue_changed_.wait() || poll.async_wait() || stopping_.wait());
            } else {
                co_await (queue_changed_.wait() || stopping_.wait());
            }
            maybe_queued = true;
            continue;
        }
        // Looked for before the slot is taken: a claim on a database takes a round trip,
        // and a new job that finds the slot held meanwhile would queue, or be refused.
        JobFilter any_queued;
        any_queued.status = JobStatus::queued;
        any_queued.limit = 1;
        std::optional<std::pair<Job, Ownership>> claimed;
        try {
            auto waiting = co_await store_.list(any_queued);
            outage.ok();
            if (waiting.jobs.empty()) {
                maybe_queued = false;
                continue;
            }
        } catch (const StoreError& e) {
            outage.failed(e);
            maybe_queued = false;
            continue;
        }
        auto handle = co_await runs_.start(stopping_);
        if (!handle) co_return;
        try {
            claimed = co_await store_.claim(options_.replica_id, options_.lease.count());
            outage.ok();
        } catch (const StoreError& e) {
            outage.failed(e);
        }
        if (!claimed) {
            maybe_queued = false;
            continue;  // the handle goes: the slot is free again
        }
        if (cluster_.queued > 0) --cluster_.queued;
        begin(std::move(claimed->first), std::move(*handle), std::move(claimed->second));
    }
}

void JobRegistry::finish_events(Job job) {
    auto it = active_.find(job.id);
    if (it == active_.end()) return;
    it->second.events->finish(std::move(job));
    active_.erase(it);
}

}  // namespace cas::jobs
