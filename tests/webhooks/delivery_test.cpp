// A webhook's delivery as pure functions: the message a finished job sends, the backoff
// schedule, and what each attempt's outcome does to the record's webhook state.
#include "webhooks/delivery.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

using namespace cas;
using namespace cas::webhooks;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

jobs::Job finished_job() {
    jobs::Job job;
    job.id = "0123456789ab";
    job.status = jobs::JobStatus::completed;
    job.prompt = "p";
    job.agent = "a";
    job.created_at = "2026-01-01T00:00:00.000000+00:00";
    job.finished_at = "2026-01-01T00:01:00.000000+00:00";
    job.output = {"line one\n", "two\n"};
    job.stderr_text = "warn";
    job.result = "done";
    job.webhook = jobs::WebhookState{.url = "https://h.example/x",
                                     .id = "msg_1",
                                     .status = jobs::WebhookStatus::pending,
                                     .attempts = 0,
                                     .last_status = std::nullopt,
                                     .last_error = std::nullopt,
                                     .delivered_at = std::nullopt,
                                     .next_attempt_at = std::nullopt};
    return job;
}

}  // namespace

TEST_CASE("webhook message: the record without output, stderr and webhook, with their sizes") {
    auto job = finished_job();
    auto message = json::parse(message_body(job)).as_object();
    CHECK(message.at("type") == "job.finished");
    CHECK(message.at("timestamp") == "2026-01-01T00:01:00.000000+00:00");
    const auto& data = message.at("data").as_object();
    CHECK(data.at("job_id") == "0123456789ab");
    CHECK(data.at("status") == "completed");
    CHECK(data.at("result") == "done");
    CHECK(data.at("output_bytes") == 13);
    CHECK(data.at("stderr_bytes") == 4);
    CHECK_FALSE(data.contains("output"));
    CHECK_FALSE(data.contains("stderr"));
    CHECK_FALSE(data.contains("webhook"));
    // The same bytes on every attempt: the state of the delivery is not in them.
    auto before = message_body(job);
    job.webhook->attempts = 3;
    job.webhook->last_error = "HTTP 500";
    CHECK(message_body(job) == before);
}

TEST_CASE("webhook retries: doubling from the base, at most an hour, 20% jitter either way") {
    RetryPolicy policy{.max_attempts = 8, .base = 5000ms};
    CHECK(retry_delay(1, policy, 0.5) == 5000ms);
    CHECK(retry_delay(2, policy, 0.5) == 10000ms);
    CHECK(retry_delay(7, policy, 0.5) == 320000ms);
    CHECK(retry_delay(1, policy, 0.0) == 4000ms);
    CHECK(retry_delay(1, policy, 1.0) == 6000ms);
    CHECK(retry_delay(30, policy, 0.5) == 3600000ms);
    CHECK(retry_delay(1000, policy, 1.0) == 4320000ms);
}

TEST_CASE("webhook attempts: a 2xx delivers; others retry until the last attempt fails it") {
    auto job = finished_job();
    auto& webhook = *job.webhook;
    RetryPolicy policy{.max_attempts = 3, .base = 100ms};
    auto now = std::chrono::system_clock::now();
    auto next = record_attempt(webhook, {500, "HTTP 500"}, policy, now, 0.5);
    CHECK(next == 100ms);
    CHECK(webhook.status == jobs::WebhookStatus::pending);
    CHECK(webhook.attempts == 1);
    CHECK(webhook.last_status == 500);
    CHECK(webhook.last_error == "HTTP 500");
    CHECK(webhook.next_attempt_at);
    next = record_attempt(webhook, {std::nullopt, "connecting: refused"}, policy, now, 0.5);
    CHECK(next == 200ms);
    CHECK_FALSE(webhook.last_status);
    next =
        record_attempt(webhook, {302, "HTTP 302 (redirects are not followed)"}, policy, now, 0.5);
    CHECK_FALSE(next);
    CHECK(webhook.status == jobs::WebhookStatus::failed);
    CHECK(webhook.attempts == 3);
    CHECK_FALSE(webhook.next_attempt_at);

    auto other = finished_job();
    next = record_attempt(*other.webhook, {204, ""}, policy, now, 0.5);
    CHECK_FALSE(next);
    CHECK(other.webhook->status == jobs::WebhookStatus::delivered);
    CHECK(other.webhook->delivered_at);
    CHECK(other.webhook->last_status == 204);
    CHECK_FALSE(other.webhook->last_error);
}
