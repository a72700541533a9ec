// What a replica does for the cluster besides running jobs: its heartbeat and the sweep of
// leases that ran out, the notices other replicas send through the store, and retention. A
// file apart from job_registry.cpp (admission, runs, cancel) to keep each short.
#include "jobs/job_registry.hpp"
#include "jobs/store_outage.hpp"
#include "telemetry/log.hpp"
#include "util/wall_clock.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

namespace cas::jobs {
namespace asio = boost::asio;
using namespace boost::asio::experimental::awaitable_operators;

asio::awaitable<void> JobRegistry::heartbeat() {
    Timer tick(executor_);
    auto last_sweep = std::chrono::steady_clock::now() - options_.lease;
    StoreOutage outage("replica heartbeat failed");
    while (!stopping_.requested()) {
        try {
            cluster_ = co_await store_.heartbeat(options_.replica_id, runs_.busy(),
                                                 options_.lease.count());
            if (std::chrono::steady_clock::now() - last_sweep >= options_.lease / 2) {
                last_sweep = std::chrono::steady_clock::now();
                auto interrupted = co_await store_.interrupt_expired();
                for (const auto& job : interrupted) {
                    log::warn("job interrupted: its replica stopped renewing its lease",
                              {{"job_id", job.id}});
                }
                if (!interrupted.empty()) jobs_changed_.notify();
            }
            outage.ok();
        } catch (const StoreError& e) {
            outage.failed(e);
        }
        tick.expires_after(
            std::min<std::chrono::milliseconds>(options_.lease / 3, std::chrono::seconds(5)));
        co_await (tick.async_wait() || beat_now_.wait() || stopping_.wait());
    }
    try {
        co_await store_.leave(options_.replica_id);
    } catch (const StoreError& e) {
        log::warn("cannot sign off this replica", {{"error", e.what()}});
    }
}

asio::awaitable<void> JobRegistry::listen() {
    Timer pause(executor_);
    while (!stopping_.requested()) {
        std::vector<StoreNotice> notices;
        bool failed = false;
        try {
            auto woke = co_await (store_.notices() || stopping_.wait());
            if (woke.index() == 1) co_return;
            notices = std::get<0>(std::move(woke));
        } catch (const StoreError& e) {
            log::warn("cannot listen for other replicas; retrying", {{"error", e.what()}});
            failed = true;
        }
        if (failed) {  // the polls cover what is missed meanwhile; deletions, this:
            finished_records_.clear();
            pause.expires_after(std::chrono::seconds(1));
            co_await (pause.async_wait() || stopping_.wait());
            continue;
        }
        for (const auto& notice : notices) {
            if (notice.kind == StoreNotice::Kind::queued) {
                queue_changed_.notify();
            } else if (notice.kind == StoreNotice::Kind::events) {
                jobs_changed_.notify();  // wakes readers of jobs running elsewhere
            } else if (notice.kind == StoreNotice::Kind::records_deleted) {
                finished_records_.clear();
            } else if (auto it = active_.find(notice.job_id); it != active_.end()) {
                it->second.cancel->request();
            }
        }
    }
}

asio::awaitable<void> JobRegistry::sweep() {
    Timer timer(executor_);
    // Not before the first requests: a sweep of a large store holds this thread for a while
    // (it counts the table when the rules may delete), and start-up should not wait for it.
    timer.expires_after(
        std::min<std::chrono::milliseconds>(options_.sweep_interval, std::chrono::seconds(5)));
    co_await (timer.async_wait() || stopping_.wait());
    while (!stopping_.requested()) {
        try {
            auto now = unix_seconds();
            auto deleted =
                co_await store_.prune(now - options_.retention.count(), options_.max_records);
            if (deleted > 0) {
                finished_records_.clear();
                log::info("old job records deleted", {{"count", deleted}});
            }
            auto sessions_kept = std::max(options_.retention, options_.session_ttl);
            auto forgotten = co_await store_.prune_sessions(now - options_.session_ttl.count(),
                                                            now - sessions_kept.count());
            if (forgotten > 0)
                log::info("old conversations and sessions deleted", {{"count", forgotten}});
        } catch (const std::exception& e) {
            log::error("retention sweep failed", {{"error", e.what()}});
        }
        timer.expires_after(options_.sweep_interval);
        co_await (timer.async_wait() || stopping_.wait());
    }
}

}  // namespace cas::jobs
