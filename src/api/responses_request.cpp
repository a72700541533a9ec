// OpenAI's limits on metadata: 16 pairs, keys up to 64 characters, values up to 512.
#include "api/responses_request.hpp"

#include "util/utf8.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>

namespace cas::api {
namespace json = boost::json;
namespace {

using Error = ChatRequestError;

bool clean_text(std::string_view text) {
    return text.find('\0') == std::string_view::npos && is_valid_utf8(text);
}

std::optional<Error> unclean(std::string_view text, const std::string& param) {
    if (clean_text(text)) return std::nullopt;
    return Error{param + " must be valid UTF-8 text without NUL characters", param};
}

// An input message's content: a string, or input_text / output_text parts.
std::variant<std::string, Error> content_text(const json::value* content,
                                              const std::string& param) {
    if (content == nullptr || content->is_null()) return Error{param + " is required", param};
    if (content->is_string()) return std::string(content->as_string());
    if (!content->is_array()) return Error{param + " must be a string or an array of parts", param};
    std::string text;
    std::size_t index = 0;
    for (const auto& part : content->as_array()) {
        auto part_param = fmt::format("{}[{}]", param, index++);
        const auto* obj = part.if_object();
        const auto* type = obj != nullptr ? obj->if_contains("type") : nullptr;
        if (type == nullptr || !type->is_string()) {
            return Error{part_param + " must be an object with a 'type'", part_param};
        }
        if (type->as_string() != "input_text" && type->as_string() != "output_text") {
            return Error{fmt::format("content part type '{}' is not supported (only input_text "
                                     "and output_text: the agent reads text)",
                                     std::string_view(type->as_string())),
                         part_param + ".type"};
        }
        const auto* part_text = obj->if_contains("text");
        if (part_text == nullptr || !part_text->is_string()) {
            return Error{part_param + ".text must be a string", part_param + ".text"};
        }
        if (!text.empty()) text += "\n";
        text += part_text->as_string();
    }
    return text;
}

// The response holding output message `item_id` (msg_<hex> → resp_<hex>), if it is one of ours.
std::optional<std::string> response_of_item(const json::value* item_id) {
    constexpr std::string_view kPrefix = "msg_";
    if (item_id == nullptr || !item_id->is_string()) return std::nullopt;
    std::string_view id = item_id->as_string();
    if (!id.starts_with(kPrefix) || id.size() != kPrefix.size() + 24) return std::nullopt;
    auto hex = id.substr(kPrefix.size());
    bool ok = std::all_of(hex.begin(), hex.end(),
                          [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
    if (!ok) return std::nullopt;
    return "resp_" + std::string(hex);
}

// A message item, or (`reference` set) an item_reference to an earlier output message.
std::variant<ChatMessage, Error> input_item(const json::value& value, const std::string& param,
                                            std::optional<std::string>& reference) {
    const auto* item = value.if_object();
    if (item == nullptr) return Error{param + " must be an object", param};
    if (const auto* type = item->if_contains("type"); type != nullptr && !type->is_null()) {
        if (!type->is_string()) return Error{param + ".type must be a string", param + ".type"};
        if (type->as_string() == "item_reference") {
            reference = response_of_item(item->if_contains("id"));
            if (!reference) {
                return Error{param + ".id must name an output message of this service (msg_…)",
                             param + ".id"};
            }
            return ChatMessage{"assistant", {}, {}};
        }
        if (type->as_string() != "message") {
            return Error{fmt::format("input item type '{}' is not supported (only message items "
                                     "and item_reference: the agent runs its own tools)",
                                     std::string_view(type->as_string())),
                         param + ".type"};
        }
    }
    const auto* role = item->if_contains("role");
    static constexpr std::string_view kRoles[] = {"user", "assistant", "system", "developer"};
    if (role == nullptr || !role->is_string() ||
        std::find(std::begin(kRoles), std::end(kRoles), role->as_string()) == std::end(kRoles)) {
        return Error{param + ".role must be one of user, assistant, system, developer",
                     param + ".role"};
    }
    auto content = content_text(item->if_contains("content"), param + ".content");
    if (auto* error = std::get_if<Error>(&content)) return *error;
    auto text = std::get<std::string>(std::move(content));
    if (auto error = unclean(text, param + ".content")) return *error;
    std::string role_name(role->as_string());
    if (role_name == "developer") role_name = "system";
    return ChatMessage{role_name, std::move(text), {}};
}

std::optional<Error> read_input(const json::value* input, ResponsesRequest& out) {
    if (input == nullptr || input->is_null()) return Error{"'input' is required", "input"};
    if (input->is_string()) {
        if (auto error = unclean(input->as_string(), "input")) return error;
        out.messages.push_back({"user", std::string(input->as_string()), {}});
        return std::nullopt;
    }
    if (!input->is_array() || input->as_array().empty()) {
        return Error{"'input' must be a string or a non-empty array of message items", "input"};
    }
    std::size_t index = 0;
    for (const auto& value : input->as_array()) {
        std::optional<std::string> reference;
        auto parsed = input_item(value, fmt::format("input[{}]", index++), reference);
        if (auto* error = std::get_if<Error>(&parsed)) return *error;
        if (reference) out.item_references.push_back({out.messages.size(), std::move(*reference)});
        out.messages.push_back(std::get<ChatMessage>(std::move(parsed)));
    }
    return std::nullopt;
}

std::optional<Error> read_metadata(const json::value* metadata, json::object& out) {
    if (metadata == nullptr || metadata->is_null()) return std::nullopt;
    if (!metadata->is_object()) return Error{"'metadata' must be an object", "metadata"};
    if (metadata->as_object().size() > 16) {
        return Error{"'metadata' may have at most 16 keys", "metadata"};
    }
    for (const auto& [key, value] : metadata->as_object()) {
        if (key.size() > 64 || !clean_text(key)) {
            return Error{"metadata keys must be text of at most 64 characters", "metadata"};
        }
        if (!value.is_string() || value.as_string().size() > 512 ||
            !clean_text(value.as_string())) {
            return Error{fmt::format("metadata['{}'] must be a string of at most 512 characters",
                                     std::string_view(key)),
                         "metadata"};
        }
    }
    out = metadata->as_object();
    return std::nullopt;
}

// The fields an agent run cannot honour, when they ask for something.
std::optional<Error> refuse_unhonourable(const json::object& body) {
    auto present = [&](std::string_view field) -> const json::value* {
        const auto* value = body.if_contains(field);
        return value == nullptr || value->is_null() ? nullptr : value;
    };
    if (const auto* tools = present("tools");
        tools != nullptr && !(tools->is_array() && tools->as_array().empty())) {
        return Error{"'tools' is not supported: the agent runs its own tools", "tools"};
    }
    if (const auto* choice = present("tool_choice");
        choice != nullptr && *choice != json::value("auto") && *choice != json::value("none")) {
        return Error{R"('tool_choice' must be "auto" or "none": no tools can be given)",
                     "tool_choice"};
    }
    if (const auto* background = present("background");
        background != nullptr && *background != json::value(false)) {
        return Error{"'background' is not supported: a response runs while its request is open",
                     "background"};
    }
    for (std::string_view field : {"conversation", "prompt"}) {
        if (present(field) != nullptr) {
            return Error{fmt::format("'{}' is not supported (use previous_response_id to "
                                     "continue a response)",
                                     field),
                         std::string(field)};
        }
    }
    return std::nullopt;
}

// text.format: the answer's JSON Schema, if it asks for one.
std::optional<Error> read_text_format(const json::object& body, const RunPolicy& policy,
                                      ResponsesRequest& out) {
    auto& options = out.options;
    const auto* text = body.if_contains("text");
    if (text == nullptr || text->is_null()) return std::nullopt;
    if (!text->is_object()) return Error{"'text' must be an object", "text"};
    const auto* format = text->as_object().if_contains("format");
    if (format == nullptr || format->is_null()) return std::nullopt;
    auto read = read_output_format(*format, "text.format", false, policy);
    if (auto* problem = std::get_if<RunOptionProblem>(&read)) return as_request_error(*problem);
    if (auto& schema = std::get<OutputFormat>(read).json_schema) {
        if (options.json_schema) {
            return Error{"give the answer's schema once: text.format or json_schema",
                         "text.format"};
        }
        options.json_schema = std::move(schema);
    }
    out.text_format = format->as_object();
    return std::nullopt;
}

std::optional<Error> read_flag(const json::object& body, std::string_view field, bool& out) {
    const auto* value = body.if_contains(field);
    if (value == nullptr || value->is_null()) return std::nullopt;
    if (!value->is_bool()) {
        return Error{fmt::format("'{}' must be a boolean", field), std::string(field)};
    }
    out = value->as_bool();
    return std::nullopt;
}

}  // namespace

std::variant<ResponsesRequest, ChatRequestError> parse_responses_request(const json::object& body,
                                                                         ChatModels models,
                                                                         const RunPolicy& policy) {
    ResponsesRequest out;
    out.model = models.default_model;
    if (const auto* model = body.if_contains("model"); model != nullptr && !model->is_null()) {
        if (!model->is_string()) return Error{"'model' must be a string", "model"};
        out.model = model->as_string();
    }
    if (auto error = refuse_unhonourable(body)) return *error;
    std::vector<RunOptionProblem> problems;
    out.options = read_run_options(body, policy, false, problems).options;
    if (!problems.empty()) return as_request_error(problems.front());
    if (auto error = read_text_format(body, policy, out)) return *error;
    if (auto error = read_flag(body, "stream", out.stream)) return *error;
    if (auto error = read_flag(body, "store", out.store)) return *error;
    if (const auto* previous = body.if_contains("previous_response_id");
        previous != nullptr && !previous->is_null()) {
        if (!previous->is_string() || previous->as_string().empty() ||
            previous->as_string().size() > 128 || !clean_text(previous->as_string())) {
            return Error{"'previous_response_id' must be a response id", "previous_response_id"};
        }
        out.previous_response_id = std::string(previous->as_string());
    }
    auto cap = positive_integer(body, "max_output_tokens");
    if (auto* error = std::get_if<Error>(&cap)) return *error;
    out.max_output_tokens = std::get<std::optional<std::int64_t>>(cap);
    if (auto error = read_metadata(body.if_contains("metadata"), out.metadata)) return *error;
    if (const auto* instructions = body.if_contains("instructions");
        instructions != nullptr && !instructions->is_null()) {
        if (!instructions->is_string()) {
            return Error{"'instructions' must be a string", "instructions"};
        }
        if (auto error = unclean(instructions->as_string(), "instructions")) return *error;
        out.instructions = instructions->as_string();
        if (!out.instructions.empty()) out.messages.push_back({"system", out.instructions, {}});
    }
    if (auto error = read_input(body.if_contains("input"), out)) return *error;
    if (std::none_of(out.messages.begin(), out.messages.end(),
                     [](const ChatMessage& m) { return m.role == "user"; })) {
        return Error{"'input' must contain at least one user message", "input"};
    }
    if (auto error = check_model(out.model, models)) return *error;
    return out;
}

}  // namespace cas::api
