// The job store's contract, one suite for both stores: CTest runs it on SQLite and again on
// PostgreSQL (store_under_test.hpp). Every case is tagged [store] for that second run.
#include "store_under_test.hpp"
#include "util/wall_clock.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <set>

using namespace cas::jobs;
using cas::test::StoreUnderTest;

namespace {

Job make_job(int n, JobStatus status = JobStatus::completed, std::string agent = "a") {
    Job job;
    job.id = fmt::format("{:012x}", n);
    job.status = status;
    job.prompt = "prompt " + std::to_string(n);
    job.agent = std::move(agent);
    job.created_at = utc_now_iso();
    if (is_finished(status)) job.finished_at = utc_now_iso();
    job.output = {"out\n"};
    return job;
}

}  // namespace

TEST_CASE("store: save, find, update, and read back after a restart", "[store]") {
    StoreUnderTest db;
    auto job = make_job(1, JobStatus::running);
    db(db.store().save(job));
    job.status = JobStatus::completed;
    job.result = "done";
    db(db.store().save(job));
    CHECK_FALSE(db(db.store().find("ffffffffffff")));
    db.reopen();
    auto found = db(db.store().find(make_job(1).id));
    REQUIRE(found);
    CHECK(found->status == JobStatus::completed);
    CHECK(found->result == "done");
    CHECK(found->output == std::vector<std::string>{"out\n"});
}

TEST_CASE("store: pagination over 1,000 jobs has no duplicates or gaps", "[store]") {
    StoreUnderTest db;
    auto& store = db.store();
    for (int i = 1; i <= 1000; ++i)
        db(store.save(make_job(i, JobStatus::completed, i % 3 == 0 ? "x" : "y")));
    std::set<std::string> seen;
    JobFilter filter;
    filter.limit = 37;
    std::string previous;
    int pages = 0;
    for (;;) {
        auto page = db(store.list(filter));
        ++pages;
        for (const auto& job : page.jobs) {
            auto id = std::string(job.at("job_id").as_string());
            CHECK(seen.insert(id).second);
            if (!previous.empty()) CHECK(id < previous);  // newest first
            previous = id;
            CHECK_FALSE(job.as_object().contains("output"));
        }
        if (!page.next) break;
        filter.before = page.next;
    }
    CHECK(seen.size() == 1000);
    CHECK(pages == 28);
    JobFilter by_agent;
    by_agent.agent = "x";
    by_agent.limit = 1000;
    auto xs = db(store.list(by_agent));
    CHECK(xs.jobs.size() == 333);
    JobFilter by_status;
    by_status.status = JobStatus::running;
    auto running = db(store.list(by_status));
    CHECK(running.jobs.empty());
    CHECK_FALSE(running.next);
}

InsertRules rules(std::string replica, bool start_here, std::size_t depth) {
    return {.owner = {std::move(replica), 0},
            .start_here = start_here,
            .queue_depth = depth,
            .key_since_unix = 0,
            .lease_seconds = 30};
}

TEST_CASE("store: a new job starts only when nothing is queued, else queues FIFO within the bound",
          "[store]") {
    StoreUnderTest db;
    auto& store = db.store();
    auto first = db(store.insert(make_job(1, JobStatus::queued), rules("r1", true, 2)));
    CHECK(first.kind == Inserted::Kind::started);
    CHECK(first.job.status == JobStatus::running);
    CHECK(first.job.started_at == first.job.created_at);
    CHECK(db(store.find(first.job.id))->status == JobStatus::running);

    auto second = db(store.insert(make_job(2, JobStatus::queued), rules("r1", false, 2)));
    CHECK(second.kind == Inserted::Kind::queued);
    CHECK(second.position == 1);
    // A free slot elsewhere does not jump the queue.
    auto third = db(store.insert(make_job(3, JobStatus::queued), rules("r2", true, 2)));
    CHECK(third.kind == Inserted::Kind::queued);
    CHECK(third.position == 2);
    auto fourth = db(store.insert(make_job(4, JobStatus::queued), rules("r2", false, 2)));
    CHECK(fourth.kind == Inserted::Kind::full);
    CHECK_FALSE(db(store.find(make_job(4).id)));

    // Claims take the oldest first, each a new attempt, the record saying running.
    auto a = db(store.claim("r2", 30));
    REQUIRE(a);
    CHECK(a->first.id == make_job(2).id);
    CHECK(a->first.status == JobStatus::running);
    CHECK(a->first.started_at.has_value());
    CHECK(a->second.replica == "r2");
    CHECK(a->second.attempt == 1);
    CHECK(db(store.find(a->first.id))->started_at == a->first.started_at);
    auto b = db(store.claim("r1", 30));
    REQUIRE(b);
    CHECK(b->first.id == make_job(3).id);
    CHECK_FALSE(db(store.claim("r1", 30)));
}

