// What the three model APIs (OpenAI chat completions and responses, Anthropic messages) share
// once a request is parsed: the slot, the session a turn continues, the run raced against its
// client, the answer whole or streamed, remembering it for the next turn. Each API parses its
// own request into a Turn and shapes the TurnResult (or a StreamShape's events) its own way;
// nothing here knows whose shape it is.
#pragma once

#include "api/chat_request.hpp"
#include "api/run_options_request.hpp"
#include "api/stream_shape.hpp"
#include "http/message.hpp"
#include "http/response.hpp"
#include "jobs/job_store.hpp"
#include "runs/run_service.hpp"
#include "sessions/session_keeper.hpp"
#include "telemetry/metrics.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/json/fwd.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace cas::api {

// The OPENAI_* settings, for every model API: the models a client may name, the agent that
// answers, its budget and timeout.
struct ModelApiSettings {
    std::vector<std::string> models{"claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-7"};
    std::string default_model = "claude-sonnet-4-6";
    std::string agent = "recruiter-triage";
    double budget_usd = 2.0;
    std::chrono::seconds timeout{900};
    std::chrono::milliseconds keep_alive{15000};        // an event while the agent is silent
    std::chrono::milliseconds chat_wait{0};             // for a busy slot, before "busy"
    std::chrono::seconds session_ttl{7LL * 24 * 3600};  // a conversation can be continued
    RunPolicy run_policy;                               // what a request may choose of its run
};

struct ModelApiContext {
    runs::RunService& runs;
    jobs::JobStore& store;  // conversations (api/chat_continuation.hpp), stored responses
    const sessions::SessionKeeper& sessions;  // whether a remembered session can still go on
    Metrics& metrics;
    ModelApiSettings settings;
};

// How a turn for `model` runs the CLI (the service starts one ahead for the default), with
// each model call's output capped at `max_output_tokens` if set, and the run options asked.
agent::CliInvocation turn_invocation(const ModelApiSettings& settings, std::string model,
                                     std::optional<std::int64_t> max_output_tokens = {},
                                     agent::RunOptions options = {});

// What every model API's request comes down to.
struct Turn {
    std::string model;
    std::vector<ChatMessage> messages;              // as chat_prompt reads them
    std::optional<std::int64_t> max_output_tokens;  // for each model call the agent makes
    // With a json_schema, the answer is the JSON text of the object the agent answered with
    // (a streamed turn sends it whole at the end, not the agent's prose before it).
    agent::RunOptions options;
    // A session the caller names (X-Session-Id, a previous response's), and what its CLI is
    // given. Without one, a history this service answered continues in that answer's session.
    struct Named {
        std::string session_id;
        std::string prompt;
    };
    std::optional<Named> named;
};

// X-Session-Id on a request: the session the client names, continued with the last user
// message; an error message when the header is not a session id.
std::variant<std::optional<Turn::Named>, std::string> named_by_header(
    const http::Request& request, const std::vector<ChatMessage>& messages);

// A turn with the slot: what its CLI is given and the session it continues (if any).
struct StartedTurn {
    runs::RunService::Handle handle;
    Turn turn;
    std::string prompt;
    std::optional<std::string> resume;
};

// Takes the slot (waiting up to the chat wait) and plans the turn; nothing when busy.
boost::asio::awaitable<std::optional<StartedTurn>> start_turn(const ModelApiContext& ctx,
                                                              Turn turn);

// Runs the turn for a client that waits for the whole answer (cancelled if it leaves).
boost::asio::awaitable<TurnResult> answer_turn(const ModelApiContext& ctx, StartedTurn& started,
                                               http::ClientConnection* client);

// Runs before the closing events are written (a stored response must be there once the
// client has seen the end).
using BeforeClosing = std::function<boost::asio::awaitable<void>(const TurnResult&)>;

// The streamed answer: opened when the session is known (X-Session-Id in the headers), the
// text as the CLI writes it, keep-alives while it is silent, then the closing events. A
// client that leaves cancels the run.
http::Response stream_turn(std::shared_ptr<const ModelApiContext> ctx, StartedTurn started,
                           std::unique_ptr<StreamShape> shape, http::ClientConnection* client,
                           BeforeClosing before_closing = {});

// A completed turn's 200 with `body`, naming the answer's session in X-Session-Id.
http::Response answer_response(const TurnResult& result, const boost::json::value& body);

// The answers every model API gives in its own error shape: the slot is busy (retry later),
// and the run failed (503, not to be retried by the client: an agent run costs and may have
// changed the workspace). `status` of busy: 503, or Anthropic's 529.
http::Response busy_response(http::ErrorDialect dialect, unsigned status);
http::Response failed_response(http::ErrorDialect dialect, const agent::AgentOutcome& outcome);

}  // namespace cas::api
