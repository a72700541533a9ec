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
};

// Finds the result object in stdout: the whole text as one JSON value, or else the last
// line that is one (stream-json). Never throws; `found` is false when there is none.
CliResult parse_cli_result(std::string_view stdout_text);

// Whether one stdout line is the result object: the CLI has nothing more to say after it.
bool is_result_line(std::string_view line);

// For the CLI's `system` `init` line (the first it prints for a run), when it lists its
// agents and `agent` is not among them: what is wrong, for people. Otherwise nothing. (With
// stream-json input the CLI runs an unknown --agent as its default agent instead of failing.)
std::optional<std::string> unknown_agent(std::string_view line, std::string_view agent);

// The answer as the reference app extracts it: `result` when it is a non-empty string,
// else the trimmed raw stdout.
std::string answer_text(const CliResult& parsed, std::string_view stdout_text);

// One line on why a run failed, for people: the CLI's own message where it gives one
// (result text of an API error, `errors`, stderr), else the exit code.
std::string failure_reason(const CliResult& parsed, std::string_view stderr_text, int exit_code);

}  // namespace cas::agent
