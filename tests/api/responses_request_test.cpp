#include "api/responses_request.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <string>

using namespace cas::api;
namespace json = boost::json;

namespace {

const std::vector<std::string> kModels{"claude-haiku-4-5", "claude-sonnet-4-6"};
const std::string kDefault = "claude-sonnet-4-6";

std::variant<ResponsesRequest, ChatRequestError> parse(const json::object& body) {
    return parse_responses_request(body, {kModels, kDefault}, {});
}

std::variant<ResponsesRequest, ChatRequestError> parse(std::string_view body) {
    return parse(json::parse(body).as_object());
}

template <class Body>
ResponsesRequest ok(const Body& body) {
    auto r = parse(body);
    if (const auto* error = std::get_if<ChatRequestError>(&r)) FAIL(error->message);
    return std::get<ResponsesRequest>(r);
}

template <class Body>
ChatRequestError error_of(const Body& body) {
    auto r = parse(body);
    REQUIRE(std::holds_alternative<ChatRequestError>(r));
    return std::get<ChatRequestError>(r);
}

template <class Body>
std::string param_of(const Body& body) {
    return error_of(body).param;
}

// A body with a valid input and `field` set to `value`.
json::object with(std::string_view field, json::value value) {
    json::object body{{"input", "hi"}};
    body[field] = std::move(value);
    return body;
}

bool same(const std::vector<ChatMessage>& got, const std::vector<ChatMessage>& want) {
    if (got.size() != want.size()) return false;
    for (std::size_t i = 0; i < got.size(); ++i) {
        if (got[i].role != want[i].role || got[i].content != want[i].content) return false;
    }
    return true;
}

}  // namespace

TEST_CASE("responses request: a string input is one user message, with the defaults") {
    auto r = ok(R"({"input":"Hello"})");
    CHECK(r.model == kDefault);
    CHECK(same(r.messages, {{"user", "Hello", ""}}));
    CHECK_FALSE(r.stream);
    CHECK(r.store);
    CHECK_FALSE(r.previous_response_id);
    CHECK_FALSE(r.max_output_tokens);
    CHECK(r.metadata.empty());
    CHECK(r.instructions.empty());

    auto s = ok(R"({"model":"claude-haiku-4-5","input":"x","stream":true,"store":false,
                    "previous_response_id":"resp_abc","max_output_tokens":300,
                    "metadata":{"k":"v"}})");
    CHECK(s.model == "claude-haiku-4-5");
    CHECK(s.stream);
    CHECK_FALSE(s.store);
    CHECK(s.previous_response_id == "resp_abc");
    CHECK(s.max_output_tokens == 300);
    CHECK(s.metadata == json::object{{"k", "v"}});
}

TEST_CASE("responses request: message items with string content and text parts") {
    auto r = ok(R"({"input":[
        {"role":"user","content":"first"},
        {"type":"message","role":"assistant","content":[{"type":"output_text","text":"answer"}]},
        {"type":"message","role":"user","content":[{"type":"input_text","text":"a"},
                                                   {"type":"input_text","text":"b"}]}]})");
    CHECK(same(r.messages,
               {{"user", "first", ""}, {"assistant", "answer", ""}, {"user", "a\nb", ""}}));
}

TEST_CASE("responses request: developer is system, and instructions come first as system") {
    auto r = ok(R"({"instructions":"Be brief.","input":[
        {"role":"developer","content":"rules"},{"role":"system","content":"more"},
        {"role":"user","content":"q"}]})");
    CHECK(r.instructions == "Be brief.");
    CHECK(same(r.messages, {{"system", "Be brief.", ""},
                            {"system", "rules", ""},
                            {"system", "more", ""},
                            {"user", "q", ""}}));
    // Empty instructions add no message.
    CHECK(same(ok(R"({"instructions":"","input":"q"})").messages, {{"user", "q", ""}}));
}

