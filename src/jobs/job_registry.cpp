// Status changes: queued → running → a finished status, or queued → cancelled. Each one is
// saved, then published to the job's event log. Runs use `stream-json`, so the event log
// carries the CLI's lines as they come.
#include "jobs/job_registry.hpp"

#include "agent/line_splitter.hpp"
#include "log.hpp"
#include "utf8.hpp"
#include "wall_clock.hpp"

#include <malloc.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

namespace cas::jobs {
namespace asio = boost::asio;
namespace json = boost::json;
using namespace boost::asio::experimental::awaitable_operators;

namespace {

constexpr auto kNothrow = asio::as_tuple(asio::use_awaitable);

void log_failure(const char* what, const std::exception_ptr& e) {
    if (!e) return;
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        log::error(what, {{"error", ex.what()}});
    }
}

void release_large_output(Job& job) {
    // Recording a large output takes several copies of it at once (lines, JSON, the stored
    // text); glibc keeps what is freed for reuse, so without this the peak stays for good.
    std::size_t bytes = 0;
    for (const auto& line : job.output) bytes += line.size();
    if (bytes < 1024 * 1024) return;
    job.output = {};
    ::malloc_trim(0);
}

}  // namespace

JobRegistry::JobRegistry(asio::any_io_executor executor, JobStore& store,
                         const agent::AgentSettings& settings, agent::InFlightRuns& runs,
                         agent::ExecutionSlot& slot, Metrics& metrics, RegistryOptions options)
    : executor_(std::move(executor)),
      store_(store),
      settings_(settings),
      runs_(runs),
      slot_(slot),
      metrics_(metrics),
      options_(options),
      queue_changed_(executor_, asio::steady_timer::time_point::max()),
      stopping_(executor_) {}

void JobRegistry::recover_and_start() {
    for (auto& job : store_.unfinished()) {
        if (job.status == JobStatus::running) {
            job.status = JobStatus::interrupted;
            job.finished_at = utc_now_iso();
            job.error = "interrupted: the service stopped during the run";
            store_.save(job);
            log::warn("job interrupted by a restart", {{"job_id", job.id}});
        } else {
            auto events = std::make_shared<JobEvents>(executor_);
            publish_status(job, *events);
            active_[job.id] = {nullptr, events};
            queue_.push_back(job.id);
            log::info("job queued again after a restart", {{"job_id", job.id}});
        }
    }
    asio::co_spawn(executor_, dispatch(),
                   [](const std::exception_ptr& e) { log_failure("job dispatcher failed", e); });
    asio::co_spawn(executor_, sweep(),
                   [](const std::exception_ptr& e) { log_failure("retention sweep failed", e); });
}

void JobRegistry::stop() {
    stopping_.request();
    queue_changed_.cancel();
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
    job.output_cap = settings_.output_cap;
    return job;
}

Submission JobRegistry::submit(NewJob request) {
    if (request.idempotency_key) {
        auto since = unix_seconds() - options_.idempotency_window.count();
        if (auto earlier = store_.find_by_idempotency_key(*request.idempotency_key, since)) {
            return {Submission::Kind::replayed, std::move(earlier), 0};
        }
    }
    // FIFO: while others wait, a new job waits behind them even if the slot is free.
    if (queue_.empty()) {
        if (auto permit = slot_.try_acquire()) {
            auto job = new_record(std::move(request), JobStatus::running);
            job.started_at = job.created_at;
            begin(job, std::move(*permit));
            return {Submission::Kind::started, std::move(job), 0};
        }
    }
    if (options_.queue_depth == 0) return {Submission::Kind::busy, std::nullopt, 0};
    if (queue_.size() >= options_.queue_depth)
        return {Submission::Kind::queue_full, std::nullopt, 0};
    auto job = new_record(std::move(request), JobStatus::queued);
    store_.save(job);
    auto events = std::make_shared<JobEvents>(executor_);
    publish_status(job, *events);
    active_[job.id] = {nullptr, events};
    queue_.push_back(job.id);
    queue_changed_.cancel();
    return {Submission::Kind::queued, std::move(job), queue_.size()};
}

