#include "agent/confinement.hpp"

#include "agent_user.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <catch2/catch.hpp>

#include <algorithm>

using namespace cas::agent;
using Access = SandboxPath::Access;

namespace {

std::vector<SandboxPath> paths(std::string_view text) {
    auto parsed = parse_sandbox_paths(text);
    INFO(text);
    REQUIRE(std::holds_alternative<std::vector<SandboxPath>>(parsed));
    return std::get<std::vector<SandboxPath>>(parsed);
}

std::string problem(std::string_view text) {
    auto parsed = parse_sandbox_paths(text);
    INFO(text);
    REQUIRE(std::holds_alternative<std::string>(parsed));
    return std::get<std::string>(parsed);
}

// The argument after the first `flag` whose next argument is `value`: whether it is there.
bool has_pair(const std::vector<std::string>& argv, const std::string& flag,
              const std::string& value) {
    for (std::size_t i = 0; i + 1 < argv.size(); ++i) {
        if (argv[i] == flag && argv[i + 1] == value) return true;
    }
    return false;
}

std::ptrdiff_t position(const std::vector<std::string>& argv, const std::string& value) {
    return std::find(argv.begin(), argv.end(), value) - argv.begin();
}

}  // namespace

TEST_CASE("AGENT_SANDBOX_EXTRA: read-only, writable and hidden absolute paths") {
    CHECK(paths("").empty());
    CHECK(paths("ro:/opt/tools,rw:/var/cache/tool/,hide:/etc/secrets") ==
          std::vector<SandboxPath>{{Access::read_only, "/opt/tools"},
                                   {Access::writable, "/var/cache/tool"},
                                   {Access::hidden, "/etc/secrets"}});
    CHECK_THAT(problem("/opt/tools"), Catch::Contains("entry 1 must start with ro:, rw: or hide:"));
    CHECK_THAT(problem("ro:/a,mount:/b"), Catch::Contains("entry 2 must start with"));
    CHECK_THAT(problem("ro:relative/path"), Catch::Contains("not an absolute path"));
    CHECK_THAT(problem("rw:/var/../etc"), Catch::Contains("not an absolute path"));
    CHECK_THAT(problem("rw:/var/./etc"), Catch::Contains("not an absolute path"));
    CHECK_THAT(problem("rw:/var//etc"), Catch::Contains("not an absolute path"));
    CHECK_THAT(problem("ro:"), Catch::Contains("not an absolute path"));
    CHECK_THAT(problem("ro"), Catch::Contains("not an absolute path"));
    CHECK_THAT(problem("rw:/"), Catch::Contains("/ itself"));
    CHECK_THAT(problem(std::string_view("ro:/a\0b", 7)), Catch::Contains("not an absolute path"));
}

TEST_CASE("sandbox: the workspace and home writable over a read-only /, DATA_DIR hidden last") {
    Sandbox sandbox{.bwrap = "/usr/bin/bwrap",
                    .workspace_dir = "/srv/work",
                    .home = "/home/agent",
                    .hidden = {"/var/lib/cas"},
                    .extra = {{Access::read_only, "/opt/tools"}, {Access::hidden, "/etc/cas"}}};
    auto argv = sandbox_command(sandbox, {"claude", "-p", "--verbose"});
    CHECK(argv.front() == "/usr/bin/bwrap");
    for (const char* flag : {"--die-with-parent", "--unshare-pid"}) {
        CHECK(std::find(argv.begin(), argv.end(), flag) != argv.end());
    }
    CHECK(std::find(argv.begin(), argv.end(), "--unshare-net") ==
          argv.end());  // the CLI calls the API
    CHECK(has_pair(argv, "--ro-bind", "/"));
    CHECK(has_pair(argv, "--proc", "/proc"));
    CHECK(has_pair(argv, "--tmpfs", "/tmp"));
    CHECK(has_pair(argv, "--bind", "/srv/work"));
    CHECK(has_pair(argv, "--bind", "/home/agent"));
    CHECK(has_pair(argv, "--ro-bind", "/opt/tools"));
    CHECK(has_pair(argv, "--tmpfs", "/etc/cas"));
    CHECK(has_pair(argv, "--chdir", "/srv/work"));
    // Nothing mounted after a hidden path can show it again.
    CHECK(position(argv, "/var/lib/cas") > position(argv, "/home/agent"));
    CHECK(position(argv, "/var/lib/cas") > position(argv, "/opt/tools"));
    // The command comes whole after "--", so none of its arguments is read as bwrap's.
    auto separator = std::find(argv.begin(), argv.end(), "--");
    REQUIRE(separator != argv.end());
    CHECK(std::vector<std::string>(separator + 1, argv.end()) ==
          std::vector<std::string>{"claude", "-p", "--verbose"});
}

