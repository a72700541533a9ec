// What the replicas sharing one database do besides taking jobs: sweep expired leases and
// recover a restart's leftovers, beat their hearts, hear each other's NOTIFYs, and share the
// events of running jobs. A file apart from postgres_job_store.cpp to keep each short.
#include "jobs/job_state.hpp"
#include "jobs/postgres_job_store.hpp"
#include "jobs/postgres_store_internal.hpp"

#include <fmt/format.h>

namespace cas::jobs {
namespace asio = boost::asio;
using namespace postgres_detail;  // the store's shared keys and helpers

asio::awaitable<std::vector<Job>> PostgresJobStore::interrupt_where(std::string condition,
                                                                    pg::Params params,
                                                                    bool lease_lost) {
    try {
        auto connection = co_await pool_.acquire();
        std::vector<Job> jobs;
        if (!lease_lost) {
            co_await connection->execute("BEGIN");
        } else {  // lease sweeps: one replica at a time; the others skip this round
            auto held = co_await begin_locked(*connection, kLeaseSweepLock, false);
            if (!held) {
                co_await connection->execute("COMMIT");
                co_return jobs;
            }
        }
        auto found =
            co_await connection->query("SELECT record FROM jobs WHERE status = 'running' AND " +
                                           condition + " FOR UPDATE SKIP LOCKED",
                                       params);
        auto now = utc_now_iso();
        for (int row = 0; row < found.rows(); ++row) {
            auto job = read_record(found.text(row, 0));
            if (lease_lost) {
                mark_interrupted_lease_lost(job, now);
            } else {
                mark_interrupted_by_restart(job, now);
            }
            co_await update_record(*connection, job, nullptr);
            jobs.push_back(std::move(job));
        }
        co_await connection->execute("COMMIT");
        co_return jobs;
    } catch (const pg::Error& e) {
        throw_store_error(e);
    }
}

JobStore::Awaitable<std::vector<Job>> PostgresJobStore::interrupt_expired() {
    pg::Params none;
    auto jobs = co_await interrupt_where(fmt::format("lease_expires_unix < {}", kNow),
                                         std::move(none), true);
    co_return jobs;
}

JobStore::Awaitable<std::vector<Job>> PostgresJobStore::interrupt_leftovers(
    const std::string& replica) {
    pg::Params owner;
    owner.text(replica);
    auto jobs = co_await interrupt_where("owner = $1", std::move(owner), false);
    co_return jobs;
}

JobStore::Awaitable<ClusterState> PostgresJobStore::heartbeat(const std::string& replica, bool busy,
                                                              std::int64_t lease_seconds) {
    pg::Params params;
    params.text(replica).integer(busy ? 1 : 0).integer(lease_seconds);
    auto result = co_await query(fmt::format(R"(
        WITH beat AS (
          INSERT INTO replicas (id, heartbeat_unix, busy) VALUES ($1, {0}, $2::integer <> 0)
          ON CONFLICT (id) DO UPDATE SET heartbeat_unix = EXCLUDED.heartbeat_unix,
                                         busy = EXCLUDED.busy),
        gone AS (DELETE FROM replicas WHERE heartbeat_unix < {0} - 86400)
        SELECT (SELECT count(*) FROM jobs WHERE status = 'queued'),
               (SELECT count(*) FROM replicas WHERE id <> $1 AND heartbeat_unix >= {0} - $3) + 1)",
                                             kNow),
                                 params);
    co_return ClusterState{static_cast<std::size_t>(result.integer(0, 0)),
                           static_cast<std::size_t>(result.integer(0, 1))};
}

JobStore::Awaitable<void> PostgresJobStore::leave(const std::string& replica) {
    pg::Params params;
    params.text(replica);
    co_await query("DELETE FROM replicas WHERE id = $1", params);
}

JobStore::Awaitable<std::vector<StoreNotice>> PostgresJobStore::notices() {
    for (;;) {
        if (!listener_ || listener_->broken()) {
            const bool reconnecting = listener_ != nullptr;
            listener_.reset();
            try {
                auto connection = co_await pool_.connect();
                co_await connection->execute(
                    fmt::format("LISTEN {}; LISTEN {}; LISTEN {}; LISTEN {}", kQueuedChannel,
                                kCancelChannel, kEventsChannel, kDeletedChannel));
                listener_ = std::move(connection);
            } catch (const pg::Error& e) {
                throw_store_error(e);
            }
            // What was announced while no one listened is found by the callers' polls; a
            // deletion has none: say there may have been one.
            if (reconnecting) {
                std::vector<StoreNotice> maybe_missed{{StoreNotice::Kind::records_deleted, ""}};
                co_return maybe_missed;
            }
        }
        std::vector<pg::Notification> received;
        try {
            received = co_await listener_->notifications();
        } catch (const pg::Error& e) {
            throw_store_error(e);
        }
        std::vector<StoreNotice> notices;
        for (auto& n : received) {
            if (n.channel == kQueuedChannel) {
                notices.push_back({StoreNotice::Kind::queued, ""});
            } else if (n.channel == kCancelChannel) {
                notices.push_back({StoreNotice::Kind::cancel, std::move(n.payload)});
            } else if (n.channel == kEventsChannel) {
                notices.push_back({StoreNotice::Kind::events, std::move(n.payload)});
            } else if (n.channel == kDeletedChannel) {
                notices.push_back({StoreNotice::Kind::records_deleted, ""});
            }
        }
        if (!notices.empty()) co_return notices;
    }
}

JobStore::Awaitable<void> PostgresJobStore::append_events(std::string_view id,
                                                          std::size_t first_seq,
                                                          const std::vector<std::string>& events) {
    if (events.empty()) co_return;
    std::string batch;
    for (const auto& event : events) {
        if (!batch.empty()) batch += kEventSeparator;
        batch += event;
    }
    pg::Params params;
    params.text(id).integer(static_cast<std::int64_t>(first_seq)).text(batch);
    co_await query(fmt::format(R"(
        WITH added AS (
          INSERT INTO job_events (job_id, seq, data)
          SELECT $1, $2::integer + ordinality::integer - 1, data
          FROM unnest(string_to_array($3, chr({}))) WITH ORDINALITY AS batch(data, ordinality)
          ON CONFLICT DO NOTHING
          RETURNING 1)
        SELECT pg_notify('{}', $1) FROM (SELECT count(*) FROM added) AS done)",
                               static_cast<int>(kEventSeparator), kEventsChannel),
                   params);
}

JobStore::Awaitable<std::vector<std::string>> PostgresJobStore::events_from(std::string_view id,
                                                                            std::size_t seq) {
    pg::Params params;
    params.text(id).integer(static_cast<std::int64_t>(seq));
    auto result = co_await query(R"(
        SELECT data FROM job_events WHERE job_id = $1 AND seq >= $2 ORDER BY seq LIMIT 1000)",
                                 params);
    std::vector<std::string> events;
    events.reserve(static_cast<std::size_t>(result.rows()));
    for (int row = 0; row < result.rows(); ++row) events.emplace_back(result.text(row, 0));
    co_return events;
}

JobStore::Awaitable<void> PostgresJobStore::drop_events(std::string_view id) {
    pg::Params params;
    params.text(id);
    co_await query("DELETE FROM job_events WHERE job_id = $1", params);
}

}  // namespace cas::jobs
