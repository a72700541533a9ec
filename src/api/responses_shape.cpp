#include "api/responses_shape.hpp"

#include "http/message.hpp"
#include "util/json_text.hpp"
#include "util/random_id.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

namespace cas::api {
namespace json = boost::json;
namespace {

json::value or_null(const std::optional<std::string>& text) {
    return text ? json::value(json::string(*text)) : json::value(nullptr);
}

json::object usage_of(const agent::TokenUsage& t) {
    auto input = t.input_tokens + t.cache_creation_input_tokens + t.cache_read_input_tokens;
    return {
        {"input_tokens", input},
        {"input_tokens_details", json::object{{"cached_tokens", t.cache_read_input_tokens}}},
        {"output_tokens", t.output_tokens},
        {"output_tokens_details", json::object{{"reasoning_tokens", 0}}},
        {"total_tokens", input + t.output_tokens},
    };
}

// Why a completed run's answer is incomplete, if it is: the model stopped at its cap.
std::optional<std::string_view> incomplete_reason(const TurnResult& result) {
    if (result.stop_reason == "max_tokens") return "max_output_tokens";
    if (result.stop_reason == "refusal") return "content_filter";
    return std::nullopt;
}

json::object text_part(std::string_view text) {
    return {{"type", "output_text"}, {"text", text}, {"annotations", json::array{}}};
}

json::object message_item(const ResponseFacts& facts, std::string_view status,
                          json::array content) {
    return {{"type", "message"},
            {"id", facts.item_id},
            {"status", status},
            {"role", "assistant"},
            {"content", std::move(content)}};
}

std::string_view item_status(const TurnResult& result) {
    return incomplete_reason(result) ? "incomplete" : "completed";
}

}  // namespace

ResponseFacts response_facts(const ResponsesRequest& request, std::int64_t now) {
    auto hex = random_hex(24);
    return {.id = "resp_" + hex,
            .item_id = "msg_" + hex,
            .created_at = now,
            .model = request.model,
            .instructions = request.instructions,
            .previous_response_id = request.previous_response_id,
            .max_output_tokens = request.max_output_tokens,
            .store = request.store,
            .metadata = request.metadata,
            .text_format = request.text_format};
}

json::object response_object(const ResponseFacts& facts, const TurnResult* result) {
    json::object out{
        {"id", facts.id},
        {"object", "response"},
        {"created_at", facts.created_at},
        {"status", "in_progress"},
        {"error", nullptr},
        {"incomplete_details", nullptr},
        {"instructions",
         facts.instructions.empty() ? json::value(nullptr) : json::value(facts.instructions)},
        {"max_output_tokens",
         facts.max_output_tokens ? json::value(*facts.max_output_tokens) : json::value(nullptr)},
        {"model", facts.model},
        {"output", json::array{}},
        {"parallel_tool_calls", false},
        {"previous_response_id", or_null(facts.previous_response_id)},
        {"store", facts.store},
        {"text", json::object{{"format", facts.text_format.empty() ? json::object{{"type", "text"}}
                                                                   : facts.text_format}}},
        {"tool_choice", "auto"},
        {"tools", json::array{}},
        {"truncation", "disabled"},
        {"usage", nullptr},
        {"metadata", facts.metadata},
    };
    if (result == nullptr) return out;
    out["usage"] = usage_of(result->outcome.cli.tokens);
    if (!result->completed()) {
        out["status"] = "failed";
        out["error"] =
            json::object{{"code", "server_error"}, {"message", failure_message(result->outcome)}};
        return out;
    }
    auto reason = incomplete_reason(*result);
    out["status"] = reason ? "incomplete" : "completed";
    if (reason) out["incomplete_details"] = json::object{{"reason", *reason}};
    out["output"] = json::array{
        message_item(facts, item_status(*result), json::array{text_part(result->text)})};
    return out;
}

std::optional<std::string> stored_output_text(std::string_view body) {
    boost::system::error_code ec;
    auto value = json::parse(body, ec);
    const auto* object = ec ? nullptr : value.if_object();
    const auto* output = object != nullptr ? object->if_contains("output") : nullptr;
    if (output == nullptr || !output->is_array() || output->as_array().empty()) return std::nullopt;
    const auto* item = output->as_array().front().if_object();
    const auto* content = item != nullptr ? item->if_contains("content") : nullptr;
    if (content == nullptr || !content->is_array() || content->as_array().empty())
        return std::nullopt;
    const auto* part = content->as_array().front().if_object();
    const auto* text = part != nullptr ? part->if_contains("text") : nullptr;
    if (text == nullptr || !text->is_string()) return std::nullopt;
    return std::string(text->as_string());
}

std::string ResponsesShape::event(std::string_view type, json::object data) {
    data.emplace("type", type);
    data.emplace("sequence_number", sequence_++);
    return fmt::format("event: {}\ndata: {}\n\n", type, json_text(data));
}

std::string ResponsesShape::opening() {
    auto started = response_object(facts_, nullptr);
    std::string out = event("response.created", {{"response", started}});
    out += event("response.in_progress", {{"response", std::move(started)}});
    out += event("response.output_item.added",
                 {{"output_index", 0}, {"item", message_item(facts_, "in_progress", {})}});
    out += event("response.content_part.added", {{"item_id", facts_.item_id},
                                                 {"output_index", 0},
                                                 {"content_index", 0},
                                                 {"part", text_part("")}});
    return out;
}

std::string ResponsesShape::text(std::string_view piece) {
    return event("response.output_text.delta", {{"item_id", facts_.item_id},
                                                {"output_index", 0},
                                                {"content_index", 0},
                                                {"delta", piece},
                                                {"logprobs", json::array{}}});
}

std::string ResponsesShape::keep_alive() {
    return std::string(http::kSseKeepAlive);
}

std::string ResponsesShape::closing(const TurnResult& result) {
    auto response = response_object(facts_, &result);
    if (!result.completed()) return event("response.failed", {{"response", std::move(response)}});
    std::string out = event("response.output_text.done", {{"item_id", facts_.item_id},
                                                          {"output_index", 0},
                                                          {"content_index", 0},
                                                          {"text", result.text},
                                                          {"logprobs", json::array{}}});
    out += event("response.content_part.done", {{"item_id", facts_.item_id},
                                                {"output_index", 0},
                                                {"content_index", 0},
                                                {"part", text_part(result.text)}});
    out += event(
        "response.output_item.done",
        {{"output_index", 0},
         {"item", message_item(facts_, item_status(result), json::array{text_part(result.text)})}});
    auto done =
        response.at("status") == "incomplete" ? "response.incomplete" : "response.completed";
    out += event(done, {{"response", std::move(response)}});
    return out;
}

}  // namespace cas::api
