// Message content may be a string or an array of parts; only text parts can reach a CLI
// that reads text, so any other part type is refused by name rather than dropped.
#include "api/chat_request.hpp"

#include "util/utf8.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>

namespace cas::api {
namespace json = boost::json;
namespace {

using Error = ChatRequestError;

std::optional<Error> check_text(const std::string& text, const std::string& param) {
    if (text.find('\0') != std::string::npos || !is_valid_utf8(text)) {
        return Error{param + " must be valid UTF-8 text without NUL characters", param};
    }
    return std::nullopt;
}

// Content as text: a string, null (assistant turns that only call tools), or text parts.
std::variant<std::string, Error> content_text(const json::value* content, const std::string& param,
                                              bool null_ok) {
    if (content == nullptr || content->is_null()) {
        if (null_ok) return std::string();
        return Error{param + " is required", param};
    }
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
        if (type->as_string() != "text") {
            return Error{fmt::format("content part type '{}' is not supported (only 'text')",
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

// "name(arguments)" for each tool call an assistant turn made.
std::string describe_tool_calls(const json::value* calls) {
    std::string out;
    if (calls == nullptr || !calls->is_array()) return out;
    for (const auto& call : calls->as_array()) {
        const auto* fn = call.is_object() ? call.as_object().if_contains("function") : nullptr;
        if (fn == nullptr || !fn->is_object()) continue;
        const auto* name = fn->as_object().if_contains("name");
        const auto* args = fn->as_object().if_contains("arguments");
        if (!out.empty()) out += ", ";
        out += name != nullptr && name->is_string() ? std::string(name->as_string()) : "tool";
        out += "(";
        if (args != nullptr && args->is_string()) out += args->as_string();
        out += ")";
    }
    return out;
}

std::variant<ChatMessage, Error> parse_message(const json::value& item, const std::string& param) {
    const auto* message = item.if_object();
    if (message == nullptr) return Error{param + " must be an object", param};
    const auto* role_value = message->if_contains("role");
    static constexpr std::string_view kRoles[] = {"system", "developer", "user", "assistant",
                                                  "tool"};
    if (role_value == nullptr || !role_value->is_string() ||
        std::find(std::begin(kRoles), std::end(kRoles), role_value->as_string()) ==
            std::end(kRoles)) {
        return Error{param + ".role must be one of system, developer, user, assistant, tool",
                     param + ".role"};
    }
    std::string role(role_value->as_string());
    if (role == "developer") role = "system";  // OpenAI's newer name for the same thing

    auto content =
        content_text(message->if_contains("content"), param + ".content", role == "assistant");
    if (auto* error = std::get_if<Error>(&content)) return *error;
    ChatMessage out{role, std::get<std::string>(std::move(content)), {}};
    if (role == "assistant") {
        out.name = describe_tool_calls(message->if_contains("tool_calls"));
    } else if (role == "tool") {
        const auto* id = message->if_contains("tool_call_id");
        if (id != nullptr && id->is_string()) out.name = id->as_string();
    }
    if (auto error = check_text(out.content, param + ".content")) return *error;
    if (auto error = check_text(out.name, param)) return *error;
    return out;
}

void append_section(std::string& prompt, std::string_view section) {
    if (!prompt.empty()) prompt += "\n\n---\n\n";
    prompt += section;
}

}  // namespace

std::optional<ChatRequestError> check_model(const std::string& model, ChatModels models) {
    if (std::find(models.supported.begin(), models.supported.end(), model) !=
        models.supported.end()) {
        return std::nullopt;
    }
    return Error{
        fmt::format("unsupported model '{}'; supported: {}", model, comma_list(models.supported)),
        "model", Error::Kind::unsupported_model};
}

std::string comma_list(const std::vector<std::string>& items) {
    std::string list;
    for (const auto& item : items) list += (list.empty() ? "" : ", ") + item;
    return list;
}

std::variant<std::optional<std::int64_t>, ChatRequestError> positive_integer(
    const json::object& body, std::string_view field) {
    const auto* value = body.if_contains(field);
    if (value == nullptr || value->is_null()) return std::optional<std::int64_t>();
    // Up to 2^31 - 1: more than any model writes in one call.
    constexpr std::int64_t kMax = 2147483647;
    if (value->is_int64() && value->as_int64() >= 1 && value->as_int64() <= kMax) {
        return std::optional<std::int64_t>(value->as_int64());
    }
    if (value->is_uint64() && value->as_uint64() >= 1 && value->as_uint64() <= kMax) {
        return std::optional<std::int64_t>(static_cast<std::int64_t>(value->as_uint64()));
    }
    return Error{fmt::format("'{}' must be an integer from 1 to {}", field, kMax),
                 std::string(field)};
}

ChatRequestError as_request_error(const RunOptionProblem& problem) {
    return Error{fmt::format("{}: {}", problem.option, problem.message), problem.option};
}

std::variant<ChatRequest, ChatRequestError> parse_chat_request(const json::object& body,
                                                               ChatModels models,
                                                               const RunPolicy& policy) {
    ChatRequest out;
    out.model = models.default_model;
    if (const auto* model = body.if_contains("model"); model != nullptr && !model->is_null()) {
        if (!model->is_string()) return Error{"'model' must be a string", "model"};
        out.model = model->as_string();
    }
    if (const auto* n = body.if_contains("n"); n != nullptr && !n->is_null()) {
        if (!(n->is_int64() && n->as_int64() == 1) && !(n->is_uint64() && n->as_uint64() == 1)) {
            return Error{"only n=1 is supported: an agent run produces one answer", "n"};
        }
    }
    if (const auto* stream = body.if_contains("stream"); stream != nullptr && !stream->is_null()) {
        if (!stream->is_bool()) return Error{"'stream' must be a boolean", "stream"};
        out.stream = stream->as_bool();
    }
    if (const auto* options = body.if_contains("stream_options");
        options != nullptr && !options->is_null()) {
        if (!options->is_object())
            return Error{"'stream_options' must be an object", "stream_options"};
        if (const auto* usage = options->as_object().if_contains("include_usage")) {
            if (!usage->is_bool()) {
                return Error{"'include_usage' must be a boolean", "stream_options.include_usage"};
            }
            out.include_usage = usage->as_bool();
        }
    }
    for (std::string_view field : {"max_completion_tokens", "max_tokens"}) {
        auto cap = positive_integer(body, field);
        if (auto* error = std::get_if<Error>(&cap)) return *error;
        if (!out.max_tokens) out.max_tokens = std::get<std::optional<std::int64_t>>(cap);
    }
    const auto* messages = body.if_contains("messages");
    if (messages == nullptr || !messages->is_array() || messages->as_array().empty()) {
        return Error{"'messages' must be a non-empty array", "messages"};
    }
    std::size_t index = 0;
    bool has_user = false;
    for (const auto& item : messages->as_array()) {
        auto parsed = parse_message(item, fmt::format("messages[{}]", index++));
        if (auto* error = std::get_if<Error>(&parsed)) return *error;
        auto& message = std::get<ChatMessage>(parsed);
        has_user = has_user || message.role == "user";
        out.messages.push_back(std::move(message));
    }
    if (!has_user) return Error{"'messages' must contain at least one user message", "messages"};
    if (auto error = check_model(out.model, models)) return *error;
    std::vector<RunOptionProblem> problems;
    out.options = read_run_options(body, policy, false, problems).options;
    if (!problems.empty()) return as_request_error(problems.front());
    if (const auto* format = body.if_contains("response_format");
        format != nullptr && !format->is_null()) {
        auto read = read_output_format(*format, "response_format", true, policy);
        if (auto* problem = std::get_if<RunOptionProblem>(&read)) return as_request_error(*problem);
        if (auto& schema = std::get<OutputFormat>(read).json_schema) {
            if (out.options.json_schema) {
                return Error{"give the answer's schema once: response_format or json_schema",
                             "response_format"};
            }
            out.options.json_schema = std::move(schema);
        }
    }
    return out;
}

std::string chat_prompt(const std::vector<ChatMessage>& messages) {
    std::string system;
    std::vector<const ChatMessage*> turns;
    for (const auto& m : messages) {
        if (m.role == "system") {
            if (!system.empty()) system += "\n\n";
            system += m.content;
        } else {
            turns.push_back(&m);
        }
    }
    // The latest user turn is the request; everything before it is history. Turns after it
    // (a tool result an agent framework sends back) stay in the history, in order.
    auto last_user = std::find_if(turns.rbegin(), turns.rend(),
                                  [](const ChatMessage* m) { return m->role == "user"; });
    bool user_is_last = last_user == turns.rbegin();
    std::string prompt;
    if (!system.empty()) append_section(prompt, "System instructions:\n" + system);

    std::string history;
    for (const auto* m : turns) {
        if (user_is_last && m == *last_user) continue;
        std::string label = m->role == "user"        ? "[user]"
                            : m->role == "assistant" ? "[assistant]"
                                                     : "[tool result]";
        if (m->role == "tool" && !m->name.empty()) label = "[tool result for " + m->name + "]";
        std::string text = m->content;
        if (m->role == "assistant" && !m->name.empty()) {
            if (!text.empty()) text += "\n";
            text += "(called tools: " + m->name + ")";
        }
        if (!history.empty()) history += "\n\n";
        history.append(label).append("\n").append(text);
    }
    if (!history.empty()) append_section(prompt, "Conversation so far:\n\n" + history);
    append_section(prompt, user_is_last
                               ? "Request:\n" + (*last_user)->content
                               : std::string("Request:\nContinue from the conversation above."));
    return prompt;
}

}  // namespace cas::api
