// Anthropic Messages API requests (POST /v1/messages): validation (400s whose message starts
// with the path of the offending field, as Anthropic's do) and the messages the turn is built
// from. Text only: image, document, tool and thinking blocks are refused by type, as are
// tools, stop sequences and a trailing assistant message (a prefill the CLI cannot continue).
// Pure, so every mapping is unit-tested.
#pragma once

#include "api/chat_request.hpp"

#include <boost/json/object.hpp>

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace cas::api {

struct MessagesRequest {
    std::string model;
    std::vector<ChatMessage> messages;  // the system prompt (as system) first, then the turns
    std::int64_t max_tokens = 0;
    bool stream = false;
    agent::RunOptions options;  // the run options sent as extra fields (chat's names)
};

// Errors: `param` is the field's path; unsupported_model for a model not in the list (which
// Anthropic answers with 404 not_found_error).
std::variant<MessagesRequest, ChatRequestError> parse_messages_request(
    const boost::json::object& body, const std::vector<std::string>& models,
    const RunPolicy& policy);

}  // namespace cas::api
