#include "agent/cli_command.hpp"

#include <catch2/catch.hpp>

using namespace cas::agent;

TEST_CASE("cli: json run has the reference app's flags and no prompt") {
    auto args =
        cli_arguments({.agent = "recruiter-triage", .model = std::nullopt, .max_budget_usd = 5.0});
    CHECK(args == std::vector<std::string>{"-p", "--agent", "recruiter-triage",
                                           "--dangerously-skip-permissions", "--max-budget-usd",
                                           "5", "--output-format", "json"});
}

TEST_CASE("cli: model and stream-json") {
    auto args = cli_arguments({.agent = "a",
                               .model = "claude-haiku-4-5",
                               .max_budget_usd = 2.5,
                               .format = OutputFormat::stream_json});
    CHECK(args == std::vector<std::string>{"-p", "--agent", "a", "--dangerously-skip-permissions",
                                           "--max-budget-usd", "2.5", "--output-format",
                                           "stream-json", "--verbose", "--include-partial-messages",
                                           "--model", "claude-haiku-4-5"});
}

TEST_CASE("cli: agent names") {
    CHECK_FALSE(agent_name_problem("recruiter-triage"));
    CHECK_FALSE(agent_name_problem("A.b_c-1"));
    CHECK_FALSE(agent_name_problem(std::string(64, 'a')));
    CHECK(agent_name_problem(""));
    CHECK(agent_name_problem("--help"));
    CHECK(agent_name_problem("-x"));
    CHECK(agent_name_problem(std::string(65, 'a')));
    CHECK(agent_name_problem("a b"));
    CHECK(agent_name_problem("a/b"));
    CHECK(agent_name_problem("a\nb"));
    CHECK(agent_name_problem("caf\xc3\xa9"));
}
