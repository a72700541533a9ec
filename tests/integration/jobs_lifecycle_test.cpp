// Jobs that last, over HTTP against the real binary: restart recovery after kill -9,
// cancel, list, queue, idempotency, live events, and a bad database at start-up.
#include "integration/agent_fixture.hpp"

#include <signal.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <set>

using namespace cas::test;

namespace {

json::object list(const Fixture& f, const std::string& query = "") {
    auto reply = request(f.port(), "GET", "/jobs" + query, "", kAuth);
    REQUIRE(reply.status == 200);
    return json::parse(reply.body).as_object();
}

HttpReply cancel(const Fixture& f, const std::string& id, bool use_post = false) {
    return use_post ? request(f.port(), "POST", "/jobs/" + id + "/cancel", "", kAuth)
                    : request(f.port(), "DELETE", "/jobs/" + id, "", kAuth);
}

}  // namespace

TEST_CASE("kill -9 during a run: after a restart the job is interrupted, finished jobs intact") {
    Fixture f;
    auto done = f.start_job("finished before the crash");
    auto finished = f.wait_job(done);
    REQUIRE(finished.at("status") == "completed");
    auto running = f.start_job("x\nFAKE:sleep=30");
    std::this_thread::sleep_for(300ms);
    f.restart(SIGKILL);

    auto interrupted = f.job(running);
    CHECK(interrupted.at("status") == "interrupted");
    CHECK(interrupted.at("finished_at").is_string());
    CHECK_THAT(std::string(interrupted.at("error").as_string()), Catch::Contains("interrupted"));
    CHECK(f.job(done) == finished);
    CHECK(f.idle_after_final_record());
}

TEST_CASE("kill -9 with queued jobs: they are queued again and run in their order") {
    Fixture f(Fixture::Env{{"QUEUE_DEPTH", "5"}});
    auto first = f.start_job("first\nFAKE:sleep=30");
    auto second = f.start_job("second", {}, "queued");
    auto third = f.start_job("third", {}, "queued");
    CHECK(f.job(second).at("status") == "queued");
    f.restart(SIGKILL);

    CHECK(f.job(first).at("status") == "interrupted");
    auto a = f.wait_job(second);
    auto b = f.wait_job(third);
    CHECK(a.at("status") == "completed");
    CHECK(b.at("status") == "completed");
    CHECK(a.at("started_at").as_string() < b.at("started_at").as_string());
    CHECK(a.at("finished_at").as_string() <= b.at("started_at").as_string());
}

TEST_CASE("the queue: positions, FIFO order through the slot, 429 when full") {
    Fixture f(Fixture::Env{{"QUEUE_DEPTH", "2"}});
    auto running = f.start_job("x\nFAKE:sleep=1");
    auto q1 = f.execute({{"prompt", "q1"}, {"agent", "a"}});
    auto q2 = f.execute({{"prompt", "q2"}, {"agent", "a"}});
    REQUIRE(q1.status == 202);
    REQUIRE(q2.status == 202);
    CHECK(json::parse(q1.body).at("position") == 1);
    CHECK(json::parse(q2.body).at("position") == 2);
    auto full = f.execute({{"prompt", "q3"}, {"agent", "a"}});
    CHECK(full.status == 429);
    CHECK(full.header("retry-after") == "30");
    CHECK(f.complete(chat("hi")).status == 503);  // completions are never queued

    auto id1 = std::string(json::parse(q1.body).at("job_id").as_string());
    auto id2 = std::string(json::parse(q2.body).at("job_id").as_string());
    auto r = f.wait_job(running);
    auto j1 = f.wait_job(id1);
    auto j2 = f.wait_job(id2);
    CHECK(j1.at("status") == "completed");
    CHECK(j2.at("status") == "completed");
    CHECK(r.at("finished_at").as_string() <= j1.at("started_at").as_string());
    CHECK(j1.at("finished_at").as_string() <= j2.at("started_at").as_string());
    CHECK(f.idle_after_final_record());
}

TEST_CASE("without a queue a busy service still answers 409") {
    Fixture f;
    f.start_job("x\nFAKE:sleep=2");
    auto second = f.execute({{"prompt", "x"}, {"agent", "a"}});
    CHECK(second.status == 409);
    CHECK(second.body == R"({"detail":"Agent is busy"})");
}

