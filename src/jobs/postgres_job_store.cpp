// Each record is stored whole as JSON text (what GET /jobs/{id} returns) plus its summary
// (what GET /jobs lists) and the columns the queries filter and order on, as in the SQLite
// store. `seq` orders jobs by creation and is the listing cursor.
#include "jobs/postgres_job_store.hpp"

#include "jobs/job_state.hpp"
#include "jobs/postgres_store_internal.hpp"
#include "util/json_limits.hpp"
#include "util/json_text.hpp"
#include "util/wall_clock.hpp"

#include <fmt/format.h>

namespace cas::jobs {
namespace asio = boost::asio;
using namespace postgres_detail;  // the store's shared keys and helpers

namespace {

// Schema migrations, in order; cas_schema.version is the number applied.
constexpr const char* kMigrations[] = {
    R"(CREATE TABLE jobs (
         seq bigserial PRIMARY KEY,
         id text NOT NULL UNIQUE,
         status text NOT NULL,
         agent text NOT NULL,
         finished_unix bigint,
         idempotency_key text,
         created_unix bigint NOT NULL,
         summary text NOT NULL,
         record text NOT NULL,
         owner text,
         attempt integer NOT NULL DEFAULT 0,
         lease_expires_unix bigint,
         cancel_requested boolean NOT NULL DEFAULT false);
       CREATE INDEX jobs_status ON jobs (status, seq);
       CREATE INDEX jobs_agent ON jobs (agent, seq);
       CREATE INDEX jobs_finished ON jobs (finished_unix) WHERE finished_unix IS NOT NULL;
       CREATE UNIQUE INDEX jobs_idempotency ON jobs (idempotency_key)
         WHERE idempotency_key IS NOT NULL;
       CREATE INDEX jobs_queued ON jobs (seq) WHERE status = 'queued';
       CREATE INDEX jobs_leases ON jobs (lease_expires_unix) WHERE status = 'running';
       CREATE TABLE replicas (
         id text PRIMARY KEY,
         heartbeat_unix bigint NOT NULL,
         busy boolean NOT NULL);
       CREATE TABLE job_events (
         job_id text NOT NULL,
         seq integer NOT NULL,
         data text NOT NULL,
         PRIMARY KEY (job_id, seq));
       CREATE TABLE sessions (
         session_id text PRIMARY KEY,
         data bytea NOT NULL,
         saved_unix bigint NOT NULL);
       CREATE INDEX sessions_saved ON sessions (saved_unix);
       CREATE TABLE conversations (
         key text PRIMARY KEY,
         session_id text NOT NULL,
         model text NOT NULL,
         agent text NOT NULL,
         saved_unix bigint NOT NULL);
       CREATE INDEX conversations_saved ON conversations (saved_unix);)",
    // Responses API answers (job_store.hpp: StoredResponse), pruned with the conversations.
    R"(CREATE TABLE responses (
         id text PRIMARY KEY,
         session_id text NOT NULL,
         agent text NOT NULL,
         body text NOT NULL,
         saved_unix bigint NOT NULL);
       CREATE INDEX responses_saved ON responses (saved_unix);)",
    // Completion webhooks' outbox (job_store.hpp): when a delivery is due, and who holds it.
    R"(ALTER TABLE jobs ADD COLUMN webhook_due_ms bigint;
       ALTER TABLE jobs ADD COLUMN webhook_claim text;
       CREATE INDEX jobs_webhooks_due ON jobs (webhook_due_ms) WHERE webhook_due_ms IS NOT NULL;)",
};

// A record as stored: its summary and whole JSON (parameters refer to these).
struct RecordTexts {
    explicit RecordTexts(const Job& job)
        : summary(json_text(to_summary_json(job))), record(json_text(to_json(job))) {}
    std::string summary;
    std::string record;
};

}  // namespace

