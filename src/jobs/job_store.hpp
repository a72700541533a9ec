// Where job records live, behind a small interface: the job logic and the API see only
// this. Two implementations: SQLite in one file (sqlite_job_store.hpp, the embedded
// default) and PostgreSQL shared by replicas (store/postgres_job_store.hpp). Every call is
// awaited: a database on the network must never block the io_context's thread.
#pragma once

#include "jobs/job.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/json/value.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace cas::jobs {

struct JobFilter {
    std::optional<JobStatus> status;
    std::optional<std::string> agent;
    std::size_t limit = 50;
    std::optional<std::int64_t> before;  // cursor: only jobs created before this position
};

struct JobPage {
    std::vector<boost::json::value> jobs;  // summaries, newest first
    std::optional<std::int64_t> next;      // cursor for the next page, if there may be one
};

// The store cannot be opened, read or written (a full disk, a corrupt file, a database
// server that is down); the message says what and why. Every JobStore call may throw it.
class StoreError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// A chat conversation the service answered: the key of its messages and answer (see
// api/chat_continuation.hpp) → the CLI session that continues it.
struct Conversation {
    std::string key;
    std::string session_id;
    std::string model;
    std::string agent;
};

class JobStore {
public:
    template <class T>
    using Awaitable = boost::asio::awaitable<T>;

    virtual ~JobStore() = default;
    // Inserts or replaces the record with this id, durably, before returning.
    virtual Awaitable<void> save(const Job& job) = 0;
    virtual Awaitable<std::optional<Job>> find(std::string_view id) = 0;
    virtual Awaitable<JobPage> list(const JobFilter& filter) = 0;
    // The job created with this idempotency key at or after `since_unix`, if any.
    virtual Awaitable<std::optional<Job>> find_by_idempotency_key(std::string_view key,
                                                                  std::int64_t since_unix) = 0;
    // Queued and running jobs, oldest first (for recovery at start-up).
    virtual Awaitable<std::vector<Job>> unfinished() = 0;
    // Deletes finished jobs that finished before `cutoff_unix`, then the oldest finished ones
    // beyond `max_records` in total. Returns how many were deleted.
    virtual Awaitable<std::size_t> prune(std::int64_t cutoff_unix, std::size_t max_records) = 0;

    // Copies of the CLI's session files (sessions/session_keeper.hpp), by session id.
    virtual Awaitable<void> save_session(std::string_view session_id, std::string_view bytes) = 0;
    virtual Awaitable<std::optional<std::string>> find_session(std::string_view session_id) = 0;
    // Chat conversations by key, the newest saved at or after `since_unix`.
    virtual Awaitable<void> save_conversation(const Conversation& conversation) = 0;
    virtual Awaitable<std::optional<Conversation>> find_conversation(std::string_view key,
                                                                     std::int64_t since_unix) = 0;
    // Deletes conversations saved before `conversations_before_unix` and session copies
    // last saved before `sessions_before_unix`. Returns how many were deleted.
    virtual Awaitable<std::size_t> prune_sessions(std::int64_t conversations_before_unix,
                                                  std::int64_t sessions_before_unix) = 0;
};

}  // namespace cas::jobs
