#include "api/run_options_request.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

using namespace cas::api;
namespace json = boost::json;

namespace {

struct Read {
    RequestedRun run;
    std::vector<RunOptionProblem> problems;
};

Read read(std::string_view body, const RunPolicy& policy = {}, bool model = true) {
    Read out;
    json::parse_options depth;
    depth.max_depth = 64;  // as the service parses bodies
    auto object = json::parse(body, {}, depth).as_object();
    out.run = read_run_options(object, policy, model, out.problems);
    return out;
}

std::string first_problem(std::string_view body, const RunPolicy& policy = {}) {
    auto r = read(body, policy);
    REQUIRE(r.problems.size() == 1);
    return r.problems.front().option + ": " + r.problems.front().message;
}

}  // namespace

TEST_CASE("run options: every option read, none set when absent or null") {
    auto all = read(R"J({"model":"claude-sonnet-4-6","fallback_model":"claude-haiku-4-5",
        "allowed_tools":["Read","Bash(git:*)","mcp__github__create_issue"],
        "disallowed_tools":["WebFetch"],"max_turns":7,"append_system_prompt":"Be brief.",
        "effort":"high","json_schema":{"type":"object","required":["answer"]}})J");
    CHECK(all.problems.empty());
    CHECK(all.run.model == "claude-sonnet-4-6");
    const auto& o = all.run.options;
    CHECK(o.fallback_model == "claude-haiku-4-5");
    CHECK(o.allowed_tools ==
          std::vector<std::string>{"Read", "Bash(git:*)", "mcp__github__create_issue"});
    CHECK(o.disallowed_tools == std::vector<std::string>{"WebFetch"});
    CHECK(o.max_turns == 7);
    CHECK(o.append_system_prompt == "Be brief.");
    CHECK(o.effort == "high");
    CHECK(json::parse(*o.json_schema) ==
          json::parse(R"J({"type":"object","required":["answer"]})J"));
    // The record keeps them, and reads them back.
    CHECK(cas::agent::run_options_from_json(cas::agent::to_json(o)) == o);

    auto none = read(R"J({"model":null,"max_turns":null,"allowed_tools":null})J");
    CHECK(none.problems.empty());
    CHECK_FALSE(none.run.model);
    CHECK(none.run.options == cas::agent::RunOptions{});
    CHECK(cas::agent::to_json(none.run.options).empty());
    // Chat's model is its own: not read here.
    CHECK_FALSE(read(R"J({"model":"x y"})J", {}, false).run.model);
}

