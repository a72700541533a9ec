// Job records in PostgreSQL, shared by every replica that names the same DATABASE_URL.
// The same contract as the SQLite store (job_store_contract_test.cpp runs on both); the
// schema is versioned in `cas_schema` and migrated at start-up under an advisory lock, so
// replicas starting together migrate once. Every call borrows a pooled connection driven
// from the io_context (pg/pool.hpp); a database that is down is a StoreError (503).
#pragma once

#include "jobs/job_store.hpp"
#include "pg/pool.hpp"

#include <memory>
#include <string>

namespace cas::jobs {

class PostgresJobStore final : public JobStore {
public:
    // Connects and migrates; throws StoreError.
    static boost::asio::awaitable<std::unique_ptr<PostgresJobStore>> open(
        boost::asio::any_io_executor executor, pg::PoolSettings settings);

    Awaitable<void> save(const Job& job) override;
    Awaitable<std::optional<Job>> find(std::string_view id) override;
    Awaitable<JobPage> list(const JobFilter& filter) override;
    Awaitable<std::optional<Job>> find_by_idempotency_key(std::string_view key,
                                                          std::int64_t since_unix) override;
    Awaitable<Inserted> insert(const Job& job, const InsertRules& rules) override;
    Awaitable<std::optional<std::pair<Job, Ownership>>> claim(const std::string& replica,
                                                              std::int64_t lease_seconds) override;
    Awaitable<LeaseState> renew(std::string_view id, const Ownership& owner,
                                std::int64_t lease_seconds) override;
    Awaitable<bool> save_owned(const Job& job, const Ownership& owner) override;
    Awaitable<CancelRequest> request_cancel(std::string_view id) override;
    Awaitable<std::vector<Job>> interrupt_expired() override;
    Awaitable<std::vector<Job>> interrupt_leftovers(const std::string& replica) override;
    Awaitable<ClusterState> heartbeat(const std::string& replica, bool busy,
                                      std::int64_t lease_seconds) override;
    Awaitable<void> leave(const std::string& replica) override;
    Awaitable<std::vector<StoreNotice>> notices() override;
    Awaitable<void> append_events(std::string_view id, std::size_t first_seq,
                                  const std::vector<std::string>& events) override;
    Awaitable<std::vector<std::string>> events_from(std::string_view id, std::size_t seq) override;
    Awaitable<void> drop_events(std::string_view id) override;
    [[nodiscard]] bool shared() const override { return true; }
    Awaitable<std::size_t> prune(std::int64_t cutoff_unix, std::size_t max_records) override;
    Awaitable<std::optional<WebhookClaim>> claim_webhook(std::int64_t claim_ms) override;
    Awaitable<bool> save_webhook(const Job& job, std::string_view token,
                                 std::optional<std::int64_t> retry_in_ms) override;
    Awaitable<std::optional<std::int64_t>> next_webhook_in() override;
    Awaitable<WebhookRetry> retry_webhook(std::string_view id) override;
    Awaitable<void> save_session(std::string_view session_id, std::string_view bytes) override;
    Awaitable<std::optional<std::string>> find_session(std::string_view session_id) override;
    Awaitable<void> save_conversation(const Conversation& conversation) override;
    Awaitable<std::optional<Conversation>> find_conversation(std::string_view key,
                                                             std::int64_t since_unix) override;
    Awaitable<void> save_response(const StoredResponse& response) override;
    Awaitable<std::optional<StoredResponse>> find_response(std::string_view id,
                                                           std::int64_t since_unix) override;
    Awaitable<bool> delete_response(std::string_view id) override;
    Awaitable<std::size_t> prune_sessions(std::int64_t conversations_before_unix,
                                          std::int64_t sessions_before_unix) override;

    [[nodiscard]] pg::Pool& pool() { return pool_; }

private:
    PostgresJobStore(const boost::asio::any_io_executor& executor, pg::PoolSettings settings);
    Awaitable<void> migrate();
    // One statement on a pooled connection; a pg::Error becomes a StoreError.
    Awaitable<pg::Result> query(std::string_view sql, const pg::Params& params,
                                pg::ResultFormat format = pg::ResultFormat::text);

    // Running jobs matching `condition` (SQL on `params`) become interrupted.
    Awaitable<std::vector<Job>> interrupt_where(std::string condition, pg::Params params,
                                                bool lease_lost);

    pg::Pool pool_;
    std::unique_ptr<pg::Connection> listener_;  // LISTENs for notices(), outside the pool
};

}  // namespace cas::jobs
