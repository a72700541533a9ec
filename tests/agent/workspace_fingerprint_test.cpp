// The fingerprint against real files: it must change with what the CLI reads at start-up and
// stay put otherwise; head_commit against real repositories made with git.
#include "agent/workspace_fingerprint.hpp"

#include "git_test.hpp"
#include "temp_dir.hpp"

#include <fcntl.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <sys/stat.h>
#include <thread>

using cas::agent::head_commit;
using cas::agent::workspace_fingerprint;
using cas::agent::WorkspaceFingerprint;
using cas::test::git;
using cas::test::TempDir;
namespace fs = std::filesystem;

namespace {

// A workspace and a HOME side by side in one temporary directory.
struct Setup {
    TempDir tmp;
    Setup() {
        tmp.dir("ws");
        tmp.dir("home");
    }
    [[nodiscard]] std::string workspace() const { return (tmp.path / "ws").string(); }
    [[nodiscard]] std::string home() const { return (tmp.path / "home").string(); }
    [[nodiscard]] WorkspaceFingerprint fingerprint() const {
        return workspace_fingerprint(workspace(), home());
    }
};

// Sets the modification time of `path` to `seconds` after the epoch.
void set_mtime(const fs::path& path, long seconds) {
    const timespec times[2] = {{0, UTIME_OMIT}, {seconds, 0}};
    REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
}

std::string commit(const TempDir& tmp, const fs::path& repo, const std::string& message) {
    tmp.write((repo / (message + ".txt")).lexically_relative(tmp.path).string(), message);
    git(tmp, repo, "add -A");
    git(tmp, repo, "commit -q -m " + message);
    return git(tmp, repo, "rev-parse HEAD");
}

}  // namespace

TEST_CASE("fingerprint: an unchanged workspace gives the same value", "[fingerprint]") {
    Setup setup;
    setup.tmp.write("ws/CLAUDE.md", "memory");
    setup.tmp.write("ws/.claude/agents/x.md", "agent");
    setup.tmp.write("home/.claude/settings.json", "{}");
    const auto first = setup.fingerprint();
    CHECK(first.files.find("/ws/.claude/agents/x.md\t") != std::string::npos);
    CHECK(first == setup.fingerprint());
}

TEST_CASE("fingerprint: a workspace agent edited, added or removed changes it", "[fingerprint]") {
    Setup setup;
    const auto agent = setup.tmp.write("ws/.claude/agents/x.md", "aaaa");
    set_mtime(agent, 1'000'000);
    // Let the status-change time (set by the kernel, coarse clock) move on before any edit.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const auto before = setup.fingerprint();

    SECTION("content changed") {
        setup.tmp.write("ws/.claude/agents/x.md", "a longer text");
        CHECK(setup.fingerprint() != before);
    }
    SECTION("same size rewrite, modification time set explicitly") {
        setup.tmp.write("ws/.claude/agents/x.md", "bbbb");
        set_mtime(agent, 1'000'001);
        CHECK(setup.fingerprint() != before);
    }
    SECTION("same size rewrite, modification time put back: the status-change time tells") {
        setup.tmp.write("ws/.claude/agents/x.md", "bbbb");
        set_mtime(agent, 1'000'000);
        CHECK(setup.fingerprint() != before);
    }
    SECTION("same size rewrite after a pause") {
        setup.tmp.write("ws/.claude/agents/x.md", "cccc");
        CHECK(setup.fingerprint() != before);
    }
    SECTION("an agent added") {
        setup.tmp.write("ws/.claude/agents/z.md", "new");
        CHECK(setup.fingerprint() != before);
    }
    SECTION("the agent removed") {
        fs::remove(agent);
        CHECK(setup.fingerprint() != before);
    }
    SECTION("a nested skill file added") {
        setup.tmp.write("ws/.claude/skills/s/SKILL.md", "skill");
        CHECK(setup.fingerprint() != before);
    }
}

TEST_CASE("fingerprint: workspace configuration files change it", "[fingerprint]") {
    Setup setup;
    setup.tmp.dir("ws/.claude");
    const auto before = setup.fingerprint();
    for (const char* name : {"ws/CLAUDE.md", "ws/CLAUDE.local.md", "ws/AGENTS.md", "ws/.mcp.json",
                             "ws/.claude/settings.json", "ws/.claude/settings.local.json"}) {
        SECTION(name) {
            setup.tmp.write(name, "x");
            CHECK(setup.fingerprint() != before);
        }
    }
}

TEST_CASE("fingerprint: a CLAUDE.md edit in the workspace or above it changes it",
          "[fingerprint]") {
    Setup setup;
    setup.tmp.dir("ws/project");
    setup.tmp.write("ws/CLAUDE.md", "one");
    const auto project = (setup.tmp.path / "ws/project").string();
    const auto before = workspace_fingerprint(project, setup.home());
    setup.tmp.write("ws/CLAUDE.md", "one more");
    CHECK(workspace_fingerprint(project, setup.home()) != before);
}

TEST_CASE("fingerprint: files the CLI does not read at start-up leave it alone", "[fingerprint]") {
    Setup setup;
    setup.tmp.write("ws/src/main.c", "int main() {}");
    setup.tmp.write("home/.claude/projects/abc.jsonl", "{}\n");
    setup.tmp.write("home/.claude.json", "{}");
    setup.tmp.write("home/.claude/agents/y.md", "agent");
    const auto before = setup.fingerprint();

    setup.tmp.write("ws/src/main.c", "int main() { return 1; }");
    setup.tmp.write("ws/src/other.c", "");
    setup.tmp.write("home/.claude/projects/abc.jsonl", "{}\n{\"more\":1}\n");
    setup.tmp.write("home/.claude/projects/def.jsonl", "{}\n");
    setup.tmp.write("home/.claude.json", "{\"numStartups\":2}");
    setup.tmp.write("home/.claude/todos/t.json", "[]");
    CHECK(setup.fingerprint() == before);

    // And the same HOME does see a change to what it does read.
    setup.tmp.write("home/.claude/agents/y.md", "another agent");
    CHECK(setup.fingerprint() != before);
}

