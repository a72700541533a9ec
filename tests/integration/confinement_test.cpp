// The agent's confinement (AGENT_USER, AGENT_SANDBOX): what a run's processes can reach, probed
// through the fake CLI's shell directive as an agent's Bash tool would probe it, that runs are
// still ended whole, and what stops start-up. Switching users needs root, as does making the
// test user: elsewhere these tests say so and check nothing (CI runs as root). The real CLI
// in a box: tests/e2e/confinement.test.mjs.
#include "agent_user.hpp"
#include "git_test.hpp"
#include "integration/agent_fixture.hpp"

#include <algorithm>
#include <cctype>
#include <sstream>
#include <sys/stat.h>

namespace cas::test {
namespace {

// Gives the fixture's workspace and CLI home to `user` and runs the agent as it (the fake
// CLI writes its records as that user too).
std::function<void(Fixture&)> as_agent_user(const AgentUser& user) {
    return [user](Fixture& f) {
        give_to(user, f.workspace.path);
        give_to(user, f.home.path);
        fs::permissions(f.record.path, fs::perms::all);
        f.env["AGENT_USER"] = user.name;
        f.env["AGENT_HOME"] = f.home.path.string();
    };
}

// What the agent's shell printed for `command` ("exit=<status> <output>"), through a job.
std::string shell(const Fixture& f, const std::string& command) {
    auto job = f.wait_job(f.start_job("probe\nFAKE:shell=" + command));
    INFO(json::serialize(job));
    REQUIRE(job.at("status") == "completed");
    return std::string(job.at("result").as_string());
}

// The owner of a live process.
uid_t owner_of(pid_t pid) {
    struct stat info {};
    REQUIRE(::stat(("/proc/" + std::to_string(pid)).c_str(), &info) == 0);
    return info.st_uid;
}

// What stopped a service from starting (the harness's message), or "started".
std::string start_failure(const Fixture::Env& env) {
    try {
        ServiceProcess service(env);
        return "started";
    } catch (const std::exception& e) {
        return e.what();
    }
}

bool has_bwrap() {
    return std::system("command -v bwrap >/dev/null 2>&1") == 0;  // NOLINT(cert-env33-c)
}

}  // namespace

TEST_CASE("AGENT_USER: the agent runs as that user and cannot read the job database",
          "[confinement][sqlite]") {
    auto user = agent_user();
    if (!user) {
        WARN("not checked: switching users needs root");
        return;
    }
    // The same probe without AGENT_USER reads it: the probe can tell.
    Fixture open;
    CHECK_THAT(shell(open, "head -c 15 " + (open.data.path / "jobs.db").string()),
               Catch::Equals("exit=0 SQLite format 3"));

    Fixture f({}, as_agent_user(*user));
    CHECK(shell(f, "id -un; echo $HOME") == "exit=0 cas-agent\n" + f.home.path.string() + "\n");
    auto denied = shell(f, "head -c 15 " + (f.data.path / "jobs.db").string());
    CHECK_THAT(denied, Catch::Contains("Permission denied"));
    CHECK_THAT(denied, !Catch::Contains("SQLite"));
    // What the service makes there is its own alone (umask 077), whoever owns DATA_DIR.
    const auto others = fs::perms::group_all | fs::perms::others_all;
    CHECK((fs::status(f.data.path / "jobs.db").permissions() & others) == fs::perms::none);
}

TEST_CASE("AGENT_USER: a timeout and a cancel end the agent's processes, as that user",
          "[confinement]") {
    auto user = agent_user();
    if (!user) {
        WARN("not checked: switching users needs root");
        return;
    }
    Fixture f({{"KILL_GRACE_MS", "200"}}, as_agent_user(*user));
    auto timed = f.start_job("x\nFAKE:grandchild=30\nFAKE:sleep=30", {{"timeout_seconds", 2}});
    REQUIRE(eventually([&] { return !f.record.read("grandchild.pid").empty(); }));
    CHECK(owner_of(std::stoi(f.record.read("grandchild.pid"))) == user->uid);
    CHECK(f.wait_job(timed).at("status") == "timeout");
    CHECK(f.no_descendants());

    fs::remove(f.record.path / "pid");
    auto id = f.start_job("x\nFAKE:sleep=30");
    REQUIRE(eventually([&] { return !f.record.read("pid").empty(); }));
    CHECK(owner_of(std::stoi(f.record.read("pid"))) == user->uid);
    CHECK(request(f.port(), "POST", "/jobs/" + id + "/cancel", "", kAuth).status == 200);
    CHECK(f.wait_job(id).at("status") == "cancelled");
    CHECK(f.no_descendants());
}

TEST_CASE("AGENT_USER: the service SIGKILLed mid-run: the restart ends the user's leftovers",
          "[confinement]") {
    auto user = agent_user();
    if (!user) {
        WARN("not checked: switching users needs root");
        return;
    }
    Fixture f({}, as_agent_user(*user));
    auto id = f.start_job("x\nFAKE:grandchild=60\nFAKE:sleep=30");
    REQUIRE(eventually([&] { return !f.record.read("grandchild.pid").empty(); }));
    const pid_t grandchild = std::stoi(f.record.read("grandchild.pid"));
    CHECK(owner_of(grandchild) == user->uid);
    f.restart(SIGKILL);
    // In its own session and re-parented away, running as the agent's user: found by the
    // run's environment marker (the service reads its /proc/PID/environ as root) and ended.
    CHECK(eventually([&] { return !alive(grandchild); }, 2s));
    CHECK_THAT(f.service->log(), Catch::Contains("killed processes left by a previous run"));
    CHECK(f.job(id).at("status") == "interrupted");
}

TEST_CASE("AGENT_USER: git pull runs as that user (git refuses a repository another user owns)",
          "[confinement]") {
    auto user = agent_user();
    if (!user) {
        WARN("not checked: switching users needs root");
        return;
    }
    TempDir remote;
    TempDir scratch;
    Fixture f({{"GIT_SYNC", "required"}}, [&](Fixture& fixture) {
        git(scratch, remote.path, "init -q --bare");
        git(scratch, fixture.workspace.path, "init -q");
        git(scratch, fixture.workspace.path, "commit -q --allow-empty -m first");
        git(scratch, fixture.workspace.path, "remote add origin " + remote.path.string());
        git(scratch, fixture.workspace.path, "push -q -u origin main");
        give_to(*user, remote.path);
        as_agent_user (*user)(fixture);
    });
    auto job = f.wait_job(f.start_job("x"));
    INFO(json::serialize(job));
    CHECK(job.at("git_sync").at("status") == "ok");
    CHECK(job.at("status") == "completed");
}

TEST_CASE("AGENT_USER: a session restored from the store is the user's, and resumes",
          "[confinement]") {
    auto user = agent_user();
    if (!user) {
        WARN("not checked: switching users needs root");
        return;
    }
    Fixture f({}, as_agent_user(*user));
    auto first = f.wait_job(f.start_job("one\nFAKE:turns"));
    REQUIRE(first.at("status") == "completed");
    const std::string session(first.at("session_id").as_string());
    // The CLI's files are gone (a new host, a wiped HOME): the store's copy is written back,
    // with the directories above it, as the user's (umask 077 would make them root's alone).
    fs::remove_all(f.home.path / ".claude");
    auto second = f.wait_job(f.start_job("two\nFAKE:turns", {{"resume", session}}));
    INFO(json::serialize(second));
    CHECK(second.at("status") == "completed");
    CHECK(second.at("result") == "user-turns=2");
    for (auto at = f.home.path / ".claude"; fs::exists(at);) {
        struct stat info {};
        REQUIRE(::stat(at.c_str(), &info) == 0);
        CHECK(info.st_uid == user->uid);
        if (!fs::is_directory(at)) break;
        auto next = fs::directory_iterator(at);
        if (next == fs::directory_iterator()) break;
        at = next->path();
    }
}

TEST_CASE(
    "AGENT_USER: a missing user, an unwritable workspace or a readable DATA_DIR stops "
    "start-up, saying which",
    "[confinement]") {
    auto user = agent_user();
    if (!user) {
        WARN("not checked: switching users needs root");
        return;
    }
    TempDir workspace;
    TempDir home;
    TempDir data;
    give_to(*user, home.path);
    Fixture::Env env{{"CLAUDE_BIN", kFake},
                     {"WORKSPACE_DIR", workspace.path.string()},
                     {"DATA_DIR", data.path.string()},
                     {"GIT_SYNC", "off"},
                     {"AGENT_USER", user->name},
                     {"AGENT_HOME", home.path.string()}};
    SECTION("a user that does not exist") {
        env["AGENT_USER"] = "cas-no-such-user";
        CHECK_THAT(start_failure(env),
                   Catch::Contains("(exit code 2)") &&
                       Catch::Contains("AGENT_USER=cas-no-such-user: no such user"));
    }
    SECTION("a workspace the user cannot write") {
        CHECK_THAT(start_failure(env),
                   Catch::Contains("(exit code 2)") &&
                       Catch::Contains("WORKSPACE_DIR: " + workspace.path.string() +
                                       " is not writable by AGENT_USER=cas-agent"));
    }
    SECTION("a DATA_DIR its group may read") {
        give_to(*user, workspace.path);
        fs::permissions(data.path, fs::perms::group_read | fs::perms::group_exec,
                        fs::perm_options::add);
        CHECK_THAT(start_failure(env),
                   Catch::Contains("(exit code 2)") &&
                       Catch::Contains("DATA_DIR: " + data.path.string() +
                                       " is readable by its group or others (mode 0750)"));
    }
    SECTION("a DATA_DIR the user owns") {
        give_to(*user, workspace.path);
        give_to(*user, data.path);
        CHECK_THAT(start_failure(env), Catch::Contains("(exit code 2)") &&
                                           Catch::Contains("is readable by AGENT_USER=cas-agent"));
    }
    SECTION("a CLI the user cannot run") {
        give_to(*user, workspace.path);
        TempDir private_bin;  // 0700, root's
        fs::copy_file(kFake, private_bin.path / "claude");
        env["CLAUDE_BIN"] = (private_bin.path / "claude").string();
        CHECK_THAT(start_failure(env),
                   Catch::Contains("(exit code 2)") &&
                       Catch::Contains("CLAUDE_BIN: " + env["CLAUDE_BIN"] +
                                       " is not executable by AGENT_USER=cas-agent"));
    }
    SECTION("a service without the capabilities to switch users") {
        give_to(*user, workspace.path);
        TempDir bin;
        auto wrapper = bin.script("service", "exec setpriv --bounding-set=-setuid,-setgid,-kill '" +
                                                 std::string(CAS_SERVICE_BINARY) + "' \"$@\"");
        ::setenv("CAS_TEST_SERVICE_BINARY", wrapper.c_str(), 1);  // NOLINT(concurrency-mt-unsafe)
        auto failure = start_failure(env);
        ::unsetenv("CAS_TEST_SERVICE_BINARY");  // NOLINT(concurrency-mt-unsafe)
        CHECK_THAT(failure, Catch::Contains("(exit code 2)") &&
                                Catch::Contains("must run as root or with CAP_SETUID, CAP_SETGID "
                                                "and CAP_KILL (missing: CAP_KILL, CAP_SETGID, "
                                                "CAP_SETUID)"));
    }
    SECTION("everything as it should be: it starts") {
        give_to(*user, workspace.path);
        CHECK(start_failure(env) == "started");
    }
}

TEST_CASE(
    "AGENT_SANDBOX=bwrap: no job store, a read-only /, the box's own /proc, runs still "
    "end whole",
    "[confinement]") {
    if (!has_bwrap()) {
        WARN("not checked: bwrap is not installed (Debian: bubblewrap)");
        return;
    }
    auto user = agent_user();
    const bool with_user = GENERATE(false, true);
    if (with_user && !user) {
        WARN("not checked with AGENT_USER: switching users needs root");
        return;
    }
    INFO((with_user ? "with AGENT_USER" : "as the service's user"));
    Fixture f({{"AGENT_SANDBOX", "bwrap"}, {"KILL_GRACE_MS", "200"}}, [&](Fixture& fixture) {
        if (with_user) as_agent_user (*user)(fixture);
        // The fake CLI writes its records outside the workspace, and may itself be under
        // /tmp (a checkout there), which the box hides.
        fixture.env["AGENT_SANDBOX_EXTRA"] =
            "rw:" + fixture.record.path.string() + ",ro:" CAS_FIXTURES_DIR;
    });
    const auto database = f.data.path / "jobs.db";
    CHECK(shell(f, "ls -A " + f.data.path.string()) == "exit=0 ");
    CHECK(shell(f, "test -e " + database.string() + " && echo there || echo gone") ==
          "exit=0 gone\n");
    auto read_only = shell(f, "touch /usr/cas-sandbox-probe");
    CHECK_THAT(read_only, Catch::Contains("Read-only file system"));
    CHECK_FALSE(fs::exists("/usr/cas-sandbox-probe"));
    CHECK(shell(f, "touch made-inside && echo made") == "exit=0 made\n");
    CHECK(fs::exists(f.workspace.path / "made-inside"));

    // Only the box's processes: a handful, the service not among them.
    std::istringstream listing(shell(f, "ls /proc"));
    std::vector<std::string> pids;
    for (std::string entry; listing >> entry;) {
        if (std::all_of(entry.begin(), entry.end(),
                        [](unsigned char c) { return std::isdigit(c); })) {
            pids.push_back(entry);
        }
    }
    CHECK(pids.size() <= 6);
    CHECK(std::find(pids.begin(), pids.end(), std::to_string(f.service->pid())) == pids.end());

    auto timed = f.start_job("x\nFAKE:grandchild=30\nFAKE:sleep=30", {{"timeout_seconds", 2}});
    auto ended = f.wait_job(timed);
    INFO(json::serialize(ended));
    INFO((ended.at("status") == "timeout" ? "" : "the service's log:\n" + f.service->log()));
    CHECK(ended.at("status") == "timeout");
    CHECK(f.no_descendants());
}

TEST_CASE("AGENT_SANDBOX=bwrap that cannot make its box stops start-up: never unsandboxed",
          "[confinement]") {
    TempDir bin;
    bin.script("bwrap", "echo 'bwrap: No permissions to creating new namespace' >&2; exit 1");
    TempDir workspace;
    TempDir home;
    Fixture::Env env{{"CLAUDE_BIN", kFake},        {"WORKSPACE_DIR", workspace.path.string()},
                     {"HOME", home.path.string()}, {"GIT_SYNC", "off"},
                     {"AGENT_SANDBOX", "bwrap"},   {"PATH", bin.path.string() + ":/usr/bin:/bin"}};
    CHECK_THAT(start_failure(env),
               Catch::Contains("(exit code 2)") &&
                   Catch::Contains("--version` cannot run in the sandbox: bwrap: No "
                                   "permissions to creating new namespace"));
    env["PATH"] = "/nowhere";
    CHECK_THAT(start_failure(env), Catch::Contains("AGENT_SANDBOX=bwrap: bwrap is not on PATH"));
    env.erase("PATH");
    env["AGENT_SANDBOX_EXTRA"] = "ro:/no/such/tool";
    if (has_bwrap()) {
        CHECK_THAT(start_failure(env),
                   Catch::Contains("AGENT_SANDBOX_EXTRA: /no/such/tool does not exist"));
        // A CLI the box hides (its private /tmp) is found at start-up, not at the first run.
        env.erase("AGENT_SANDBOX_EXTRA");
        TempDir hidden;
        fs::copy_file(kFake, hidden.path / "claude");
        env["CLAUDE_BIN"] = (hidden.path / "claude").string();
        CHECK_THAT(start_failure(env),
                   Catch::Contains("(exit code 2)") &&
                       Catch::Contains("claude --version` cannot run in the sandbox") &&
                       Catch::Contains("No such file or directory"));
    }
}

}  // namespace cas::test
