// A tool is named as the CLI's permission rules write it: a name (`Bash`, `mcp__github__
// create_issue`, `Read`) and optionally a rule in parentheses (`Bash(git:*)`, `Edit(src/**)`).
// Nothing else reaches its command line: no flag-like value, no control character, nothing
// the CLI's comma-or-space list splitting could read as a second tool.
#include "api/run_options_request.hpp"

#include "api/chat_request.hpp"
#include "util/json_limits.hpp"
#include "util/utf8.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <span>

namespace cas::api {
namespace json = boost::json;

namespace {

bool is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '*';
}

unsigned depth_of(const json::value& value) {
    unsigned deepest = 0;
    if (const auto* obj = value.if_object()) {
        for (const auto& member : *obj) deepest = std::max(deepest, depth_of(member.value()));
        return deepest + 1;
    }
    if (const auto* arr = value.if_array()) {
        for (const auto& item : *arr) deepest = std::max(deepest, depth_of(item));
        return deepest + 1;
    }
    return 0;
}

class OptionReader {
public:
    OptionReader(const json::object& body, const RunPolicy& policy,
                 std::vector<RunOptionProblem>& problems)
        : body_(body), policy_(policy), problems_(problems) {}

    // The option's value when it is set and the policy lets callers set it.
    const json::value* find(std::string_view option) {
        const auto* value = body_.if_contains(option);
        if (value == nullptr || value->is_null()) return nullptr;
        const auto& allowed = policy_.callers_may_set;
        if (std::find(allowed.begin(), allowed.end(), option) == allowed.end()) {
            refuse(
                option,
                fmt::format("this service does not let callers set '{}' (its "
                            "RUN_OPTIONS: {})",
                            option, allowed.empty() ? std::string("none") : comma_list(allowed)));
            return nullptr;
        }
        return value;
    }
    std::optional<std::string> text(std::string_view option, std::size_t max_bytes) {
        const auto* value = find(option);
        if (value == nullptr) return std::nullopt;
        if (!value->is_string()) return fail(option, "must be a string");
        std::string text(value->as_string());
        if (text.empty() || text.size() > max_bytes) {
            return fail(option, fmt::format("must be 1 to {} bytes", max_bytes));
        }
        if (text.find('\0') != std::string::npos || !is_valid_utf8(text)) {
            return fail(option, "must be valid UTF-8 text without NUL characters");
        }
        return text;
    }
    std::optional<std::string> model(std::string_view option) {
        auto name = text(option, 128);
        if (!name) return std::nullopt;
        if (auto problem = model_name_problem(*name)) return fail(option, *problem);
        const auto& allowed = policy_.allowed_models;
        if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), *name) == allowed.end()) {
            refuse(option, fmt::format("model '{}' is not allowed here (ALLOWED_MODELS: {})", *name,
                                       comma_list(allowed)));
            return std::nullopt;
        }
        return name;
    }
    std::vector<std::string> tools(std::string_view option) {
        std::vector<std::string> out;
        const auto* value = find(option);
        if (value == nullptr) return out;
        if (!value->is_array() || value->as_array().size() > kMaxToolsPerList) {
            fail(option, fmt::format("must be an array of at most {} tool names or patterns",
                                     kMaxToolsPerList));
            return out;
        }
        std::size_t index = 0;
        for (const auto& item : value->as_array()) {
            auto at = fmt::format("{}[{}]", option, index++);
            if (!item.is_string()) {
                fail(at, "must be a string");
                continue;
            }
            if (auto problem = tool_pattern_problem(item.as_string())) {
                fail(at, *problem);
                continue;
            }
            out.emplace_back(item.as_string());
        }
        return out;
    }
    std::optional<std::int64_t> turns(std::string_view option) {
        const auto* value = find(option);
        if (value == nullptr) return std::nullopt;
        auto limit = policy_.max_turns_limit.value_or(kMaxTurns);
        std::int64_t turns = 0;
        if (value->is_int64()) {
            turns = value->as_int64();
        } else if (!value->is_uint64()) {
            return fail(option, "must be an integer");
        } else {
            turns = kMaxTurns + 1;  // more than anything allowed
        }
        if (turns < 1) return fail(option, "must be at least 1");
        if (turns > limit) {
            if (policy_.max_turns_limit) {
                refuse(option,
                       fmt::format("must be at most {} (this service's MAX_TURNS_LIMIT)", limit));
                return std::nullopt;
            }
            return fail(option, fmt::format("must be at most {}", limit));
        }
        return turns;
    }
    std::optional<std::string> one_of(std::string_view option,
                                      std::span<const std::string_view> choices) {
        const auto* value = find(option);
        if (value == nullptr) return std::nullopt;
        if (!value->is_string() ||
            std::find(choices.begin(), choices.end(), value->as_string()) == choices.end()) {
            std::vector<std::string> names(choices.begin(), choices.end());
            return fail(option, "must be one of " + comma_list(names));
        }
        return std::string(value->as_string());
    }
    std::optional<std::string> schema(std::string_view option) {
        const auto* value = find(option);
        if (value == nullptr) return std::nullopt;
        if (auto problem = json_schema_problem(*value, option)) return fail(option, *problem);
        return json::serialize(*value);
    }

private:
    std::nullopt_t fail(std::string_view option, std::string message) {
        problems_.push_back({std::string(option), std::move(message), false});
        return std::nullopt;
    }
    void refuse(std::string_view option, std::string message) {
        problems_.push_back({std::string(option), std::move(message), true});
    }
    const json::object& body_;
    const RunPolicy& policy_;
    std::vector<RunOptionProblem>& problems_;
};

}  // namespace

