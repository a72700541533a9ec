// Job records in one SQLite file (WAL mode), schema versioned by `PRAGMA user_version`
// with forward migrations. Calls run on the caller's thread and complete without
// suspending: each is one short statement or transaction on a local file (see bench/ for
// what they cost).
#pragma once

#include "jobs/job_store.hpp"

#include <memory>
#include <string>

struct sqlite3;

namespace cas::jobs {

class SqliteIntegrityCheck;

class SqliteJobStore final : public JobStore {
public:
    // Opens (creating if needed) `path`; throws StoreError.
    explicit SqliteJobStore(const std::string& path);
    ~SqliteJobStore() override;
    SqliteJobStore(const SqliteJobStore&) = delete;
    SqliteJobStore& operator=(const SqliteJobStore&) = delete;

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
    [[nodiscard]] bool shared() const override { return false; }
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

    class StatementCache;

private:
    std::int64_t insert_row(const Job& job, const std::string* owner, std::int64_t lease_seconds);
    // The record's texts and status; with `owner`, only while it holds the running attempt.
    bool update_record(const Job& job, const Ownership* owner);
    std::size_t count_queued();
    // Running jobs matching `condition` (SQL with ?1 bound to `value`) become interrupted.
    std::vector<Job> interrupt_where(const std::string& condition, std::int64_t value,
                                     bool lease_lost);

    sqlite3* db_ = nullptr;
    std::unique_ptr<StatementCache> cache_;
    std::unique_ptr<SqliteIntegrityCheck> integrity_check_;
};

}  // namespace cas::jobs
