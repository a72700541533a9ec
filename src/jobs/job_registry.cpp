// Status changes: queued → running → a finished status, or queued → cancelled. Each one is
// saved, then published to the job's event log. Runs use `stream-json`, so the event log
// carries the CLI's lines as they come.
#include "jobs/job_registry.hpp"

#include "agent/line_splitter.hpp"
#include "jobs/job_state.hpp"
#include "telemetry/log.hpp"
#include "util/wall_clock.hpp"

#include <malloc.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>

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

std::size_t output_bytes(const Job& job) {
    std::size_t bytes = 0;
    for (const auto& line : job.output) bytes += line.size();
    return bytes;
}

}  // namespace

JobRegistry::JobRegistry(asio::any_io_executor executor, JobStore& store, runs::RunService& runs,
                         RegistryOptions options)
    : executor_(std::move(executor)),
      store_(store),
      runs_(runs),
      options_(options),
      queue_changed_(executor_),
      stopping_(executor_) {}

void JobRegistry::recover_and_start() {
    asio::co_spawn(executor_, recover_then_dispatch(),
                   [](const std::exception_ptr& e) { log_failure("job dispatcher failed", e); });
    asio::co_spawn(executor_, sweep(),
                   [](const std::exception_ptr& e) { log_failure("retention sweep failed", e); });
}

asio::awaitable<void> JobRegistry::recover_then_dispatch() {
    auto unfinished = co_await store_.unfinished();
    for (auto& job : unfinished) {
        if (job.status == JobStatus::running) {
            mark_interrupted_by_restart(job, utc_now_iso());
            co_await store_.save(job);
            log::warn("job interrupted by a restart", {{"job_id", job.id}});
        } else {
            auto events = std::make_shared<JobEvents>(executor_);
            events->status(job);
            active_[job.id] = {nullptr, events};
            queue_.push_back(job.id);
            log::info("job queued again after a restart", {{"job_id", job.id}});
        }
    }
    co_await dispatch();
}

void JobRegistry::stop() {
    stopping_.request();
    queue_changed_.notify();
    // Queued jobs stay queued for the next start; their event streams end now so that no
    // client holds the shutdown open. Running jobs close theirs when their run ends.
    for (auto& [id, active] : active_) {
        if (!active.cancel) active.events->close();
    }
}

Job JobRegistry::new_record(NewJob request, JobStatus status) {
    Job job;
    job.id = new_job_id();
    job.status = status;
    job.prompt = std::move(request.prompt);
    job.agent = std::move(request.agent);
    job.metadata = std::move(request.metadata);
    job.max_budget_usd = request.max_budget_usd;
    job.timeout_seconds = request.timeout_seconds;
    job.created_at = utc_now_iso();
    job.idempotency_key = std::move(request.idempotency_key);
    job.resumed_from = std::move(request.resumed_from);
    job.resumed_session = std::move(request.resume_session);
    job.fork = request.fork;
    job.output_cap = runs_.settings().output_cap;
    return job;
}

asio::awaitable<Submission> JobRegistry::submit(NewJob request) {
    if (request.idempotency_key) {
        auto since = unix_seconds() - options_.idempotency_window.count();
        auto earlier = co_await store_.find_by_idempotency_key(*request.idempotency_key, since);
        if (earlier) {
            auto kind = same_request(*earlier, request) ? Submission::Kind::replayed
                                                        : Submission::Kind::key_reused;
            co_return Submission{kind, std::move(earlier), 0};
        }
    }
    // FIFO: while others wait, a new job waits behind them even if the slot is free.
    if (queue_.empty()) {
        if (auto handle = runs_.try_start()) {
            auto job = new_record(std::move(request), JobStatus::running);
            job.started_at = job.created_at;
            co_await begin(job, std::move(*handle));
            co_return Submission{Submission::Kind::started, std::move(job), 0};
        }
    }
    if (options_.queue_depth == 0) co_return Submission{Submission::Kind::busy, std::nullopt, 0};
    if (queue_.size() >= options_.queue_depth)
        co_return Submission{Submission::Kind::queue_full, std::nullopt, 0};
    auto job = new_record(std::move(request), JobStatus::queued);
    co_await store_.save(job);
    auto events = std::make_shared<JobEvents>(executor_);
    events->status(job);
    active_[job.id] = {nullptr, events};
    queue_.push_back(job.id);
    queue_changed_.notify();
    co_return Submission{Submission::Kind::queued, std::move(job), queue_.size()};
}

