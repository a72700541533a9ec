// The OpenAI-compatible surface: chat completions (plain and streamed as Server-Sent
// Events) that run the compat agent with the requested model, and the model list. Errors
// are OpenAI error objects. A client that goes away cancels its run. A conversation whose
// history this service answered continues in the CLI session of that answer.
#pragma once

#include "http/router.hpp"
#include "jobs/job_store.hpp"
#include "runs/run_service.hpp"
#include "sessions/session_keeper.hpp"
#include "telemetry/metrics.hpp"

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
    std::chrono::milliseconds keep_alive{15000};        // SSE comment while the agent is silent
    std::chrono::milliseconds chat_wait{0};             // for a busy slot, before 503
    std::chrono::seconds session_ttl{7LL * 24 * 3600};  // a conversation can be continued
};

struct OpenAiContext {
    runs::RunService& runs;
    jobs::JobStore& store;  // conversations: history key → session (api/chat_continuation.hpp)
    const sessions::SessionKeeper& sessions;  // whether a remembered session can still go on
    Metrics& metrics;
    OpenAiSettings settings;
};

void add_openai_routes(http::Router& router, OpenAiContext context);

// How a completion for `model` runs the CLI (the service starts one ahead for the default).
agent::CliInvocation chat_invocation(const OpenAiSettings& settings, std::string model);

}  // namespace cas::api
