#include "jobs/sqlite_job_store.hpp"

#include "util/wall_clock.hpp"

#include <unistd.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <set>

using namespace cas::jobs;
namespace fs = std::filesystem;

namespace {

struct TempDb {
    fs::path dir = [] {
        char tmpl[] = "/tmp/cas-store-test-XXXXXX";
        return fs::path(mkdtemp(tmpl));
    }();
    std::string path = (dir / "jobs.db").string();
    ~TempDb() {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
};

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

TEST_CASE("store: save, find, update, and reopen") {
    TempDb db;
    {
        SqliteJobStore store(db.path);
        auto job = make_job(1, JobStatus::running);
        store.save(job);
        job.status = JobStatus::completed;
        job.result = "done";
        store.save(job);
        CHECK_FALSE(store.find("ffffffffffff"));
    }
    SqliteJobStore reopened(db.path);
    auto found = reopened.find(make_job(1).id);
    REQUIRE(found);
    CHECK(found->status == JobStatus::completed);
    CHECK(found->result == "done");
}

TEST_CASE("store: pagination over 1,000 jobs has no duplicates or gaps") {
    TempDb db;
    SqliteJobStore store(db.path);
    for (int i = 1; i <= 1000; ++i)
        store.save(make_job(i, JobStatus::completed, i % 3 == 0 ? "x" : "y"));
    std::set<std::string> seen;
    JobFilter filter;
    filter.limit = 37;
    std::string previous;
    int pages = 0;
    for (;;) {
        auto page = store.list(filter);
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
    auto xs = store.list(by_agent);
    CHECK(xs.jobs.size() == 333);
    JobFilter by_status;
    by_status.status = JobStatus::running;
    auto running = store.list(by_status);
    CHECK(running.jobs.empty());
    CHECK_FALSE(running.next);
}

TEST_CASE("store: unfinished jobs in creation order") {
    TempDb db;
    SqliteJobStore store(db.path);
    store.save(make_job(1, JobStatus::queued));
    store.save(make_job(2, JobStatus::completed));
    store.save(make_job(3, JobStatus::running));
    store.save(make_job(4, JobStatus::queued));
    auto open = store.unfinished();
    REQUIRE(open.size() == 3);
    CHECK(open[0].id == make_job(1).id);
    CHECK(open[1].id == make_job(3).id);
    CHECK(open[2].id == make_job(4).id);
}

TEST_CASE("store: idempotency keys within the window") {
    TempDb db;
    SqliteJobStore store(db.path);
    auto job = make_job(7, JobStatus::running);
    job.idempotency_key = "order-42";
    store.save(job);
    auto now = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    auto found = store.find_by_idempotency_key("order-42", now - 86400);
    REQUIRE(found);
    CHECK(found->id == job.id);
    CHECK_FALSE(store.find_by_idempotency_key("order-42", now + 10));  // outside the window
    CHECK_FALSE(store.find_by_idempotency_key("other", now - 86400));
}

TEST_CASE("store: retention deletes exactly the old and the excess finished jobs") {
    TempDb db;
    SqliteJobStore store(db.path);
    for (int i = 1; i <= 10; ++i) store.save(make_job(i));
    store.save(make_job(11, JobStatus::running));
    store.save(make_job(12, JobStatus::queued));
    auto now = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    CHECK(store.prune(now - 3600, 100) == 0);  // nothing old, nothing in excess
    CHECK(store.prune(now - 3600, 5) == 7);    // 12 records, keep 5: the 7 oldest finished go
    for (int i = 1; i <= 7; ++i) CHECK_FALSE(store.find(make_job(i).id));
    for (int i = 8; i <= 12; ++i) CHECK(store.find(make_job(i).id));
    CHECK(store.prune(now + 3600, 100) == 3);  // everything finished is "old" now
    CHECK(store.find(make_job(11).id));        // unfinished jobs are never pruned
    CHECK(store.find(make_job(12).id));
}

TEST_CASE("store: a corrupt or unusable file is a clear error") {
    TempDb db;
    {
        std::ofstream garbage(db.path, std::ios::binary);
        garbage << std::string(8192, '\x42');
    }
    CHECK_THROWS_WITH(SqliteJobStore(db.path),
                      Catch::Contains(db.path) && Catch::Contains("not a database"));
    CHECK_THROWS_AS(SqliteJobStore((db.dir / "missing-dir" / "jobs.db").string()), StoreError);
}

TEST_CASE("store: a record holding metadata as deep as a request may send reads back") {
    TempDb db;
    SqliteJobStore store(db.path);
    auto job = make_job(1);
    std::string nested = "1";
    for (int i = 0; i < 62; ++i) nested = "[" + nested + "]";  // 63 levels with the object
    job.metadata = boost::json::parse("{\"deep\":" + nested + "}", {}, {.max_depth = 64});
    store.save(job);
    auto found = store.find(job.id);
    REQUIRE(found);
    CHECK(found->metadata == job.metadata);
    CHECK(store.list({}).jobs.size() == 1);
}

TEST_CASE("store: session copies and conversations, replaced by key, pruned by age") {
    TempDb db;
    SqliteJobStore store(db.path);
    const std::string session = "e23b6204-45c8-4286-8939-accea201a19a";
    CHECK_FALSE(store.find_session(session));
    std::string bytes("line 1\n\0binary\n", 15);  // a blob: NUL and all
    store.save_session(session, bytes);
    CHECK(store.find_session(session) == bytes);
    store.save_session(session, "line 1\nline 2\n");
    CHECK(store.find_session(session) == "line 1\nline 2\n");

    Conversation conversation{.key = std::string(64, 'a'),
                              .session_id = session,
                              .model = "claude-haiku-4-5",
                              .agent = "triage"};
    store.save_conversation(conversation);
    auto found = store.find_conversation(conversation.key, 0);
    REQUIRE(found);
    CHECK(found->session_id == session);
    CHECK(found->model == "claude-haiku-4-5");
    CHECK(found->agent == "triage");
    CHECK_FALSE(store.find_conversation(std::string(64, 'b'), 0));
    // Saved now: not found by a lookup that wants it saved after now.
    CHECK_FALSE(store.find_conversation(conversation.key, cas::unix_seconds() + 10));

    // Everything saved before a cutoff in the future goes; nothing before one in the past.
    CHECK(store.prune_sessions(0, 0) == 0);
    auto later = cas::unix_seconds() + 10;
    CHECK(store.prune_sessions(later, later) == 2);
    CHECK_FALSE(store.find_session(session));
    CHECK_FALSE(store.find_conversation(conversation.key, 0));
}

TEST_CASE("store: a database from before the sessions migration opens and gains the tables") {
    TempDb db;
    {
        SqliteJobStore store(db.path);
        store.save(make_job(1));
    }
    {  // back to schema version 1, as a database of the previous release is
        sqlite3* raw = nullptr;
        REQUIRE(sqlite3_open(db.path.c_str(), &raw) == SQLITE_OK);
        CHECK(sqlite3_exec(
                  raw, "DROP TABLE sessions; DROP TABLE conversations; PRAGMA user_version = 1;",
                  nullptr, nullptr, nullptr) == SQLITE_OK);
        sqlite3_close(raw);
    }
    SqliteJobStore reopened(db.path);
    CHECK(reopened.find(make_job(1).id));
    reopened.save_session("e23b6204-45c8-4286-8939-accea201a19a", "x");
    CHECK(reopened.find_session("e23b6204-45c8-4286-8939-accea201a19a") == "x");
}
