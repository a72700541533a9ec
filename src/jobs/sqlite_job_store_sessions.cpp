// Session copies, conversations and stored Responses API answers: small rows by key, each
// with the time it was saved, which lookups filter on and prune_sessions deletes by; and what
// the retention sweep deletes of the job records (prune). A file apart from
// sqlite_job_store.cpp (the job records) to keep each short.
#include "jobs/sqlite_job_store.hpp"
#include "jobs/sqlite_statement.hpp"
#include "util/wall_clock.hpp"

#include <sqlite3.h>

namespace cas::jobs {

using sqlite_detail::exec;
using sqlite_detail::Statement;

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

JobStore::Awaitable<void> SqliteJobStore::save_response(const StoredResponse& response) {
    Statement stmt(*cache_, R"(
        INSERT INTO responses (id, session_id, agent, body, saved_unix)
        VALUES (?1, ?2, ?3, ?4, ?5)
        ON CONFLICT(id) DO UPDATE SET session_id = ?2, agent = ?3, body = ?4, saved_unix = ?5)");
    stmt.bind(1, response.id)
        .bind(2, response.session_id)
        .bind(3, response.agent)
        .bind_unowned(4, response.body)
        .bind(5, unix_seconds());
    stmt.step();
    co_return;
}

JobStore::Awaitable<std::optional<StoredResponse>> SqliteJobStore::find_response(
    std::string_view id, std::int64_t since_unix) {
    Statement stmt(*cache_, R"(
        SELECT session_id, agent, body FROM responses WHERE id = ?1 AND saved_unix >= ?2)");
    stmt.bind(1, id).bind(2, since_unix);
    if (!stmt.step()) co_return std::nullopt;
    co_return StoredResponse{.id = std::string(id),
                             .session_id = std::string(stmt.text(0)),
                             .agent = std::string(stmt.text(1)),
                             .body = std::string(stmt.text(2))};
}

JobStore::Awaitable<bool> SqliteJobStore::delete_response(std::string_view id) {
    Statement stmt(*cache_, "DELETE FROM responses WHERE id = ?1");
    stmt.bind(1, id);
    stmt.step();
    co_return sqlite3_changes(db_) > 0;
}

JobStore::Awaitable<std::size_t> SqliteJobStore::prune_sessions(
    std::int64_t conversations_before_unix, std::int64_t sessions_before_unix) {
    Statement conversations(*cache_, "DELETE FROM conversations WHERE saved_unix < ?1");
    conversations.bind(1, conversations_before_unix);
    conversations.step();
    auto deleted = static_cast<std::size_t>(sqlite3_changes(db_));
    Statement responses(*cache_, "DELETE FROM responses WHERE saved_unix < ?1");
    responses.bind(1, conversations_before_unix);
    responses.step();
    deleted += static_cast<std::size_t>(sqlite3_changes(db_));
    Statement sessions(*cache_, "DELETE FROM sessions WHERE saved_unix < ?1");
    sessions.bind(1, sessions_before_unix);
    sessions.step();
    co_return deleted + static_cast<std::size_t>(sqlite3_changes(db_));
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
        // count(*) reads a whole index (18 ms at 100,000 records, on the thread that serves):
        // the span of seq bounds it from above in two b-tree descents (two subqueries: min and
        // max in one scan the table), and is usually enough. Empty: NULL, read as 0.
        Statement span(*cache_,
                       "SELECT (SELECT max(seq) FROM jobs) - (SELECT min(seq) FROM jobs) + 1");
        span.step();
        if (span.integer(0) > static_cast<std::int64_t>(max_records)) {
            Statement excess(*cache_, R"(
                DELETE FROM jobs WHERE seq IN (
                  SELECT seq FROM jobs WHERE finished_unix IS NOT NULL ORDER BY seq
                  LIMIT max(0, (SELECT count(*) FROM jobs) - ?1)))");
            excess.bind(1, static_cast<std::int64_t>(max_records));
            excess.step();
            deleted += static_cast<std::size_t>(sqlite3_changes(db_));
        }
        exec(db_, "COMMIT");
        co_return deleted;
    } catch (...) {
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
    }
}

}  // namespace cas::jobs
