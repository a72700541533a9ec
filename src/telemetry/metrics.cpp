// Label values are bounded: routes are patterns ("/jobs/{id}"), not raw paths, anything
// unmatched is "unmatched", and unknown methods are "other", so a scanner cannot blow up the
// series count.
#include "telemetry/metrics.hpp"

#include <fmt/format.h>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <string>
#include <unordered_map>

namespace cas {
namespace pm = prometheus;

struct Metrics::Families {
    std::shared_ptr<pm::Registry> registry = std::make_shared<pm::Registry>();
    pm::Family<pm::Counter>& requests = pm::BuildCounter()
                                            .Name("cas_http_requests_total")
                                            .Help("HTTP requests by route, method and status")
                                            .Register(*registry);
    pm::Family<pm::Histogram>& request_seconds =
        pm::BuildHistogram()
            .Name("cas_http_request_duration_seconds")
            .Help("Time to answer an HTTP request, by route")
            .Register(*registry);
    pm::Family<pm::Counter>& runs = pm::BuildCounter()
                                        .Name("cas_runs_total")
                                        .Help("Agent runs by kind and outcome")
                                        .Register(*registry);
    pm::Family<pm::Histogram>& run_seconds = pm::BuildHistogram()
                                                 .Name("cas_run_duration_seconds")
                                                 .Help("Agent run duration by kind")
                                                 .Register(*registry);
    pm::Family<pm::Gauge>& slot_busy = pm::BuildGauge()
                                           .Name("cas_slot_busy")
                                           .Help("1 while an agent run holds the execution slot")
                                           .Register(*registry);
    pm::Family<pm::Gauge>& queue_depth = pm::BuildGauge()
                                             .Name("cas_queue_depth")
                                             .Help(
                                                 "Jobs waiting for an execution slot, in the "
                                                 "whole cluster of replicas of the job store")
                                             .Register(*registry);
    pm::Family<pm::Gauge>& replicas_live =
        pm::BuildGauge()
            .Name("cas_replicas_live")
            .Help(
                "Replicas of the job store whose heartbeat is within the lease, this one included")
            .Register(*registry);
    pm::Family<pm::Counter>& cost = pm::BuildCounter()
                                        .Name("cas_cost_usd_total")
                                        .Help("Cost reported by the CLI, in US dollars, by model")
                                        .Register(*registry);
    pm::Family<pm::Counter>& tokens = pm::BuildCounter()
                                          .Name("cas_tokens_total")
                                          .Help("Tokens reported by the CLI, by model and type")
                                          .Register(*registry);
    pm::Family<pm::Counter>& git_failures = pm::BuildCounter()
                                                .Name("cas_git_sync_failures_total")
                                                .Help("git pull failures and timeouts before runs")
                                                .Register(*registry);
    pm::Family<pm::Counter>& killed = pm::BuildCounter()
                                          .Name("cas_child_processes_killed_total")
                                          .Help("Processes of runs the service had to kill")
                                          .Register(*registry);
    pm::Family<pm::Counter>& warm_hits = pm::BuildCounter()
                                             .Name("cas_warm_cli_hits_total")
                                             .Help("Runs that used the CLI started ahead")
                                             .Register(*registry);
    pm::Family<pm::Counter>& warm_misses =
        pm::BuildCounter()
            .Name("cas_warm_cli_misses_total")
            .Help("Runs that started their CLI themselves, by why the warm one was not used")
            .Register(*registry);
    pm::Family<pm::Counter>& warm_discards =
        pm::BuildCounter()
            .Name("cas_warm_cli_discards_total")
            .Help("CLI processes started ahead and ended unused, by reason")
            .Register(*registry);
    pm::Family<pm::Gauge>& warm_waiting =
        pm::BuildGauge()
            .Name("cas_warm_cli_waiting")
            .Help("1 while a CLI started ahead waits for its run (a child process of the service)")
            .Register(*registry);
    pm::Family<pm::Counter>& chat_sessions =
        pm::BuildCounter()
            .Name("cas_chat_sessions_total")
            .Help(
                "Chat completions by how their session was chosen: continued (the history "
                "matched an earlier answer), explicit (X-Session-Id), fresh")
            .Register(*registry);
    pm::Family<pm::Counter>& session_copies =
        pm::BuildCounter()
            .Name("cas_session_copies_total")
            .Help("Session files copied into the store after a run, by result")
            .Register(*registry);
    pm::Family<pm::Counter>& webhook_attempts =
        pm::BuildCounter()
            .Name("cas_webhook_attempts_total")
            .Help(
                "Completion webhook attempts by result (delivered, http_error, network_error, "
                "refused)")
            .Register(*registry);
    pm::Family<pm::Histogram>& webhook_seconds =
        pm::BuildHistogram()
            .Name("cas_webhook_attempt_duration_seconds")
            .Help("Time from resolving a callback's host to its receiver's answer")
            .Register(*registry);
    pm::Family<pm::Counter>& webhook_deliveries =
        pm::BuildCounter()
            .Name("cas_webhook_deliveries_total")
            .Help("Completion webhooks by how they ended (delivered, failed after every attempt)")
            .Register(*registry);
    pm::Family<pm::Counter>& session_restores =
        pm::BuildCounter()
            .Name("cas_session_restores_total")
            .Help("Missing session files put back from the store before a resume, by result")
            .Register(*registry);
    std::function<bool()> read_busy;
    std::function<std::size_t()> read_queue;
    std::function<bool()> read_warm_waiting;
    std::function<std::size_t()> read_replicas;

