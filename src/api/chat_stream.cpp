#include "api/chat_stream.hpp"

#include "http/message.hpp"
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

ChatChunkShape::ChatChunkShape(std::string id, std::string model, std::int64_t created,
                               bool include_usage)
    : id_(std::move(id)),
      model_(std::move(model)),
      created_(created),
      include_usage_(include_usage) {}

std::string ChatChunkShape::chunk(std::string_view delta_json, std::string_view finish_json) const {
    return fmt::format(
        R"(data: {{"id":{},"object":"chat.completion.chunk","created":{},"model":{},)"
        R"("choices":[{{"index":0,"delta":{},"finish_reason":{}}}]}})"
        "\n\n",
        json_quoted(id_), created_, json_quoted(model_), delta_json, finish_json);
}

std::string ChatChunkShape::opening() {
    return chunk(R"({"role":"assistant","content":""})", "null");
}

std::string ChatChunkShape::text(std::string_view piece) {
    return chunk(json_text(json::object{{"content", piece}}), "null");
}

std::string ChatChunkShape::keep_alive() {
    return std::string(http::kSseKeepAlive);
}

std::string ChatChunkShape::closing(const TurnResult& result) {
    if (!result.completed()) {
        return "data: " +
               json_text(
                   json::object{{"error", json::object{{"message", failure_message(result.outcome)},
                                                       {"type", "server_error"},
                                                       {"param", nullptr},
                                                       {"code", nullptr}}}}) +
               "\n\n";
    }
    std::string out = chunk("{}", json_quoted(finish_reason_for(result.stop_reason)));
    if (include_usage_) {
        out += fmt::format(
            R"(data: {{"id":{},"object":"chat.completion.chunk","created":{},"model":{},"choices":[],"usage":{}}})"
            "\n\n",
            json_quoted(id_), created_, json_quoted(model_),
            json_text(usage_json(result.outcome.cli.tokens)));
    }
    return out + "data: [DONE]\n\n";
}

}  // namespace cas::api
