#include "api/answer_text.hpp"

#include <boost/json.hpp>

namespace cas::api {
namespace json = boost::json;

std::string AnswerText::on_line(std::string_view line) {
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
        separate_next_ = !text_.empty();
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
    std::string piece = separate_next_ ? "\n\n" : "";
    separate_next_ = false;
    piece += text->as_string();
    text_ += piece;
    return piece;
}

}  // namespace cas::api
