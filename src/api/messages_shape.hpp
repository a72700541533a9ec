// Anthropic Messages API answers: the message object and the streamed events
// (message_start, content_block_start, content_block_delta with text_delta,
// content_block_stop, message_delta with the stop reason and the usage, message_stop; ping
// while the agent is silent; an error event for a failed run). Pure, so each is unit-tested;
// model_turn.cpp does the I/O.
#pragma once

#include "api/stream_shape.hpp"

#include <boost/json/object.hpp>

#include <string>

namespace cas::api {

// Anthropic's stop_reason for the run's (the CLI reports the API's own): end_turn unless it
// is another Anthropic reason.
std::string_view message_stop_reason(const std::optional<std::string>& stop_reason);

// The message object of a completed turn.
boost::json::object message_object(std::string_view id, std::string_view model,
                                   const TurnResult& result);

class MessagesShape final : public StreamShape {
public:
    MessagesShape(std::string id, std::string model)
        : id_(std::move(id)), model_(std::move(model)) {}

    std::string opening() override;
    std::string text(std::string_view piece) override;
    std::string keep_alive() override;
    std::string closing(const TurnResult& result) override;

private:
    std::string id_;
    std::string model_;
};

}  // namespace cas::api
