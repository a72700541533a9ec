// The store's outbox of completion webhooks, on both stores ([store]: CTest runs these on
// SQLite and on PostgreSQL): a job that ends, however it ends, makes its webhook due in the
// same write; one sender at a time holds it; its claim fences what it writes back; a retry
// waits its time; a failed one is made due again on request; and a restart finds them.
#include "jobs/job_state.hpp"
#include "store_under_test.hpp"
#include "util/wall_clock.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <set>
#include <thread>

using namespace cas::jobs;
using cas::test::StoreUnderTest;
using namespace std::chrono_literals;

namespace {

Job job_with_webhook(int n, JobStatus status) {
    Job job;
    job.id = fmt::format("{:012x}", n);
    job.status = status;
    job.prompt = "p";
    job.agent = "a";
    job.created_at = utc_now_iso();
    if (is_finished(status)) job.finished_at = utc_now_iso();
    job.webhook = WebhookState{.url = "https://hooks.example/x",
                               .id = fmt::format("msg_{}", n),
                               .status = WebhookStatus::pending,
                               .attempts = 0,
                               .last_status = std::nullopt,
                               .last_error = std::nullopt,
                               .delivered_at = std::nullopt,
                               .next_attempt_at = std::nullopt};
    return job;
}

InsertRules start_here(bool start) {
    return {.owner = {"r1", 0},
            .start_here = start,
            .queue_depth = 5,
            .key_since_unix = 0,
            .lease_seconds = 30};
}

}  // namespace

TEST_CASE("store: a job that ends with its webhook pending is in the outbox, one sender at a time",
          "[store]") {
    StoreUnderTest db;
    auto& store = db.store();
    auto job = job_with_webhook(1, JobStatus::running);
    db(store.save(job));
    CHECK_FALSE(db(store.next_webhook_in()));  // not yet: the job has not ended
    CHECK_FALSE(db(store.claim_webhook(60000)));

    job.status = JobStatus::completed;
    job.finished_at = utc_now_iso();
    db(store.save(job));
    CHECK(db(store.next_webhook_in()) == 0);
    db.reopen();  // a restart finds it
    auto& again = db.store();
    auto claim = db(again.claim_webhook(60000));
    REQUIRE(claim);
    CHECK(claim->job.id == job.id);
    CHECK(claim->job.webhook == job.webhook);
    CHECK_FALSE(db(again.claim_webhook(60000)));  // held: nobody else gets it
    CHECK(db(again.next_webhook_in()) > 50000);

    // An attempt failed: written back under the claim, due again in 300 ms.
    auto failed = claim->job;
    failed.webhook->attempts = 1;
    failed.webhook->last_status = 500;
    CHECK_FALSE(db(again.save_webhook(failed, "not-the-token", 300)));
    CHECK(db(again.save_webhook(failed, claim->token, 300)));
    CHECK(db(again.find(job.id))->webhook == failed.webhook);
    CHECK_FALSE(db(again.claim_webhook(60000)));
    auto wait = db(again.next_webhook_in());
    REQUIRE(wait);
    CHECK(*wait <= 300);
    std::this_thread::sleep_for(std::chrono::milliseconds(*wait + 50));
    auto second = db(again.claim_webhook(60000));
    REQUIRE(second);
    CHECK(second->token != claim->token);
    CHECK_FALSE(db(again.save_webhook(failed, claim->token, std::nullopt)));  // the old claim

    auto delivered = second->job;
    delivered.webhook->status = WebhookStatus::delivered;
    delivered.webhook->attempts = 2;
    CHECK(db(again.save_webhook(delivered, second->token, std::nullopt)));
    CHECK_FALSE(db(again.next_webhook_in()));
    CHECK_FALSE(db(again.claim_webhook(60000)));
    auto read = db(again.find(job.id));
    CHECK(read->webhook->status == WebhookStatus::delivered);
    CHECK(read->status == JobStatus::completed);  // the rest of the record untouched
}

