// The completion webhooks' outbox (job_store.hpp): the due time and the claim of a sender,
// columns of the job's row, written with its record. A file apart from sqlite_job_store.cpp
// to keep each short.
#include "jobs/job_state.hpp"
#include "jobs/sqlite_job_store.hpp"
#include "jobs/sqlite_statement.hpp"
#include "util/json_text.hpp"
#include "util/random_id.hpp"
#include "util/wall_clock.hpp"

#include <sqlite3.h>

#include <algorithm>

namespace cas::jobs {

void sqlite_detail::bind_webhook_due(Statement& stmt, int index, const Job& job) {
    if (webhook_due(job)) {
        stmt.bind(index, unix_milliseconds());
    } else {
        stmt.bind_null(index);
    }
}

using sqlite_detail::bind_webhook_due;
using sqlite_detail::read_record;
using sqlite_detail::Statement;
using sqlite_detail::Transaction;

JobStore::Awaitable<std::optional<WebhookClaim>> SqliteJobStore::claim_webhook(
    std::int64_t claim_ms) {
    auto now = unix_milliseconds();
    auto token = random_hex(16);
    Statement stmt(*cache_, R"(
        UPDATE jobs SET webhook_due_ms = ?2, webhook_claim = ?3
        WHERE seq = (SELECT seq FROM jobs WHERE webhook_due_ms <= ?1
                     ORDER BY webhook_due_ms LIMIT 1)
        RETURNING record)");
    stmt.bind(1, now).bind(2, now + claim_ms).bind(3, token);
    std::optional<WebhookClaim> claimed;  // named: see find
    if (stmt.step()) claimed = WebhookClaim{read_record(stmt.text(0)), std::move(token)};
    while (stmt.step()) {
    }
    co_return claimed;
}

JobStore::Awaitable<bool> SqliteJobStore::save_webhook(const Job& job, std::string_view token,
                                                       std::optional<std::int64_t> retry_in_ms) {
    auto summary = json_text(to_summary_json(job));
    auto record = json_text(to_json(job));
    Statement stmt(*cache_, R"(
        UPDATE jobs SET summary = ?3, record = ?4, webhook_due_ms = ?5, webhook_claim = NULL
        WHERE id = ?1 AND webhook_claim = ?2)");
    stmt.bind(1, job.id).bind(2, token).bind_unowned(3, summary).bind_unowned(4, record);
    if (retry_in_ms) {
        stmt.bind(5, unix_milliseconds() + *retry_in_ms);
    } else {
        stmt.bind_null(5);
    }
    stmt.step();
    co_return sqlite3_changes(db_) == 1;
}

JobStore::Awaitable<std::optional<std::int64_t>> SqliteJobStore::next_webhook_in() {
    Statement stmt(*cache_,
                   "SELECT min(webhook_due_ms) FROM jobs WHERE webhook_due_ms IS NOT NULL");
    std::optional<std::int64_t> wait;
    if (stmt.step() && !stmt.is_null(0)) {
        wait = std::max<std::int64_t>(0, stmt.integer(0) - unix_milliseconds());
    }
    co_return wait;
}

JobStore::Awaitable<WebhookRetry> SqliteJobStore::retry_webhook(std::string_view id) {
    Transaction transaction(db_);
    std::optional<Job> job;
    {
        Statement stmt(*cache_, "SELECT record FROM jobs WHERE id = ?1");
        stmt.bind(1, id);
        if (stmt.step()) job = read_record(stmt.text(0));
    }
    if (!job) co_return WebhookRetry{WebhookRetry::Kind::not_found, std::nullopt};
    if (!is_finished(job->status) || !jobs::retry_webhook(*job)) {
        co_return WebhookRetry{WebhookRetry::Kind::not_failed, std::move(job)};
    }
    auto summary = json_text(to_summary_json(*job));
    auto record = json_text(to_json(*job));
    Statement stmt(*cache_, R"(
        UPDATE jobs SET summary = ?2, record = ?3, webhook_due_ms = ?4, webhook_claim = NULL
        WHERE id = ?1)");
    stmt.bind(1, id).bind_unowned(2, summary).bind_unowned(3, record);
    bind_webhook_due(stmt, 4, *job);
    stmt.step();
    transaction.commit();
    co_return WebhookRetry{WebhookRetry::Kind::retried, std::move(job)};
}

}  // namespace cas::jobs
