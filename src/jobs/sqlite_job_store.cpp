// Each record is stored whole as JSON (what GET /jobs/{id} returns) plus its summary (what
// GET /jobs lists) and the columns the queries filter and order on. `seq` orders jobs by
// creation and is the listing cursor.
#include "jobs/sqlite_job_store.hpp"

#include "jobs/job_state.hpp"
#include "jobs/sqlite_integrity_check.hpp"
#include "jobs/sqlite_statement.hpp"
#include "util/async.hpp"
#include "util/json_limits.hpp"
#include "util/json_text.hpp"
#include "util/wall_clock.hpp"

#include <boost/asio/this_coro.hpp>
#include <fmt/format.h>
#include <sqlite3.h>

#include <chrono>
#include <string>

namespace cas::jobs {

using sqlite_detail::bind_webhook_due;
using sqlite_detail::exec;
using sqlite_detail::read_record;
using sqlite_detail::Statement;
using sqlite_detail::Transaction;

namespace {

// Schema migrations, in order; user_version is the number applied.
constexpr const char* kMigrations[] = {
    R"(CREATE TABLE jobs (
         seq INTEGER PRIMARY KEY AUTOINCREMENT,
         id TEXT NOT NULL UNIQUE,
         status TEXT NOT NULL,
         agent TEXT NOT NULL,
         finished_unix INTEGER,
         idempotency_key TEXT,
         created_unix INTEGER NOT NULL,
         summary TEXT NOT NULL,
         record TEXT NOT NULL);
       CREATE INDEX jobs_status ON jobs(status, seq);
       CREATE INDEX jobs_agent ON jobs(agent, seq);
       CREATE INDEX jobs_finished ON jobs(finished_unix) WHERE finished_unix IS NOT NULL;
       CREATE INDEX jobs_idempotency ON jobs(idempotency_key, created_unix)
         WHERE idempotency_key IS NOT NULL;)",
    R"(CREATE TABLE sessions (
         session_id TEXT PRIMARY KEY,
         data BLOB NOT NULL,
         saved_unix INTEGER NOT NULL);
       CREATE INDEX sessions_saved ON sessions(saved_unix);
       CREATE TABLE conversations (
         key TEXT PRIMARY KEY,
         session_id TEXT NOT NULL,
         model TEXT NOT NULL,
         agent TEXT NOT NULL,
         saved_unix INTEGER NOT NULL);
       CREATE INDEX conversations_saved ON conversations(saved_unix);)",
    // The queue in the store (job_store.hpp): who runs a job, which attempt, its lease, a
    // cancel asked for; the replicas' heartbeats (one here: SQLite is one process's).
    R"(ALTER TABLE jobs ADD COLUMN owner TEXT;
       ALTER TABLE jobs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 0;
       ALTER TABLE jobs ADD COLUMN lease_expires_unix INTEGER;
       ALTER TABLE jobs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;
       CREATE INDEX jobs_queued ON jobs(seq) WHERE status = 'queued';
       CREATE TABLE replicas (
         id TEXT PRIMARY KEY,
         heartbeat_unix INTEGER NOT NULL,
         busy INTEGER NOT NULL);)",
    // Responses API answers (job_store.hpp: StoredResponse), pruned with the conversations.
    R"(CREATE TABLE responses (
         id TEXT PRIMARY KEY,
         session_id TEXT NOT NULL,
         agent TEXT NOT NULL,
         body TEXT NOT NULL,
         saved_unix INTEGER NOT NULL);
       CREATE INDEX responses_saved ON responses(saved_unix);)",
    // Completion webhooks' outbox (job_store.hpp): when a delivery is due, and who holds it.
    R"(ALTER TABLE jobs ADD COLUMN webhook_due_ms INTEGER;
       ALTER TABLE jobs ADD COLUMN webhook_claim TEXT;
       CREATE INDEX jobs_webhooks_due ON jobs(webhook_due_ms) WHERE webhook_due_ms IS NOT NULL;)",
};

}  // namespace

namespace sqlite_detail {

Job read_record(std::string_view text) {
    boost::system::error_code ec;
    auto value = parse_json(text, ec);
    if (ec) throw StoreError("job store: a stored record is not valid JSON");
    return job_from_json(value);
}

}  // namespace sqlite_detail

