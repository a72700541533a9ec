// What a job's run did to its workspace, over HTTP against the real binary: the fake CLI
// writes a file (and commits it) in a git workspace, and the job record and the listing say
// so; a workspace that is not a repository records why, and the job still completes.
#include "git_test.hpp"
#include "integration/agent_fixture.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <string>

using namespace cas::test;

namespace {

// Makes the fixture's workspace a repository with one commit; its HEAD.
std::string make_repository(const Fixture& f, const TempDir& scratch) {
    git(scratch, f.workspace.path, "init -q");
    f.workspace.write("README.md", "a workspace\n");
    git(scratch, f.workspace.path, "add -A");
    git(scratch, f.workspace.path, "commit -q -m first");
    return git(scratch, f.workspace.path, "rev-parse HEAD");
}

// The listing's entry for `id`.
json::object listed(const Fixture& f, const std::string& id) {
    auto reply = request(f.port(), "GET", "/jobs", "", kAuth);
    REQUIRE(reply.status == 200);
    const auto page = json::parse(reply.body);
    for (const auto& job : page.at("jobs").as_array()) {
        if (job.at("job_id") == id.c_str()) return job.as_object();
    }
    FAIL("job " << id << " is not listed");
    return {};
}

}  // namespace

TEST_CASE("workspace: a file the agent wrote and left uncommitted is in the job's record") {
    Fixture f;
    TempDir scratch;
    const auto head = make_repository(f, scratch);
    auto id = f.start_job("write it\nFAKE:write-file=made-by-agent.txt");
    auto job = f.wait_job(id);
    REQUIRE(job.at("status") == "completed");
    CHECK(f.workspace.read("made-by-agent.txt") == "written by the fake CLI\n");
    const auto& workspace = job.at("workspace");
    INFO(json::serialize(workspace));
    CHECK(workspace.at("head_before") == head.c_str());
    CHECK(workspace.at("head_after") == head.c_str());
    CHECK(workspace.at("dirty") == true);
    CHECK(workspace.at("changed_files") ==
          json::parse(R"([{"path": "made-by-agent.txt", "status": "untracked"}])"));
    CHECK(workspace.at("changed_count") == 1);
    CHECK(workspace.at("truncated") == false);
    CHECK(workspace.at("error").is_null());

    auto summary = listed(f, id).at("workspace").as_object();
    CHECK_FALSE(summary.contains("changed_files"));
    CHECK(summary.at("changed_count") == 1);
    CHECK(summary.at("head_after") == head.c_str());
    CHECK(summary.at("dirty") == true);
}

TEST_CASE("workspace: an agent that commits moves HEAD and leaves the tree clean") {
    Fixture f;
    TempDir scratch;
    const auto head = make_repository(f, scratch);
    auto job = f.wait_job(
        f.start_job("commit it\nFAKE:write-file=committed.txt\nFAKE:git-commit=agent work"));
    REQUIRE(job.at("status") == "completed");
    const auto now = git(scratch, f.workspace.path, "rev-parse HEAD");
    REQUIRE(now != head);
    const auto& workspace = job.at("workspace");
    INFO(json::serialize(workspace));
    CHECK(workspace.at("head_before") == head.c_str());
    CHECK(workspace.at("head_after") == now.c_str());
    CHECK(workspace.at("dirty") == false);
    CHECK(workspace.at("changed_files") ==
          json::parse(R"([{"path": "committed.txt", "status": "added"}])"));
    CHECK(workspace.at("error").is_null());
}

TEST_CASE("workspace: not a git repository is recorded, and the job still completes") {
    Fixture f;  // its workspace is a bare temporary directory
    auto job = f.wait_job(f.start_job("x\nFAKE:write-file=anything.txt"));
    CHECK(job.at("status") == "completed");
    const auto& workspace = job.at("workspace");
    INFO(json::serialize(workspace));
    CHECK_THAT(std::string(workspace.at("error").as_string()),
               Catch::Contains("not a git repository"));
    CHECK(workspace.at("head_before").is_null());
    CHECK(workspace.at("head_after").is_null());
    CHECK(workspace.at("dirty").is_null());
    CHECK(workspace.at("changed_files").as_array().empty());
}
