// Each record is stored whole as JSON text (what GET /jobs/{id} returns) plus its summary
// (what GET /jobs lists) and the columns the queries filter and order on, as in the SQLite
// store. `seq` orders jobs by creation and is the listing cursor.
#include "jobs/postgres_job_store.hpp"

#include "util/json_limits.hpp"
#include "util/json_text.hpp"
#include "util/wall_clock.hpp"

#include <fmt/format.h>

namespace cas::jobs {
namespace asio = boost::asio;

namespace {

// Held while migrating, so that replicas starting together migrate once ('cas' in ASCII).
constexpr std::int64_t kMigrationLock = 0x636173;

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
         record text NOT NULL);
       CREATE INDEX jobs_status ON jobs (status, seq);
       CREATE INDEX jobs_agent ON jobs (agent, seq);
       CREATE INDEX jobs_finished ON jobs (finished_unix) WHERE finished_unix IS NOT NULL;
       CREATE INDEX jobs_idempotency ON jobs (idempotency_key, created_unix)
         WHERE idempotency_key IS NOT NULL;
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
};

Job read_record(std::string_view text) {
    boost::system::error_code ec;
    auto value = parse_json(text, ec);
    if (ec) throw StoreError("job store: a stored record is not valid JSON");
    return job_from_json(value);
}

StoreError store_error(const pg::Error& e) {
    return StoreError(fmt::format("job database: {}", e.what()));
}

}  // namespace

PostgresJobStore::PostgresJobStore(const asio::any_io_executor& executor,
                                   pg::PoolSettings settings)
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
        co_await connection->execute("BEGIN");
        pg::Params lock;
        lock.integer(kMigrationLock);
        co_await connection->query("SELECT pg_advisory_xact_lock($1::bigint)", lock);
        co_await connection->execute(
            "CREATE TABLE IF NOT EXISTS cas_schema (version integer NOT NULL);"
            "INSERT INTO cas_schema SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM cas_schema)");
        pg::Params none;
        auto version = co_await connection->query("SELECT version FROM cas_schema", none);
        auto applied = version.integer(0, 0);
        constexpr auto kLatest = static_cast<std::int64_t>(std::size(kMigrations));
        if (applied > kLatest) {
            throw StoreError(fmt::format(
                "job database: schema version {} is newer than this build knows ({})", applied,
                kLatest));
        }
        for (auto v = applied; v < kLatest; ++v) co_await connection->execute(kMigrations[v]);
        pg::Params latest;
        latest.integer(kLatest);
        co_await connection->query("UPDATE cas_schema SET version = $1::integer", latest);
        co_await connection->execute("COMMIT");
        // A lease given back inside a transaction (a failure above) is dropped, which rolls
        // it back: see Connection::broken().
    } catch (const pg::Error& e) {
        throw store_error(e);
    }
}

asio::awaitable<pg::Result> PostgresJobStore::query(std::string_view sql, const pg::Params& params,
                                                    pg::ResultFormat format) {
    try {
        auto connection = co_await pool_.acquire();
        auto result = co_await connection->query(sql, params, format);
        co_return result;
    } catch (const pg::Error& e) {
        throw store_error(e);
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
    co_await query(R"(
        INSERT INTO jobs (id, status, agent, finished_unix, idempotency_key, created_unix,
                          summary, record)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status,
          finished_unix = EXCLUDED.finished_unix, summary = EXCLUDED.summary,
          record = EXCLUDED.record)",
                   params);
}

JobStore::Awaitable<std::optional<Job>> PostgresJobStore::find(std::string_view id) {
    pg::Params params;
    params.text(id);
    auto result = co_await query("SELECT record FROM jobs WHERE id = $1", params);
    if (result.rows() == 0) co_return std::nullopt;
    co_return read_record(result.text(0, 0));
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
    if (result.rows() == 0) co_return std::nullopt;
    co_return read_record(result.text(0, 0));
}

JobStore::Awaitable<std::vector<Job>> PostgresJobStore::unfinished() {
    pg::Params none;
    auto result = co_await query(
        "SELECT record FROM jobs WHERE status IN ('queued', 'running') ORDER BY seq", none);
    std::vector<Job> jobs;
    for (int row = 0; row < result.rows(); ++row) jobs.push_back(read_record(result.text(row, 0)));
    co_return jobs;
}

