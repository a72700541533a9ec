#include "api/messages_shape.hpp"

#include "http/response.hpp"
#include "util/json_text.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>

namespace cas::api {
namespace json = boost::json;
namespace {

json::object usage_of(const agent::TokenUsage& t) {
    return {{"input_tokens", t.input_tokens},
            {"output_tokens", t.output_tokens},
            {"cache_creation_input_tokens", t.cache_creation_input_tokens},
            {"cache_read_input_tokens", t.cache_read_input_tokens}};
}

std::string event(std::string_view type, json::object data) {
    data.emplace("type", type);
    return fmt::format("event: {}\ndata: {}\n\n", type, json_text(data));
}

}  // namespace

std::string_view message_stop_reason(const std::optional<std::string>& stop_reason) {
    static constexpr std::string_view kReasons[] = {"end_turn", "max_tokens", "stop_sequence",
                                                    "refusal", "pause_turn"};
    if (!stop_reason) return "end_turn";
    auto known = std::find(std::begin(kReasons), std::end(kReasons), *stop_reason);
    return known == std::end(kReasons) ? "end_turn" : *known;
}

json::object message_object(std::string_view id, std::string_view model, const TurnResult& result) {
    return {{"id", id},
            {"type", "message"},
            {"role", "assistant"},
            {"model", model},
            {"content", json::array{json::object{{"type", "text"}, {"text", result.text}}}},
            {"stop_reason", message_stop_reason(result.stop_reason)},
            {"stop_sequence", nullptr},
            {"usage", usage_of(result.outcome.cli.tokens)}};
}

std::string MessagesShape::opening() {
    json::object message{{"id", id_},
                         {"type", "message"},
                         {"role", "assistant"},
                         {"model", model_},
                         {"content", json::array{}},
                         {"stop_reason", nullptr},
                         {"stop_sequence", nullptr},
                         {"usage", usage_of({})}};
    return event("message_start", {{"message", std::move(message)}}) +
           event("content_block_start",
                 {{"index", 0}, {"content_block", json::object{{"type", "text"}, {"text", ""}}}});
}

std::string MessagesShape::text(std::string_view piece) {
    return event("content_block_delta",
                 {{"index", 0}, {"delta", json::object{{"type", "text_delta"}, {"text", piece}}}});
}

std::string MessagesShape::keep_alive() {
    return event("ping", {});
}

std::string MessagesShape::closing(const TurnResult& result) {
    if (!result.completed()) {
        return event("error",
                     {{"error", json::object{{"type", http::anthropic_error_type(500)},
                                             {"message", failure_message(result.outcome)}}}});
    }
    return event("content_block_stop", {{"index", 0}}) +
           event("message_delta",
                 {{"delta", json::object{{"stop_reason", message_stop_reason(result.stop_reason)},
                                         {"stop_sequence", nullptr}}},
                  {"usage", usage_of(result.outcome.cli.tokens)}}) +
           event("message_stop", {});
}

}  // namespace cas::api
