// The start-up checks. What counts as credentials follows what the CLI (2.1.x) reads: key and
// token variables, cloud-provider switches, and in its config home (CLAUDE_CONFIG_DIR, else
// ~/.claude) the login's .credentials.json, settings.json's apiKeyHelper, and the
// primaryApiKey of .claude.json (in CLAUDE_CONFIG_DIR, else in HOME).
#include "startup_checks.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sys/wait.h>
#include <thread>

namespace cas {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Variables whose value the CLI sends as the API key or bearer token.
constexpr std::array kCredentialVariables{"ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN",
                                          "CLAUDE_CODE_OAUTH_TOKEN"};
// Switches to a cloud provider, which brings its own credentials (not checked here).
constexpr std::array kProviderSwitches{"CLAUDE_CODE_USE_BEDROCK",
                                       "CLAUDE_CODE_USE_VERTEX",
                                       "CLAUDE_CODE_USE_FOUNDRY",
                                       "CLAUDE_CODE_USE_ANTHROPIC_AWS",
                                       "CLAUDE_CODE_USE_ANTHROPIC_GOOGLE_CLOUD",
                                       "CLAUDE_CODE_USE_MANTLE",
                                       "CLAUDE_CODE_USE_GATEWAY"};
constexpr std::size_t kProbeOutputCap = 4096;

bool is_executable_file(const fs::path& path) {
    std::error_code ec;
    return fs::is_regular_file(path, ec) && ::access(path.c_str(), X_OK) == 0;
}

std::string env_or_empty(const EnvLookup& env, const char* name) {
    return env(name).value_or(std::string());
}

// The CLI's reading of a switch: 1, true, yes or on, in any case.
bool truthy(std::string value) {
    std::transform(value.begin(), value.end(), value.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return value == "1" || value == "true" || value == "yes" || value == "on";
}

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bool non_empty_file(const fs::path& path) {
    std::error_code ec;
    auto size = fs::file_size(path, ec);  // (uintmax_t)-1 on error
    return !ec && size > 0;
}

// True when `path` holds a JSON object whose `key` is a non-empty string.
bool json_file_has_string(const fs::path& path, std::string_view key) {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) return false;
    auto value = boost::json::parse(read_file(path), ec);
    if (ec || !value.is_object()) return false;
    const auto* field = value.as_object().if_contains(key);
    return field != nullptr && field->is_string() && !field->as_string().empty();
}

bool has_credentials(const EnvLookup& env) {
    for (const char* name : kCredentialVariables) {
        if (!env_or_empty(env, name).empty()) return true;
    }
    for (const char* name : kProviderSwitches) {
        if (truthy(env_or_empty(env, name))) return true;
    }
    auto config_dir = env_or_empty(env, "CLAUDE_CONFIG_DIR");
    auto home = env_or_empty(env, "HOME");
    fs::path config_home = !config_dir.empty() ? fs::path(config_dir)
                           : !home.empty()     ? fs::path(home) / ".claude"
                                               : fs::path();
    fs::path global_config = !config_dir.empty() ? fs::path(config_dir) / ".claude.json"
                             : !home.empty()     ? fs::path(home) / ".claude.json"
                                                 : fs::path();
    return (!config_home.empty() &&
            (non_empty_file(config_home / ".credentials.json") ||
             json_file_has_string(config_home / "settings.json", "apiKeyHelper"))) ||
           (!global_config.empty() && json_file_has_string(global_config, "primaryApiKey"));
}

// `claude_bin` as the runner will start it: a path as given, a name looked up on PATH.
std::string cli_executable(const std::string& claude_bin, const EnvLookup& env) {
    if (claude_bin.find('/') != std::string::npos) return claude_bin;
    return find_on_path(claude_bin, env_or_empty(env, "PATH"));
}

std::optional<StartupWarning> check_cli(const std::string& claude_bin, const EnvLookup& env) {
    const std::string fix =
        "runs will end `error`; set CLAUDE_BIN to the CLI's path, or run scripts/install-deps.sh "
        "(installs it where the service looks when CLAUDE_BIN is unset)";
    auto executable = cli_executable(claude_bin, env);
    if (executable.empty()) {
        return StartupWarning{
            "CLAUDE_BIN",
            fmt::format("Claude Code CLI not found: CLAUDE_BIN={} is not on PATH{}; {}", claude_bin,
                        claude_bin == "claude" ? fmt::format(" nor at {}", kInstalledClaudeBin)
                                               : std::string(),
                        fix)};
    }
    std::error_code ec;
    if (!fs::exists(executable, ec)) {
        return StartupWarning{
            "CLAUDE_BIN", fmt::format("Claude Code CLI not found: CLAUDE_BIN={} does not exist; {}",
                                      claude_bin, fix)};
    }
    if (!is_executable_file(executable)) {
        return StartupWarning{"CLAUDE_BIN",
                              fmt::format("Claude Code CLI not runnable: CLAUDE_BIN={} is not an "
                                          "executable file; {}",
                                          claude_bin, fix)};
    }
    return std::nullopt;
}

std::optional<StartupWarning> check_workspace(const StartupCheckInput& input) {
    const auto& dir = input.workspace_dir;
    std::error_code ec;
    if (!fs::exists(dir, ec)) {
        return StartupWarning{
            "WORKSPACE_DIR",
            fmt::format("WORKSPACE_DIR={} does not exist: runs will end `error`; point "
                        "WORKSPACE_DIR at a git checkout with the agents in .claude/agents/",
                        dir)};
    }
    if (!fs::is_directory(dir, ec)) {
        return StartupWarning{"WORKSPACE_DIR",
                              fmt::format("WORKSPACE_DIR={} is not a directory: runs will end "
                                          "`error`; point WORKSPACE_DIR at a git checkout",
                                          dir)};
    }
    if (!input.git_sync) return std::nullopt;
    // git finds the repository from any directory inside it (symlinks resolved, as getcwd does).
    auto path = fs::canonical(dir, ec);
    for (; !ec && !path.empty(); path = path.parent_path()) {
        if (fs::exists(path / ".git", ec)) return std::nullopt;
        if (path == path.root_path()) break;
    }
    return StartupWarning{
        "WORKSPACE_DIR",
        fmt::format("WORKSPACE_DIR={} is not in a git checkout: the git pull before each run "
                    "fails (GIT_SYNC=best-effort records it, required fails the run); clone the "
                    "repository there, or set GIT_SYNC=off",
                    dir)};
}

std::string first_line(std::string_view text) {
    auto start = text.find_first_not_of(" \t\r\n");
    if (start == std::string_view::npos) return {};
    text.remove_prefix(start);
    auto line = text.substr(0, text.find_first_of("\r\n"));
    return std::string(line.substr(0, 200));
}

}  // namespace