namespace postgres_detail {

Job read_record(std::string_view text) {
    boost::system::error_code ec;
    auto value = parse_json(text, ec);
    if (ec) throw StoreError("job store: a stored record is not valid JSON");
    return job_from_json(value);
}

[[noreturn]] void throw_store_error(const pg::Error& e) {
    throw StoreError(fmt::format("job database: {}", e.what()));
}

asio::awaitable<bool> begin_locked(pg::Connection& connection, std::int64_t key, bool wait) {
    co_await connection.execute("BEGIN");
    pg::Params lock;
    lock.integer(key);
    auto got = co_await connection.query(wait ? "SELECT pg_advisory_xact_lock($1::bigint), true"
                                              : "SELECT pg_try_advisory_xact_lock($1::bigint)",
                                         lock);
    co_return got.boolean(0, wait ? 1 : 0);
}

asio::awaitable<bool> update_record(pg::Connection& connection, const Job& job,
                                    const Ownership* owner) {
    RecordTexts texts(job);
    pg::Params params;
    params.text(job.id).text(to_string(job.status));
    if (is_finished(job.status)) {
        params.integer(unix_seconds());
    } else {
        params.null();
    }
    params.text(texts.summary).text(texts.record).integer(webhook_due(job) ? 1 : 0);
    auto sql = fmt::format(R"(
        UPDATE jobs SET status = $2, finished_unix = $3, summary = $4, record = $5,
                        webhook_due_ms = CASE WHEN $6::integer = 1 THEN {} END
        WHERE id = $1)",
                           kNowMs);
    if (owner != nullptr) {
        params.text(owner->replica).integer(owner->attempt);
        sql += " AND owner = $7 AND attempt = $8 AND status = 'running'";
    }
    auto result = co_await connection.query(sql, params);
    co_return result.affected() == 1;
}

}  // namespace postgres_detail

PostgresJobStore::PostgresJobStore(const asio::any_io_executor& executor, pg::PoolSettings settings)
    : pool_(executor, std::move(settings)) {}

asio::awaitable<std::unique_ptr<PostgresJobStore>> PostgresJobStore::open(
    asio::any_io_executor executor, pg::PoolSettings settings) {
    std::unique_ptr<PostgresJobStore> store(new PostgresJobStore(executor, std::move(settings)));
    co_await store->migrate();
    co_return store;
}

asio::awaitable<void> PostgresJobStore::migrate() {
    try {
        auto connection = co_await pool_.acquire();
        co_await begin_locked(*connection, kMigrationLock, true);
        co_await connection->execute(
            "CREATE TABLE IF NOT EXISTS cas_schema (version integer NOT NULL);"
            "INSERT INTO cas_schema SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM cas_schema)");
        pg::Params none;
        auto version = co_await connection->query("SELECT version FROM cas_schema", none);
        auto applied = version.integer(0, 0);
        constexpr auto kLatest = static_cast<std::int64_t>(std::size(kMigrations));
        if (applied > kLatest) {
            throw StoreError(
                fmt::format("job database: schema version {} is newer than this build knows ({})",
                            applied, kLatest));
        }
        for (auto v = applied; v < kLatest; ++v) co_await connection->execute(kMigrations[v]);
        pg::Params latest;
        latest.integer(kLatest);
        co_await connection->query("UPDATE cas_schema SET version = $1::integer", latest);
        co_await connection->execute("COMMIT");
        // A lease given back inside a transaction (a failure above) is dropped, which rolls
        // it back: see Connection::broken().
    } catch (const pg::Error& e) {
        throw_store_error(e);
    }
}

asio::awaitable<pg::Result> PostgresJobStore::query(std::string_view sql, const pg::Params& params,
                                                    pg::ResultFormat format) {
    try {
        auto connection = co_await pool_.acquire();
        auto result = co_await connection->query(sql, params, format);
        co_return result;
    } catch (const pg::Error& e) {
        throw_store_error(e);
    }
}

JobStore::Awaitable<void> PostgresJobStore::save(const Job& job) {
    auto summary = json_text(to_summary_json(job));
    auto record = json_text(to_json(job));
    pg::Params params;
    params.text(job.id).text(to_string(job.status)).text(job.agent);
    if (is_finished(job.status)) {
        params.integer(unix_seconds());
    } else {
        params.null();
    }
    params.optional_text(job.idempotency_key).integer(unix_seconds()).text(summary).text(record);
    params.integer(webhook_due(job) ? 1 : 0);
    co_await query(fmt::format(R"(
        INSERT INTO jobs (id, status, agent, finished_unix, idempotency_key, created_unix,
                          summary, record, webhook_due_ms)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, CASE WHEN $9::integer = 1 THEN {} END)
        ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status,
          finished_unix = EXCLUDED.finished_unix, summary = EXCLUDED.summary,
          record = EXCLUDED.record, webhook_due_ms = EXCLUDED.webhook_due_ms)",
                               kNowMs),
                   params);
}

