// Run options through the real binary and the fake CLI: each reaches the CLI as its flag, the
// operator's policy refuses by name (422 on jobs, 400 on /v1), and a json_schema run gives
// the structured answer (or fails without one).
#include "integration/agent_fixture.hpp"

namespace cas::test {
namespace {

std::vector<std::string> argv_of(const Fixture& f) {
    std::vector<std::string> lines;
    std::istringstream in(f.record.read("argv"));
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

bool has(const std::vector<std::string>& argv, const std::string& arg) {
    return std::find(argv.begin(), argv.end(), arg) != argv.end();
}

}  // namespace

TEST_CASE("run options: a job's options reach the CLI as flags and stay in its record") {
    Fixture f(Fixture::Env{{"TOOLS_ALWAYS_DISALLOWED", "WebFetch,Bash(curl:*)"}});
    auto id = f.start_job("x", json::parse(R"J({"model":"claude-haiku-4-5",
        "fallback_model":"claude-sonnet-4-6","allowed_tools":["Read","Bash(git:*)"],
        "disallowed_tools":["Edit"],"max_turns":3,"append_system_prompt":"--verbose\nBe brief.",
        "effort":"low"})J")
                                   .as_object());
    auto job = f.wait_job(id);
    REQUIRE(job.at("status") == "completed");
    auto argv = argv_of(f);
    for (const char* arg :
         {"--fallback-model=claude-sonnet-4-6", "--allowedTools=Read", "--allowedTools=Bash(git:*)",
          "--disallowedTools=Edit", "--max-turns=3", "--effort=low", "--disallowedTools=WebFetch",
          "--disallowedTools=Bash(curl:*)"}) {
        INFO(arg);
        CHECK(has(argv, arg));
    }
    // The system prompt's text is one argument: its newline and leading dashes stay inside it.
    CHECK(f.record.read("argv").find("--append-system-prompt=--verbose\nBe brief.\n") !=
          std::string::npos);
    CHECK(job.at("model") == "claude-haiku-4-5");
    CHECK(job.at("run_options") == json::parse(R"J({"fallback_model":"claude-sonnet-4-6",
        "allowed_tools":["Read","Bash(git:*)"],"disallowed_tools":["Edit"],"max_turns":3,
        "append_system_prompt":"--verbose\nBe brief.","effort":"low"})J"));

