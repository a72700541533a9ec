// The run service with real child processes (a shell script as the CLI): one run at a time,
// the slot held until the handle goes, cancellation before and during a run, a shutdown's
// cancel reported as `interrupted`, and idle() for the drain. Also Cancellation and Event,
// the awaitable signals the service is built on.
#include "runs/run_service.hpp"

#include "coroutine_test.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sys/stat.h>
#include <sys/wait.h>

using namespace cas;
using namespace boost::asio::experimental::awaitable_operators;
namespace asio = boost::asio;
using runs::RunService;

namespace {

// A stand-in CLI: answers the initialize request, then prints a result line after the
// number of seconds its prompt (the content of the stream-json user message) gives, then
// runs `after_result` (shell). It writes its pid to `pid_file`.
struct ScriptCli {
    std::filesystem::path dir =
        std::filesystem::temp_directory_path() / ("cas-run-service-" + std::to_string(::getpid()));
    std::filesystem::path path = dir / "claude";
    std::filesystem::path pid_file = dir / "pid";
    explicit ScriptCli(const std::string& after_result = "") {
        std::filesystem::create_directories(dir);
        std::ofstream(path)
            << "#!/bin/sh\necho $$ > '" << pid_file.string() << "'\nread -r request\n"
            << "echo '{\"type\":\"control_response\",\"response\":{\"subtype\":\"success\","
               "\"request_id\":\"cas-initialize\",\"response\":{}}}'\n"
               "read -r line\n"
               "seconds=$(printf '%s' \"$line\" | sed 's/.*\"content\":\"\\([0-9.]*\\).*/\\1/')\n"
               "sleep \"$seconds\"\n"
               "echo '{\"type\":\"result\",\"is_error\":false,\"result\":\"ok\"}'\n"
            << after_result << "\n";
        ::chmod(path.c_str(), 0755);
    }
    [[nodiscard]] pid_t pid() const {
        int pid = 0;
        std::ifstream(pid_file) >> pid;
        return pid;
    }
    ~ScriptCli() { std::filesystem::remove_all(dir); }
};

agent::AgentSettings settings_for(const ScriptCli& cli) {
    agent::AgentSettings settings;
    settings.claude_bin = cli.path.string();
    settings.workspace_dir = cli.dir.string();
    settings.git_sync = agent::GitSyncMode::off;
    settings.kill_grace = std::chrono::milliseconds(200);
    return settings;
}

agent::AgentRequest sleeping(const std::string& seconds) {
    agent::AgentRequest request;
    request.prompt = seconds;
    request.cli.agent = "a";
    return request;
}

}  // namespace

TEST_CASE("run service: one handle at a time, the slot held until the handle goes") {
    asio::io_context io;
    ScriptCli cli;
    Metrics metrics;
    RunService runs(io.get_executor(), settings_for(cli), {.enabled = false}, metrics);
    CHECK_FALSE(runs.busy());
    auto handle = runs.try_start();
    REQUIRE(handle);
    CHECK(runs.busy());
    CHECK_FALSE(runs.try_start());
    auto outcome = test::run_coroutine_test(io, handle->run(sleeping("0"), "job", ""));
    CHECK(outcome.status == agent::RunStatus::completed);
    CHECK(runs.busy());  // the run is over, but the handle still holds the slot
    handle.reset();
    CHECK_FALSE(runs.busy());
    CHECK(runs.try_start());
    CHECK(metrics.scrape().find(R"(cas_runs_total{kind="job",outcome="completed"} 1)") !=
          std::string::npos);
}

TEST_CASE("run service: a handle cancelled before its run starts nothing") {
    asio::io_context io;
    ScriptCli cli;
    Metrics metrics;
    RunService runs(io.get_executor(), settings_for(cli), {.enabled = false}, metrics);
    auto handle = runs.try_start();
    REQUIRE(handle);
    handle->cancel();
    auto outcome = test::run_coroutine_test(io, handle->run(sleeping("5"), "job", ""));
    CHECK(outcome.status == agent::RunStatus::cancelled);
    CHECK(outcome.process.end == agent::ProcessEnd::failed_to_start);  // never spawned
}

