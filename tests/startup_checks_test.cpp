// The start-up checks on temporary directories: which CLI is chosen, one warning per missing
// piece naming its setting (and none when everything is there), what counts as credentials,
// and the `--version` probe's answers, failures and time limit with small shell-script CLIs.
#include "startup_checks.hpp"

#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

namespace fs = std::filesystem;
using cas::StartupCheckInput;
using cas::StartupWarning;

using cas::test::TempDir;

namespace {

cas::EnvLookup lookup(std::map<std::string, std::string> env) {
    return [env = std::move(env)](const std::string& name) -> std::optional<std::string> {
        auto it = env.find(name);
        if (it == env.end()) return std::nullopt;
        return it->second;
    };
}

std::vector<std::string> settings_of(const std::vector<StartupWarning>& warnings) {
    std::vector<std::string> out;
    for (const auto& w : warnings) out.push_back(w.setting);
    return out;
}

// A machine where a run has everything: a CLI, a checkout, a key.
struct Ready {
    TempDir tmp;
    StartupCheckInput input;
    std::map<std::string, std::string> env;
    Ready() {
        input.claude_bin = tmp.script("bin/claude", "echo '1.0 (fake)'").string();
        input.workspace_dir = tmp.dir("ws").string();
        tmp.dir("ws/.git");
        env = {{"PATH", "/usr/bin:/bin"},
               {"HOME", tmp.dir("home").string()},
               {"ANTHROPIC_API_KEY", "sk-test"}};
    }
    [[nodiscard]] std::vector<std::string> warned() const {
        return settings_of(cas::startup_warnings(input, lookup(env)));
    }
};

using Settings = std::vector<std::string>;

}  // namespace

TEST_CASE("startup: find_on_path takes the first executable regular file") {
    TempDir tmp;
    auto a = tmp.dir("a");
    auto b = tmp.dir("b");
    auto c = tmp.dir("c");
    tmp.write("a/claude", "not executable");
    tmp.dir("b/claude");  // a directory of that name is skipped too
    auto good = tmp.script("c/claude", "exit 0");
    auto path = a.string() + ":" + b.string() + ":" + c.string();
    CHECK(cas::find_on_path("claude", path) == good.string());
    CHECK(cas::find_on_path("claude", a.string()).empty());
    CHECK(cas::find_on_path("nothing-by-this-name", path).empty());
}

TEST_CASE("startup: the CLI is CLAUDE_BIN if given, else claude on PATH, else the installed one") {
    TempDir tmp;
    auto on_path = tmp.script("path/claude", "exit 0");
    auto installed = tmp.script("prefix/node_modules/.bin/claude", "exit 0");
    auto path_dir = on_path.parent_path().string();
    auto missing = (tmp.path / "nowhere/claude").string();

    // Given explicitly: as given, even when it does not exist (the warning says so).
    CHECK(cas::resolve_claude_bin("/opt/claude", path_dir, installed.string()) == "/opt/claude");
    CHECK(cas::resolve_claude_bin("claude", "/nonexistent", installed.string()) == "claude");
    CHECK(cas::resolve_claude_bin(std::nullopt, path_dir, installed.string()) == on_path.string());
    CHECK(cas::resolve_claude_bin(std::nullopt, "/nonexistent", installed.string()) ==
          installed.string());
    CHECK(cas::resolve_claude_bin(std::nullopt, "/nonexistent", missing) == "claude");
    CHECK(cas::kInstalledClaudeBin ==
          "/usr/local/lib/claude-agent-service/claude-code/node_modules/.bin/claude");
}

TEST_CASE("startup: no warning when a run has everything") {
    Ready ready;
    CHECK(ready.warned().empty());
    ready.input.workspace_dir = ready.tmp.dir("ws/deep/inside").string();  // git looks upwards
    CHECK(ready.warned().empty());
    ready.input.as_root = true;
    ready.env["IS_SANDBOX"] = "1";
    CHECK(ready.warned().empty());
}

TEST_CASE("startup: a missing or unrunnable CLI is one CLAUDE_BIN warning") {
    Ready ready;
    auto only = [&] {
        auto warnings = cas::startup_warnings(ready.input, lookup(ready.env));
        REQUIRE(settings_of(warnings) == Settings{"CLAUDE_BIN"});
        return warnings.front().message;
    };
    ready.input.claude_bin = (ready.tmp.path / "missing/claude").string();
    CHECK_THAT(only(), Catch::Contains("CLAUDE_BIN=" + ready.input.claude_bin) &&
                           Catch::Contains("does not exist"));

    ready.input.claude_bin = ready.tmp.write("bin/plain", "text").string();
    CHECK_THAT(only(), Catch::Contains("not an executable file"));

    ready.input.claude_bin = ready.tmp.dir("bin/adir").string();
    CHECK_THAT(only(), Catch::Contains("not an executable file"));

    // The default name, found nowhere: the message says where install-deps.sh would put it.
    ready.input.claude_bin = "claude";
    ready.env["PATH"] = ready.tmp.dir("emptybin").string();
    CHECK_THAT(only(), Catch::Contains("not on PATH") &&
                           Catch::Contains(std::string(cas::kInstalledClaudeBin)) &&
                           Catch::Contains("scripts/install-deps.sh"));

    // A name on PATH is fine.
    ready.env["PATH"] = (ready.tmp.path / "bin").string();
    CHECK(ready.warned().empty());
}

