#include "api/responses_shape.hpp"

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

// The typed events of `text`: each `event: <type>\ndata: {json}\n\n`, its type matching.
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

// A string as a JSON value, to compare with one.
json::value as_json(std::string_view s) {
    return json::string(s);
}

std::vector<std::string> names(const std::vector<Event>& events) {
    std::vector<std::string> out;
    for (const auto& e : events) out.push_back(e.name);
    return out;
}

ResponseFacts facts() {
    ResponsesRequest request;
    request.model = "claude-haiku-4-5";
    request.instructions = "Be brief.";
    request.previous_response_id = "resp_prev";
    request.max_output_tokens = 500;
    request.store = false;
    request.metadata = {{"k", "v"}};
    return response_facts(request, 1700000000);
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

TurnResult failed(cas::agent::RunStatus status) {
    TurnResult result;
    result.outcome.status = status;
    result.outcome.reason = "exit code 1";
    return result;
}

}  // namespace

TEST_CASE("responses shape: the ids share their hex, and the facts come from the request") {
    auto f = facts();
    REQUIRE(f.id.starts_with("resp_"));
    REQUIRE(f.item_id.starts_with("msg_"));
    CHECK(f.id.substr(5) == f.item_id.substr(4));
    CHECK(f.id.size() > 5);
    CHECK(f.created_at == 1700000000);
    CHECK(f.model == "claude-haiku-4-5");
    CHECK(facts().id != f.id);  // fresh each time
}

TEST_CASE("responses shape: a response in progress has no output and no usage") {
    auto f = facts();
    auto r = response_object(f, nullptr);
    CHECK(r.at("id") == as_json(f.id));
    CHECK(r.at("object") == "response");
    CHECK(r.at("created_at") == 1700000000);
    CHECK(r.at("status") == "in_progress");
    CHECK(r.at("output").as_array().empty());
    CHECK(r.at("usage").is_null());
    CHECK(r.at("error").is_null());
    CHECK(r.at("incomplete_details").is_null());
    CHECK(r.at("model") == "claude-haiku-4-5");
    CHECK(r.at("instructions") == "Be brief.");
    CHECK(r.at("previous_response_id") == "resp_prev");
    CHECK(r.at("max_output_tokens") == 500);
    CHECK(r.at("store") == false);
    CHECK(r.at("metadata") == json::object{{"k", "v"}});

    auto bare = response_object(response_facts(ResponsesRequest{}, 1), nullptr);
    CHECK(bare.at("instructions").is_null());
    CHECK(bare.at("previous_response_id").is_null());
    CHECK(bare.at("max_output_tokens").is_null());
    CHECK(bare.at("store") == true);
}

TEST_CASE("responses shape: a completed response holds the message and the usage") {
    auto f = facts();
    auto result = completed("Hello \"world\"");
    auto r = response_object(f, &result);
    CHECK(r.at("status") == "completed");
    CHECK(r.at("error").is_null());
    CHECK(r.at("incomplete_details").is_null());
    const auto& output = r.at("output").as_array();
    REQUIRE(output.size() == 1);
    CHECK(output[0].at("type") == "message");
    CHECK(output[0].at("id") == as_json(f.item_id));
    CHECK(output[0].at("role") == "assistant");
    CHECK(output[0].at("status") == "completed");
    REQUIRE(output[0].at("content").as_array().size() == 1);
    const auto& part = output[0].at("content").at(0);
    CHECK(part.at("type") == "output_text");
    CHECK(part.at("text") == "Hello \"world\"");
    CHECK(part.at("annotations") == json::array{});
    const auto& usage = r.at("usage");
    CHECK(usage.at("input_tokens") == 1117);
    CHECK(usage.at("input_tokens_details").at("cached_tokens") == 1000);
    CHECK(usage.at("output_tokens") == 9);
    CHECK(usage.at("total_tokens") == 1126);
}

TEST_CASE("responses shape: stopped at the output cap is incomplete") {
    auto result = completed("Partial", "max_tokens");
    auto r = response_object(facts(), &result);
    CHECK(r.at("status") == "incomplete");
    CHECK(r.at("incomplete_details") == json::object{{"reason", "max_output_tokens"}});
    CHECK(r.at("output").at(0).at("status") == "incomplete");
    CHECK(r.at("output").at(0).at("content").at(0).at("text") == "Partial");
}

TEST_CASE("responses shape: a failed run is a failed response with the reason") {
    auto timeout = failed(cas::agent::RunStatus::timeout);
    auto r = response_object(facts(), &timeout);
    CHECK(r.at("status") == "failed");
    CHECK(r.at("error").at("message") == "agent timed out");
    CHECK(r.at("error").at("code") == "server_error");
    CHECK(r.at("output").as_array().empty());
    auto crashed = failed(cas::agent::RunStatus::failed);
    CHECK(response_object(facts(), &crashed).at("error").at("message") ==
          "execution failed: exit code 1");
}

