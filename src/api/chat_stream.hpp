// The CLI's stream-json lines → OpenAI chat.completion.chunk Server-Sent Events. Pure, so
// each mapping is unit-tested; openai.cpp does the I/O.
#pragma once

#include "agent/cli_output.hpp"

#include <boost/json/object.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cas::api {

// OpenAI finish_reason for an Anthropic stop_reason.
std::string_view finish_reason_for(const std::optional<std::string>& stop_reason);

// OpenAI usage for the CLI's token counts (prompt = input + cache creation + cache reads).
boost::json::object usage_json(const agent::TokenUsage& usage);

class ChatChunkEncoder {
public:
    ChatChunkEncoder(std::string id, std::string model, std::int64_t created);

    // The first event: the assistant role with empty content.
    [[nodiscard]] std::string role_event() const;
    // Events for one stream-json line (often none). Only the top-level agent's text is
    // streamed: sub-agent events carry a parent_tool_use_id and are skipped.
    std::string on_line(std::string_view line);
    [[nodiscard]] std::string finish_event(std::string_view finish_reason) const;
    [[nodiscard]] std::string usage_event(const agent::TokenUsage& usage) const;
    [[nodiscard]] static std::string done_event() { return "data: [DONE]\n\n"; }
    [[nodiscard]] static std::string error_event(std::string_view message);

    // The stop_reason of the last top-level message, from its message_delta.
    [[nodiscard]] const std::optional<std::string>& stop_reason() const { return stop_reason_; }
    // All the text streamed so far: the assistant message a client puts together.
    [[nodiscard]] const std::string& streamed_text() const { return streamed_text_; }

private:
    [[nodiscard]] std::string chunk(std::string_view delta_json,
                                    std::string_view finish_json) const;

    std::string id_;
    std::string model_;
    std::int64_t created_;
    std::optional<std::string> stop_reason_;
    bool text_sent_ = false;
    bool separate_next_ = false;  // a new message began after text was sent
    std::string streamed_text_;
};

}  // namespace cas::api
