// The Unix user the confinement tests run the agent as (AGENT_USER): `cas-agent`, a system
// user made on first use. Only root can make it, or switch to it: elsewhere there is none.
#pragma once

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <sys/stat.h>

namespace cas::test {

struct AgentUser {
    std::string name;
    uid_t uid = 0;
    gid_t gid = 0;
};

inline std::optional<AgentUser> agent_user() {
    if (::geteuid() != 0) return std::nullopt;
    // Tests run in parallel: one makes the user under a lock, the others find it made.
    const int status = std::system(  // NOLINT(cert-env33-c): test set-up
        "flock /tmp/cas-agent-user.lock sh -c 'id -u cas-agent >/dev/null 2>&1 || "
        "useradd --system --no-create-home --shell /usr/sbin/nologin cas-agent'");
    const passwd* entry = ::getpwnam("cas-agent");
    if (status != 0 || entry == nullptr) return std::nullopt;
    return AgentUser{.name = "cas-agent", .uid = entry->pw_uid, .gid = entry->pw_gid};
}

// `path` and everything in it made `user`'s.
inline void give_to(const AgentUser& user, const std::filesystem::path& path) {
    ::lchown(path.c_str(), user.uid, user.gid);
    if (!std::filesystem::is_directory(path)) return;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(path)) {
        ::lchown(entry.path().c_str(), user.uid, user.gid);
    }
}

}  // namespace cas::test
