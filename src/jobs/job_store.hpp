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
#include <utility>
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

// A Responses API answer (POST /v1/responses with `store`), kept for GET /v1/responses/{id}
// and for a later request's previous_response_id, which continues its CLI session.
struct StoredResponse {
    std::string id;          // resp_…
    std::string session_id;  // the CLI session that continues it (empty if there is none)
    std::string agent;       // the agent that answered (a session continues only with it)
    std::string body;        // the response object, as JSON text
};

// Which attempt at a job a replica holds: the fence on every write about a running job. A
// replica whose lease ran out (another replica marked the job interrupted) writes nothing
// more about it.
struct Ownership {
    std::string replica;
    std::int64_t attempt = 0;
};

struct InsertRules {
    Ownership owner;          // the inserting replica (attempt unused)
    bool start_here = false;  // it holds a free slot: the job may start there at once
    // Jobs that may wait cluster-wide; 0: as many as there are idle other replicas (so a
    // job is refused only when no replica could take it).
    std::size_t queue_depth = 0;
    std::int64_t key_since_unix = 0;  // an idempotency key counts if used at or after this
    std::int64_t lease_seconds = 30;
};

struct Inserted {
    // started: saved running, owned by the inserter (attempt 1); queued: saved queued;
    // full: nothing saved, nowhere to wait; key_taken: nothing saved, `existing` has the key.
    enum class Kind { started, queued, full, key_taken };
    Kind kind;
    Job job;                   // started, queued: as saved; key_taken: the earlier job
    std::size_t position = 0;  // queued: 1-based place among the queued jobs
};

struct LeaseState {
    bool owned = false;             // false: the lease is lost, stop the run and write nothing
    bool cancel_requested = false;  // DELETE /jobs/{id} reached another replica
};

struct CancelRequest {
    // cancelled: it was queued and is now cancelled (`job`); requested: it is running and
    // its owner was told to stop; finished: it had ended (`job` as it was).
    enum class Kind { not_found, finished, cancelled, requested };
    Kind kind;
    std::optional<Job> job;
};

struct ClusterState {
    std::size_t queued = 0;
    std::size_t live_replicas = 0;
};

// What another replica announced (PostgreSQL NOTIFY): a job was queued, a running job is to
// be cancelled (its id), or a running job's log has new events (its id).
struct StoreNotice {
    // records_deleted: another replica's retention sweep deleted finished records.
    enum class Kind { queued, cancel, events, records_deleted };
    Kind kind;
    std::string job_id;
};

// A completion webhook taken from the outbox by one sender (webhooks/webhook_sender.hpp):
// the job, and the token that fences what the sender writes back.
struct WebhookClaim {
    Job job;
    std::string token;
};

struct WebhookRetry {
    // retried: it had failed and is due again (`job` as saved); not_failed: it is pending or
    // delivered, or the job has no webhook (`job` as it is).
    enum class Kind { not_found, not_failed, retried };
    Kind kind;
    std::optional<Job> job;
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

