#include "app.hpp"

#include "agent/agent_run.hpp"
#include "agent/process_tree.hpp"
#include "api/docs.hpp"
#include "api/health.hpp"
#include "api/jobs.hpp"
#include "api/messages.hpp"
#include "api/metrics.hpp"
#include "api/openai.hpp"
#include "api/responses.hpp"
#include "confinement_checks.hpp"
#include "http/server.hpp"
#include "jobs/job_registry.hpp"
#include "jobs/postgres_job_store.hpp"
#include "jobs/sqlite_job_store.hpp"
#include "runs/run_service.hpp"
#include "sessions/session_keeper.hpp"
#include "telemetry/log.hpp"
#include "telemetry/metrics.hpp"
#include "webhooks/webhook_sender.hpp"

#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/system/system_error.hpp>
#include <fmt/format.h>

#include <array>
#include <filesystem>

namespace cas {
namespace {

// One job store per data directory, so it names this service's runs among others'.
std::string run_marker(const std::string& data_dir) {
    std::error_code ec;
    auto path = std::filesystem::weakly_canonical(data_dir, ec);
    return "CAS_RUN_OF=" + (ec ? data_dir : path.string());
}

// The agent's user, HOME and sandbox, checked on this host (confinement_checks.hpp).
agent::Confinement confinement_of(const Config& config) {
    const char* home = std::getenv("HOME");  // NOLINT(concurrency-mt-unsafe): before threads
    const char* path = std::getenv("PATH");  // NOLINT(concurrency-mt-unsafe)
    auto prepared = prepare_confinement({.agent_user = config.agent_user,
                                         .agent_home = config.agent_home,
                                         .sandbox = config.agent_sandbox,
                                         .sandbox_extra = config.agent_sandbox_extra,
                                         .workspace_dir = config.workspace_dir,
                                         .data_dir = config.data_dir,
                                         .claude_bin = config.claude_bin,
                                         .path = path == nullptr ? "" : path,
                                         .service_home = home == nullptr ? "" : home});
    if (auto* problem = std::get_if<std::string>(&prepared)) throw StartupError(*problem);
    return std::get<agent::Confinement>(std::move(prepared));
}

agent::AgentSettings agent_settings(const Config& config, const agent::Confinement& confinement) {
    return {
        .claude_bin = config.claude_bin,
        .workspace_dir = config.workspace_dir,
        .git_sync = config.git_sync,
        .git_timeout = config.git_timeout,
        .output_cap = config.max_output_bytes,
        .kill_grace = config.kill_grace,
        .stall_timeout = config.stall_timeout,
        .result_exit_grace = config.result_exit_grace,
        .secret_env = {"API_BEARER_TOKEN", "METRICS_TOKEN", "DATABASE_URL", "WEBHOOK_SECRET"},
        .always_disallowed_tools = config.tools_always_disallowed,
        .run_marker = run_marker(config.data_dir),
        .confinement = confinement,
    };
}

// Runs `task` on `io` to its end: start-up work (opening the store, recovery) that must be
// done before the service serves, and may wait on a database.
template <class T>
T run_until_done(boost::asio::io_context& io, boost::asio::awaitable<T> task) {
    auto done = boost::asio::co_spawn(io, std::move(task), boost::asio::use_future);
    while (done.wait_for(std::chrono::seconds(0)) != std::future_status::ready) io.run_one();
    io.restart();  // run_one stopped it if it ran out of work: main's run() comes next
    return done.get();
}

// PostgreSQL when DATABASE_URL names one, else SQLite in DATA_DIR.
std::unique_ptr<jobs::JobStore> open_store(boost::asio::io_context& io, const Config& config) {
    try {
        if (config.database_url.empty()) {
            std::filesystem::create_directories(config.data_dir);
            return std::make_unique<jobs::SqliteJobStore>(
                (std::filesystem::path(config.data_dir) / "jobs.db").string());
        }
        return run_until_done(
            io, jobs::PostgresJobStore::open(io.get_executor(),
                                             {.conninfo = config.database_url,
                                              .max_connections = config.database_pool_size,
                                              .connect_timeout = std::chrono::seconds(10),
                                              .wait_timeout = std::chrono::seconds(10),
                                              .statement_timeout = std::chrono::seconds(30)}));
    } catch (const std::exception& e) {
        throw StartupError(e.what());
    }
}

// REPLICA_ID, or hostname:pid: unique among the replicas of one store.
std::string replica_id(const Config& config) {
    if (!config.replica_id.empty()) return config.replica_id;
    std::array<char, 256> host{};
    if (::gethostname(host.data(), host.size() - 1) != 0) host[0] = '\0';
    return fmt::format("{}:{}", host.data(), ::getpid());
}

// The CLI's HOME, where it keeps its sessions: the agent's, else the service's own (the CLI
// inherits it).
std::string home_dir(const agent::Confinement& confinement) {
    if (!confinement.home.empty()) return confinement.home;
    const char* home = std::getenv("HOME");  // NOLINT(concurrency-mt-unsafe): before threads
    return home == nullptr ? "" : home;
}

webhooks::WebhookSender make_webhook_sender(boost::asio::io_context& io, jobs::JobStore& store,
                                            Metrics& metrics, const Config& config) {
    try {
        return {io.get_executor(), store, metrics,
                webhooks::WebhookSettings{
                    .allowed_hosts = config.webhook_allowed_hosts,
                    .keys = config.webhook_keys,
                    .timeout = config.webhook_timeout,
                    .retry = {.max_attempts = config.webhook_max_attempts,
                              .base = config.webhook_retry_base},
                    .ca_file = config.webhook_ca_file,
                    .poll_interval = std::chrono::seconds(store.shared() ? 2 : 60)}};
    } catch (const std::runtime_error& e) {  // the certificates cannot be loaded
        throw StartupError(e.what());
    }
}

}  // namespace

struct App::Parts {
    boost::asio::io_context& io;
    Config config;
    agent::Confinement confinement;  // checked before the store is opened in DATA_DIR
    Metrics metrics;
    std::unique_ptr<jobs::JobStore> store;
    sessions::SessionKeeper sessions;
    runs::RunService runs;
    jobs::JobRegistry registry;
    webhooks::WebhookSender webhooks;
    http::Router router;
    http::Server server;

