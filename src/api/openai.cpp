// Chat completions take the run service's slot before any byte of the answer is sent, so
// "busy" is a clean 503, and hold it until the answer is out, streamed or not: the answer is
// the CLI's result line, given before the CLI exits (the run service lets it finish). A run
// is raced against its client: when the client leaves, the run is cancelled (and its
// processes killed) instead of running on to its timeout.
#include "api/openai.hpp"

#include "agent/line_splitter.hpp"
#include "api/chat_continuation.hpp"
#include "api/chat_request.hpp"
#include "api/chat_stream.hpp"
#include "api/json_body.hpp"
#include "telemetry/log.hpp"
#include "util/async.hpp"
#include "util/random_id.hpp"
#include "util/utf8.hpp"
#include "util/wall_clock.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <span>

namespace cas::api {
namespace asio = boost::asio;
namespace json = boost::json;
using namespace boost::asio::experimental::awaitable_operators;
using http::ErrorDialect;
using runs::RunService;

namespace {

http::Response unsupported_model(const ChatRequestError& error,
                                 const std::vector<std::string>& models) {
    // Keep the reference app's machine-readable list next to the message.
    auto body = http::openai_error_body(400, error.message, error.param, "model_not_found");
    body["error"].as_object()["supported"] = json::array(models.begin(), models.end());
    return http::json_response(400, body);
}

json::object model_object(const std::string& id, std::int64_t created) {
    return {{"id", id}, {"object", "model"}, {"created", created}, {"owned_by", "anthropic"}};
}

// What a failed run tells the client.
std::string failure_message(const agent::AgentOutcome& outcome) {
    if (outcome.status == agent::RunStatus::timeout) return "agent timed out";
    if (outcome.status == agent::RunStatus::cancelled) return "agent run cancelled";
    if (outcome.status == agent::RunStatus::interrupted) return "agent run interrupted";
    return "execution failed: " + to_valid_utf8(outcome.reason);
}

// How a completion runs: what the CLI is given, and the session it continues (if any).
struct ChatSession {
    std::string prompt;
    std::optional<std::string> resume;
    std::string_view how;  // continued, explicit, fresh (the metric's words)
};

// X-Session-Id names the session (the CLI gets the last user message); else a history this
// service answered continues in that answer's session (the CLI gets the new messages) if it
// can still be resumed (its file or a copy is there: a file larger than SESSION_MAX_BYTES
// has no copy); else a fresh session with the transcript prompt.
asio::awaitable<ChatSession> choose_session(const OpenAiContext& ctx, const ChatRequest& chat,
                                            std::optional<std::string_view> named) {
    std::span<const ChatMessage> messages(chat.messages);
    if (named) {
        auto last_user = std::find_if(messages.rbegin(), messages.rend(),
                                      [](const ChatMessage& m) { return m.role == "user"; });
        co_return ChatSession{last_user->content, std::string(*named), "explicit"};
    }
    if (auto start = new_messages_start(messages); start > 0) {
        try {
            auto since = unix_seconds() - ctx.settings.session_ttl.count();
            auto key = conversation_key(messages.first(start));
            auto earlier = co_await ctx.store.find_conversation(key, since);
            if (earlier && earlier->agent == ctx.settings.agent) {
                auto resumable = co_await ctx.sessions.resumable(earlier->session_id);
                if (resumable) {
                    co_return ChatSession{continuation_prompt(messages.subspan(start)),
                                          earlier->session_id, "continued"};
                }
            }
        } catch (const jobs::StoreError& e) {
            log::warn("cannot look up the conversation; running it fresh", {{"error", e.what()}});
        }
    }
    co_return ChatSession{chat_prompt(chat.messages), std::nullopt, "fresh"};
}

// So the next turn, whose history ends with this answer, continues this run's session.
asio::awaitable<void> remember_answer(const OpenAiContext& ctx, const ChatRequest& chat,
                                      std::string_view answer, const std::string& session_id) {
    if (!agent::is_session_id(session_id)) co_return;
    try {
        jobs::Conversation conversation{.key = answered_key(chat.messages, answer),
                                        .session_id = session_id,
                                        .model = chat.model,
                                        .agent = ctx.settings.agent};
        co_await ctx.store.save_conversation(conversation);
    } catch (const jobs::StoreError& e) {
        log::warn("cannot remember the conversation", {{"error", e.what()}});
    }
}

agent::AgentRequest agent_request(const OpenAiSettings& settings, const ChatRequest& chat,
                                  ChatSession session) {
    auto cli = chat_invocation(settings, chat.model);
    cli.resume = std::move(session.resume);
    return {
        .prompt = std::move(session.prompt),
        .cli = std::move(cli),
        .timeout = settings.timeout,
        .on_stdout = {},
        .on_answer = {},
    };
}

// Runs the agent; if the client leaves first, cancels it. Returns with the run's answer.
asio::awaitable<agent::AgentOutcome> run_for_client(RunService::Handle& handle,
                                                    agent::AgentRequest request, std::string model,
                                                    http::ClientConnection* client) {
    agent::Cancellation done(co_await asio::this_coro::executor);
    auto run = [&]() -> asio::awaitable<agent::AgentOutcome> {
        auto outcome = co_await handle.run(std::move(request), "completion", std::move(model),
                                           RunService::Handle::Answer::at_result);
        done.request();
        co_return outcome;
    };
    auto watch = [&]() -> asio::awaitable<void> {
        if (client == nullptr) co_return co_await done.wait();
        auto first = co_await (client->wait_gone() || done.wait());
        if (first.index() == 0) handle.cancel();
    };
    co_return co_await (run() && watch());
}

// State of one streamed completion, shared by the producer and the socket pump.
struct StreamState {
    std::string pending;  // SSE bytes not yet written
    bool run_done = false;
    bool client_gone = false;
    Event changed;
    // The role event opens the body, and the headers go with it: at once for a session known
    // ahead (its X-Session-Id is in the headers already), else at the CLI's first line, which
    // names the new session, or at the first event, the first keep-alive or the run's end if
    // none comes before.
    std::string role_event;
    bool opened = false;
    StreamState(const asio::any_io_executor& executor, std::string role)
        : changed(executor), role_event(std::move(role)) {}
    void open() {
        if (opened) return;
        opened = true;
        pending.insert(0, role_event);
        changed.notify();
    }
};

// Writes pending events as they come, a keep-alive comment while there are none, until the
// run is done and everything is written or the client is gone.
asio::awaitable<void> pump(StreamState& state, http::BodyWriter& out,
                           std::chrono::milliseconds keep_alive, RunService::Handle& handle) {
    for (;;) {
        if (!state.pending.empty()) {
            auto bytes = std::move(state.pending);
            state.pending.clear();
            if (!co_await out.write(bytes)) break;
            continue;
        }
        if (state.run_done) co_return;
        auto executor = co_await asio::this_coro::executor;
        Timer tick(executor, keep_alive);
        auto woke = co_await (state.changed.wait() || tick.async_wait());
        if (woke.index() == 1 && !state.opened) {
            state.open();  // no keep-alive before the role event
        } else if (woke.index() == 1) {
            bool written = co_await out.write(http::kSseKeepAlive);
            if (!written) break;
        }
    }
    state.client_gone = true;
    handle.cancel();
}

asio::awaitable<void> stream_completion(const OpenAiContext& ctx, RunService::Handle& handle,
                                        ChatRequest chat, ChatSession session,
                                        http::BodyWriter& out, http::ClientConnection* client) {
    const auto& settings = ctx.settings;
    ChatChunkEncoder encoder("chatcmpl-" + random_hex(24), chat.model, unix_seconds());
    StreamState state(co_await asio::this_coro::executor, encoder.role_event());
    agent::LineSplitter lines;

    if (session.resume) state.open();
    auto request = agent_request(settings, chat, std::move(session));
    request.on_stdout = [&](std::string_view piece) {
        lines.feed(piece, [&](std::string_view line) {
            if (!state.opened) {
                if (auto id = agent::init_session_id(line)) {
                    if (agent::is_session_id(*id)) out.add_header("X-Session-Id", *id);
                    state.open();
                }
            }
            auto events = encoder.on_line(line);
            if (events.empty()) return;
            state.open();
            state.pending += events;
            state.changed.notify();
        });
    };
    auto run = [&]() -> asio::awaitable<agent::AgentOutcome> {
        auto outcome = co_await run_for_client(handle, std::move(request), chat.model, client);
        state.open();
        state.run_done = true;
        state.changed.notify();
        co_return outcome;
    };
    auto outcome = co_await (run() && pump(state, out, settings.keep_alive, handle));
    if (state.client_gone) co_return;

    if (outcome.status == agent::RunStatus::completed) {
        co_await remember_answer(ctx, chat, encoder.streamed_text(), outcome.cli.session_id);
        auto stop = outcome.cli.stop_reason ? outcome.cli.stop_reason : encoder.stop_reason();
        std::string tail = encoder.finish_event(finish_reason_for(stop));
        if (chat.include_usage) tail += encoder.usage_event(outcome.cli.tokens);
        tail += ChatChunkEncoder::done_event();
        co_await out.write(tail);
    } else {
        co_await out.write(ChatChunkEncoder::error_event(failure_message(outcome)));
    }
}

asio::awaitable<http::Response> completion_response(const OpenAiContext& ctx,
                                                    const ChatRequest& chat,
                                                    const agent::AgentOutcome& outcome) {
    if (outcome.status != agent::RunStatus::completed) {
        co_return http::error_response(ErrorDialect::openai, 503, failure_message(outcome));
    }
    auto text = to_valid_utf8(agent::answer_text(outcome.cli, outcome.process.out.text));
    co_await remember_answer(ctx, chat, text, outcome.cli.session_id);
    auto response = http::json_response(
        200,
        json::object{
            {"id", "chatcmpl-" + random_hex(24)},
            {"object", "chat.completion"},
            {"created", unix_seconds()},
            {"model", chat.model},
            {"choices", json::array{json::object{
                            {"index", 0},
                            {"message", json::object{{"role", "assistant"}, {"content", text}}},
                            {"finish_reason", finish_reason_for(outcome.cli.stop_reason)},
                        }}},
            {"usage", usage_json(outcome.cli.tokens)},
        });
    if (agent::is_session_id(outcome.cli.session_id)) {
        response.headers.emplace_back("X-Session-Id", outcome.cli.session_id);
    }
    co_return response;
}

http::Response busy() {
    auto response = http::error_response(ErrorDialect::openai, 503, "agent is busy");
    response.headers.emplace_back("Retry-After", "5");
    return response;
}

}  // namespace

agent::CliInvocation chat_invocation(const OpenAiSettings& settings, std::string model) {
    return {.agent = settings.agent,
            .model = std::move(model),
            .max_budget_usd = settings.budget_usd,
            .resume = std::nullopt,
            .fork = false};
}

void add_openai_routes(http::Router& router, OpenAiContext context) {
    auto ctx = std::make_shared<const OpenAiContext>(std::move(context));
    const std::int64_t started = unix_seconds();

    auto completions = [ctx](const http::Request& request) -> asio::awaitable<http::Response> {
        const auto& settings = ctx->settings;
        auto body = parse_json_object(request, ErrorDialect::openai);
        if (auto* error = std::get_if<http::Response>(&body)) co_return std::move(*error);
        auto parsed = parse_chat_request(std::get<json::object>(body),
                                         {settings.models, settings.default_model});
        if (auto* error = std::get_if<ChatRequestError>(&parsed)) {
            if (error->kind == ChatRequestError::Kind::unsupported_model)
                co_return unsupported_model(*error, settings.models);
            co_return http::error_response(ErrorDialect::openai, 400, error->message, error->param);
        }
        auto named = request.header("X-Session-Id");
        if (named && !agent::is_session_id(*named)) {
            co_return http::error_response(
                ErrorDialect::openai, 400,
                "X-Session-Id must be a CLI session id (a lowercase UUID, as a response's "
                "X-Session-Id gives it)",
                "X-Session-Id");
        }
        auto handle = co_await ctx->runs.start_first(settings.chat_wait);
        if (!handle) co_return busy();
        auto chat = std::get<ChatRequest>(std::move(parsed));
        auto session = co_await choose_session(*ctx, chat, named);
        ctx->metrics.record_chat_session(session.how);
        if (!chat.stream) {
            auto outcome =
                co_await run_for_client(*handle, agent_request(settings, chat, std::move(session)),
                                        chat.model, request.client);
            auto response = co_await completion_response(*ctx, chat, outcome);
            co_return response;
        }

        // The body is produced after this returns: the handle and request travel with it.
        // A fresh session's X-Session-Id is added when the CLI names it (stream_completion).
        http::Response response;
        response.content_type = "text/event-stream";
        response.headers.emplace_back("X-Accel-Buffering", "no");  // for nginx in front
        if (session.resume) response.headers.emplace_back("X-Session-Id", *session.resume);
        auto held = std::make_shared<RunService::Handle>(std::move(*handle));
        auto shared_chat = std::make_shared<ChatRequest>(std::move(chat));
        auto shared_session = std::make_shared<ChatSession>(std::move(session));
        auto* client = request.client;
        response.stream = [ctx, held, shared_chat, shared_session,
                           client](http::BodyWriter& out) -> asio::awaitable<void> {
            co_await stream_completion(*ctx, *held, std::move(*shared_chat),
                                       std::move(*shared_session), out, client);
        };
        co_return response;
    };
    auto list_models = [ctx, started](const http::Request&) -> asio::awaitable<http::Response> {
        json::array data;
        for (const auto& id : ctx->settings.models) data.push_back(model_object(id, started));
        co_return http::json_response(200,
                                      json::object{{"object", "list"}, {"data", std::move(data)}});
    };
    auto get_model = [ctx,
                      started](const http::Request& request) -> asio::awaitable<http::Response> {
        auto id = std::string(request.param("id").value_or(""));
        const auto& models = ctx->settings.models;
        if (std::find(models.begin(), models.end(), id) == models.end()) {
            co_return http::error_response(ErrorDialect::openai, 404,
                                           fmt::format("The model '{}' does not exist", id),
                                           "model", "model_not_found");
        }
        co_return http::json_response(200, model_object(id, started));
    };
    router.add("POST", "/v1/chat/completions", http::Access::bearer, std::move(completions));
    router.add("GET", "/v1/models", http::Access::bearer, std::move(list_models));
    router.add("GET", "/v1/models/{id}", http::Access::bearer, std::move(get_model));
}

}  // namespace cas::api
