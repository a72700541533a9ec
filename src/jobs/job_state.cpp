// Anything from the CLI (stderr quoted in a reason, stdout, the result) may be any bytes at
// all: it is made valid UTF-8 here, where it enters the record.
#include "jobs/job_state.hpp"

#include "util/utf8.hpp"

namespace cas::jobs {
namespace {

JobStatus final_status(agent::RunStatus status) {
    using agent::RunStatus;
    switch (status) {
        case RunStatus::completed: return JobStatus::completed;
        case RunStatus::failed: return JobStatus::failed;
        case RunStatus::timeout: return JobStatus::timeout;
        case RunStatus::cancelled: return JobStatus::cancelled;
        case RunStatus::error: return JobStatus::error;
        case RunStatus::interrupted: return JobStatus::interrupted;
    }
    return JobStatus::error;
}

}  // namespace

bool same_request(const Job& earlier, const NewJob& request) {
    // Null and a missing metadata are the same request; an empty object is not.
    return earlier.prompt == request.prompt && earlier.agent == request.agent &&
           earlier.metadata == request.metadata &&
           earlier.max_budget_usd == request.max_budget_usd &&
           earlier.timeout_seconds == request.timeout_seconds &&
           earlier.resumed_from == request.resumed_from && earlier.fork == request.fork &&
           earlier.model == request.model && earlier.run_options == request.run_options &&
           (earlier.webhook ? std::optional(earlier.webhook->url) : std::nullopt) ==
               request.callback_url;
}

void mark_running(Job& job, const std::string& now) {
    job.status = JobStatus::running;
    if (!job.started_at) job.started_at = now;
}

void mark_cancelled_before_run(Job& job, const std::string& now) {
    job.status = JobStatus::cancelled;
    job.finished_at = now;
    job.error = "cancelled before it ran";
}

void mark_interrupted_by_restart(Job& job, const std::string& now) {
    job.status = JobStatus::interrupted;
    job.finished_at = now;
    job.error = "interrupted: the service stopped during the run";
}

void mark_interrupted_lease_lost(Job& job, const std::string& now) {
    job.status = JobStatus::interrupted;
    job.finished_at = now;
    job.error =
        "interrupted: the replica running it stopped renewing its lease (it died, or lost the "
        "database)";
}

void mark_internal_error(Job& job, const std::string& what, const std::string& now) {
    job.status = JobStatus::error;
    job.error = "internal error: " + to_valid_utf8(what);
    job.finished_at = now;
}

void apply_outcome(Job& job, const agent::AgentOutcome& outcome, const std::string& now) {
    job.status = final_status(outcome.status);
    job.finished_at = now;
    if (outcome.status != agent::RunStatus::completed) {
        job.error = outcome.reason.empty() ? std::string(agent::to_string(outcome.status))
                                           : to_valid_utf8(outcome.reason);
    }
    job.git_sync = std::string(agent::to_string(outcome.git.status));
    if (!outcome.git.detail.empty()) job.git_sync_detail = outcome.git.detail;
    if (outcome.workspace) job.workspace = agent::to_json(*outcome.workspace);

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
        job.structured_output = cli.structured_output;
    }
}

bool webhook_due(const Job& job) {
    return is_finished(job.status) && job.webhook && job.webhook->status == WebhookStatus::pending;
}

bool retry_webhook(Job& job) {
    if (!job.webhook || job.webhook->status != WebhookStatus::failed) return false;
    job.webhook->status = WebhookStatus::pending;
    job.webhook->attempts = 0;
    job.webhook->next_attempt_at.reset();
    return true;
}

}  // namespace cas::jobs