TEST_CASE("confine: git as the agent's user; the CLI also in the sandbox") {
    ProcessLaunch cli{.program = "claude",
                      .args = {"-p"},
                      .working_dir = "/srv/work",
                      .environment = {"HOME=/root", "PATH=/usr/bin", "USER=root"},
                      .run_as = std::nullopt};
    SECTION("no confinement: as it was") {
        CHECK(confine(cli, {}, Confine::user_and_sandbox) == cli);
    }
    Confinement confinement{.run_as = RunAs{.uid = 1234, .gid = 1234, .groups = {1234, 27}},
                            .user_name = "agent",
                            .home = "/home/agent",
                            .sandbox = Sandbox{.bwrap = "/usr/bin/bwrap",
                                               .workspace_dir = "/srv/work",
                                               .home = "/home/agent",
                                               .hidden = {"/var/lib/cas"},
                                               .extra = {}}};
    auto git = confine(cli, confinement, Confine::user);
    CHECK(git.program == "claude");
    CHECK(git.args == cli.args);
    CHECK(git.run_as == confinement.run_as);
    std::sort(git.environment.begin(), git.environment.end());
    CHECK(git.environment == std::vector<std::string>{"HOME=/home/agent", "LOGNAME=agent",
                                                      "PATH=/usr/bin", "USER=agent"});
    auto boxed = confine(cli, confinement, Confine::user_and_sandbox);
    CHECK(boxed.program == "/usr/bin/bwrap");
    CHECK(boxed.run_as == confinement.run_as);
    CHECK(std::vector<std::string>(boxed.args.end() - 2, boxed.args.end()) ==
          std::vector<std::string>{"claude", "-p"});
    CHECK(boxed.working_dir == "/srv/work");
    // The CLI knows it is in bubblewrap: as root it needs no IS_SANDBOX=1 there.
    CHECK(std::count(boxed.environment.begin(), boxed.environment.end(),
                     "CLAUDE_CODE_BUBBLEWRAP=1") == 1);
    CHECK(std::count(git.environment.begin(), git.environment.end(), "CLAUDE_CODE_BUBBLEWRAP=1") ==
          0);
}

TEST_CASE("runner: a child with run_as runs as that user, its groups and no new privileges") {
    auto user = cas::test::agent_user();
    if (!user) {
        WARN("not checked: switching users needs root");
        return;
    }
    boost::asio::io_context io;
    Cancellation cancel(io.get_executor());
    ProcessLaunch launch{
        .program = "/bin/sh",
        .args = {"-c", "id -u; id -G; grep NoNewPrivs /proc/self/status"},
        .working_dir = "/",
        .environment = child_environment({}),
        .run_as = RunAs{.uid = user->uid, .gid = user->gid, .groups = {user->gid}}};
    auto result = boost::asio::co_spawn(io, run_process(launch, ProcessRun{}, cancel),
                                        boost::asio::use_future);
    io.run();
    auto run = result.get();
    CHECK(run.exit_code == 0);
    CHECK(run.out.text ==
          std::to_string(user->uid) + "\n" + std::to_string(user->gid) + "\nNoNewPrivs:\t1\n");
}
