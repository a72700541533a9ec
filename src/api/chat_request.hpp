// OpenAI chat completion requests: validation (400s naming the offending `param`, as
// OpenAI does) and the transcript prompt the stateless CLI reads on stdin. Pure, so every
// mapping is unit-tested.
#pragma once

#include "api/run_options_request.hpp"

#include <boost/json/fwd.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace cas::api {

struct ChatMessage {
    std::string role;  // system (developer is folded in), user, assistant, tool
    std::string content;
    std::string name;  // tool: the call id it answers; assistant: tool calls made
};

struct ChatRequest {
    std::string model;
    std::vector<ChatMessage> messages;
    bool stream = false;
    bool include_usage = false;              // stream_options.include_usage
    std::optional<std::int64_t> max_tokens;  // max_completion_tokens (or the older max_tokens)
    // The run options sent as extra fields, with response_format's schema as json_schema.
    agent::RunOptions options;
};

struct ChatRequestError {
    // unsupported_model: OpenAI's `model_not_found`, answered with the supported list.
    enum class Kind { invalid, unsupported_model };
    std::string message;
    std::string param;
    Kind kind = Kind::invalid;
};

struct ChatModels {
    const std::vector<std::string>& supported;
    const std::string& default_model;
};

// "a, b, c": the models a client may name, in an error message.
std::string comma_list(const std::vector<std::string>& items);

// The unsupported_model error for a model not in the list.
std::optional<ChatRequestError> check_model(const std::string& model, ChatModels models);

// A positive integer `field` of `body` (absent or null: nothing), or the error naming it.
std::variant<std::optional<std::int64_t>, ChatRequestError> positive_integer(
    const boost::json::object& body, std::string_view field);

std::variant<ChatRequest, ChatRequestError> parse_chat_request(const boost::json::object& body,
                                                               ChatModels models,
                                                               const RunPolicy& policy);

// A run option's problem as an OpenAI 400 names it.
ChatRequestError as_request_error(const RunOptionProblem& problem);

// The prompt: system instructions, then (for multi-turn chats) the conversation so far,
// then the latest user turn. See README "Chat prompt format".
std::string chat_prompt(const std::vector<ChatMessage>& messages);

}  // namespace cas::api
