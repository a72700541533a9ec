// The bad-input catalogue for the Responses and Messages APIs (bad_input.hpp has the
// machinery): every malformed or unhonourable request gets its API's own error shape, a
// status that says what went wrong and a message naming the field; none starts a run.
#include "integration/bad_input.hpp"

using namespace cas::test;
using namespace cas::test::bad_input;

namespace {

std::string responses(const std::string& body, const std::string& extra = {}) {
    return post("/v1/responses", body, extra);
}

// Authenticated as Anthropic's clients do, with x-api-key.
std::string messages(const std::string& body, const std::string& extra = {}) {
    return post("/v1/messages", body, "x-api-key: test-token\r\n" + extra, false);
}

// {"type":"error","error":{"type":…,"message":…}}, exactly.
std::string anthropic_error(std::string_view type, std::string_view message) {
    return cas::json_text(json::object{
        {"type", "error"}, {"error", json::object{{"type", type}, {"message", message}}}});
}

// An OpenAI 400 naming `param`, whatever its wording.
Want openai_400(const std::string& param) {
    return has(400, {R"("type":"invalid_request_error")", R"("param":")" + param + "\""});
}

// An Anthropic 400 whose message starts with the path of the field.
Want anthropic_400(const std::string& path) {
    return has(400, {R"({"type":"error","error":{"type":"invalid_request_error","message":")" +
                     path + ":"});
}

const std::string kHi = R"({"role":"user","content":"hi"})";

