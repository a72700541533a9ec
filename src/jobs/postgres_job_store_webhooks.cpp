// The completion webhooks' outbox (job_store.hpp) shared by replicas: the due time and the
// claim of a sender, columns of the job's row, on the database's clock. A replica that dies
// while sending leaves its claim to run out; then any replica sends it. A file apart from
// postgres_job_store.cpp to keep each short.
#include "jobs/job_state.hpp"
#include "jobs/postgres_job_store.hpp"
#include "jobs/postgres_store_internal.hpp"
#include "util/json_text.hpp"
#include "util/random_id.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace cas::jobs {
namespace asio = boost::asio;
using namespace postgres_detail;  // the store's shared keys and helpers

JobStore::Awaitable<std::optional<WebhookClaim>> PostgresJobStore::claim_webhook(
    std::int64_t claim_ms) {
    auto token = random_hex(16);
    pg::Params params;
    params.integer(claim_ms).text(token);
    // The CTE picks one row, skipping one another replica is claiming right now.
    auto taken = co_await query(fmt::format(R"(
        WITH next AS (
          SELECT seq FROM jobs WHERE webhook_due_ms <= {0}
          ORDER BY webhook_due_ms LIMIT 1 FOR UPDATE SKIP LOCKED)
        UPDATE jobs SET webhook_due_ms = {0} + $1, webhook_claim = $2
        FROM next WHERE jobs.seq = next.seq
        RETURNING jobs.record)",
                                            kNowMs),
                                params);
    std::optional<WebhookClaim> claimed;  // named: see find
    if (taken.rows() > 0) claimed = WebhookClaim{read_record(taken.text(0, 0)), std::move(token)};
    co_return claimed;
}

JobStore::Awaitable<bool> PostgresJobStore::save_webhook(const Job& job, std::string_view token,
                                                         std::optional<std::int64_t> retry_in_ms) {
    // Named: Params refers to the texts, it does not copy them.
    auto summary = json_text(to_summary_json(job));
    auto record = json_text(to_json(job));
    pg::Params params;
    params.text(job.id).text(token).text(summary).text(record);
    if (retry_in_ms) {
        params.integer(*retry_in_ms);
    } else {
        params.null();
    }
    auto result = co_await query(fmt::format(R"(
        UPDATE jobs SET summary = $3, record = $4, webhook_due_ms = {} + $5::bigint,
                        webhook_claim = NULL
        WHERE id = $1 AND webhook_claim = $2)",
                                             kNowMs),
                                 params);
    co_return result.affected() == 1;
}

JobStore::Awaitable<std::optional<std::int64_t>> PostgresJobStore::next_webhook_in() {
    pg::Params none;
    auto result = co_await query(fmt::format(R"(
        SELECT min(webhook_due_ms) - {} FROM jobs WHERE webhook_due_ms IS NOT NULL)",
                                             kNowMs),
                                 none);
    std::optional<std::int64_t> wait;  // none when min() is null: nothing pending
    if (result.rows() > 0 && !result.is_null(0, 0)) {
        wait = std::max<std::int64_t>(0, result.integer(0, 0));
    }
    co_return wait;
}

JobStore::Awaitable<WebhookRetry> PostgresJobStore::retry_webhook(std::string_view id) {
    try {
        auto connection = co_await pool_.acquire();
        co_await connection->execute("BEGIN");
        pg::Params params;
        params.text(id);
        auto found =
            co_await connection->query("SELECT record FROM jobs WHERE id = $1 FOR UPDATE", params);
        if (found.rows() == 0) {
            co_await connection->execute("COMMIT");
            co_return WebhookRetry{WebhookRetry::Kind::not_found, std::nullopt};
        }
        auto job = read_record(found.text(0, 0));
        auto kind = WebhookRetry::Kind::not_failed;
        if (is_finished(job.status) && jobs::retry_webhook(job)) {
            auto summary = json_text(to_summary_json(job));
            auto record = json_text(to_json(job));
            pg::Params update;
            update.text(id).text(summary).text(record);
            co_await connection->query(fmt::format(R"(
                UPDATE jobs SET summary = $2, record = $3, webhook_due_ms = {},
                                webhook_claim = NULL
                WHERE id = $1)",
                                                   kNowMs),
                                       update);
            kind = WebhookRetry::Kind::retried;
        }
        co_await connection->execute("COMMIT");
        co_return WebhookRetry{kind, std::move(job)};
    } catch (const pg::Error& e) {
        throw_store_error(e);
    }
}

}  // namespace cas::jobs
