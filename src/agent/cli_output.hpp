// What the CLI printed, made sense of: the `result` object of `--output-format json` (or
// the last line of `stream-json`), with a fallback to raw text as the reference app does.
#pragma once

#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cas::agent {

struct TokenUsage {
    std::int64_t input_tokens = 0;
    std::int64_t output_tokens = 0;
    std::int64_t cache_creation_input_tokens = 0;
    std::int64_t cache_read_input_tokens = 0;
};

struct CliResult {
    bool found = false;  // a {"type":"result", ...} object was found
    std::optional<std::string> result;
    bool is_error = false;
    std::string subtype;
    std::optional<double> total_cost_usd;
    boost::json::value usage;  // as the CLI gave it (null if absent)
    TokenUsage tokens;
    std::string session_id;
    std::optional<std::int64_t> duration_ms;
    std::optional<std::string> stop_reason;
    std::vector<std::string> errors;
    // The object the CLI answered through its StructuredOutput tool (--json-schema); null if none.
    boost::json::value structured_output;
};

// Finds the result object in stdout: the whole text as one JSON value, or else the last
// line that is one (stream-json). Never throws; `found` is false when there is none.
CliResult parse_cli_result(std::string_view stdout_text);

// Whether one stdout line is the result object: the CLI has nothing more to say after it.
bool is_result_line(std::string_view line);

// The session id a `{"type":"system","subtype":"init",...}` line names (the CLI's first line
// for a prompt); nothing for any other line.
std::optional<std::string> init_session_id(std::string_view line);

// The CLI's answer to the initialize request (cli_command.hpp), as far as the service reads it.
struct InitializeAnswer {
    bool found = false;  // the line is the control response to our request
    bool ok = false;     // subtype "success"
    std::string error;   // when not ok: the CLI's message
    std::optional<std::vector<std::string>> agents;  // the agents it knows, when it lists them
};

// Reads one stdout line as the answer; `found` is false for any other line. Never throws.
InitializeAnswer parse_initialize_answer(std::string_view line);

// When the CLI lists its agents and `agent` is not among them: what is wrong, for people
// (one line). Otherwise nothing. With stream-json input the CLI runs an unknown --agent as
// its default agent instead of failing, so this is checked before the prompt is sent.
std::optional<std::string> unknown_agent(const InitializeAnswer& answer, std::string_view agent);

// The answer as the reference app extracts it: `result` when it is a non-empty string,
// else the trimmed raw stdout.
std::string answer_text(const CliResult& parsed, std::string_view stdout_text);

// One line on why a run failed, for people: the CLI's own message where it gives one
// (result text of an API error, `errors`, stderr), else the exit code.
std::string failure_reason(const CliResult& parsed, std::string_view stderr_text, int exit_code);

}  // namespace cas::agent
