// With tool use the agent writes several messages; their texts are streamed in order with
// a blank line between them, while the CLI's `result` holds only the last message.
#include "api/chat_stream.hpp"

#include "util/json_text.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

namespace cas::api {
namespace json = boost::json;

std::string_view finish_reason_for(const std::optional<std::string>& stop_reason) {
    if (stop_reason == "max_tokens") return "length";
    if (stop_reason == "refusal") return "content_filter";
    return "stop";  // end_turn, stop_sequence, and anything unknown
}

json::object usage_json(const agent::TokenUsage& t) {
    auto prompt = t.input_tokens + t.cache_creation_input_tokens + t.cache_read_input_tokens;
    return {
        {"prompt_tokens", prompt},
        {"completion_tokens", t.output_tokens},
        {"total_tokens", prompt + t.output_tokens},
        {"prompt_tokens_details", json::object{{"cached_tokens", t.cache_read_input_tokens}}},
    };
}

ChatChunkEncoder::ChatChunkEncoder(std::string id, std::string model, std::int64_t created)
    : id_(std::move(id)), model_(std::move(model)), created_(created) {}

std::string ChatChunkEncoder::chunk(std::string_view delta_json,
                                    std::string_view finish_json) const {
    return fmt::format(
        R"(data: {{"id":{},"object":"chat.completion.chunk","created":{},"model":{},)"
        R"("choices":[{{"index":0,"delta":{},"finish_reason":{}}}]}})"
        "\n\n",
        json_quoted(id_), created_, json_quoted(model_), delta_json, finish_json);
}

std::string ChatChunkEncoder::role_event() const {
    return chunk(R"({"role":"assistant","content":""})", "null");
}

std::string ChatChunkEncoder::on_line(std::string_view line) {
    if (line.empty() || line.front() != '{') return {};
    boost::system::error_code ec;
    auto value = json::parse(line, ec);
    if (ec || !value.is_object()) return {};
    const auto& obj = value.as_object();
    const auto* type = obj.if_contains("type");
    if (type == nullptr || !type->is_string() || type->as_string() != "stream_event") return {};
    if (const auto* parent = obj.if_contains("parent_tool_use_id");
        parent != nullptr && !parent->is_null()) {
        return {};  // a sub-agent's event
    }
    const auto* event = obj.if_contains("event");
    if (event == nullptr || !event->is_object()) return {};
    const auto& ev = event->as_object();
    const auto* event_type = ev.if_contains("type");
    if (event_type == nullptr || !event_type->is_string()) return {};

    if (event_type->as_string() == "message_start") {
        separate_next_ = text_sent_;
        return {};
    }
    const auto* delta = ev.if_contains("delta");
    if (delta == nullptr || !delta->is_object()) return {};
    const auto& d = delta->as_object();
    if (event_type->as_string() == "message_delta") {
        if (const auto* reason = d.if_contains("stop_reason");
            reason != nullptr && reason->is_string()) {
            stop_reason_ = std::string(reason->as_string());
        }
        return {};
    }
    if (event_type->as_string() != "content_block_delta") return {};
    const auto* delta_type = d.if_contains("type");
    const auto* text = d.if_contains("text");
    if (delta_type == nullptr || !delta_type->is_string() ||
        delta_type->as_string() != "text_delta" || text == nullptr || !text->is_string() ||
        text->as_string().empty()) {
        return {};
    }
    std::string content = separate_next_ ? "\n\n" : "";
    separate_next_ = false;
    content += text->as_string();
    text_sent_ = true;
    streamed_text_ += content;
    return chunk(json_text(json::object{{"content", content}}), "null");
}

std::string ChatChunkEncoder::finish_event(std::string_view finish_reason) const {
    return chunk("{}", json_quoted(finish_reason));
}

std::string ChatChunkEncoder::usage_event(const agent::TokenUsage& usage) const {
    return fmt::format(
        R"(data: {{"id":{},"object":"chat.completion.chunk","created":{},"model":{},"choices":[],"usage":{}}})"
        "\n\n",
        json_quoted(id_), created_, json_quoted(model_), json_text(usage_json(usage)));
}

std::string ChatChunkEncoder::error_event(std::string_view message) {
    return "data: " +
           json_text(json::object{{"error", json::object{{"message", message},
                                                         {"type", "server_error"},
                                                         {"param", nullptr},
                                                         {"code", nullptr}}}}) +
           "\n\n";
}

}  // namespace cas::api