TEST_CASE("store: without a queue, a job waits only if another replica is idle to take it",
          "[store]") {
    StoreUnderTest db;
    auto& store = db.store();
    CHECK(db(store.heartbeat("r1", true, 30)).live_replicas == 1);
    CHECK(db(store.insert(make_job(1, JobStatus::queued), rules("r1", false, 0))).kind ==
          Inserted::Kind::full);
    db(store.heartbeat("r2", true, 30));  // alive, but busy
    CHECK(db(store.insert(make_job(2, JobStatus::queued), rules("r1", false, 0))).kind ==
          Inserted::Kind::full);
    auto cluster = db(store.heartbeat("r2", false, 30));  // idle now
    CHECK(cluster.live_replicas == 2);
    CHECK(db(store.insert(make_job(3, JobStatus::queued), rules("r1", false, 0))).kind ==
          Inserted::Kind::queued);
    CHECK(db(store.insert(make_job(4, JobStatus::queued), rules("r1", false, 0))).kind ==
          Inserted::Kind::full);  // one idle replica, one job already waiting for it
    CHECK(db(store.heartbeat("r1", true, 30)).queued == 1);
    db(store.leave("r2"));
    CHECK(db(store.heartbeat("r1", true, 30)).live_replicas == 1);
}

TEST_CASE("store: a lease is renewed by its owner only, and one that ran out interrupts the job",
          "[store]") {
    StoreUnderTest db;
    auto& store = db.store();
    auto started = db(store.insert(make_job(1, JobStatus::queued), rules("r1", true, 5)));
    REQUIRE(started.kind == Inserted::Kind::started);
    Ownership owner{"r1", 1};
    auto renewed = db(store.renew(started.job.id, owner, 30));
    CHECK(renewed.owned);
    CHECK_FALSE(renewed.cancel_requested);
    CHECK_FALSE(db(store.renew(started.job.id, {"r2", 1}, 30)).owned);
    CHECK_FALSE(db(store.renew(started.job.id, {"r1", 2}, 30)).owned);
    CHECK(db(store.interrupt_expired()).empty());

    db(store.renew(started.job.id, owner, -10));  // as if 10 s past its end
    auto interrupted = db(store.interrupt_expired());
    REQUIRE(interrupted.size() == 1);
    CHECK(interrupted[0].status == JobStatus::interrupted);
    auto record = db(store.find(started.job.id));
    CHECK(record->status == JobStatus::interrupted);
    CHECK(record->finished_at.has_value());
    CHECK_THAT(*record->error, Catch::Contains("lease"));
    // The replica that lost it can no longer write.
    CHECK_FALSE(db(store.renew(started.job.id, owner, 30)).owned);
    auto late = started.job;
    late.status = JobStatus::completed;
    CHECK_FALSE(db(store.save_owned(late, owner)));
    CHECK(db(store.find(started.job.id))->status == JobStatus::interrupted);
}

TEST_CASE("store: the owner saves the final record; leftovers of a restart are interrupted",
          "[store]") {
    StoreUnderTest db;
    auto& store = db.store();
    auto started = db(store.insert(make_job(1, JobStatus::queued), rules("r1", true, 5)));
    auto done = started.job;
    done.status = JobStatus::completed;
    done.finished_at = utc_now_iso();
    CHECK(db(store.save_owned(done, {"r1", 1})));
    CHECK(db(store.find(done.id))->status == JobStatus::completed);
    CHECK_FALSE(db(store.save_owned(done, {"r1", 1})));  // no longer running

    auto left = db(store.insert(make_job(2, JobStatus::queued), rules("r1", true, 5)));
    REQUIRE(left.kind == Inserted::Kind::started);
    auto found = db(store.interrupt_leftovers("r1"));
    REQUIRE(found.size() == 1);
    CHECK(found[0].id == left.job.id);
    CHECK(db(store.find(left.job.id))->status == JobStatus::interrupted);
}

