#include "agent/cli_output.hpp"

#include <catch2/catch.hpp>

using namespace cas::agent;

TEST_CASE("output: the json result object") {
    auto r = parse_cli_result(
        R"({"stop_reason":"end_turn","session_id":"s1","total_cost_usd":0.25,"usage":{"input_tokens":17,)"
        R"("cache_creation_input_tokens":2657,"cache_read_input_tokens":7969,"output_tokens":17},)"
        R"("is_error":false,"subtype":"success","result":"hello","type":"result","duration_ms":254})");
    REQUIRE(r.found);
    CHECK(r.result == "hello");
    CHECK_FALSE(r.is_error);
    CHECK(r.subtype == "success");
    CHECK(r.total_cost_usd == Approx(0.25));
    CHECK(r.tokens.input_tokens == 17);
    CHECK(r.tokens.cache_creation_input_tokens == 2657);
    CHECK(r.tokens.cache_read_input_tokens == 7969);
    CHECK(r.tokens.output_tokens == 17);
    CHECK(r.session_id == "s1");
    CHECK(r.duration_ms == 254);
    CHECK(r.stop_reason == "end_turn");
}

TEST_CASE("output: the last result line of stream-json") {
    auto r = parse_cli_result(
        "{\"type\":\"system\",\"subtype\":\"init\"}\n"
        "{\"type\":\"stream_event\",\"event\":{}}\n"
        "{\"type\":\"result\",\"result\":\"streamed\",\"is_error\":false}\n");
    REQUIRE(r.found);
    CHECK(r.result == "streamed");
}

TEST_CASE("output: bytes that are not UTF-8 inside the result are repaired, not fatal") {
    auto r = parse_cli_result(
        "{\"type\":\"system\"}\n"
        "{\"type\":\"result\",\"is_error\":false,\"result\":\"a\xff\xc0"
        "b\"}\n");
    REQUIRE(r.found);
    CHECK(r.result ==
          "a\xEF\xBF\xBD\xEF\xBF\xBD"
          "b");
}

TEST_CASE("output: not JSON falls back to the raw text") {
    auto r = parse_cli_result("plain answer\n");
    CHECK_FALSE(r.found);
    CHECK(answer_text(r, "  plain answer\n") == "plain answer");
    CHECK(answer_text(parse_cli_result(""), "") == "");
    CHECK_FALSE(parse_cli_result("{\"type\":\"result\"").found);
    CHECK_FALSE(parse_cli_result("[1,2]").found);
    CHECK_FALSE(parse_cli_result("{\"type\":7}").found);
}

TEST_CASE("output: wrongly typed fields are ignored, not trusted") {
    auto r = parse_cli_result(
        R"({"type":"result","result":5,"is_error":"yes","usage":[],"total_cost_usd":"1"})");
    REQUIRE(r.found);
    CHECK_FALSE(r.result);
    CHECK_FALSE(r.is_error);
    CHECK(r.usage.is_null());
    CHECK_FALSE(r.total_cost_usd);
}

TEST_CASE("output: failure reasons where the real CLI puts them") {
    SECTION("API error: the result text") {
        auto r = parse_cli_result(
            R"({"type":"result","subtype":"success","is_error":true,"api_error_status":400,"result":"API Error: 400 bad\nthing"})");
        CHECK(failure_reason(r, "", 1) == "API Error: 400 bad thing");
    }
    SECTION("budget: the errors list") {
        auto r = parse_cli_result(
            R"J({"type":"result","subtype":"error_max_budget_usd","is_error":true,"errors":["Reached maximum budget ($0.001)"]})J");
        CHECK(failure_reason(r, "", 1) == "Reached maximum budget ($0.001)");
    }
    SECTION("unknown agent: stderr") {
        CHECK(failure_reason({}, "--agent 'x' not found. Available agents: a, b\n", 1) ==
              "--agent 'x' not found. Available agents: a, b");
    }
    SECTION("nothing said") {
        CHECK(failure_reason({}, "", 7) == "the CLI exited with code 7 and gave no reason");
    }
    SECTION("long stderr is cut to one line on a character boundary") {
        std::string err(600, 'x');
        err += "\xc3\xa9";
        CHECK(failure_reason({}, err, 1).size() == 500);
    }
}

TEST_CASE("output: what the CLI reports is kept storable") {
    auto r = parse_cli_result(
        R"({"type":"result","total_cost_usd":1e400,"usage":{"input_tokens":9223372036854775807,)"
        R"("output_tokens":-5,"cache_read_input_tokens":18446744073709551615,"x":1e400}})");
    REQUIRE(r.found);
    CHECK_FALSE(r.total_cost_usd);                            // infinity is not a cost
    CHECK(r.usage.at("x").is_null());                         // nor a storable number
    CHECK(r.tokens.input_tokens == (std::int64_t{1} << 53));  // clamped: sums cannot overflow
    CHECK(r.tokens.output_tokens == 0);
    CHECK(r.tokens.cache_read_input_tokens == (std::int64_t{1} << 53));
}

