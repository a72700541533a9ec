// Service configuration: read from the environment, overridden by command-line flags.
// Parsing is pure (arguments and an environment lookup in, a Config or a message out)
// so it is unit-tested without touching the process environment.
#pragma once

#include "log.hpp"

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
    unsigned read_timeout_seconds = 30;  // for a request's headers and body, and keep-alive idle
    unsigned max_connections = 512;

    // Agent runs
    std::size_t max_output_bytes = 8U * 1024U * 1024U;  // kept per stream (stdout, stderr)
    std::string git_sync = "best-effort";               // off | best-effort | required
    unsigned git_timeout_seconds = 60;
    unsigned kill_grace_ms = 1000;
    std::int64_t max_job_timeout_seconds = 86400;
    double max_budget_usd = 100.0;

    // OpenAI compatibility
    std::string openai_agent = "recruiter-triage";
    double openai_budget_usd = 2.0;
    unsigned openai_timeout_seconds = 900;
    std::vector<std::string> openai_models{"claude-haiku-4-5", "claude-sonnet-4-6",
                                           "claude-opus-4-7"};
    std::string openai_default_model = "claude-sonnet-4-6";
    unsigned sse_keepalive_ms = 15000;  // comment line on a silent stream, for proxies

    // Job records
    std::string data_dir = "./data";
    std::size_t queue_depth = 0;  // 0: the reference's "409 when busy"
    std::int64_t job_retention_seconds = 30LL * 24 * 3600;
    std::size_t job_max_records = 100000;
    unsigned retention_sweep_seconds = 3600;

    // Operation
    std::int64_t shutdown_grace_ms = 30000;  // runs may finish after SIGTERM before being cancelled
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
