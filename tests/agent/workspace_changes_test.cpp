// What a job's run did to its workspace: git's -z outputs parsed, the list merged and bounded,
// the record's JSON (whole and in listings, through the job record and back); then the git
// commands against real repositories made in temporary directories, names with any byte in
// them, a repository without a commit, no repository, and a deadline that has passed.
#include "agent/workspace_changes.hpp"

#include "agent/workspace_capture.hpp"
#include "coroutine_test.hpp"
#include "git_test.hpp"
#include "jobs/job.hpp"
#include "jobs/job_state.hpp"
#include "temp_dir.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <string>
#include <vector>

using cas::agent::ChangedFile;
using cas::agent::WorkspaceChanges;
using cas::test::git;
using cas::test::TempDir;
using namespace std::string_literals;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace cas::agent {

// For Catch's messages.
std::ostream& operator<<(std::ostream& out, const ChangedFile& file) {
    return out << '{' << file.path << ", " << file.status << '}';
}

}  // namespace cas::agent

namespace {

std::vector<ChangedFile> files(std::initializer_list<std::pair<const char*, const char*>> list) {
    std::vector<ChangedFile> out;
    for (const auto& [path, status] : list) out.push_back({path, status});
    return out;
}

}  // namespace

TEST_CASE("workspace: git diff --name-status -z is read entry by entry", "[workspace]") {
    using cas::agent::parse_name_status;
    const auto output = "M\0a.txt\0A\0dir/new file\0D\0gone\0T\0link\0U\0both\0X\0odd\0"s;
    CHECK(parse_name_status(output) == files({{"a.txt", "modified"},
                                              {"dir/new file", "added"},
                                              {"gone", "deleted"},
                                              {"link", "type_changed"},
                                              {"both", "unmerged"},
                                              {"odd", "modified"}}));
    SECTION("renames and copies, which --no-renames should not give, still read right") {
        CHECK(parse_name_status("R087\0old\0new\0C100\0src\0copy\0M\0z\0"s) ==
              files({{"old", "deleted"}, {"new", "added"}, {"copy", "added"}, {"z", "modified"}}));
    }
    SECTION("an entry cut short by the output cap is left out") {
        CHECK(parse_name_status("M\0a\0A\0par"s) == files({{"a", "modified"}}));
        CHECK(parse_name_status("M\0a\0A\0"s) == files({{"a", "modified"}}));
        CHECK(parse_name_status("R100\0old\0"s).empty());
        CHECK(parse_name_status("").empty());
    }
    SECTION("any byte but NUL is part of a path") {
        CHECK(parse_name_status("A\0line\nbreak \"q\" \\ \t\xff\0"s) ==
              files({{"line\nbreak \"q\" \\ \t\xff", "added"}}));
    }
}

TEST_CASE("workspace: git status --porcelain=v2 -z gives dirty and the untracked files",
          "[workspace]") {
    using cas::agent::parse_porcelain_v2;
    const auto hash = std::string(40, 'a');
    SECTION("a clean tree (headers and ignored files do not count)") {
        CHECK_FALSE(parse_porcelain_v2("").dirty);
        auto clean = parse_porcelain_v2("# branch.oid " + hash + "\0! build/out\0"s);
        CHECK_FALSE(clean.dirty);
        CHECK(clean.untracked.empty());
    }
    SECTION("changed, renamed, unmerged and untracked entries") {
        const auto output = "1 .M N... 100644 100644 100644 " + hash + " " + hash + " b\0"s +
                            "2 R. N... 100644 100644 100644 " + hash + " " + hash +
                            " R100 new\0? looks untracked\0"s + "? dir/x\0? we\nird\xff\0"s;
        auto status = parse_porcelain_v2(output);
        CHECK(status.dirty);
        // The renamed entry's original path is not taken for an untracked file.
        CHECK(status.untracked == std::vector<std::string>{"dir/x", "we\nird\xff"});
    }
    SECTION("only a change to a tracked file, or only an untracked file") {
        CHECK(parse_porcelain_v2("1 M. N... 100644 100644 100644 " + hash + " " + hash + " b\0"s)
                  .dirty);
        CHECK(parse_porcelain_v2("u UU N... 100644 100644 100644 100644 " + hash + " " + hash +
                                 " " + hash + " c\0"s)
                  .dirty);
        auto untracked = parse_porcelain_v2("? new\0"s);
        CHECK(untracked.dirty);
        CHECK(untracked.untracked == std::vector<std::string>{"new"});
    }
}

