// Service configuration: read from the environment, overridden by command-line flags.
// Parsing is pure (arguments and an environment lookup in, a Config or a message out)
// so it is unit-tested without touching the process environment.
#pragma once

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
    std::string workspace_dir = "/workspace/infra";
    std::string claude_bin = "claude";
    std::string host = "127.0.0.1";
    std::uint16_t port = 8000;

    std::size_t max_body_bytes = 4U * 1024U * 1024U;
    std::size_t max_header_bytes = 16U * 1024U;
    unsigned read_timeout_seconds = 30;  // for a request's headers and body, and keep-alive idle
    unsigned max_connections = 512;
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

}  // namespace cas