TEST_CASE("store: a claim whose sender died runs out, and the delivery is due again", "[store]") {
    StoreUnderTest db;
    auto& store = db.store();
    db(store.save(job_with_webhook(1, JobStatus::failed)));
    auto first = db(store.claim_webhook(200));
    REQUIRE(first);
    CHECK_FALSE(db(store.claim_webhook(200)));
    std::this_thread::sleep_for(300ms);
    auto second = db(store.claim_webhook(200));
    REQUIRE(second);
    CHECK(second->job.id == first->job.id);
}

TEST_CASE("store: every way a job ends puts its webhook in the outbox", "[store]") {
    StoreUnderTest db;
    auto& store = db.store();
    // The owner saves the final record.
    auto owned = db(store.insert(job_with_webhook(1, JobStatus::queued), start_here(true)));
    REQUIRE(owned.kind == Inserted::Kind::started);
    auto done = owned.job;
    done.status = JobStatus::timeout;
    done.finished_at = utc_now_iso();
    REQUIRE(db(store.save_owned(done, {"r1", 1})));
    // A queued job is cancelled.
    auto queued = db(store.insert(job_with_webhook(2, JobStatus::queued), start_here(false)));
    REQUIRE(queued.kind == Inserted::Kind::queued);
    REQUIRE(db(store.request_cancel(queued.job.id)).kind == CancelRequest::Kind::cancelled);
    // A restart finds a running one.
    auto claimed = db(store.insert(job_with_webhook(3, JobStatus::queued), start_here(false)));
    REQUIRE(db(store.claim("r1", 30)));
    REQUIRE(db(store.interrupt_leftovers("r1")).size() == 1);

    std::set<std::string> due;
    while (auto claim = db(store.claim_webhook(60000))) {
        CHECK(is_finished(claim->job.status));
        due.insert(claim->job.id);
    }
    CHECK(due == std::set<std::string>{owned.job.id, queued.job.id, claimed.job.id});
}

TEST_CASE("store: a failed webhook is made due again on request, and only a failed one",
          "[store]") {
    StoreUnderTest db;
    auto& store = db.store();
    auto job = job_with_webhook(1, JobStatus::completed);
    db(store.save(job));
    CHECK(db(store.retry_webhook(job.id)).kind == WebhookRetry::Kind::not_failed);  // pending
    auto claim = db(store.claim_webhook(60000));
    REQUIRE(claim);
    auto failed = claim->job;
    failed.webhook->status = WebhookStatus::failed;
    failed.webhook->attempts = 8;
    failed.webhook->last_error = "HTTP 500";
    REQUIRE(db(store.save_webhook(failed, claim->token, std::nullopt)));
    CHECK_FALSE(db(store.claim_webhook(60000)));

    auto retry = db(store.retry_webhook(job.id));
    REQUIRE(retry.kind == WebhookRetry::Kind::retried);
    CHECK(retry.job->webhook->status == WebhookStatus::pending);
    CHECK(retry.job->webhook->attempts == 0);
    CHECK(retry.job->webhook->id == job.webhook->id);  // the same message
    CHECK(db(store.find(job.id))->webhook == retry.job->webhook);
    CHECK(db(store.retry_webhook(job.id)).kind == WebhookRetry::Kind::not_failed);
    auto again = db(store.claim_webhook(60000));
    REQUIRE(again);
    CHECK(again->job.id == job.id);

    CHECK(db(store.retry_webhook("ffffffffffff")).kind == WebhookRetry::Kind::not_found);
    auto plain = job_with_webhook(2, JobStatus::completed);
    plain.webhook.reset();
    db(store.save(plain));
    CHECK(db(store.retry_webhook(plain.id)).kind == WebhookRetry::Kind::not_failed);
    CHECK_FALSE(db(store.claim_webhook(60000)));
}
