// The service's Prometheus metrics (prometheus-cpp core: registry, counters, gauges, histograms,
// text serializer), served by our own GET /metrics route. Everything records on the
// io_context's one thread, so our own series cache needs no lock. Each recording function
// takes plain values: callers need no prometheus header.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace cas {

struct RunReport {
    std::string_view kind;     // "job" or "completion"
    std::string_view outcome;  // completed, failed, timeout, cancelled, error, interrupted
    std::string_view model;    // as requested; "default" when the agent's own
    std::chrono::duration<double> duration{};
    double cost_usd = 0;
    std::int64_t input_tokens = 0;
    std::int64_t output_tokens = 0;
    std::int64_t cache_creation_tokens = 0;
    std::int64_t cache_read_tokens = 0;
    bool git_sync_failed = false;
    int processes_killed = 0;
};

class Metrics {
public:
    // The gauges' sources, read at scrape time.
    Metrics();
    ~Metrics();
    Metrics(const Metrics&) = delete;
    Metrics& operator=(const Metrics&) = delete;

    void set_gauges(std::function<bool()> slot_busy, std::function<std::size_t()> queue_depth,
                    std::function<bool()> warm_cli_waiting,
                    std::function<std::size_t()> replicas_live);
    void record_request(std::string_view route, std::string_view method, unsigned status,
                        std::chrono::duration<double> duration);
    void record_run(const RunReport& report);
    // The warm CLI (runs/warm_cli.hpp): a run used it; a run found none it could use, and
    // why (none, arguments, stale); one was ended unused, and why (replaced, stale, died,
    // expired, shutdown). Reasons are the service's own words: bounded.
    void record_warm_hit();
    void record_warm_miss(std::string_view reason);
    void record_warm_discard(std::string_view reason);
    // Sessions (sessions/, api/chat_continuation.hpp): how a chat completion chose its
    // session (continued, explicit, fresh); a session file copied into the store after a run
    // (stored, too_large, no_file, store_failed); one put back before a resume (restored,
    // no_copy, failed). Bounded words.
    void record_chat_session(std::string_view how);
    void record_session_copy(std::string_view result);
    void record_session_restore(std::string_view result);
    // Completion webhooks (webhooks/): one attempt and its result (delivered, http_error,
    // network_error, refused) and time; a delivery that ended (delivered, failed).
    void record_webhook_attempt(std::string_view result, std::chrono::duration<double> duration);
    void record_webhook_delivery(std::string_view outcome);
    // The Prometheus text exposition of everything.
    [[nodiscard]] std::string scrape() const;

private:
    struct Families;
    std::unique_ptr<Families> families_;
};

}  // namespace cas