CancelResult JobRegistry::cancel(std::string_view id) {
    auto job = store_.find(id);
    if (!job) return {CancelResult::Kind::not_found, std::nullopt};
    if (is_finished(job->status)) return {CancelResult::Kind::finished, std::move(job)};
    auto it = active_.find(id);
    if (job->status == JobStatus::running) {
        if (it != active_.end() && it->second.cancel) it->second.cancel->request();
        return {CancelResult::Kind::cancelling, std::move(job)};
    }
    // Queued: it never ran, so it ends here (saved first: if that fails, nothing changed).
    job->status = JobStatus::cancelled;
    job->finished_at = utc_now_iso();
    job->error = "cancelled before it ran";
    store_.save(*job);
    std::erase(queue_, job->id);
    close_events(*job);
    return {CancelResult::Kind::cancelled, std::move(job)};
}

std::shared_ptr<JobEvents> JobRegistry::events(std::string_view id) const {
    auto it = active_.find(id);
    return it == active_.end() ? nullptr : it->second.events;
}

void JobRegistry::begin(Job job, agent::ExecutionSlot::Permit permit) {
    job.status = JobStatus::running;
    if (!job.started_at) job.started_at = utc_now_iso();
    store_.save(job);
    auto cancel = std::make_shared<agent::Cancellation>(executor_);
    auto& active = active_[job.id];
    if (!active.events) active.events = std::make_shared<JobEvents>(executor_);
    active.cancel = cancel;
    publish_status(job, *active.events);
    asio::co_spawn(executor_, run(std::move(job), std::move(permit), cancel, active.events),
                   asio::detached);
}

asio::awaitable<void> JobRegistry::run(Job job, agent::ExecutionSlot::Permit permit,
                                       std::shared_ptr<agent::Cancellation> cancel,
                                       std::shared_ptr<JobEvents> events) {
    agent::InFlightRuns::Entry in_flight(runs_, cancel);
    log::info("job started", {{"job_id", job.id}, {"agent", job.agent}});
    try {
        agent::LineSplitter lines(settings_.output_cap);
        std::size_t published = 0;  // stdout bytes sent as events, capped like the record
        agent::AgentRequest request{
            .prompt = job.prompt,
            .cli = {.agent = job.agent,
                    .model = std::nullopt,
                    .max_budget_usd = job.max_budget_usd,
                    .format = agent::OutputFormat::stream_json},
            .timeout = std::chrono::seconds(job.timeout_seconds),
            .on_stdout =
                [&](std::string_view piece) {
                    lines.feed(piece, [&](std::string_view line) {
                        if (published + line.size() > settings_.output_cap) return;
                        published += line.size() + 1;
                        events->push(sse_event("output", json::serialize(json::object{
                                                             {"line", to_valid_utf8(line)}})));
                    });
                },
        };
        auto outcome = co_await agent::run_agent(settings_, std::move(request), *cancel);
        finish(job, outcome);
    } catch (const std::exception& e) {
        // The unexpected still ends the record, never leaves it `running`.
        job.status = JobStatus::error;
        job.error = std::string("internal error: ") + e.what();
        job.finished_at = utc_now_iso();
    }
    co_await save_final(job);
    close_events(job);
    events.reset();  // the event log now lives only as long as a client still reading it
    log::info("job finished", {{"job_id", job.id}, {"status", to_string(job.status)}});
    release_large_output(job);
    // The permit is released as this frame ends, after the record is saved.
    (void)permit;
}

