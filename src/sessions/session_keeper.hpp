// The CLI's sessions, kept beyond its own files. The CLI keeps a session as one JSON-lines
// file under its home, HOME/.claude/projects/<the workspace path, every character but a
// letter or digit as '-'>/<session id>.jsonl, and `--resume <id>` reads it. After each run the
// file is copied into the job store (up to a size bound); before a run resumes a session whose
// file is gone (the CLI's files cleaned, another machine with the same store), the copy is put
// back. Session ids come from the CLI's output and from callers: only UUIDs are used in a path.
#pragma once

#include "agent/runner.hpp"
#include "jobs/job_store.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/describe/enum.hpp>

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace cas::sessions {

// Where the CLI started in `workspace_dir` with HOME `home` keeps session `session_id`.
std::filesystem::path session_file(const std::filesystem::path& home,
                                   std::string_view workspace_dir, std::string_view session_id);

struct SessionSettings {
    std::string home;                             // the CLI's HOME
    std::string workspace_dir;                    // its working directory
    std::size_t max_bytes = 32U * 1024U * 1024U;  // larger sessions stay on disk only
    // The CLI's user when it is not the service's (AGENT_USER): a restored file is made its.
    std::optional<agent::RunAs> owner;
};

enum class SessionCopy { stored, too_large, no_file, store_failed };
BOOST_DESCRIBE_ENUM(SessionCopy, stored, too_large, no_file, store_failed)
enum class SessionRestore { present, restored, no_copy, failed };
BOOST_DESCRIBE_ENUM(SessionRestore, present, restored, no_copy, failed)

class SessionKeeper {
public:
    SessionKeeper(jobs::JobStore& store, SessionSettings settings);

    // After a run: the session's file, copied into the store (replacing an older copy).
    boost::asio::awaitable<SessionCopy> keep(std::string_view session_id);
    // Before a run resumes `session_id`: the file as it was last kept, if it is missing.
    boost::asio::awaitable<SessionRestore> restore_if_missing(std::string_view session_id);
    // Whether a run could resume `session_id`: its file is there, or a copy of it.
    boost::asio::awaitable<bool> resumable(std::string_view session_id) const;

    [[nodiscard]] const SessionSettings& settings() const { return settings_; }

private:
    [[nodiscard]] std::filesystem::path file_of(std::string_view session_id) const;
    // `dir` and its missing parents, those made now given to the owner.
    void make_directories(const std::filesystem::path& dir) const;
    // Makes `path` the owner's, when there is one (the service's otherwise).
    void give_to_owner(const std::filesystem::path& path) const;
    jobs::JobStore& store_;
    SessionSettings settings_;
};

}  // namespace cas::sessions
