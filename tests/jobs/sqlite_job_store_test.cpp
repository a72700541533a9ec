// What only the SQLite store has: a file that may be corrupt or unusable, and migrations
// of databases written by earlier releases. The rest of its behaviour is the store
// contract (job_store_contract_test.cpp), which runs against it in this binary.
#include "jobs/sqlite_job_store.hpp"

#include "coroutine_test.hpp"
#include "log_file.hpp"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>

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

Job make_job(int n) {
    Job job;
    job.id = std::string(11, '0') + std::to_string(n);
    job.status = JobStatus::completed;
    job.prompt = "prompt";
    job.agent = "a";
    job.created_at = utc_now_iso();
    job.finished_at = job.created_at;
    return job;
}

template <class T>
T run(boost::asio::awaitable<T> call) {
    boost::asio::io_context io;
    return cas::test::run_coroutine_test(io, std::move(call));
}

}  // namespace

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

TEST_CASE(
    "store: damage deeper in the file does not hold start-up; the check after it reports "
    "it") {
    TempDb db;
    {
        SqliteJobStore store(db.path);
        auto job = make_job(1);
        job.prompt = std::string(300U * 1024U, 'x');  // a chain of overflow pages
        run(store.save(job));
    }
    {
        cas::test::LogFile log;
        SqliteJobStore healthy(db.path);
        CHECK_THAT(
            log.through("job database checked"),
            Catch::Contains(R"("msg":"job database checked")") && !Catch::Contains("corrupt"));
    }
    {  // one page in the middle of the record's chain overwritten
        constexpr std::size_t kPage = 4096;
        auto middle = fs::file_size(db.path) / kPage / 2 * kPage;
        std::fstream file(db.path, std::ios::binary | std::ios::in | std::ios::out);
        file.seekp(static_cast<std::streamoff>(middle));
        file << std::string(kPage, '\x42');
    }
    cas::test::LogFile log;
    SqliteJobStore damaged(db.path);  // opens: nothing it reads at start is damaged
    auto text = log.through("the job database is corrupt");
    CHECK_THAT(text, Catch::Contains(R"("level":"error","msg":"the job database is corrupt)") &&
                         Catch::Contains(db.path) && Catch::Contains(R"("problems":")"));
}

TEST_CASE("store: a database from before the sessions and queue migrations opens and gains them") {
    TempDb db;
    {
        SqliteJobStore store(db.path);
        run(store.save(make_job(1)));
    }
    {  // back to schema version 1, as a database of the previous release is
        sqlite3* raw = nullptr;
        REQUIRE(sqlite3_open(db.path.c_str(), &raw) == SQLITE_OK);
        CHECK(sqlite3_exec(
                  raw,
                  "DROP INDEX jobs_webhooks_due; ALTER TABLE jobs DROP COLUMN webhook_due_ms; "
                  "ALTER TABLE jobs DROP COLUMN webhook_claim; "
                  "DROP TABLE responses; DROP TABLE sessions; DROP TABLE conversations; "
                  "DROP TABLE replicas; "
                  "DROP INDEX jobs_queued; ALTER TABLE jobs DROP COLUMN owner; "
                  "ALTER TABLE jobs DROP COLUMN attempt; "
                  "ALTER TABLE jobs DROP COLUMN lease_expires_unix; "
                  "ALTER TABLE jobs DROP COLUMN cancel_requested; PRAGMA user_version = 1;",
                  nullptr, nullptr, nullptr) == SQLITE_OK);
        sqlite3_close(raw);
    }
    SqliteJobStore reopened(db.path);
    CHECK(run(reopened.find(make_job(1).id)));
    run(reopened.save_session("e23b6204-45c8-4286-8939-accea201a19a", "x"));
    CHECK(run(reopened.find_session("e23b6204-45c8-4286-8939-accea201a19a")) == "x");
}

TEST_CASE("store: a database from before the responses and webhooks migrations gains them") {
    TempDb db;
    {
        SqliteJobStore store(db.path);
        run(store.save(make_job(1)));
        run(store.save_conversation({.key = "k", .session_id = "s", .model = "m", .agent = "a"}));
    }
    {  // back to schema version 3, as a database of the previous release is
        sqlite3* raw = nullptr;
        REQUIRE(sqlite3_open(db.path.c_str(), &raw) == SQLITE_OK);
        CHECK(sqlite3_exec(raw,
                           "DROP INDEX jobs_webhooks_due; ALTER TABLE jobs DROP COLUMN "
                           "webhook_due_ms; ALTER TABLE jobs DROP COLUMN webhook_claim; "
                           "DROP TABLE responses; PRAGMA user_version = 3;",
                           nullptr, nullptr, nullptr) == SQLITE_OK);
        sqlite3_close(raw);
    }
    SqliteJobStore reopened(db.path);
    CHECK(run(reopened.find(make_job(1).id)));
    CHECK(run(reopened.find_conversation("k", 0)));
    run(reopened.save_response({.id = "resp_1", .session_id = "s", .agent = "a", .body = "{}"}));
    auto response = run(reopened.find_response("resp_1", 0));
    REQUIRE(response);
    CHECK(response->body == "{}");
    CHECK_FALSE(run(reopened.claim_webhook(1000)));  // the outbox is there, and empty
}
