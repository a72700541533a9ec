#include "agent/run_options.hpp"

#include <boost/json.hpp>

#include <stdexcept>

namespace cas::agent {
namespace json = boost::json;

namespace {

json::array to_array(const std::vector<std::string>& items) {
    json::array out;
    for (const auto& item : items) out.emplace_back(item);
    return out;
}

std::optional<std::string> text(const json::object& obj, std::string_view key) {
    const auto* value = obj.if_contains(key);
    if (value == nullptr || value->is_null()) return std::nullopt;
    if (!value->is_string()) throw std::invalid_argument(std::string(key) + " is not a string");
    return std::string(value->as_string());
}

std::vector<std::string> texts(const json::object& obj, std::string_view key) {
    std::vector<std::string> out;
    const auto* value = obj.if_contains(key);
    if (value == nullptr || value->is_null()) return out;
    if (!value->is_array()) throw std::invalid_argument(std::string(key) + " is not an array");
    for (const auto& item : value->as_array()) {
        if (!item.is_string())
            throw std::invalid_argument(std::string(key) + " holds a non-string");
        out.emplace_back(item.as_string());
    }
    return out;
}

}  // namespace

json::object to_json(const RunOptions& options) {
    json::object out;
    if (options.fallback_model) out["fallback_model"] = *options.fallback_model;
    if (!options.allowed_tools.empty()) out["allowed_tools"] = to_array(options.allowed_tools);
    if (!options.disallowed_tools.empty())
        out["disallowed_tools"] = to_array(options.disallowed_tools);
    if (options.max_turns) out["max_turns"] = *options.max_turns;
    if (options.append_system_prompt) out["append_system_prompt"] = *options.append_system_prompt;
    if (options.effort) out["effort"] = *options.effort;
    if (options.json_schema) out["json_schema"] = json::parse(*options.json_schema);
    return out;
}

RunOptions run_options_from_json(const json::value& value) {
    RunOptions options;
    if (value.is_null()) return options;
    if (!value.is_object()) throw std::invalid_argument("run_options is not an object");
    const auto& obj = value.as_object();
    options.fallback_model = text(obj, "fallback_model");
    options.allowed_tools = texts(obj, "allowed_tools");
    options.disallowed_tools = texts(obj, "disallowed_tools");
    if (const auto* turns = obj.if_contains("max_turns"); turns != nullptr && !turns->is_null()) {
        if (!turns->is_int64()) throw std::invalid_argument("max_turns is not an integer");
        options.max_turns = turns->as_int64();
    }
    options.append_system_prompt = text(obj, "append_system_prompt");
    options.effort = text(obj, "effort");
    if (const auto* schema = obj.if_contains("json_schema");
        schema != nullptr && !schema->is_null()) {
        if (!schema->is_object()) throw std::invalid_argument("json_schema is not an object");
        options.json_schema = json::serialize(*schema);
    }
    return options;
}

}  // namespace cas::agent
