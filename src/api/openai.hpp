// The OpenAI chat surface: chat completions (plain and streamed as Server-Sent Events) that
// run the model APIs' agent with the requested model, and the model list. Errors are OpenAI
// error objects. A client that goes away cancels its run. A conversation whose history this
// service answered continues in the CLI session of that answer (api/model_turn.hpp).
#pragma once

#include "api/model_turn.hpp"
#include "http/router.hpp"

#include <memory>

namespace cas::api {

void add_openai_routes(http::Router& router, std::shared_ptr<const ModelApiContext> context);

// The 400 for a model not in OPENAI_MODELS, with the supported list next to the message
// (the reference app's machine-readable list).
http::Response unsupported_model(std::string_view message, std::string_view param,
                                 const std::vector<std::string>& models);

}  // namespace cas::api
