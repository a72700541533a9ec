// A completion webhook's delivery as pure functions: the message a finished job sends, what
// an attempt's outcome does to the record's webhook state, and when the next attempt is due
// (exponential backoff with jitter). The sender (webhook_sender.hpp) does the I/O around
// them; tests call them directly.
#pragma once

#include "jobs/job.hpp"

#include <chrono>
#include <optional>
#include <string>

namespace cas::webhooks {

struct RetryPolicy {
    int max_attempts = 8;
    std::chrono::milliseconds base{5000};  // before the 2nd attempt; doubling after each
};

// What one attempt came to: the receiver's status (it answered) and, when that is not a 2xx
// or there was none, why it is not delivered.
struct AttemptOutcome {
    std::optional<int> status;
    std::string error;  // empty for a 2xx
    [[nodiscard]] bool delivered() const {
        return status && *status >= 200 && *status < 300 && error.empty();
    }
};

// The request body for a finished job: {"type":"job.finished","timestamp","data"}, data being
// the record without its output, stderr and webhook, with the output's and stderr's sizes.
std::string message_body(const jobs::Job& job);

// The wait before attempt `attempts + 1`: base × 2^(attempts − 1), at most an hour, times
// 0.8 to 1.2 as `jitter` goes from 0 to 1 (so receivers that failed together are not all
// retried at once).
std::chrono::milliseconds retry_delay(int attempts, const RetryPolicy& policy, double jitter);

// Applies one attempt's outcome to `webhook` (at `now`, wall clock); the wait before the
// next attempt, or nothing once it is delivered or has failed for good.
std::optional<std::chrono::milliseconds> record_attempt(jobs::WebhookState& webhook,
                                                        const AttemptOutcome& outcome,
                                                        const RetryPolicy& policy,
                                                        std::chrono::system_clock::time_point now,
                                                        double jitter);

}  // namespace cas::webhooks