TEST_CASE("run service: cancel during a run, and a shutdown's cancel is `interrupted`") {
    asio::io_context io;
    ScriptCli cli;
    Metrics metrics;
    RunService runs(io.get_executor(), settings_for(cli), {.enabled = false}, metrics);
    auto cancel_soon = [&](bool shutdown, RunService::Handle& handle) -> asio::awaitable<void> {
        Timer soon(co_await asio::this_coro::executor, std::chrono::milliseconds(200));
        co_await soon.async_wait();
        if (shutdown) {
            runs.cancel_current();
        } else {
            handle.cancel();
        }
    };
    auto run_and_cancel = [&](bool shutdown) -> asio::awaitable<agent::RunStatus> {
        auto handle = runs.try_start();
        auto outcome = co_await (handle->run(sleeping("30"), "completion", "m") &&
                                 cancel_soon(shutdown, *handle));
        co_return outcome.status;
    };
    auto started = std::chrono::steady_clock::now();
    CHECK(test::run_coroutine_test(io, run_and_cancel(false)) == agent::RunStatus::cancelled);
    CHECK_FALSE(runs.stopping());
    CHECK(test::run_coroutine_test(io, run_and_cancel(true)) == agent::RunStatus::interrupted);
    CHECK(runs.stopping());
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(10));
    auto scrape = metrics.scrape();
    CHECK(scrape.find(R"(cas_runs_total{kind="completion",outcome="cancelled"} 1)") !=
          std::string::npos);
    CHECK(scrape.find(R"(cas_runs_total{kind="completion",outcome="interrupted"} 1)") !=
          std::string::npos);
}

asio::awaitable<void> release_after(std::optional<RunService::Handle>& handle,
                                    std::vector<int>& order) {
    Timer soon(co_await asio::this_coro::executor, std::chrono::milliseconds(50));
    co_await soon.async_wait();
    order.push_back(1);
    handle.reset();
}

asio::awaitable<void> note_idle(RunService& runs, std::vector<int>& order) {
    co_await runs.idle();
    order.push_back(2);
}

TEST_CASE("run service: idle() waits for the handle to go; start() waits for the slot") {
    asio::io_context io;
    ScriptCli cli;
    Metrics metrics;
    RunService runs(io.get_executor(), settings_for(cli), {.enabled = false}, metrics);
    agent::Cancellation never(io.get_executor());
    auto first = runs.try_start();
    REQUIRE(first);
    std::vector<int> order;
    test::run_coroutine_test(io, release_after(first, order) && note_idle(runs, order));
    CHECK(order == std::vector<int>{1, 2});
    auto second = test::run_coroutine_test(io, runs.start(never));
    CHECK(second);
    second.reset();
    test::run_coroutine_test(io, runs.idle());  // nothing held: idle at once
}

// Alive and not a zombie (without reaping it: that is the run's).
bool running(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    auto close = text.rfind(')');
    return pid > 0 && close != std::string::npos && text.size() > close + 2 &&
           text[close + 2] != 'Z';
}

TEST_CASE("run service: answered at its result, a run finishes in the background") {
    asio::io_context io;
    // The first CLI stays 0.5 s after its result line.
    ScriptCli cli("[ -e lingered ] || { touch lingered; sleep 0.5; }");
    Metrics metrics;
    RunService runs(io.get_executor(), settings_for(cli), {.enabled = false}, metrics);
    auto completions_counted = [&] {
        const std::string series = R"(cas_runs_total{kind="completion",outcome="completed"} )";
        auto scrape = metrics.scrape();
        auto at = scrape.find(series);
        return at == std::string::npos ? 0 : std::stoi(scrape.substr(at + series.size()));
    };
    auto answered = [&]() -> asio::awaitable<agent::RunStatus> {
        auto handle = runs.try_start();
        auto outcome = co_await handle->run(sleeping("0"), "completion", "",
                                            RunService::Handle::Answer::at_result);
        co_return outcome.status;
    };
    std::vector<std::string> seen;
    auto note = [&](bool what, const char* yes, const char* no) {
        seen.emplace_back(what ? yes : no);
    };
    auto sequence = [&]() -> asio::awaitable<void> {
        auto status = co_await answered();
        note(status == agent::RunStatus::completed, "completed", "not completed");
        const pid_t first_cli = cli.pid();
        note(running(first_cli), "answered before the CLI exited", "answered after the exit");
        note(completions_counted() == 0, "recorded later", "recorded at once");
        note(runs.busy(), "slot held", "slot free");
        // The next run (a job) takes the slot at once, but starts nothing until the first
        // run has ended; idle() waits for both.
        auto next_run = [&]() -> asio::awaitable<void> {
            auto handle = runs.try_start();
            co_await handle->run(sleeping("0"), "job", "");
            note(running(first_cli), "next ran beside the first", "next ran after the first");
        };
        auto then_idle = [&]() -> asio::awaitable<void> {
            co_await runs.idle();
            note(completions_counted() == 1, "idle once both ended", "idle too soon");
        };
        co_await (next_run() && then_idle());
    };
    test::run_coroutine_test(io, sequence());
    CHECK(seen == std::vector<std::string>{"completed", "answered before the CLI exited",
                                           "recorded later", "slot free",
                                           "next ran after the first", "idle once both ended"});
    CHECK_FALSE(running(cli.pid()));
}