TEST_CASE("output: a whitespace-only reason falls back to stderr, then the exit code") {
    auto blank =
        parse_cli_result(R"({"type":"result","is_error":true,"result":"  \n ","errors":[" "]})");
    CHECK(failure_reason(blank, "real reason\n", 1) == "real reason");
    CHECK(failure_reason(blank, "", 4) == "the CLI exited with code 4 and gave no reason");
}

TEST_CASE("output: the result line is told from the other stream-json lines") {
    CHECK(is_result_line(R"({"type":"result","result":"ok","is_error":false})"));
    CHECK_FALSE(is_result_line(R"({"type":"assistant","message":{"content":"the \"result\""}})"));
    CHECK_FALSE(is_result_line(R"({"type":"system","subtype":"init"})"));
    CHECK_FALSE(is_result_line(R"({"type":"result")"));  // cut short: not a result yet
    CHECK_FALSE(is_result_line("result"));
}

TEST_CASE("output: the answer to the initialize request, and an agent missing from it") {
    const std::string answer =
        R"({"type":"control_response","response":{"subtype":"success","request_id":"cas-initialize",)"
        R"("response":{"commands":[],"agents":[{"name":"claude","description":"d"},)"
        R"({"name":"Explore"},{"name":"recruiter-triage","description":"x"}]}}})";
    auto parsed = parse_initialize_answer(answer);
    REQUIRE(parsed.found);
    CHECK(parsed.ok);
    REQUIRE(parsed.agents);
    CHECK(*parsed.agents == std::vector<std::string>{"claude", "Explore", "recruiter-triage"});
    CHECK_FALSE(unknown_agent(parsed, "recruiter-triage"));
    auto problem = unknown_agent(parsed, "no-such-agent");
    REQUIRE(problem);
    CHECK(*problem ==
          "Agent 'no-such-agent' not found; the CLI has: claude, Explore, recruiter-triage");

    SECTION("an answer without a list of agents claims nothing") {
        auto bare = parse_initialize_answer(
            R"({"type":"control_response","response":{"subtype":"success","request_id":"cas-initialize","response":{}}})");
        CHECK(bare.found);
        CHECK_FALSE(bare.agents);
        CHECK_FALSE(unknown_agent(bare, "anything"));
    }
    SECTION("an error answer keeps the CLI's message") {
        auto error = parse_initialize_answer(
            R"({"type":"control_response","response":{"subtype":"error","request_id":"cas-initialize","error":"not\nnow"}})");
        CHECK(error.found);
        CHECK_FALSE(error.ok);
        CHECK(error.error == "not now");
    }
    SECTION("other lines, other requests' answers and odd shapes are not the answer") {
        CHECK_FALSE(parse_initialize_answer(R"({"type":"system","subtype":"init"})").found);
        CHECK_FALSE(
            parse_initialize_answer(
                R"({"type":"control_response","response":{"subtype":"success","request_id":"other"}})")
                .found);
        CHECK_FALSE(parse_initialize_answer(R"({"type":"control_response","response":"x"})").found);
        CHECK_FALSE(parse_initialize_answer("control_response").found);
        // Entries that are not names are skipped, not trusted.
        auto odd = parse_initialize_answer(
            R"({"type":"control_response","response":{"subtype":"success","request_id":"cas-initialize",)"
            R"("response":{"agents":[1,null,{"name":2},"bare",{"name":"a"}]}}})");
        REQUIRE(odd.agents);
        CHECK(*odd.agents == std::vector<std::string>{"bare", "a"});
    }
}

TEST_CASE("output: the init line names the session; no other line does") {
    CHECK(init_session_id(R"({"type":"system","subtype":"init","cwd":"/w","session_id":"abc"})") ==
          "abc");
    CHECK_FALSE(init_session_id(R"({"type":"system","subtype":"status","session_id":"abc"})"));
    CHECK_FALSE(init_session_id(R"({"type":"result","subtype":"init","session_id":"abc"})"));
    CHECK_FALSE(init_session_id(R"({"type":"system","subtype":"init"})"));
    CHECK_FALSE(init_session_id(R"({"type":"system","subtype":"init","session_id":5})"));
    CHECK_FALSE(init_session_id("init"));
    CHECK_FALSE(init_session_id(""));
}
