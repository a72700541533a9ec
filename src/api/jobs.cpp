// Validation is stricter than the reference app's where its leniency hurt: unknown fields
// are named (a typo like "timeout" silently kept 2700 s there), timeouts and budgets must be
// positive and bounded (0 wedged the reference for good), prompts must be real text.
#include "api/jobs.hpp"

#include "agent/cli_command.hpp"
#include "api/store_guard.hpp"
#include "jobs/resume.hpp"
#include "telemetry/log.hpp"
#include "util/async.hpp"
#include "util/json_limits.hpp"
#include "util/utf8.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <limits>
#include <span>

namespace cas::api {
namespace json = boost::json;
using http::ErrorDialect;

namespace {

// What is wrong with a callback_url (the message and its error type), if anything.
std::optional<std::pair<std::string, std::string>> callback_url_problem(
    std::string_view text, const std::vector<webhooks::HostRule>& hosts) {
    if (hosts.empty()) {
        return std::pair{std::string("callbacks are off on this service (the operator has not "
                                     "set WEBHOOK_ALLOWED_HOSTS)"),
                         std::string("value_error.not_allowed")};
    }
    auto url = webhooks::parse_callback_url(text);
    if (auto* problem = std::get_if<std::string>(&url)) {
        return std::pair{std::move(*problem), std::string("value_error.url")};
    }
    const auto& parsed = std::get<webhooks::CallbackUrl>(url);
    if (webhooks::match_host(hosts, parsed) == webhooks::HostMatch::refused) {
        return std::pair{fmt::format("host {} port {} is not in WEBHOOK_ALLOWED_HOSTS", parsed.host,
                                     parsed.port),
                         std::string("value_error.not_allowed")};
    }
    return std::nullopt;
}

}  // namespace

std::variant<jobs::NewJob, std::vector<FieldError>> parse_execute_request(const json::object& body,
                                                                          const JobLimits& limits) {
    FieldReader read(body);
    static constexpr std::string_view kFields[] = {
        "prompt",   "agent",  "max_budget_usd", "timeout_seconds",
        "metadata", "resume", "fork",           "callback_url"};
    for (const auto& field : body) {
        auto known = [&](std::span<const std::string_view> names) {
            return std::find(names.begin(), names.end(), field.key()) != names.end();
        };
        if (!known(kFields) && !known(kRunOptionNames)) {
            read.fail(std::string(field.key()),
                      "unknown field (expected prompt, agent, max_budget_usd, timeout_seconds, "
                      "metadata, resume, fork, callback_url, or a run option: model, "
                      "fallback_model, allowed_tools, disallowed_tools, max_turns, "
                      "append_system_prompt, effort, json_schema)",
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
        if (*timeout <= 0 || *timeout > limits.max_timeout.count()) {
            read.fail("timeout_seconds",
                      fmt::format("must be from 1 to {}", limits.max_timeout.count()));
        }
        job.timeout_seconds = *timeout;
    }
    if (const auto* metadata = body.if_contains("metadata")) {
        if (!metadata->is_object() && !metadata->is_null()) {
            read.fail("metadata", "must be an object or null", "type_error.dict");
        } else if (!all_finite(*metadata)) {
            // Stored with the job: a number that reads as infinity could not be read back.
            read.fail("metadata", "numbers must be finite", "value_error.float");
        } else {
            job.metadata = *metadata;
        }
    }
    if (auto resume = read.text("resume", false)) {
        if (!jobs::is_job_id(*resume) && !agent::is_session_id(*resume)) {
            read.fail("resume",
                      "must be a job id (12 hex characters) or a CLI session id (a lowercase "
                      "UUID)");
        }
        job.resumed_from = std::move(*resume);
    }
    if (auto fork = read.boolean("fork")) {
        if (*fork && !job.resumed_from) read.fail("fork", "needs resume: a session to fork");
        job.fork = *fork;
    }
    if (auto callback = read.text("callback_url", false)) {
        if (auto problem = callback_url_problem(*callback, limits.callback_hosts)) {
            read.fail("callback_url", std::move(problem->first), problem->second);
        }
        job.callback_url = std::move(*callback);
    }
    std::vector<RunOptionProblem> problems;
    auto run = read_run_options(body, limits.run_policy, true, problems);
    for (auto& problem : problems) {
        read.fail(std::move(problem.option), std::move(problem.message),
                  problem.refused_by_policy ? "value_error.not_allowed" : "value_error");
    }
    job.model = std::move(run.model);
    job.run_options = std::move(run.options);
    if (!read.errors().empty()) return read.errors();
    return job;
}

namespace {

namespace asio = boost::asio;
using namespace boost::asio::experimental::awaitable_operators;

constexpr std::size_t kMaxPageSize = 200;

http::Response job_not_found() {
    return http::error_response(ErrorDialect::detail, 404, "Job not found");
}

asio::awaitable<std::optional<jobs::Job>> find_job(const JobsContext& ctx,
                                                   const http::Request& request) {
    auto id = request.param("id").value_or("");
    std::optional<jobs::Job> job;  // named, not `co_return std::nullopt`: a GCC 12 bug
    if (!jobs::is_job_id(id)) co_return job;
    job = co_await ctx.store.find(id);
    co_return job;
}

bool valid_idempotency_key(std::string_view key) {
    if (key.empty() || key.size() > 255) return false;
    return std::all_of(key.begin(), key.end(), [](char c) { return c >= 0x21 && c <= 0x7e; });
}

asio::awaitable<http::Response> execute(const JobsContext& ctx, const http::Request& request) {
    auto body = parse_json_object(request, ErrorDialect::detail);
    if (auto* error = std::get_if<http::Response>(&body)) co_return std::move(*error);
    auto parsed = parse_execute_request(std::get<json::object>(body), ctx.limits);
    if (auto* errors = std::get_if<std::vector<FieldError>>(&parsed))
        co_return validation_failed(*errors);
    auto job = std::get<jobs::NewJob>(std::move(parsed));
    if (job.resumed_from) {
        auto session = co_await jobs::session_to_resume(ctx.store, *job.resumed_from);
        if (auto* problem = std::get_if<std::string>(&session)) {
            co_return validation_failed({{"resume", std::move(*problem), "value_error"}});
        }
        job.resume_session = std::get<jobs::SessionToResume>(std::move(session)).session_id;
    }
    if (auto key = request.header("Idempotency-Key")) {
        if (!valid_idempotency_key(*key)) {
            co_return validation_failed(
                {{"Idempotency-Key", "must be 1 to 255 visible ASCII characters", "value_error",
                  "header"}});
        }
        job.idempotency_key = std::string(*key);
    }
    auto submission = co_await ctx.registry.submit(std::move(job));
    using Kind = jobs::Submission::Kind;
    switch (submission.kind) {
        case Kind::busy: co_return http::error_response(ErrorDialect::detail, 409, "Agent is busy");
        case Kind::key_reused:
            // As Stripe answers it: the key is spent on the earlier request.
            co_return validation_failed(
                {{"Idempotency-Key",
                  fmt::format("this key was already used with other parameters (job {}); use a "
                              "new key for a different request",
                              submission.job->id),
                  "value_error.idempotency_key_reused", "header"}});
        case Kind::queue_full: {
            auto full = http::error_response(ErrorDialect::detail, 429, "Job queue is full");
            full.headers.emplace_back("Retry-After", "30");
            co_return full;
        }
        case Kind::started:
        case Kind::queued:
        case Kind::replayed: {
            json::object answer{{"job_id", submission.job->id},
                                {"status", jobs::to_string(submission.job->status)}};
            if (submission.kind == Kind::queued) answer["position"] = submission.position;
            auto accepted = http::json_response(202, answer);
            if (submission.kind == Kind::replayed)
                accepted.headers.emplace_back("Idempotent-Replayed", "true");
            accepted.job_id = submission.job->id;
            co_return accepted;
        }
    }
    co_return http::error_response(ErrorDialect::detail, 500, "Internal server error");
}

asio::awaitable<http::Response> list_jobs(const JobsContext& ctx, const http::Request& request) {
    jobs::JobFilter filter;
    std::vector<FieldError> errors;
    if (auto status = request.query_param("status")) {
        filter.status = jobs::parse_status(*status);
        if (!filter.status) {
            errors.push_back({"status",
                              "must be one of queued, running, completed, failed, timeout, "
                              "cancelled, error, interrupted",
                              "value_error", "query"});
        }
    }
    if (auto agent = request.query_param("agent")) filter.agent = std::string(*agent);
    auto positive = [&](std::string_view name, std::int64_t max) -> std::optional<std::int64_t> {
        auto text = request.query_param(name);
        if (!text) return std::nullopt;
        std::int64_t value = 0;
        auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
        if (ec != std::errc{} || ptr != text->data() + text->size() || value < 1 || value > max) {
            errors.push_back({std::string(name),
                              fmt::format("must be an integer from 1 to {}", max), "value_error",
                              "query"});
            return std::nullopt;
        }
        return value;
    };
    if (auto limit = positive("limit", kMaxPageSize))
        filter.limit = static_cast<std::size_t>(*limit);
    filter.before = positive("cursor", std::numeric_limits<std::int64_t>::max());
    if (!errors.empty()) co_return validation_failed(errors);
    auto page = co_await ctx.store.list(filter);
    json::array data(page.jobs.begin(), page.jobs.end());
    co_return http::json_response(
        200, json::object{{"jobs", std::move(data)},
                          {"next_cursor", page.next ? json::value(std::to_string(*page.next))
                                                    : json::value(nullptr)}});
}

asio::awaitable<http::Response> cancel_job(const JobsContext& ctx, const http::Request& request) {
    auto id = std::string(request.param("id").value_or(""));
    if (!jobs::is_job_id(id)) co_return job_not_found();
    auto result = co_await ctx.registry.cancel(id);
    using Kind = jobs::CancelResult::Kind;
    if (result.kind == Kind::not_found || !result.job) co_return job_not_found();
    if (result.kind == Kind::finished) {
        auto status = jobs::to_string(result.job->status);
        co_return http::json_response(
            409, json::object{{"detail", fmt::format("Job already finished: {}", status)},
                              {"status", status}});
    }
    auto response = http::json_response(200, jobs::to_json(*result.job));
    response.job_id = id;
    co_return response;
}

asio::awaitable<http::Response> retry_webhook(const JobsContext& ctx,
                                              const http::Request& request) {
    auto id = std::string(request.param("id").value_or(""));
    if (!jobs::is_job_id(id)) co_return job_not_found();
    auto retry = co_await ctx.store.retry_webhook(id);
    using Kind = jobs::WebhookRetry::Kind;
    if (retry.kind == Kind::not_found || !retry.job) co_return job_not_found();
    if (retry.kind == Kind::not_failed) {
        const auto& job = *retry.job;
        std::string why = !job.webhook                     ? "Job has no callback_url"
                          : !jobs::is_finished(job.status) ? "Job has not finished"
                                                           : "Webhook has not failed";
        json::object answer{{"detail", why}};
        if (job.webhook) {
            answer["webhook_status"] = jobs::to_string(job.webhook->status);
        }
        co_return http::json_response(409, answer);
    }
    ctx.webhooks.wake();
    auto response = http::json_response(202, jobs::to_json(*retry.job));
    response.job_id = id;
    co_return response;
}

// What a job running on another replica has added to its shared log since `seq`, all of it
// (up to its end, the record event); whether the end was among it.
asio::awaitable<bool> relay_shared_events(const JobsContext& ctx, const std::string& id,
                                          std::size_t& seq, http::BodyWriter& out) {
    for (;;) {
        auto batch = co_await ctx.store.events_from(id, seq);
        if (batch.empty()) co_return false;
        std::string text;
        bool ended = false;
        for (const auto& event : batch) {
            text += event;
            ended = ended || jobs::is_record_event(event);
        }
        seq += batch.size();
        bool sent = co_await out.write(text);  // named: see README, GCC 12 bugs
        if (!sent || ended) co_return true;
    }
}

// Streams a job's events: what happened so far, then live ones, ending with the record. A job
// that does not run here is followed through the store: a queued one's status as it changes;
// one running on another replica by its log shared in the store; one that has finished by
// its record (output and all). If it starts here meanwhile, the live log takes over.
asio::awaitable<void> stream_events(const JobsContext& ctx, std::string id, http::BodyWriter& out,
                                    http::ClientConnection* client) {
    std::optional<jobs::JobStatus> sent;
    std::size_t shared_seq = 0;  // events of the shared log sent so far
    auto last_write = std::chrono::steady_clock::now();
    while (!ctx.registry.events(id)) {
        auto job = co_await ctx.store.find(id);
        if (!job) co_return;
        if (job->status == jobs::JobStatus::running ||
            (jobs::is_finished(job->status) && shared_seq > 0)) {
            auto before = shared_seq;
            auto ended = co_await relay_shared_events(ctx, id, shared_seq, out);
            if (ended) co_return;
            if (shared_seq > before) {
                sent = jobs::JobStatus::running;
                last_write = std::chrono::steady_clock::now();
            }
        }
        if (jobs::is_finished(job->status)) {
            // Without its shared log (another store, or it was dropped): the record has it all.
            // Named: GCC 12 destroys a temporary of a ?: inside co_await twice.
            auto ending = shared_seq > 0 ? jobs::closing_events(*job) : jobs::replay_events(*job);
            co_await out.write(ending);
            co_return;
        }
        // A job running elsewhere says so in its shared log, which starts with its status.
        if (job->status == jobs::JobStatus::queued && sent != job->status) {
            bool written = co_await out.write(jobs::status_event(*job));
            if (!written) co_return;
            sent = job->status;
            last_write = std::chrono::steady_clock::now();
        } else if (std::chrono::steady_clock::now() - last_write >= ctx.keep_alive) {
            bool written = co_await out.write(http::kSseKeepAlive);
            if (!written) co_return;
            last_write = std::chrono::steady_clock::now();
        }
        if (ctx.registry.stopping()) co_return;
        auto woke = co_await (ctx.registry.wait_for_change(ctx.registry.options().poll_interval) ||
                              client->wait_gone());
        if (woke.index() == 1) co_return;
    }
    auto events = ctx.registry.events(id);
    auto executor = co_await asio::this_coro::executor;
    std::size_t seen = 0;
    for (;;) {
        std::string batch;
        for (; seen < events->events().size(); ++seen) batch += events->events()[seen];
        if (!batch.empty() && !co_await out.write(batch)) co_return;
        if (events->closed()) co_return;
        Timer tick(executor, ctx.keep_alive);
        auto woke = co_await (events->wait(seen) || tick.async_wait() || client->wait_gone());
        if (woke.index() == 2) co_return;
        if (woke.index() == 1 && !co_await out.write(http::kSseKeepAlive)) co_return;
    }
}

}  // namespace

void add_jobs_routes(http::Router& router, JobsContext context) {
    auto ctx = std::make_shared<const JobsContext>(std::move(context));
    auto add = [&router](std::string method, std::string pattern, http::Handler handler) {
        router.add(std::move(method), std::move(pattern), http::Access::bearer,
                   store_guarded(ErrorDialect::detail, std::move(handler)));
    };
    add("POST", "/execute", [ctx](const http::Request& request) { return execute(*ctx, request); });
    add("GET", "/jobs", [ctx](const http::Request& request) { return list_jobs(*ctx, request); });
    add("GET", "/jobs/{id}",
        [ctx](const http::Request& request) -> asio::awaitable<http::Response> {
            auto id = request.param("id").value_or("");
            if (!jobs::is_job_id(id)) co_return job_not_found();
            auto record = co_await ctx->registry.record_text(std::string(id));
            if (!record) co_return job_not_found();
            http::Response response;
            response.body = *record;
            response.job_id = id;
            co_return response;
        });
    auto cancel = [ctx](const http::Request& request) { return cancel_job(*ctx, request); };
    add("DELETE", "/jobs/{id}", cancel);
    add("POST", "/jobs/{id}/cancel", cancel);
    add("POST", "/jobs/{id}/webhook/retry",
        [ctx](const http::Request& request) { return retry_webhook(*ctx, request); });
    add("GET", "/jobs/{id}/events",
        [ctx](const http::Request& request) -> asio::awaitable<http::Response> {
            auto job = co_await find_job(*ctx, request);
            if (!job) co_return job_not_found();
            http::Response response;
            response.content_type = "text/event-stream";
            response.headers.emplace_back("X-Accel-Buffering", "no");
            response.job_id = job->id;
            auto* client = request.client;
            response.stream = [ctx, id = job->id, client](http::BodyWriter& out) {
                return stream_events(*ctx, id, out, client);
            };
            co_return response;
        });
}

}  // namespace cas::api
