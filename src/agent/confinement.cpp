#include "agent/confinement.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

namespace cas::agent {
namespace {

// An absolute path without empty, "." or ".." parts (a trailing '/' aside): what bwrap is
// given is exactly what start-up checked.
bool is_plain_absolute_path(std::string_view path) {
    if (path.empty() || path.front() != '/' || path.find('\0') != std::string_view::npos) {
        return false;
    }
    for (std::size_t at = 1; at < path.size();) {
        auto slash = std::min(path.find('/', at), path.size());
        auto part = path.substr(at, slash - at);
        bool last = slash + 1 >= path.size();
        if ((part.empty() && !last) || part == "." || part == "..") return false;
        at = slash + 1;
    }
    return true;
}

void set_variable(std::vector<std::string>& environment, std::string_view name,
                  const std::string& value) {
    std::erase_if(environment, [&](const std::string& entry) {
        return entry.size() > name.size() && entry.starts_with(name) && entry[name.size()] == '=';
    });
    environment.push_back(fmt::format("{}={}", name, value));
}

}  // namespace

std::variant<std::vector<SandboxPath>, std::string> parse_sandbox_paths(std::string_view text) {
    std::vector<SandboxPath> paths;
    std::size_t position = 0;
    while (!text.empty()) {
        ++position;
        auto comma = text.find(',');
        auto entry = text.substr(0, comma);
        text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
        auto colon = entry.find(':');
        auto kind = entry.substr(0, colon);
        SandboxPath path;
        if (kind == "ro") {
            path.access = SandboxPath::Access::read_only;
        } else if (kind == "rw") {
            path.access = SandboxPath::Access::writable;
        } else if (kind == "hide") {
            path.access = SandboxPath::Access::hidden;
        } else {
            return fmt::format("entry {} must start with ro:, rw: or hide: (got '{}')", position,
                               entry.substr(0, 64));
        }
        path.path = std::string(entry.substr(colon + 1));
        if (colon == std::string_view::npos || !is_plain_absolute_path(path.path)) {
            return fmt::format("entry {}: '{}' is not an absolute path without . or .. parts",
                               position, entry.substr(0, 256));
        }
        if (path.path.size() > 1 && path.path.back() == '/') path.path.pop_back();
        if (path.path == "/") return fmt::format("entry {}: / itself cannot be changed", position);
        paths.push_back(std::move(path));
    }
    return paths;
}

std::vector<std::string> sandbox_command(const Sandbox& sandbox,
                                         const std::vector<std::string>& command) {
    // Mounts apply in order: the writable binds over the read-only root, then the extra
    // paths, then the hidden ones last, so nothing bound after could show them again. The
    // network stays (the CLI calls the API); the pid namespace has a /proc of its own, and
    // the box dies with the service.
    std::vector<std::string> argv{sandbox.bwrap,
                                  "--die-with-parent",
                                  "--unshare-pid",
                                  "--unshare-ipc",
                                  "--ro-bind",
                                  "/",
                                  "/",
                                  "--dev",
                                  "/dev",
                                  "--proc",
                                  "/proc",
                                  "--tmpfs",
                                  "/tmp",
                                  "--bind",
                                  sandbox.workspace_dir,
                                  sandbox.workspace_dir};
    if (!sandbox.home.empty()) argv.insert(argv.end(), {"--bind", sandbox.home, sandbox.home});
    for (const auto& extra : sandbox.extra) {
        switch (extra.access) {
            case SandboxPath::Access::read_only:
                argv.insert(argv.end(), {"--ro-bind", extra.path, extra.path});
                break;
            case SandboxPath::Access::writable:
                argv.insert(argv.end(), {"--bind", extra.path, extra.path});
                break;
            case SandboxPath::Access::hidden:
                argv.insert(argv.end(), {"--tmpfs", extra.path});
                break;
        }
    }
    for (const auto& hidden : sandbox.hidden) argv.insert(argv.end(), {"--tmpfs", hidden});
    argv.insert(argv.end(), {"--chdir", sandbox.workspace_dir, "--"});
    argv.insert(argv.end(), command.begin(), command.end());
    return argv;
}

ProcessLaunch confine(ProcessLaunch launch, const Confinement& confinement, Confine what) {
    launch.run_as = confinement.run_as;
    if (!confinement.home.empty()) set_variable(launch.environment, "HOME", confinement.home);
    if (confinement.run_as) {
        set_variable(launch.environment, "USER", confinement.user_name);
        set_variable(launch.environment, "LOGNAME", confinement.user_name);
    }
    if (what == Confine::user_and_sandbox && confinement.sandbox) {
        // The CLI's own switch for "sandboxed": as root it then takes
        // --dangerously-skip-permissions without IS_SANDBOX=1, as it should in the box.
        set_variable(launch.environment, "CLAUDE_CODE_BUBBLEWRAP", "1");
        std::vector<std::string> command{std::move(launch.program)};
        command.insert(command.end(), std::make_move_iterator(launch.args.begin()),
                       std::make_move_iterator(launch.args.end()));
        launch.args = sandbox_command(*confinement.sandbox, command);
        launch.program = launch.args.front();
        launch.args.erase(launch.args.begin());
    }
    return launch;
}

}  // namespace cas::agent