// A record as stored: its summary and whole JSON, bound without a copy (kept alive here).
struct RecordTexts {
    explicit RecordTexts(const Job& job)
        : summary(json_text(to_summary_json(job))), record(json_text(to_json(job))) {}
    std::string summary;
    std::string record;
};

SqliteJobStore::SqliteJobStore(const std::string& path) {
    auto fail = [&](const std::string& why) {
        std::string message = fmt::format("cannot use job database '{}': {}", path, why);
        if (db_ != nullptr) sqlite3_close_v2(db_);  // _v2: once a live statement is finalized
        db_ = nullptr;
        throw StoreError(message);
    };
    if (sqlite3_open_v2(path.c_str(), &db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK) {
        fail(db_ != nullptr ? sqlite3_errmsg(db_) : "out of memory");
    }
    try {
        sqlite3_busy_timeout(db_, 5000);
        // WAL: readers never block the writer. synchronous=NORMAL: a commit survives the
        // process being killed (the case that matters here); only a power loss can take
        // the last commits back.
        exec(db_, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;");
        Statement version(db_, "PRAGMA user_version");
        version.step();
        auto applied = version.integer(0);
        constexpr auto kLatest = static_cast<std::int64_t>(std::size(kMigrations));
        if (applied > kLatest) {
            fail(fmt::format("schema version {} is newer than this build knows ({})", applied,
                             kLatest));
        }
        for (auto v = applied; v < kLatest; ++v) {
            exec(db_, "BEGIN IMMEDIATE");
            try {
                exec(db_, kMigrations[v]);
                exec(db_, fmt::format("PRAGMA user_version = {}", v + 1).c_str());
                exec(db_, "COMMIT");
            } catch (...) {
                sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
                throw;
            }
        }
        cache_ = std::make_unique<StatementCache>(db_);
        // The whole file is checked after start-up; what failed to open or read above, before.
        if (path != ":memory:") integrity_check_ = std::make_unique<SqliteIntegrityCheck>(path);
    } catch (const StoreError& e) {
        if (db_ == nullptr) throw;
        fail(e.what());
    }
}

SqliteJobStore::~SqliteJobStore() {
    integrity_check_.reset();
    cache_.reset();  // statements first: a connection with live ones does not close
    sqlite3_close(db_);
}

JobStore::Awaitable<void> SqliteJobStore::save(const Job& job) {
    // Bound without a copy (a record holds up to the output cap), so declared before the
    // statement, whose end unbinds them.
    auto summary = json_text(to_summary_json(job));
    auto record = json_text(to_json(job));
    Statement stmt(*cache_, R"(
        INSERT INTO jobs (id, status, agent, finished_unix, idempotency_key, created_unix, summary,
                          record, webhook_due_ms)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
        ON CONFLICT(id) DO UPDATE SET status = ?2, finished_unix = ?4, summary = ?7, record = ?8,
                                      webhook_due_ms = ?9)");
    stmt.bind(1, job.id).bind(2, to_string(job.status)).bind(3, job.agent);
    if (is_finished(job.status)) {
        stmt.bind(4, unix_seconds());
    } else {
        stmt.bind_null(4);
    }
    if (job.idempotency_key) {
        stmt.bind(5, *job.idempotency_key);
    } else {
        stmt.bind_null(5);
    }
    stmt.bind(6, unix_seconds());
    stmt.bind_unowned(7, summary).bind_unowned(8, record);
    bind_webhook_due(stmt, 9, job);
    stmt.step();
    co_return;
}

JobStore::Awaitable<std::optional<Job>> SqliteJobStore::find(std::string_view id) {
    Statement stmt(*cache_, "SELECT record FROM jobs WHERE id = ?1");
    stmt.bind(1, id);
    // Named, not `co_return std::nullopt`: GCC 12 miscompiles that for an optional<Job>
    // (a missing record came back engaged, with garbage).
    std::optional<Job> found;
    if (stmt.step()) found = read_record(stmt.text(0));
    co_return found;
}

JobStore::Awaitable<JobPage> SqliteJobStore::list(const JobFilter& filter) {
    // Only the conditions in use go into the SQL: "?1 IS NULL OR ..." would keep SQLite
    // from walking the rowid range and the indexes, making every page a full scan.
    std::string sql = "SELECT seq, summary FROM jobs WHERE 1";
    if (filter.status) sql += " AND status = ?1";
    if (filter.agent) sql += " AND agent = ?2";
    if (filter.before) sql += " AND seq < ?3";
    sql += " ORDER BY seq DESC LIMIT ?4";
    Statement stmt(*cache_, sql);
    if (filter.status) stmt.bind(1, to_string(*filter.status));
    if (filter.agent) stmt.bind(2, *filter.agent);
    if (filter.before) stmt.bind(3, *filter.before);
    stmt.bind(4, static_cast<std::int64_t>(filter.limit));
    JobPage page;
    std::int64_t last = 0;
    while (stmt.step()) {
        last = stmt.integer(0);
        boost::system::error_code ec;
        auto summary = parse_json(stmt.text(1), ec);
        if (ec) throw StoreError("job store: a stored summary is not valid JSON");
        page.jobs.push_back(std::move(summary));
    }
    if (page.jobs.size() == filter.limit && filter.limit > 0) page.next = last;
    co_return page;
}

JobStore::Awaitable<std::optional<Job>> SqliteJobStore::find_by_idempotency_key(
    std::string_view key, std::int64_t since_unix) {
    Statement stmt(*cache_, R"(
        SELECT record FROM jobs WHERE idempotency_key = ?1 AND created_unix >= ?2
        ORDER BY seq DESC LIMIT 1)");
    stmt.bind(1, key).bind(2, since_unix);
    std::optional<Job> found;
    if (stmt.step()) found = read_record(stmt.text(0));
    co_return found;
}

std::int64_t SqliteJobStore::insert_row(const Job& job, const std::string* owner,
                                        std::int64_t lease_seconds) {
    RecordTexts texts(job);
    Statement stmt(*cache_, R"(
        INSERT INTO jobs (id, status, agent, idempotency_key, created_unix, summary, record,
                          owner, attempt, lease_expires_unix)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10))");
    stmt.bind(1, job.id).bind(2, to_string(job.status)).bind(3, job.agent);
    if (job.idempotency_key) {
        stmt.bind(4, *job.idempotency_key);
    } else {
        stmt.bind_null(4);
    }
    stmt.bind(5, unix_seconds()).bind_unowned(6, texts.summary).bind_unowned(7, texts.record);
    if (owner != nullptr) {
        stmt.bind(8, *owner).bind(9, std::int64_t{1}).bind(10, unix_seconds() + lease_seconds);
    } else {
        stmt.bind_null(8).bind(9, std::int64_t{0}).bind_null(10);
    }
    stmt.step();
    return 1;
}

bool SqliteJobStore::update_record(const Job& job, const Ownership* owner) {
    RecordTexts texts(job);
    std::string sql = R"(
        UPDATE jobs SET status = ?2, finished_unix = ?3, summary = ?4, record = ?5,
                        webhook_due_ms = ?8
        WHERE id = ?1)";
    if (owner != nullptr) sql += " AND owner = ?6 AND attempt = ?7 AND status = 'running'";
    Statement stmt(*cache_, sql);
    stmt.bind(1, job.id).bind(2, to_string(job.status));
    if (is_finished(job.status)) {
        stmt.bind(3, unix_seconds());
    } else {
        stmt.bind_null(3);
    }
    stmt.bind_unowned(4, texts.summary).bind_unowned(5, texts.record);
    if (owner != nullptr) stmt.bind(6, owner->replica).bind(7, owner->attempt);
    bind_webhook_due(stmt, 8, job);
    stmt.step();
    return sqlite3_changes(db_) == 1;
}