TEST_CASE("cancel a running job: its process is killed, it ends cancelled, the slot is free") {
    Fixture f;
    auto id = f.start_job("x\nFAKE:sleep=30\nFAKE:grandchild=60");
    std::this_thread::sleep_for(300ms);
    auto started = std::chrono::steady_clock::now();
    auto reply = cancel(f, id);
    CHECK(std::chrono::steady_clock::now() - started < 3s);
    REQUIRE(reply.status == 200);
    CHECK(json::parse(reply.body).at("status") == "cancelled");
    CHECK(f.job(id).at("status") == "cancelled");
    CHECK(f.idle_after_final_record());
    CHECK(f.no_descendants());
    SECTION("cancelling it again is 409 with its status") {
        auto again = cancel(f, id, true);
        CHECK(again.status == 409);
        CHECK(json::parse(again.body).at("status") == "cancelled");
    }
}

TEST_CASE("cancel answers with the final record however long the kill grace is") {
    // Past the 10 s a cancel used to wait, a CLI that ignores SIGTERM is still running.
    Fixture f(Fixture::Env{{"KILL_GRACE_MS", "11500"}});
    auto id = f.start_job("x\nFAKE:ignore-term\nFAKE:sleep=60");
    // Not a fixed pause: on a loaded machine the CLI may not ignore SIGTERM yet after 300 ms.
    for (auto deadline = std::chrono::steady_clock::now() + 10s;
         !std::filesystem::exists(f.record.path / "ignoring-term");) {
        REQUIRE(std::chrono::steady_clock::now() < deadline);
        std::this_thread::sleep_for(20ms);
    }
    auto started = std::chrono::steady_clock::now();
    Connection conn(f.port(), 30s);
    conn.send("DELETE /jobs/" + id +
              " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer test-token\r\n\r\n");
    auto reply = conn.read_reply();
    CHECK(std::chrono::steady_clock::now() - started >= 11s);
    REQUIRE(reply.status == 200);
    auto record = json::parse(reply.body);
    CHECK(record.at("status") == "cancelled");
    CHECK_FALSE(record.at("finished_at").is_null());
    CHECK(f.job(id).at("status") == "cancelled");
    CHECK(f.idle_after_final_record());
    CHECK(f.no_descendants());
}

TEST_CASE("cancel a queued job: it never runs and the queue moves on") {
    Fixture f(Fixture::Env{{"QUEUE_DEPTH", "3"}});
    auto running = f.start_job("x\nFAKE:sleep=1");
    auto doomed = f.start_job("doomed", {}, "queued");
    auto next = f.start_job("next", {}, "queued");
    auto reply = cancel(f, doomed, true);
    REQUIRE(reply.status == 200);
    CHECK(json::parse(reply.body).at("status") == "cancelled");
    CHECK(f.wait_job(next).at("status") == "completed");
    auto record = f.job(doomed);
    CHECK(record.at("status") == "cancelled");
    CHECK(record.at("started_at").is_null());
    CHECK(cancel(f, "000000000000").status == 404);
    CHECK(cancel(f, "../../x").status == 404);
}

TEST_CASE("list: newest first, filters, cursor pages, and no output fields") {
    Fixture f;
    std::vector<std::string> ids;
    for (int i = 0; i < 7; ++i) {
        ids.push_back(f.start_job(fmt::format("job {}{}", i, i % 2 == 0 ? "" : "\nFAKE:exit=2")));
        f.wait_job(ids.back());
    }
    std::vector<std::string> seen;
    std::string query = "?limit=3";
    for (;;) {
        auto page = list(f, query);
        for (const auto& job : page.at("jobs").as_array()) {
            seen.emplace_back(job.at("job_id").as_string());
            CHECK_FALSE(job.as_object().contains("output"));
            CHECK_FALSE(job.as_object().contains("stderr"));
        }
        if (page.at("next_cursor").is_null()) break;
        query = "?limit=3&cursor=" + std::string(page.at("next_cursor").as_string());
    }
    CHECK(seen == std::vector<std::string>(ids.rbegin(), ids.rend()));
    CHECK(list(f, "?status=failed").at("jobs").as_array().size() == 3);
    CHECK(list(f, "?agent=recruiter-triage&status=completed").at("jobs").as_array().size() == 4);
    CHECK(list(f, "?agent=nobody").at("jobs").as_array().empty());
    for (std::string bad : {"?status=bogus", "?limit=0", "?limit=201", "?limit=x", "?cursor=-1"}) {
        auto reply = request(f.port(), "GET", "/jobs" + bad, "", kAuth);
        CHECK(reply.status == 422);
        CHECK(json::parse(reply.body).at("detail").at(0).at("loc").at(0) == "query");
    }
}

