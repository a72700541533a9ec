#include "jobs/job.hpp"

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

TEST_CASE("jobs: a record survives the JSON round trip") {
    Job job;
    job.id = "0123456789ab";
    job.status = JobStatus::failed;
    job.prompt = "p";
    job.agent = "a";
    job.metadata = boost::json::parse(R"({"k":[1,2]})");
    job.created_at = utc_now_iso();
    job.started_at = job.created_at;
    job.finished_at = utc_now_iso();
    job.exit_code = 3;
    job.output = {"a\n", "b"};
    job.error = "boom";
    job.total_cost_usd = 0.25;
    job.usage = boost::json::parse(R"({"input_tokens":1})");
    job.idempotency_key = "key-1";
    job.output_cap = 1024;
    auto back = job_from_json(to_json(job));
    CHECK(to_json(back) == to_json(job));
    CHECK(std::string(to_json(job).at("created_at").as_string()).ends_with("+00:00"));
    CHECK_THROWS_AS(job_from_json(boost::json::parse(R"({"job_id":"x"})")), std::invalid_argument);
}

TEST_CASE("jobs: summaries leave out the output fields and cut long prompts") {
    Job job;
    job.id = "0123456789ab";
    job.prompt = std::string(300, 'p');
    job.output = {"line\n"};
    job.result = "r";
    auto summary = to_summary_json(job).as_object();
    CHECK_FALSE(summary.contains("output"));
    CHECK_FALSE(summary.contains("stderr"));
    CHECK_FALSE(summary.contains("result"));
    CHECK(summary.at("prompt").as_string().size() == 203);  // 200 + "…"
    CHECK(parse_status("queued") == JobStatus::queued);
    CHECK_FALSE(parse_status("bogus"));
}