TEST_CASE("startup: WORKSPACE_DIR missing, not a directory, or not a git checkout") {
    Ready ready;
    auto message = [&] {
        auto warnings = cas::startup_warnings(ready.input, lookup(ready.env));
        REQUIRE(settings_of(warnings) == Settings{"WORKSPACE_DIR"});
        return warnings.front().message;
    };
    ready.input.workspace_dir = (ready.tmp.path / "no-such-dir").string();
    CHECK_THAT(message(), Catch::Contains("WORKSPACE_DIR=" + ready.input.workspace_dir) &&
                              Catch::Contains("does not exist"));

    ready.input.workspace_dir = ready.tmp.write("a-file", "x").string();
    CHECK_THAT(message(), Catch::Contains("not a directory"));

    ready.input.workspace_dir = ready.tmp.dir("plain").string();
    CHECK_THAT(message(),
               Catch::Contains("not in a git checkout") && Catch::Contains("GIT_SYNC=off"));
    ready.input.git_sync = false;  // nothing pulls it, so any directory will do
    CHECK(ready.warned().empty());

    // A worktree or submodule has a .git file, not a directory.
    ready.input.git_sync = true;
    ready.input.workspace_dir = ready.tmp.dir("worktree").string();
    ready.tmp.write("worktree/.git", "gitdir: /elsewhere\n");
    CHECK(ready.warned().empty());
}

TEST_CASE("startup: credentials from the environment or the CLI's home") {
    Ready ready;
    ready.env.erase("ANTHROPIC_API_KEY");
    REQUIRE(ready.warned() == Settings{"ANTHROPIC_API_KEY"});
    CHECK_THAT(cas::startup_warnings(ready.input, lookup(ready.env)).front().message,
               Catch::Contains("ANTHROPIC_API_KEY") && Catch::Contains(".credentials.json"));

    SECTION("a key, token or OAuth token variable") {
        for (const char* name :
             {"ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN"}) {
            ready.env[name] = "";
            CHECK(ready.warned() == Settings{"ANTHROPIC_API_KEY"});  // empty is not a key
            ready.env[name] = "secret";
            CHECK(ready.warned().empty());
            ready.env.erase(name);
        }
    }
    SECTION("a cloud-provider switch, read as the CLI reads it") {
        ready.env["CLAUDE_CODE_USE_BEDROCK"] = "0";
        CHECK(ready.warned() == Settings{"ANTHROPIC_API_KEY"});
        ready.env["CLAUDE_CODE_USE_BEDROCK"] = "1";
        CHECK(ready.warned().empty());
        ready.env.erase("CLAUDE_CODE_USE_BEDROCK");
        ready.env["CLAUDE_CODE_USE_VERTEX"] = "True";
        CHECK(ready.warned().empty());
    }
    SECTION("the login's ~/.claude/.credentials.json") {
        ready.tmp.write("home/.claude/.credentials.json", "");
        CHECK(ready.warned() == Settings{"ANTHROPIC_API_KEY"});  // empty: no login in it
        ready.tmp.write("home/.claude/.credentials.json", R"({"claudeAiOauth":{}})");
        CHECK(ready.warned().empty());
    }
    SECTION("a primaryApiKey in ~/.claude.json") {
        ready.tmp.write("home/.claude.json", R"({"primaryApiKey":""})");
        CHECK(ready.warned() == Settings{"ANTHROPIC_API_KEY"});
        ready.tmp.write("home/.claude.json", "not json");
        CHECK(ready.warned() == Settings{"ANTHROPIC_API_KEY"});
        ready.tmp.write("home/.claude.json", R"({"numStartups":3,"primaryApiKey":"sk-x"})");
        CHECK(ready.warned().empty());
    }
    SECTION("an apiKeyHelper in ~/.claude/settings.json") {
        ready.tmp.write("home/.claude/settings.json", R"({"apiKeyHelper":"/usr/bin/get-key"})");
        CHECK(ready.warned().empty());
    }
    SECTION("CLAUDE_CONFIG_DIR moves the CLI's home, .claude.json included") {
        ready.tmp.write("home/.claude/.credentials.json", R"({"claudeAiOauth":{}})");
        ready.env["CLAUDE_CONFIG_DIR"] = ready.tmp.dir("config").string();
        CHECK(ready.warned() == Settings{"ANTHROPIC_API_KEY"});
        ready.tmp.write("config/.claude.json", R"({"primaryApiKey":"sk-x"})");
        CHECK(ready.warned().empty());
    }
}