    // Family::Add builds a metric (a histogram: 18 buckets) before finding the existing one,
    // so each request's series are looked up here instead. Bounded like the labels.
    struct RequestSeries {
        pm::Counter* requests;
        pm::Histogram* seconds;
    };
    std::unordered_map<std::string, RequestSeries> request_series;
};

namespace {

const pm::Histogram::BucketBoundaries& request_buckets() {
    static const pm::Histogram::BucketBoundaries buckets{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                         0.05,   0.1,   0.25,   0.5,   1,    2.5,
                                                         5,      10,    60,     300,   900};
    return buckets;
}

const pm::Histogram::BucketBoundaries& run_buckets() {
    static const pm::Histogram::BucketBoundaries buckets{1,   5,   15,  30,   60,   120,
                                                         300, 600, 900, 1800, 2700, 3600};
    return buckets;
}

// The method label: a client may send any token as a method, so unknown ones are "other".
std::string_view known_method(std::string_view method) {
    for (std::string_view known : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}) {
        if (method == known) return known;
    }
    return "other";
}

}  // namespace

Metrics::Metrics() : families_(std::make_unique<Families>()) {
    // Every outcome is present from the start, so rates work before the first of each.
    for (auto kind : {"job", "completion"}) {
        for (auto outcome :
             {"completed", "failed", "timeout", "cancelled", "error", "interrupted"}) {
            families_->runs.Add({{"kind", kind}, {"outcome", outcome}});
        }
    }
    families_->warm_hits.Add({});
    for (auto reason : {"none", "arguments", "stale"})
        families_->warm_misses.Add({{"reason", reason}});
    for (auto reason : {"replaced", "stale", "died", "expired", "shutdown"}) {
        families_->warm_discards.Add({{"reason", reason}});
    }
    families_->git_failures.Add({});
    families_->killed.Add({});
}

Metrics::~Metrics() = default;

void Metrics::set_gauges(std::function<bool()> slot_busy, std::function<std::size_t()> queue_depth,
                         std::function<bool()> warm_cli_waiting,
                         std::function<std::size_t()> replicas_live) {
    families_->read_replicas = std::move(replicas_live);
    families_->read_busy = std::move(slot_busy);
    families_->read_queue = std::move(queue_depth);
    families_->read_warm_waiting = std::move(warm_cli_waiting);
}

