// Start-up: the confinement AGENT_USER, AGENT_HOME and AGENT_SANDBOX ask for, checked on this
// host before the service serves. Each check that fails stops start-up (exit code 2) with a
// message naming the setting and the fix: an agent that would run unconfined, or not at all,
// must not look like a working service. What the agent's user can reach is asked of the
// kernel as that user (a child that takes the identity and calls access()), so ownership,
// modes, groups and ACLs all count.
#pragma once

#include "agent/confinement.hpp"

#include <string>
#include <variant>
#include <vector>

namespace cas {

struct ConfinementRequest {
    std::string agent_user;  // empty: the service's own user
    std::string agent_home;  // empty: that user's home
    agent::SandboxMode sandbox = agent::SandboxMode::off;
    std::vector<agent::SandboxPath> sandbox_extra;
    std::string workspace_dir;
    std::string data_dir;
    std::string claude_bin;    // as the runner will start it (a path, or a name on PATH)
    std::string path;          // PATH, where bwrap (and a CLI named without a path) are found
    std::string service_home;  // the service's HOME: the CLI's without AGENT_USER or AGENT_HOME
};

// The confinement, once every check passed; else what stops start-up.
std::variant<agent::Confinement, std::string> prepare_confinement(
    const ConfinementRequest& request);

// Whether `user` may access `path` with `mode` (access(2)'s R_OK, W_OK, X_OK), asked of the
// kernel by a child that becomes that user.
bool can_access_as(const agent::RunAs& user, const std::string& path, int mode);

}  // namespace cas
