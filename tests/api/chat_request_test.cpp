#include "api/chat_request.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

using namespace cas::api;
namespace json = boost::json;

namespace {

const std::vector<std::string> kModels{"claude-haiku-4-5", "claude-sonnet-4-6"};
const std::string kDefault = "claude-sonnet-4-6";

std::variant<ChatRequest, ChatRequestError> parse(std::string_view body) {
    return parse_chat_request(json::parse(body).as_object(), {kModels, kDefault}, {});
}

ChatRequest ok(std::string_view body) {
    auto r = parse(body);
    REQUIRE(std::holds_alternative<ChatRequest>(r));
    return std::get<ChatRequest>(r);
}

std::string param_of(std::string_view body) {
    auto r = parse(body);
    REQUIRE(std::holds_alternative<ChatRequestError>(r));
    return std::get<ChatRequestError>(r).param;
}

// "{" + fields + messages + "}".
std::string body_of(std::string_view fields, std::string_view messages) {
    return "{" + std::string(fields) + std::string(messages) + "}";
}

}  // namespace

TEST_CASE("chat request: defaults, stream options and ignored fields") {
    auto r = ok(R"({"messages":[{"role":"user","content":"hi"}],"temperature":0.3,"user":"x"})");
    CHECK(r.model == kDefault);
    CHECK_FALSE(r.stream);
    auto s = ok(
        R"({"model":"claude-haiku-4-5","stream":true,"stream_options":{"include_usage":true},"n":1,
                    "messages":[{"role":"user","content":"hi"}]})");
    CHECK(s.stream);
    CHECK(s.include_usage);
    CHECK(s.model == "claude-haiku-4-5");
}

TEST_CASE("chat request: content as text parts; other part types are refused by name") {
    auto r = ok(
        R"({"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}]})");
    CHECK(r.messages.at(0).content == "a\nb");
    auto bad = parse(
        R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]})");
    REQUIRE(std::holds_alternative<ChatRequestError>(bad));
    CHECK_THAT(std::get<ChatRequestError>(bad).message, Catch::Contains("'image_url'"));
    CHECK(std::get<ChatRequestError>(bad).param == "messages[0].content[0].type");
}

TEST_CASE("chat request: roles, developer as system, and the errors") {
    auto r = ok(
        R"({"messages":[{"role":"developer","content":"rules"},{"role":"user","content":"q"}]})");
    CHECK(r.messages.at(0).role == "system");
    CHECK(param_of(R"({"messages":[]})") == "messages");
    CHECK(param_of(R"({"messages":"hi"})") == "messages");
    CHECK(param_of(R"({"messages":[{"role":"robot","content":"x"}]})") == "messages[0].role");
    CHECK(param_of(R"({"messages":[{"role":"user"}]})") == "messages[0].content");
    CHECK(param_of(R"({"messages":[{"role":"user","content":5}]})") == "messages[0].content");
    CHECK(param_of(R"({"messages":[{"role":"system","content":"only system"}]})") == "messages");
    CHECK(param_of(R"({"n":2,"messages":[{"role":"user","content":"x"}]})") == "n");
    CHECK(param_of(R"({"stream":"yes","messages":[{"role":"user","content":"x"}]})") == "stream");
    CHECK(param_of(R"({"model":"gpt-4","messages":[{"role":"user","content":"x"}]})") == "model");
    CHECK(param_of(R"({"model":7,"messages":[{"role":"user","content":"x"}]})") == "model");
    CHECK(param_of(R"({"messages":[{"role":"user","content":"a\u0000b"}]})") ==
          "messages[0].content");
}

TEST_CASE("chat request: max_completion_tokens, or the older max_tokens, caps the output") {
    constexpr auto kUser = R"("messages":[{"role":"user","content":"x"}])";
    CHECK_FALSE(ok(body_of("", kUser)).max_tokens);
    CHECK(ok(body_of(R"("max_tokens":100,)", kUser)).max_tokens == 100);
    CHECK(ok(body_of(R"("max_completion_tokens":50,)", kUser)).max_tokens == 50);
    CHECK(ok(body_of(R"("max_completion_tokens":50,"max_tokens":100,)", kUser)).max_tokens == 50);
    CHECK(ok(body_of(R"("max_tokens":100,"max_completion_tokens":50,)", kUser)).max_tokens == 50);
    CHECK(ok(body_of(R"("max_completion_tokens":null,"max_tokens":100,)", kUser)).max_tokens ==
          100);
    CHECK(param_of(body_of(R"("max_completion_tokens":0,)", kUser)) == "max_completion_tokens");
    CHECK(param_of(body_of(R"("max_tokens":0,)", kUser)) == "max_tokens");
    CHECK(param_of(body_of(R"("max_tokens":-5,)", kUser)) == "max_tokens");
    CHECK(param_of(body_of(R"("max_tokens":"10",)", kUser)) == "max_tokens");
    CHECK(param_of(body_of(R"("max_completion_tokens":2.5,)", kUser)) == "max_completion_tokens");
    // A bad older field is refused even beside a good newer one.
    CHECK(param_of(body_of(R"("max_completion_tokens":50,"max_tokens":0,)", kUser)) ==
          "max_tokens");
    auto r = parse(body_of(R"("max_completion_tokens":0,)", kUser));
    REQUIRE(std::holds_alternative<ChatRequestError>(r));
    CHECK_THAT(std::get<ChatRequestError>(r).message, Catch::Contains("'max_completion_tokens'"));
}

