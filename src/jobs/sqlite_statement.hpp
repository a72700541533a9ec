// The SQLite store's statement helpers, in a header of their own because the store's methods
// are split over two files (sqlite_job_store.cpp, sqlite_job_store_sessions.cpp) to keep each
// short. Internal to the store: nothing else includes it.
#pragma once

#include "jobs/job_store.hpp"
#include "jobs/sqlite_job_store.hpp"

#include <fmt/format.h>
#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace cas::jobs {

// Prepared statements by SQL text, kept for the connection's life: preparing (parsing
// and planning) was a fifth of a GET /jobs/{id}. The texts are fixed in the store's
// files, so the cache stays small.
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

namespace sqlite_detail {

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
    [[nodiscard]] bool is_null(int column) const {
        return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
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

inline void exec(sqlite3* db, const char* sql) {
    char* message = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
        std::string text = message != nullptr ? message : sqlite3_errmsg(db);
        sqlite3_free(message);
        throw StoreError(text);
    }
}

// BEGIN IMMEDIATE (the write lock at once: no upgrade deadlock), ROLLBACK unless committed.
class Transaction {
public:
    explicit Transaction(sqlite3* db) : db_(db) { exec(db_, "BEGIN IMMEDIATE"); }
    ~Transaction() {
        if (!committed_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    void commit() {
        exec(db_, "COMMIT");
        committed_ = true;
    }

private:
    sqlite3* db_;
    bool committed_ = false;
};

// A stored record read back; one that is not valid JSON is a StoreError.
Job read_record(std::string_view text);
// Binds parameter `index` to the outbox's due time for this record as written: now if it
// puts a webhook in the outbox (jobs/job_state.hpp: webhook_due), else null.
void bind_webhook_due(Statement& stmt, int index, const Job& job);

}  // namespace sqlite_detail
}  // namespace cas::jobs
