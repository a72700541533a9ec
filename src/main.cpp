// Entry point: configuration, process set-up (signals, subreaper), the App on one
// io_context on this thread, and the shutdown sequence: the first SIGINT/SIGTERM stops
// accepting and gives runs SHUTDOWN_GRACE_SECONDS; a second one cancels them at once.
#include "agent/process_tree.hpp"
#include "app.hpp"
#include "config.hpp"
#include "log.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <csignal>
#include <cstdio>
#include <functional>
#include <memory>
#include <span>

namespace {

int serve(const cas::Config& config) {
    using namespace cas;
    log::set_min_level(config.log_level);

    // A child that exits before reading its stdin must give us EPIPE, not kill the service.
    // (The runner restores the default disposition in each child before exec.)
    (void)std::signal(SIGPIPE, SIG_IGN);

    // Orphans of a run (the CLI's setsid'd tool shells) re-parent to us, not to PID 1,
    // so the runner can find and end them.
    if (!agent::become_child_subreaper()) {
        log::warn("cannot become a child subreaper; orphaned tool processes may escape");
    }

    boost::asio::io_context io{1};
    std::unique_ptr<App> app;
    std::uint16_t port = 0;
    try {
        app = std::make_unique<App>(io, config);
        port = app->start();
    } catch (const StartupError& e) {
        (void)std::fprintf(stderr, "claude-agent-service: %s\n", e.what());
        return 2;
    }
    if (config.api_bearer_token.empty()) {
        log::warn("API_BEARER_TOKEN is empty: every protected route answers 401");
    }

    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    int received = 0;
    std::function<void(const boost::system::error_code&, int)> on_signal =
        [&](const boost::system::error_code& ec, int signal) {
            if (ec) return;
            if (++received == 1) {
                log::announce("signal", {{"signal", signal}});
                // Listen for a second signal until no run is left to cancel (armed first:
                // with nothing running, the drain may finish before begin_shutdown returns).
                signals.async_wait(on_signal);
                app->begin_shutdown(std::chrono::milliseconds(config.shutdown_grace_ms),
                                    [&signals] { signals.cancel(); });
            } else {
                log::warn("second signal: cancelling runs now", {{"signal", signal}});
                app->cancel_runs();
            }
        };
    signals.async_wait(on_signal);
    log::announce("listening", {{"host", config.host}, {"port", port}});
    io.run();
    log::announce("stopped");
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace cas;
    auto parsed = parse_config(
        std::span<const char* const>(argv + 1, static_cast<std::size_t>(argc - 1)), process_env);
    if (auto* exit = std::get_if<ExitRequest>(&parsed)) {
        (void)std::fputs(exit->message.c_str(), exit->exit_code == 0 ? stdout : stderr);
        return exit->exit_code;
    }
    erase_secrets_from_environment();
    try {
        return serve(std::get<Config>(parsed));
    } catch (const std::exception& e) {
        log::error("fatal", {{"error", e.what()}});
        return 1;
    }
}