    Parts(boost::asio::io_context& io_, Config config_)
        : io(io_),
          config(std::move(config_)),
          confinement(confinement_of(config)),
          store(open_store(io, config)),
          sessions(*store, {.home = home_dir(confinement),
                            .workspace_dir = config.workspace_dir,
                            .max_bytes = config.session_max_bytes,
                            .owner = confinement.run_as}),
          runs(io.get_executor(), agent_settings(config, confinement),
               {.enabled = config.warm_cli, .max_age = config.warm_cli_max_age}, metrics,
               &sessions),
          registry(io.get_executor(), *store, runs,
                   {.replica_id = replica_id(config),
                    .queue_depth = config.queue_depth,
                    .retention = config.job_retention,
                    .max_records = config.job_max_records,
                    .sweep_interval = config.retention_sweep,
                    .idempotency_window = std::chrono::hours(24),
                    .session_ttl = config.session_ttl,
                    .save_retry_interval = std::chrono::seconds(1),
                    .lease = config.lease,
                    .poll_interval = std::chrono::seconds(1),
                    .record_cache_bytes = config.record_cache_bytes}),
          webhooks(make_webhook_sender(io, *store, metrics, config)),
          server(io, router,
                 {.host = config.host,
                  .port = config.port,
                  .bearer_token = config.api_bearer_token,
                  .max_body_bytes = config.max_body_bytes,
                  .max_header_bytes = config.max_header_bytes,
                  .read_timeout = config.read_timeout,
                  .max_connections = config.max_connections,
                  .on_request = [this](std::string_view route, std::string_view method,
                                       unsigned status, std::chrono::duration<double> took) {
                      metrics.record_request(route, method, status, took);
                  }}) {
        metrics.set_gauges([this] { return runs.busy(); }, [this] { return registry.queued(); },
                           [this] { return runs.warm_cli().waiting_pid().has_value(); },
                           [this] { return registry.live_replicas(); });
        auto keep_alive = config.sse_keepalive;
        api::add_health_routes(router, [this] { return runs.busy(); });
        api::add_jobs_routes(router, {.registry = registry,
                                      .store = *store,
                                      .webhooks = webhooks,
                                      .limits = {.max_budget_usd = config.max_budget_usd,
                                                 .max_timeout = config.max_job_timeout,
                                                 .run_policy = run_policy(),
                                                 .callback_hosts = config.webhook_allowed_hosts},
                                      .keep_alive = keep_alive});
        auto model_apis = std::make_shared<const api::ModelApiContext>(
            api::ModelApiContext{.runs = runs,
                                 .store = *store,
                                 .sessions = sessions,
                                 .metrics = metrics,
                                 .settings = model_api_settings()});
        api::add_openai_routes(router, model_apis);
        api::add_responses_routes(router, model_apis);
        api::add_messages_routes(router, model_apis);
        api::add_docs_routes(router);
        api::add_metrics_routes(router, metrics, config.metrics_token);
    }

