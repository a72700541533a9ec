#include "api/messages_request.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <string>

using namespace cas::api;
namespace json = boost::json;

namespace {

const std::vector<std::string> kModels{"claude-haiku-4-5", "claude-sonnet-4-6"};

std::variant<MessagesRequest, ChatRequestError> parse(const json::object& body) {
    return parse_messages_request(body, kModels, {});
}

template <class Body>
MessagesRequest ok(const Body& body) {
    auto r = parse(body);
    if (const auto* error = std::get_if<ChatRequestError>(&r)) FAIL(error->message);
    return std::get<MessagesRequest>(r);
}

template <class Body>
ChatRequestError error_of(const Body& body) {
    auto r = parse(body);
    REQUIRE(std::holds_alternative<ChatRequestError>(r));
    auto error = std::get<ChatRequestError>(r);
    // Anthropic's messages start with the field's path.
    if (error.kind == ChatRequestError::Kind::invalid) {
        CHECK_THAT(error.message, Catch::StartsWith(error.param + ": "));
    }
    return error;
}

// A valid body with `field` set to `value`.
json::object with(std::string_view field, json::value value) {
    auto body = json::parse(R"({"model":"claude-haiku-4-5","max_tokens":64,
                                "messages":[{"role":"user","content":"hi"}]})")
                    .as_object();
    body[field] = std::move(value);
    return body;
}

json::object without(std::string_view field) {
    auto body = with("unused", nullptr);
    body.erase(field);
    return body;
}

json::array messages(std::string_view text) {
    return json::parse(text).as_array();
}

bool same(const std::vector<ChatMessage>& got, const std::vector<ChatMessage>& want) {
    if (got.size() != want.size()) return false;
    for (std::size_t i = 0; i < got.size(); ++i) {
        if (got[i].role != want[i].role || got[i].content != want[i].content) return false;
    }
    return true;
}

}  // namespace

TEST_CASE("messages request: the minimal request") {
    auto r = ok(with("stream", true));
    CHECK(r.model == "claude-haiku-4-5");
    CHECK(r.max_tokens == 64);
    CHECK(r.stream);
    CHECK(same(r.messages, {{"user", "hi", ""}}));
    CHECK_FALSE(ok(without("stream")).stream);
}

TEST_CASE("messages request: model and max_tokens are required") {
    auto model = error_of(without("model"));
    CHECK(model.param == "model");
    CHECK_THAT(model.message, Catch::StartsWith("model:"));
    CHECK(error_of(with("model", nullptr)).param == "model");
    CHECK(error_of(with("model", 5)).param == "model");

    auto cap = error_of(without("max_tokens"));
    CHECK(cap.param == "max_tokens");
    CHECK_THAT(cap.message, Catch::StartsWith("max_tokens:"));
    for (const auto& bad : {json::value(0), json::value(-1), json::value("64"), json::value(1.5)}) {
        INFO(json::serialize(bad));
        auto error = error_of(with("max_tokens", bad));
        CHECK(error.param == "max_tokens");
        CHECK_THAT(error.message, Catch::StartsWith("max_tokens:"));
    }
    CHECK(ok(with("max_tokens", 1)).max_tokens == 1);
}