TEST_CASE("run options: malformed values are named, never passed on") {
    CHECK(first_problem(R"J({"model":"--dangerously-skip-permissions"})J").starts_with("model: "));
    CHECK(first_problem(R"J({"model":""})J").starts_with("model: "));
    CHECK(first_problem(R"J({"fallback_model":5})J") == "fallback_model: must be a string");
    CHECK(first_problem(R"J({"allowed_tools":"Bash"})J")
              .starts_with("allowed_tools: must be an array"));
    CHECK(first_problem(R"J({"allowed_tools":["Read","-p"]})J").starts_with("allowed_tools[1]: "));
    CHECK(first_problem(R"J({"allowed_tools":["Read,Write"]})J").starts_with("allowed_tools[0]: "));
    CHECK(first_problem(R"J({"allowed_tools":["Bash git"]})J").starts_with("allowed_tools[0]: "));
    CHECK(first_problem(R"J({"disallowed_tools":["Bash(rm"]})J")
              .starts_with("disallowed_tools[0]: "));
    CHECK(first_problem(R"J({"disallowed_tools":["Bash(a\nb)"]})J")
              .starts_with("disallowed_tools[0]: "));
    CHECK(first_problem(R"J({"disallowed_tools":[7]})J") ==
          "disallowed_tools[0]: must be a string");
    CHECK(first_problem(R"J({"max_turns":0})J") == "max_turns: must be at least 1");
    CHECK(first_problem(R"J({"max_turns":1.5})J") == "max_turns: must be an integer");
    CHECK(first_problem(R"J({"max_turns":18446744073709551615})J") ==
          "max_turns: must be at most 10000");
    CHECK(first_problem(R"J({"append_system_prompt":"a\u0000b"})J")
              .starts_with("append_system_prompt: "));
    CHECK(first_problem(R"J({"append_system_prompt":""})J").starts_with("append_system_prompt: "));
    CHECK(first_problem(R"J({"effort":"extreme"})J") ==
          "effort: must be one of low, medium, high, xhigh, max");
    CHECK(first_problem(R"J({"json_schema":"{}"})J").starts_with("json_schema: "));
    CHECK(first_problem(R"J({"json_schema":[]})J").starts_with("json_schema: "));
    std::string deep = R"J({"json_schema":)J";
    for (int i = 0; i < 40; ++i) deep += R"J({"a":)J";
    deep += "1";
    for (int i = 0; i < 41; ++i) deep += "}";
    CHECK(first_problem(deep).find("levels deep") != std::string::npos);
    std::string big = R"J({"json_schema":{"description":")J" + std::string(70000, 'x') + R"J("}})J";
    CHECK(first_problem(big).find("bytes") != std::string::npos);
    // Every problem is reported, not only the first.
    CHECK(read(R"J({"max_turns":0,"effort":"x","allowed_tools":[1,2]})J").problems.size() == 4);
}

TEST_CASE("run options: the operator's policy refuses by name, never clamps") {
    RunPolicy only_model{.callers_may_set = {"model"}, .max_turns_limit = {}, .allowed_models = {}};
    auto refused = read(R"J({"model":"claude-haiku-4-5","allowed_tools":["Read"]})J", only_model);
    REQUIRE(refused.problems.size() == 1);
    CHECK(refused.problems[0].option == "allowed_tools");
    CHECK(refused.problems[0].refused_by_policy);
    CHECK(refused.problems[0].message.find("RUN_OPTIONS: model") != std::string::npos);
    CHECK(refused.run.options.allowed_tools.empty());

    RunPolicy nothing{.callers_may_set = {}, .max_turns_limit = {}, .allowed_models = {}};
    CHECK(first_problem(R"J({"effort":"low"})J", nothing).find("RUN_OPTIONS: none") !=
          std::string::npos);

    RunPolicy limits{.callers_may_set = RunPolicy{}.callers_may_set,
                     .max_turns_limit = 5,
                     .allowed_models = {"claude-haiku-4-5"}};
    auto over = read(R"J({"max_turns":6})J", limits);
    REQUIRE(over.problems.size() == 1);
    CHECK(over.problems[0].refused_by_policy);
    CHECK(over.problems[0].message == "must be at most 5 (this service's MAX_TURNS_LIMIT)");
    CHECK(read(R"J({"max_turns":5})J", limits).run.options.max_turns == 5);
    CHECK(first_problem(R"J({"model":"claude-opus-4-7"})J", limits)
              .find("ALLOWED_MODELS: claude-haiku-4-5") != std::string::npos);
    CHECK(first_problem(R"J({"fallback_model":"claude-opus-4-7"})J", limits)
              .starts_with("fallback_model: "));
    CHECK(read(R"J({"model":"claude-haiku-4-5"})J", limits).problems.empty());
}

TEST_CASE("output formats: chat's nested json_schema, the Responses API's flat one") {
    auto schema_of = [](std::string_view format, bool nested, const RunPolicy& policy = {}) {
        auto read = read_output_format(json::parse(format), "f", nested, policy);
        if (auto* problem = std::get_if<RunOptionProblem>(&read)) return "! " + problem->option;
        return std::get<OutputFormat>(read).json_schema.value_or("(none)");
    };
    CHECK(schema_of(R"J({"type":"json_schema","json_schema":{"name":"a","schema":{"type":"object"},
        "strict":true}})J",
                    true) == R"J({"type":"object"})J");
    CHECK(schema_of(R"J({"type":"json_schema","name":"a","schema":{"type":"object"}})J", false) ==
          R"J({"type":"object"})J");
    CHECK(schema_of(R"J({"type":"json_object"})J", true) == R"J({"type":"object"})J");
    CHECK(schema_of(R"J({"type":"text"})J", true) == "(none)");
    CHECK(schema_of(R"J({"type":"xml"})J", true) == "! f.type");
    CHECK(schema_of(R"J("json")J", true) == "! f");
    CHECK(schema_of(R"J({"type":"json_schema"})J", true) == "! f.json_schema");
    CHECK(schema_of(R"J({"type":"json_schema","json_schema":{"schema":{}}})J", true) ==
          "! f.json_schema.name");
    CHECK(schema_of(R"J({"type":"json_schema","json_schema":{"name":"a b","schema":{}}})J", true) ==
          "! f.json_schema.name");
    CHECK(schema_of(R"J({"type":"json_schema","json_schema":{"name":"a"}})J", true) ==
          "! f.json_schema.schema");
    CHECK(schema_of(R"J({"type":"json_schema","json_schema":{"name":"a","schema":[]}})J", true) ==
          "! f.json_schema.schema");
    CHECK(schema_of(R"J({"type":"json_schema","json_schema":{"name":"a","schema":{},"strict":1}})J",
                    true) == "! f.json_schema.strict");
    RunPolicy no_schema{.callers_may_set = {"model"}, .max_turns_limit = {}, .allowed_models = {}};
    CHECK(schema_of(R"J({"type":"json_object"})J", true, no_schema) == "! f");
    CHECK(schema_of(R"J({"type":"text"})J", true, no_schema) == "(none)");
}