std::vector<Entry> catalogue() {
    return {
        // ---- POST /v1/responses: OpenAI's error object ----
        {"responses: no token -> 401 in OpenAI's shape",
         post("/v1/responses", R"({"input":"hi"})", {}, false),
         {exact(401, cas::json_text(
                         json::object{{"error", json::object{{"message", "Missing bearer token"},
                                                             {"type", "authentication_error"},
                                                             {"param", nullptr},
                                                             {"code", nullptr}}}}))},
         Then::closed},
        {"responses: malformed JSON -> 400",
         responses("{\"input\":"),
         {has(400, {"Request body is not valid JSON", R"("type":"invalid_request_error")"})},
         Then::open},
        {"responses: no input -> 400 naming input",
         responses("{}"),
         {openai_400("input")},
         Then::open},
        {"responses: input a number -> 400 naming input",
         responses(R"({"input":5})"),
         {openai_400("input")},
         Then::open},
        {"responses: empty input array -> 400 naming input",
         responses(R"({"input":[]})"),
         {openai_400("input")},
         Then::open},
        {"responses: only an assistant message -> 400 naming input",
         responses(R"({"input":[{"role":"assistant","content":"hi"}]})"),
         {openai_400("input")},
         Then::open},
        {"responses: a tool -> 400 naming tools",
         responses(R"({"input":"hi","tools":[{"type":"function","name":"f","parameters":{}}]})"),
         {openai_400("tools")},
         Then::open},
        {"responses: tool_choice required -> 400",
         responses(R"({"input":"hi","tool_choice":"required"})"),
         {openai_400("tool_choice")},
         Then::open},
        {"responses: a function_call_output item -> 400 naming its type",
         responses(R"({"input":[{"type":"function_call_output","call_id":"c","output":"o"}]})"),
         {openai_400("input[0].type")},
         Then::open},
        {"responses: an item_reference to an item of no response here -> 400 naming its id",
         responses(R"({"input":[{"type":"item_reference","id":"msg_1"},)" + kHi + "]}"),
         {openai_400("input[0].id")},
         Then::open},
        {"responses: an item_reference to an unknown output message -> 404 item_not_found",
         responses(R"({"input":[{"type":"item_reference","id":"msg_0123456789abcdef01234567"},)" +
                   kHi + "]}"),
         {has(404, {"Item with id 'msg_0123456789abcdef01234567' not found.",
                    R"("code":"item_not_found")"})},
         Then::open},
        {"responses: an input_image part -> 400 naming it",
         responses(
             R"({"input":[{"role":"user","content":[{"type":"input_text","text":"a"},{"type":"input_image","image_url":"http://x/i.png"}]}]})"),
         {openai_400("input[0].content[1].type")},
         Then::open},
        {"responses: role tool -> 400 naming the role",
         responses(R"({"input":[{"role":"tool","content":"x"}]})"),
         {openai_400("input[0].role")},
         Then::open},
        {"responses: NUL in the input -> 400",
         responses(R"({"input":"a\u0000b"})"),
         {openai_400("input")},
         Then::open},
        {"responses: instructions not a string -> 400",
         responses(R"({"input":"hi","instructions":7})"),
         {openai_400("instructions")},
         Then::open},
        {"responses: a text.format json_schema without its schema -> 400 naming it",
         responses(R"({"input":"hi","text":{"format":{"type":"json_schema","name":"x"}}})"),
         {openai_400("text.format.schema")},
         Then::open},
        {"responses: a text.format of another type -> 400 naming it",
         responses(R"({"input":"hi","text":{"format":{"type":"grammar"}}})"),
         {openai_400("text.format.type")},
         Then::open},
        {"responses: a run option of the wrong type -> 400 naming it",
         responses(R"({"input":"hi","max_turns":"3"})"),
         {openai_400("max_turns")},
         Then::open},
        {"responses: a tool pattern that could be a flag -> 400 naming it",
         responses(R"({"input":"hi","disallowed_tools":["--help"]})"),
         {openai_400("disallowed_tools[0]")},
         Then::open},
        {"responses: background -> 400",
         responses(R"({"input":"hi","background":true})"),
         {openai_400("background")},
         Then::open},
        {"responses: conversation -> 400",
         responses(R"({"input":"hi","conversation":"conv_1"})"),
         {openai_400("conversation")},
         Then::open},
        {"responses: max_output_tokens 0 -> 400",
         responses(R"({"input":"hi","max_output_tokens":0})"),
         {openai_400("max_output_tokens")},
         Then::open},
        {"responses: stream not a boolean -> 400",
         responses(R"({"input":"hi","stream":"yes"})"),
         {openai_400("stream")},
         Then::open},
        {"responses: store not a boolean -> 400",
         responses(R"({"input":"hi","store":1})"),
         {openai_400("store")},
         Then::open},
        {"responses: metadata value not a string -> 400",
         responses(R"({"input":"hi","metadata":{"k":5}})"),
         {openai_400("metadata")},
         Then::open},
        {"responses: 17 metadata keys -> 400",
         responses(
             R"({"input":"hi","metadata":{"a":"","b":"","c":"","d":"","e":"","f":"","g":"","h":"","i":"","j":"","k":"","l":"","m":"","n":"","o":"","p":"","q":""}})"),
         {openai_400("metadata")},
         Then::open},
        {"responses: an unsupported model -> 400 model_not_found with the list",
         responses(R"({"input":"hi","model":"gpt-4o"})"),
         {has(400, {R"("code":"model_not_found")", R"("param":"model")", R"("supported":[)"})},
         Then::open},
        {"responses: an unknown previous_response_id -> 404 naming it",
         responses(R"({"input":"hi","previous_response_id":"resp_0123"})"),
         {has(404,
              {"Response with id 'resp_0123' not found.", R"("param":"previous_response_id")"})},
         Then::open},
        {"responses: previous_response_id empty -> 400",
         responses(R"({"input":"hi","previous_response_id":""})"),
         {openai_400("previous_response_id")},
         Then::open},
        {"GET /v1/responses/{unknown} -> 404",
         get("/v1/responses/resp_nope"),
         {has(404, {"Response with id 'resp_nope' not found.", R"("code":"response_not_found")"})},
         Then::open},
        {"DELETE /v1/responses/{unknown} -> 404",
         "DELETE /v1/responses/resp_nope HTTP/1.1\r\nHost: x\r\n" + kBearer + "\r\n",
         {has(404, {R"("code":"response_not_found")"})},
         Then::open},
        {"PUT /v1/responses -> 405 in OpenAI's shape",
         "PUT /v1/responses HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
         {with_header(has(405, {R"("type":"invalid_request_error")"}), "allow", "POST")},
         Then::open},

        // ---- POST /v1/messages: Anthropic's error object ----
        {"messages: no key -> 401 in Anthropic's shape",
         post("/v1/messages",
              R"({"model":"claude-haiku-4-5","max_tokens":5,"messages":[)" + kHi + "]}", {}, false),
         {exact(401, anthropic_error("authentication_error", "Missing bearer token"))},
         Then::closed},
        {"messages: a wrong x-api-key -> 401 in Anthropic's shape",
         post("/v1/messages",
              R"({"model":"claude-haiku-4-5","max_tokens":5,"messages":[)" + kHi + "]}",
              "x-api-key: wrong\r\n", false),
         {exact(401, anthropic_error("authentication_error", "Invalid token"))},
         Then::closed},
        {"messages: malformed JSON -> 400 in Anthropic's shape",
         messages("[1,"),
         {has(
             400,
             {R"({"type":"error","error":{"type":"invalid_request_error","message":"Request body is not valid JSON)"})},
         Then::open},
        {"messages: not an object -> 400",
         messages("[]"),
         {exact(400,
                anthropic_error("invalid_request_error", "Request body must be a JSON object"))},
         Then::open},
        {"messages: no model -> 400 model: Field required",
         messages(R"({"max_tokens":5,"messages":[)" + kHi + "]}"),
         {exact(400, anthropic_error("invalid_request_error", "model: Field required"))},
         Then::open},
        {"messages: no max_tokens -> 400 max_tokens: Field required",
         messages(R"({"model":"claude-haiku-4-5","messages":[)" + kHi + "]}"),
         {exact(400, anthropic_error("invalid_request_error", "max_tokens: Field required"))},
         Then::open},
        {"messages: max_tokens 0 -> 400",
         messages(R"({"model":"claude-haiku-4-5","max_tokens":0,"messages":[)" + kHi + "]}"),
         {anthropic_400("max_tokens")},
         Then::open},
        {"messages: max_tokens a string -> 400",
         messages(R"({"model":"claude-haiku-4-5","max_tokens":"9","messages":[)" + kHi + "]}"),
         {anthropic_400("max_tokens")},
         Then::open},
        {"messages: no messages -> 400",
         messages(R"({"model":"claude-haiku-4-5","max_tokens":5})"),
         {anthropic_400("messages")},
         Then::open},
        {"messages: an image block -> 400 naming its path",
         messages(
             R"({"model":"claude-haiku-4-5","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AA=="}}]}]})"),
         {anthropic_400("messages.0.content.0.type")},
         Then::open},
        {"messages: a tool_result block -> 400 naming its path",
         messages(
             R"({"model":"claude-haiku-4-5","max_tokens":5,"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"tool_result","tool_use_id":"t","content":"x"}]}]})"),
         {anthropic_400("messages.0.content.1.type")},
         Then::open},
        {"messages: role system in messages -> 400",
         messages(
             R"({"model":"claude-haiku-4-5","max_tokens":5,"messages":[{"role":"system","content":"x"}]})"),
         {anthropic_400("messages.0.role")},
         Then::open},
        {"messages: a trailing assistant message (prefill) -> 400",
         messages(R"({"model":"claude-haiku-4-5","max_tokens":5,"messages":[)" + kHi +
                  R"(,{"role":"assistant","content":"Sure"}]})"),
         {anthropic_400("messages.1")},
         Then::open},
        {"messages: a system image block -> 400",
         messages(
             R"({"model":"claude-haiku-4-5","max_tokens":5,"system":[{"type":"image"}],"messages":[)" +
             kHi + "]}"),
         {anthropic_400("system.0.type")},
         Then::open},
        {"messages: tools -> 400",
         messages(
             R"({"model":"claude-haiku-4-5","max_tokens":5,"tools":[{"name":"t","input_schema":{}}],"messages":[)" +
             kHi + "]}"),
         {anthropic_400("tools")},
         Then::open},
        {"messages: stop_sequences -> 400",
         messages(
             R"({"model":"claude-haiku-4-5","max_tokens":5,"stop_sequences":["END"],"messages":[)" +
             kHi + "]}"),
         {anthropic_400("stop_sequences")},
         Then::open},
        {"messages: an empty user message -> 400",
         messages(
             R"({"model":"claude-haiku-4-5","max_tokens":5,"messages":[{"role":"user","content":""}]})"),
         {exact(400,
                anthropic_error("invalid_request_error", "messages.0.content: must not be empty"))},
         Then::open},
        {"messages: NUL in a message -> 400",
         messages(
             R"({"model":"claude-haiku-4-5","max_tokens":5,"messages":[{"role":"user","content":"a\u0000"}]})"),
         {anthropic_400("messages.0.content")},
         Then::open},
        {"messages: an unknown model -> 404 not_found_error",
         messages(R"({"model":"claude-2","max_tokens":5,"messages":[)" + kHi + "]}"),
         {has(
             404,
             {R"({"type":"error","error":{"type":"not_found_error","message":"model: claude-2 (supported: )"})},
         Then::open},
        {"messages: a bad X-Session-Id -> 400",
         messages(R"({"model":"claude-haiku-4-5","max_tokens":5,"messages":[)" + kHi + "]}",
                  "X-Session-Id: ../x\r\n"),
         {has(400, {"X-Session-Id must be a CLI session id"})},
         Then::open},
        {"GET /v1/messages -> 405 in Anthropic's shape",
         get("/v1/messages"),
         {with_header(exact(405, anthropic_error("invalid_request_error", "Method Not Allowed")),
                      "allow", "POST")},
         Then::open},
        {"POST /v1/messages/count_tokens -> 404 not_found_error (no honest count: see README)",
         post("/v1/messages/count_tokens",
              R"({"model":"claude-haiku-4-5","messages":[)" + kHi + "]}",
              "x-api-key: test-token\r\n", false),
         {exact(404, anthropic_error("not_found_error", "Not Found"))},
         Then::any},
        {"messages: a body over the limit -> 413 request_too_large",
         "POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: test-token\r\nContent-Length: "
         "70000\r\n\r\n",
         {has(413, {R"({"type":"error","error":{"type":"request_too_large")"})},
         Then::closed},
    };
}

}  // namespace

TEST_CASE("bad input: responses and messages, each in its API's error shape") {
    Fixture f(kEnv);
    auto entries = catalogue();
    run_catalogue(f, entries);
    // Nothing here may have started a run or reached the 500 boundary.
    CHECK(f.record.read("argv").empty());
    auto log = settled_log(f);
    CHECK(log.find("\"status\":500") == std::string::npos);
    CHECK(log.find("test-token") == std::string::npos);
}
