// Session files copied into a real SQLite store and put back: the path the CLI uses, the size
// bound, ids that are not the CLI's (never a path), and a restore that does not overwrite.
#include "sessions/session_keeper.hpp"

#include "coroutine_test.hpp"
#include "jobs/sqlite_job_store.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

using namespace cas;
namespace fs = std::filesystem;

namespace {

constexpr const char* kSession = "e23b6204-45c8-4286-8939-accea201a19a";

struct Keeper {
    test::TempDir dir;
    jobs::SqliteJobStore store{(dir.path / "jobs.db").string()};
    sessions::SessionKeeper keeper{store,
                                   {.home = (dir.path / "home").string(),
                                    .workspace_dir = "/srv/work space/repo",
                                    .max_bytes = 64,
                                    .owner = std::nullopt}};
    boost::asio::io_context io;
    // Runs one of the keeper's or the store's calls to its end.
    template <class T>
    T operator()(boost::asio::awaitable<T> call) {
        return test::run_coroutine_test(io, std::move(call));
    }
    [[nodiscard]] fs::path file() const {
        return dir.path / "home/.claude/projects/-srv-work-space-repo" /
               (std::string(kSession) + ".jsonl");
    }
};

}  // namespace

TEST_CASE("sessions: the CLI's path, every character but a letter or digit as '-'") {
    CHECK(sessions::session_file("/home/u", "/tmp/probe/ws", kSession) ==
          fs::path("/home/u/.claude/projects/-tmp-probe-ws") / (std::string(kSession) + ".jsonl"));
    CHECK(sessions::session_file("/h", "/a_b.c", "x").parent_path().filename() == "-a-b-c");
}

TEST_CASE("sessions: a kept copy comes back when the file is gone, and only then") {
    Keeper k;
    CHECK(k(k.keeper.keep(kSession)) == sessions::SessionCopy::no_file);
    CHECK(k(k.keeper.restore_if_missing(kSession)) == sessions::SessionRestore::no_copy);
    CHECK_FALSE(k(k.keeper.resumable(kSession)));

    k.dir.write(fs::relative(k.file(), k.dir.path).string(), "{\"turn\":1}\n");
    CHECK(k(k.keeper.keep(kSession)) == sessions::SessionCopy::stored);
    CHECK(k(k.keeper.restore_if_missing(kSession)) == sessions::SessionRestore::present);

    fs::remove(k.file());
    CHECK(k(k.keeper.resumable(kSession)));  // by its copy
    CHECK(k(k.keeper.restore_if_missing(kSession)) == sessions::SessionRestore::restored);
    CHECK(k.dir.read(fs::relative(k.file(), k.dir.path).string()) == "{\"turn\":1}\n");

    // A later run's file replaces the copy.
    k.dir.write(fs::relative(k.file(), k.dir.path).string(), "{\"turn\":1}\n{\"turn\":2}\n");
    CHECK(k(k.keeper.keep(kSession)) == sessions::SessionCopy::stored);
    fs::remove_all(k.dir.path / "home");
    CHECK(k(k.keeper.restore_if_missing(kSession)) == sessions::SessionRestore::restored);
    CHECK(k.dir.read(fs::relative(k.file(), k.dir.path).string()) ==
          "{\"turn\":1}\n{\"turn\":2}\n");
}

TEST_CASE("sessions: larger than the bound stays on disk only") {
    Keeper k;
    k.dir.write(fs::relative(k.file(), k.dir.path).string(), std::string(65, 'x'));
    CHECK(k(k.keeper.keep(kSession)) == sessions::SessionCopy::too_large);
    CHECK_FALSE(k(k.store.find_session(kSession)));
}

TEST_CASE("sessions: an id that is not the CLI's is never a path") {
    Keeper k;
    k.dir.write("home/.claude/projects/-srv-work-space-repo/../../../secret.jsonl", "secret");
    CHECK(k(k.keeper.keep("../../../secret")) == sessions::SessionCopy::no_file);
    CHECK(k(k.keeper.restore_if_missing("../../../secret")) == sessions::SessionRestore::no_copy);
    CHECK_FALSE(k(k.store.find_session("../../../secret")));
}
