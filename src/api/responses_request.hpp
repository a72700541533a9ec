// OpenAI Responses API requests (POST /v1/responses): validation (400s naming the offending
// `param`) and the messages the turn is built from. Only what an agent run can honour is
// accepted: message items with text; tools, files, images, background runs, conversation
// objects and structured output formats are refused by name. Pure, so every mapping is
// unit-tested.
#pragma once

#include "api/chat_request.hpp"

#include <boost/json/object.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace cas::api {

struct ResponsesRequest {
    std::string model;
    std::string instructions;
    std::vector<ChatMessage> messages;  // the instructions (as system) first, then the input
    bool stream = false;
    bool store = true;
    std::optional<std::string> previous_response_id;
    std::optional<std::int64_t> max_output_tokens;
    boost::json::object metadata;  // echoed in the response
    // Input items that name an earlier output message (`item_reference`, as the AI SDK sends an
    // answer it got from a stored response): which message, and the response that holds it.
    // The message's text is filled in from the store.
    struct ItemReference {
        std::size_t message = 0;  // index into `messages`
        std::string response_id;  // resp_<the item id's hex>
    };
    std::vector<ItemReference> item_references;
    // The run options sent as extra fields (chat's names), with text.format's schema.
    agent::RunOptions options;
    boost::json::object text_format;  // as asked, echoed in the response; empty: text
};

std::variant<ResponsesRequest, ChatRequestError> parse_responses_request(
    const boost::json::object& body, ChatModels models, const RunPolicy& policy);

}  // namespace cas::api
