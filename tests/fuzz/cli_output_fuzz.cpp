// What the CLI prints, as the service reads it. The input is the CLI's stdout, optionally
// followed by a NUL byte and its stderr.
//  - parse_cli_result / answer_text / failure_reason: never throw; fields taken from JSON
//    are valid UTF-8; the answer is the result or the trimmed stdout; the failure reason
//    is one line of at most 500 bytes (valid UTF-8 when what it quotes is).
//  - is_result_line, as the runner judges each line: a result line is one parse_cli_result
//    reads; init_session_id: a session named only by an init line, as UTF-8;
//    parse_initialize_answer / unknown_agent: a refusal is one line naming the agent.
//  - LineSplitter: stdout fed in uneven pieces gives the same lines as splitting it whole,
//    with over-long lines dropped (checked with the default limit and a small one).
//  - ChatChunkEncoder::on_line on every line, then the finish, usage and error events as
//    openai.cpp sends them: each is one "data: {json}\n\n" event of valid UTF-8 JSON.
//  - The job record a failed or completed run leaves, built by classify_exit and
//    apply_outcome as for every run, must be stored and read back by the store.
#include "agent/agent_run.hpp"
#include "agent/cli_output.hpp"
#include "agent/line_splitter.hpp"
#include "api/chat_stream.hpp"
#include "fuzz_check.hpp"
#include "jobs/job.hpp"
#include "jobs/job_state.hpp"
#include "jobs/sqlite_job_store.hpp"
#include "json_util.hpp"
#include "run_to_end.hpp"
#include "util/utf8.hpp"

#include <boost/json.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace json = boost::json;
using cas_fuzz::escaped;

std::string_view trim(std::string_view text) {
    auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) return {};
    auto last = text.find_last_not_of(" \t\r\n");
    return text.substr(first, last - first + 1);
}

// The complete lines of `text` (a trailing partial line is not a line yet), without those
// longer than `max_line`.
std::vector<std::string> reference_lines(std::string_view text, std::size_t max_line) {
    std::vector<std::string> out;
    for (auto newline = text.find('\n'); newline != std::string_view::npos;
         newline = text.find('\n')) {
        if (newline <= max_line) out.emplace_back(text.substr(0, newline));
        text.remove_prefix(newline + 1);
    }
    return out;
}

// Feeds `text` in pieces of 1..64 bytes chosen by a generator seeded from the text.
std::vector<std::string> split_in_pieces(std::string_view text, std::size_t max_line) {
    cas::agent::LineSplitter splitter(max_line);
    std::vector<std::string> lines;
    std::uint32_t state = 2463534242U ^ static_cast<std::uint32_t>(text.size());
    for (std::size_t i = 0; i < text.size() && i < 8; ++i)
        state = state * 31U + static_cast<unsigned char>(text[i]);
    while (!text.empty()) {
        state ^= state << 13U;
        state ^= state >> 17U;
        state ^= state << 5U;
        std::size_t n = std::min<std::size_t>(text.size(), 1 + state % 64U);
        splitter.feed(text.substr(0, n), [&](std::string_view line) { lines.emplace_back(line); });
        text.remove_prefix(n);
    }
    return lines;
}

// One "data: {...}\n\n" event whose JSON is an object; returns it.
json::object data_event(const std::string& event) {
    FUZZ_CHECK(event.starts_with("data: ") && event.ends_with("\n\n"),
               "not one data event: " + escaped(event));
    auto payload = std::string_view(event).substr(6, event.size() - 8);
    FUZZ_CHECK(payload.find('\n') == std::string_view::npos,
               "newline inside an event: " + escaped(event));
    FUZZ_CHECK(cas::is_valid_utf8(payload), "event is not UTF-8: " + escaped(event));
    boost::system::error_code ec;
    auto v = json::parse(payload, ec);
    FUZZ_CHECK(!ec && v.is_object(), "event data is not a JSON object: " + escaped(event));
    return std::move(v.as_object());
}

void check_chunk(const std::string& event, bool content_expected) {
    auto obj = data_event(event);
    FUZZ_CHECK(obj.at("object") == "chat.completion.chunk" && obj.at("id") == "chatcmpl-fuzz" &&
                   obj.at("model") == "claude-haiku-4-5",
               "chunk envelope: " + escaped(event));
    const auto& choices = obj.at("choices").as_array();
    if (!content_expected) return;
    FUZZ_CHECK(choices.size() == 1, "chunk choices");
    const auto& content = choices[0].at("delta").at("content");
    FUZZ_CHECK(content.is_string() && !content.as_string().empty(),
               "chunk content: " + escaped(event));
}

