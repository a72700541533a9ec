// Session copies, conversations and stored Responses API answers, as in the SQLite store
// (sqlite_job_store_sessions.cpp): small rows by key, each with the time it was saved, which
// lookups filter on and prune_sessions deletes by. A file apart from postgres_job_store.cpp to
// keep each short.
#include "jobs/postgres_job_store.hpp"
#include "util/wall_clock.hpp"

namespace cas::jobs {

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

JobStore::Awaitable<void> PostgresJobStore::save_response(const StoredResponse& response) {
    pg::Params params;
    params.text(response.id)
        .text(response.session_id)
        .text(response.agent)
        .text(response.body)
        .integer(unix_seconds());
    co_await query(R"(
        INSERT INTO responses (id, session_id, agent, body, saved_unix)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (id) DO UPDATE SET session_id = EXCLUDED.session_id,
          agent = EXCLUDED.agent, body = EXCLUDED.body, saved_unix = EXCLUDED.saved_unix)",
                   params);
}

JobStore::Awaitable<std::optional<StoredResponse>> PostgresJobStore::find_response(
    std::string_view id, std::int64_t since_unix) {
    pg::Params params;
    params.text(id).integer(since_unix);
    auto result = co_await query(R"(
        SELECT session_id, agent, body FROM responses WHERE id = $1 AND saved_unix >= $2)",
                                 params);
    if (result.rows() == 0) co_return std::nullopt;
    co_return StoredResponse{.id = std::string(id),
                             .session_id = std::string(result.text(0, 0)),
                             .agent = std::string(result.text(0, 1)),
                             .body = std::string(result.text(0, 2))};
}

JobStore::Awaitable<bool> PostgresJobStore::delete_response(std::string_view id) {
    pg::Params params;
    params.text(id);
    auto result = co_await query("DELETE FROM responses WHERE id = $1", params);
    co_return result.affected() > 0;
}

JobStore::Awaitable<std::size_t> PostgresJobStore::prune_sessions(
    std::int64_t conversations_before_unix, std::int64_t sessions_before_unix) {
    pg::Params params;
    params.integer(conversations_before_unix).integer(sessions_before_unix);
    auto result = co_await query(R"(
        WITH c AS (DELETE FROM conversations WHERE saved_unix < $1 RETURNING 1),
             r AS (DELETE FROM responses WHERE saved_unix < $1 RETURNING 1),
             s AS (DELETE FROM sessions WHERE saved_unix < $2 RETURNING 1)
        SELECT (SELECT count(*) FROM c) + (SELECT count(*) FROM r) + (SELECT count(*) FROM s))",
                                 params);
    co_return static_cast<std::size_t>(result.integer(0, 0));
}

}  // namespace cas::jobs