TEST_CASE("store: cancel ends a queued job, asks the owner of a running one", "[store]") {
    StoreUnderTest db;
    auto& store = db.store();
    auto running = db(store.insert(make_job(1, JobStatus::queued), rules("r1", true, 5)));
    auto queued = db(store.insert(make_job(2, JobStatus::queued), rules("r1", false, 5)));
    REQUIRE(queued.kind == Inserted::Kind::queued);

    auto cancelled = db(store.request_cancel(queued.job.id));
    CHECK(cancelled.kind == CancelRequest::Kind::cancelled);
    CHECK(cancelled.job->status == JobStatus::cancelled);
    CHECK_FALSE(cancelled.job->started_at);
    CHECK(db(store.find(queued.job.id))->status == JobStatus::cancelled);
    CHECK_FALSE(db(store.claim("r1", 30)));  // it never runs

    auto asked = db(store.request_cancel(running.job.id));
    CHECK(asked.kind == CancelRequest::Kind::requested);
    CHECK(db(store.renew(running.job.id, {"r1", 1}, 30)).cancel_requested);
    CHECK(db(store.request_cancel(queued.job.id)).kind == CancelRequest::Kind::finished);
    CHECK(db(store.request_cancel("ffffffffffff")).kind == CancelRequest::Kind::not_found);
}

TEST_CASE("store: idempotency keys within the window", "[store]") {
    StoreUnderTest db;
    auto& store = db.store();
    auto job = make_job(7, JobStatus::running);
    job.idempotency_key = "order-42";
    db(store.save(job));
    auto now = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    auto found = db(store.find_by_idempotency_key("order-42", now - 86400));
    REQUIRE(found);
    CHECK(found->id == job.id);
    CHECK_FALSE(db(store.find_by_idempotency_key("order-42", now + 10)));  // outside the window
    CHECK_FALSE(db(store.find_by_idempotency_key("other", now - 86400)));
}

TEST_CASE("store: an idempotency key names one job within the window", "[store]") {
    StoreUnderTest db;
    auto& store = db.store();
    auto job = make_job(1, JobStatus::queued);
    job.idempotency_key = "order-42";
    CHECK(db(store.insert(job, rules("r1", true, 5))).kind == Inserted::Kind::started);
    auto again = make_job(2, JobStatus::queued);
    again.idempotency_key = "order-42";
    auto taken = db(store.insert(again, rules("r2", true, 5)));
    CHECK(taken.kind == Inserted::Kind::key_taken);
    CHECK(taken.job.id == job.id);
    CHECK_FALSE(db(store.find(again.id)));
    // Once the window has passed, the key makes a new job.
    auto later = rules("r2", false, 5);
    later.key_since_unix = cas::unix_seconds() + 10;
    CHECK(db(store.insert(again, later)).kind == Inserted::Kind::queued);
    CHECK(db(store.find_by_idempotency_key("order-42", 0))->id == again.id);
}

TEST_CASE("store: retention deletes exactly the old and the excess finished jobs", "[store]") {
    StoreUnderTest db;
    auto& store = db.store();
    for (int i = 1; i <= 10; ++i) db(store.save(make_job(i)));
    db(store.save(make_job(11, JobStatus::running)));
    db(store.save(make_job(12, JobStatus::queued)));
    auto now = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    CHECK(db(store.prune(now - 3600, 100)) == 0);  // nothing old, nothing in excess
    CHECK(db(store.prune(now - 3600, 5)) == 7);    // 12 records, keep 5: the 7 oldest finished go
    for (int i = 1; i <= 7; ++i) CHECK_FALSE(db(store.find(make_job(i).id)));
    for (int i = 8; i <= 12; ++i) CHECK(db(store.find(make_job(i).id)));
    CHECK(db(store.prune(now + 3600, 100)) == 3);  // everything finished is "old" now
    CHECK(db(store.find(make_job(11).id)));        // unfinished jobs are never pruned
    CHECK(db(store.find(make_job(12).id)));
}

TEST_CASE("store: a record holding metadata as deep as a request may send reads back", "[store]") {
    StoreUnderTest db;
    auto& store = db.store();
    auto job = make_job(1);
    std::string nested = "1";
    for (int i = 0; i < 62; ++i) nested = "[" + nested + "]";  // 63 levels with the object
    job.metadata = boost::json::parse("{\"deep\":" + nested + "}", {}, {.max_depth = 64});
    db(store.save(job));
    auto found = db(store.find(job.id));
    REQUIRE(found);
    CHECK(found->metadata == job.metadata);
    CHECK(db(store.list({})).jobs.size() == 1);
}