asio::awaitable<CancelResult> JobRegistry::cancel(std::string id) {
    auto job = co_await store_.find(id);
    if (!job) co_return CancelResult{CancelResult::Kind::not_found, std::nullopt};
    if (is_finished(job->status)) co_return CancelResult{CancelResult::Kind::finished, job};
    auto it = active_.find(id);
    if (job->status == JobStatus::running && it != active_.end() && it->second.cancel) {
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
    // Queued: it never ran, so it ends here (saved first: if that fails, nothing changed).
    mark_cancelled_before_run(*job, utc_now_iso());
    co_await store_.save(*job);
    std::erase(queue_, job->id);
    finish_events(*job);  // a queued job's record is small: a copy
    co_return CancelResult{CancelResult::Kind::cancelled, std::move(job)};
}

std::shared_ptr<JobEvents> JobRegistry::events(std::string_view id) const {
    auto it = active_.find(id);
    return it == active_.end() ? nullptr : it->second.events;
}

asio::awaitable<void> JobRegistry::begin(Job job, runs::RunService::Handle handle) {
    mark_running(job, utc_now_iso());
    co_await store_.save(job);
    auto& active = active_[job.id];
    if (!active.events) active.events = std::make_shared<JobEvents>(executor_);
    active.cancel = handle.cancellation();
    active.events->status(job);
    asio::co_spawn(executor_, run(std::move(job), std::move(handle), active.events),
                   asio::detached);
}

asio::awaitable<void> JobRegistry::run(Job job, runs::RunService::Handle handle,
                                       std::shared_ptr<JobEvents> progress) {
    log::info("job started", {{"job_id", job.id}, {"agent", job.agent}});
    try {
        const auto output_cap = runs_.settings().output_cap;
        agent::LineSplitter lines(output_cap);
        std::size_t published = 0;  // stdout bytes sent as events, capped like the record
        agent::AgentRequest request{
            .prompt = job.prompt,
            .cli = {.agent = job.agent,
                    .model = std::nullopt,
                    .max_budget_usd = job.max_budget_usd,
                    .resume = job.resumed_session,
                    .fork = job.fork},
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
        };
        auto outcome = co_await handle.run(std::move(request), "job", "");
        apply_outcome(job, outcome, utc_now_iso());
    } catch (const std::exception& e) {
        mark_internal_error(job, e.what(), utc_now_iso());
    }
    co_await save_final(job);
    log::info("job finished", {{"job_id", job.id}, {"status", to_string(job.status)}});
    // Recording a large output takes several copies of it at once (lines, JSON, the stored
    // text); glibc keeps what is freed for reuse, so without a trim the peak stays for good.
    const bool large = output_bytes(job) >= 1024 * 1024;
    finish_events(std::move(job));  // the record moves into the event log, not copied
    progress.reset();  // the event log now lives only as long as a client still reading it
    if (large) ::malloc_trim(0);
    // The slot is released as this frame ends (with the handle), after the record is saved.
}

asio::awaitable<void> JobRegistry::save_final(const Job& job) {
    // A full disk must not lose an outcome: the run keeps the slot (nothing new could be
    // recorded either) and retries until the save succeeds. Only a shutdown that cancels
    // runs gives up; the next start then reads the job `interrupted`.
    Timer pause(executor_);
    for (bool first = true;; first = false) {
        try {
            co_await store_.save(job);
            if (!first) log::info("job's final record saved after all", {{"job_id", job.id}});
            co_return;
        } catch (const StoreError& e) {
            if (first) {
                log::error("cannot save the job's final record; retrying",
                           {{"job_id", job.id}, {"error", e.what()}});
            }
        }
        if (runs_.stopping()) {
            log::error("job's final record not saved: shutting down", {{"job_id", job.id}});
            co_return;
        }
        pause.expires_after(options_.save_retry_interval);
        co_await pause.async_wait();
    }
}

asio::awaitable<void> JobRegistry::dispatch() {
    while (!stopping_.requested()) {
        if (queue_.empty()) {
            co_await (queue_changed_.wait() || stopping_.wait());
            continue;
        }
        auto handle = co_await runs_.start(stopping_);
        if (!handle) co_return;
        if (queue_.empty()) continue;  // the waiting jobs were cancelled meanwhile
        auto id = queue_.front();
        queue_.pop_front();
        auto job = co_await store_.find(id);
        if (!job || job->status != JobStatus::queued) continue;
        co_await begin(std::move(*job), std::move(*handle));
    }
}

asio::awaitable<void> JobRegistry::sweep() {
    Timer timer(executor_);
    while (!stopping_.requested()) {
        try {
            auto now = unix_seconds();
            auto deleted =
                co_await store_.prune(now - options_.retention.count(), options_.max_records);
            if (deleted > 0) log::info("old job records deleted", {{"count", deleted}});
            auto sessions_kept = std::max(options_.retention, options_.session_ttl);
            auto forgotten = co_await store_.prune_sessions(now - options_.session_ttl.count(),
                                                            now - sessions_kept.count());
            if (forgotten > 0)
                log::info("old conversations and sessions deleted", {{"count", forgotten}});
        } catch (const std::exception& e) {
            log::error("retention sweep failed", {{"error", e.what()}});
        }
        timer.expires_after(options_.sweep_interval);
        co_await (timer.async_wait() || stopping_.wait());
    }
}

void JobRegistry::finish_events(Job job) {
    auto it = active_.find(job.id);
    if (it == active_.end()) return;
    it->second.events->finish(std::move(job));
    active_.erase(it);
}

}  // namespace cas::jobs