TEST_CASE("startup: as root the CLI needs IS_SANDBOX=1") {
    Ready ready;
    ready.input.as_root = true;
    auto warnings = cas::startup_warnings(ready.input, lookup(ready.env));
    REQUIRE(settings_of(warnings) == Settings{"IS_SANDBOX"});
    CHECK_THAT(warnings.front().message, Catch::Contains("IS_SANDBOX=1"));
    ready.env["IS_SANDBOX"] = "true";  // the CLI accepts only "1"
    CHECK(ready.warned() == Settings{"IS_SANDBOX"});
    ready.env.erase("IS_SANDBOX");
    ready.env["CLAUDE_CODE_BUBBLEWRAP"] = "1";
    CHECK(ready.warned().empty());
}

TEST_CASE("startup: every piece missing gives one warning each, in a fixed order") {
    TempDir tmp;
    StartupCheckInput input{.claude_bin = (tmp.path / "claude").string(),
                            .workspace_dir = (tmp.path / "ws").string(),
                            .git_sync = true,
                            .as_root = true};
    CHECK(settings_of(cas::startup_warnings(input, lookup({{"HOME", tmp.path.string()}}))) ==
          Settings{"CLAUDE_BIN", "WORKSPACE_DIR", "ANTHROPIC_API_KEY", "IS_SANDBOX"});
}

TEST_CASE("startup: probe_cli runs --version and reports what went wrong") {
    using namespace std::chrono_literals;
    TempDir tmp;
    SECTION("a working CLI: its first line") {
        auto cli = tmp.script("claude", R"(test "$1" = --version || exit 9
echo '2.1.330 (Claude Code)'
echo 'second line')");
        auto probe = cas::probe_cli(cli.string(), 5s);
        CHECK_FALSE(probe.warning);
        CHECK(probe.version == "2.1.330 (Claude Code)");
    }
    SECTION("a failing CLI: its exit code and what it said, on stdout or stderr") {
        auto cli = tmp.script("claude", "echo 'postinstall did not run' >&2; exit 3");
        auto probe = cas::probe_cli(cli.string(), 5s);
        REQUIRE(probe.warning);
        CHECK(probe.warning->setting == "CLAUDE_BIN");
        CHECK_THAT(probe.warning->message,
                   Catch::Contains("exited with 3: postinstall did not run"));
    }
    SECTION("a CLI killed by a signal") {
        auto cli = tmp.script("claude", "kill -9 $$");
        auto probe = cas::probe_cli(cli.string(), 5s);
        REQUIRE(probe.warning);
        CHECK_THAT(probe.warning->message, Catch::Contains("killed by signal 9"));
    }
    SECTION("a CLI that hangs is killed at the limit") {
        auto cli = tmp.script("claude", "exec sleep 30");
        auto started = std::chrono::steady_clock::now();
        auto probe = cas::probe_cli(cli.string(), 300ms);
        CHECK(std::chrono::steady_clock::now() - started < 3s);
        REQUIRE(probe.warning);
        CHECK_THAT(probe.warning->message, Catch::Contains("did not finish within 300 ms"));
    }
    SECTION("a file that cannot be executed") {
        auto cli = tmp.write("claude", "#!/nonexistent/interpreter\n", fs::perms::owner_all);
        auto probe = cas::probe_cli(cli.string(), 5s);
        REQUIRE(probe.warning);
        CHECK_THAT(probe.warning->message, Catch::Contains("could not start"));
    }
}

TEST_CASE("startup: check_startup probes the CLI only when it was found") {
    using namespace std::chrono_literals;
    Ready ready;
    auto report = cas::check_startup(ready.input, lookup(ready.env), 5s);
    CHECK(report.warnings.empty());
    CHECK(report.cli_path == ready.input.claude_bin);
    CHECK(report.cli_version == "1.0 (fake)");

    ready.tmp.script("bin/claude", "exit 1");
    report = cas::check_startup(ready.input, lookup(ready.env), 5s);
    CHECK(settings_of(report.warnings) == Settings{"CLAUDE_BIN"});
    CHECK(report.cli_version.empty());

    ready.input.claude_bin = (ready.tmp.path / "missing").string();
    report = cas::check_startup(ready.input, lookup(ready.env), 5s);
    CHECK(settings_of(report.warnings) == Settings{"CLAUDE_BIN"});
    CHECK(report.cli_path.empty());
}
