// Replicas sharing one PostgreSQL job store, over HTTP against the real binary: the queue
// shared cluster-wide, a replica killed mid-run, cancel and events across replicas, one job
// per Idempotency-Key, and the database restarting under load. Each test has a fresh
// database on the tests' server (or a server of its own, which it restarts).
#include "integration/agent_fixture.hpp"
#include "jobs/postgres_server.hpp"

#include <signal.h>

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <future>
#include <set>

using namespace cas::test;

namespace {

// N replicas of the service on one database: each its own workspace, data directory and
// port, as a deployment has them.
struct Cluster {
    boost::asio::io_context io;
    std::optional<TestDatabase> database;
    std::string conninfo;
    std::vector<std::unique_ptr<Fixture>> replicas;

    Cluster(int count, Fixture::Env extra, std::string database_url = "") {
        if (database_url.empty()) {
            database.emplace(io);
            database_url = database->conninfo();
        }
        conninfo = database_url;
        extra["DATABASE_URL"] = database_url;
        extra.try_emplace("LEASE_SECONDS", "3");
        for (int i = 1; i <= count; ++i) {
            auto env = extra;
            env["REPLICA_ID"] = fmt::format("r{}", i);
            replicas.push_back(std::make_unique<Fixture>(env));
        }
    }
    Fixture& operator[](std::size_t i) { return *replicas.at(i); }
    // Which replica runs (or ran) the job, from the store.
    std::string owner(const std::string& id) {
        return run_coroutine_test(
            io, scalar(io.get_executor(), conninfo,
                       fmt::format("SELECT coalesce(owner, '') FROM jobs WHERE id = '{}'", id)));
    }
};

std::string job_id(const HttpReply& reply) {
    REQUIRE(reply.status == 202);
    return std::string(json::parse(reply.body).at("job_id").as_string());
}

}  // namespace

TEST_CASE("jobs submitted to one replica run on all three, and any replica reads them") {
    Cluster cluster(3, {{"QUEUE_DEPTH", "30"}});
    std::vector<std::string> ids;
    for (int i = 0; i < 9; ++i) {
        ids.push_back(job_id(cluster[0].execute(
            {{"prompt", fmt::format("job {}\nFAKE:sleep=1", i)}, {"agent", "a"}})));
    }
    std::set<std::string> owners;
    // Run intervals as ISO strings of one format: they compare as text.
    std::vector<std::pair<std::string, std::string>> runs;
    for (const auto& id : ids) {
        auto record = cluster[2].wait_job(id, 30s);  // read through another replica
        CHECK(record.at("status") == "completed");
        owners.insert(cluster.owner(id));
        runs.emplace_back(std::string(record.at("started_at").as_string()),
                          std::string(record.at("finished_at").as_string()));
    }
    CHECK(owners == std::set<std::string>{"r1", "r2", "r3"});
    // Ran side by side, not one after another: a single slot never overlaps itself, so
    // some two runs overlapping means two replicas worked at once (no wall-clock bound).
    bool overlapped = false;
    for (std::size_t a = 0; a < runs.size(); ++a) {
        for (std::size_t b = a + 1; b < runs.size(); ++b) {
            overlapped =
                overlapped || (runs[a].first < runs[b].second && runs[b].first < runs[a].second);
        }
    }
    CHECK(overlapped);
    // One listing, the same on every replica.
    auto listed = request(cluster[1].port(), "GET", "/jobs?limit=20", "", kAuth);
    REQUIRE(listed.status == 200);
    CHECK(json::parse(listed.body).at("jobs").as_array().size() == 9);
}

TEST_CASE("with no queue, a job goes to an idle replica, and 409 only when none is") {
    Cluster cluster(2, {{"QUEUE_DEPTH", "0"}});
    REQUIRE(eventually([&] {  // both have sent a heartbeat
        auto scrape = request(cluster[0].port(), "GET", "/metrics");
        return scrape.body.find("cas_replicas_live 2") != std::string::npos;
    }));
    auto first = job_id(cluster[0].execute({{"prompt", "x\nFAKE:sleep=3"}, {"agent", "a"}}));
    auto handed = cluster[0].execute({{"prompt", "y\nFAKE:sleep=3"}, {"agent", "a"}});
    REQUIRE(handed.status == 202);
    auto second = job_id(handed);
    CHECK(eventually([&] { return cluster[1].job(second).at("status") == "running"; }, 3s));
    CHECK(cluster.owner(second) == "r2");
    REQUIRE(eventually(
        [&] {  // r2's heartbeat says it is busy
            auto third = cluster[0].execute({{"prompt", "z"}, {"agent", "a"}});
            return third.status == 409;
        },
        8s));
    CHECK(cluster[0].wait_job(first).at("status") == "completed");
}

