#include "agent/runner.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <catch2/catch.hpp>

#include <csignal>
#include <thread>

using namespace cas::agent;

namespace {

ProcessLaunch shell(const std::string& script) {
    return {.program = "/bin/sh",
            .args = {"-c", script},
            .working_dir = "/",
            .environment = child_environment({}),
            .run_as = std::nullopt};
}

ProcessResult run_shell(const std::string& script, ProcessRun run) {
    boost::asio::io_context io;
    Cancellation cancel(io.get_executor());
    auto result = boost::asio::co_spawn(io, run_process(shell(script), std::move(run), cancel),
                                        boost::asio::use_future);
    io.run();
    return result.get();
}

ProcessResult run_shell(const std::string& script, std::size_t cap) {
    ProcessRun run;
    run.output_cap = cap;
    return run_shell(script, std::move(run));
}

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Drives a child started earlier with `input`, to its end.
ProcessResult drive(boost::asio::io_context& io, ChildProcess child, const std::string& input) {
    Cancellation cancel(io.get_executor());
    ProcessRun run;
    run.input = input;
    auto result = boost::asio::co_spawn(io, drive_process(std::move(child), std::move(run), cancel),
                                        boost::asio::use_future);
    io.restart();
    io.run();
    return result.get();
}

bool alive(pid_t pid) {
    return ::kill(pid, 0) == 0;
}

}  // namespace

TEST_CASE("runner: output past the cap is counted, and its last whole line kept aside") {
    SECTION("the result line after a flood") {
        auto run =
            run_shell("head -c 100000 /dev/zero | tr '\\0' x; echo; echo '{\"last\":1}'", 1000);
        CHECK(run.exit_code == 0);
        CHECK(run.out.text == std::string(1000, 'x'));
        CHECK(run.out.truncated);
        CHECK(run.out.total_bytes == 100000 + 1 + 11);
        CHECK(run.out.last_line == "{\"last\":1}");
    }
    SECTION("a final line without a newline") {
        auto run = run_shell("head -c 5000 /dev/zero | tr '\\0' x; printf '\\nend'", 1000);
        CHECK(run.out.last_line == "end");
    }
    SECTION("a last line longer than the cap is not kept") {
        auto run = run_shell(
            "echo short; head -c 5000 /dev/zero | tr '\\0' x; echo; "
            "head -c 3000 /dev/zero | tr '\\0' y; echo",
            1000);
        CHECK(run.out.last_line.empty());
    }
    SECTION("within the cap nothing is kept aside") {
        auto run = run_shell("echo one; echo two", 1000);
        CHECK(run.out.text == "one\ntwo\n");
        CHECK_FALSE(run.out.truncated);
        CHECK(run.out.last_line.empty());
    }
}

TEST_CASE("runner: a child silent on stdout for the stall limit is ended as stalled") {
    ProcessRun run;
    run.stall_timeout = milliseconds(300);
    run.kill_grace = milliseconds(100);
    SECTION("silent from the start") {
        auto started = Clock::now();
        auto result = run_shell("sleep 30", std::move(run));
        CHECK(result.end == ProcessEnd::stalled);
        CHECK(Clock::now() - started < std::chrono::seconds(3));
    }
    SECTION("output resets the clock: a child that keeps talking is not stalled") {
        auto result =
            run_shell("for i in 1 2 3 4 5 6; do echo tick; sleep 0.1; done", std::move(run));
        CHECK(result.end == ProcessEnd::exited);
        CHECK(result.out.text.size() == 30);
    }
    SECTION("silent after some output") {
        auto result = run_shell("echo hello; sleep 30", std::move(run));
        CHECK(result.end == ProcessEnd::stalled);
        CHECK(result.out.text == "hello\n");
    }
}