std::size_t SqliteJobStore::count_queued() {
    Statement stmt(*cache_, "SELECT count(*) FROM jobs WHERE status = 'queued'");
    stmt.step();
    return static_cast<std::size_t>(stmt.integer(0));
}

JobStore::Awaitable<Inserted> SqliteJobStore::insert(const Job& job, const InsertRules& rules) {
    Transaction transaction(db_);
    if (job.idempotency_key) {
        Statement earlier(*cache_, R"(
            SELECT record FROM jobs WHERE idempotency_key = ?1 AND created_unix >= ?2
            ORDER BY seq DESC LIMIT 1)");
        earlier.bind(1, *job.idempotency_key).bind(2, rules.key_since_unix);
        if (earlier.step())
            co_return Inserted{Inserted::Kind::key_taken, read_record(earlier.text(0)), 0};
    }
    auto queued = count_queued();
    Job saved = job;
    if (rules.start_here && queued == 0) {
        mark_running(saved, saved.created_at);
        insert_row(saved, &rules.owner.replica, rules.lease_seconds);
        transaction.commit();
        co_return Inserted{Inserted::Kind::started, std::move(saved), 0};
    }
    std::size_t capacity = rules.queue_depth;
    if (capacity == 0) {
        Statement idle(*cache_, R"(
            SELECT count(*) FROM replicas
            WHERE id != ?1 AND busy = 0 AND heartbeat_unix >= ?2)");
        idle.bind(1, rules.owner.replica).bind(2, unix_seconds() - rules.lease_seconds);
        idle.step();
        capacity = static_cast<std::size_t>(idle.integer(0));
    }
    if (queued >= capacity) co_return Inserted{Inserted::Kind::full, std::move(saved), 0};
    saved.status = JobStatus::queued;
    insert_row(saved, nullptr, 0);
    transaction.commit();
    co_return Inserted{Inserted::Kind::queued, std::move(saved), queued + 1};
}