asio::awaitable<void> JobRegistry::save_final(const Job& job) {
    // A full disk must not lose an outcome: the run keeps the slot (nothing new could be
    // recorded either) and retries until the save succeeds. Only a shutdown that cancels
    // runs gives up; the next start then reads the job `interrupted`.
    asio::steady_timer pause(executor_);
    for (bool first = true;; first = false) {
        try {
            store_.save(job);
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
        co_await pause.async_wait(kNothrow);
    }
}

asio::awaitable<void> JobRegistry::dispatch() {
    while (!stopping_.requested()) {
        if (queue_.empty()) {
            co_await (queue_changed_.async_wait(kNothrow) || stopping_.wait());
            continue;
        }
        auto permit = co_await slot_.acquire(stopping_);
        if (!permit) co_return;
        if (queue_.empty()) continue;  // the waiting jobs were cancelled meanwhile
        auto id = queue_.front();
        queue_.pop_front();
        auto job = store_.find(id);
        if (!job || job->status != JobStatus::queued) continue;
        begin(std::move(*job), std::move(*permit));
    }
}

asio::awaitable<void> JobRegistry::sweep() {
    asio::steady_timer timer(executor_);
    while (!stopping_.requested()) {
        try {
            auto deleted =
                store_.prune(unix_seconds() - options_.retention.count(), options_.max_records);
            if (deleted > 0) log::info("old job records deleted", {{"count", deleted}});
        } catch (const std::exception& e) {
            log::error("retention sweep failed", {{"error", e.what()}});
        }
        timer.expires_after(options_.sweep_interval);
        co_await (timer.async_wait(kNothrow) || stopping_.wait());
    }
}

void JobRegistry::publish_status(const Job& job, JobEvents& events) {
    events.push(sse_event("status", json::serialize(json::object{
                                        {"job_id", job.id}, {"status", to_string(job.status)}})));
}

void JobRegistry::close_events(const Job& job) {
    auto it = active_.find(job.id);
    if (it == active_.end()) return;
    it->second.events->push(sse_event("job", json::serialize(to_json(job))));
    it->second.events->close();
    active_.erase(it);
}

void JobRegistry::finish(Job& job, const agent::AgentOutcome& outcome) {
    using agent::RunStatus;
    switch (outcome.status) {
        case RunStatus::completed: job.status = JobStatus::completed; break;
        case RunStatus::failed: job.status = JobStatus::failed; break;
        case RunStatus::timeout: job.status = JobStatus::timeout; break;
        case RunStatus::error: job.status = JobStatus::error; break;
        case RunStatus::cancelled:
            job.status = runs_.stopping() ? JobStatus::interrupted : JobStatus::cancelled;
            break;
    }
    job.finished_at = utc_now_iso();
    metrics_.record_run(agent::run_report(outcome, "job", to_string(job.status), ""));
    if (outcome.status != RunStatus::completed) {
        // The reason may quote the CLI's stderr: any bytes at all.
        job.error = job.status == JobStatus::interrupted ? "interrupted by service shutdown"
                                                         : to_valid_utf8(outcome.reason);
    }
    job.git_sync = std::string(agent::to_string(outcome.git.status));
    if (!outcome.git.detail.empty()) job.git_sync_detail = outcome.git.detail;

    const auto& process = outcome.process;
    if (process.end != agent::ProcessEnd::failed_to_start) {
        if (process.exit_code >= 0) {
            job.exit_code = process.exit_code;
        } else if (process.term_signal > 0) {
            job.exit_code = -process.term_signal;
        }
        job.output = split_lines(to_valid_utf8(process.out.text));
        job.stderr_text = to_valid_utf8(process.err.text);
        job.output_truncated = process.out.truncated;
        job.stderr_truncated = process.err.truncated;
    }
    const auto& cli = outcome.cli;
    if (cli.found) {
        if (cli.result) job.result = to_valid_utf8(*cli.result);
        job.is_error = cli.is_error;
        job.subtype = cli.subtype;
        job.total_cost_usd = cli.total_cost_usd;
        job.usage = cli.usage;
        job.session_id = cli.session_id;
        job.duration_ms = cli.duration_ms;
    }
}

}  // namespace cas::jobs
