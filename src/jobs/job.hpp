// The job record: what GET /jobs/{id} returns, in the reference app's field names plus
// what the CLI's result gives and how the run ended.
#pragma once

#include "agent/run_options.hpp"

#include <boost/describe/enum.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cas::jobs {

enum class JobStatus { queued, running, completed, failed, timeout, cancelled, error, interrupted };
BOOST_DESCRIBE_ENUM(JobStatus, queued, running, completed, failed, timeout, cancelled, error,
                    interrupted)

std::string_view to_string(JobStatus status);
std::optional<JobStatus> parse_status(std::string_view text);
inline bool is_finished(JobStatus s) {
    return s != JobStatus::queued && s != JobStatus::running;
}

// A job's completion webhook (webhooks/): where it goes and how its delivery stands. The
// record shows it; the store's outbox column says when the next attempt is due.
enum class WebhookStatus { pending, delivered, failed };
BOOST_DESCRIBE_ENUM(WebhookStatus, pending, delivered, failed)
std::string_view to_string(WebhookStatus status);

struct WebhookState {
    std::string url;
    std::string id;  // msg_…: the webhook-id header of every attempt, retries included
    WebhookStatus status = WebhookStatus::pending;
    int attempts = 0;
    std::optional<int> last_status;  // the receiver's HTTP status, if it answered
    std::optional<std::string> last_error;
    std::optional<std::string> delivered_at;
    std::optional<std::string> next_attempt_at;  // while pending after a failed attempt
    friend bool operator==(const WebhookState&, const WebhookState&) = default;
};

struct Job {
    std::string id;
    JobStatus status = JobStatus::running;
    std::string prompt;
    std::string agent;
    std::optional<std::string> model;  // the CLI's default when not set
    agent::RunOptions run_options;
    boost::json::value metadata;  // an object or null
    double max_budget_usd = 5.0;
    std::int64_t timeout_seconds = 2700;
    std::string created_at;                 // ISO 8601, UTC
    std::optional<std::string> started_at;  // null while queued
    std::optional<std::string> finished_at;
    std::optional<std::string> idempotency_key;
    // What the job continued: `resume` as given (a job id or a session id), the CLI session
    // that names, and whether it forked it into a new session.
    std::optional<std::string> resumed_from;
    std::optional<std::string> resumed_session;
    bool fork = false;
    std::size_t output_cap = 0;  // bytes kept per stream (stdout, stderr); more is dropped

    std::optional<int> exit_code;
    std::vector<std::string> output;  // stdout lines, each with its newline, as the reference
    std::string stderr_text;
    bool output_truncated = false;
    bool stderr_truncated = false;
    std::optional<std::string> error;  // why it did not complete

    // From the CLI's result object, when there was one.
    std::optional<std::string> result;
    std::optional<bool> is_error;
    std::optional<std::string> subtype;
    std::optional<double> total_cost_usd;
    boost::json::value usage;
    std::optional<std::string> session_id;
    std::optional<std::int64_t> duration_ms;
    // The object the agent answered with, for a run given a json_schema; null otherwise.
    boost::json::value structured_output;

    std::string git_sync = "skipped";
    std::optional<std::string> git_sync_detail;
    // What the run did to the workspace (agent/workspace_changes.hpp: to_json); null until
    // the run ends, and for a run that ended before it got past its git sync.
    boost::json::value workspace;
    // Called when the job ends (POST /execute's callback_url); none if not asked for.
    std::optional<WebhookState> webhook;
};

boost::json::value to_json(const Job& job);
// The record without the large output fields (output, stderr, result; prompt cut short),
// for listings.
boost::json::value to_summary_json(const Job& job);
// The inverse of to_json; throws std::invalid_argument on a record it cannot read.
Job job_from_json(const boost::json::value& value);

// A fresh id: 12 lowercase hex characters from the kernel's random source.
std::string new_job_id();
bool is_job_id(std::string_view text);

// Now, as the reference app writes times: 2026-01-02T03:04:05.678901+00:00.
std::string utc_now_iso();

// The bytes of stdout the record keeps (its lines together).
std::size_t output_bytes(const Job& job);

// Splits stdout into lines, each keeping its '\n' (the last may lack one).
std::vector<std::string> split_lines(std::string_view text);

}  // namespace cas::jobs
