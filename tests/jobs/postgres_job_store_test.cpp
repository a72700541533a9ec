// What only the PostgreSQL store has: replicas migrating the same database at once, a
// database of an earlier release migrated, a schema newer than the build, and a server that
// goes away and comes back. Tagged [postgres]: CTest runs them with the store contract
// (job_store_contract_test.cpp) on the server its fixture starts.
#include "jobs/postgres_job_store.hpp"

#include "postgres_server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>
#include <catch2/catch.hpp>

#include <cstdlib>
#include <set>

using namespace cas;
using namespace cas::jobs;
namespace asio = boost::asio;

namespace {

Job make_job(std::string id) {
    Job job;
    job.id = std::move(id);
    job.status = JobStatus::completed;
    job.prompt = "prompt";
    job.agent = "a";
    job.created_at = utc_now_iso();
    job.finished_at = job.created_at;
    return job;
}

}  // namespace

TEST_CASE("postgres store: replicas starting at once migrate the schema once", "[postgres]") {
    asio::io_context io;
    test::TestDatabase database(io);
    std::vector<std::future<std::unique_ptr<PostgresJobStore>>> opening;
    for (int i = 0; i < 4; ++i) {
        opening.push_back(asio::co_spawn(
            io, PostgresJobStore::open(io.get_executor(), database.settings()), asio::use_future));
    }
    io.restart();
    io.run_for(std::chrono::seconds(20));
    std::vector<std::unique_ptr<PostgresJobStore>> stores;
    for (auto& open : opening) {
        REQUIRE(open.wait_for(std::chrono::seconds(0)) == std::future_status::ready);
        stores.push_back(open.get());
    }
    CHECK(test::run_coroutine_test(io, test::scalar(io.get_executor(), database.conninfo(),
                                                    "SELECT count(*) FROM cas_schema")) == "1");
    CHECK(test::run_coroutine_test(io, test::scalar(io.get_executor(), database.conninfo(),
                                                    "SELECT version FROM cas_schema")) == "3");
    // Each sees what another wrote.
    test::run_coroutine_test(io, stores[0]->save(make_job("00000000000a")));
    CHECK(test::run_coroutine_test(io, stores[3]->find("00000000000a")));
}

TEST_CASE("postgres store: a schema newer than the build is refused, saying so", "[postgres]") {
    asio::io_context io;
    test::TestDatabase database(io);
    {
        auto store = test::run_coroutine_test(
            io, PostgresJobStore::open(io.get_executor(), database.settings()));
    }
    test::run_coroutine_test(io, test::execute_on(io.get_executor(), database.conninfo(),
                                                  "UPDATE cas_schema SET version = 99"));
    CHECK_THROWS_WITH(test::run_coroutine_test(
                          io, PostgresJobStore::open(io.get_executor(), database.settings())),
                      Catch::Contains("schema version 99 is newer than this build knows"));
}

TEST_CASE("postgres store: a database from before the responses and webhooks migrations gains them",
          "[postgres]") {
    asio::io_context io;
    test::TestDatabase database(io);
    {
        auto store = test::run_coroutine_test(
            io, PostgresJobStore::open(io.get_executor(), database.settings()));
        test::run_coroutine_test(io, store->save(make_job("00000000000a")));
    }
    // Back to schema version 1, as a database of the previous release is.
    test::run_coroutine_test(io,
                             test::execute_on(io.get_executor(), database.conninfo(),
                                              "DROP TABLE responses; DROP INDEX jobs_webhooks_due; "
                                              "ALTER TABLE jobs DROP COLUMN webhook_due_ms, "
                                              "DROP COLUMN webhook_claim"));
    test::run_coroutine_test(io, test::execute_on(io.get_executor(), database.conninfo(),
                                                  "UPDATE cas_schema SET version = 1"));
    auto store = test::run_coroutine_test(
        io, PostgresJobStore::open(io.get_executor(), database.settings()));
    CHECK(test::run_coroutine_test(io, store->find("00000000000a")));
    StoredResponse response{.id = "resp_1", .session_id = "s", .agent = "a", .body = "{}"};
    test::run_coroutine_test(io, store->save_response(response));
    auto found = test::run_coroutine_test(io, store->find_response("resp_1", 0));
    REQUIRE(found);
    CHECK(found->body == "{}");
    CHECK_FALSE(test::run_coroutine_test(io, store->claim_webhook(1000)));
    CHECK(test::run_coroutine_test(io, test::scalar(io.get_executor(), database.conninfo(),
                                                    "SELECT version FROM cas_schema")) == "3");
}

TEST_CASE("postgres store: a server that is down is a StoreError at once, and comes back",
          "[postgres]") {
    test::OwnServer server;
    asio::io_context io;
    auto store =
        test::run_coroutine_test(io, PostgresJobStore::open(io.get_executor(), server.settings()));
    test::run_coroutine_test(io, store->save(make_job("00000000000b")));

    server.control("restart");  // the pooled connection is now dead
    CHECK_THROWS_AS(test::run_coroutine_test(io, store->find("00000000000b")), StoreError);
    // A fresh connection: the record is there, nothing lost.
    auto found = test::run_coroutine_test(io, store->find("00000000000b"));
    REQUIRE(found);
    CHECK(found->status == JobStatus::completed);

    server.control("stop");
    auto started = std::chrono::steady_clock::now();
    CHECK_THROWS_WITH(test::run_coroutine_test(io, store->find("00000000000b")),
                      Catch::Contains("job database") && Catch::Contains("connect"));
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(3));

    server.control("start");  // a fresh, empty cluster in the same place
    auto reopened =
        test::run_coroutine_test(io, PostgresJobStore::open(io.get_executor(), server.settings()));
    CHECK_FALSE(test::run_coroutine_test(io, reopened->find("00000000000b")));
    // The first store reconnects by itself, too.
    CHECK_FALSE(test::run_coroutine_test(io, store->find("00000000000b")));
}

