// What keeps a run's processes from the service (AGENT_USER, AGENT_HOME, AGENT_SANDBOX): the
// user the CLI and git run as, their HOME, and the bubblewrap box the CLI runs in. Pure: how
// a launch is confined, and what AGENT_SANDBOX_EXTRA means. The start-up checks that a
// confinement holds on this host are in confinement_checks.hpp.
#pragma once

#include "agent/runner.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace cas::agent {

enum class SandboxMode { off, bwrap };

// One AGENT_SANDBOX_EXTRA entry: a path the agent sees read-only, writable, or hidden (an
// empty directory in its place).
struct SandboxPath {
    enum class Access { read_only, writable, hidden };
    Access access = Access::read_only;
    std::string path;
    friend bool operator==(const SandboxPath&, const SandboxPath&) = default;
};

// "ro:/opt/tools,rw:/var/cache/tool,hide:/etc/secrets" (empty: none): absolute paths, without
// "." or ".." parts; or what is wrong.
std::variant<std::vector<SandboxPath>, std::string> parse_sandbox_paths(std::string_view text);

// The box: `/` read-only, a private /tmp, /dev and a /proc of its own processes only; the
// workspace and the home writable; `hidden` (DATA_DIR) empty; then `extra`.
struct Sandbox {
    std::string bwrap = "bwrap";  // its path
    std::string workspace_dir;
    std::string home;
    std::vector<std::string> hidden;
    std::vector<SandboxPath> extra;
    friend bool operator==(const Sandbox&, const Sandbox&) = default;
};

// bwrap's argv (program first) that runs `command` (program first) in `sandbox`.
std::vector<std::string> sandbox_command(const Sandbox& sandbox,
                                         const std::vector<std::string>& command);

struct Confinement {
    std::optional<RunAs> run_as;  // none: the service's own user
    std::string user_name;        // USER and LOGNAME with run_as
    std::string home;             // HOME of the agent's processes; empty: the service's
    std::optional<Sandbox> sandbox;
    friend bool operator==(const Confinement&, const Confinement&) = default;
};

// Where a confined launch runs: git (the pull, the workspace record) as the agent's user;
// the CLI also inside the sandbox.
enum class Confine { user, user_and_sandbox };

// `launch` as one of the agent's: its user, its HOME, USER and LOGNAME, and with
// user_and_sandbox, inside the sandbox when there is one.
ProcessLaunch confine(ProcessLaunch launch, const Confinement& confinement, Confine what);

}  // namespace cas::agent
