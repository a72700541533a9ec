// REST jobs: POST /execute starts a run and answers at once; GET /jobs/{id} reads it.
#pragma once

#include "agent/execution_slot.hpp"
#include "api/json_body.hpp"
#include "http/router.hpp"
#include "jobs/job_registry.hpp"
#include "jobs/job_store.hpp"

namespace cas::api {

struct JobLimits {
    double max_budget_usd = 100.0;
    std::int64_t max_timeout_seconds = 86400;
};

struct JobsContext {
    agent::ExecutionSlot& slot;
    jobs::JobRegistry& registry;
    jobs::JobStore& store;
    JobLimits limits;
};

void add_jobs_routes(http::Router& router, JobsContext context);

// Validates an /execute body (exposed for unit tests).
std::variant<jobs::NewJob, std::vector<FieldError>> parse_execute_request(
    const boost::json::object& body, const JobLimits& limits);

}  // namespace cas::api
