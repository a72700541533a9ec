// Each record is stored whole as JSON (what GET /jobs/{id} returns) plus its summary (what
// GET /jobs lists) and the columns the queries filter and order on. `seq` orders jobs by
// creation and is the listing cursor.
#include "jobs/sqlite_job_store.hpp"

#include "util/json_limits.hpp"
#include "util/json_text.hpp"
#include "util/wall_clock.hpp"

#include <fmt/format.h>
#include <sqlite3.h>

#include <chrono>
#include <string>
#include <unordered_map>

namespace cas::jobs {
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
};

}  // namespace

// Prepared statements by SQL text, kept for the connection's life: preparing (parsing
// and planning) was a fifth of a GET /jobs/{id}. The texts are fixed in this file, so
// the cache stays small.
class SqliteJobStore::StatementCache {
public:
    explicit StatementCache(sqlite3* db) : db_(db) {}
    ~StatementCache() {
        for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
    }
    StatementCache(const StatementCache&) = delete;
    StatementCache& operator=(const StatementCache&) = delete;

    [[nodiscard]] sqlite3* db() const { return db_; }

    sqlite3_stmt* get(const std::string& sql) {
        if (auto it = statements_.find(sql); it != statements_.end()) return it->second;
        sqlite3_stmt* stmt = nullptr;
        if (sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) !=
            SQLITE_OK) {
            throw StoreError(fmt::format("job store: prepare failed: {}", sqlite3_errmsg(db_)));
        }
        statements_.emplace(sql, stmt);
        return stmt;
    }

private:
    sqlite3* db_;
    std::unordered_map<std::string, sqlite3_stmt*> statements_;
};

namespace {

// A use of a prepared statement: reset, with its bindings cleared, on scope exit (a
// statement left mid-step would hold its read transaction open).
class Statement {
public:
    Statement(SqliteJobStore::StatementCache& cache, const std::string& sql)
        : db_(cache.db()), stmt_(cache.get(sql)) {}
    Statement(sqlite3* db, const char* sql) : db_(db), owned_(true) {
        if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) fail("prepare");
    }
    ~Statement() {
        if (owned_) {
            sqlite3_finalize(stmt_);
            return;
        }
        sqlite3_reset(stmt_);
        sqlite3_clear_bindings(stmt_);
    }
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;

    Statement& bind(int index, std::string_view text) {
        check(sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()),
                                SQLITE_TRANSIENT));
        return *this;
    }
    // `text` must stay alive and unchanged until the statement is reset.
    Statement& bind_unowned(int index, std::string_view text) {
        check(sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()),
                                SQLITE_STATIC));
        return *this;
    }
    // `bytes` must stay alive and unchanged until the statement is reset.
    Statement& bind_blob_unowned(int index, std::string_view bytes) {
        check(sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_STATIC));
        return *this;
    }
    Statement& bind(int index, std::int64_t value) {
        check(sqlite3_bind_int64(stmt_, index, value));
        return *this;
    }
    Statement& bind_null(int index) {
        check(sqlite3_bind_null(stmt_, index));
        return *this;
    }
    // True while there is a row.
    bool step() {
        int rc = sqlite3_step(stmt_);
        if (rc == SQLITE_ROW) return true;
        if (rc != SQLITE_DONE) fail("step");
        return false;
    }
    [[nodiscard]] std::string_view text(int column) const {
        const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
        return {data == nullptr ? "" : data,
                static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column))};
    }
    [[nodiscard]] std::string_view blob(int column) const {
        const auto* data = static_cast<const char*>(sqlite3_column_blob(stmt_, column));
        return {data == nullptr ? "" : data,
                static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column))};
    }
    [[nodiscard]] std::int64_t integer(int column) const {
        return sqlite3_column_int64(stmt_, column);
    }

private:
    void check(int rc) const {
        if (rc != SQLITE_OK) fail("bind");
    }
    [[noreturn]] void fail(const char* what) const {
        throw StoreError(fmt::format("job store: {} failed: {}", what, sqlite3_errmsg(db_)));
    }
    sqlite3* db_;
    sqlite3_stmt* stmt_ = nullptr;
    bool owned_ = false;  // prepared for this one use (start-up and migrations)
};

void exec(sqlite3* db, const char* sql) {
    char* message = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
        std::string text = message != nullptr ? message : sqlite3_errmsg(db);
        sqlite3_free(message);
        throw StoreError(text);
    }
}

Job read_record(std::string_view text) {
    boost::system::error_code ec;
    auto value = parse_json(text, ec);
    if (ec) throw StoreError("job store: a stored record is not valid JSON");
    return job_from_json(value);
}

}  // namespace

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
        // A corrupt file often opens fine and fails here or on first read.
        Statement check(db_, "PRAGMA quick_check");
        if (!check.step() || check.text(0) != "ok") fail("the database file is corrupt");
        cache_ = std::make_unique<StatementCache>(db_);
    } catch (const StoreError& e) {
        if (db_ == nullptr) throw;
        fail(e.what());
    }
}

SqliteJobStore::~SqliteJobStore() {
    cache_.reset();  // statements first: a connection with live ones does not close
    sqlite3_close(db_);
}

