// How a model API's answer reaches it: the result of a turn, and the Server-Sent Events an API
// sends around the answer's text. Each API implements its own StreamShape (chat_stream,
// responses_shape, messages_shape): the one place its events are shaped. Pure.
#pragma once

#include "agent/agent_run.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace cas::api {

struct TurnResult {
    agent::AgentOutcome outcome;
    std::string text;  // the answer, as the client has it
    std::optional<std::string> stop_reason;
    [[nodiscard]] bool completed() const { return outcome.status == agent::RunStatus::completed; }
    // The CLI session the answer is in, if it named a valid one.
    [[nodiscard]] std::optional<std::string> session_id() const;
};

class StreamShape {
public:
    StreamShape() = default;
    StreamShape(const StreamShape&) = delete;
    StreamShape& operator=(const StreamShape&) = delete;
    virtual ~StreamShape() = default;
    // The events that open the body (the response headers go with them).
    virtual std::string opening() = 0;
    // The events for a piece of the answer's text.
    virtual std::string text(std::string_view piece) = 0;
    // What keeps a silent stream open through proxies.
    virtual std::string keep_alive() = 0;
    // The events that end the body: the answer's end, or the failure.
    virtual std::string closing(const TurnResult& result) = 0;
};

// What a run that did not complete tells the client.
std::string failure_message(const agent::AgentOutcome& outcome);

}  // namespace cas::api
