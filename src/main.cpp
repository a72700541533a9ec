// Entry point: configuration (and which Claude Code CLI to run), process set-up (signals,
// subreaper), the start-up checks' warnings, the App on one io_context on this thread, and the
// shutdown sequence: the first SIGINT/SIGTERM stops accepting and gives runs SHUTDOWN_GRACE; a
// second one cancels them at once.
#include "agent/process_tree.hpp"
#include "agent/runner.hpp"
#include "app.hpp"
#include "config.hpp"
#include "startup_checks.hpp"
#include "telemetry/log.hpp"

#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <functional>
#include <memory>
#include <span>
#include <string_view>

namespace {

// CLAUDE_BIN "set explicitly": in the environment or as --claude-bin. Otherwise the service
// picks the CLI itself (PATH, then where scripts/install-deps.sh puts it).
bool claude_bin_given(std::span<const char* const> args) {
    return cas::process_env("CLAUDE_BIN").has_value() ||
           std::any_of(args.begin(), args.end(), [](std::string_view arg) {
               return arg == "--claude-bin" || arg.starts_with("--claude-bin=");
           });
}

// One warning line per missing piece, naming the setting that fixes it; /health is unaffected.
void log_startup_checks(const cas::Config& config) {
    using namespace cas;
    auto started = std::chrono::steady_clock::now();
    // The CLI's environment: the service's, with AGENT_HOME as its HOME (where its login is).
    EnvLookup cli_env = [&config](const std::string& name) {
        if (name == "HOME" && !config.agent_home.empty()) return std::optional(config.agent_home);
        return process_env(name);
    };
    auto report = check_startup({.claude_bin = config.claude_bin,
                                 .workspace_dir = config.workspace_dir,
                                 .git_sync = config.git_sync != agent::GitSyncMode::off,
                                 .as_root = ::geteuid() == 0 && config.agent_user.empty() &&
                                            config.agent_sandbox == agent::SandboxMode::off},
                                cli_env, std::chrono::seconds(5));
    if (!report.cli_version.empty()) {
        auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - started);
        log::info("claude cli", {{"path", report.cli_path},
                                 {"version", report.cli_version},
                                 {"check_ms", took.count()}});
    }
    for (const auto& warning : report.warnings) {
        log::warn(warning.message, {{"setting", warning.setting}});
    }
}

int serve(const cas::Config& config) {
    using namespace cas;
    log::set_min_level(config.log_level);
    log::flush_on_fatal_signals();

    // DATA_DIR, the database and restored sessions are the service's alone.
    agent::make_created_files_private();

    // A child that exits before reading its stdin must give us EPIPE, not kill the service.
    // (The runner restores the default disposition in each child before exec.)
    (void)std::signal(SIGPIPE, SIG_IGN);

    // Orphans of a run (the CLI's setsid'd tool shells) re-parent to us, not to PID 1,
    // so the runner can find and end them.
    if (!agent::become_child_subreaper()) {
        log::warn("cannot become a child subreaper; orphaned tool processes may escape");
    }
    log_startup_checks(config);

    boost::asio::io_context io{1};
    std::unique_ptr<App> app;
    std::uint16_t port = 0;
    try {
        app = std::make_unique<App>(io, config);
        port = app->start();
    } catch (const StartupError& e) {
        log::flush();  // the lines before it come first
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
                app->begin_shutdown(config.shutdown_grace, [&signals] { signals.cancel(); });
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
    try {
        std::span<const char* const> args(argv + 1, static_cast<std::size_t>(argc - 1));
        auto parsed = parse_config(args, process_env);
        if (auto* exit = std::get_if<ExitRequest>(&parsed)) {
            (void)std::fputs(exit->message.c_str(), exit->exit_code == 0 ? stdout : stderr);
            return exit->exit_code;
        }
        erase_secrets_from_environment();
        auto& config = std::get<Config>(parsed);
        config.claude_bin = resolve_claude_bin(
            claude_bin_given(args) ? std::optional(config.claude_bin) : std::nullopt,
            process_env("PATH").value_or(""));
        return serve(config);
    } catch (const std::exception& e) {
        log::error("fatal", {{"error", e.what()}});
        return 1;
    }
}
