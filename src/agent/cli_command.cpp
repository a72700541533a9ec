#include "agent/cli_command.hpp"

#include "util/json_text.hpp"

#include <fmt/format.h>

namespace cas::agent {

std::vector<std::string> cli_arguments(const CliInvocation& invocation) {
    std::vector<std::string> args{"-p",
                                  "--agent",
                                  invocation.agent,
                                  "--dangerously-skip-permissions",
                                  "--max-budget-usd",
                                  fmt::format("{}", invocation.max_budget_usd),
                                  "--input-format",
                                  "stream-json",
                                  "--output-format",
                                  "stream-json",
                                  "--verbose",
                                  "--include-partial-messages"};
    if (invocation.model) {
        args.insert(args.end(), {"--model", *invocation.model});
    }
    if (invocation.resume) {
        args.insert(args.end(), {"--resume", *invocation.resume});
        if (invocation.fork) args.emplace_back("--fork-session");
    }
    const auto& options = invocation.options;
    auto flag = [&](std::string_view name, std::string_view value) {
        args.push_back(fmt::format("--{}={}", name, value));
    };
    if (options.fallback_model) flag("fallback-model", *options.fallback_model);
    // The CLI gathers every --allowedTools (and --disallowedTools) it is given.
    for (const auto& tool : options.allowed_tools) flag("allowedTools", tool);
    for (const auto& tool : options.disallowed_tools) flag("disallowedTools", tool);
    if (options.max_turns) flag("max-turns", std::to_string(*options.max_turns));
    if (options.append_system_prompt) flag("append-system-prompt", *options.append_system_prompt);
    if (options.effort) flag("effort", *options.effort);
    if (options.json_schema) flag("json-schema", *options.json_schema);
    return args;
}

std::string user_message_line(std::string_view prompt) {
    std::string line = R"({"type":"user","message":{"role":"user","content":)";
    append_json_quoted(line, prompt);
    line += "}}\n";
    return line;
}

std::string initialize_request_line() {
    return fmt::format(
        R"({{"type":"control_request","request_id":"{}","request":{{"subtype":"initialize"}}}})"
        "\n",
        kInitializeRequestId);
}

bool is_session_id(std::string_view text) {
    if (text.size() != 36) return false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        bool ok = dash ? c == '-' : ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
        if (!ok) return false;
    }
    return true;
}

std::optional<std::string> agent_name_problem(std::string_view name) {
    if (name.empty()) return "agent name must not be empty";
    if (name.size() > 64) return "agent name must be at most 64 characters";
    if (name.front() == '-') return "agent name must not start with '-'";
    for (char c : name) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '.';
        if (!ok) return "agent name may only contain letters, digits, '-', '_' and '.'";
    }
    return std::nullopt;
}

}  // namespace cas::agent
