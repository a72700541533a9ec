#include "api/messages_request.hpp"

#include "util/utf8.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>

namespace cas::api {
namespace json = boost::json;
namespace {

using Error = ChatRequestError;

Error invalid(std::string path, std::string_view problem) {
    return Error{fmt::format("{}: {}", path, problem), std::move(path)};
}

std::optional<Error> unclean(std::string_view text, const std::string& path) {
    if (text.find('\0') == std::string_view::npos && is_valid_utf8(text)) return std::nullopt;
    return invalid(path, "must be valid UTF-8 text without NUL characters");
}

// A string, or text blocks (other block types refused by name).
std::variant<std::string, Error> blocks_text(const json::value& content, const std::string& path) {
    if (content.is_string()) return std::string(content.as_string());
    if (!content.is_array()) return invalid(path, "must be a string or an array of content blocks");
    std::string text;
    std::size_t index = 0;
    for (const auto& block : content.as_array()) {
        auto block_path = fmt::format("{}.{}", path, index++);
        const auto* obj = block.if_object();
        const auto* type = obj != nullptr ? obj->if_contains("type") : nullptr;
        if (type == nullptr || !type->is_string()) {
            return invalid(block_path, "must be an object with a 'type'");
        }
        if (type->as_string() != "text") {
            return invalid(block_path + ".type",
                           fmt::format("content block type '{}' is not supported (only 'text': "
                                       "the agent reads text and runs its own tools)",
                                       std::string_view(type->as_string())));
        }
        const auto* block_text = obj->if_contains("text");
        if (block_text == nullptr || !block_text->is_string()) {
            return invalid(block_path + ".text", "must be a string");
        }
        if (!text.empty()) text += "\n";
        text += block_text->as_string();
    }
    return text;
}

std::variant<ChatMessage, Error> read_message(const json::value& value, const std::string& path) {
    const auto* message = value.if_object();
    if (message == nullptr) return invalid(path, "must be an object");
    const auto* role = message->if_contains("role");
    if (role == nullptr || !role->is_string() ||
        (role->as_string() != "user" && role->as_string() != "assistant")) {
        return invalid(path + ".role", "must be 'user' or 'assistant'");
    }
    const auto* content = message->if_contains("content");
    if (content == nullptr) return invalid(path + ".content", "Field required");
    auto text = blocks_text(*content, path + ".content");
    if (auto* error = std::get_if<Error>(&text)) return *error;
    auto& body = std::get<std::string>(text);
    if (body.empty()) return invalid(path + ".content", "must not be empty");  // as Anthropic's
    if (auto error = unclean(body, path + ".content")) return *error;
    return ChatMessage{std::string(role->as_string()), std::move(body), {}};
}

// The fields an agent run cannot honour, when they ask for something.
std::optional<Error> refuse_unhonourable(const json::object& body) {
    auto present = [&](std::string_view field) -> const json::value* {
        const auto* value = body.if_contains(field);
        return value == nullptr || value->is_null() ? nullptr : value;
    };
    if (const auto* tools = present("tools");
        tools != nullptr && !(tools->is_array() && tools->as_array().empty())) {
        return invalid("tools", "tools are not supported: the agent runs its own tools");
    }
    if (const auto* stops = present("stop_sequences");
        stops != nullptr && !(stops->is_array() && stops->as_array().empty())) {
        return invalid("stop_sequences", "stop sequences are not supported by the agent's CLI");
    }
    return std::nullopt;
}

}  // namespace

std::variant<MessagesRequest, ChatRequestError> parse_messages_request(
    const json::object& body, const std::vector<std::string>& models, const RunPolicy& policy) {
    MessagesRequest out;
    const auto* model = body.if_contains("model");
    if (model == nullptr || model->is_null()) return invalid("model", "Field required");
    if (!model->is_string()) return invalid("model", "must be a string");
    out.model = model->as_string();

    const auto* max_tokens = body.if_contains("max_tokens");
    if (max_tokens == nullptr || max_tokens->is_null()) {
        return invalid("max_tokens", "Field required");
    }
    auto cap = positive_integer(body, "max_tokens");
    if (std::holds_alternative<Error>(cap)) {
        return invalid("max_tokens", "must be an integer from 1 to 2147483647");
    }
    out.max_tokens = *std::get<std::optional<std::int64_t>>(cap);

    if (auto error = refuse_unhonourable(body)) return *error;
    std::vector<RunOptionProblem> problems;
    out.options = read_run_options(body, policy, false, problems).options;
    if (!problems.empty()) return as_request_error(problems.front());
    if (const auto* stream = body.if_contains("stream"); stream != nullptr && !stream->is_null()) {
        if (!stream->is_bool()) return invalid("stream", "must be a boolean");
        out.stream = stream->as_bool();
    }
    if (const auto* metadata = body.if_contains("metadata");
        metadata != nullptr && !metadata->is_null() && !metadata->is_object()) {
        return invalid("metadata", "must be an object");
    }
    if (const auto* system = body.if_contains("system"); system != nullptr && !system->is_null()) {
        auto text = blocks_text(*system, "system");
        if (auto* error = std::get_if<Error>(&text)) return *error;
        auto& instructions = std::get<std::string>(text);
        if (auto error = unclean(instructions, "system")) return *error;
        if (!instructions.empty()) out.messages.push_back({"system", std::move(instructions), {}});
    }
    const auto* messages = body.if_contains("messages");
    if (messages == nullptr || !messages->is_array() || messages->as_array().empty()) {
        return invalid("messages", "must be a non-empty array");
    }
    std::size_t index = 0;
    for (const auto& value : messages->as_array()) {
        auto message = read_message(value, fmt::format("messages.{}", index++));
        if (auto* error = std::get_if<Error>(&message)) return *error;
        out.messages.push_back(std::get<ChatMessage>(std::move(message)));
    }
    if (out.messages.back().role != "user") {
        return invalid(fmt::format("messages.{}", index - 1),
                       "the last message must be the user's: a prefilled assistant answer "
                       "cannot be continued by the agent");
    }
    if (std::find(models.begin(), models.end(), out.model) == models.end()) {
        return Error{fmt::format("model: {} (supported: {})", out.model, comma_list(models)),
                     "model", Error::Kind::unsupported_model};
    }
    return out;
}

}  // namespace cas::api
