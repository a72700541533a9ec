// Start-up checks: what a run needs that the service can see before the first request (the
// Claude Code CLI, the git workspace, Anthropic credentials, IS_SANDBOX as root). Each missing
// piece becomes one warning naming the setting that fixes it, so a newcomer reads why in the
// start-up log instead of in the first job's `error`. The service starts either way.
// The checks take their inputs as arguments and only read the file system, so tests run them
// on temporary directories; probe_cli is the one that starts a process.
#pragma once

#include "config.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cas {

// Where scripts/install-deps.sh installs the CLI (npm, the version tests/e2e pins). Keep in step
// with cli_prefix there.
inline constexpr std::string_view kInstalledClaudeBin =
    "/usr/local/lib/claude-agent-service/claude-code/node_modules/.bin/claude";

// `name` looked up in a PATH value as execvp does: the first directory that holds an executable
// regular file of that name (an empty entry is the current directory); empty if none does.
std::string find_on_path(std::string_view name, std::string_view path);

// The CLI the service runs: `explicit_bin` when CLAUDE_BIN or --claude-bin gave one (as given);
// else `claude` found on `path`; else `installed` if it is an executable file; else "claude"
// (runs then fail with "not found on PATH", and startup_warnings says so at start-up).
std::string resolve_claude_bin(const std::optional<std::string>& explicit_bin,
                               std::string_view path,
                               std::string_view installed = kInstalledClaudeBin);

struct StartupWarning {
    std::string setting;  // the environment variable that fixes it
    std::string message;
};

struct StartupCheckInput {
    std::string claude_bin;  // as resolve_claude_bin chose it
    std::string workspace_dir;
    bool git_sync =
        true;  // GIT_SYNC is not off: each run pulls, so the workspace must be a checkout
    bool as_root = false;  // the service's effective uid is 0
};

// One warning per missing piece; empty when a run has what it needs. `env` is the environment
// the CLI inherits (PATH, HOME, CLAUDE_CONFIG_DIR, the credential variables, IS_SANDBOX).
std::vector<StartupWarning> startup_warnings(const StartupCheckInput& input, const EnvLookup& env);

struct CliProbe {
    std::string version;                    // the first line `--version` printed
    std::optional<StartupWarning> warning;  // set when it did not exit 0 within the limit
};

// Runs `executable --version` (a path) with this process's environment and stdin from
// /dev/null, and waits at most `limit`; one that takes longer is killed. The npm CLI answers in
// ~10 ms, so start-up can afford to wait for it.
CliProbe probe_cli(const std::string& executable, std::chrono::milliseconds limit);

struct StartupReport {
    std::string cli_path;  // what probe_cli ran; empty when the CLI was not found
    std::string cli_version;
    std::vector<StartupWarning> warnings;
};

// startup_warnings, then probe_cli when the CLI was found.
StartupReport check_startup(const StartupCheckInput& input, const EnvLookup& env,
                            std::chrono::milliseconds probe_limit);

}  // namespace cas
