// The OpenAI-compatible surface: chat completions (plain and streamed as Server-Sent
// Events) that run the compat agent with the requested model, and the model list. Errors
// are OpenAI error objects. A client that goes away cancels its run.
#pragma once

#include "http/router.hpp"
#include "runs/run_service.hpp"

#include <chrono>
#include <string>
#include <vector>

namespace cas::api {

struct OpenAiSettings {
    std::vector<std::string> models{"claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-7"};
    std::string default_model = "claude-sonnet-4-6";
    std::string agent = "recruiter-triage";
    double budget_usd = 2.0;
    std::chrono::seconds timeout{900};
    std::chrono::milliseconds keep_alive{15000};  // SSE comment while the agent is silent
};

struct OpenAiContext {
    runs::RunService& runs;
    OpenAiSettings settings;
};

void add_openai_routes(http::Router& router, OpenAiContext context);

// How a completion for `model` runs the CLI (the service starts one ahead for the default).
agent::CliInvocation chat_invocation(const OpenAiSettings& settings, std::string model);

}  // namespace cas::api
