// What the PostgreSQL store's files share (its methods are split over postgres_job_store.cpp,
// postgres_job_store_replicas.cpp and postgres_job_store_sessions.cpp to keep each short):
// the advisory-lock keys and NOTIFY channels, which must agree everywhere, and the helpers of
// more than one file. Internal to the store: nothing else includes it.
#pragma once

#include "jobs/job.hpp"
#include "jobs/job_store.hpp"
#include "pg/connection.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <string_view>

namespace cas::jobs::postgres_detail {

// Advisory locks: migrating (replicas starting together migrate once), admitting a new job
// (the queue's bound and FIFO are counts: one admission at a time, cluster-wide), and the
// sweeps that one replica at a time does.
inline constexpr std::int64_t kMigrationLock = 0x636173'00;
inline constexpr std::int64_t kAdmissionLock = 0x636173'01;
inline constexpr std::int64_t kLeaseSweepLock = 0x636173'02;
inline constexpr std::int64_t kRetentionLock = 0x636173'03;

// The database's clock, in unix seconds: leases compare times written by different machines.
inline constexpr const char* kNow = "extract(epoch from clock_timestamp())::bigint";
// The same in milliseconds (the webhooks' outbox: retries may be due sub-second apart).
inline constexpr const char* kNowMs = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

// NOTIFY channels: a job was queued (wake an idle replica), a running job is to be cancelled
// (its id; its owner stops it), a running job's log grew (its id), finished records were
// deleted (the replicas drop their cached ones).
inline constexpr const char* kQueuedChannel = "cas_job_queued";
inline constexpr const char* kCancelChannel = "cas_job_cancel";
inline constexpr const char* kEventsChannel = "cas_job_events";
inline constexpr const char* kDeletedChannel = "cas_jobs_deleted";

// Separates a batch of events in one parameter: SSE events carry JSON, which never holds a
// raw control character.
inline constexpr char kEventSeparator = '\x1e';

// A stored record read back; one that is not valid JSON is a StoreError.
Job read_record(std::string_view text);

// A database error as the StoreError callers expect (a 503 to the client).
[[noreturn]] void throw_store_error(const pg::Error& e);

// Begins a transaction holding the advisory lock `key` until its end: waiting for it, or
// (`wait` false) only if it is free; whether it is held.
boost::asio::awaitable<bool> begin_locked(pg::Connection& connection, std::int64_t key, bool wait);

// Updates a record (status, texts); with `owner`, only while it holds the running attempt.
boost::asio::awaitable<bool> update_record(pg::Connection& connection, const Job& job,
                                           const Ownership* owner);

}  // namespace cas::jobs::postgres_detail