JobStore::Awaitable<void> SqliteJobStore::save(const Job& job) {
    // Bound without a copy (a record holds up to the output cap), so declared before the
    // statement, whose end unbinds them.
    auto summary = json_text(to_summary_json(job));
    auto record = json_text(to_json(job));
    Statement stmt(*cache_, R"(
        INSERT INTO jobs (id, status, agent, finished_unix, idempotency_key, created_unix, summary, record)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
        ON CONFLICT(id) DO UPDATE SET status = ?2, finished_unix = ?4, summary = ?7, record = ?8)");
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
    stmt.step();
    co_return;
}

JobStore::Awaitable<std::optional<Job>> SqliteJobStore::find(std::string_view id) {
    Statement stmt(*cache_, "SELECT record FROM jobs WHERE id = ?1");
    stmt.bind(1, id);
    if (!stmt.step()) co_return std::nullopt;
    co_return read_record(stmt.text(0));
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
    if (!stmt.step()) co_return std::nullopt;
    co_return read_record(stmt.text(0));
}

JobStore::Awaitable<std::vector<Job>> SqliteJobStore::unfinished() {
    Statement stmt(*cache_,
                   "SELECT record FROM jobs WHERE status IN ('queued', 'running') ORDER BY seq");
    std::vector<Job> out;
    while (stmt.step()) out.push_back(read_record(stmt.text(0)));
    co_return out;
}

JobStore::Awaitable<std::size_t> SqliteJobStore::prune(std::int64_t cutoff_unix,
                                                     std::size_t max_records) {
    exec(db_, "BEGIN IMMEDIATE");
    try {
        Statement old(*cache_,
                      "DELETE FROM jobs WHERE finished_unix IS NOT NULL AND finished_unix < ?1");
        old.bind(1, cutoff_unix);
        old.step();
        auto deleted = static_cast<std::size_t>(sqlite3_changes(db_));
        Statement excess(*cache_, R"(
            DELETE FROM jobs WHERE seq IN (
              SELECT seq FROM jobs WHERE finished_unix IS NOT NULL ORDER BY seq
              LIMIT max(0, (SELECT count(*) FROM jobs) - ?1)))");
        excess.bind(1, static_cast<std::int64_t>(max_records));
        excess.step();
        deleted += static_cast<std::size_t>(sqlite3_changes(db_));
        exec(db_, "COMMIT");
        co_return deleted;
    } catch (...) {
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
    }
}

JobStore::Awaitable<void> SqliteJobStore::save_session(std::string_view session_id,
                                                     std::string_view bytes) {
    Statement stmt(*cache_, R"(
        INSERT INTO sessions (session_id, data, saved_unix) VALUES (?1, ?2, ?3)
        ON CONFLICT(session_id) DO UPDATE SET data = ?2, saved_unix = ?3)");
    stmt.bind(1, session_id).bind_blob_unowned(2, bytes).bind(3, unix_seconds());
    stmt.step();
    co_return;
}

JobStore::Awaitable<std::optional<std::string>> SqliteJobStore::find_session(
    std::string_view session_id) {
    Statement stmt(*cache_, "SELECT data FROM sessions WHERE session_id = ?1");
    stmt.bind(1, session_id);
    if (!stmt.step()) co_return std::nullopt;
    co_return std::string(stmt.blob(0));
}

JobStore::Awaitable<void> SqliteJobStore::save_conversation(const Conversation& conversation) {
    Statement stmt(*cache_, R"(
        INSERT INTO conversations (key, session_id, model, agent, saved_unix)
        VALUES (?1, ?2, ?3, ?4, ?5)
        ON CONFLICT(key) DO UPDATE SET session_id = ?2, model = ?3, agent = ?4, saved_unix = ?5)");
    stmt.bind(1, conversation.key)
        .bind(2, conversation.session_id)
        .bind(3, conversation.model)
        .bind(4, conversation.agent)
        .bind(5, unix_seconds());
    stmt.step();
    co_return;
}

JobStore::Awaitable<std::optional<Conversation>> SqliteJobStore::find_conversation(
    std::string_view key, std::int64_t since_unix) {
    Statement stmt(*cache_, R"(
        SELECT session_id, model, agent FROM conversations WHERE key = ?1 AND saved_unix >= ?2)");
    stmt.bind(1, key).bind(2, since_unix);
    if (!stmt.step()) co_return std::nullopt;
    co_return Conversation{.key = std::string(key),
                        .session_id = std::string(stmt.text(0)),
                        .model = std::string(stmt.text(1)),
                        .agent = std::string(stmt.text(2))};
}

JobStore::Awaitable<std::size_t> SqliteJobStore::prune_sessions(
    std::int64_t conversations_before_unix, std::int64_t sessions_before_unix) {
    Statement conversations(*cache_, "DELETE FROM conversations WHERE saved_unix < ?1");
    conversations.bind(1, conversations_before_unix);
    conversations.step();
    auto deleted = static_cast<std::size_t>(sqlite3_changes(db_));
    Statement sessions(*cache_, "DELETE FROM sessions WHERE saved_unix < ?1");
    sessions.bind(1, sessions_before_unix);
    sessions.step();
    co_return deleted + static_cast<std::size_t>(sqlite3_changes(db_));
}

}  // namespace cas::jobs
