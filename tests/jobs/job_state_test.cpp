// The job state transitions, without processes: every final status a run can reach, and
// what each transition writes into the record.
#include "jobs/job_state.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

using namespace cas::jobs;
using cas::agent::AgentOutcome;
using cas::agent::ProcessEnd;
using cas::agent::RunStatus;

namespace {

const std::string kThen = "2026-01-02T03:04:05.000000+00:00";
const std::string kNow = "2026-01-02T03:04:09.000000+00:00";

Job queued_job() {
    Job job;
    job.id = "0123456789ab";
    job.status = JobStatus::queued;
    job.created_at = kThen;
    return job;
}

AgentOutcome exited(int exit_code, std::string out, std::string err = {}) {
    AgentOutcome outcome;
    outcome.process.end = ProcessEnd::exited;
    outcome.process.exit_code = exit_code;
    outcome.process.out.text = std::move(out);
    outcome.process.err.text = std::move(err);
    cas::agent::classify_exit(outcome);
    return outcome;
}

}  // namespace

TEST_CASE("job state: queued, then running, keeps the first start time") {
    auto job = queued_job();
    mark_running(job, kThen);
    CHECK(job.status == JobStatus::running);
    CHECK(job.started_at == kThen);
    mark_running(job, kNow);  // a record already started keeps its start
    CHECK(job.started_at == kThen);
    CHECK_FALSE(job.finished_at);
}

TEST_CASE("job state: a queued job cancelled never started") {
    auto job = queued_job();
    mark_cancelled_before_run(job, kNow);
    CHECK(job.status == JobStatus::cancelled);
    CHECK(is_finished(job.status));
    CHECK(job.finished_at == kNow);
    CHECK_FALSE(job.started_at);
    CHECK(job.error == "cancelled before it ran");
}

TEST_CASE("job state: a run found running at start-up is interrupted") {
    auto job = queued_job();
    mark_running(job, kThen);
    mark_interrupted_by_restart(job, kNow);
    CHECK(job.status == JobStatus::interrupted);
    CHECK(job.finished_at == kNow);
    CHECK(job.error->find("service stopped") != std::string::npos);
}

TEST_CASE("job state: a completed run records the CLI's result") {
    auto job = queued_job();
    mark_running(job, kThen);
    auto outcome = exited(0, R"({"type":"result","subtype":"success","is_error":false,)"
                             R"("result":"done","session_id":"s-1","total_cost_usd":0.25,)"
                             R"("duration_ms":1200,"usage":{"input_tokens":3}})"
                             "\n");
    REQUIRE(outcome.status == RunStatus::completed);
    apply_outcome(job, outcome, kNow);
    CHECK(job.status == JobStatus::completed);
    CHECK(job.finished_at == kNow);
    CHECK_FALSE(job.error);
    CHECK(job.exit_code == 0);
    CHECK(job.result == "done");
    CHECK(job.session_id == "s-1");
    CHECK(job.total_cost_usd == 0.25);
    CHECK(job.duration_ms == 1200);
    CHECK(job.is_error == false);
    CHECK(job.output.size() == 1);
}

