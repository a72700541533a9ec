// Entry point: configuration, the shared parts (slot, store, job registry), the route
// table, the server, and signal handling, all on one io_context on this thread.
#include "agent/agent_run.hpp"
#include "agent/execution_slot.hpp"
#include "agent/in_flight.hpp"
#include "agent/process_tree.hpp"
#include "api/health.hpp"
#include "api/jobs.hpp"
#include "api/openai.hpp"
#include "config.hpp"
#include "http/router.hpp"
#include "http/server.hpp"
#include "jobs/job_registry.hpp"
#include "jobs/sqlite_job_store.hpp"
#include "log.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/system/system_error.hpp>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <span>

namespace {

cas::agent::AgentSettings agent_settings(const cas::Config& config) {
    using cas::agent::GitSyncMode;
    return {
        .claude_bin = config.claude_bin,
        .workspace_dir = config.workspace_dir,
        .git_sync = config.git_sync == "off"        ? GitSyncMode::off
                    : config.git_sync == "required" ? GitSyncMode::required
                                                    : GitSyncMode::best_effort,
        .git_timeout = std::chrono::seconds(config.git_timeout_seconds),
        .output_cap = config.max_output_bytes,
        .kill_grace = std::chrono::milliseconds(config.kill_grace_ms),
        .secret_env = {"API_BEARER_TOKEN"},
    };
}

int serve(const cas::Config& config) {
    using namespace cas;

    // A child that exits before reading its stdin must give us EPIPE, not kill the service.
    // (The runner restores the default disposition in each child before exec.)
    (void)std::signal(SIGPIPE, SIG_IGN);

    // Orphans of a run (the CLI's setsid'd tool shells) re-parent to us, not to PID 1,
    // so the runner can find and end them.
    if (!agent::become_child_subreaper()) {
        log::warn("cannot become a child subreaper; orphaned tool processes may escape");
    }

    boost::asio::io_context io{1};
    const auto settings = agent_settings(config);
    agent::ExecutionSlot slot(io.get_executor());
    std::unique_ptr<jobs::SqliteJobStore> store;
    try {
        std::filesystem::create_directories(config.data_dir);
        store = std::make_unique<jobs::SqliteJobStore>(
            (std::filesystem::path(config.data_dir) / "jobs.db").string());
    } catch (const std::exception& e) {
        (void)std::fprintf(stderr, "claude-agent-service: %s\n", e.what());
        return 2;
    }
    agent::InFlightRuns runs;
    jobs::JobRegistry registry(
        io.get_executor(), *store, settings, runs, slot,
        {.queue_depth = config.queue_depth,
         .retention = std::chrono::seconds(config.job_retention_seconds),
         .max_records = config.job_max_records,
         .sweep_interval = std::chrono::seconds(config.retention_sweep_seconds)});

    http::Router router;
    api::add_health_routes(router, [&slot] { return slot.busy(); });
    api::add_jobs_routes(router,
                         {.registry = registry,
                          .store = *store,
                          .limits = {.max_budget_usd = config.max_budget_usd,
                                     .max_timeout_seconds = config.max_job_timeout_seconds},
                          .keep_alive = std::chrono::milliseconds(config.sse_keepalive_ms)});
    api::add_openai_routes(
        router, {.slot = slot,
                 .runs = runs,
                 .agent_settings = settings,
                 .settings = {.models = config.openai_models,
                              .default_model = config.openai_default_model,
                              .agent = config.openai_agent,
                              .budget_usd = config.openai_budget_usd,
                              .timeout = std::chrono::seconds(config.openai_timeout_seconds),
                              .keep_alive = std::chrono::milliseconds(config.sse_keepalive_ms)}});

    http::Server server(io, router,
                        {.host = config.host,
                         .port = config.port,
                         .bearer_token = config.api_bearer_token,
                         .max_body_bytes = config.max_body_bytes,
                         .max_header_bytes = config.max_header_bytes,
                         .read_timeout_seconds = config.read_timeout_seconds,
                         .max_connections = config.max_connections});
    std::uint16_t port = 0;
    try {
        port = server.listen();
    } catch (const boost::system::system_error& e) {
        (void)std::fprintf(stderr, "claude-agent-service: cannot listen on %s:%u: %s\n",
                           config.host.c_str(), static_cast<unsigned>(config.port), e.what());
        return 2;
    }
    if (config.api_bearer_token.empty()) {
        log::warn("API_BEARER_TOKEN is empty: every protected route answers 401");
    }
    server.start();
    registry.recover_and_start();

    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int signal) {
        if (ec) return;
        log::info("stopping", {{"signal", signal}, {"runs_in_flight", runs.size()}});
        server.stop();
        registry.stop();
        runs.cancel_all();
    });
    log::info("listening", {{"host", config.host}, {"port", port}});
    io.run();
    log::info("stopped");
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
    try {
        return serve(std::get<Config>(parsed));
    } catch (const std::exception& e) {
        log::error("fatal", {{"error", e.what()}});
        return 1;
    }
}