JobStore::Awaitable<std::optional<Job>> PostgresJobStore::find(std::string_view id) {
    pg::Params params;
    params.text(id);
    auto result = co_await query("SELECT record FROM jobs WHERE id = $1", params);
    // Named, not `co_return std::nullopt`: GCC 12 miscompiles that for an optional<Job>.
    std::optional<Job> found;
    if (result.rows() != 0) found = read_record(result.text(0, 0));
    co_return found;
}

JobStore::Awaitable<JobPage> PostgresJobStore::list(const JobFilter& filter) {
    // Only the conditions in use, numbered as they come: PostgreSQL refuses a parameter
    // that no condition types.
    std::string sql = "SELECT seq, summary FROM jobs WHERE true";
    pg::Params params;
    std::string status = filter.status ? std::string(to_string(*filter.status)) : "";
    if (filter.status) {
        params.text(status);
        sql += fmt::format(" AND status = ${}", params.size());
    }
    if (filter.agent) {
        params.text(*filter.agent);
        sql += fmt::format(" AND agent = ${}", params.size());
    }
    if (filter.before) {
        params.integer(*filter.before);
        sql += fmt::format(" AND seq < ${}", params.size());
    }
    params.integer(static_cast<std::int64_t>(filter.limit));
    sql += fmt::format(" ORDER BY seq DESC LIMIT ${}", params.size());
    auto result = co_await query(sql, params);
    JobPage page;
    for (int row = 0; row < result.rows(); ++row) {
        boost::system::error_code ec;
        auto summary = parse_json(result.text(row, 1), ec);
        if (ec) throw StoreError("job store: a stored summary is not valid JSON");
        page.jobs.push_back(std::move(summary));
    }
    if (result.rows() > 0 && page.jobs.size() == filter.limit) {
        page.next = result.integer(result.rows() - 1, 0);
    }
    co_return page;
}

JobStore::Awaitable<std::optional<Job>> PostgresJobStore::find_by_idempotency_key(
    std::string_view key, std::int64_t since_unix) {
    pg::Params params;
    params.text(key).integer(since_unix);
    auto result = co_await query(R"(
        SELECT record FROM jobs WHERE idempotency_key = $1 AND created_unix >= $2
        ORDER BY seq DESC LIMIT 1)",
                                 params);
    std::optional<Job> found;  // named: see find
    if (result.rows() != 0) found = read_record(result.text(0, 0));
    co_return found;
}

