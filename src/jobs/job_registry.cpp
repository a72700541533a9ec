#include "jobs/job_registry.hpp"

#include "log.hpp"
#include "utf8.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

namespace cas::jobs {

JobRegistry::JobRegistry(boost::asio::any_io_executor executor, JobStore& store,
                         const agent::AgentSettings& settings, agent::InFlightRuns& runs)
    : executor_(std::move(executor)), store_(store), settings_(settings), runs_(runs) {}

Job JobRegistry::start(NewJob request, agent::ExecutionSlot::Permit permit) {
    Job job;
    job.id = new_job_id();
    job.status = JobStatus::running;
    job.prompt = std::move(request.prompt);
    job.agent = std::move(request.agent);
    job.metadata = std::move(request.metadata);
    job.max_budget_usd = request.max_budget_usd;
    job.timeout_seconds = request.timeout_seconds;
    job.started_at = utc_now_iso();
    store_.save(job);

    auto cancel = std::make_shared<agent::Cancellation>(executor_);
    boost::asio::co_spawn(executor_, run(job, std::move(permit), cancel), boost::asio::detached);
    return job;
}

boost::asio::awaitable<void> JobRegistry::run(Job job, agent::ExecutionSlot::Permit permit,
                                              std::shared_ptr<agent::Cancellation> cancel) {
    agent::InFlightRuns::Entry in_flight(runs_, cancel);
    log::info("job started", {{"job_id", job.id}, {"agent", job.agent}});
    try {
        agent::AgentRequest request{
            .prompt = job.prompt,
            .cli = {.agent = job.agent,
                    .model = std::nullopt,
                    .max_budget_usd = job.max_budget_usd},
            .timeout = std::chrono::seconds(job.timeout_seconds),
            .on_stdout = {},
        };
        auto outcome = co_await agent::run_agent(settings_, std::move(request), *cancel);
        finish(job, outcome);
    } catch (const std::exception& e) {
        // The unexpected still ends the record, never leaves it `running`.
        job.status = JobStatus::error;
        job.error = std::string("internal error: ") + e.what();
        job.finished_at = utc_now_iso();
    }
    store_.save(job);
    log::info("job finished", {{"job_id", job.id}, {"status", to_string(job.status)}});
    // The permit is released as this frame ends, after the record is saved.
    (void)permit;
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
    if (outcome.status != RunStatus::completed) {
        job.error = job.status == JobStatus::interrupted ? "interrupted by service shutdown"
                                                         : outcome.reason;
    }
    job.git_sync = std::string(agent::to_string(outcome.git.status));
    if (!outcome.git.detail.empty()) job.git_sync_detail = outcome.git.detail;

    const auto& process = outcome.process;
    if (process.end != agent::ProcessEnd::failed_to_start) {
        if (process.exit_code >= 0)
            job.exit_code = process.exit_code;
        else if (process.term_signal > 0)
            job.exit_code = -process.term_signal;
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