TEST_CASE("responses request: what an agent run cannot honour is refused by name") {
    CHECK(param_of(with("tools", json::array{json::object{{"type", "function"}, {"name", "f"}}})) ==
          "tools");
    CHECK(param_of(with("tools", json::array{json::object{{"type", "web_search"}}})) == "tools");
    CHECK(param_of(with("tool_choice", "required")) == "tool_choice");
    CHECK(param_of(with("tool_choice", json::object{{"type", "function"}, {"name", "f"}})) ==
          "tool_choice");
    CHECK(param_of(with("background", true)) == "background");
    CHECK(param_of(with("conversation", "conv_1")) == "conversation");
    CHECK(param_of(with("prompt", json::object{{"id", "pmpt_1"}})) == "prompt");
    CHECK(param_of(with("text", json::parse(R"({"format":{"type":"grammar"}})"))) ==
          "text.format.type");
    CHECK(param_of(with("text", json::parse(R"({"format":{"type":"json_schema","name":"x"}})"))) ==
          "text.format.schema");
    CHECK(param_of(with("text", "plain")) == "text");
    auto error = error_of(with("tools", json::array{json::object{{"type", "function"}}}));
    CHECK(error.kind == ChatRequestError::Kind::invalid);
    CHECK_THAT(error.message, Catch::Contains("tools"));

    // The harmless values of the same fields are accepted.
    ok(with("tools", json::array{}));
    ok(with("tool_choice", "auto"));
    ok(with("tool_choice", "none"));
    ok(with("background", false));
    ok(with("text", json::parse(R"({"format":{"type":"text"},"verbosity":"low"})")));
    ok(with("conversation", nullptr));
}

TEST_CASE("responses request: input items other than text messages are refused by name") {
    auto output =
        error_of(R"({"input":[{"type":"function_call_output","call_id":"c1","output":"42"}]})");
    CHECK(output.param == "input[0].type");
    CHECK_THAT(output.message, Catch::Contains("'function_call_output'"));
    CHECK(param_of(
              R"({"input":[{"type":"reasoning","summary":[]},{"role":"user","content":"q"}]})") ==
          "input[0].type");
    auto image = error_of(R"({"input":[{"role":"user","content":[
        {"type":"input_text","text":"what is this?"},
        {"type":"input_image","image_url":"https://example.com/a.png"}]}]})");
    CHECK(image.param == "input[0].content[1].type");
    CHECK_THAT(image.message, Catch::Contains("'input_image'"));
    CHECK(param_of(R"({"input":[{"role":"tool","content":"x"}]})") == "input[0].role");
    CHECK(param_of(R"({"input":[{"role":"user"}]})") == "input[0].content");
    CHECK(param_of(R"({"input":[{"role":"user","content":7}]})") == "input[0].content");
    CHECK(param_of(R"({"input":["hi"]})") == "input[0]");
}

TEST_CASE("responses request: an item_reference names an output message of this service") {
    // A user message, a reference with `id`, another user message.
    auto body = [](json::value id) {
        json::object reference{{"type", "item_reference"}};
        if (!id.is_null()) reference["id"] = std::move(id);
        return json::object{
            {"input",
             json::array{json::object{{"role", "user"}, {"content", "q"}}, std::move(reference),
                         json::object{{"role", "user"}, {"content", "more"}}}}};
    };
    const std::string hex = "0123456789abcdef01234567";
    auto r = ok(body(json::string("msg_" + hex)));
    CHECK(same(r.messages, {{"user", "q", ""}, {"assistant", "", ""}, {"user", "more", ""}}));
    REQUIRE(r.item_references.size() == 1);
    CHECK(r.item_references[0].message == 1);
    CHECK(r.item_references[0].response_id == "resp_" + hex);
    CHECK(ok(R"({"input":"q"})").item_references.empty());

    for (const auto& id :
         {json::value("msg_1"), json::value(json::string("resp_" + hex)),
          json::value("msg_0123456789ABCDEF01234567"),
          json::value(json::string("msg_" + hex + "0")), json::value(5), json::value(nullptr)}) {
        INFO(json::serialize(id));
        CHECK(param_of(body(id)) == "input[1].id");
    }
}

TEST_CASE("responses request: input is required and must hold a user message") {
    CHECK(param_of(R"({})") == "input");
    CHECK(param_of(R"({"input":null})") == "input");
    CHECK(param_of(R"({"input":[]})") == "input");
    CHECK(param_of(R"({"input":5})") == "input");
    CHECK(param_of(R"({"instructions":"only","input":[{"role":"developer","content":"x"},
                                                      {"role":"assistant","content":"y"}]})") ==
          "input");
}

TEST_CASE("responses request: text with NUL or bad UTF-8 is refused") {
    CHECK(param_of(R"({"input":"a\u0000b"})") == "input");
    CHECK(param_of(R"({"input":[{"role":"user","content":"a\u0000b"}]})") == "input[0].content");
    CHECK(param_of(
              R"({"input":[{"role":"user","content":[{"type":"input_text","text":"\u0000"}]}]})") ==
          "input[0].content");
    CHECK(param_of(R"({"instructions":"\u0000","input":"q"})") == "instructions");
    CHECK(param_of(with("instructions", 5)) == "instructions");
}