TEST_CASE("workspace: the list is merged, sorted, bounded and valid UTF-8", "[workspace]") {
    WorkspaceChanges changes;
    SECTION("tracked and untracked files, one entry a path, in byte order") {
        cas::agent::set_changed_files(
            changes,
            files({{"b", "modified"}, {"\xc3\xa9t\xc3\xa9", "added"}, {"kept", "deleted"}}),
            {"a", "kept", "z"}, false);
        CHECK(changes.changed_files == files({{"a", "untracked"},
                                              {"b", "modified"},
                                              {"kept", "untracked"},
                                              {"z", "untracked"},
                                              {"\xc3\xa9t\xc3\xa9", "added"}}));
        CHECK(changes.changed_count == 5);
        CHECK_FALSE(changes.truncated);
    }
    SECTION("past the limit: the first ones, the count of all, truncated") {
        std::vector<std::string> untracked;
        for (int i = 0; i < 12; ++i) untracked.push_back("f" + std::to_string(100 + i));
        cas::agent::set_changed_files(changes, {}, untracked, false, 10);
        REQUIRE(changes.changed_files.size() == 10);
        CHECK(changes.changed_files.back().path == "f109");
        CHECK(changes.changed_count == 12);
        CHECK(changes.truncated);
        cas::agent::set_changed_files(changes, {}, untracked, false);
        CHECK(changes.changed_files.size() == 12);
        CHECK_FALSE(changes.truncated);
    }
    SECTION("git's output cut at its cap is truncated too") {
        cas::agent::set_changed_files(changes, files({{"a", "added"}}), {}, true);
        CHECK(changes.changed_count == 1);
        CHECK(changes.truncated);
    }
    SECTION("a name that is not UTF-8 is repaired, and its JSON is valid") {
        cas::agent::set_changed_files(changes, {}, {"bad\xff\xfe.txt", "tab\tnew\nline"}, false);
        REQUIRE(changes.changed_files.size() == 2);
        CHECK(changes.changed_files[0].path == "bad\xef\xbf\xbd\xef\xbf\xbd.txt");
        auto text = json::serialize(cas::agent::to_json(changes));
        auto back = json::parse(text);
        CHECK(back.at("changed_files").at(1).at("path") == "tab\tnew\nline");
    }
}

