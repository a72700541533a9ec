// Validation is stricter than the reference app's where its leniency hurt: unknown fields
// are named (a typo like "timeout" silently kept 2700 s there), timeouts and budgets must be
// positive and bounded (0 wedged the reference for good), prompts must be real text.
#include "api/jobs.hpp"

#include "agent/cli_command.hpp"
#include "utf8.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

namespace cas::api {
namespace json = boost::json;
using http::ErrorDialect;

std::variant<jobs::NewJob, std::vector<FieldError>> parse_execute_request(const json::object& body,
                                                                          const JobLimits& limits) {
    FieldReader read(body);
    for (const auto& field : body) {
        static constexpr std::string_view kKnown[] = {"prompt", "agent", "max_budget_usd",
                                                      "timeout_seconds", "metadata"};
        if (std::find(std::begin(kKnown), std::end(kKnown), field.key()) == std::end(kKnown)) {
            read.fail(std::string(field.key()),
                      "unknown field (expected prompt, agent, "
                      "max_budget_usd, timeout_seconds, metadata)",
                      "value_error.extra");
        }
    }
    jobs::NewJob job;
    if (auto prompt = read.text("prompt", true)) {
        if (prompt->empty()) {
            read.fail("prompt", "must not be empty");
        } else if (prompt->find('\0') != std::string::npos) {
            read.fail("prompt", "must not contain NUL characters");
        } else if (!is_valid_utf8(*prompt)) {
            read.fail("prompt", "must be valid UTF-8 (no unpaired surrogates)");
        }
        job.prompt = std::move(*prompt);
    }
    if (auto agent = read.text("agent", true)) {
        if (auto problem = agent::agent_name_problem(*agent)) read.fail("agent", *problem);
        job.agent = std::move(*agent);
    }
    if (auto budget = read.number("max_budget_usd")) {
        if (*budget <= 0 || *budget > limits.max_budget_usd) {
            read.fail("max_budget_usd",
                      fmt::format("must be greater than 0 and at most {}", limits.max_budget_usd));
        }
        job.max_budget_usd = *budget;
    }
    if (auto timeout = read.integer("timeout_seconds")) {
        if (*timeout <= 0 || *timeout > limits.max_timeout_seconds) {
            read.fail("timeout_seconds",
                      fmt::format("must be from 1 to {}", limits.max_timeout_seconds));
        }
        job.timeout_seconds = *timeout;
    }
    if (const auto* metadata = body.if_contains("metadata")) {
        if (!metadata->is_object() && !metadata->is_null()) {
            read.fail("metadata", "must be an object or null", "type_error.dict");
        } else {
            job.metadata = *metadata;
        }
    }
    if (!read.errors().empty()) return read.errors();
    return job;
}

void add_jobs_routes(http::Router& router, JobsContext context) {
    auto execute =
        [context](const http::Request& request) -> boost::asio::awaitable<http::Response> {
        auto body = parse_json_object(request, ErrorDialect::detail);
        if (auto* error = std::get_if<http::Response>(&body)) co_return std::move(*error);
        auto parsed = parse_execute_request(std::get<json::object>(body), context.limits);
        if (auto* errors = std::get_if<std::vector<FieldError>>(&parsed)) {
            co_return validation_failed(*errors);
        }
        auto permit = context.slot.try_acquire();
        if (!permit) co_return http::error_response(ErrorDialect::detail, 409, "Agent is busy");
        auto job =
            context.registry.start(std::get<jobs::NewJob>(std::move(parsed)), std::move(*permit));
        co_return http::json_response(202, json::object{{"job_id", job.id}, {"status", "running"}});
    };
    auto get_job =
        [context](const http::Request& request) -> boost::asio::awaitable<http::Response> {
        auto id = request.param("id").value_or("");
        auto job = jobs::is_job_id(id) ? context.store.find(id) : std::nullopt;
        if (!job) co_return http::error_response(ErrorDialect::detail, 404, "Job not found");
        co_return http::json_response(200, jobs::to_json(*job));
    };
    router.add("POST", "/execute", http::Access::bearer, std::move(execute));
    router.add("GET", "/jobs/{id}", http::Access::bearer, std::move(get_job));
}

}  // namespace cas::api
