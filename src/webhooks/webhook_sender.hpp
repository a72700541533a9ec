// Delivers completion webhooks from the store's outbox (jobs/job_store.hpp): claims the one
// due first, sends it (webhook_client.hpp) signed (signature.hpp), and writes back what came
// of it (delivery.hpp): delivered, due again after a backoff, or failed. Up to four at once.
// With a shared store every replica runs one; the claim gives each delivery to one of them,
// and a delivery whose sender died is due again when its claim runs out.
#pragma once

#include "jobs/job_store.hpp"
#include "util/async.hpp"
#include "webhooks/callback_url.hpp"
#include "webhooks/delivery.hpp"
#include "webhooks/signature.hpp"
#include "webhooks/webhook_client.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace cas {
class Metrics;
}

namespace cas::webhooks {

struct WebhookSettings {
    std::vector<HostRule> allowed_hosts;  // empty: callbacks are off
    std::vector<SigningKey> keys;
    std::chrono::milliseconds timeout{10000};
    RetryPolicy retry;
    std::optional<std::string> ca_file;
    // How often to look for deliveries other replicas left (their claim ran out) or made due.
    std::chrono::milliseconds poll_interval{5000};
};

class WebhookSender {
public:
    // Waits until a job ended here, or the time passed (JobRegistry::wait_for_change).
    using WaitForJobs = std::function<boost::asio::awaitable<void>(std::chrono::milliseconds)>;

    WebhookSender(boost::asio::any_io_executor executor, jobs::JobStore& store, Metrics& metrics,
                  WebhookSettings settings);

    void start(WaitForJobs wait_for_jobs);
    void stop();
    // A delivery was made due here (the retry endpoint): look now.
    void wake() { due_.notify(); }
    [[nodiscard]] const WebhookSettings& settings() const { return settings_; }

private:
    boost::asio::awaitable<void> dispatch();
    boost::asio::awaitable<void> deliver(jobs::WebhookClaim claim);
    boost::asio::awaitable<AttemptOutcome> attempt(const jobs::Job& job);

    boost::asio::any_io_executor executor_;
    jobs::JobStore& store_;
    Metrics& metrics_;
    WebhookSettings settings_;
    WebhookClient client_;
    WaitForJobs wait_for_jobs_;
    Event due_;  // a delivery may be due: the retry endpoint, a slot freed, stop()
    std::size_t sending_ = 0;
    bool stopping_ = false;
};

}  // namespace cas::webhooks
