// The OpenAI-compatible surface: POST /v1/chat/completions runs the compat agent with the
// requested model and answers a chat.completion; errors are OpenAI error objects.
#pragma once

#include "agent/agent_run.hpp"
#include "agent/execution_slot.hpp"
#include "http/router.hpp"

#include <string>
#include <vector>

namespace cas::api {

struct OpenAiSettings {
    std::vector<std::string> models{"claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-7"};
    std::string default_model = "claude-sonnet-4-6";
    std::string agent = "recruiter-triage";
    double budget_usd = 2.0;
    std::chrono::seconds timeout{900};
};

struct OpenAiContext {
    agent::ExecutionSlot& slot;
    const agent::AgentSettings& agent_settings;
    OpenAiSettings settings;
};

void add_openai_routes(http::Router& router, OpenAiContext context);

}  // namespace cas::api