TEST_CASE("responses shape: the opening events, in order and numbered from 0") {
    auto f = facts();
    ResponsesShape shape(f);
    auto events = events_of(shape.opening());
    CHECK(names(events) == std::vector<std::string>{"response.created", "response.in_progress",
                                                    "response.output_item.added",
                                                    "response.content_part.added"});
    for (std::size_t i = 0; i < events.size(); ++i) {
        CHECK(events[i].data.at("sequence_number") == static_cast<std::int64_t>(i));
    }
    CHECK(events[0].data.at("response").at("id") == as_json(f.id));
    CHECK(events[0].data.at("response").at("status") == "in_progress");
    CHECK(events[1].data.at("response").at("status") == "in_progress");
    const auto& item = events[2].data.at("item");
    CHECK(item.at("id") == as_json(f.item_id));
    CHECK(item.at("status") == "in_progress");
    CHECK(item.at("content").as_array().empty());
    CHECK(events[2].data.at("output_index") == 0);
    CHECK(events[3].data.at("item_id") == as_json(f.item_id));
    CHECK(events[3].data.at("part").at("type") == "output_text");
    CHECK(events[3].data.at("part").at("text") == "");
}

TEST_CASE("responses shape: text is an output_text.delta of the item") {
    auto f = facts();
    ResponsesShape shape(f);
    shape.opening();
    auto events = events_of(shape.text("Hel\"lo\n"));
    REQUIRE(events.size() == 1);
    CHECK(events[0].name == "response.output_text.delta");
    CHECK(events[0].data.at("item_id") == as_json(f.item_id));
    CHECK(events[0].data.at("delta") == "Hel\"lo\n");
    CHECK(events[0].data.at("output_index") == 0);
    CHECK(events[0].data.at("content_index") == 0);
    CHECK(events[0].data.at("sequence_number") == 4);
    CHECK(shape.keep_alive().starts_with(":"));  // a comment: no sequence number used
    CHECK(events_of(shape.text("x"))[0].data.at("sequence_number") == 5);
}

TEST_CASE("responses shape: closing a completed response") {
    auto f = facts();
    ResponsesShape shape(f);
    shape.opening();
    shape.text("Hello");
    auto events = events_of(shape.closing(completed("Hello")));
    REQUIRE(names(events) ==
            std::vector<std::string>{"response.output_text.done", "response.content_part.done",
                                     "response.output_item.done", "response.completed"});
    for (std::size_t i = 0; i < events.size(); ++i) {
        CHECK(events[i].data.at("sequence_number") == static_cast<std::int64_t>(5 + i));
    }
    CHECK(events[0].data.at("text") == "Hello");
    CHECK(events[0].data.at("item_id") == as_json(f.item_id));
    CHECK(events[1].data.at("part").at("text") == "Hello");
    CHECK(events[2].data.at("item").at("status") == "completed");
    CHECK(events[2].data.at("item").at("content").at(0).at("text") == "Hello");
    const auto& response = events[3].data.at("response");
    CHECK(response.at("id") == as_json(f.id));
    CHECK(response.at("status") == "completed");
    CHECK(response.at("output").at(0).at("id") == as_json(f.item_id));
    CHECK(response.at("usage").at("total_tokens") == 1126);
}

TEST_CASE("responses shape: closing at the output cap is response.incomplete") {
    ResponsesShape shape(facts());
    shape.opening();
    auto events = events_of(shape.closing(completed("Part", "max_tokens")));
    REQUIRE(events.size() == 4);
    CHECK(events[2].data.at("item").at("status") == "incomplete");
    CHECK(events[3].name == "response.incomplete");
    CHECK(events[3].data.at("response").at("incomplete_details").at("reason") ==
          "max_output_tokens");
}

TEST_CASE("responses shape: a failed run closes with response.failed alone") {
    ResponsesShape shape(facts());
    shape.opening();
    shape.text("partial");
    auto events = events_of(shape.closing(failed(cas::agent::RunStatus::timeout)));
    REQUIRE(events.size() == 1);
    CHECK(events[0].name == "response.failed");
    CHECK(events[0].data.at("sequence_number") == 5);
    CHECK(events[0].data.at("response").at("status") == "failed");
    CHECK(events[0].data.at("response").at("error").at("message") == "agent timed out");
}

TEST_CASE("responses shape: a stored response's output text reads back") {
    auto f = facts();
    auto result = completed("Stored \"answer\"\n");
    CHECK(stored_output_text(json::serialize(response_object(f, &result))) ==
          "Stored \"answer\"\n");
    CHECK_FALSE(stored_output_text(json::serialize(response_object(f, nullptr))));
    auto timeout = failed(cas::agent::RunStatus::timeout);
    CHECK_FALSE(stored_output_text(json::serialize(response_object(f, &timeout))));
    CHECK_FALSE(stored_output_text("not json"));
    CHECK_FALSE(stored_output_text(R"({"output":[{"content":[{"text":5}]}]})"));
    CHECK_FALSE(stored_output_text(R"({"output":[]})"));
}
