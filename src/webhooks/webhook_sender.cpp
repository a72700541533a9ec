#include "webhooks/webhook_sender.hpp"

#include "jobs/store_outage.hpp"
#include "telemetry/log.hpp"
#include "telemetry/metrics.hpp"
#include "util/wall_clock.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <random>

namespace cas::webhooks {
namespace asio = boost::asio;
using namespace boost::asio::experimental::awaitable_operators;

namespace {

constexpr std::size_t kMaxSending = 4;

double jitter() {
    static std::mt19937 generator{std::random_device{}()};
    return std::uniform_real_distribution<double>(0.0, 1.0)(generator);
}

std::string_view result_of(const AttemptOutcome& outcome) {
    if (outcome.delivered()) return "delivered";
    if (outcome.status) return "http_error";
    if (outcome.error.starts_with("refused")) return "refused";
    return "network_error";
}

}  // namespace

WebhookSender::WebhookSender(asio::any_io_executor executor, jobs::JobStore& store,
                             Metrics& metrics, WebhookSettings settings)
    : executor_(std::move(executor)),
      store_(store),
      metrics_(metrics),
      settings_(std::move(settings)),
      client_(settings_.ca_file),
      due_(executor_) {}

void WebhookSender::start(WaitForJobs wait_for_jobs) {
    wait_for_jobs_ = std::move(wait_for_jobs);
    asio::co_spawn(executor_, dispatch(), asio::detached);
}

void WebhookSender::stop() {
    stopping_ = true;
    due_.notify();
}

asio::awaitable<void> WebhookSender::dispatch() {
    // A send in flight at shutdown keeps its claim until it runs out; then it is sent again
    // (receivers tell a repeat by its webhook-id).
    auto claim_ms = settings_.timeout.count() + 30000;
    jobs::StoreOutage outage("webhooks: cannot read the outbox");
    while (!stopping_) {
        std::chrono::milliseconds wait = settings_.poll_interval;
        try {
            while (sending_ < kMaxSending && !stopping_) {
                auto claim = co_await store_.claim_webhook(claim_ms);
                if (!claim) break;
                ++sending_;
                asio::co_spawn(executor_, deliver(std::move(*claim)), asio::detached);
            }
            if (sending_ < kMaxSending) {
                auto next = co_await store_.next_webhook_in();
                if (next) wait = std::min(wait, std::chrono::milliseconds(*next));
            }
            outage.ok();
        } catch (const std::exception& e) {  // a store error, or a record it cannot read
            outage.failed(e);
        }
        if (stopping_) break;
        co_await (due_.wait() || wait_for_jobs_(std::max(wait, std::chrono::milliseconds(1))));
    }
}

asio::awaitable<AttemptOutcome> WebhookSender::attempt(const jobs::Job& job) {
    auto parsed = parse_callback_url(job.webhook->url);
    if (const auto* problem = std::get_if<std::string>(&parsed)) {
        co_return AttemptOutcome{std::nullopt, fmt::format("refused: callback_url {}", *problem)};
    }
    const auto& url = std::get<CallbackUrl>(parsed);
    auto match = match_host(settings_.allowed_hosts, url);
    if (match == HostMatch::refused) {
        co_return AttemptOutcome{std::nullopt,
                                 "refused: the host is no longer in WEBHOOK_ALLOWED_HOSTS"};
    }
    OutgoingRequest request;
    request.body = message_body(job);
    auto timestamp = unix_seconds();
    request.headers = {
        {"webhook-id", job.webhook->id},
        {"webhook-timestamp", std::to_string(timestamp)},
        {"webhook-signature", sign(settings_.keys, job.webhook->id, timestamp, request.body)},
    };
    auto outcome = co_await client_.post(url, match, request, settings_.timeout);
    co_return outcome;
}

asio::awaitable<void> WebhookSender::deliver(jobs::WebhookClaim claim) {
    auto& job = claim.job;
    try {
        if (!job.webhook) throw std::logic_error("a claimed job has no webhook");
        auto started = std::chrono::steady_clock::now();
        auto outcome = co_await attempt(job);
        metrics_.record_webhook_attempt(result_of(outcome),
                                        std::chrono::steady_clock::now() - started);
        auto retry_in = record_attempt(*job.webhook, outcome, settings_.retry,
                                       std::chrono::system_clock::now(), jitter());
        std::optional<std::int64_t> retry_ms;
        if (retry_in) retry_ms = retry_in->count();
        bool saved = co_await store_.save_webhook(job, claim.token, retry_ms);
        const auto& webhook = *job.webhook;
        boost::json::object fields{
            {"job_id", job.id}, {"webhook_id", webhook.id}, {"attempt", webhook.attempts}};
        if (webhook.last_status) fields["status"] = *webhook.last_status;
        if (!saved) {
            log::warn("webhook attempt outlived its claim; another sender has it", fields);
        } else if (webhook.status == jobs::WebhookStatus::delivered) {
            metrics_.record_webhook_delivery("delivered");
            log::info("webhook delivered", fields);
        } else {
            fields["error"] = webhook.last_error.value_or("");
            if (webhook.status == jobs::WebhookStatus::failed) {
                metrics_.record_webhook_delivery("failed");
                log::warn("webhook failed after its last attempt", fields);
            } else {
                fields["retry_in_ms"] = retry_ms.value_or(0);
                log::info("webhook attempt failed; will retry", fields);
            }
        }
    } catch (const std::exception& e) {
        // The claim runs out and the delivery is due again.
        log::warn("webhook attempt could not be recorded",
                  {{"job_id", job.id}, {"error", e.what()}});
    }
    --sending_;
    due_.notify();
}

}  // namespace cas::webhooks
