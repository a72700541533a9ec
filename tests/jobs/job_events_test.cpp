// The event log of a job: the shapes and order of its events, waking readers, the final
// record, and the replay of a finished job.
#include "jobs/job_events.hpp"

#include "coroutine_test.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

using namespace cas::jobs;
using namespace boost::asio::experimental::awaitable_operators;
namespace asio = boost::asio;

namespace {

Job running_job() {
    Job job;
    job.id = "0123456789ab";
    job.status = JobStatus::running;
    job.prompt = "p";
    job.agent = "a";
    job.created_at = "2026-01-02T03:04:05.000000+00:00";
    return job;
}

}  // namespace

TEST_CASE("job events: status, output, then the final status and the record") {
    asio::io_context io;
    JobEvents events(io.get_executor());
    auto job = running_job();
    events.status(job);
    events.output("line \xff one");
    job.status = JobStatus::completed;
    job.output = {"line one\n"};
    events.finish(job);
    const auto& all = events.events();
    REQUIRE(all.size() == 4);
    CHECK(all[0] ==
          "event: status\ndata: {\"job_id\":\"0123456789ab\",\"status\":\"running\"}\n\n");
    CHECK(all[1] == "event: output\ndata: {\"line\":\"line \xEF\xBF\xBD one\"}\n\n");
    CHECK(all[2] ==
          "event: status\ndata: {\"job_id\":\"0123456789ab\",\"status\":\"completed\"}\n\n");
    CHECK(all[3].starts_with("event: job\ndata: {\"job_id\":\"0123456789ab\""));
    CHECK(events.closed());
    REQUIRE(events.final_record());
    CHECK(events.final_record()->status == JobStatus::completed);
}

TEST_CASE("job events: a waiting reader wakes on a new event and on close") {
    asio::io_context io;
    JobEvents events(io.get_executor());
    auto job = running_job();
    events.status(job);
    auto read_next = [&]() -> asio::awaitable<std::size_t> {
        co_await events.wait(1);  // one seen: waits for the second
        co_return events.events().size();
    };
    auto push = [&]() -> asio::awaitable<void> {
        events.output("x");
        co_return;
    };
    auto both = [&]() -> asio::awaitable<std::size_t> {
        co_return co_await (read_next() && push());
    };
    auto seen = cas::test::run_coroutine_test(io, both());
    CHECK(seen == 2);

    auto closed = [&]() -> asio::awaitable<bool> {
        auto close_later = [&]() -> asio::awaitable<void> {
            events.close();
            co_return;
        };
        co_await (events.wait_closed() && close_later());
        co_return events.closed();
    };
    CHECK(cas::test::run_coroutine_test(io, closed()));
    CHECK_FALSE(events.final_record());  // closed without an end: no record
}

TEST_CASE("job events: a wait cancelled by an outer race ends, without an event") {
    asio::io_context io;
    JobEvents events(io.get_executor());
    auto raced = [&]() -> asio::awaitable<std::size_t> {
        cas::Timer soon(co_await asio::this_coro::executor, std::chrono::milliseconds(10));
        auto first = co_await (events.wait_closed() || soon.async_wait());
        co_return first.index();
    };
    CHECK(cas::test::run_coroutine_test(io, raced()) == 1);
}

TEST_CASE("job events: a finished job replays as the live stream ended") {
    auto job = running_job();
    job.status = JobStatus::failed;
    job.output = {"a\n", "b"};
    auto replay = replay_events(job);
    auto status_at =
        replay.find("event: status\ndata: {\"job_id\":\"0123456789ab\",\"status\":\"failed\"}");
    auto a_at = replay.find("event: output\ndata: {\"line\":\"a\"}\n\n");
    auto b_at = replay.find("event: output\ndata: {\"line\":\"b\"}\n\n");
    auto job_at = replay.find("event: job\ndata: ");
    CHECK(status_at == 0);
    CHECK(a_at != std::string::npos);
    CHECK(b_at > a_at);
    CHECK(job_at > b_at);
    CHECK(replay.ends_with("}\n\n"));
}
