// The Anthropic Messages API over the model APIs' turn: POST /v1/messages, whole or streamed,
// authenticated by x-api-key or a bearer token (the same token). Errors are Anthropic's
// `{"type": "error", "error": {"type", "message"}}`; a busy slot is 529 overloaded_error.
// max_tokens caps each model call of the agent (the CLI's CLAUDE_CODE_MAX_OUTPUT_TOKENS).
#pragma once

#include "api/model_turn.hpp"
#include "http/router.hpp"

#include <memory>

namespace cas::api {

void add_messages_routes(http::Router& router, std::shared_ptr<const ModelApiContext> context);

}  // namespace cas::api