std::string find_on_path(std::string_view name, std::string_view path) {
    for (;;) {
        auto colon = path.find(':');
        auto dir = path.substr(0, colon);
        auto candidate = (dir.empty() ? fs::path(".") : fs::path(dir)) / name;
        if (is_executable_file(candidate)) return candidate.string();
        if (colon == std::string_view::npos) return {};
        path.remove_prefix(colon + 1);
    }
}

std::string resolve_claude_bin(const std::optional<std::string>& explicit_bin,
                               std::string_view path, std::string_view installed) {
    if (explicit_bin) return *explicit_bin;
    if (auto found = find_on_path("claude", path); !found.empty()) return found;
    if (is_executable_file(installed)) return std::string(installed);
    return "claude";
}

std::vector<StartupWarning> startup_warnings(const StartupCheckInput& input, const EnvLookup& env) {
    std::vector<StartupWarning> warnings;
    if (auto w = check_cli(input.claude_bin, env)) warnings.push_back(std::move(*w));
    if (auto w = check_workspace(input)) warnings.push_back(std::move(*w));
    if (!has_credentials(env)) {
        warnings.push_back(
            {"ANTHROPIC_API_KEY",
             "no Anthropic credentials for the Claude Code CLI: runs will fail to authenticate; "
             "set ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN, CLAUDE_CODE_OAUTH_TOKEN, or a "
             "provider switch such as CLAUDE_CODE_USE_BEDROCK) in the service's environment, or "
             "log the CLI in as this user (HOME/.claude/.credentials.json)"});
    }
    // The CLI's own condition for refusing --dangerously-skip-permissions.
    if (input.as_root && env_or_empty(env, "IS_SANDBOX") != "1" &&
        !truthy(env_or_empty(env, "CLAUDE_CODE_BUBBLEWRAP"))) {
        warnings.push_back(
            {"IS_SANDBOX",
             "running as root: the CLI refuses --dangerously-skip-permissions, so runs will "
             "fail; set IS_SANDBOX=1 (containers, CI) or run the service as a non-root user"});
    }
    return warnings;
}