std::optional<std::string> tool_pattern_problem(std::string_view tool) {
    if (tool.empty() || tool.size() > kMaxToolPatternBytes) {
        return fmt::format("must be 1 to {} bytes", kMaxToolPatternBytes);
    }
    auto open = tool.find('(');
    auto name = tool.substr(0, open);
    if (name.empty() || name.front() == '-' ||
        !std::all_of(name.begin(), name.end(), is_name_char)) {
        return "must be a tool name (letters, digits, '_', '-', '*'), optionally followed by a "
               "rule in parentheses, e.g. Bash(git:*)";
    }
    if (open == std::string_view::npos) return std::nullopt;
    auto rule = tool.substr(open + 1);
    if (rule.empty() || rule.back() != ')') return "a rule must end with ')'";
    rule.remove_suffix(1);
    bool clean = std::none_of(rule.begin(), rule.end(), [](char c) {
        return static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == '(' || c == ')';
    });
    if (!clean || !is_valid_utf8(rule)) {
        return "a rule must be UTF-8 text without control characters or nested parentheses";
    }
    return std::nullopt;
}

std::optional<std::string> model_name_problem(std::string_view name) {
    auto ok = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == ':' || c == '-' || c == '/' || c == '@' || c == '[' ||
               c == ']';
    };
    if (name.empty() || name.size() > 128 || name.front() == '-' ||
        !std::all_of(name.begin(), name.end(), ok)) {
        return "must be a model name: 1 to 128 letters, digits and . _ : - / @ [ ], not "
               "starting with '-'";
    }
    return std::nullopt;
}

std::optional<std::string> json_schema_problem(const json::value& schema, std::string_view option) {
    if (!schema.is_object()) return fmt::format("'{}' must be a JSON Schema object", option);
    if (depth_of(schema) > kMaxJsonSchemaDepth) {
        return fmt::format("'{}' must be nested at most {} levels deep", option,
                           kMaxJsonSchemaDepth);
    }
    if (!all_finite(schema)) return fmt::format("'{}' numbers must be finite", option);
    if (json::serialize(schema).size() > kMaxJsonSchemaBytes) {
        return fmt::format("'{}' must be at most {} bytes as JSON", option, kMaxJsonSchemaBytes);
    }
    return std::nullopt;
}

std::variant<OutputFormat, RunOptionProblem> read_output_format(const json::value& format,
                                                                std::string_view param, bool nested,
                                                                const RunPolicy& policy) {
    auto problem = [&](std::string where, std::string message, bool refused = false) {
        return RunOptionProblem{std::move(where), std::move(message), refused};
    };
    const auto* obj = format.if_object();
    const auto* type = obj != nullptr ? obj->if_contains("type") : nullptr;
    if (type == nullptr || !type->is_string()) {
        return problem(std::string(param),
                       fmt::format("'{}' must be an object with a 'type'", param));
    }
    std::string_view kind = type->as_string();
    if (kind == "text") return OutputFormat{};
    if (kind != "json_schema" && kind != "json_object") {
        return problem(fmt::format("{}.type", param),
                       fmt::format("'{}' type must be text, json_schema or json_object", param));
    }
    const auto& allowed = policy.callers_may_set;
    if (std::find(allowed.begin(), allowed.end(), "json_schema") == allowed.end()) {
        return problem(std::string(param),
                       fmt::format("this service does not let callers set a JSON answer format "
                                   "(json_schema is not in its RUN_OPTIONS)"),
                       true);
    }
    if (kind == "json_object") return OutputFormat{R"({"type":"object"})"};
    const json::object* holder = obj;
    std::string where(param);
    if (nested) {
        where += ".json_schema";
        const auto* inner = obj->if_contains("json_schema");
        holder = inner != nullptr ? inner->if_object() : nullptr;
        if (holder == nullptr) return problem(where, fmt::format("'{}' must be an object", where));
    }
    const auto* name = holder->if_contains("name");
    if (name == nullptr || !name->is_string() || name->as_string().empty() ||
        name->as_string().size() > 64 ||
        !std::all_of(name->as_string().begin(), name->as_string().end(), is_name_char) ||
        name->as_string().find('*') != json::string::npos) {
        return problem(where + ".name",
                       fmt::format("'{}.name' must be 1 to 64 letters, digits, '_' or '-'", where));
    }
    if (const auto* strict = holder->if_contains("strict");
        strict != nullptr && !strict->is_null() && !strict->is_bool()) {
        return problem(where + ".strict", fmt::format("'{}.strict' must be a boolean", where));
    }
    const auto* schema = holder->if_contains("schema");
    if (schema == nullptr || schema->is_null()) {
        return problem(where + ".schema", fmt::format("'{}.schema' is required: the JSON Schema "
                                                      "the answer must follow",
                                                      where));
    }
    if (auto bad = json_schema_problem(*schema, where + ".schema")) {
        return problem(where + ".schema", *bad);
    }
    return OutputFormat{json::serialize(*schema)};
}

RequestedRun read_run_options(const json::object& body, const RunPolicy& policy, bool read_model,
                              std::vector<RunOptionProblem>& problems) {
    OptionReader read(body, policy, problems);
    RequestedRun run;
    if (read_model) run.model = read.model("model");
    auto& options = run.options;
    options.fallback_model = read.model("fallback_model");
    options.allowed_tools = read.tools("allowed_tools");
    options.disallowed_tools = read.tools("disallowed_tools");
    options.max_turns = read.turns("max_turns");
    options.append_system_prompt = read.text("append_system_prompt", kMaxAppendSystemPromptBytes);
    options.effort = read.one_of("effort", agent::kEffortLevels);
    options.json_schema = read.schema("json_schema");
    return run;
}

}  // namespace cas::api