TEST_CASE("responses request: metadata is at most 16 string pairs of bounded size") {
    json::object sixteen;
    for (int i = 0; i < 16; ++i) sixteen[std::to_string(i)] = "v";
    CHECK(ok(with("metadata", sixteen)).metadata.size() == 16);
    auto seventeen = sixteen;
    seventeen["16"] = "v";
    CHECK(param_of(with("metadata", seventeen)) == "metadata");

    CHECK(param_of(with("metadata", json::object{{"k", 1}})) == "metadata");
    CHECK(param_of(with("metadata", json::object{{"k", nullptr}})) == "metadata");
    CHECK(param_of(with("metadata", "k=v")) == "metadata");
    ok(with("metadata", json::object{{"k", json::string(std::string(512, 'x'))}}));
    CHECK(param_of(with("metadata", json::object{{"k", json::string(std::string(513, 'x'))}})) ==
          "metadata");
    ok(with("metadata", json::object{{std::string(64, 'k'), "v"}}));
    CHECK(param_of(with("metadata", json::object{{std::string(65, 'k'), "v"}})) == "metadata");
    ok(with("metadata", nullptr));
}

TEST_CASE("responses request: max_output_tokens is a positive integer") {
    CHECK(ok(with("max_output_tokens", 1)).max_output_tokens == 1);
    CHECK(ok(with("max_output_tokens", 2147483647)).max_output_tokens == 2147483647);
    CHECK_FALSE(ok(with("max_output_tokens", nullptr)).max_output_tokens);
    for (const auto& bad : {json::value(0), json::value(-1), json::value("5"), json::value(1.5),
                            json::value(2147483648LL)}) {
        INFO(json::serialize(bad));
        CHECK(param_of(with("max_output_tokens", bad)) == "max_output_tokens");
    }
}

TEST_CASE("responses request: previous_response_id must be a response id") {
    CHECK(ok(with("previous_response_id", "resp_1")).previous_response_id == "resp_1");
    CHECK(param_of(with("previous_response_id", 5)) == "previous_response_id");
    CHECK(param_of(with("previous_response_id", "")) == "previous_response_id");
    CHECK(param_of(with("previous_response_id", json::string(std::string(129, 'a')))) ==
          "previous_response_id");
    CHECK(param_of(with("previous_response_id", json::array{})) == "previous_response_id");
}

TEST_CASE("responses request: flags are booleans") {
    CHECK(ok(R"({"input":"q"})").store);
    CHECK_FALSE(ok(with("store", false)).store);
    CHECK(ok(with("store", true)).store);
    CHECK(param_of(with("store", "no")) == "store");
    CHECK(param_of(with("stream", 1)) == "stream");
}

TEST_CASE("responses request: an unsupported model is named with the supported list") {
    auto error = error_of(R"({"model":"gpt-4o","input":"q"})");
    CHECK(error.kind == ChatRequestError::Kind::unsupported_model);
    CHECK(error.param == "model");
    CHECK_THAT(error.message,
               Catch::Contains("gpt-4o") && Catch::Contains("claude-haiku-4-5, claude-sonnet-4-6"));
    auto typed = error_of(R"({"model":7,"input":"q"})");
    CHECK(typed.param == "model");
    CHECK(typed.kind == ChatRequestError::Kind::invalid);
}

TEST_CASE("responses request: fields it does not use are ignored") {
    auto r = ok(R"({"input":"q","temperature":0.2,"top_p":1,"user":"u-1","truncation":"auto",
                    "reasoning":{"effort":"low"},"parallel_tool_calls":false,"service_tier":"auto"})");
    CHECK(same(r.messages, {{"user", "q", ""}}));
}

TEST_CASE("responses request: text.format json_schema and json_object become the run's schema") {
    auto schema = ok(with("text", json::parse(R"({"format":{"type":"json_schema","name":"answer",
        "schema":{"type":"object","properties":{"answer":{"type":"integer"}}},"strict":true}})")));
    REQUIRE(schema.options.json_schema);
    CHECK(json::parse(*schema.options.json_schema) ==
          json::parse(R"({"type":"object","properties":{"answer":{"type":"integer"}}})"));
    CHECK(schema.text_format.at("name") == "answer");
    auto object = ok(with("text", json::parse(R"({"format":{"type":"json_object"}})")));
    CHECK(object.options.json_schema == R"({"type":"object"})");
    CHECK_FALSE(ok(with("text", json::parse(R"({"format":{"type":"text"}})"))).options.json_schema);
}
