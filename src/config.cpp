// Option table: each setting has an environment variable and/or a flag, a parser that
// validates it, and help text. `--help` and the README's configuration table come from it.
#include "config.hpp"

#include "config_values.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string_view>

#ifndef CAS_VERSION
#define CAS_VERSION "0.0.0"
#endif

extern char** environ;  // NOLINT(readability-redundant-declaration)

namespace cas {
namespace {

using namespace config_values;  // NOLINT(google-build-using-namespace): the option table's parsers

struct Option {
    const char* env;   // nullptr: flag only
    const char* flag;  // nullptr: environment only (secrets never go on argv)
    const char* value_name;
    const char* help;
    SetResult (*set)(Config&, std::string_view);
    std::string (*show)(const Config&);  // the current value, for --help's defaults
};

constexpr std::size_t kMiB = 1024U * 1024U;

const Option kOptions[] = {
    {"API_BEARER_TOKEN", nullptr, "TOKEN",
     "Bearer token clients must send. Empty: every protected route answers 401. "
     "Environment only, so it never shows in the process list.",
     [](Config& c, std::string_view v) -> SetResult {
         c.api_bearer_token = v;
         return std::nullopt;
     },
     [](const Config&) { return std::string("(empty)"); }},
    {"METRICS_TOKEN", nullptr, "TOKEN",
     "Bearer token for GET /metrics. Empty: /metrics is open. Environment only.",
     [](Config& c, std::string_view v) -> SetResult {
         c.metrics_token = v;
         return std::nullopt;
     },
     [](const Config&) { return std::string("(empty)"); }},
    {"DATABASE_URL", nullptr, "URI",
     "PostgreSQL connection URI (libpq), e.g. postgresql:///cas?host=/run/postgresql: replicas "
     "naming the same database share their jobs. Empty: the job store is SQLite in DATA_DIR. "
     "Environment only (it may hold a password), and hidden from the agent.",
     [](Config& c, std::string_view v) -> SetResult {
         c.database_url = v;
         return std::nullopt;
     },
     [](const Config&) { return std::string("(empty)"); }},
    {"DATABASE_POOL_SIZE", "--database-pool-size", "N",
     "Connections to DATABASE_URL this replica opens at most (one more listens for "
     "notifications).",
     [](Config& c, std::string_view v) {
         return parse_unsigned<std::size_t>(v, 1, 100, c.database_pool_size);
     },
     [](const Config& c) { return std::to_string(c.database_pool_size); }},
    {"REPLICA_ID", "--replica-id", "NAME",
     "This replica's name in the job store (the owner of the jobs it runs). Default: "
     "hostname:pid. Keep it stable across restarts and a restart interrupts the jobs it left "
     "at once, rather than when their lease runs out.",
     [](Config& c, std::string_view v) -> SetResult {
         if (v.size() > 200) return "must be at most 200 characters";  // empty: the default
         c.replica_id = v;
         return std::nullopt;
     },
     [](const Config&) { return std::string("(empty)"); }},
    {"LEASE_SECONDS", "--lease-seconds", "S",
     "A running job's lease: its replica renews it every third of this; a job whose lease ran "
     "out (its replica died) becomes interrupted, swept by any replica at least this often.",
     [](Config& c, std::string_view v) { return parse_count(v, 3, 3600, c.lease); },
     [](const Config& c) { return std::to_string(c.lease.count()); }},
    {"WORKSPACE_DIR", "--workspace-dir", "DIR", "Git workspace the agent runs in.",
     [](Config& c, std::string_view v) { return parse_non_empty(v, c.workspace_dir); },
     [](const Config& c) { return c.workspace_dir; }},
    {"CLAUDE_BIN", "--claude-bin", "PATH",
     "Claude Code CLI to run (looked up on PATH). Unset: `claude` on PATH, else the CLI "
     "scripts/install-deps.sh installs in /usr/local/lib/claude-agent-service/claude-code.",
     [](Config& c, std::string_view v) { return parse_non_empty(v, c.claude_bin); },
     [](const Config& c) { return c.claude_bin; }},
    {"HOST", "--host", "ADDR", "Address to listen on.",
     [](Config& c, std::string_view v) { return parse_non_empty(v, c.host); },
     [](const Config& c) { return c.host; }},
    {"PORT", "--port", "N", "Port to listen on (0 picks a free one).",
     [](Config& c, std::string_view v) {
         return parse_unsigned<std::uint16_t>(v, 0, 65535, c.port);
     },
     [](const Config& c) { return std::to_string(c.port); }},
    {"MAX_BODY_BYTES", "--max-body-bytes", "N", "Largest request body accepted (413 above).",
     [](Config& c, std::string_view v) {
         return parse_unsigned<std::size_t>(v, 1, 1024 * kMiB, c.max_body_bytes);
     },
     [](const Config& c) { return std::to_string(c.max_body_bytes); }},
    {"MAX_HEADER_BYTES", "--max-header-bytes", "N",
     "Largest request line plus headers accepted (431 above).",
     [](Config& c, std::string_view v) {
         return parse_unsigned<std::size_t>(v, 1024, kMiB, c.max_header_bytes);
     },
     [](const Config& c) { return std::to_string(c.max_header_bytes); }},
    {"READ_TIMEOUT_SECONDS", "--read-timeout", "S",
     "Time allowed to send a request's headers, its body, or to idle on keep-alive.",
     [](Config& c, std::string_view v) { return parse_count(v, 1, 3600, c.read_timeout); },
     [](const Config& c) { return std::to_string(c.read_timeout.count()); }},
    {"MAX_CONNECTIONS", "--max-connections", "N",
     "Concurrent connections; further ones are closed at once.",
     [](Config& c, std::string_view v) {
         return parse_unsigned<unsigned>(v, 1, 100000, c.max_connections);
     },
     [](const Config& c) { return std::to_string(c.max_connections); }},
    {"MAX_OUTPUT_BYTES", "--max-output-bytes", "N",
     "Output kept per run and stream (stdout, stderr); the rest is counted and dropped.",
     [](Config& c, std::string_view v) {
         return parse_unsigned<std::size_t>(v, 1024, 16 * 1024 * kMiB, c.max_output_bytes);
     },
     [](const Config& c) { return std::to_string(c.max_output_bytes); }},
    {"GIT_SYNC", "--git-sync", "MODE",
     "git pull --rebase before each run: off, best-effort (a failure is recorded) or "
     "required (a failure fails the run).",
     [](Config& c, std::string_view v) -> SetResult {
         auto mode = agent::parse_git_sync_mode(v);
         if (!mode) return fmt::format("must be off, best-effort or required, got '{}'", v);
         c.git_sync = *mode;
         return std::nullopt;
     },
     [](const Config& c) { return std::string(agent::to_string(c.git_sync)); }},
    {"GIT_TIMEOUT_SECONDS", "--git-timeout", "S", "Time allowed for the git pull.",
     [](Config& c, std::string_view v) { return parse_count(v, 1, 3600, c.git_timeout); },
     [](const Config& c) { return std::to_string(c.git_timeout.count()); }},
    {"KILL_GRACE_MS", "--kill-grace-ms", "MS",
     "After SIGTERM to a timed-out or cancelled run, wait this long before SIGKILL.",
     [](Config& c, std::string_view v) { return parse_count(v, 0, 60000, c.kill_grace); },
     [](const Config& c) { return std::to_string(c.kill_grace.count()); }},
    {"STALL_TIMEOUT_SECONDS", "--stall-timeout", "S",
     "A run whose CLI prints nothing on stdout for this long is ended as a timeout (0: never).",
     [](Config& c, std::string_view v) { return parse_count(v, 0, 7 * 86400, c.stall_timeout); },
     [](const Config& c) { return std::to_string(c.stall_timeout.count()); }},
    {"RESULT_EXIT_GRACE_MS", "--result-exit-grace-ms", "MS",
     "After its result line the CLI has this long to exit; then it is ended and the run keeps "
     "its result.",
     [](Config& c, std::string_view v) { return parse_count(v, 0, 600000, c.result_exit_grace); },
     [](const Config& c) { return std::to_string(c.result_exit_grace.count()); }},
    {"WARM_CLI", "--warm-cli", "MODE",
     "on or off: start the next run's CLI ahead of time (for the arguments of the last run; at "
     "start-up, "
     "the chat completion defaults), so a run skips the CLI's start-up.",
     [](Config& c, std::string_view v) -> SetResult {
         if (v != "on" && v != "off") return fmt::format("must be on or off, got '{}'", v);
         c.warm_cli = v == "on";
         return std::nullopt;
     },
     [](const Config& c) { return std::string(c.warm_cli ? "on" : "off"); }},
    {"WARM_CLI_MAX_AGE_SECONDS", "--warm-cli-max-age", "S",
     "A CLI started ahead and still unused after this long is replaced (its credentials or "
     "version may have changed).",
     [](Config& c, std::string_view v) { return parse_count(v, 1, 86400, c.warm_cli_max_age); },
     [](const Config& c) { return std::to_string(c.warm_cli_max_age.count()); }},
    {"MAX_JOB_TIMEOUT_SECONDS", "--max-job-timeout", "S",
     "Largest timeout_seconds a job may ask for.",
     [](Config& c, std::string_view v) { return parse_count(v, 1, 7 * 86400, c.max_job_timeout); },
     [](const Config& c) { return std::to_string(c.max_job_timeout.count()); }},
    {"MAX_BUDGET_USD", "--max-budget-usd", "USD", "Largest max_budget_usd a job may ask for.",
     [](Config& c, std::string_view v) { return parse_positive_double(v, 1e6, c.max_budget_usd); },
     [](const Config& c) { return fmt::format("{}", c.max_budget_usd); }},
    {"RUN_OPTIONS", "--run-options", "LIST",
     "Run options callers may set (jobs' fields, chat's extra fields), comma-separated; 'none' "
     "for none. Any other is refused with its name.",
     [](Config& c, std::string_view v) { return parse_run_option_names(v, c.run_options); },
     [](const Config& c) { return c.run_options.empty() ? "none" : join(c.run_options); }},
    {"MAX_TURNS_LIMIT", "--max-turns-limit", "N",
     "Largest max_turns a caller may ask for; 0: up to 10000.",
     [](Config& c, std::string_view v) {
         return parse_unsigned(v, std::int64_t{0}, std::int64_t{10000}, c.max_turns_limit);
     },
     [](const Config& c) { return std::to_string(c.max_turns_limit); }},
    {"ALLOWED_MODELS", "--allowed-models", "LIST",
     "Models a job may name as model, and any run as fallback_model, comma-separated; empty: "
     "any (the model APIs' model stays OPENAI_MODELS).",
     [](Config& c, std::string_view v) { return parse_optional_list(v, c.allowed_models); },
     [](const Config& c) { return join(c.allowed_models); }},
    {"TOOLS_ALWAYS_DISALLOWED", "--tools-always-disallowed", "LIST",
     "Tools withheld from every run, whatever its caller asks: names or CLI patterns such as "
     "Bash(curl:*), comma-separated; empty: none.",
     [](Config& c, std::string_view v) { return parse_tool_list(v, c.tools_always_disallowed); },
     [](const Config& c) { return join(c.tools_always_disallowed); }},
    {"AGENT_USER", "--agent-user", "NAME",
     "Run the CLI, everything it starts and git as this existing user, so the agent cannot read "
     "DATA_DIR or change the service (the service must run as root or with CAP_SETUID, "
     "CAP_SETGID and CAP_KILL). Empty: the service's own user.",
     [](Config& c, std::string_view v) {
         c.agent_user = std::string(v);
         return SetResult{};
     },
     [](const Config& c) { return c.agent_user; }},
    {"AGENT_HOME", "--agent-home", "DIR",
     "HOME of the CLI (its credentials and sessions). Empty: AGENT_USER's home, or the "
     "service's own.",
     [](Config& c, std::string_view v) {
         c.agent_home = std::string(v);
         return SetResult{};
     },
     [](const Config& c) { return c.agent_home; }},
    {"AGENT_SANDBOX", "--agent-sandbox", "MODE",
     "off, or bwrap: the CLI runs in a bubblewrap sandbox: / read-only, only the workspace and "
     "its HOME writable, a private /tmp, DATA_DIR hidden, its own /proc; the network kept. "
     "Start-up fails if bwrap cannot make it.",
     [](Config& c, std::string_view v) -> SetResult {
         if (v != "off" && v != "bwrap") return fmt::format("must be off or bwrap, got '{}'", v);
         c.agent_sandbox = v == "bwrap" ? agent::SandboxMode::bwrap : agent::SandboxMode::off;
         return std::nullopt;
     },
     [](const Config& c) {
         return std::string(c.agent_sandbox == agent::SandboxMode::bwrap ? "bwrap" : "off");
     }},
    {"AGENT_SANDBOX_EXTRA", "--agent-sandbox-extra", "LIST",
     "More paths for the sandbox, comma-separated: ro:PATH (visible read-only, e.g. a tool "
     "outside /), rw:PATH (writable, e.g. a cache), hide:PATH (an empty directory instead, e.g. "
     "a secrets directory). Absolute paths.",
     [](Config& c, std::string_view v) -> SetResult {
         auto paths = agent::parse_sandbox_paths(v);
         if (auto* problem = std::get_if<std::string>(&paths)) return *problem;
         c.agent_sandbox_extra = std::get<std::vector<agent::SandboxPath>>(std::move(paths));
         return std::nullopt;
     },
     [](const Config&) { return std::string(); }},
    {"OPENAI_AGENT", "--openai-agent", "NAME",
     "Agent that answers the model APIs (chat completions, responses, messages).",
     [](Config& c, std::string_view v) { return parse_non_empty(v, c.openai_agent); },
     [](const Config& c) { return c.openai_agent; }},
    {"OPENAI_BUDGET_USD", "--openai-budget-usd", "USD", "Budget of each model API answer.",
     [](Config& c, std::string_view v) {
         return parse_positive_double(v, 1e6, c.openai_budget_usd);
     },
     [](const Config& c) { return fmt::format("{}", c.openai_budget_usd); }},
    {"OPENAI_TIMEOUT_SECONDS", "--openai-timeout", "S", "Timeout of each model API answer.",
     [](Config& c, std::string_view v) { return parse_count(v, 1, 86400, c.openai_timeout); },
     [](const Config& c) { return std::to_string(c.openai_timeout.count()); }},
    {"OPENAI_MODELS", "--openai-models", "LIST",
     "Models a model API request may name, comma-separated.",
     [](Config& c, std::string_view v) { return parse_list(v, c.openai_models); },
     [](const Config& c) { return join(c.openai_models); }},
    {"OPENAI_DEFAULT_MODEL", "--openai-default-model", "MODEL",
     "Model used when a request names none.",
     [](Config& c, std::string_view v) { return parse_non_empty(v, c.openai_default_model); },
     [](const Config& c) { return c.openai_default_model; }},
    {"SSE_KEEPALIVE_MS", "--sse-keepalive-ms", "MS",
     "While a streamed answer is silent, send an SSE comment this often so proxies keep it open.",
     [](Config& c, std::string_view v) { return parse_count(v, 100, 600000, c.sse_keepalive); },
     [](const Config& c) { return std::to_string(c.sse_keepalive.count()); }},
    {"CHAT_WAIT_SECONDS", "--chat-wait", "S",
     "A chat completion that finds the slot busy waits this long for it (in arrival order, "
     "ahead of queued jobs), then answers 503; 0 answers 503 at once. Chat UIs that send a "
     "title request after each answer want ~30.",
     [](Config& c, std::string_view v) { return parse_count(v, 0, 3600, c.chat_wait); },
     [](const Config& c) { return std::to_string(c.chat_wait.count()); }},
    {"SESSION_TTL_SECONDS", "--session-ttl", "S",
     "A chat conversation can be continued in its CLI session for this long after its last "
     "answer.",
     [](Config& c, std::string_view v) { return parse_count(v, 60, 366 * 86400, c.session_ttl); },
     [](const Config& c) { return std::to_string(c.session_ttl.count()); }},
    {"SESSION_MAX_BYTES", "--session-max-bytes", "N",
     "Session files up to this size are copied into the job store after each run (so a "
     "resume works after the CLI's files are gone); larger ones stay on disk only.",
     [](Config& c, std::string_view v) {
         return parse_unsigned<std::size_t>(v, 0, 1024 * kMiB, c.session_max_bytes);
     },
     [](const Config& c) { return std::to_string(c.session_max_bytes); }},
    {"DATA_DIR", "--data-dir", "DIR",
     "Directory of the job database (jobs.db), created if missing.",
     [](Config& c, std::string_view v) { return parse_non_empty(v, c.data_dir); },
     [](const Config& c) { return c.data_dir; }},
    {"QUEUE_DEPTH", "--queue-depth", "N",
     "Jobs that may wait for the slot; 0 answers 409 while busy, as the reference app.",
     [](Config& c, std::string_view v) {
         return parse_unsigned<std::size_t>(v, 0, 100000, c.queue_depth);
     },
     [](const Config& c) { return std::to_string(c.queue_depth); }},
    {"JOB_RETENTION", "--job-retention", "DURATION",
     "Finished jobs older than this are deleted (30d, 12h, 90m or seconds).",
     [](Config& c, std::string_view v) { return parse_duration(v, c.job_retention); },
     [](const Config& c) { return fmt::format("{}d", c.job_retention.count() / 86400); }},
    {"JOB_MAX_RECORDS", "--job-max-records", "N",
     "At most this many job records are kept; the oldest finished ones go first.",
     [](Config& c, std::string_view v) {
         return parse_unsigned<std::size_t>(v, 1, 100000000, c.job_max_records);
     },
     [](const Config& c) { return std::to_string(c.job_max_records); }},
    {"RETENTION_SWEEP_SECONDS", "--retention-sweep", "S", "How often the retention rules run.",
     [](Config& c, std::string_view v) { return parse_count(v, 1, 86400, c.retention_sweep); },
     [](const Config& c) { return std::to_string(c.retention_sweep.count()); }},
    {"RECORD_CACHE_BYTES", "--record-cache-bytes", "N",
     "Finished job records kept in memory as the text GET /jobs/{id} answers with (0: none).",
     [](Config& c, std::string_view v) {
         return parse_unsigned<std::size_t>(v, 0, 1024 * kMiB, c.record_cache_bytes);
     },
     [](const Config& c) { return std::to_string(c.record_cache_bytes); }},
    {"WEBHOOK_ALLOWED_HOSTS", "--webhook-allowed-hosts", "LIST",
     "Hosts a job's callback_url may name, comma-separated: a name, *.name (any name under it), "
     "an IP address ([...] for IPv6), each with an optional :port. Empty: callbacks are off. A "
     "host listed by name may resolve to private and loopback addresses; one under a *. rule "
     "may not.",
     [](Config& c, std::string_view v) -> SetResult {
         auto rules = webhooks::parse_allowed_hosts(v);
         if (auto* problem = std::get_if<std::string>(&rules)) return *problem;
         c.webhook_allowed_hosts = std::get<std::vector<webhooks::HostRule>>(std::move(rules));
         return std::nullopt;
     },
     [](const Config&) { return std::string("(empty)"); }},
    {"WEBHOOK_SECRET", nullptr, "SECRETS",
     "Key(s) signing callbacks (Standard Webhooks): whsec_ + base64 of at least 16 random "
     "bytes; several, space-separated, sign with each while receivers rotate. Needed when "
     "WEBHOOK_ALLOWED_HOSTS is set. Environment only.",
     [](Config& c, std::string_view v) -> SetResult {
         if (v.empty()) {
             c.webhook_keys.clear();
             return std::nullopt;
         }
         auto keys = webhooks::parse_signing_keys(v);
         if (auto* problem = std::get_if<std::string>(&keys)) return *problem;
         c.webhook_keys = std::get<std::vector<webhooks::SigningKey>>(std::move(keys));
         return std::nullopt;
     },
     [](const Config&) { return std::string("(empty)"); }},
    {"WEBHOOK_TIMEOUT_SECONDS", "--webhook-timeout", "S",
     "Time a callback attempt gets to connect, send and be answered.",
     [](Config& c, std::string_view v) { return parse_count(v, 1, 300, c.webhook_timeout); },
     [](const Config& c) { return std::to_string(c.webhook_timeout.count()); }},
    {"WEBHOOK_RETRY_BASE_MS", "--webhook-retry-base-ms", "MS",
     "Wait before a callback's second attempt; it doubles after each (at most an hour), with "
     "up to 20% jitter either way.",
     [](Config& c, std::string_view v) {
         return parse_count(v, 10, 3600000, c.webhook_retry_base);
     },
     [](const Config& c) { return std::to_string(c.webhook_retry_base.count()); }},
    {"WEBHOOK_MAX_ATTEMPTS", "--webhook-max-attempts", "N",
     "Attempts at a callback before it is failed (POST /jobs/{id}/webhook/retry sends it "
     "again).",
     [](Config& c, std::string_view v) {
         return parse_unsigned(v, 1, 100, c.webhook_max_attempts);
     },
     [](const Config& c) { return std::to_string(c.webhook_max_attempts); }},
    {"WEBHOOK_CA_FILE", "--webhook-ca-file", "FILE",
     "Certificates (PEM) https callbacks are verified against, instead of the system's store "
     "(which SSL_CERT_FILE also overrides).",
     [](Config& c, std::string_view v) -> SetResult {
         if (v.empty()) {
             c.webhook_ca_file.reset();
         } else {
             c.webhook_ca_file = std::string(v);
         }
         return std::nullopt;
     },
     [](const Config&) { return std::string("(empty)"); }},
    {"SHUTDOWN_GRACE", "--shutdown-grace", "DURATION",
     "After SIGTERM, time a run in flight gets to finish before it is cancelled (30s, 500ms, 0). "
     "A second signal cancels at once.",
     [](Config& c, std::string_view v) { return parse_grace(v, c.shutdown_grace); },
     [](const Config& c) { return fmt::format("{}s", c.shutdown_grace.count() / 1000); }},
    {"LOG_LEVEL", "--log-level", "LEVEL", "debug, info, warn or error.",
     [](Config& c, std::string_view v) -> SetResult {
         for (auto level :
              {log::Level::debug, log::Level::info, log::Level::warn, log::Level::error}) {
             if (log::name_of(level) == v) {
                 c.log_level = level;
                 return std::nullopt;
             }
         }
         return fmt::format("must be debug, info, warn or error, got '{}'", v);
     },
     [](const Config& c) { return std::string(log::name_of(c.log_level)); }},
};

ExitRequest bad_usage(std::string message) {
    return {2, fmt::format("claude-agent-service: {}\nTry --help.", message)};
}

}  // namespace

std::string usage_text() {
    std::string out =
        "Usage: claude-agent-service [OPTIONS]\n"
        "Runs the Claude Code CLI on a git workspace behind an HTTP API.\n\n"
        "Each setting is read from its environment variable; a flag overrides it.\n\n";
    for (const auto& opt : kOptions) {
        std::string names = opt.flag != nullptr ? fmt::format("{} {}", opt.flag, opt.value_name)
                                                : std::string("(no flag)");
        out += fmt::format("  {:<28} {}\n      {} (default: {})\n", names,
                           opt.env != nullptr ? opt.env : "", opt.help, opt.show(Config{}));
    }
    out += "  --help                       Show this text and exit.\n";
    out += "  --version                    Show the version and exit.\n";
    return out;
}

std::variant<Config, ExitRequest> parse_config(std::span<const char* const> args,
                                               const EnvLookup& env) {
    Config config;
    for (const auto& opt : kOptions) {
        if (opt.env == nullptr) continue;
        if (auto value = env(opt.env)) {
            if (auto err = opt.set(config, *value)) {
                return bad_usage(fmt::format("{}: {}", opt.env, *err));
            }
        }
    }
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string_view arg = args[i];
        if (arg == "--help" || arg == "-h") return ExitRequest{0, usage_text()};
        if (arg == "--version") return ExitRequest{0, "claude-agent-service " CAS_VERSION "\n"};

        std::optional<std::string_view> inline_value;
        if (auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
            inline_value = arg.substr(eq + 1);
            arg = arg.substr(0, eq);
        }
        const Option* match = nullptr;
        for (const auto& opt : kOptions) {
            if (opt.flag != nullptr && arg == opt.flag) match = &opt;
        }
        if (match == nullptr) return bad_usage(fmt::format("unknown option '{}'", arg));
        std::string_view value;
        if (inline_value) {
            value = *inline_value;
        } else if (i + 1 < args.size()) {
            value = args[++i];
        } else {
            return bad_usage(fmt::format("{} needs a value", arg));
        }
        if (auto err = match->set(config, value)) {
            return bad_usage(fmt::format("{}: {}", arg, *err));
        }
    }
    if (std::find(config.openai_models.begin(), config.openai_models.end(),
                  config.openai_default_model) == config.openai_models.end()) {
        return bad_usage(fmt::format("OPENAI_DEFAULT_MODEL '{}' is not in OPENAI_MODELS ({})",
                                     config.openai_default_model, join(config.openai_models)));
    }
    if (!config.webhook_allowed_hosts.empty() && config.webhook_keys.empty()) {
        return bad_usage(
            "WEBHOOK_ALLOWED_HOSTS is set but WEBHOOK_SECRET is not: callbacks "
            "must be signed");
    }
    return config;
}

void erase_secrets_from_environment() {
    for (const auto& opt : kOptions) {
        if (opt.flag != nullptr || opt.env == nullptr) continue;  // secrets are the env-only ones
        std::string prefix = std::string(opt.env) + "=";
        for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
            if (std::strncmp(*entry, prefix.c_str(), prefix.size()) == 0) {
                char* value = *entry + prefix.size();
                std::memset(value, 0, std::strlen(value));
            }
        }
        ::unsetenv(opt.env);  // NOLINT(concurrency-mt-unsafe): start-up, one thread
    }
}

std::optional<std::string> process_env(const std::string& name) {
    // getenv is fine here: main() reads the environment once, before any thread starts.
    const char* value = std::getenv(name.c_str());  // NOLINT(concurrency-mt-unsafe)
    if (value == nullptr) return std::nullopt;
    return std::string(value);
}

}  // namespace cas
