// OpenAI chat.completion.chunk Server-Sent Events around the answer's text. Pure, so each
// event is unit-tested; model_turn.cpp does the I/O.
#pragma once

#include "agent/cli_output.hpp"
#include "api/stream_shape.hpp"

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

class ChatChunkShape final : public StreamShape {
public:
    // `include_usage`: stream_options.include_usage, a usage chunk before [DONE].
    ChatChunkShape(std::string id, std::string model, std::int64_t created, bool include_usage);

    // The assistant role with empty content.
    std::string opening() override;
    std::string text(std::string_view piece) override;
    std::string keep_alive() override;
    // The finish chunk, the usage chunk if asked for, [DONE]; or an error event.
    std::string closing(const TurnResult& result) override;

private:
    [[nodiscard]] std::string chunk(std::string_view delta_json,
                                    std::string_view finish_json) const;

    std::string id_;
    std::string model_;
    std::int64_t created_;
    bool include_usage_;
};

}  // namespace cas::api
