#include "agent/runner.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <catch2/catch.hpp>

using namespace cas::agent;

namespace {

ProcessResult run_shell(const std::string& script, std::size_t cap) {
    boost::asio::io_context io;
    Cancellation cancel(io.get_executor());
    ProcessLaunch launch{.program = "/bin/sh",
                         .args = {"-c", script},
                         .working_dir = "/",
                         .environment = child_environment({})};
    ProcessRun run;
    run.output_cap = cap;
    auto result = boost::asio::co_spawn(io, run_process(std::move(launch), std::move(run), cancel),
                                        boost::asio::use_future);
    io.run();
    return result.get();
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