JobStore::Awaitable<Inserted> PostgresJobStore::insert(const Job& job, const InsertRules& rules) {
    try {
        auto connection = co_await pool_.acquire();
        co_await begin_locked(*connection, kAdmissionLock, true);
        if (job.idempotency_key) {
            pg::Params key;
            key.text(*job.idempotency_key).integer(rules.key_since_unix);
            auto earlier = co_await connection->query(
                "SELECT record, created_unix >= $2 FROM jobs WHERE idempotency_key = $1", key);
            if (earlier.rows() > 0 && earlier.boolean(0, 1)) {
                auto existing = read_record(earlier.text(0, 0));
                co_await connection->execute("COMMIT");
                co_return Inserted{Inserted::Kind::key_taken, std::move(existing), 0};
            }
            if (earlier.rows() > 0) {  // used before the window: the key is free again
                pg::Params stale;
                stale.text(*job.idempotency_key);
                co_await connection->query(
                    "UPDATE jobs SET idempotency_key = NULL WHERE idempotency_key = $1", stale);
            }
        }
        pg::Params who;
        who.text(rules.owner.replica).integer(rules.lease_seconds);
        auto counts = co_await connection->query(fmt::format(R"(
                SELECT (SELECT count(*) FROM jobs WHERE status = 'queued'),
                       (SELECT count(*) FROM replicas
                        WHERE id <> $1 AND NOT busy AND heartbeat_unix >= {} - $2))",
                                                             kNow),
                                                 who);
        auto queued = static_cast<std::size_t>(counts.integer(0, 0));
        Job saved = job;
        Inserted::Kind kind = Inserted::Kind::queued;
        if (rules.start_here && queued == 0) {
            mark_running(saved, saved.created_at);
            kind = Inserted::Kind::started;
        } else {
            auto capacity = rules.queue_depth > 0 ? rules.queue_depth
                                                  : static_cast<std::size_t>(counts.integer(0, 1));
            if (queued >= capacity) {
                co_await connection->execute("COMMIT");
                co_return Inserted{Inserted::Kind::full, std::move(saved), 0};
            }
            saved.status = JobStatus::queued;
        }
        RecordTexts texts(saved);
        pg::Params row;
        row.text(saved.id)
            .text(to_string(saved.status))
            .text(saved.agent)
            .optional_text(saved.idempotency_key)
            .integer(unix_seconds())
            .text(texts.summary)
            .text(texts.record);
        if (kind == Inserted::Kind::started) {
            row.text(rules.owner.replica).integer(rules.lease_seconds);
            co_await connection->query(fmt::format(R"(
                    INSERT INTO jobs (id, status, agent, idempotency_key, created_unix, summary,
                                      record, owner, attempt, lease_expires_unix)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, {} + $9))",
                                                   kNow),
                                       row);
        } else {
            co_await connection->query(R"(
                INSERT INTO jobs (id, status, agent, idempotency_key, created_unix, summary, record)
                VALUES ($1, $2, $3, $4, $5, $6, $7))",
                                       row);
            co_await connection->execute(fmt::format("NOTIFY {}", kQueuedChannel));
        }
        co_await connection->execute("COMMIT");
        co_return Inserted{kind, std::move(saved), kind == Inserted::Kind::queued ? queued + 1 : 0};
    } catch (const pg::Error& e) {
        throw_store_error(e);
    }
}

JobStore::Awaitable<std::optional<std::pair<Job, Ownership>>> PostgresJobStore::claim(
    const std::string& replica, std::int64_t lease_seconds) {
    try {
        auto connection = co_await pool_.acquire();
        co_await connection->execute("BEGIN");
        // The CTE picks one row (a plain subquery may be run for more than one), skipping
        // those another replica is claiming right now.
        pg::Params params;
        params.text(replica).integer(lease_seconds);
        auto taken = co_await connection->query(fmt::format(R"(
                WITH next AS (
                  SELECT seq FROM jobs WHERE status = 'queued' ORDER BY seq LIMIT 1
                  FOR UPDATE SKIP LOCKED)
                UPDATE jobs SET status = 'running', owner = $1, attempt = jobs.attempt + 1,
                                lease_expires_unix = {} + $2, cancel_requested = false
                FROM next WHERE jobs.seq = next.seq
                RETURNING jobs.record, jobs.attempt)",
                                                            kNow),
                                                params);
        if (taken.rows() == 0) {
            co_await connection->execute("COMMIT");
            std::optional<std::pair<Job, Ownership>> none;  // named: see find
            co_return none;
        }
        auto job = read_record(taken.text(0, 0));
        Ownership owner{replica, taken.integer(0, 1)};
        mark_running(job, utc_now_iso());
        co_await update_record(*connection, job, &owner);
        co_await connection->execute("COMMIT");
        co_return std::pair{std::move(job), std::move(owner)};
    } catch (const pg::Error& e) {
        throw_store_error(e);
    }
}

JobStore::Awaitable<LeaseState> PostgresJobStore::renew(std::string_view id, const Ownership& owner,
                                                        std::int64_t lease_seconds) {
    pg::Params params;
    params.text(id).text(owner.replica).integer(owner.attempt).integer(lease_seconds);
    auto result = co_await query(fmt::format(R"(
        UPDATE jobs SET lease_expires_unix = {} + $4
        WHERE id = $1 AND owner = $2 AND attempt = $3 AND status = 'running'
        RETURNING cancel_requested)",
                                             kNow),
                                 params);
    if (result.rows() == 0) co_return LeaseState{false, false};
    co_return LeaseState{true, result.boolean(0, 0)};
}