TEST_CASE("idempotency: a retried request returns the same job") {
    Fixture f;
    auto headers = kAuth;
    headers["Idempotency-Key"] = "webhook-delivery-123";
    json::object body{{"prompt", "once only"}, {"agent", "a"}};
    auto first = f.execute(body, headers);
    REQUIRE(first.status == 202);
    auto id = std::string(json::parse(first.body).at("job_id").as_string());
    f.wait_job(id);
    auto retry = f.execute(body, headers);
    REQUIRE(retry.status == 202);
    CHECK(json::parse(retry.body).at("job_id").as_string() == id);
    CHECK(json::parse(retry.body).at("status") == "completed");
    CHECK(retry.header("idempotent-replayed") == "true");
    CHECK(list(f).at("jobs").as_array().size() == 1);

    // The same key with another body is not a retry: 422 naming the key, and no new job.
    for (const auto& other :
         {json::object{{"prompt", "something else"}, {"agent", "a"}},
          json::object{{"prompt", "once only"}, {"agent", "a"}, {"max_budget_usd", 1}},
          json::object{{"prompt", "once only"}, {"agent", "a"}, {"metadata", {{"k", 1}}}}}) {
        auto reused = f.execute(other, headers);
        CHECK(reused.status == 422);
        auto detail = json::parse(reused.body).at("detail").at(0);
        CHECK(detail.at("loc") == json::array{"header", "Idempotency-Key"});
        CHECK(std::string(detail.at("msg").as_string()).find("other parameters") !=
              std::string::npos);
    }
    CHECK(list(f).at("jobs").as_array().size() == 1);
    CHECK(f.execute(body, headers).status == 202);  // the first body still replays

    headers["Idempotency-Key"] = std::string(300, 'k');
    CHECK(f.execute(body, headers).status == 422);
}

TEST_CASE("events: a running job's lines arrive before it finishes, then the final record") {
    Fixture f;
    auto id = f.start_job("x\nFAKE:stream-pause=0.4\nFAKE:text=abcdefghijklmnopqrstuvwx");
    Connection conn(f.port());
    conn.send("GET /jobs/" + id +
              "/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer test-token\r\n\r\n");
    auto early = conn.read_until("abcdefgh", 5s);
    REQUIRE_FALSE(early.empty());
    CHECK(early.find("event: status") != std::string::npos);
    CHECK(early.find("\"status\":\"running\"") != std::string::npos);
    CHECK(f.job(id).at("status") == "running");  // the line came while it ran
    auto all = early + conn.read_until("event: job\n", 10s);
    REQUIRE_FALSE(all.empty());
    CHECK(all.find("event: output") != std::string::npos);
    // Each status change is an event, the final one too, and then the record.
    auto final_status =
        "event: status\ndata: {\"job_id\":\"" + id + "\",\"status\":\"completed\"}\n\nevent: job\n";
    CHECK(all.find(final_status) != std::string::npos);

    SECTION("a client that joins after the end gets the whole story") {
        Connection late(f.port());
        late.send("GET /jobs/" + id +
                  "/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer test-token\r\n\r\n");
        auto reply = late.read_reply();
        CHECK(reply.status == 200);
        CHECK(reply.header("content-type") == "text/event-stream");
        CHECK(reply.body.find("event: output") != std::string::npos);
        CHECK(reply.body.find("abcdefgh") != std::string::npos);
        CHECK(reply.body.rfind("event: job\n") != std::string::npos);
    }
    CHECK(request(f.port(), "GET", "/jobs/000000000000/events", "", kAuth).status == 404);
}

TEST_CASE("a corrupt or unwritable database stops start-up with exit code 2", "[sqlite]") {
    TempDir dir;
    {
        std::ofstream garbage(dir.path / "jobs.db", std::ios::binary);
        garbage << std::string(8192, 'z');
    }
    CHECK_THROWS_WITH(ServiceProcess(Fixture::Env{{"DATA_DIR", dir.path.string()}}),
                      Catch::Contains("cannot use job database") && Catch::Contains("jobs.db"));
    CHECK_THROWS_WITH(ServiceProcess(Fixture::Env{{"DATA_DIR", "/proc/no-such-dir"}}),
                      Catch::Contains("no-such-dir"));
}