TEST_CASE("job state: every way a run ends has its final status and reason") {
    auto end = [](RunStatus status, std::string reason, ProcessEnd process_end) {
        auto job = queued_job();
        mark_running(job, kThen);
        AgentOutcome outcome;
        outcome.status = status;
        outcome.reason = std::move(reason);
        outcome.process.end = process_end;
        apply_outcome(job, outcome, kNow);
        REQUIRE(job.finished_at == kNow);
        return job;
    };
    SECTION("failed: a non-zero exit, with the CLI's stderr as the reason") {
        auto outcome = exited(2, "", "boom\n");
        REQUIRE(outcome.status == RunStatus::failed);
        auto job = queued_job();
        apply_outcome(job, outcome, kNow);
        CHECK(job.status == JobStatus::failed);
        CHECK(job.exit_code == 2);
        CHECK(job.error->find("boom") != std::string::npos);
        CHECK(job.stderr_text == "boom\n");
    }
    SECTION("failed: is_error with exit code 0") {
        auto outcome = exited(0, R"({"type":"result","is_error":true,"result":"API down"})");
        CHECK(outcome.status == RunStatus::failed);
        auto job = queued_job();
        apply_outcome(job, outcome, kNow);
        CHECK(job.status == JobStatus::failed);
        CHECK(job.error == "API down");
    }
    SECTION("timeout") {
        auto job = end(RunStatus::timeout, "timed out after 5 s", ProcessEnd::timed_out);
        CHECK(job.status == JobStatus::timeout);
        CHECK(job.error == "timed out after 5 s");
    }
    SECTION("cancelled") {
        auto job = end(RunStatus::cancelled, "cancelled", ProcessEnd::cancelled);
        CHECK(job.status == JobStatus::cancelled);
    }
    SECTION("interrupted by a shutdown") {
        auto job =
            end(RunStatus::interrupted, "interrupted by service shutdown", ProcessEnd::cancelled);
        CHECK(job.status == JobStatus::interrupted);
        CHECK(job.error == "interrupted by service shutdown");
    }
    SECTION("error: the CLI could not start, so there is no exit code or output") {
        auto job = end(RunStatus::error, "cannot run the Claude CLI (CLAUDE_BIN): gone",
                       ProcessEnd::failed_to_start);
        CHECK(job.status == JobStatus::error);
        CHECK_FALSE(job.exit_code);
        CHECK(job.output.empty());
    }
    SECTION("a reason that is not UTF-8 is repaired; an empty one names the status") {
        auto job = end(RunStatus::failed, "bad \xff byte", ProcessEnd::exited);
        CHECK(job.error == "bad \xEF\xBF\xBD byte");
        CHECK(end(RunStatus::timeout, "", ProcessEnd::timed_out).error == "timeout");
    }
    SECTION("killed by a signal: the exit code is minus the signal") {
        auto job = queued_job();
        AgentOutcome outcome;
        outcome.process.end = ProcessEnd::exited;
        outcome.process.term_signal = 9;
        cas::agent::classify_exit(outcome);
        apply_outcome(job, outcome, kNow);
        CHECK(job.status == JobStatus::failed);
        CHECK(job.exit_code == -9);
        CHECK(job.error == "the CLI was killed by signal 9");
    }
}

TEST_CASE("job state: an internal error ends the record") {
    auto job = queued_job();
    mark_running(job, kThen);
    mark_internal_error(job, "bad_alloc", kNow);
    CHECK(job.status == JobStatus::error);
    CHECK(job.error == "internal error: bad_alloc");
    CHECK(job.finished_at == kNow);
}

TEST_CASE("job state: a retry is the same request only with the same parameters") {
    NewJob request;
    request.prompt = "p";
    request.agent = "a";
    Job earlier;
    earlier.prompt = "p";
    earlier.agent = "a";
    earlier.max_budget_usd = request.max_budget_usd;
    earlier.timeout_seconds = request.timeout_seconds;
    CHECK(same_request(earlier, request));
    auto changed = [&](auto change) {
        auto other = request;
        change(other);
        return same_request(earlier, other);
    };
    CHECK_FALSE(changed([](NewJob& r) { r.prompt = "q"; }));
    CHECK_FALSE(changed([](NewJob& r) { r.agent = "b"; }));
    CHECK_FALSE(changed([](NewJob& r) { r.max_budget_usd = 1.0; }));
    CHECK_FALSE(changed([](NewJob& r) { r.timeout_seconds = 30; }));
    CHECK_FALSE(changed([](NewJob& r) { r.metadata = boost::json::object{{"k", 1}}; }));
    CHECK_FALSE(changed([](NewJob& r) { r.resumed_from = "0123456789ab"; }));
    CHECK_FALSE(changed([](NewJob& r) { r.fork = true; }));
    CHECK(changed([](NewJob& r) { r.idempotency_key = "another"; }));  // the key is not a parameter
}