JobStore::Awaitable<std::optional<std::pair<Job, Ownership>>> SqliteJobStore::claim(
    const std::string& replica, std::int64_t lease_seconds) {
    Transaction transaction(db_);
    Statement next(*cache_,
                   "SELECT seq, record, attempt FROM jobs WHERE status = 'queued' ORDER BY seq "
                   "LIMIT 1");
    std::optional<std::pair<Job, Ownership>> none;  // named: see find
    if (!next.step()) co_return none;
    auto job = read_record(next.text(1));
    Ownership owner{replica, next.integer(2) + 1};
    mark_running(job, utc_now_iso());
    RecordTexts texts(job);
    Statement take(*cache_, R"(
        UPDATE jobs SET status = 'running', owner = ?2, attempt = ?3, lease_expires_unix = ?4,
                        summary = ?5, record = ?6
        WHERE seq = ?1)");
    take.bind(1, next.integer(0))
        .bind(2, owner.replica)
        .bind(3, owner.attempt)
        .bind(4, unix_seconds() + lease_seconds)
        .bind_unowned(5, texts.summary)
        .bind_unowned(6, texts.record);
    take.step();
    transaction.commit();
    co_return std::pair{std::move(job), std::move(owner)};
}

JobStore::Awaitable<LeaseState> SqliteJobStore::renew(std::string_view id, const Ownership& owner,
                                                      std::int64_t lease_seconds) {
    Statement stmt(*cache_, R"(
        UPDATE jobs SET lease_expires_unix = ?4
        WHERE id = ?1 AND owner = ?2 AND attempt = ?3 AND status = 'running'
        RETURNING cancel_requested)");
    stmt.bind(1, id).bind(2, owner.replica).bind(3, owner.attempt);
    stmt.bind(4, unix_seconds() + lease_seconds);
    if (!stmt.step()) co_return LeaseState{false, false};
    LeaseState state{true, stmt.integer(0) != 0};
    while (stmt.step()) {
    }
    co_return state;
}

JobStore::Awaitable<bool> SqliteJobStore::save_owned(const Job& job, const Ownership& owner) {
    co_return update_record(job, &owner);
}

