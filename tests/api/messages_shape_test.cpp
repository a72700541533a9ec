#include "api/messages_shape.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace cas::api;
namespace json = boost::json;

namespace {

struct Event {
    std::string name;  // the `event:` line
    json::object data;
};

// The events of `text`: each `event: <type>\ndata: {json}\n\n`, its type matching.
std::vector<Event> events_of(std::string_view text) {
    std::vector<Event> out;
    while (!text.empty()) {
        auto end = text.find("\n\n");
        REQUIRE(end != std::string_view::npos);
        auto block = text.substr(0, end);
        text.remove_prefix(end + 2);
        REQUIRE(block.starts_with("event: "));
        auto newline = block.find('\n');
        REQUIRE(newline != std::string_view::npos);
        auto data = block.substr(newline + 1);
        REQUIRE(data.starts_with("data: "));
        Event event{std::string(block.substr(7, newline - 7)),
                    json::parse(data.substr(6)).as_object()};
        CHECK(std::string_view(event.data.at("type").as_string()) == event.name);
        out.push_back(std::move(event));
    }
    return out;
}

std::vector<std::string> names(const std::vector<Event>& events) {
    std::vector<std::string> out;
    for (const auto& e : events) out.push_back(e.name);
    return out;
}

TurnResult completed(std::string text, std::optional<std::string> stop_reason = "end_turn") {
    TurnResult result;
    result.outcome.status = cas::agent::RunStatus::completed;
    result.outcome.cli.tokens = {.input_tokens = 17,
                                 .output_tokens = 9,
                                 .cache_creation_input_tokens = 100,
                                 .cache_read_input_tokens = 1000};
    result.text = std::move(text);
    result.stop_reason = std::move(stop_reason);
    return result;
}

const json::value kUsage = json::parse(R"({"input_tokens":17,"output_tokens":9,
    "cache_creation_input_tokens":100,"cache_read_input_tokens":1000})");

}  // namespace

TEST_CASE("messages shape: stop reasons are Anthropic's, end_turn otherwise") {
    CHECK(message_stop_reason(std::nullopt) == "end_turn");
    for (std::string reason :
         {"end_turn", "max_tokens", "stop_sequence", "refusal", "pause_turn"}) {
        CHECK(message_stop_reason(reason) == reason);
    }
    CHECK(message_stop_reason(std::string("tool_use")) == "end_turn");
    CHECK(message_stop_reason(std::string("something_new")) == "end_turn");
}

TEST_CASE("messages shape: the message object of a completed turn") {
    auto m = message_object("msg_1", "claude-haiku-4-5", completed("Hello \"you\""));
    CHECK(m.at("id") == "msg_1");
    CHECK(m.at("type") == "message");
    CHECK(m.at("role") == "assistant");
    CHECK(m.at("model") == "claude-haiku-4-5");
    CHECK(m.at("content") == json::parse(R"([{"type":"text","text":"Hello \"you\""}])"));
    CHECK(m.at("stop_reason") == "end_turn");
    CHECK(m.at("stop_sequence").is_null());
    CHECK(m.at("usage") == kUsage);
    CHECK(message_object("m", "x", completed("t", "max_tokens")).at("stop_reason") == "max_tokens");
    CHECK(message_object("m", "x", completed("t", "mystery")).at("stop_reason") == "end_turn");
    CHECK(message_object("m", "x", completed("t", std::nullopt)).at("stop_reason") == "end_turn");
}

TEST_CASE("messages shape: the opening is message_start then content_block_start") {
    MessagesShape shape("msg_1", "claude-haiku-4-5");
    auto events = events_of(shape.opening());
    REQUIRE(names(events) == std::vector<std::string>{"message_start", "content_block_start"});
    const auto& message = events[0].data.at("message");
    CHECK(message.at("id") == "msg_1");
    CHECK(message.at("type") == "message");
    CHECK(message.at("role") == "assistant");
    CHECK(message.at("model") == "claude-haiku-4-5");
    CHECK(message.at("content").as_array().empty());
    CHECK(message.at("stop_reason").is_null());
    CHECK(message.at("usage").at("input_tokens") == 0);
    CHECK(events[1].data.at("index") == 0);
    CHECK(events[1].data.at("content_block") == json::parse(R"({"type":"text","text":""})"));
}

TEST_CASE("messages shape: text is a text_delta, and the keep-alive a ping") {
    MessagesShape shape("msg_1", "m");
    auto events = events_of(shape.text("Hel\"lo\n"));
    REQUIRE(events.size() == 1);
    CHECK(events[0].name == "content_block_delta");
    CHECK(events[0].data.at("index") == 0);
    CHECK(events[0].data.at("delta") == json::parse(R"({"type":"text_delta","text":"Hel\"lo\n"})"));
    CHECK(shape.keep_alive() == "event: ping\ndata: {\"type\":\"ping\"}\n\n");
}

TEST_CASE("messages shape: closing a completed turn") {
    MessagesShape shape("msg_1", "m");
    auto events = events_of(shape.closing(completed("Hello", "max_tokens")));
    REQUIRE(names(events) ==
            std::vector<std::string>{"content_block_stop", "message_delta", "message_stop"});
    CHECK(events[0].data.at("index") == 0);
    CHECK(events[1].data.at("delta").at("stop_reason") == "max_tokens");
    CHECK(events[1].data.at("delta").at("stop_sequence").is_null());
    CHECK(events[1].data.at("usage") == kUsage);
    CHECK(events[2].data == json::object{{"type", "message_stop"}});
}

TEST_CASE("messages shape: a failed run closes with one error event") {
    MessagesShape shape("msg_1", "m");
    TurnResult result;
    result.outcome.status = cas::agent::RunStatus::timeout;
    auto closing = shape.closing(result);
    auto events = events_of(closing);
    REQUIRE(events.size() == 1);
    CHECK(events[0].name == "error");
    CHECK(events[0].data == json::parse(R"({"type":"error","error":{"type":"api_error",
                                                 "message":"agent timed out"}})"));
    result.outcome.status = cas::agent::RunStatus::failed;
    result.outcome.reason = "exit code 1";
    CHECK(events_of(shape.closing(result))[0].data.at("error").at("message") ==
          "execution failed: exit code 1");
}