TEST_CASE("workspace: the record's JSON, whole and in listings", "[workspace]") {
    WorkspaceChanges changes;
    changes.head_before = std::string(40, '1');
    changes.head_after = std::string(40, '2');
    changes.dirty = true;
    cas::agent::set_changed_files(changes, files({{"src/a.cpp", "modified"}}), {"notes.md"}, false);
    const auto value = cas::agent::to_json(changes);
    CHECK(value == json::parse(R"({"head_before": "1111111111111111111111111111111111111111",
                                   "head_after": "2222222222222222222222222222222222222222",
                                   "changed_files": [{"path": "notes.md", "status": "untracked"},
                                                     {"path": "src/a.cpp", "status": "modified"}],
                                   "changed_count": 2, "dirty": true, "truncated": false,
                                   "error": null})"));
    SECTION("an error, with what could not be read null") {
        WorkspaceChanges failed;
        failed.error = "git rev-parse HEAD failed: fatal: not a git repository";
        CHECK(cas::agent::to_json(failed) ==
              json::parse(R"({"head_before": null, "head_after": null, "changed_files": [],
                              "changed_count": 0, "dirty": null, "truncated": false,
                              "error": "git rev-parse HEAD failed: fatal: not a git repository"})"));
    }
    SECTION("through a job's record: apply_outcome, to_json, to_summary_json, job_from_json") {
        cas::jobs::Job job;
        job.id = "0123456789ab";
        job.created_at = "2026-01-02T03:04:05.000000+00:00";
        CHECK(cas::jobs::to_json(job).at("workspace").is_null());
        cas::agent::AgentOutcome outcome;
        outcome.status = cas::agent::RunStatus::completed;
        outcome.workspace = changes;
        cas::jobs::apply_outcome(job, outcome, "2026-01-02T03:04:06.000000+00:00");
        CHECK(cas::jobs::to_json(job).at("workspace") == value);
        auto summary = cas::jobs::to_summary_json(job).at("workspace").as_object();
        CHECK_FALSE(summary.contains("changed_files"));
        CHECK(summary.at("changed_count") == 2);
        CHECK(summary.at("head_after") == value.at("head_after"));
        CHECK(summary.at("dirty") == true);
        CHECK(summary.at("truncated") == false);
        auto read = cas::jobs::job_from_json(cas::jobs::to_json(job));
        CHECK(read.workspace == value);
        // A record stored before the field existed reads as not recorded.
        auto old = cas::jobs::to_json(job);
        old.as_object().erase("workspace");
        CHECK(cas::jobs::job_from_json(old).workspace.is_null());
    }
}

namespace {

// A repository in its own temporary directory (the git helper's output goes to another).
struct Repo {
    TempDir dir;
    TempDir scratch;
    boost::asio::io_context io;
    std::chrono::steady_clock::duration allowed = std::chrono::seconds(10);

    void command(const std::string& args) { git(scratch, dir.path, args); }
    std::string head() { return git(scratch, dir.path, "rev-parse HEAD"); }
    void write(const std::string& name, const std::string& text) const {
        std::ofstream(dir.path / name, std::ios::binary) << text;
    }
    std::string commit_all(const std::string& message) {
        command("add -A");
        command("commit -q -m " + message);
        return head();
    }
    [[nodiscard]] cas::agent::GitContext context() const {
        return {.workspace_dir = dir.path.string(),
                .environment = cas::agent::git_environment({}, {"GIT_OPTIONAL_LOCKS=0"}),
                .deadline = std::chrono::steady_clock::now() + allowed,
                .confinement = {}};
    }
    WorkspaceChanges before() {
        cas::agent::Cancellation cancel(io.get_executor());
        return cas::test::run_coroutine_test(io, cas::agent::workspace_before(context(), cancel));
    }
    WorkspaceChanges after(WorkspaceChanges from) {
        cas::agent::Cancellation cancel(io.get_executor());
        return cas::test::run_coroutine_test(
            io, cas::agent::workspace_after(std::move(from), context(), cancel));
    }
};

}  // namespace