    // A job without options gets none, but the operator's withheld tools all the same.
    f.wait_job(f.start_job("y"));
    auto plain = argv_of(f);
    CHECK(has(plain, "--disallowedTools=WebFetch"));
    CHECK_FALSE(has(plain, "--allowedTools=Read"));
    CHECK(std::none_of(plain.begin(), plain.end(),
                       [](const std::string& a) { return a.starts_with("--max-turns"); }));
}

TEST_CASE("run options: outside the operator's policy, a 422 on jobs and a 400 on /v1 name it") {
    Fixture f(Fixture::Env{{"RUN_OPTIONS", "model,max_turns"},
                           {"MAX_TURNS_LIMIT", "3"},
                           {"ALLOWED_MODELS", "claude-haiku-4-5"}});
    auto refused = [&](const json::object& extra) {
        json::object body = extra;
        body["prompt"] = "x";
        body["agent"] = "recruiter-triage";
        auto reply = f.execute(body);
        CHECK(reply.status == 422);
        auto detail = json::parse(reply.body).at("detail").as_array();
        REQUIRE(detail.size() == 1);
        return detail[0].as_object();
    };
    auto tools = refused({{"allowed_tools", json::array{"Read"}}});
    CHECK(tools.at("loc") == json::array{"body", "allowed_tools"});
    CHECK(tools.at("type") == "value_error.not_allowed");
    CHECK(std::string_view(tools.at("msg").as_string()).find("RUN_OPTIONS: model,") !=
          std::string_view::npos);
    CHECK(refused({{"max_turns", 4}}).at("loc") == json::array{"body", "max_turns"});
    CHECK(refused({{"model", "claude-opus-4-7"}}).at("loc") == json::array{"body", "model"});
    f.wait_job(f.start_job("x", {{"max_turns", 3}, {"model", "claude-haiku-4-5"}}));
    CHECK(f.record.read("argv").find("--max-turns=3") != std::string::npos);

    auto reply = f.complete(chat("hi", {{"effort", "low"}}));
    CHECK(reply.status == 400);
    auto error = json::parse(reply.body).at("error");
    CHECK(error.at("param") == "effort");
    CHECK(error.at("type") == "invalid_request_error");
}

TEST_CASE("run options: RUN_OPTIONS=model lets a job choose its model and nothing else") {
    Fixture f(Fixture::Env{{"RUN_OPTIONS", "model"}});
    auto reply = f.execute({{"prompt", "x"},
                            {"agent", "recruiter-triage"},
                            {"model", "claude-haiku-4-5"},
                            {"allowed_tools", json::array{"Read"}}});
    REQUIRE(reply.status == 422);
    auto detail = json::parse(reply.body).at("detail").as_array();
    REQUIRE(detail.size() == 1);
    CHECK(detail[0].at("loc") == json::array{"body", "allowed_tools"});
    CHECK(detail[0].at("msg") ==
          "this service does not let callers set 'allowed_tools' (its RUN_OPTIONS: model)");
    auto job = f.wait_job(f.start_job("x", {{"model", "claude-haiku-4-5"}}));
    CHECK(job.at("status") == "completed");
}

TEST_CASE("run options: json_schema gives the record's structured_output, or fails the job") {
    Fixture f;
    const auto schema = json::parse(R"J({"type":"object","properties":{"answer":{"type":
        "integer"}},"required":["answer"]})J");
    auto job =
        f.wait_job(f.start_job("x\nFAKE:structured={\"answer\":42}", {{"json_schema", schema}}));
    CHECK(job.at("status") == "completed");
    CHECK(job.at("structured_output") == json::parse(R"({"answer":42})"));
    CHECK(f.record.read("argv").find("--json-schema=" + json::serialize(schema)) !=
          std::string::npos);

    auto prose = f.wait_job(f.start_job("x", {{"json_schema", schema}}));
    CHECK(prose.at("status") == "failed");
    CHECK(prose.at("error") == "the agent ended without a structured answer to the json_schema");
    CHECK(prose.at("structured_output").is_null());
}

TEST_CASE("run options: chat's response_format answers the JSON text, whole or streamed") {
    Fixture f;
    const auto format = json::parse(R"J({"type":"json_schema","json_schema":{"name":"answer",
        "schema":{"type":"object","properties":{"answer":{"type":"integer"}}}}})J");
    auto reply = f.complete(chat("x\nFAKE:structured={\"answer\":42}",
                                 {{"response_format", format}, {"max_turns", 2}}));
    REQUIRE(reply.status == 200);
    auto content = json::parse(reply.body).at("choices").at(0).at("message").at("content");
    CHECK(json::parse(content.as_string()) == json::parse(R"({"answer":42})"));
    CHECK(f.record.read("argv").find("--json-schema={\"type\":\"object\"") != std::string::npos);
    CHECK(f.record.read("argv").find("--max-turns=2") != std::string::npos);

    // Streamed: the agent's prose is not sent, the JSON text is, whole.
    auto streamed = f.complete(chat("x\nFAKE:structured={\"answer\":42}",
                                    {{"response_format", format}, {"stream", true}}));
    REQUIRE(streamed.status == 200);
    CHECK(streamed.body.find("fake reply") == std::string::npos);
    CHECK(streamed.body.find(R"("content":"{\"answer\":42}")") != std::string::npos);

    // No structured answer: the run failed, and says so.
    auto failed = f.complete(chat("x", {{"response_format", format}}));
    CHECK(failed.status == 503);
    CHECK(failed.body.find("structured answer") != std::string::npos);
}

}  // namespace cas::test
