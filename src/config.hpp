// Service configuration: read from the environment, overridden by command-line flags, and
// parsed once into typed values (modes as enums, durations as std::chrono) so nothing later
// re-reads a string or guesses a unit. Parsing is pure (arguments and an environment lookup
// in, a Config or a message out) so it is unit-tested without touching the environment.
#pragma once

#include "agent/confinement.hpp"
#include "agent/git_sync_mode.hpp"
#include "telemetry/log.hpp"
#include "webhooks/callback_url.hpp"
#include "webhooks/signature.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

namespace cas {

struct Config {
    std::string api_bearer_token;  // empty: every protected route answers 401
    std::string metrics_token;     // empty: /metrics is open
    std::string workspace_dir = "/workspace/infra";
    std::string claude_bin = "claude";
    std::string host = "127.0.0.1";
    std::uint16_t port = 8000;

    std::size_t max_body_bytes = 4U * 1024U * 1024U;
    std::size_t max_header_bytes = 16U * 1024U;
    std::chrono::seconds read_timeout{30};  // for a request's headers and body, keep-alive idle
    unsigned max_connections = 512;

    // Agent runs
    std::size_t max_output_bytes = 8U * 1024U * 1024U;  // kept per stream (stdout, stderr)
    agent::GitSyncMode git_sync = agent::GitSyncMode::best_effort;
    std::chrono::seconds git_timeout{60};
    std::chrono::milliseconds kill_grace{1000};
    std::chrono::seconds stall_timeout{600};            // 0: no limit
    std::chrono::milliseconds result_exit_grace{2000};  // after the CLI's result line
    bool warm_cli = true;                               // start the next run's CLI ahead
    std::chrono::seconds warm_cli_max_age{300};
    std::chrono::seconds max_job_timeout{86400};
    double max_budget_usd = 100.0;
    // Run options (api/run_options_request.hpp): those callers may set, and their limits.
    std::vector<std::string> run_options{
        "model",     "fallback_model",       "allowed_tools", "disallowed_tools",
        "max_turns", "append_system_prompt", "effort",        "json_schema"};
    std::int64_t max_turns_limit = 0;         // 0: up to the service's own bound
    std::vector<std::string> allowed_models;  // a job's model, any run's fallback; empty: any
    std::vector<std::string> tools_always_disallowed;  // withheld from every run
    // The agent's confinement (agent/confinement.hpp): its user (empty: the service's), its
    // HOME (empty: that user's), its sandbox.
    std::string agent_user;
    std::string agent_home;
    agent::SandboxMode agent_sandbox = agent::SandboxMode::off;
    std::vector<agent::SandboxPath> agent_sandbox_extra;

    // OpenAI compatibility
    std::string openai_agent = "recruiter-triage";
    double openai_budget_usd = 2.0;
    std::chrono::seconds openai_timeout{900};
    std::vector<std::string> openai_models{"claude-haiku-4-5", "claude-sonnet-4-6",
                                           "claude-opus-4-7"};
    std::string openai_default_model = "claude-sonnet-4-6";
    std::chrono::milliseconds sse_keepalive{15000};  // comment on a silent stream, for proxies
    std::chrono::seconds chat_wait{0};               // a completion waits this long for a busy slot

    // Sessions (continuing conversations)
    std::chrono::seconds session_ttl{7LL * 24 * 3600};    // a chat history's key → session
    std::size_t session_max_bytes = 32U * 1024U * 1024U;  // larger session files: disk only

    // Job records
    std::string data_dir = "./data";
    std::string database_url;  // empty: SQLite in data_dir; else PostgreSQL shared by replicas
    std::size_t database_pool_size = 4;
    std::string replica_id;          // empty: hostname:pid
    std::chrono::seconds lease{30};  // a running job's lease, renewed by its replica
    std::size_t queue_depth = 0;     // 0: the reference's "409 when busy"
    std::chrono::seconds job_retention{30LL * 24 * 3600};
    std::size_t job_max_records = 100000;
    std::chrono::seconds retention_sweep{3600};
    std::size_t record_cache_bytes = 8U * 1024U * 1024U;  // finished records, as GET answers

    // Completion webhooks (webhooks/): the hosts callbacks may name (none: callbacks are off),
    // the signing keys, each attempt's time, and the retries.
    std::vector<webhooks::HostRule> webhook_allowed_hosts;
    std::vector<webhooks::SigningKey> webhook_keys;
    std::chrono::seconds webhook_timeout{10};
    std::chrono::milliseconds webhook_retry_base{5000};
    int webhook_max_attempts = 8;
    std::optional<std::string> webhook_ca_file;  // else the system's store

    // Operation
    std::chrono::milliseconds shutdown_grace{30000};  // a run may finish after SIGTERM
    log::Level log_level = log::Level::info;
};

// What the command line asked for when it was not "run the server".
struct ExitRequest {
    int exit_code;
    std::string message;  // printed to stdout when exit_code is 0, else to stderr
};

using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

// Reads the environment through `env`, then applies `args` (argv without the program name).
std::variant<Config, ExitRequest> parse_config(std::span<const char* const> args,
                                               const EnvLookup& env);

// The process environment, for parse_config in main().
std::optional<std::string> process_env(const std::string& name);

std::string usage_text();

// Overwrites the values of the environment-only secrets (API_BEARER_TOKEN, METRICS_TOKEN)
// in this process's original environment block and unsets them. Call once parse_config has
// copied them: an agent running as the same user could otherwise read them from
// /proc/<service pid>/environ, which shows that block, not the current environ.
void erase_secrets_from_environment();

}  // namespace cas