    // The queue, shared by every replica of the store. A new job (`job`, status ignored),
    // admitted by `rules` in one transaction: the idempotency key, then FIFO (it starts at
    // once only if nothing is queued anywhere), then the queue's bound.
    virtual Awaitable<Inserted> insert(const Job& job, const InsertRules& rules) = 0;
    // The oldest queued job, now running, owned by `replica` (a new attempt, leased for
    // `lease_seconds`); none if nothing is queued.
    virtual Awaitable<std::optional<std::pair<Job, Ownership>>> claim(
        const std::string& replica, std::int64_t lease_seconds) = 0;
    // Extends the lease of a running job while `owner` still holds this attempt.
    virtual Awaitable<LeaseState> renew(std::string_view id, const Ownership& owner,
                                        std::int64_t lease_seconds) = 0;
    // Saves a record of a running job (its final one, usually) while `owner` holds the
    // attempt; false when it no longer does (nothing written).
    virtual Awaitable<bool> save_owned(const Job& job, const Ownership& owner) = 0;
    // Cancels a queued job, or asks the owner of a running one to stop it.
    virtual Awaitable<CancelRequest> request_cancel(std::string_view id) = 0;
    // Running jobs whose lease ran out (their replica died) become `interrupted`, by one
    // replica at a time; returns them. Not retried: a run changes its workspace.
    virtual Awaitable<std::vector<Job>> interrupt_expired() = 0;
    // At start-up: running jobs this replica left (a restart with the same REPLICA_ID, or
    // the only node of a SQLite store) become `interrupted` at once; returns them.
    virtual Awaitable<std::vector<Job>> interrupt_leftovers(const std::string& replica) = 0;
    // This replica is alive (and busy or idle); what the cluster looks like.
    virtual Awaitable<ClusterState> heartbeat(const std::string& replica, bool busy,
                                              std::int64_t lease_seconds) = 0;
    // This replica is leaving (shutdown).
    virtual Awaitable<void> leave(const std::string& replica) = 0;
    // Waits for what other replicas announce. A store without other replicas (SQLite)
    // never returns; PostgreSQL may lose some across a reconnect (callers also poll).
    virtual Awaitable<std::vector<StoreNotice>> notices() = 0;
    // The live event log (job_events.hpp) of a job running on one replica, for readers on
    // the others: the owner appends what its log gained, in order from `first_seq`; a
    // reader takes what follows what it has sent; the owner drops them a while after the
    // end (later readers replay the record). A store with one replica (SQLite) keeps none:
    // every running job's log is in memory where it is read.
    virtual Awaitable<void> append_events(std::string_view id, std::size_t first_seq,
                                          const std::vector<std::string>& events) = 0;
    virtual Awaitable<std::vector<std::string>> events_from(std::string_view id,
                                                            std::size_t seq) = 0;
    virtual Awaitable<void> drop_events(std::string_view id) = 0;
    // Whether other processes share this store (callers poll it as well as listen).
    [[nodiscard]] virtual bool shared() const = 0;
    // Deletes finished jobs that finished before `cutoff_unix`, then the oldest finished ones
    // beyond `max_records` in total. Returns how many were deleted.
    virtual Awaitable<std::size_t> prune(std::int64_t cutoff_unix, std::size_t max_records) = 0;

    // Completion webhooks: the outbox. Every write of a record whose job has ended with its
    // webhook pending makes the delivery due at once, in the same statement as the status
    // (so no crash between the two can lose it). A sender claims the one due first for
    // `claim_ms` (nobody else gets it meanwhile; if the sender dies, it is due again after),
    // and writes back its state after the attempt: due again `retry_in_ms` from now, or never
    // (delivered, failed); false if its claim ran out and another sender took it. Times are
    // the store's clock (the database server's, shared by replicas).
    virtual Awaitable<std::optional<WebhookClaim>> claim_webhook(std::int64_t claim_ms) = 0;
    virtual Awaitable<bool> save_webhook(const Job& job, std::string_view token,
                                         std::optional<std::int64_t> retry_in_ms) = 0;
    // Milliseconds until the next pending delivery is due (0 if it is), if there is one.
    virtual Awaitable<std::optional<std::int64_t>> next_webhook_in() = 0;
    // A failed delivery made pending again, due at once (jobs/job_state.hpp: retry_webhook).
    virtual Awaitable<WebhookRetry> retry_webhook(std::string_view id) = 0;

    // Copies of the CLI's session files (sessions/session_keeper.hpp), by session id.
    virtual Awaitable<void> save_session(std::string_view session_id, std::string_view bytes) = 0;
    virtual Awaitable<std::optional<std::string>> find_session(std::string_view session_id) = 0;
    // Chat conversations by key, the newest saved at or after `since_unix`.
    virtual Awaitable<void> save_conversation(const Conversation& conversation) = 0;
    virtual Awaitable<std::optional<Conversation>> find_conversation(std::string_view key,
                                                                     std::int64_t since_unix) = 0;
    // Responses API answers by id, saved at or after `since_unix`; delete says whether one was
    // there.
    virtual Awaitable<void> save_response(const StoredResponse& response) = 0;
    virtual Awaitable<std::optional<StoredResponse>> find_response(std::string_view id,
                                                                   std::int64_t since_unix) = 0;
    virtual Awaitable<bool> delete_response(std::string_view id) = 0;
    // Deletes conversations and responses saved before `conversations_before_unix` and session
    // copies last saved before `sessions_before_unix`. Returns how many were deleted.
    virtual Awaitable<std::size_t> prune_sessions(std::int64_t conversations_before_unix,
                                                  std::int64_t sessions_before_unix) = 0;
};

}  // namespace cas::jobs