// The CLI's token counts are int64 and summed for OpenAI's usage (usage_json).
bool tokens_overflow(const cas::agent::TokenUsage& t) {
    std::int64_t prompt = 0;
    std::int64_t total = 0;
    return __builtin_add_overflow(t.input_tokens, t.cache_creation_input_tokens, &prompt) ||
           __builtin_add_overflow(prompt, t.cache_read_input_tokens, &prompt) ||
           __builtin_add_overflow(prompt, t.output_tokens, &total);
}

cas::jobs::SqliteJobStore& store() {
    static auto* s = new cas::jobs::SqliteJobStore(":memory:");  // one row, rewritten each time
    return *s;
}

// The record a run that exited with `exit_code` leaves, as the service builds it
// (classify_exit, then apply_outcome), then read back as every later request does.
void check_job_record(std::string_view out, std::string_view err, int exit_code) {
    cas::agent::AgentOutcome outcome;
    outcome.process.end = cas::agent::ProcessEnd::exited;
    outcome.process.exit_code = exit_code;
    outcome.process.out.text = out;
    outcome.process.err.text = err;
    cas::agent::classify_exit(outcome);
    const auto& cli = outcome.cli;

    cas::jobs::Job job;
    job.id = "0123456789ab";
    job.prompt = "p";
    job.agent = "a";
    job.created_at = "2026-01-02T03:04:05.678901+00:00";
    cas::jobs::mark_running(job, job.created_at);
    cas::jobs::apply_outcome(job, outcome, job.created_at);
    FUZZ_CHECK(cas::jobs::is_finished(job.status), "a run's record is not final");
    FUZZ_CHECK(!job.error || cas::is_valid_utf8(*job.error), "the record's error is not UTF-8");
    cas_fuzz::run_to_end(store().save(job));
    std::optional<cas::jobs::Job> back;
    std::string problem;
    try {
        back = cas_fuzz::run_to_end(store().find(job.id));
        auto listed = cas_fuzz::run_to_end(store().list({}));
        FUZZ_CHECK(listed.jobs.size() == 1, "the stored record is not listed");
    } catch (const std::exception& e) {
        problem = e.what();
    }
    bool infinite = (cli.total_cost_usd && !std::isfinite(*cli.total_cost_usd)) ||
                    cas_fuzz::json_has_infinity(cli.usage);
    if (!problem.empty() && cli.found && infinite) {
        // total_cost_usd or usage beyond double: stored as Infinity, which is not JSON.
        FUZZ_CHECK_KNOWN(
            "json-infinity", false,
            "a run's job record cannot be read back (" + problem + "); stdout: " + escaped(out));
        return;
    }
    FUZZ_CHECK(problem.empty(),
               "a run's job record cannot be read back: " + problem + " stdout: " + escaped(out));
    FUZZ_CHECK(back && back->output == job.output && back->error == job.error,
               "the stored record differs");
}

void check_cli_result(const cas::agent::CliResult& parsed, std::string_view out,
                      std::string_view err) {
    if (parsed.found) {
        FUZZ_CHECK(!parsed.result || cas::is_valid_utf8(*parsed.result), "result is not UTF-8");
        FUZZ_CHECK(cas::is_valid_utf8(parsed.subtype) && cas::is_valid_utf8(parsed.session_id),
                   "fields");
        FUZZ_CHECK(parsed.usage.is_null() || parsed.usage.is_object(), "usage");
        for (const auto& e : parsed.errors)
            FUZZ_CHECK(cas::is_valid_utf8(e), "errors entry is not UTF-8");
    } else {
        FUZZ_CHECK(!parsed.result && parsed.errors.empty() && parsed.usage.is_null(),
                   "fields without a result");
    }

    auto answer = cas::agent::answer_text(parsed, out);
    if (parsed.result && !parsed.result->empty()) {
        FUZZ_CHECK(answer == *parsed.result, "answer is not the result");
    } else {
        FUZZ_CHECK(answer == trim(out), "answer is not the trimmed stdout");
    }

    for (int exit_code : {1, 0}) {
        auto reason = cas::agent::failure_reason(parsed, err, exit_code);
        // Which text it quotes (see failure_reason): the first of the error result, the
        // errors joined, stderr, that is more than whitespace; else a fixed format.
        std::string joined;
        for (const auto& e : parsed.errors) joined += (joined.empty() ? "" : "; ") + e;
        std::string quoted;
        if (parsed.found && parsed.is_error && parsed.result && !trim(*parsed.result).empty()) {
            quoted = *parsed.result;
        } else if (!trim(joined).empty()) {
            quoted = joined;
        } else if (!trim(err).empty()) {
            quoted = err;
        }
        FUZZ_CHECK(!reason.empty(),
                   "empty failure reason for stdout: " + escaped(out) + " stderr: " + escaped(err));
        if (!quoted.empty()) {
            FUZZ_CHECK(reason.size() <= 500, "failure reason longer than 500 bytes");
            FUZZ_CHECK(reason.find_first_of("\r\n\t") == std::string::npos,
                       "failure reason is not one line");
            if (cas::is_valid_utf8(quoted)) {
                FUZZ_CHECK(cas::is_valid_utf8(reason),
                           "failure reason cut inside a character: " + escaped(reason));
            }
        }
        if (exit_code != 0) {
            // As openai.cpp reports a failed run, and as JobRegistry records it.
            data_event(cas::api::ChatChunkEncoder::error_event("execution failed: " +
                                                               cas::to_valid_utf8(reason)));
            check_job_record(out, err, exit_code);
        }
    }
}