TEST_CASE("kill -9 of a replica mid-run: its job is interrupted, and the others serve on") {
    Cluster cluster(2, {{"QUEUE_DEPTH", "5"}});
    auto doomed = job_id(cluster[0].execute({{"prompt", "x\nFAKE:sleep=60"}, {"agent", "a"}}));
    REQUIRE(eventually([&] { return cluster.owner(doomed) == "r1"; }));
    std::this_thread::sleep_for(300ms);
    auto killed_at = std::chrono::steady_clock::now();
    cluster[0].service->stop(SIGKILL);
    // The lease (3 s) runs out, and the next sweep (every 1.5 s) interrupts it.
    auto record = cluster[1].wait_job(doomed, 15s);
    auto took = std::chrono::steady_clock::now() - killed_at;
    CHECK(record.at("status") == "interrupted");
    CHECK_THAT(std::string(record.at("error").as_string()), Catch::Contains("lease"));
    CHECK(took < 3s + 1500ms + 2s);
    auto next = job_id(cluster[1].execute({{"prompt", "after"}, {"agent", "a"}}));
    CHECK(cluster[1].wait_job(next).at("status") == "completed");
}

TEST_CASE("cancel on another replica stops the run and answers the final record") {
    Cluster cluster(2, {{"QUEUE_DEPTH", "5"}});
    auto id = job_id(
        cluster[0].execute({{"prompt", "x\nFAKE:sleep=60\nFAKE:grandchild=60"}, {"agent", "a"}}));
    REQUIRE(eventually([&] { return cluster.owner(id) == "r1"; }));
    std::this_thread::sleep_for(300ms);
    auto started = std::chrono::steady_clock::now();
    auto reply = request(cluster[1].port(), "DELETE", "/jobs/" + id, "", kAuth);
    CHECK(std::chrono::steady_clock::now() - started < 3s);
    REQUIRE(reply.status == 200);
    CHECK(json::parse(reply.body).at("status") == "cancelled");
    CHECK(cluster[0].job(id).at("status") == "cancelled");
    CHECK(eventually([&] { return cluster[0].no_descendants(); }));
    CHECK(request(cluster[1].port(), "DELETE", "/jobs/" + id, "", kAuth).status == 409);
}

TEST_CASE("a job's events on another replica arrive live, then its record") {
    Cluster cluster(2, {{"QUEUE_DEPTH", "5"}});
    auto id =
        job_id(cluster[0].execute({{"prompt", "x\nFAKE:stall-after-init=3"}, {"agent", "a"}}));
    Connection watcher(cluster[1].port(), 15s);
    watcher.send("GET /jobs/" + id +
                 "/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer test-token\r\n\r\n");
    // The CLI's init line, printed on r1, reaches the reader on r2 while the run goes on.
    auto live = watcher.read_until("event: output", 2s);
    CHECK_THAT(live, Catch::Contains("\"status\":\"running\""));
    CHECK_THAT(live, Catch::Contains("system"));
    CHECK(cluster[1].job(id).at("status") == "running");
    auto rest = watcher.read_until("event: job", 10s);  // all read so far
    CHECK_THAT(rest, Catch::Contains("\"status\":\"completed\""));
    CHECK_THAT(rest, Catch::Contains("fake reply: x"));  // the answer, in the output events
    // Each event once: one running status, one final status, one record.
    auto count = [&](const std::string& needle) {
        std::size_t n = 0;
        for (auto at = rest.find(needle); at != std::string::npos; at = rest.find(needle, at + 1))
            ++n;
        return n;
    };
    CHECK(count("\"status\":\"running\"}") == 1);
    CHECK(count("event: job") == 1);
}

TEST_CASE("the same Idempotency-Key sent to two replicas at once makes one job") {
    Cluster cluster(2, {{"QUEUE_DEPTH", "5"}});
    for (int round = 0; round < 5; ++round) {
        auto key = fmt::format("deploy-{}", round);
        auto send = [&](int replica) {
            return cluster[static_cast<std::size_t>(replica)].execute(
                {{"prompt", "once"}, {"agent", "a"}},
                {{"Authorization", "Bearer test-token"}, {"Idempotency-Key", key}});
        };
        auto a = std::async(std::launch::async, send, 0);
        auto b = std::async(std::launch::async, send, 1);
        auto ra = a.get();
        auto rb = b.get();
        REQUIRE(ra.status == 202);
        REQUIRE(rb.status == 202);
        CHECK(job_id(ra) == job_id(rb));
        CHECK((ra.header("idempotent-replayed") == "true") !=
              (rb.header("idempotent-replayed") == "true"));
        cluster[0].wait_job(job_id(ra));
    }
    CHECK(run_coroutine_test(cluster.io, scalar(cluster.io.get_executor(), cluster.conninfo,
                                                "SELECT count(*) FROM jobs")) == "5");
}