TEST_CASE("cancellation: a request before the wait, and a wait raced away") {
    asio::io_context io;
    agent::Cancellation cancel(io.get_executor());
    auto raced = [&]() -> asio::awaitable<std::size_t> {
        Timer soon(co_await asio::this_coro::executor, std::chrono::milliseconds(10));
        auto first = co_await (cancel.wait() || soon.async_wait());
        co_return first.index();
    };
    CHECK(test::run_coroutine_test(io, raced()) == 1);
    CHECK_FALSE(cancel.requested());
    cancel.request();
    CHECK(cancel.requested());
    test::run_coroutine_test(io, cancel.wait());  // already requested: returns at once
}

TEST_CASE("event: notify wakes every waiter; a raced-away wait says it was not notified") {
    asio::io_context io;
    Event event(io.get_executor());
    auto two_waiters = [&]() -> asio::awaitable<int> {
        auto notify = [&]() -> asio::awaitable<bool> {
            event.notify();
            co_return true;
        };
        auto [a, b, c] = co_await (event.wait() && event.wait() && notify());
        co_return (a ? 1 : 0) + (b ? 1 : 0) + (c ? 1 : 0);
    };
    CHECK(test::run_coroutine_test(io, two_waiters()) == 3);
    auto raced = [&]() -> asio::awaitable<bool> {
        Timer soon(co_await asio::this_coro::executor, std::chrono::milliseconds(10));
        bool notified = true;
        auto waiter = [&]() -> asio::awaitable<void> { notified = co_await event.wait(); };
        co_await (waiter() || soon.async_wait());
        co_return notified;
    };
    CHECK_FALSE(test::run_coroutine_test(io, raced()));
}

TEST_CASE("run service: start_first waits ahead of start, and gives up at its limit") {
    asio::io_context io;
    ScriptCli cli;
    Metrics metrics;
    RunService runs(io.get_executor(), settings_for(cli), {.enabled = false}, metrics);
    agent::Cancellation never(io.get_executor());
    auto held = runs.try_start();
    REQUIRE(held);
    std::vector<std::string> order;
    auto job = [&]() -> asio::awaitable<void> {  // waits first
        auto handle = co_await runs.start(never);
        order.emplace_back(handle ? "job" : "job refused");
    };
    auto chat = [&]() -> asio::awaitable<void> {
        Timer later(co_await asio::this_coro::executor, std::chrono::milliseconds(20));
        co_await later.async_wait();
        auto handle = co_await runs.start_first(std::chrono::seconds(5));
        order.emplace_back(handle ? "chat" : "chat refused");
        // While it held the slot the job still waited; now it goes.
    };
    auto release = [&]() -> asio::awaitable<void> {
        Timer later(co_await asio::this_coro::executor, std::chrono::milliseconds(60));
        co_await later.async_wait();
        order.emplace_back(runs.try_start() ? "try_start got it" : "try_start refused");
        held.reset();
    };
    test::run_coroutine_test(io, job() && chat() && release());
    CHECK(order == std::vector<std::string>{"try_start refused", "chat", "job"});

    auto held_again = runs.try_start();
    REQUIRE(held_again);
    auto at_once = test::run_coroutine_test(io, runs.start_first(std::chrono::milliseconds(0)));
    CHECK_FALSE(at_once);
    auto started = std::chrono::steady_clock::now();
    auto too_late = test::run_coroutine_test(io, runs.start_first(std::chrono::milliseconds(100)));
    CHECK_FALSE(too_late);
    CHECK(std::chrono::steady_clock::now() - started >= std::chrono::milliseconds(100));
    held_again.reset();
    CHECK(runs.try_start());  // a chat that gave up does not keep others out
}
