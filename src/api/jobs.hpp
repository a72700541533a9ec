// REST jobs: POST /execute starts (or queues) a run and answers at once; GET /jobs lists,
// GET /jobs/{id} reads, DELETE /jobs/{id} (or POST .../cancel) cancels, and
// GET /jobs/{id}/events streams a job's progress as Server-Sent Events, and
// POST /jobs/{id}/webhook/retry sends a failed completion webhook again.
#pragma once

#include "api/json_body.hpp"
#include "api/run_options_request.hpp"
#include "http/router.hpp"
#include "jobs/job_registry.hpp"
#include "jobs/job_store.hpp"
#include "webhooks/callback_url.hpp"
#include "webhooks/webhook_sender.hpp"

#include <chrono>

namespace cas::api {

struct JobLimits {
    double max_budget_usd = 100.0;
    std::chrono::seconds max_timeout{86400};
    RunPolicy run_policy;
    std::vector<webhooks::HostRule> callback_hosts;  // WEBHOOK_ALLOWED_HOSTS; none: off
};

struct JobsContext {
    jobs::JobRegistry& registry;
    jobs::JobStore& store;
    webhooks::WebhookSender& webhooks;
    JobLimits limits;
    std::chrono::milliseconds keep_alive{15000};  // SSE comment on a quiet event stream
};

void add_jobs_routes(http::Router& router, JobsContext context);

// Validates an /execute body (exposed for unit tests).
std::variant<jobs::NewJob, std::vector<FieldError>> parse_execute_request(
    const boost::json::object& body, const JobLimits& limits);

}  // namespace cas::api