TEST_CASE("a finished record is served from memory; with RECORD_CACHE_BYTES=0 from the database",
          "[sqlite]") {
    for (auto [bytes, kept] : {std::pair{"8388608", true}, std::pair{"0", false}}) {
        INFO("RECORD_CACHE_BYTES=" << bytes);
        Fixture f(Fixture::Env{{"RECORD_CACHE_BYTES", bytes}});
        auto id = f.start_job("remembered");
        REQUIRE(f.wait_job(id).at("status") == "completed");  // the final record, read once
        // Changed behind the service's back (nothing of the service changes a final record):
        // what GET answers says where it came from.
        sqlite3* db = nullptr;
        REQUIRE(sqlite3_open((f.service->data_dir() + "/jobs.db").c_str(), &db) == SQLITE_OK);
        sqlite3_busy_timeout(db, 5000);  // the service may be writing (its session, a sweep)
        CHECK(sqlite3_exec(db,
                           "UPDATE jobs SET record = replace(record, 'remembered', 'rewritten')",
                           nullptr, nullptr, nullptr) == SQLITE_OK);
        sqlite3_close(db);
        auto prompt = f.job(id).at("prompt");
        CHECK(prompt == (kept ? "remembered" : "rewritten"));
    }
}

TEST_CASE("a record deleted by retention is not served from memory") {
    Fixture f(Fixture::Env{{"JOB_MAX_RECORDS", "1"}, {"RETENTION_SWEEP_SECONDS", "1"}});
    auto first = f.start_job("first");
    f.wait_job(first);
    CHECK(f.job(first).at("status") == "completed");  // read again: from memory
    auto second = f.start_job("second");
    f.wait_job(second);
    // The next sweep deletes the oldest beyond one record: the first.
    auto deadline = std::chrono::steady_clock::now() + 10s;
    int status = 200;
    while (status == 200 && std::chrono::steady_clock::now() < deadline) {
        status = request(f.port(), "GET", "/jobs/" + first, "", kAuth).status;
        std::this_thread::sleep_for(50ms);
    }
    CHECK(status == 404);
    CHECK(f.job(second).at("status") == "completed");
}

TEST_CASE("SIGTERM ends event streams: queued jobs stay queued for the next start") {
    Fixture f(Fixture::Env{{"QUEUE_DEPTH", "2"}, {"SHUTDOWN_GRACE", "0"}});
    auto running = f.start_job("x\nFAKE:sleep=30");
    auto queued = f.start_job("later", {}, "queued");
    Connection watcher(f.port());
    watcher.send("GET /jobs/" + queued +
                 "/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer test-token\r\n\r\n");
    REQUIRE_FALSE(watcher.read_until("\"status\":\"queued\"", 5s).empty());
    auto started = std::chrono::steady_clock::now();
    CHECK(f.service->stop(SIGTERM, 5s) == 0);
    CHECK(std::chrono::steady_clock::now() - started < 3s);
    f.service = std::make_unique<ServiceProcess>(f.env);
    CHECK(f.job(running).at("status") == "interrupted");
    CHECK(f.wait_job(queued).at("status") == "completed");
}

TEST_CASE("numbers as people write them: 5.0, not 5E0, in records, listings and log lines") {
    // Whether `text` holds a JSON number with an exponent (Boost.JSON 1.81 wrote 5.0 as 5E0):
    // an e or E ending a run of digits, '.' and '-' that follows ':', ',' or '['.
    auto has_exponent = [](const std::string& text) {
        for (auto at = text.find_first_of("eE", 1); at != std::string::npos;
             at = text.find_first_of("eE", at + 1)) {
            auto before = text.find_last_not_of("0123456789.-", at - 1);
            if (before != at - 1 && before != std::string::npos &&
                std::string_view(":,[").find(text[before]) != std::string_view::npos) {
                return true;
            }
        }
        return false;
    };
    Fixture f;
    auto id = f.start_job("numbers", {{"max_budget_usd", 5}});
    REQUIRE(f.wait_job(id).at("status") == "completed");

    auto record = request(f.port(), "GET", "/jobs/" + id, "", kAuth);
    REQUIRE(record.status == 200);
    CHECK_THAT(record.body, Catch::Contains(R"("max_budget_usd":5.0,)"));
    CHECK_THAT(record.body, Catch::Contains(R"("total_cost_usd":0.0123,)"));
    CHECK_FALSE(has_exponent(record.body));
    auto listing = request(f.port(), "GET", "/jobs", "", kAuth);
    CHECK_THAT(listing.body, Catch::Contains(R"("max_budget_usd":5.0,)"));
    CHECK_FALSE(has_exponent(listing.body));
    // Request lines carry duration_ms as a double.
    CHECK(request(f.port(), "GET", "/health", "", {{"X-Request-Id", "last-request"}}).status ==
          200);
    auto log = f.service->log_through("last-request");
    CHECK_THAT(log, Catch::Contains(R"("duration_ms":)"));
    CHECK_FALSE(has_exponent(log));

    // Read back from the store by the next process: the same text.
    f.restart(SIGTERM);
    CHECK(request(f.port(), "GET", "/jobs/" + id, "", kAuth).body == record.body);
}
