#include "agent/cli_command.hpp"

#include <catch2/catch.hpp>

using namespace cas::agent;

TEST_CASE("cli: every run reads and writes stream-json, and the prompt is not on the line") {
    auto args = cli_arguments({.agent = "recruiter-triage",
                               .model = std::nullopt,
                               .max_budget_usd = 5.0,
                               .resume = std::nullopt,
                               .fork = false,
                               .max_output_tokens = std::nullopt,
                               .options = {}});
    CHECK(args == std::vector<std::string>{
                      "-p", "--agent", "recruiter-triage", "--dangerously-skip-permissions",
                      "--max-budget-usd", "5", "--input-format", "stream-json", "--output-format",
                      "stream-json", "--verbose", "--include-partial-messages"});
}

TEST_CASE("cli: a model, then the session resumed (forked or not), go last") {
    CliInvocation invocation{.agent = "a",
                             .model = "claude-haiku-4-5",
                             .max_budget_usd = 2.5,
                             .resume = std::nullopt,
                             .fork = false,
                             .max_output_tokens = std::nullopt,
                             .options = {}};
    const std::vector<std::string> common{"-p",
                                          "--agent",
                                          "a",
                                          "--dangerously-skip-permissions",
                                          "--max-budget-usd",
                                          "2.5",
                                          "--input-format",
                                          "stream-json",
                                          "--output-format",
                                          "stream-json",
                                          "--verbose",
                                          "--include-partial-messages",
                                          "--model",
                                          "claude-haiku-4-5"};
    CHECK(cli_arguments(invocation) == common);
    const std::string session = "e23b6204-45c8-4286-8939-accea201a19a";
    invocation.resume = session;
    auto resumed = common;
    resumed.insert(resumed.end(), {"--resume", session});
    CHECK(cli_arguments(invocation) == resumed);
    invocation.fork = true;
    resumed.emplace_back("--fork-session");
    CHECK(cli_arguments(invocation) == resumed);
}

TEST_CASE("cli: session ids are lowercase UUIDs, nothing else") {
    CHECK(is_session_id("e23b6204-45c8-4286-8939-accea201a19a"));
    CHECK_FALSE(is_session_id("E23B6204-45C8-4286-8939-ACCEA201A19A"));
    CHECK_FALSE(is_session_id("e23b6204-45c8-4286-8939-accea201a19"));
    CHECK_FALSE(is_session_id("e23b6204x45c8-4286-8939-accea201a19a"));
    CHECK_FALSE(is_session_id("../../../../etc/passwd-aaaaaaaaaaaaaa"));
    CHECK_FALSE(is_session_id("--help"));
    CHECK_FALSE(is_session_id(""));
}

TEST_CASE("cli: the prompt is one user message line, escaped") {
    CHECK(user_message_line("hi") ==
          "{\"type\":\"user\",\"message\":{\"role\":\"user\",\"content\":\"hi\"}}\n");
    // Newlines and quotes stay inside the one line; nothing can end the message early.
    auto line = user_message_line("a\nb\"}}\n{\"type\":\"user\"");
    CHECK(line.find('\n') == line.size() - 1);
    CHECK(line.find(R"(a\nb\"}}\n{\"type\":\"user\")") != std::string::npos);
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

TEST_CASE("cli: each run option is one --flag=value argument, after the fixed ones") {
    CliInvocation invocation{.agent = "a",
                             .model = std::nullopt,
                             .max_budget_usd = 1,
                             .resume = std::nullopt,
                             .fork = false,
                             .max_output_tokens = std::nullopt,
                             .options = {.fallback_model = "claude-haiku-4-5",
                                         .allowed_tools = {"Read", "Bash(git:*)"},
                                         .disallowed_tools = {"--help", "Edit"},
                                         .max_turns = 3,
                                         .append_system_prompt = "-p\nBe brief.",
                                         .effort = "low",
                                         .json_schema = R"({"type":"object"})"}};
    auto args = cli_arguments(invocation);
    const std::vector<std::string> options(args.begin() + 12, args.end());
    CHECK(options ==
          std::vector<std::string>{"--fallback-model=claude-haiku-4-5", "--allowedTools=Read",
                                   "--allowedTools=Bash(git:*)", "--disallowedTools=--help",
                                   "--disallowedTools=Edit", "--max-turns=3",
                                   "--append-system-prompt=-p\nBe brief.", "--effort=low",
                                   R"(--json-schema={"type":"object"})"});
}