TEST_CASE("messages request: the system prompt comes first, from a string or text blocks") {
    auto s = ok(with("system", "Be brief."));
    CHECK(same(s.messages, {{"system", "Be brief.", ""}, {"user", "hi", ""}}));
    auto blocks = ok(with("system", json::parse(R"([{"type":"text","text":"A"},
        {"type":"text","text":"B","cache_control":{"type":"ephemeral"}}])")));
    CHECK(same(blocks.messages, {{"system", "A\nB", ""}, {"user", "hi", ""}}));
    CHECK(same(ok(with("system", "")).messages, {{"user", "hi", ""}}));
    CHECK(error_of(with("system", 5)).param == "system");
    CHECK(error_of(with("system", json::parse(R"([{"type":"image"}])"))).param == "system.0.type");
    CHECK(error_of(with("system", json::string(std::string_view("a\0b", 3)))).param == "system");
}

TEST_CASE("messages request: content as a string or text blocks") {
    auto r = ok(with("messages", messages(R"([
        {"role":"user","content":"first"},
        {"role":"assistant","content":[{"type":"text","text":"answer"}]},
        {"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}])")));
    CHECK(same(r.messages,
               {{"user", "first", ""}, {"assistant", "answer", ""}, {"user", "a\nb", ""}}));
}

TEST_CASE("messages request: other content blocks are refused by their path") {
    for (std::string_view type : {"image", "tool_use", "tool_result", "document", "thinking"}) {
        INFO(type);
        auto body = with("messages", messages(R"([{"role":"user","content":[
            {"type":"text","text":"look"},{"type":"TYPE"}]}])"));
        body["messages"].as_array()[0].as_object()["content"].as_array()[1].as_object()["type"] =
            type;
        auto error = error_of(body);
        CHECK(error.param == "messages.0.content.1.type");
        CHECK_THAT(error.message, Catch::StartsWith("messages.0.content.1.type: ") &&
                                      Catch::Contains("'" + std::string(type) + "'"));
    }
    CHECK(error_of(with("messages", messages(R"([{"role":"user","content":"q"},
        {"role":"assistant","content":"a"},{"role":"user","content":[{"type":"text"}]}])")))
              .param == "messages.2.content.0.text");
    CHECK(error_of(with("messages", messages(R"([{"role":"user","content":[5]}])"))).param ==
          "messages.0.content.0");
    CHECK(error_of(with("messages", messages(R"([{"role":"user"}])"))).param ==
          "messages.0.content");
    CHECK(error_of(with("messages", messages(R"([{"role":"user","content":"a\u0000"}])"))).param ==
          "messages.0.content");
}

TEST_CASE("messages request: roles, and the last message must be the user's") {
    auto system = error_of(with("messages", messages(R"([{"role":"system","content":"x"},
                                                          {"role":"user","content":"q"}])")));
    CHECK(system.param == "messages.0.role");
    auto prefill = error_of(with("messages", messages(R"([{"role":"user","content":"q"},
                                                           {"role":"assistant","content":"A:"}])")));
    CHECK(prefill.param == "messages.1");
    CHECK(error_of(with("messages", json::array{})).param == "messages");
    CHECK(error_of(without("messages")).param == "messages");
    CHECK(error_of(with("messages", "hi")).param == "messages");
    CHECK(error_of(with("messages", messages(R"(["hi"])"))).param == "messages.0");
}

TEST_CASE("messages request: tools and stop sequences are refused unless empty") {
    CHECK(error_of(with("tools", json::parse(R"([{"name":"f","input_schema":{}}])"))).param ==
          "tools");
    CHECK(error_of(with("tools", "all")).param == "tools");
    CHECK(error_of(with("stop_sequences", json::parse(R"(["END"])"))).param == "stop_sequences");
    ok(with("tools", json::array{}));
    ok(with("stop_sequences", json::array{}));
    ok(with("tools", nullptr));
    CHECK(error_of(with("stream", "yes")).param == "stream");
    CHECK(error_of(with("metadata", "x")).param == "metadata");
    ok(with("metadata", json::object{{"user_id", "u-1"}}));
    // Fields it does not use are ignored.
    ok(with("temperature", 0.5));
    ok(with("top_k", 5));
}

TEST_CASE("messages request: an unsupported model is named with the supported list") {
    auto error = error_of(with("model", "claude-2"));
    CHECK(error.kind == ChatRequestError::Kind::unsupported_model);
    CHECK(error.param == "model");
    CHECK(error.message == "model: claude-2 (supported: claude-haiku-4-5, claude-sonnet-4-6)");
}

TEST_CASE("messages request: a message with no text is refused, as Anthropic refuses it") {
    CHECK(error_of(with("messages", messages(R"([{"role":"user","content":""}])"))).param ==
          "messages.0.content");
    CHECK(error_of(with("messages", messages(R"([{"role":"user","content":[]}])"))).param ==
          "messages.0.content");
    CHECK(error_of(with("messages", messages(R"([{"role":"user","content":"a"},
                                                 {"role":"assistant","content":""},
                                                 {"role":"user","content":"b"}])")))
              .param == "messages.1.content");
}

TEST_CASE("messages request: run options as extra fields, problems as Anthropic names them") {
    auto with = [](std::string_view extra) {
        return json::parse(std::string(R"({"model":"claude-haiku-4-5","max_tokens":8,)") +
                           std::string(extra) + R"("messages":[{"role":"user","content":"hi"}]})")
            .as_object();
    };
    auto ok = parse_messages_request(with(R"("max_turns":2,"effort":"low",)"), kModels, {});
    REQUIRE(std::holds_alternative<MessagesRequest>(ok));
    CHECK(std::get<MessagesRequest>(ok).options.max_turns == 2);
    CHECK(std::get<MessagesRequest>(ok).options.effort == "low");
    auto bad = parse_messages_request(with(R"("disallowed_tools":["-p"],)"), kModels, {});
    REQUIRE(std::holds_alternative<ChatRequestError>(bad));
    CHECK(std::get<ChatRequestError>(bad).param == "disallowed_tools[0]");
    CHECK(std::get<ChatRequestError>(bad).message.starts_with("disallowed_tools[0]: "));
}