TEST_CASE("runner: after its last line a child has the exit grace, then it is ended") {
    ProcessRun run;
    run.exit_grace = milliseconds(300);
    run.kill_grace = milliseconds(100);
    run.judge_line = [](std::string_view line) {
        return line == "DONE" ? LineVerdict::last : LineVerdict::more;
    };
    SECTION("lingering: ended, and it keeps what it printed") {
        auto started = Clock::now();
        auto result = run_shell("echo working; echo DONE; sleep 30", std::move(run));
        CHECK(result.end == ProcessEnd::lingered);
        CHECK(result.out.text == "working\nDONE\n");
        CHECK(Clock::now() - started < std::chrono::seconds(3));
    }
    SECTION("exiting within the grace is an ordinary exit") {
        auto result = run_shell("echo DONE; sleep 0.1; exit 3", std::move(run));
        CHECK(result.end == ProcessEnd::exited);
        CHECK(result.exit_code == 3);
    }
    SECTION("a line that is not the last one starts nothing") {
        run.stall_timeout = milliseconds(0);
        auto result = run_shell("echo DONE-ish; sleep 0.5", std::move(run));
        CHECK(result.end == ProcessEnd::exited);
    }
}

TEST_CASE("runner: a child started ahead waits for its input, then runs like any") {
    boost::asio::io_context io;
    auto started = start_process(io.get_executor(), shell("read -r line; echo \"got $line\""));
    REQUIRE(started.child);
    const pid_t pid = started.child->pid();
    std::this_thread::sleep_for(milliseconds(200));
    CHECK(alive(pid));
    CHECK_FALSE(started.child->exited());
    auto done = drive(io, std::move(*started.child), "hello\n");
    CHECK(done.end == ProcessEnd::exited);
    CHECK(done.out.text == "got hello\n");
}

TEST_CASE("runner: a request and its answer before the child is driven") {
    boost::asio::io_context io;
    // Answers one line, then echoes the rest of its input; both end up where they belong.
    auto started =
        start_process(io.get_executor(),
                      shell("read -r ask; printf 'answer to %s\\nearly output\\n' \"$ask\"; cat"));
    REQUIRE(started.child);
    auto exchange = [](ChildProcess& child) -> boost::asio::awaitable<std::optional<std::string>> {
        bool written = co_await child.write_line("question\n");
        REQUIRE(written);
        co_return co_await child.read_line(1024);
    };
    auto answer = boost::asio::co_spawn(io, exchange(*started.child), boost::asio::use_future);
    io.run();
    CHECK(answer.get() == "answer to question");
    auto done = drive(io, std::move(*started.child), "the input\n");
    CHECK(done.end == ProcessEnd::exited);
    // What was read past the answer is the run's output, in order.
    CHECK(done.out.text == "early output\nthe input\n");
}

TEST_CASE("runner: a child started ahead and never driven is ended and reaped") {
    boost::asio::io_context io;
    pid_t pid = -1;
    {
        auto started = start_process(io.get_executor(), shell("sleep 30"));
        REQUIRE(started.child);
        pid = started.child->pid();
        CHECK(alive(pid));
    }
    CHECK_FALSE(alive(pid));  // killed and reaped: not even a zombie is left
}

TEST_CASE("runner: a child that cannot start says why") {
    boost::asio::io_context io;
    auto missing = start_process(io.get_executor(), {.program = "/nonexistent/claude",
                                                     .args = {},
                                                     .working_dir = "/",
                                                     .environment = {},
                                                     .run_as = std::nullopt});
    CHECK_FALSE(missing.child);
    CHECK_THAT(missing.error, Catch::Contains("/nonexistent/claude"));
    auto no_dir = start_process(io.get_executor(), {.program = "/bin/sh",
                                                    .args = {},
                                                    .working_dir = "/nonexistent-dir",
                                                    .environment = {},
                                                    .run_as = std::nullopt});
    CHECK_FALSE(no_dir.child);
    CHECK_THAT(no_dir.error, Catch::Contains("does not exist"));
}