TEST_CASE("store: session copies and conversations, replaced by key, pruned by age", "[store]") {
    StoreUnderTest db;
    auto& store = db.store();
    const std::string session = "e23b6204-45c8-4286-8939-accea201a19a";
    CHECK_FALSE(db(store.find_session(session)));
    std::string bytes("line 1\n\0binary\n", 15);  // a blob: NUL and all
    db(store.save_session(session, bytes));
    CHECK(db(store.find_session(session)) == bytes);
    db(store.save_session(session, "line 1\nline 2\n"));
    CHECK(db(store.find_session(session)) == "line 1\nline 2\n");

    Conversation conversation{.key = std::string(64, 'a'),
                              .session_id = session,
                              .model = "claude-haiku-4-5",
                              .agent = "triage"};
    db(store.save_conversation(conversation));
    auto found = db(store.find_conversation(conversation.key, 0));
    REQUIRE(found);
    CHECK(found->session_id == session);
    CHECK(found->model == "claude-haiku-4-5");
    CHECK(found->agent == "triage");
    CHECK_FALSE(db(store.find_conversation(std::string(64, 'b'), 0)));
    // Saved now: not found by a lookup that wants it saved after now.
    CHECK_FALSE(db(store.find_conversation(conversation.key, cas::unix_seconds() + 10)));

    // Everything saved before a cutoff in the future goes; nothing before one in the past.
    CHECK(db(store.prune_sessions(0, 0)) == 0);
    auto later = cas::unix_seconds() + 10;
    CHECK(db(store.prune_sessions(later, later)) == 2);
    CHECK_FALSE(db(store.find_session(session)));
    CHECK_FALSE(db(store.find_conversation(conversation.key, 0)));
}

TEST_CASE("store: a stored response reads back whole, only if saved since the cutoff", "[store]") {
    StoreUnderTest db;
    auto& store = db.store();
    StoredResponse response{.id = "resp_0123456789abcdef",
                            .session_id = "e23b6204-45c8-4286-8939-accea201a19a",
                            .agent = "triage",
                            .body = R"({"id":"resp_0123456789abcdef","output_text":"é ✓"})"};
    CHECK_FALSE(db(store.find_response(response.id, 0)));
    db(store.save_response(response));
    auto found = db(store.find_response(response.id, 0));
    REQUIRE(found);
    CHECK(found->id == response.id);
    CHECK(found->session_id == response.session_id);
    CHECK(found->agent == response.agent);
    CHECK(found->body == response.body);
    CHECK(db(store.find_response(response.id, cas::unix_seconds() - 10)));
    CHECK_FALSE(db(store.find_response("resp_other", 0)));
    // Saved now: not found by a lookup that wants it saved after now.
    CHECK_FALSE(db(store.find_response(response.id, cas::unix_seconds() + 10)));
}

TEST_CASE("store: a response saved again under its id replaces the first", "[store]") {
    StoreUnderTest db;
    auto& store = db.store();
    db(store.save_response({.id = "resp_1", .session_id = "s1", .agent = "a", .body = "{}"}));
    db(store.save_response({.id = "resp_1", .session_id = "", .agent = "b", .body = R"({"v":2})"}));
    auto found = db(store.find_response("resp_1", 0));
    REQUIRE(found);
    CHECK(found->session_id.empty());
    CHECK(found->agent == "b");
    CHECK(found->body == R"({"v":2})");
}

TEST_CASE("store: deleting a response says whether it was there", "[store]") {
    StoreUnderTest db;
    auto& store = db.store();
    db(store.save_response({.id = "resp_1", .session_id = "s", .agent = "a", .body = "{}"}));
    db(store.save_response({.id = "resp_2", .session_id = "s", .agent = "a", .body = "{}"}));
    CHECK(db(store.delete_response("resp_1")));
    CHECK_FALSE(db(store.find_response("resp_1", 0)));
    CHECK_FALSE(db(store.delete_response("resp_1")));
    CHECK(db(store.find_response("resp_2", 0)));  // only the one named goes
}

TEST_CASE("store: responses are pruned with the conversations, and counted", "[store]") {
    StoreUnderTest db;
    auto& store = db.store();
    db(store.save_response({.id = "resp_1", .session_id = "s", .agent = "a", .body = "{}"}));
    auto earlier = cas::unix_seconds() - 10;
    auto later = cas::unix_seconds() + 10;
    // The conversations' cutoff decides, not the session copies'.
    CHECK(db(store.prune_sessions(earlier, later)) == 0);
    CHECK(db(store.find_response("resp_1", 0)));
    CHECK(db(store.prune_sessions(later, earlier)) == 1);
    CHECK_FALSE(db(store.find_response("resp_1", 0)));
}
