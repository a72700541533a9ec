// Run options from a request (POST /execute's fields, the same names as extra fields of a chat
// completion): each checked for its type and shape, then against the operator's policy.
// Pure; each API answers the problems in its own error shape (422 on jobs, 400 on /v1).
#pragma once

#include "agent/run_options.hpp"

#include <boost/json/fwd.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace cas::api {

// Every run option a request may carry, by its request name.
inline constexpr std::string_view kRunOptionNames[] = {
    "model",     "fallback_model",       "allowed_tools", "disallowed_tools",
    "max_turns", "append_system_prompt", "effort",        "json_schema"};

// What the operator lets callers choose (RUN_OPTIONS, MAX_TURNS_LIMIT, ALLOWED_MODELS).
struct RunPolicy {
    std::vector<std::string> callers_may_set{std::begin(kRunOptionNames),
                                             std::end(kRunOptionNames)};
    std::optional<std::int64_t> max_turns_limit;
    // The models a job may name as `model` or any run as `fallback_model`; empty: any.
    std::vector<std::string> allowed_models;
};

// Bounds on what reaches the CLI's command line (one argument may hold 128 KiB).
inline constexpr std::size_t kMaxToolsPerList = 128;
inline constexpr std::size_t kMaxToolPatternBytes = 256;
inline constexpr std::size_t kMaxAppendSystemPromptBytes = 32U * 1024U;
inline constexpr std::size_t kMaxJsonSchemaBytes = 64U * 1024U;
inline constexpr unsigned kMaxJsonSchemaDepth = 32;
inline constexpr std::int64_t kMaxTurns = 10000;

struct RunOptionProblem {
    std::string option;  // its request name, e.g. "allowed_tools" or "allowed_tools[2]"
    std::string message;
    bool refused_by_policy = false;  // well-formed, but the operator does not allow it
};

struct RequestedRun {
    std::optional<std::string> model;
    agent::RunOptions options;
};

// The run options `body` sets (a null is not set). `model` is read only with `read_model`:
// a chat completion's model is its own (checked against OPENAI_MODELS by its parser).
RequestedRun read_run_options(const boost::json::object& body, const RunPolicy& policy,
                              bool read_model, std::vector<RunOptionProblem>& problems);

// The JSON Schema an OpenAI output format asks for: chat's `response_format` ({type:
// json_schema, json_schema: {name, schema, strict}}, nested) or the Responses API's
// `text.format` ({type: json_schema, name, schema, strict}, flat). {type: json_object} asks
// for any object ({"type":"object"}); {type: text} for none. `param` names the format in a
// problem; the policy's RUN_OPTIONS must allow json_schema for either of the others.
struct OutputFormat {
    std::optional<std::string> json_schema;  // serialized, as RunOptions keeps it
};
std::variant<OutputFormat, RunOptionProblem> read_output_format(const boost::json::value& format,
                                                                std::string_view param, bool nested,
                                                                const RunPolicy& policy);

// Why `schema` cannot be a run's JSON Schema (not an object, too large or deep, a number
// that is not finite), or nothing; `option` names it in the message.
std::optional<std::string> json_schema_problem(const boost::json::value& schema,
                                               std::string_view option);

// Why a text is not a tool name or CLI tool pattern (`Bash`, `Bash(git:*)`), or nothing.
std::optional<std::string> tool_pattern_problem(std::string_view tool);

// Why a text is not a model name (letters, digits and . _ : - / @ [ ], 1 to 128, not
// starting with '-'), or nothing.
std::optional<std::string> model_name_problem(std::string_view name);

}  // namespace cas::api