TEST_CASE("workspace: against a real repository", "[workspace][git]") {
    Repo repo;
    repo.command("init -q");
    repo.write("kept.txt", "kept\n");
    repo.write("edited.txt", "one\n");
    repo.write("removed.txt", "bye\n");
    repo.write(".gitignore", "*.log\n");
    const auto first = repo.commit_all("first");
    auto before = repo.before();
    CHECK(before.head_before == first);
    CHECK_FALSE(before.error);

    SECTION("changes left uncommitted: HEAD stays, the tree is dirty") {
        repo.write("edited.txt", "two\n");
        fs::remove(repo.dir.path / "removed.txt");
        fs::create_directories(repo.dir.path / "new dir/deeper");
        repo.write("new dir/deeper/made.txt", "x");
        repo.write("quote\"tab\tnewline\n.txt", "x");
        repo.write("latin1-\xe9.txt", "x");
        repo.write("ignored.log", "not listed");
        auto after = repo.after(before);
        CHECK_FALSE(after.error);
        CHECK(after.head_before == first);
        CHECK(after.head_after == first);
        CHECK(after.dirty == true);
        CHECK_FALSE(after.truncated);
        CHECK(after.changed_files == files({{"edited.txt", "modified"},
                                            {"latin1-\xef\xbf\xbd.txt", "untracked"},
                                            {"new dir/deeper/made.txt", "untracked"},
                                            {"quote\"tab\tnewline\n.txt", "untracked"},
                                            {"removed.txt", "deleted"}}));
        CHECK(after.changed_count == 5);
        CHECK(json::parse(json::serialize(cas::agent::to_json(after))).is_object());
    }
    SECTION("changes committed: HEAD moved, the tree is clean, the files are listed") {
        repo.write("edited.txt", "two\n");
        repo.write("added.txt", "new\n");
        const auto second = repo.commit_all("second");
        auto after = repo.after(before);
        CHECK_FALSE(after.error);
        CHECK(after.head_after == second);
        CHECK(after.head_after != after.head_before);
        CHECK(after.dirty == false);
        CHECK(after.changed_files == files({{"added.txt", "added"}, {"edited.txt", "modified"}}));
    }
    SECTION("nothing done: nothing listed, clean") {
        auto after = repo.after(before);
        CHECK_FALSE(after.error);
        CHECK(after.head_after == first);
        CHECK(after.dirty == false);
        CHECK(after.changed_files.empty());
        CHECK(after.changed_count == 0);
    }
    SECTION("more files than the record lists") {
        for (std::size_t i = 0; i < cas::agent::kMaxChangedFiles + 5; ++i) {
            repo.write("many-" + std::to_string(10000 + i), "");
        }
        auto after = repo.after(before);
        CHECK_FALSE(after.error);
        CHECK(after.changed_files.size() == cas::agent::kMaxChangedFiles);
        CHECK(after.changed_count == cas::agent::kMaxChangedFiles + 5);
        CHECK(after.truncated);
    }
    SECTION("a deadline that has passed is an error, not a hang") {
        repo.allowed = std::chrono::seconds(0);
        auto after = repo.after(before);
        REQUIRE(after.error);
        CHECK_THAT(*after.error, Catch::Contains("did not finish in time"));
        CHECK(after.head_before == first);
        CHECK_FALSE(after.dirty);
    }
}

TEST_CASE("workspace: a repository without a commit yet", "[workspace][git]") {
    Repo repo;
    repo.command("init -q");
    auto before = repo.before();
    CHECK_FALSE(before.error);
    CHECK_FALSE(before.head_before);
    repo.write("first.txt", "x");
    SECTION("files written, not committed") {
        auto after = repo.after(before);
        CHECK_FALSE(after.error);
        CHECK_FALSE(after.head_after);
        CHECK(after.dirty == true);
        CHECK(after.changed_files == files({{"first.txt", "untracked"}}));
    }
    SECTION("the first commit made by the run") {
        const auto first = repo.commit_all("first");
        auto after = repo.after(before);
        CHECK_FALSE(after.error);
        CHECK(after.head_after == first);
        CHECK(after.dirty == false);
        CHECK(after.changed_files == files({{"first.txt", "added"}}));
    }
}

TEST_CASE("workspace: no repository, or no directory, is an error and nothing else",
          "[workspace][git]") {
    Repo repo;  // a temporary directory outside any repository: never `git init`ed
    auto before = repo.before();
    REQUIRE(before.error);
    CHECK_THAT(*before.error, Catch::Contains("not a git repository"));
    CHECK_FALSE(before.head_before);
    auto after = repo.after(before);
    CHECK(after.error == before.error);
    CHECK_FALSE(after.head_after);
    CHECK_FALSE(after.dirty);

    fs::remove_all(repo.dir.path);
    auto missing = repo.before();
    REQUIRE(missing.error);
    CHECK_THAT(*missing.error, Catch::StartsWith("cannot run git"));
}