TEST_CASE("chat prompt: a single turn is the reference app's format") {
    CHECK(chat_prompt({{"system", "Be brief.", ""}, {"user", "Hi", ""}}) ==
          "System instructions:\nBe brief.\n\n---\n\nRequest:\nHi");
    CHECK(chat_prompt({{"user", "Only", ""}}) == "Request:\nOnly");
}

TEST_CASE("chat prompt: prior turns are kept as a delimited transcript") {
    auto prompt = chat_prompt({{"system", "S1", ""},
                               {"user", "first question", ""},
                               {"assistant", "first answer", ""},
                               {"system", "S2", ""},
                               {"user", "second question", ""}});
    CHECK(prompt ==
          "System instructions:\nS1\n\nS2\n\n---\n\n"
          "Conversation so far:\n\n[user]\nfirst question\n\n[assistant]\nfirst answer\n\n---\n\n"
          "Request:\nsecond question");
}

TEST_CASE("chat prompt: tool calls and results, and a conversation not ending with the user") {
    auto ok_tool = ok(R"({"messages":[{"role":"user","content":"weather?"},
        {"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}}]},
        {"role":"tool","tool_call_id":"c1","content":"rain"}]})");
    CHECK(chat_prompt(ok_tool.messages) ==
          "Conversation so far:\n\n[user]\nweather?\n\n[assistant]\n(called tools: "
          "get_weather({\"city\":\"Oslo\"}))\n\n[tool result for c1]\nrain\n\n---\n\n"
          "Request:\nContinue from the conversation above.");
}

TEST_CASE("chat request: run options as extra fields, response_format as the run's schema") {
    const std::string user = R"("messages":[{"role":"user","content":"hi"}])";
    auto r = ok(body_of(R"("max_turns":2,"disallowed_tools":["Bash"],"effort":"low",)", user));
    CHECK(r.options.max_turns == 2);
    CHECK(r.options.disallowed_tools == std::vector<std::string>{"Bash"});
    CHECK(r.options.effort == "low");
    CHECK(param_of(body_of(R"("max_turns":0,)", user)) == "max_turns");
    CHECK(std::get<ChatRequestError>(parse(body_of(R"("max_turns":0,)", user))).message ==
          "max_turns: must be at least 1");
    CHECK(param_of(body_of(R"("allowed_tools":["Read","x y"],)", user)) == "allowed_tools[1]");

    auto schema = ok(body_of(R"("response_format":{"type":"json_schema","json_schema":{"name":"a",
        "schema":{"type":"object","properties":{"answer":{"type":"integer"}}}}},)",
                             user));
    CHECK(json::parse(*schema.options.json_schema) ==
          json::parse(R"({"type":"object","properties":{"answer":{"type":"integer"}}})"));
    CHECK(ok(body_of(R"("response_format":{"type":"json_object"},)", user)).options.json_schema ==
          R"({"type":"object"})");
    CHECK_FALSE(ok(body_of(R"("response_format":{"type":"text"},)", user)).options.json_schema);
    CHECK(param_of(body_of(R"("response_format":{"type":"xml"},)", user)) ==
          "response_format.type");
    CHECK(param_of(body_of(R"("response_format":{"type":"json_object"},"json_schema":{},)",
                           user)) == "response_format");
    // The policy reaches chat too.
    RunPolicy no_schema{
        .callers_may_set = {"model", "max_turns"}, .max_turns_limit = {}, .allowed_models = {}};
    auto refused = parse_chat_request(
        json::parse(body_of(R"("response_format":{"type":"json_object"},)", user)).as_object(),
        {kModels, kDefault}, no_schema);
    REQUIRE(std::holds_alternative<ChatRequestError>(refused));
    CHECK(std::get<ChatRequestError>(refused).param == "response_format");
}