TEST_CASE("fingerprint: HOME configuration changes it; no HOME skips it", "[fingerprint]") {
    Setup setup;
    const auto before = setup.fingerprint();
    for (const char* name : {"home/.claude/settings.json", "home/.claude/CLAUDE.md",
                             "home/.claude/commands/c.md", "home/.claude/rules/r.md"}) {
        SECTION(name) {
            setup.tmp.write(name, "x");
            CHECK(setup.fingerprint() != before);
            CHECK(workspace_fingerprint(setup.workspace(), "") ==
                  workspace_fingerprint(setup.workspace(), ""));
            CHECK(workspace_fingerprint(setup.workspace(), "").files.find("/home/") ==
                  std::string::npos);
        }
    }
}

TEST_CASE("fingerprint: a dangling symlink is recorded, and its target appearing changes it",
          "[fingerprint]") {
    Setup setup;
    setup.tmp.dir("ws/.claude/agents");
    fs::create_symlink(setup.tmp.path / "shared/a.md", setup.tmp.path / "ws/.claude/agents/a.md");
    const auto before = setup.fingerprint();
    CHECK(before.files.find("/ws/.claude/agents/a.md\tdangling\t") != std::string::npos);
    setup.tmp.write("shared/a.md", "agent");
    const auto after = setup.fingerprint();
    CHECK(after != before);
    CHECK(after.files.find("dangling") == std::string::npos);
}

TEST_CASE("fingerprint: a tree past the bound gets a marker and stays deterministic",
          "[fingerprint]") {
    Setup setup;
    const auto skills = setup.tmp.dir("ws/.claude/skills");
    for (int i = 0; i < 4100; ++i) std::ofstream(skills / ("s" + std::to_string(i)));
    const auto first = setup.fingerprint();
    CHECK(first.files.find("/ws/.claude\ttoo-many-entries\n") != std::string::npos);
    CHECK(first == setup.fingerprint());
}

TEST_CASE("fingerprint: symlinked directories that loop end at the depth bound", "[fingerprint]") {
    Setup setup;
    setup.tmp.dir("ws/.claude/skills");
    fs::create_directory_symlink("..", setup.tmp.path / "ws/.claude/skills/loop");
    const auto first = setup.fingerprint();
    CHECK(first.files.find("\ttoo-deep\n") != std::string::npos);
    CHECK(first == setup.fingerprint());
}

TEST_CASE("head_commit: reads HEAD the way git resolves it", "[fingerprint]") {
    TempDir tmp;
    const auto repo = tmp.dir("repo");
    git(tmp, repo, "init -q");

    SECTION("an unborn branch") {
        CHECK(head_commit(repo.string()) == "unresolved:refs/heads/main");
    }
    SECTION("a commit, then another, then packed refs") {
        const auto first = commit(tmp, repo, "first");
        CHECK(head_commit(repo.string()) == first);
        const auto second = commit(tmp, repo, "second");
        CHECK(second != first);
        CHECK(head_commit(repo.string()) == second);
        git(tmp, repo, "pack-refs --all");
        REQUIRE_FALSE(fs::exists(repo / ".git/refs/heads/main"));
        CHECK(head_commit(repo.string()) == second);
        // From a directory inside the repository, as git finds it.
        CHECK(head_commit(tmp.dir("repo/src/deep").string()) == second);
    }
    SECTION("a detached HEAD") {
        const auto first = commit(tmp, repo, "first");
        commit(tmp, repo, "second");
        git(tmp, repo, "checkout -q --detach " + first);
        CHECK(head_commit(repo.string()) == first);
    }
    SECTION("a linked worktree") {
        const auto first = commit(tmp, repo, "first");
        git(tmp, repo, "worktree add -q -b other ../wt");
        const auto worktree = tmp.path / "wt";
        REQUIRE(fs::is_regular_file(worktree / ".git"));
        CHECK(head_commit(worktree.string()) == first);
        const auto on_other = commit(tmp, worktree, "on-other");
        CHECK(head_commit(worktree.string()) == on_other);
        CHECK(head_commit(worktree.string()) == git(tmp, worktree, "rev-parse HEAD"));
        CHECK(head_commit(repo.string()) == first);
        git(tmp, repo, "pack-refs --all");
        CHECK(head_commit(worktree.string()) == on_other);
    }
    SECTION("a .git file pointing at a relative gitdir, as a submodule has") {
        const auto first = commit(tmp, repo, "first");
        fs::rename(repo / ".git", tmp.path / "store.git");
        tmp.write("repo/.git", "gitdir: ../store.git\n");
        CHECK(head_commit(repo.string()) == first);
    }
    SECTION("the fingerprint follows HEAD") {
        commit(tmp, repo, "first");
        const auto before = workspace_fingerprint(repo.string(), "");
        CHECK(before.head == head_commit(repo.string()));
        commit(tmp, repo, "second");
        CHECK(workspace_fingerprint(repo.string(), "") != before);
    }
}

TEST_CASE("head_commit: not a repository, or no such directory", "[fingerprint]") {
    TempDir tmp;
    CHECK(head_commit(tmp.path.string()).empty());
    CHECK(head_commit((tmp.path / "missing").string()).empty());
    CHECK(workspace_fingerprint((tmp.path / "missing").string(), "").files.find("unresolvable") !=
          std::string::npos);
}
