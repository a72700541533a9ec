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
//  - AnswerText::on_line on every line, its pieces shaped by each model API's StreamShape
//    (ChatChunkShape, ResponsesShape, MessagesShape) as model_turn.cpp streams them: the
//    opening, a text event per piece, the keep-alive, then the closing of the completed turn
//    (with the text and stop reason the stream ends with) and of a failed one. Every event is
//    well-formed SSE: `data: {json}`, or `event: <type>` then `data: {json}` whose type is
//    <type>, the JSON valid UTF-8; the pieces add up to the answer's text.
//  - The job record a failed or completed run leaves, built by classify_exit and
//    apply_outcome as for every run, must be stored and read back by the store.
#include "agent/agent_run.hpp"
#include "agent/cli_output.hpp"
#include "agent/line_splitter.hpp"
#include "api/answer_text.hpp"
#include "api/chat_stream.hpp"
#include "api/messages_shape.hpp"
#include "api/responses_shape.hpp"
#include "api/stream_shape.hpp"
#include "fuzz_check.hpp"
#include "jobs/job.hpp"
#include "jobs/job_state.hpp"
#include "jobs/sqlite_job_store.hpp"
#include "json_util.hpp"
#include "run_to_end.hpp"
#include "util/json_text.hpp"
#include "util/utf8.hpp"

#include <boost/json.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
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

// A whole answer as json_text writes it: valid UTF-8 that reads back as the same object.
void check_json_text_object(const json::object& object) {
    auto text = cas::json_text(object);
    FUZZ_CHECK(cas::is_valid_utf8(text), "an answer is not UTF-8: " + escaped(text));
    boost::system::error_code ec;
    auto back = json::parse(text, ec);
    FUZZ_CHECK(!ec && back == json::value(object),
               "an answer does not read back: " + escaped(text));
}

// One SSE event (without its blank line) as a stream shape writes it: `data: {json}`, or
// `event: <type>` then `data: {json}` with that type; `[DONE]` and comments where allowed.
struct SseEvent {
    std::string name;  // empty without an `event:` line
    json::object data;
    bool done = false;     // data: [DONE]
    bool comment = false;  // ": ..."
};

std::vector<SseEvent> sse_events(std::string_view text) {
    FUZZ_CHECK(text.ends_with("\n\n"), "events not ended by a blank line: " + escaped(text));
    std::vector<SseEvent> out;
    while (!text.empty()) {
        auto end = text.find("\n\n");
        FUZZ_CHECK(end != std::string_view::npos, "event without its blank line: " + escaped(text));
        auto block = text.substr(0, end + 2);
        text.remove_prefix(end + 2);
        SseEvent event;
        if (block.starts_with(":")) {
            FUZZ_CHECK(block.find('\n') == block.size() - 2, "comment: " + escaped(block));
            event.comment = true;
            out.push_back(std::move(event));
            continue;
        }
        if (block.starts_with("event: ")) {
            auto newline = block.find('\n');
            event.name = std::string(block.substr(7, newline - 7));
            FUZZ_CHECK(!event.name.empty() && cas::is_valid_utf8(event.name) &&
                           event.name.find_first_of(" \r") == std::string::npos,
                       "event name: " + escaped(block));
            block.remove_prefix(newline + 1);
        }
        if (event.name.empty() && block == "data: [DONE]\n\n") {
            event.done = true;
        } else {
            event.data = data_event(std::string(block));
            if (!event.name.empty()) {
                const auto* type = event.data.if_contains("type");
                FUZZ_CHECK(type != nullptr && type->is_string() &&
                               std::string_view(type->as_string()) == event.name,
                           "event: line and data.type differ: " + escaped(block));
            }
        }
        out.push_back(std::move(event));
    }
    return out;
}

void check_chunk(const SseEvent& event) {
    FUZZ_CHECK(event.name.empty(), "a chat chunk is a plain data event: " + event.name);
    if (event.done || event.comment) return;  // [DONE], the keep-alive
    const auto& obj = event.data;
    if (const auto* error = obj.if_contains("error")) {  // a failed run's end
        FUZZ_CHECK(error->is_object() && error->as_object().if_contains("message") != nullptr &&
                       error->at("message").is_string(),
                   "chat error event: " + json::serialize(obj));
        return;
    }
    FUZZ_CHECK(obj.at("object") == "chat.completion.chunk" && obj.at("id") == "chatcmpl-fuzz" &&
                   obj.at("model") == "claude-haiku-4-5",
               "chunk envelope: " + json::serialize(obj));
}

// The text a shape's events for `piece` carry.
std::string carried_text(const SseEvent& event) {
    const json::value* text = nullptr;
    if (event.name.empty()) {  // a chat chunk
        text = &event.data.at("choices").at(0).at("delta").at("content");
    } else if (event.name == "response.output_text.delta") {
        text = &event.data.at("delta");
    } else if (event.name == "content_block_delta") {
        text = &event.data.at("delta").at("text");
    }
    FUZZ_CHECK(text != nullptr && text->is_string(), "a text event without text: " + event.name);
    return std::string(text->as_string());
}

// The three model APIs' stream shapes, as their handlers make them.
struct Shapes {
    cas::api::ResponsesRequest request = [] {
        cas::api::ResponsesRequest r;
        r.model = "claude-haiku-4-5";
        return r;
    }();
    std::unique_ptr<cas::api::StreamShape> all[3] = {
        std::make_unique<cas::api::ChatChunkShape>("chatcmpl-fuzz", "claude-haiku-4-5", 1700000000,
                                                   true),
        std::make_unique<cas::api::ResponsesShape>(cas::api::response_facts(request, 1700000000)),
        std::make_unique<cas::api::MessagesShape>("msg_fuzz", "claude-haiku-4-5")};
    std::int64_t next_sequence = 0;  // ResponsesShape's
    bool chat_done = false;