void Metrics::record_request(std::string_view route, std::string_view method, unsigned status,
                             std::chrono::duration<double> duration) {
    auto& f = *families_;
    std::string_view route_label = route.empty() ? "unmatched" : route;
    auto method_label = known_method(method);
    auto key = fmt::format("{} {} {}", route_label, method_label, status);
    auto it = f.request_series.find(key);
    if (it == f.request_series.end()) {
        std::string route_text(route_label);
        Families::RequestSeries series{
            &f.requests.Add({{"route", route_text},
                             {"method", std::string(method_label)},
                             {"status", std::to_string(status)}}),
            &f.request_seconds.Add({{"route", route_text}}, request_buckets())};
        it = f.request_series.emplace(std::move(key), series).first;
    }
    it->second.requests->Increment();
    it->second.seconds->Observe(duration.count());
}

void Metrics::record_run(const RunReport& r) {
    auto& f = *families_;
    f.runs.Add({{"kind", std::string(r.kind)}, {"outcome", std::string(r.outcome)}}).Increment();
    f.run_seconds.Add({{"kind", std::string(r.kind)}}, run_buckets()).Observe(r.duration.count());
    std::string model(r.model.empty() ? "default" : r.model);
    if (r.cost_usd > 0) f.cost.Add({{"model", model}}).Increment(r.cost_usd);
    auto add_tokens = [&](const char* type, std::int64_t n) {
        if (n > 0)
            f.tokens.Add({{"model", model}, {"type", type}}).Increment(static_cast<double>(n));
    };
    add_tokens("input", r.input_tokens);
    add_tokens("output", r.output_tokens);
    add_tokens("cache_creation", r.cache_creation_tokens);
    add_tokens("cache_read", r.cache_read_tokens);
    if (r.git_sync_failed) f.git_failures.Add({}).Increment();
    if (r.processes_killed > 0) f.killed.Add({}).Increment(r.processes_killed);
}

void Metrics::record_warm_hit() {
    families_->warm_hits.Add({}).Increment();
}

void Metrics::record_warm_miss(std::string_view reason) {
    families_->warm_misses.Add({{"reason", std::string(reason)}}).Increment();
}

void Metrics::record_warm_discard(std::string_view reason) {
    families_->warm_discards.Add({{"reason", std::string(reason)}}).Increment();
}

void Metrics::record_chat_session(std::string_view how) {
    families_->chat_sessions.Add({{"how", std::string(how)}}).Increment();
}

void Metrics::record_session_copy(std::string_view result) {
    families_->session_copies.Add({{"result", std::string(result)}}).Increment();
}

void Metrics::record_session_restore(std::string_view result) {
    families_->session_restores.Add({{"result", std::string(result)}}).Increment();
}

void Metrics::record_webhook_attempt(std::string_view result,
                                     std::chrono::duration<double> duration) {
    auto& f = *families_;
    f.webhook_attempts.Add({{"result", std::string(result)}}).Increment();
    f.webhook_seconds.Add({}, request_buckets()).Observe(duration.count());
}

void Metrics::record_webhook_delivery(std::string_view outcome) {
    families_->webhook_deliveries.Add({{"outcome", std::string(outcome)}}).Increment();
}

std::string Metrics::scrape() const {
    auto& f = *families_;
    f.slot_busy.Add({}).Set(f.read_busy && f.read_busy() ? 1 : 0);
    f.queue_depth.Add({}).Set(f.read_queue ? static_cast<double>(f.read_queue()) : 0);
    f.warm_waiting.Add({}).Set(f.read_warm_waiting && f.read_warm_waiting() ? 1 : 0);
    f.replicas_live.Add({}).Set(f.read_replicas ? static_cast<double>(f.read_replicas()) : 0);
    return pm::TextSerializer().Serialize(f.registry->Collect());
}

}  // namespace cas