void check_stream(const cas::agent::CliResult& parsed, std::string_view out) {
    // The splitter, against splitting the whole text, with the default and a small limit.
    auto lines = split_in_pieces(out, 8U * 1024U * 1024U);
    FUZZ_CHECK(lines == reference_lines(out, 8U * 1024U * 1024U),
               "LineSplitter lines differ (default limit)");
    FUZZ_CHECK(split_in_pieces(out, 16) == reference_lines(out, 16),
               "LineSplitter lines differ (limit 16)");

    cas::api::ChatChunkEncoder encoder("chatcmpl-fuzz", "claude-haiku-4-5", 1700000000);
    check_chunk(encoder.role_event(), false);
    for (const auto& line : lines) {
        auto events = encoder.on_line(line);
        if (!events.empty()) check_chunk(events, true);
        // How the runner judges each line: a result line parses as the result; a refusal
        // names the agent and is one valid line.
        if (cas::agent::is_result_line(line)) {
            FUZZ_CHECK(cas::agent::parse_cli_result(line).found,
                       "a result line that does not parse as the result: " + escaped(line));
        }
        if (auto session = cas::agent::init_session_id(line)) {
            FUZZ_CHECK(
                line.find(R"("init")") != std::string_view::npos && cas::is_valid_utf8(*session),
                "a session from a line that is not an init line: " + escaped(line));
        }
        auto answer = cas::agent::parse_initialize_answer(line);
        FUZZ_CHECK(answer.found || (!answer.ok && !answer.agents),
                   "not an answer, yet read as one");
        FUZZ_CHECK(cas::is_valid_utf8(answer.error) && answer.error.size() <= 500,
                   "initialize error: " + escaped(answer.error));
        if (auto problem = cas::agent::unknown_agent(answer, "recruiter-triage")) {
            FUZZ_CHECK(problem->starts_with("Agent 'recruiter-triage' not found") &&
                           problem->find('\n') == std::string::npos &&
                           cas::is_valid_utf8(*problem) && problem->size() <= 500,
                       "unknown_agent: " + escaped(*problem));
        }
    }
    auto finish = cas::api::finish_reason_for(encoder.stop_reason());
    FUZZ_CHECK(finish == "stop" || finish == "length" || finish == "content_filter",
               "finish_reason");
    check_chunk(encoder.finish_event(finish), false);

    // Usage, as the streamed usage chunk and the non-streamed response carry it. Sums that
    // overflow int64 are undefined behaviour in usage_json (UBSan would stop here).
    if (tokens_overflow(parsed.tokens)) {
        FUZZ_CHECK_KNOWN(
            "usage-overflow", false,
            "token counts overflow int64 in usage_json (signed overflow, UB): " + escaped(out));
        return;
    }
    check_chunk(encoder.usage_event(parsed.tokens), false);
    auto usage = cas::api::usage_json(parsed.tokens);
    FUZZ_CHECK(usage.at("total_tokens").as_int64() >= usage.at("completion_tokens").as_int64(),
               "usage total below the completion tokens");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    auto nul = input.find('\0');
    auto out = input.substr(0, nul);
    auto err = nul == std::string_view::npos ? std::string_view{} : input.substr(nul + 1);
    auto parsed = cas::agent::parse_cli_result(out);
    check_cli_result(parsed, out, err);
    check_stream(parsed, out);
    return 0;
}
