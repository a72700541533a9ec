// The OpenAI Responses API over the model APIs' turn: POST /v1/responses (whole or streamed as
// typed events), and the stored responses: GET and DELETE /v1/responses/{id}. A response is
// stored unless `store` is false; previous_response_id continues its CLI session. Errors are
// OpenAI error objects.
#pragma once

#include "api/model_turn.hpp"
#include "http/router.hpp"

#include <memory>

namespace cas::api {

void add_responses_routes(http::Router& router, std::shared_ptr<const ModelApiContext> context);

}  // namespace cas::api
