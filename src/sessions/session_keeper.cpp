// Files are read and written whole: a session is at most `max_bytes` (32 MiB by default)
// and is read once per run. A restored file is written under a temporary name and renamed,
// so a CLI never reads half of one.
#include "sessions/session_keeper.hpp"

#include "agent/cli_command.hpp"
#include "telemetry/log.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <system_error>
#include <vector>

namespace cas::sessions {

std::filesystem::path session_file(const std::filesystem::path& home,
                                   std::string_view workspace_dir, std::string_view session_id) {
    std::string project(workspace_dir);
    for (char& c : project) {
        bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!keep) c = '-';
    }
    return home / ".claude" / "projects" / project / (std::string(session_id) + ".jsonl");
}

SessionKeeper::SessionKeeper(jobs::JobStore& store, SessionSettings settings)
    : store_(store), settings_(std::move(settings)) {}

std::filesystem::path SessionKeeper::file_of(std::string_view session_id) const {
    return session_file(settings_.home, settings_.workspace_dir, session_id);
}

void SessionKeeper::make_directories(const std::filesystem::path& dir) const {
    std::error_code ec;
    std::vector<std::filesystem::path> missing;
    for (auto at = dir; !at.empty() && !std::filesystem::exists(at, ec); at = at.parent_path()) {
        missing.push_back(at);
        if (at == at.parent_path()) break;
    }
    std::filesystem::create_directories(dir, ec);
    for (const auto& made : missing) give_to_owner(made);
}

void SessionKeeper::give_to_owner(const std::filesystem::path& path) const {
    if (!settings_.owner) return;
    if (::chown(path.c_str(), settings_.owner->uid, settings_.owner->gid) != 0) {
        log::warn("cannot give a restored session's file to AGENT_USER",
                  {{"path", path.string()}, {"error", std::strerror(errno)}});
    }
}

boost::asio::awaitable<SessionCopy> SessionKeeper::keep(std::string_view session_id) {
    if (!agent::is_session_id(session_id)) co_return SessionCopy::no_file;
    auto path = file_of(session_id);
    std::error_code ec;
    auto size = std::filesystem::file_size(path, ec);
    if (ec) co_return SessionCopy::no_file;
    if (size > settings_.max_bytes) {
        log::warn("session kept on disk only: larger than SESSION_MAX_BYTES",
                  {{"session_id", session_id}, {"bytes", size}, {"max", settings_.max_bytes}});
        co_return SessionCopy::too_large;
    }
    std::ifstream in(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) co_return SessionCopy::no_file;
    try {
        co_await store_.save_session(session_id, bytes);
    } catch (const jobs::StoreError& e) {
        log::error("cannot keep a copy of the session",
                   {{"session_id", session_id}, {"error", e.what()}});
        co_return SessionCopy::store_failed;
    }
    co_return SessionCopy::stored;
}

boost::asio::awaitable<bool> SessionKeeper::resumable(std::string_view session_id) const {
    if (!agent::is_session_id(session_id)) co_return false;
    std::error_code ec;
    if (std::filesystem::exists(file_of(session_id), ec)) co_return true;
    try {
        auto copy = co_await store_.find_session(session_id);
        co_return copy.has_value();
    } catch (const jobs::StoreError&) {
        co_return false;
    }
}

boost::asio::awaitable<SessionRestore> SessionKeeper::restore_if_missing(
    std::string_view session_id) {
    if (!agent::is_session_id(session_id)) co_return SessionRestore::no_copy;
    auto path = file_of(session_id);
    std::error_code ec;
    if (std::filesystem::exists(path, ec)) co_return SessionRestore::present;
    std::optional<std::string> copy;
    try {
        copy = co_await store_.find_session(session_id);
    } catch (const jobs::StoreError& e) {
        log::error("cannot read the session's copy",
                   {{"session_id", session_id}, {"error", e.what()}});
        co_return SessionRestore::failed;
    }
    if (!copy) co_return SessionRestore::no_copy;
    make_directories(path.parent_path());
    auto temporary = path;
    temporary += ".restoring";
    {
        std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
        out.write(copy->data(), static_cast<std::streamsize>(copy->size()));
        if (!out.good()) {
            log::error("cannot restore the session's file", {{"path", path.string()}});
            std::filesystem::remove(temporary, ec);
            co_return SessionRestore::failed;
        }
    }
    give_to_owner(temporary);
    std::filesystem::rename(temporary, path, ec);
    if (ec) {
        log::error("cannot restore the session's file",
                   {{"path", path.string()}, {"error", ec.message()}});
        co_return SessionRestore::failed;
    }
    log::info("session restored from the store", {{"session_id", session_id}});
    co_return SessionRestore::restored;
}

}  // namespace cas::sessions
