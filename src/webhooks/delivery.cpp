#include "webhooks/delivery.hpp"

#include "util/json_text.hpp"
#include "util/wall_clock.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cmath>

namespace cas::webhooks {
namespace json = boost::json;

std::string message_body(const jobs::Job& job) {
    auto data = jobs::to_json(job);
    auto& record = data.as_object();
    record.erase("output");
    record.erase("stderr");
    record.erase("webhook");  // changes with every attempt; the message must not
    record["output_bytes"] = jobs::output_bytes(job);
    record["stderr_bytes"] = job.stderr_text.size();
    return json_text(json::object{
        {"type", "job.finished"},
        {"timestamp", job.finished_at.value_or(job.created_at)},
        {"data", std::move(data)},
    });
}

std::chrono::milliseconds retry_delay(int attempts, const RetryPolicy& policy, double jitter) {
    constexpr double kMaxMs = 3600.0 * 1000.0;
    auto doublings = std::clamp(attempts - 1, 0, 40);
    auto delay =
        std::min(static_cast<double>(policy.base.count()) * std::ldexp(1.0, doublings), kMaxMs);
    delay *= 0.8 + 0.4 * std::clamp(jitter, 0.0, 1.0);
    return std::chrono::milliseconds(static_cast<std::int64_t>(delay));
}

std::optional<std::chrono::milliseconds> record_attempt(jobs::WebhookState& webhook,
                                                        const AttemptOutcome& outcome,
                                                        const RetryPolicy& policy,
                                                        std::chrono::system_clock::time_point now,
                                                        double jitter) {
    ++webhook.attempts;
    webhook.last_status = outcome.status;
    webhook.next_attempt_at.reset();
    if (outcome.delivered()) {
        webhook.status = jobs::WebhookStatus::delivered;
        webhook.last_error.reset();
        webhook.delivered_at = iso8601_utc_at(now, 6, "+00:00");
        return std::nullopt;
    }
    webhook.last_error = outcome.error;
    if (webhook.attempts >= policy.max_attempts) {
        webhook.status = jobs::WebhookStatus::failed;
        return std::nullopt;
    }
    auto delay = retry_delay(webhook.attempts, policy, jitter);
    webhook.next_attempt_at = iso8601_utc_at(now + delay, 6, "+00:00");
    return delay;
}

}  // namespace cas::webhooks