CliProbe probe_cli(const std::string& executable, std::chrono::milliseconds limit) {
    CliProbe probe;
    auto fail = [&](std::string why) {
        probe.warning = StartupWarning{
            "CLAUDE_BIN",
            fmt::format("Claude Code CLI not runnable: `{} --version` {}; runs will fail; set "
                        "CLAUDE_BIN to a working CLI (scripts/install-deps.sh installs one)",
                        executable, why)};
        return probe;
    };
    std::array<int, 2> fds{};
    if (::pipe2(fds.data(), O_CLOEXEC) != 0) return fail(std::strerror(errno));

    // stdout and stderr both into the pipe (an error message is the useful part of a failure);
    // the child starts with default SIGPIPE and an empty signal mask, as the runner's do.
    posix_spawn_file_actions_t actions{};
    posix_spawnattr_t attr{};
    (void)posix_spawn_file_actions_init(&actions);
    (void)posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    (void)posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    (void)posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
    (void)posix_spawnattr_init(&attr);
    sigset_t defaults{};
    sigset_t mask{};
    (void)sigemptyset(&defaults);
    (void)sigaddset(&defaults, SIGPIPE);
    (void)sigemptyset(&mask);
    (void)posix_spawnattr_setsigdefault(&attr, &defaults);
    (void)posix_spawnattr_setsigmask(&attr, &mask);
    (void)posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    std::string arg0 = executable;
    std::string arg1 = "--version";
    std::array<char*, 3> argv{arg0.data(), arg1.data(), nullptr};
    pid_t pid = -1;
    int rc = posix_spawn(&pid, executable.c_str(), &actions, &attr, argv.data(), environ);
    (void)posix_spawn_file_actions_destroy(&actions);
    (void)posix_spawnattr_destroy(&attr);
    ::close(fds[1]);
    if (rc != 0) {
        ::close(fds[0]);
        return fail(fmt::format("could not start: {}", std::strerror(rc)));
    }

    // Read to EOF or the deadline; past the cap, keep reading so the child never blocks on us.
    auto deadline = Clock::now() + limit;
    std::string output;
    std::array<char, 1024> buffer{};
    for (;;) {
        auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) break;
        pollfd readable{fds[0], POLLIN, 0};
        int ready = ::poll(&readable, 1, static_cast<int>(left.count()));
        if (ready < 0 && errno == EINTR) continue;
        if (ready <= 0) break;
        auto n = ::read(fds[0], buffer.data(), buffer.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (output.size() < kProbeOutputCap)
            output.append(buffer.data(), static_cast<std::size_t>(n));
    }
    ::close(fds[0]);

    int status = 0;
    pid_t waited = 0;
    for (;;) {
        waited = ::waitpid(pid, &status, WNOHANG);
        if (waited < 0 && errno == EINTR) continue;
        if (waited != 0 || Clock::now() >= deadline) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (waited != pid) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        return fail(fmt::format("did not finish within {} ms", limit.count()));
    }
    auto said = first_line(output);
    if (WIFSIGNALED(status)) {
        return fail(fmt::format("was killed by signal {}", WTERMSIG(status)));
    }
    if (WEXITSTATUS(status) != 0) {
        return fail(fmt::format("exited with {}{}", WEXITSTATUS(status),
                                said.empty() ? std::string() : ": " + said));
    }
    probe.version = said;
    return probe;
}

StartupReport check_startup(const StartupCheckInput& input, const EnvLookup& env,
                            std::chrono::milliseconds probe_limit) {
    StartupReport report;
    report.warnings = startup_warnings(input, env);
    bool cli_found = std::none_of(report.warnings.begin(), report.warnings.end(),
                                  [](const auto& w) { return w.setting == "CLAUDE_BIN"; });
    if (!cli_found) return report;
    report.cli_path = cli_executable(input.claude_bin, env);
    auto probe = probe_cli(report.cli_path, probe_limit);
    report.cli_version = probe.version;
    if (probe.warning) report.warnings.push_back(std::move(*probe.warning));
    return report;
}

}  // namespace cas