JobStore::Awaitable<std::size_t> PostgresJobStore::prune(std::int64_t cutoff_unix,
                                                         std::size_t max_records) {
    // One statement, so one transaction: the old ones, then the oldest finished ones
    // beyond the bound among what is left (a data-modifying CTE sees the rows as they
    // were, so the second excludes the first's explicitly).
    pg::Params params;
    params.integer(cutoff_unix).integer(static_cast<std::int64_t>(max_records));
    auto result = co_await query(R"(
        WITH old AS (
          DELETE FROM jobs WHERE finished_unix IS NOT NULL AND finished_unix < $1 RETURNING seq),
        excess AS (
          DELETE FROM jobs WHERE seq IN (
            SELECT seq FROM jobs WHERE finished_unix IS NOT NULL AND finished_unix >= $1
            ORDER BY seq
            LIMIT greatest(0, (SELECT count(*) FROM jobs) - (SELECT count(*) FROM old) - $2))
          RETURNING seq)
        SELECT (SELECT count(*) FROM old) + (SELECT count(*) FROM excess))",
                                 params);
    co_return static_cast<std::size_t>(result.integer(0, 0));
}

JobStore::Awaitable<void> PostgresJobStore::save_session(std::string_view session_id,
                                                         std::string_view bytes) {
    pg::Params params;
    params.text(session_id).bytes(bytes).integer(unix_seconds());
    co_await query(R"(
        INSERT INTO sessions (session_id, data, saved_unix) VALUES ($1, $2, $3)
        ON CONFLICT (session_id) DO UPDATE SET data = EXCLUDED.data,
          saved_unix = EXCLUDED.saved_unix)",
                   params);
}

JobStore::Awaitable<std::optional<std::string>> PostgresJobStore::find_session(
    std::string_view session_id) {
    pg::Params params;
    params.text(session_id);
    // Binary results: the bytes as they are, not bytea's hex text.
    auto result = co_await query("SELECT data FROM sessions WHERE session_id = $1", params,
                                 pg::ResultFormat::binary);
    if (result.rows() == 0) co_return std::nullopt;
    co_return std::string(result.text(0, 0));
}

JobStore::Awaitable<void> PostgresJobStore::save_conversation(const Conversation& conversation) {
    pg::Params params;
    params.text(conversation.key)
        .text(conversation.session_id)
        .text(conversation.model)
        .text(conversation.agent)
        .integer(unix_seconds());
    co_await query(R"(
        INSERT INTO conversations (key, session_id, model, agent, saved_unix)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (key) DO UPDATE SET session_id = EXCLUDED.session_id,
          model = EXCLUDED.model, agent = EXCLUDED.agent, saved_unix = EXCLUDED.saved_unix)",
                   params);
}

JobStore::Awaitable<std::optional<Conversation>> PostgresJobStore::find_conversation(
    std::string_view key, std::int64_t since_unix) {
    pg::Params params;
    params.text(key).integer(since_unix);
    auto result = co_await query(R"(
        SELECT session_id, model, agent FROM conversations WHERE key = $1 AND saved_unix >= $2)",
                                 params);
    if (result.rows() == 0) co_return std::nullopt;
    co_return Conversation{.key = std::string(key),
                           .session_id = std::string(result.text(0, 0)),
                           .model = std::string(result.text(0, 1)),
                           .agent = std::string(result.text(0, 2))};
}

JobStore::Awaitable<std::size_t> PostgresJobStore::prune_sessions(
    std::int64_t conversations_before_unix, std::int64_t sessions_before_unix) {
    pg::Params params;
    params.integer(conversations_before_unix).integer(sessions_before_unix);
    auto result = co_await query(R"(
        WITH c AS (DELETE FROM conversations WHERE saved_unix < $1 RETURNING 1),
             s AS (DELETE FROM sessions WHERE saved_unix < $2 RETURNING 1)
        SELECT (SELECT count(*) FROM c) + (SELECT count(*) FROM s))",
                                 params);
    co_return static_cast<std::size_t>(result.integer(0, 0));
}

}  // namespace cas::jobs
