#include "jobs/job.hpp"

#include "jobs/job_store.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

using namespace cas::jobs;

TEST_CASE("jobs: ids are 12 random lowercase hex characters") {
    auto a = new_job_id();
    auto b = new_job_id();
    CHECK(is_job_id(a));
    CHECK(a != b);
    CHECK_FALSE(is_job_id("ABCDEF012345"));
    CHECK_FALSE(is_job_id("abc"));
    CHECK_FALSE(is_job_id("../../etc/pa"));
}

TEST_CASE("jobs: stdout lines keep their newlines, as the reference") {
    CHECK(split_lines("a\nb\n") == std::vector<std::string>{"a\n", "b\n"});
    CHECK(split_lines("a\nb") == std::vector<std::string>{"a\n", "b"});
    CHECK(split_lines("").empty());
}

TEST_CASE("jobs: the record's JSON and the memory store") {
    MemoryJobStore store;
    Job job;
    job.id = "0123456789ab";
    job.prompt = "p";
    job.agent = "a";
    job.started_at = utc_now_iso();
    store.save(job);
    auto found = store.find("0123456789ab");
    REQUIRE(found);
    auto j = to_json(*found);
    CHECK(j.at("status") == "running");
    CHECK(j.at("finished_at").is_null());
    CHECK(j.at("output").as_array().empty());
    CHECK(std::string(j.at("started_at").as_string()).ends_with("+00:00"));
    CHECK_FALSE(store.find("ffffffffffff"));
}
