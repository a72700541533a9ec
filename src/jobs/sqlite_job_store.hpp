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
    Awaitable<std::vector<Job>> unfinished() override;
    Awaitable<std::size_t> prune(std::int64_t cutoff_unix, std::size_t max_records) override;
    Awaitable<void> save_session(std::string_view session_id, std::string_view bytes) override;
    Awaitable<std::optional<std::string>> find_session(std::string_view session_id) override;
    Awaitable<void> save_conversation(const Conversation& conversation) override;
    Awaitable<std::optional<Conversation>> find_conversation(std::string_view key,
                                                             std::int64_t since_unix) override;
    Awaitable<std::size_t> prune_sessions(std::int64_t conversations_before_unix,
                                          std::int64_t sessions_before_unix) override;

    class StatementCache;

private:
    sqlite3* db_ = nullptr;
    std::unique_ptr<StatementCache> cache_;
};

}  // namespace cas::jobs
