// OpenAI Responses API answers: the response object (whole, stored, and inside the stream's
// events) and the typed Server-Sent Events of a streamed response, each `event: <type>` with
// a sequence_number. Pure, so each is unit-tested; model_turn.cpp does the I/O.
#pragma once

#include "api/responses_request.hpp"
#include "api/stream_shape.hpp"

#include <boost/json/object.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace cas::api {

// What a response says about itself whatever its outcome.
struct ResponseFacts {
    std::string id;       // resp_<hex>
    std::string item_id;  // its output message: msg_<the same hex>
    std::int64_t created_at = 0;
    std::string model;
    std::string instructions;
    std::optional<std::string> previous_response_id;
    std::optional<std::int64_t> max_output_tokens;
    bool store = true;
    boost::json::object metadata;
    boost::json::object text_format;  // empty: text
};

// New ids for a response to `request`, created at `now` (unix seconds).
ResponseFacts response_facts(const ResponsesRequest& request, std::int64_t now);

// The response object: in progress (`result` null), or as the turn ended: completed,
// incomplete (the model stopped at its output cap: incomplete_details), or failed (`error`).
boost::json::object response_object(const ResponseFacts& facts, const TurnResult* result);

// The text of a stored response's output message (its JSON text as response_object made it),
// or nothing if it has none.
std::optional<std::string> stored_output_text(std::string_view body);

class ResponsesShape final : public StreamShape {
public:
    explicit ResponsesShape(ResponseFacts facts) : facts_(std::move(facts)) {}

    // response.created, response.in_progress, the message item and its text part added.
    std::string opening() override;
    // response.output_text.delta
    std::string text(std::string_view piece) override;
    // An SSE comment (the API has no event for it; clients skip comments).
    std::string keep_alive() override;
    // The text, part and item done, then response.completed or response.incomplete; or
    // response.failed.
    std::string closing(const TurnResult& result) override;

private:
    std::string event(std::string_view type, boost::json::object data);

    ResponseFacts facts_;
    std::int64_t sequence_ = 0;
};

}  // namespace cas::api
