// Every change of a job's status, as pure functions of the record (and the time, which the
// caller passes): queued → running → a final status, queued → cancelled, and running →
// interrupted when a restart finds a run that did not end. The registry does the I/O around
// them (saving, events, the run itself); tests and the CLI-output fuzzer call them directly.
#pragma once

#include "agent/agent_run.hpp"
#include "jobs/job.hpp"

#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace cas::jobs {

// What POST /execute asks for.
struct NewJob {
    std::string prompt;
    std::string agent;
    std::optional<std::string> model;
    agent::RunOptions run_options;
    boost::json::value metadata;
    double max_budget_usd = 5.0;
    std::int64_t timeout_seconds = 2700;
    std::optional<std::string> idempotency_key;
    // `resume` as the caller gave it (a job id or a session id) and the session it names.
    std::optional<std::string> resumed_from;
    std::optional<std::string> resume_session;
    bool fork = false;
    std::optional<std::string> callback_url;  // checked against the operator's allowed hosts
};

// Whether `request` asks for what `earlier` was made from (an idempotent retry), rather than
// reusing its idempotency key for something else.
bool same_request(const Job& earlier, const NewJob& request);

// A queued job takes the slot (or a new one starts at once).
void mark_running(Job& job, const std::string& now);
// A queued job cancelled before it ran.
void mark_cancelled_before_run(Job& job, const std::string& now);
// A job found `running` at start-up: the process that ran it is gone.
void mark_interrupted_by_restart(Job& job, const std::string& now);
// A job found `running` with its lease run out: the replica that ran it died, or lost the
// database for longer than the lease.
void mark_interrupted_lease_lost(Job& job, const std::string& now);
// The run ended: its status, error, exit code, output and what the CLI's result said.
void apply_outcome(Job& job, const agent::AgentOutcome& outcome, const std::string& now);
// The unexpected (an exception) still ends the record, never leaves it `running`.
void mark_internal_error(Job& job, const std::string& what, const std::string& now);

// Whether a record, written as it is, puts its webhook in the outbox: the job has ended and
// the webhook is still to be delivered.
bool webhook_due(const Job& job);
// POST /jobs/{id}/webhook/retry: a failed delivery is pending again with a fresh budget of
// attempts, and the same id (a receiver that did get it can tell). False if it had not failed.
bool retry_webhook(Job& job);

}  // namespace cas::jobs