    [[nodiscard]] api::ModelApiSettings model_api_settings() const {
        return {.models = config.openai_models,
                .default_model = config.openai_default_model,
                .agent = config.openai_agent,
                .budget_usd = config.openai_budget_usd,
                .timeout = config.openai_timeout,
                .keep_alive = config.sse_keepalive,
                .chat_wait = config.chat_wait,
                .session_ttl = config.session_ttl,
                .run_policy = run_policy()};
    }

    [[nodiscard]] api::RunPolicy run_policy() const {
        return {.callers_may_set = config.run_options,
                .max_turns_limit = config.max_turns_limit > 0
                                       ? std::optional<std::int64_t>(config.max_turns_limit)
                                       : std::nullopt,
                .allowed_models = config.allowed_models};
    }

    // Waits up to `grace` for the run in flight, cancels it if it is still going, and
    // reports when it has ended (with its record saved: a job holds the slot until then).
    boost::asio::awaitable<void> drain(std::chrono::milliseconds grace,
                                       std::function<void()> drained) {
        using namespace boost::asio::experimental::awaitable_operators;
        Timer deadline(io, grace);
        auto first = co_await (runs.idle() || deadline.async_wait());
        if (first.index() == 1 && runs.busy()) {
            log::warn("shutdown grace over: cancelling the run", {});
            runs.cancel_current();
            co_await runs.idle();
        }
        co_await runs.close();
        drained();
    }
};

App::App(boost::asio::io_context& io, const Config& config)
    : parts_(std::make_unique<Parts>(io, config)) {}

App::~App() = default;

const http::Router& App::router() const {
    return parts_->router;
}

std::uint16_t App::start() {
    auto& p = *parts_;
    std::uint16_t port = 0;
    try {
        port = p.server.listen();
    } catch (const boost::system::system_error& e) {
        throw StartupError(
            fmt::format("cannot listen on {}:{}: {}", p.config.host, p.config.port, e.what()));
    }
    // A run of a service that was killed outright may live on: the CLI dies with the
    // service (PDEATHSIG) but tool processes it started in their own session do not.
    if (int killed = agent::kill_processes_with_env_entry(p.runs.settings().run_marker);
        killed > 0) {
        log::warn("killed processes left by a previous run", {{"count", killed}});
    }
    // Before the first request: a job this replica left running reads `interrupted`.
    run_until_done(p.io, p.registry.recover());
    p.server.start();
    p.registry.start();
    p.webhooks.start(
        [&p](std::chrono::milliseconds wait) { return p.registry.wait_for_change(wait); });
    // The first completion need not wait for the CLI to start either.
    p.runs.warm_up(api::turn_invocation(p.model_api_settings(), p.config.openai_default_model));
    return port;
}

void App::begin_shutdown(std::chrono::milliseconds grace, std::function<void()> drained) {
    auto& p = *parts_;
    log::announce("stopping",
                  {{"runs_in_flight", p.runs.busy() ? 1 : 0}, {"grace_ms", grace.count()}});
    p.server.stop();
    p.registry.stop();
    p.webhooks.stop();
    boost::asio::co_spawn(p.io, p.drain(grace, std::move(drained)), boost::asio::detached);
}

void App::cancel_runs() {
    parts_->runs.cancel_current();
}

}  // namespace cas