JobStore::Awaitable<CancelRequest> SqliteJobStore::request_cancel(std::string_view id) {
    Transaction transaction(db_);
    std::optional<Job> job;
    {
        Statement stmt(*cache_, "SELECT record FROM jobs WHERE id = ?1");
        stmt.bind(1, id);
        if (stmt.step()) job = read_record(stmt.text(0));
    }
    if (!job) co_return CancelRequest{CancelRequest::Kind::not_found, std::nullopt};
    if (is_finished(job->status)) {
        co_return CancelRequest{CancelRequest::Kind::finished, std::move(job)};
    }
    if (job->status == JobStatus::queued) {
        mark_cancelled_before_run(*job, utc_now_iso());
        update_record(*job, nullptr);
        transaction.commit();
        co_return CancelRequest{CancelRequest::Kind::cancelled, std::move(job)};
    }
    Statement ask(*cache_, "UPDATE jobs SET cancel_requested = 1 WHERE id = ?1");
    ask.bind(1, id);
    ask.step();
    transaction.commit();
    co_return CancelRequest{CancelRequest::Kind::requested, std::move(job)};
}

std::vector<Job> SqliteJobStore::interrupt_where(const std::string& condition, std::int64_t value,
                                                 bool lease_lost) {
    Transaction transaction(db_);
    std::vector<Job> jobs;
    {
        Statement stmt(*cache_,
                       "SELECT record FROM jobs WHERE status = 'running' AND " + condition);
        stmt.bind(1, value);
        while (stmt.step()) jobs.push_back(read_record(stmt.text(0)));
    }
    auto now = utc_now_iso();
    for (auto& job : jobs) {
        if (lease_lost) {
            mark_interrupted_lease_lost(job, now);
        } else {
            mark_interrupted_by_restart(job, now);
        }
        update_record(job, nullptr);
    }
    transaction.commit();
    return jobs;
}

JobStore::Awaitable<std::vector<Job>> SqliteJobStore::interrupt_expired() {
    co_return interrupt_where("lease_expires_unix < ?1", unix_seconds(), true);
}

// One process owns a SQLite store: whatever it finds running at start-up is its own.
JobStore::Awaitable<std::vector<Job>> SqliteJobStore::interrupt_leftovers(
    const std::string& /*replica*/) {
    co_return interrupt_where("?1 = ?1", 0, false);
}

JobStore::Awaitable<ClusterState> SqliteJobStore::heartbeat(const std::string& replica, bool busy,
                                                            std::int64_t lease_seconds) {
    auto now = unix_seconds();
    Statement beat(*cache_, R"(
        INSERT INTO replicas (id, heartbeat_unix, busy) VALUES (?1, ?2, ?3)
        ON CONFLICT(id) DO UPDATE SET heartbeat_unix = ?2, busy = ?3)");
    beat.bind(1, replica).bind(2, now).bind(3, std::int64_t{busy ? 1 : 0});
    beat.step();
    Statement gone(*cache_, "DELETE FROM replicas WHERE heartbeat_unix < ?1");
    gone.bind(1, now - 86400);
    gone.step();
    Statement others(*cache_,
                     "SELECT count(*) FROM replicas WHERE id != ?1 AND heartbeat_unix >= ?2");
    others.bind(1, replica).bind(2, now - lease_seconds);
    others.step();
    co_return ClusterState{count_queued(), static_cast<std::size_t>(others.integer(0)) + 1};
}

JobStore::Awaitable<void> SqliteJobStore::leave(const std::string& replica) {
    Statement stmt(*cache_, "DELETE FROM replicas WHERE id = ?1");
    stmt.bind(1, replica);
    stmt.step();
    co_return;
}

// Nobody else writes to this store: everything worth waking for happens in this process.
JobStore::Awaitable<std::vector<StoreNotice>> SqliteJobStore::notices() {
    auto executor = co_await boost::asio::this_coro::executor;
    Timer never(executor, Timer::time_point::max());
    co_await never.async_wait();
    co_return std::vector<StoreNotice>{};
}

// One replica: a running job's events are read from its log in memory (job_store.hpp).
JobStore::Awaitable<void> SqliteJobStore::append_events(
    std::string_view /*id*/, std::size_t /*first_seq*/,
    const std::vector<std::string>& /*events*/) {
    co_return;
}

JobStore::Awaitable<std::vector<std::string>> SqliteJobStore::events_from(std::string_view /*id*/,
                                                                          std::size_t /*seq*/) {
    co_return std::vector<std::string>{};
}

JobStore::Awaitable<void> SqliteJobStore::drop_events(std::string_view /*id*/) {
    co_return;
}

}  // namespace cas::jobs
