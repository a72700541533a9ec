// The Claude Code CLI's command line for one run. The prompt is never on it: it goes to
// stdin, so a prompt like "--version" cannot be read as a flag and size is not limited by
// the kernel's argument limit (128 KiB per argument).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cas::agent {

enum class OutputFormat { json, stream_json };

struct CliInvocation {
    std::string agent;
    std::optional<std::string> model;
    double max_budget_usd = 5.0;
    OutputFormat format = OutputFormat::json;
};

// Arguments after the program name.
std::vector<std::string> cli_arguments(const CliInvocation& invocation);

// Why `name` is not an acceptable agent name, or nothing if it is: letters, digits,
// '-', '_', '.'; not starting with '-'; 1 to 64 characters.
std::optional<std::string> agent_name_problem(std::string_view name);

}  // namespace cas::agent
