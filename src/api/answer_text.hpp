// The answer's text as the CLI streams it (stream-json with partial messages), for every
// model API's streaming: which line carries a piece of the answer, and what the answer is so
// far. Pure, so each mapping is unit-tested; each API shapes the pieces into its own events.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace cas::api {

class AnswerText {
public:
    // The answer text a CLI line adds (empty for most lines). Only the top-level agent's text
    // counts: sub-agent events carry a parent_tool_use_id. With tool use the agent writes
    // several messages; their texts follow each other with a blank line between them (the
    // CLI's `result` holds only the last message).
    std::string on_line(std::string_view line);

    // The stop_reason of the last top-level message, from its message_delta.
    [[nodiscard]] const std::optional<std::string>& stop_reason() const { return stop_reason_; }
    // All the text so far: the assistant message a client puts together from the pieces.
    [[nodiscard]] const std::string& text() const { return text_; }

private:
    std::optional<std::string> stop_reason_;
    bool separate_next_ = false;  // a new message began after text was given
    std::string text_;
};

}  // namespace cas::api