    // Each shape's events for one call: well-formed, and for the chat shape chat chunks; for
    // the Responses shape numbered in sequence.
    std::vector<SseEvent> check(std::size_t which, const std::string& text) {
        auto events = sse_events(text);
        for (const auto& event : events) {
            if (which == 0) check_chunk(event);
            if (which == 1 && !event.comment) {
                FUZZ_CHECK(!event.name.empty() &&
                               event.data.at("sequence_number") == json::value(next_sequence++),
                           "responses event out of sequence: " + event.name);
            }
            if (which == 2 && !event.comment) {
                FUZZ_CHECK(!event.name.empty(), "a messages event without its name");
            }
        }
        return events;
    }
};

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
            // As each model API's stream reports a failed run, and as JobRegistry records it.
            cas::api::TurnResult result;
            result.outcome.status = cas::agent::RunStatus::failed;
            result.outcome.reason = reason;
            result.outcome.cli = parsed;
            Shapes shapes;
            for (std::size_t i = 0; i < 3; ++i) {
                auto events = shapes.check(i, shapes.all[i]->closing(result));
                FUZZ_CHECK(events.size() == 1 && !events[0].done,
                           "a failed run closes with one error event");
            }
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

    Shapes shapes;
    for (std::size_t i = 0; i < 3; ++i) shapes.check(i, shapes.all[i]->opening());
    cas::api::AnswerText answer;
    std::string pieces;
    for (const auto& line : lines) {
        auto piece = answer.on_line(line);
        pieces += piece;
        if (!piece.empty()) {
            FUZZ_CHECK(cas::is_valid_utf8(piece), "a piece of the answer is not UTF-8");
            for (std::size_t i = 0; i < 3; ++i) {
                auto events = shapes.check(i, shapes.all[i]->text(piece));
                FUZZ_CHECK(events.size() == 1 && carried_text(events[0]) == piece,
                           "a piece's event does not carry it: " + escaped(piece));
            }
        }
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
        auto initialize = cas::agent::parse_initialize_answer(line);
        FUZZ_CHECK(initialize.found || (!initialize.ok && !initialize.agents),
                   "not an answer, yet read as one");
        FUZZ_CHECK(cas::is_valid_utf8(initialize.error) && initialize.error.size() <= 500,
                   "initialize error: " + escaped(initialize.error));
        if (auto problem = cas::agent::unknown_agent(initialize, "recruiter-triage")) {
            FUZZ_CHECK(problem->starts_with("Agent 'recruiter-triage' not found") &&
                           problem->find('\n') == std::string::npos &&
                           cas::is_valid_utf8(*problem) && problem->size() <= 500,
                       "unknown_agent: " + escaped(*problem));
        }
    }
    FUZZ_CHECK(pieces == answer.text(), "the pieces do not add up to the answer's text");
    for (std::size_t i = 0; i < 3; ++i) {
        auto events = shapes.check(i, shapes.all[i]->keep_alive());
        FUZZ_CHECK(events.size() == 1, "one keep-alive event");
    }

    // The completed turn, as model_turn.cpp closes a stream.
    cas::api::TurnResult result;
    result.outcome.status = cas::agent::RunStatus::completed;
    result.outcome.cli = parsed;
    result.text = answer.text();
    result.stop_reason = parsed.stop_reason ? parsed.stop_reason : answer.stop_reason();
    auto finish = cas::api::finish_reason_for(result.stop_reason);
    FUZZ_CHECK(finish == "stop" || finish == "length" || finish == "content_filter",
               "finish_reason");

    // Usage, as the closing events and the non-streamed responses carry it. Sums that
    // overflow int64 are undefined behaviour in usage_json (UBSan would stop here).
    if (tokens_overflow(parsed.tokens)) {
        FUZZ_CHECK_KNOWN(
            "usage-overflow", false,
            "token counts overflow int64 in usage_json (signed overflow, UB): " + escaped(out));
        return;
    }
    auto chat = shapes.check(0, shapes.all[0]->closing(result));
    FUZZ_CHECK(chat.size() == 3 && chat[2].done &&
                   chat[0].data.at("choices").at(0).at("finish_reason") == json::value(finish),
               "chat closing: finish, usage, [DONE]");
    auto responses = shapes.check(1, shapes.all[1]->closing(result));
    FUZZ_CHECK(responses.size() == 4 && responses[0].data.at("text") == json::value(result.text),
               "responses closing: the text, part and item done, then the response");
    auto messages = shapes.check(2, shapes.all[2]->closing(result));
    FUZZ_CHECK(messages.size() == 3 && messages[2].name == "message_stop",
               "messages closing: block stop, delta, message_stop");

    auto usage = cas::api::usage_json(parsed.tokens);
    FUZZ_CHECK(usage.at("total_tokens").as_int64() >= usage.at("completion_tokens").as_int64(),
               "usage total below the completion tokens");
    // The whole answers the non-streamed routes send.
    auto facts = cas::api::response_facts(shapes.request, 1700000000);
    check_json_text_object(cas::api::response_object(facts, &result));
    check_json_text_object(cas::api::message_object("msg_fuzz", "claude-haiku-4-5", result));
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