TEST_CASE("postgres store: bytes and text of every kind survive", "[postgres]") {
    asio::io_context io;
    test::TestDatabase database(io);
    auto store = test::run_coroutine_test(
        io, PostgresJobStore::open(io.get_executor(), database.settings()));
    std::string all_bytes;
    for (int c = 0; c < 256; ++c) all_bytes.push_back(static_cast<char>(c));
    test::run_coroutine_test(
        io, store->save_session("e23b6204-45c8-4286-8939-accea201a19a", all_bytes));
    CHECK(test::run_coroutine_test(
              io, store->find_session("e23b6204-45c8-4286-8939-accea201a19a")) == all_bytes);
    auto job = make_job("00000000000c");
    job.prompt = "quotes ' \" $1 \\ and caf\xC3\xA9 \xF0\x9F\x98\x80; DROP TABLE jobs; --";
    job.metadata = boost::json::object{{"nul", std::string("a\0b", 3)}};
    test::run_coroutine_test(io, store->save(job));
    auto found = test::run_coroutine_test(io, store->find(job.id));
    REQUIRE(found);
    CHECK(found->prompt == job.prompt);
    CHECK(found->metadata == job.metadata);
}

namespace {

asio::awaitable<std::vector<std::string>> claim_all(PostgresJobStore& store, std::string replica) {
    std::vector<std::string> ids;
    for (;;) {
        auto claimed = co_await store.claim(replica, 30);
        if (!claimed) co_return ids;
        ids.push_back(claimed->first.id);
    }
}

}  // namespace

TEST_CASE("postgres store: three replicas claiming at once take each queued job exactly once",
          "[postgres]") {
    asio::io_context io;
    test::TestDatabase database(io);
    std::vector<std::unique_ptr<PostgresJobStore>> replicas;
    for (int i = 0; i < 3; ++i) {
        replicas.push_back(test::run_coroutine_test(
            io, PostgresJobStore::open(io.get_executor(), database.settings())));
    }
    InsertRules rules{.owner = {"r0", 0},
                      .start_here = false,
                      .queue_depth = 1000,
                      .key_since_unix = 0,
                      .lease_seconds = 30};
    for (int i = 0; i < 300; ++i) {
        test::run_coroutine_test(io,
                                 replicas[0]->insert(make_job(fmt::format("{:012x}", i)), rules));
    }
    std::vector<std::future<std::vector<std::string>>> claiming;
    for (int i = 0; i < 3; ++i) {
        // Two claimers per replica: its pool's connections are used side by side too.
        for (int j = 0; j < 2; ++j) {
            claiming.push_back(asio::co_spawn(
                io, claim_all(*replicas[static_cast<std::size_t>(i)], fmt::format("r{}", i)),
                asio::use_future));
        }
    }
    io.restart();
    io.run_for(std::chrono::seconds(30));
    std::set<std::string> claimed;
    std::size_t total = 0;
    std::size_t claimers_with_work = 0;
    for (auto& c : claiming) {
        REQUIRE(c.wait_for(std::chrono::seconds(0)) == std::future_status::ready);
        auto ids = c.get();
        total += ids.size();
        if (!ids.empty()) ++claimers_with_work;
        claimed.insert(ids.begin(), ids.end());
    }
    CHECK(total == 300);
    CHECK(claimed.size() == 300);
    CHECK(claimers_with_work > 1);
}

TEST_CASE("postgres store: the same idempotency key inserted by two replicas at once is one job",
          "[postgres]") {
    asio::io_context io;
    test::TestDatabase database(io);
    auto a = test::run_coroutine_test(
        io, PostgresJobStore::open(io.get_executor(), database.settings()));
    auto b = test::run_coroutine_test(
        io, PostgresJobStore::open(io.get_executor(), database.settings()));
    InsertRules rules{.owner = {"r", 0},
                      .start_here = false,
                      .queue_depth = 1000,
                      .key_since_unix = 0,
                      .lease_seconds = 30};
    for (int round = 0; round < 20; ++round) {
        auto first = make_job(fmt::format("{:012x}", 2 * round));
        auto second = make_job(fmt::format("{:012x}", 2 * round + 1));
        first.idempotency_key = second.idempotency_key = fmt::format("key-{}", round);
        auto x = asio::co_spawn(io, a->insert(first, rules), asio::use_future);
        auto y = asio::co_spawn(io, b->insert(second, rules), asio::use_future);
        io.restart();
        io.run_for(std::chrono::seconds(10));
        auto rx = x.get();
        auto ry = y.get();
        CHECK((rx.kind == Inserted::Kind::key_taken) != (ry.kind == Inserted::Kind::key_taken));
        CHECK(rx.job.id == ry.job.id);
    }
}
