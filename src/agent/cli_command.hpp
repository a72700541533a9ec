// The Claude Code CLI's command line for one run. The prompt is never on it: it goes to
// stdin as one stream-json user message, so a prompt like "--version" cannot be read as a
// flag, its size is not limited by the kernel's argument limit (128 KiB per argument), and
// the CLI can be started before the prompt exists (the warm CLI). Every run reads the same
// output (stream-json with partial messages): one command line per agent, budget and model,
// whoever asks (a job, a streamed or a whole completion), so one warm process serves them all.
#pragma once

#include "agent/run_options.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cas::agent {

struct CliInvocation {
    std::string agent;
    std::optional<std::string> model;
    double max_budget_usd = 5.0;
    // A CLI session to continue (`--resume`), into a new session id when `fork`.
    std::optional<std::string> resume;
    bool fork = false;
    // A cap on the output tokens of each model call the agent makes (not on the run's total):
    // the CLI reads it from CLAUDE_CODE_MAX_OUTPUT_TOKENS and clamps it to the model's own.
    std::optional<std::int64_t> max_output_tokens;
    RunOptions options;
};

// Arguments after the program name. Each run option is one `--flag=value` argument, so no
// value can be read as a flag of its own or as the prompt, whatever it holds.
std::vector<std::string> cli_arguments(const CliInvocation& invocation);

// The prompt as the CLI's stream-json input: one user message line, newline-terminated.
std::string user_message_line(std::string_view prompt);

// The control request a stream-json CLI answers (with its agents, commands, models) once it
// has started, before any prompt: so a run can check its agent before the prompt is sent.
inline constexpr std::string_view kInitializeRequestId = "cas-initialize";
std::string initialize_request_line();

// The CLI's session ids: a UUID in lowercase hex, 8-4-4-4-12. Only such a text is passed
// to --resume or used in a path.
bool is_session_id(std::string_view text);

// Why `name` is not an acceptable agent name, or nothing if it is: letters, digits,
// '-', '_', '.'; not starting with '-'; 1 to 64 characters.
std::optional<std::string> agent_name_problem(std::string_view name);

}  // namespace cas::agent
