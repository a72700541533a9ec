#include "api/chat_stream.hpp"

#include "agent/line_splitter.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

using namespace cas::api;
namespace json = boost::json;

namespace {

// The JSON of a single "data: {...}\n\n" event.
json::value data_of(const std::string& event) {
    REQUIRE(event.starts_with("data: "));
    REQUIRE(event.ends_with("\n\n"));
    return json::parse(event.substr(6, event.size() - 8));
}

std::string delta_line(std::string_view text, bool sub_agent = false) {
    return json::serialize(json::object{
        {"type", "stream_event"},
        {"parent_tool_use_id", sub_agent ? json::value("toolu_1") : json::value(nullptr)},
        {"event", json::object{{"type", "content_block_delta"},
                               {"index", 0},
                               {"delta", json::object{{"type", "text_delta"}, {"text", text}}}}}});
}

}  // namespace

TEST_CASE("stream: first chunk carries the role with empty content") {
    ChatChunkEncoder e("chatcmpl-1", "claude-haiku-4-5", 1700000000);
    auto chunk = data_of(e.role_event());
    CHECK(chunk.at("object") == "chat.completion.chunk");
    CHECK(chunk.at("id") == "chatcmpl-1");
    CHECK(chunk.at("model") == "claude-haiku-4-5");
    CHECK(chunk.at("created") == 1700000000);
    CHECK(chunk.at("choices").at(0).at("delta") ==
          json::parse(R"({"role":"assistant","content":""})"));
    CHECK(chunk.at("choices").at(0).at("finish_reason").is_null());
}

TEST_CASE("stream: a text delta line becomes one content chunk") {
    ChatChunkEncoder e("id", "m", 1);
    auto chunk = data_of(e.on_line(delta_line("Hel\"lo\n")));
    CHECK(chunk.at("choices").at(0).at("delta").at("content") == "Hel\"lo\n");
}

TEST_CASE("stream: lines that are not top-level text deltas produce nothing") {
    ChatChunkEncoder e("id", "m", 1);
    CHECK(e.on_line(R"({"type":"system","subtype":"init"})").empty());
    CHECK(e.on_line(R"({"type":"system","subtype":"api_retry","attempt":1})").empty());
    CHECK(e.on_line(R"({"type":"assistant","message":{"content":[{"type":"text","text":"dup"}]}})")
              .empty());
    CHECK(
        e.on_line(
             R"({"type":"stream_event","parent_tool_use_id":null,"event":{"type":"content_block_start"}})")
            .empty());
    CHECK(
        e.on_line(
             R"({"type":"stream_event","event":{"type":"content_block_delta","delta":{"type":"input_json_delta","partial_json":"{"}}})")
            .empty());
    CHECK(e.on_line(delta_line("from a sub-agent", true)).empty());
    CHECK(e.on_line(R"({"type":"result","result":"x"})").empty());
    CHECK(e.on_line("not json").empty());
    CHECK(e.on_line("").empty());
    CHECK(e.on_line(R"({"type":"stream_event","event":[]})").empty());
}

TEST_CASE("stream: stop_reason from message_delta, and finish_reason mapping") {
    ChatChunkEncoder e("id", "m", 1);
    e.on_line(
        R"({"type":"stream_event","parent_tool_use_id":null,"event":{"type":"message_delta","delta":{"stop_reason":"max_tokens"}}})");
    CHECK(e.stop_reason() == "max_tokens");
    CHECK(finish_reason_for(std::string("end_turn")) == "stop");
    CHECK(finish_reason_for(std::string("stop_sequence")) == "stop");
    CHECK(finish_reason_for(std::string("max_tokens")) == "length");
    CHECK(finish_reason_for(std::nullopt) == "stop");
    auto finish = data_of(e.finish_event("length"));
    CHECK(finish.at("choices").at(0).at("delta").as_object().empty());
    CHECK(finish.at("choices").at(0).at("finish_reason") == "length");
}

TEST_CASE("stream: a second message's text is separated from the first") {
    ChatChunkEncoder e("id", "m", 1);
    auto start =
        R"({"type":"stream_event","parent_tool_use_id":null,"event":{"type":"message_start","message":{}}})";
    CHECK(e.on_line(start).empty());
    e.on_line(delta_line("Let me check."));
    e.on_line(start);
    auto chunk = data_of(e.on_line(delta_line("Done.")));
    CHECK(chunk.at("choices").at(0).at("delta").at("content") == "\n\nDone.");
}

TEST_CASE("stream: usage chunk has empty choices and the real counts") {
    ChatChunkEncoder e("id", "m", 1);
    auto chunk = data_of(e.usage_event({.input_tokens = 17,
                                        .output_tokens = 9,
                                        .cache_creation_input_tokens = 100,
                                        .cache_read_input_tokens = 1000}));
    CHECK(chunk.at("choices").as_array().empty());
    CHECK(chunk.at("usage").at("prompt_tokens") == 1117);
    CHECK(chunk.at("usage").at("completion_tokens") == 9);
    CHECK(chunk.at("usage").at("total_tokens") == 1126);
    CHECK(chunk.at("usage").at("prompt_tokens_details").at("cached_tokens") == 1000);
    CHECK(ChatChunkEncoder::done_event() == "data: [DONE]\n\n");
    CHECK(data_of(ChatChunkEncoder::error_event("boom")).at("error").at("message") == "boom");
}

TEST_CASE("lines: pieces are reassembled and oversized lines dropped whole") {
    std::vector<std::string> got;
    auto collect = [&](std::string_view line) { got.emplace_back(line); };
    cas::agent::LineSplitter lines(10);
    lines.feed("ab", collect);
    lines.feed("c\nde", collect);
    lines.feed("f\n0123456789XYZ\nok\n", collect);
    lines.feed("tail-without-newline", collect);
    CHECK(got == std::vector<std::string>{"abc", "def", "ok"});
}
