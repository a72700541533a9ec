// What a caller may choose about one run beyond its agent and prompt, each passed to the CLI
// as its flag (cli_command.cpp): the model to fall back to, the tools offered or withheld, a
// turn limit, text added to the system prompt, the effort level, and a JSON Schema the answer
// must follow (the CLI then answers through its StructuredOutput tool). Validated where they
// come in (api/run_options_request.hpp); here they are only carried, stored and compared.
#pragma once

#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cas::agent {

struct RunOptions {
    std::optional<std::string> fallback_model;
    std::vector<std::string> allowed_tools;
    std::vector<std::string> disallowed_tools;
    std::optional<std::int64_t> max_turns;
    std::optional<std::string> append_system_prompt;
    std::optional<std::string> effort;
    std::optional<std::string> json_schema;  // a JSON Schema object, serialized
    bool operator==(const RunOptions&) const = default;
};

// The options that are set, by their request names ({} when none): the job record's
// `run_options`, read back by run_options_from_json.
boost::json::object to_json(const RunOptions& options);
// The inverse; throws std::invalid_argument on a value it cannot read.
RunOptions run_options_from_json(const boost::json::value& value);

// The effort levels the CLI knows (--effort).
inline constexpr std::string_view kEffortLevels[] = {"low", "medium", "high", "xhigh", "max"};

}  // namespace cas::agent
