// The job store's contract, one suite for both stores: this file is built into
// cas_unit_tests with the SQLite backend and into cas_postgres_tests with the PostgreSQL one
// (store_under_test.hpp).
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

TEST_CASE("store: save, find, update, and read back after a restart") {
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

TEST_CASE("store: pagination over 1,000 jobs has no duplicates or gaps") {
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

TEST_CASE("store: unfinished jobs in creation order") {
    StoreUnderTest db;
    auto& store = db.store();
    db(store.save(make_job(1, JobStatus::queued)));
    db(store.save(make_job(2, JobStatus::completed)));
    db(store.save(make_job(3, JobStatus::running)));
    db(store.save(make_job(4, JobStatus::queued)));
    auto open = db(store.unfinished());
    REQUIRE(open.size() == 3);
    CHECK(open[0].id == make_job(1).id);
    CHECK(open[1].id == make_job(3).id);
    CHECK(open[2].id == make_job(4).id);
}

TEST_CASE("store: idempotency keys within the window") {
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

TEST_CASE("store: retention deletes exactly the old and the excess finished jobs") {
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

TEST_CASE("store: a record holding metadata as deep as a request may send reads back") {
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

TEST_CASE("store: session copies and conversations, replaced by key, pruned by age") {
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

