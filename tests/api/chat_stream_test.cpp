#include "api/chat_stream.hpp"

#include "agent/line_splitter.hpp"
#include "api/answer_text.hpp"

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
    ChatChunkShape e("chatcmpl-1", "claude-haiku-4-5", 1700000000, false);
    auto chunk = data_of(e.opening());
    CHECK(chunk.at("object") == "chat.completion.chunk");
    CHECK(chunk.at("id") == "chatcmpl-1");
    CHECK(chunk.at("model") == "claude-haiku-4-5");
    CHECK(chunk.at("created") == 1700000000);
    CHECK(chunk.at("choices").at(0).at("delta") ==
          json::parse(R"({"role":"assistant","content":""})"));
    CHECK(chunk.at("choices").at(0).at("finish_reason").is_null());
}

TEST_CASE("stream: a text delta line becomes one content chunk") {
    AnswerText answer;
    ChatChunkShape e("id", "m", 1, false);
    auto piece = answer.on_line(delta_line("Hel\"lo\n"));
    CHECK(piece == "Hel\"lo\n");
    auto chunk = data_of(e.text(piece));
    CHECK(chunk.at("choices").at(0).at("delta").at("content") == "Hel\"lo\n");
}

TEST_CASE("answer text: lines that are not top-level text deltas add nothing") {
    AnswerText e;
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
    AnswerText e;
    e.on_line(
        R"({"type":"stream_event","parent_tool_use_id":null,"event":{"type":"message_delta","delta":{"stop_reason":"max_tokens"}}})");
    CHECK(e.stop_reason() == "max_tokens");
    CHECK(finish_reason_for(std::string("end_turn")) == "stop");
    CHECK(finish_reason_for(std::string("stop_sequence")) == "stop");
    CHECK(finish_reason_for(std::string("max_tokens")) == "length");
    CHECK(finish_reason_for(std::nullopt) == "stop");
    ChatChunkShape shape("id", "m", 1, false);
    TurnResult result;
    result.outcome.status = cas::agent::RunStatus::completed;
    result.stop_reason = e.stop_reason();
    auto closing = shape.closing(result);
    auto finish = data_of(closing.substr(0, closing.find("\n\n") + 2));
    CHECK(finish.at("choices").at(0).at("delta").as_object().empty());
    CHECK(finish.at("choices").at(0).at("finish_reason") == "length");
    CHECK(closing.ends_with("data: [DONE]\n\n"));
}

TEST_CASE("answer text: a second message's text is separated from the first") {
    AnswerText e;
    auto start =
        R"({"type":"stream_event","parent_tool_use_id":null,"event":{"type":"message_start","message":{}}})";
    CHECK(e.on_line(start).empty());
    e.on_line(delta_line("Let me check."));
    e.on_line(start);
    CHECK(e.on_line(delta_line("Done.")) == "\n\nDone.");
    CHECK(e.text() == "Let me check.\n\nDone.");
}

TEST_CASE("stream: usage chunk has empty choices and the real counts, before [DONE]") {
    ChatChunkShape e("id", "m", 1, true);
    TurnResult result;
    result.outcome.status = cas::agent::RunStatus::completed;
    result.outcome.cli.tokens = {.input_tokens = 17,
                                 .output_tokens = 9,
                                 .cache_creation_input_tokens = 100,
                                 .cache_read_input_tokens = 1000};
    auto closing = e.closing(result);
    auto first_end = closing.find("\n\n") + 2;
    auto second_end = closing.find("\n\n", first_end) + 2;
    auto chunk = data_of(closing.substr(first_end, second_end - first_end));
    CHECK(chunk.at("choices").as_array().empty());
    CHECK(chunk.at("usage").at("prompt_tokens") == 1117);
    CHECK(chunk.at("usage").at("completion_tokens") == 9);
    CHECK(chunk.at("usage").at("total_tokens") == 1126);
    CHECK(chunk.at("usage").at("prompt_tokens_details").at("cached_tokens") == 1000);
    CHECK(closing.substr(second_end) == "data: [DONE]\n\n");
}

TEST_CASE("stream: a failed run ends with an error event and no [DONE]") {
    ChatChunkShape e("id", "m", 1, true);
    TurnResult result;
    result.outcome.status = cas::agent::RunStatus::timeout;
    auto closing = e.closing(result);
    CHECK(data_of(closing).at("error").at("message") == "agent timed out");
    CHECK(closing.find("[DONE]") == std::string::npos);
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