JobStore::Awaitable<bool> PostgresJobStore::save_owned(const Job& job, const Ownership& owner) {
    try {
        auto connection = co_await pool_.acquire();
        auto saved = co_await update_record(*connection, job, &owner);
        co_return saved;
    } catch (const pg::Error& e) {
        throw_store_error(e);
    }
}

JobStore::Awaitable<CancelRequest> PostgresJobStore::request_cancel(std::string_view id) {
    try {
        auto connection = co_await pool_.acquire();
        co_await connection->execute("BEGIN");
        pg::Params params;
        params.text(id);
        auto found =
            co_await connection->query("SELECT record FROM jobs WHERE id = $1 FOR UPDATE", params);
        if (found.rows() == 0) {
            co_await connection->execute("COMMIT");
            co_return CancelRequest{CancelRequest::Kind::not_found, std::nullopt};
        }
        auto job = read_record(found.text(0, 0));
        auto kind = CancelRequest::Kind::finished;
        if (job.status == JobStatus::queued) {
            mark_cancelled_before_run(job, utc_now_iso());
            co_await update_record(*connection, job, nullptr);
            kind = CancelRequest::Kind::cancelled;
        } else if (job.status == JobStatus::running) {
            pg::Params notice;
            notice.text(id);
            co_await connection->query("UPDATE jobs SET cancel_requested = true WHERE id = $1",
                                       notice);
            co_await connection->query(fmt::format("SELECT pg_notify('{}', $1)", kCancelChannel),
                                       notice);
            kind = CancelRequest::Kind::requested;
        }
        co_await connection->execute("COMMIT");
        co_return CancelRequest{kind, std::move(job)};
    } catch (const pg::Error& e) {
        throw_store_error(e);
    }
}

JobStore::Awaitable<std::size_t> PostgresJobStore::prune(std::int64_t cutoff_unix,
                                                         std::size_t max_records) {
    // One replica at a time (the others skip this round), in one statement: the old ones,
    // then the oldest finished ones beyond the bound among what is left (a data-modifying
    // CTE sees the rows as they were, so the second excludes the first's explicitly), and
    // the shared events of jobs that ended ten minutes ago or are gone (their replica died
    // before it dropped them).
    try {
        auto connection = co_await pool_.acquire();
        auto held = co_await begin_locked(*connection, kRetentionLock, false);
        std::size_t deleted = 0;
        if (held) {
            pg::Params params;
            params.integer(cutoff_unix).integer(static_cast<std::int64_t>(max_records));
            auto result = co_await connection->query(fmt::format(R"(
                WITH old AS (
                  DELETE FROM jobs WHERE finished_unix IS NOT NULL AND finished_unix < $1
                  RETURNING seq),
                excess AS (
                  DELETE FROM jobs WHERE seq IN (
                    SELECT seq FROM jobs WHERE finished_unix IS NOT NULL AND finished_unix >= $1
                    ORDER BY seq
                    LIMIT greatest(0, (SELECT count(*) FROM jobs) - (SELECT count(*) FROM old) - $2))
                  RETURNING seq),
                stale_events AS (
                  DELETE FROM job_events e WHERE NOT EXISTS (
                    SELECT 1 FROM jobs j WHERE j.id = e.job_id
                    AND (j.finished_unix IS NULL OR j.finished_unix >= {} - 600)))
                SELECT (SELECT count(*) FROM old) + (SELECT count(*) FROM excess))",
                                                                 kNow),
                                                     params);
            deleted = static_cast<std::size_t>(result.integer(0, 0));
            // Sent at COMMIT, to every listener (this replica too).
            if (deleted > 0)
                co_await connection->execute(fmt::format("NOTIFY {}", kDeletedChannel));
        }
        co_await connection->execute("COMMIT");
        co_return deleted;
    } catch (const pg::Error& e) {
        throw_store_error(e);
    }
}

}  // namespace cas::jobs