TEST_CASE("PostgreSQL restarting under load: 503 while it is down, and nothing lost") {
    OwnServer server;
    // A lease longer than the outage: the run's owner saves its outcome when the database is
    // back (a shorter one would let a sweep interrupt the job first, which is also right).
    Cluster cluster(2, {{"QUEUE_DEPTH", "10"}, {"LEASE_SECONDS", "30"}}, server.conninfo());
    auto running = job_id(cluster[0].execute({{"prompt", "x\nFAKE:sleep=3"}, {"agent", "a"}}));
    auto done = job_id(cluster[1].execute({{"prompt", "y"}, {"agent", "a"}}));
    cluster[1].wait_job(done);

    server.control("halt");
    // A running job's record is read from the database: 503. A finished one read before is
    // answered from memory (nothing can change it while the database is down).
    auto down = request(cluster[1].port(), "GET", "/jobs/" + running, "", kAuth);
    CHECK(down.status == 503);
    CHECK(down.header("retry-after") == "30");
    CHECK(request(cluster[1].port(), "GET", "/jobs/" + done, "", kAuth).status == 200);
    CHECK(cluster[0].execute({{"prompt", "z"}, {"agent", "a"}}).status == 503);
    CHECK(request(cluster[0].port(), "GET", "/health").status == 200);  // the replica lives
    std::this_thread::sleep_for(3500ms);  // the run ends while the database is down
    server.control("restart");

    // Back by itself: the records, and the run's outcome saved once the database returned.
    CHECK(eventually(
        [&] { return request(cluster[1].port(), "GET", "/jobs/" + done, "", kAuth).status == 200; },
        10s));
    CHECK(cluster[1].wait_job(running, 15s).at("status") == "completed");
    auto after = job_id(cluster[0].execute({{"prompt", "after"}, {"agent", "a"}}));
    CHECK(cluster[1].wait_job(after).at("status") == "completed");
    // Its event loop is whole: no descriptor of a dropped connection took another's place
    // (once, one unregistered the signal pipe, and SIGTERM went unheard).
    for (std::size_t i = 0; i < 2; ++i) CHECK(cluster[i].service->stop(SIGTERM, 5s) == 0);
}

TEST_CASE("a session begun on one replica is resumed on another: the store brings its file") {
    Cluster cluster(2, {{"QUEUE_DEPTH", "5"}});
    auto first_id = job_id(cluster[0].execute({{"prompt", "one\nFAKE:turns"}, {"agent", "a"}}));
    auto first = cluster[0].wait_job(first_id);
    REQUIRE(first.at("result") == "user-turns=1");
    auto second_id = job_id(
        cluster[1].execute({{"prompt", "two\nFAKE:turns"}, {"agent", "a"}, {"resume", first_id}}));
    auto second = cluster[1].wait_job(second_id);
    CHECK(cluster.owner(second_id) == "r2");
    CHECK(second.at("result") == "user-turns=2");  // the first turn came along
    CHECK(second.at("session_id") == first.at("session_id"));
}

TEST_CASE("a record another replica's retention sweep deleted is not served from memory") {
    // r1 sweeps 5 s after its start, then not for a day: by then r2 below has deleted the record,
    // so r1's own sweep deletes nothing. It reads (and keeps) a finished record.
    Cluster cluster(1, {{"JOB_MAX_RECORDS", "1"}, {"RETENTION_SWEEP_SECONDS", "86400"}});
    auto first = job_id(cluster[0].execute({{"prompt", "first"}, {"agent", "a"}}));
    CHECK(cluster[0].wait_job(first).at("status") == "completed");
    CHECK(cluster[0].job(first).at("status") == "completed");
    auto second = job_id(cluster[0].execute({{"prompt", "second"}, {"agent", "a"}}));
    CHECK(cluster[0].wait_job(second).at("status") == "completed");

    // r2 sweeps every second: it deletes the first record, the oldest beyond one.
    cluster.replicas.push_back(
        std::make_unique<Fixture>(Fixture::Env{{"DATABASE_URL", cluster.conninfo},
                                               {"LEASE_SECONDS", "3"},
                                               {"REPLICA_ID", "r2"},
                                               {"JOB_MAX_RECORDS", "1"},
                                               {"RETENTION_SWEEP_SECONDS", "1"}}));
    auto deadline = std::chrono::steady_clock::now() + 10s;
    int status = 200;
    while (status == 200 && std::chrono::steady_clock::now() < deadline) {
        status = request(cluster[0].port(), "GET", "/jobs/" + first, "", kAuth).status;
        std::this_thread::sleep_for(50ms);
    }
    CHECK(status == 404);
    CHECK(cluster[0].job(second).at("status") == "completed");
}
