// A turn takes the run service's slot before any byte of the answer is sent, so "busy" is a
// clean error, and holds it until the answer is out, streamed or not: the answer is the CLI's
// result line, given before the CLI exits (the run service lets it finish). A run is raced
// against its client: when the client leaves, the run is cancelled (and its processes killed)
// instead of running on to its timeout.
#include "api/model_turn.hpp"

#include "agent/line_splitter.hpp"
#include "api/answer_text.hpp"
#include "api/chat_continuation.hpp"
#include "telemetry/log.hpp"
#include "util/async.hpp"
#include "util/utf8.hpp"
#include "util/wall_clock.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <span>

namespace cas::api {
namespace asio = boost::asio;
using namespace boost::asio::experimental::awaitable_operators;
using runs::RunService;

namespace {

struct Plan {
    std::string prompt;
    std::optional<std::string> resume;
    std::string_view how;  // continued, explicit, fresh (the metric's words)
};

// A named session is continued with its prompt; else a history this service answered
// continues in that answer's session (the CLI gets the new messages) if it can still be
// resumed (its file or a copy is there: a file larger than SESSION_MAX_BYTES has no copy);
// else a fresh session with the transcript prompt.
asio::awaitable<Plan> plan_turn(const ModelApiContext& ctx, const Turn& turn) {
    if (turn.named) co_return Plan{turn.named->prompt, turn.named->session_id, "explicit"};
    std::span<const ChatMessage> messages(turn.messages);
    if (auto start = new_messages_start(messages); start > 0) {
        try {
            auto since = unix_seconds() - ctx.settings.session_ttl.count();
            auto key = conversation_key(messages.first(start));
            auto earlier = co_await ctx.store.find_conversation(key, since);
            if (earlier && earlier->agent == ctx.settings.agent) {
                auto resumable = co_await ctx.sessions.resumable(earlier->session_id);
                if (resumable) {
                    co_return Plan{continuation_prompt(messages.subspan(start)),
                                   earlier->session_id, "continued"};
                }
            }
        } catch (const jobs::StoreError& e) {
            log::warn("cannot look up the conversation; running it fresh", {{"error", e.what()}});
        }
    }
    co_return Plan{chat_prompt(turn.messages), std::nullopt, "fresh"};
}

// So the next turn, whose history ends with this answer, continues this run's session.
asio::awaitable<void> remember_answer(const ModelApiContext& ctx, const Turn& turn,
                                      const TurnResult& result) {
    auto session_id = result.session_id();
    if (!result.completed() || !session_id) co_return;
    try {
        jobs::Conversation conversation{.key = answered_key(turn.messages, result.text),
                                        .session_id = *session_id,
                                        .model = turn.model,
                                        .agent = ctx.settings.agent};
        co_await ctx.store.save_conversation(conversation);
    } catch (const jobs::StoreError& e) {
        log::warn("cannot remember the conversation", {{"error", e.what()}});
    }
}

agent::AgentRequest agent_request(const ModelApiContext& ctx, StartedTurn& started) {
    auto cli = turn_invocation(ctx.settings, started.turn.model, started.turn.max_output_tokens,
                               started.turn.options);
    cli.resume = started.resume;
    return {
        .prompt = std::move(started.prompt),
        .cli = std::move(cli),
        .timeout = ctx.settings.timeout,
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

// State of one streamed turn, shared by the producer and the socket pump.
struct StreamState {
    std::string pending;  // SSE bytes not yet written
    bool run_done = false;
    bool client_gone = false;
    Event changed;
    // The opening events open the body, and the headers go with them: at once for a session
    // known ahead (its X-Session-Id is in the headers already), else at the CLI's first line,
    // which names the new session, or at the first text, the first keep-alive or the run's
    // end if none comes before.
    std::string opening;
    bool opened = false;
    StreamState(const asio::any_io_executor& executor, std::string first)
        : changed(executor), opening(std::move(first)) {}
    void open() {
        if (opened) return;
        opened = true;
        pending.insert(0, opening);
        changed.notify();
    }
};

// Writes pending events as they come, a keep-alive while there are none, until the run is
// done and everything is written or the client is gone.
asio::awaitable<void> pump(StreamState& state, StreamShape& shape, http::BodyWriter& out,
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
            state.open();  // no keep-alive before the opening events
        } else if (woke.index() == 1) {
            auto keep = shape.keep_alive();  // named: GCC 12 mishandles temporaries in co_await
            bool written = co_await out.write(keep);
            if (!written) break;
        }
    }
    state.client_gone = true;
    handle.cancel();
}

struct StreamedTurn {
    std::shared_ptr<const ModelApiContext> ctx;
    StartedTurn started;
    std::unique_ptr<StreamShape> shape;
    http::ClientConnection* client;
    BeforeClosing before_closing;
};

asio::awaitable<void> stream_body(StreamedTurn& streamed, http::BodyWriter& out) {
    const auto& ctx = *streamed.ctx;
    auto& shape = *streamed.shape;
    auto& started = streamed.started;
    StreamState state(co_await asio::this_coro::executor, shape.opening());
    agent::LineSplitter lines;
    AnswerText answer;

    const bool structured = started.turn.options.json_schema.has_value();
    if (started.resume) state.open();
    auto request = agent_request(ctx, started);
    request.on_stdout = [&](std::string_view piece) {
        lines.feed(piece, [&](std::string_view line) {
            if (!state.opened) {
                if (auto id = agent::init_session_id(line)) {
                    if (agent::is_session_id(*id)) out.add_header("X-Session-Id", *id);
                    state.open();
                }
            }
            auto text = answer.on_line(line);
            if (text.empty() || structured) return;
            state.open();
            state.pending += shape.text(text);
            state.changed.notify();
        });
    };
    auto run = [&]() -> asio::awaitable<agent::AgentOutcome> {
        auto outcome = co_await run_for_client(started.handle, std::move(request),
                                               started.turn.model, streamed.client);
        state.open();
        state.run_done = true;
        state.changed.notify();
        co_return outcome;
    };
    auto outcome =
        co_await (run() && pump(state, shape, out, ctx.settings.keep_alive, started.handle));
    if (state.client_gone) co_return;

    TurnResult result{.outcome = std::move(outcome), .text = answer.text(), .stop_reason = {}};
    result.stop_reason =
        result.outcome.cli.stop_reason ? result.outcome.cli.stop_reason : answer.stop_reason();
    if (structured && result.completed()) {
        result.text = boost::json::serialize(result.outcome.cli.structured_output);
        auto whole = shape.text(result.text);
        co_await out.write(whole);
    }
    co_await remember_answer(ctx, started.turn, result);
    if (streamed.before_closing) co_await streamed.before_closing(result);
    auto closing = shape.closing(result);
    co_await out.write(closing);
}

}  // namespace

agent::CliInvocation turn_invocation(const ModelApiSettings& settings, std::string model,
                                     std::optional<std::int64_t> max_output_tokens,
                                     agent::RunOptions options) {
    return {.agent = settings.agent,
            .model = std::move(model),
            .max_budget_usd = settings.budget_usd,
            .resume = std::nullopt,
            .fork = false,
            .max_output_tokens = max_output_tokens,
            .options = std::move(options)};
}

std::variant<std::optional<Turn::Named>, std::string> named_by_header(
    const http::Request& request, const std::vector<ChatMessage>& messages) {
    auto named = request.header("X-Session-Id");
    if (!named) return std::optional<Turn::Named>();
    if (!agent::is_session_id(*named)) {
        return std::string(
            "X-Session-Id must be a CLI session id (a lowercase UUID, as a response's "
            "X-Session-Id gives it)");
    }
    auto last_user = std::find_if(messages.rbegin(), messages.rend(),
                                  [](const ChatMessage& m) { return m.role == "user"; });
    std::string prompt = last_user == messages.rend() ? std::string() : last_user->content;
    return std::optional<Turn::Named>(Turn::Named{std::string(*named), std::move(prompt)});
}

asio::awaitable<std::optional<StartedTurn>> start_turn(const ModelApiContext& ctx, Turn turn) {
    auto handle = co_await ctx.runs.start_first(ctx.settings.chat_wait);
    if (!handle) co_return std::nullopt;
    auto plan = co_await plan_turn(ctx, turn);
    ctx.metrics.record_chat_session(plan.how);
    co_return StartedTurn{.handle = std::move(*handle),
                          .turn = std::move(turn),
                          .prompt = std::move(plan.prompt),
                          .resume = std::move(plan.resume)};
}

asio::awaitable<TurnResult> answer_turn(const ModelApiContext& ctx, StartedTurn& started,
                                        http::ClientConnection* client) {
    auto outcome = co_await run_for_client(started.handle, agent_request(ctx, started),
                                           started.turn.model, client);
    TurnResult result{.outcome = std::move(outcome), .text = {}, .stop_reason = {}};
    if (started.turn.options.json_schema && result.completed()) {
        result.text = boost::json::serialize(result.outcome.cli.structured_output);
    } else {
        result.text =
            to_valid_utf8(agent::answer_text(result.outcome.cli, result.outcome.process.out.text));
    }
    result.stop_reason = result.outcome.cli.stop_reason;
    co_await remember_answer(ctx, started.turn, result);
    co_return result;
}

http::Response stream_turn(std::shared_ptr<const ModelApiContext> ctx, StartedTurn started,
                           std::unique_ptr<StreamShape> shape, http::ClientConnection* client,
                           BeforeClosing before_closing) {
    // The body is produced after the handler returns: the handle and the turn travel with it.
    // A fresh session's X-Session-Id is added when the CLI names it (stream_body).
    http::Response response;
    response.content_type = "text/event-stream";
    response.headers.emplace_back("X-Accel-Buffering", "no");  // for nginx in front
    if (started.resume) response.headers.emplace_back("X-Session-Id", *started.resume);
    auto streamed =
        std::make_shared<StreamedTurn>(StreamedTurn{.ctx = std::move(ctx),
                                                    .started = std::move(started),
                                                    .shape = std::move(shape),
                                                    .client = client,
                                                    .before_closing = std::move(before_closing)});
    response.stream = [streamed](http::BodyWriter& out) -> asio::awaitable<void> {
        co_await stream_body(*streamed, out);
    };
    return response;
}

http::Response answer_response(const TurnResult& result, const boost::json::value& body) {
    auto response = http::json_response(200, body);
    if (auto session = result.session_id()) response.headers.emplace_back("X-Session-Id", *session);
    return response;
}

http::Response busy_response(http::ErrorDialect dialect, unsigned status) {
    auto response = http::error_response(dialect, status, "agent is busy");
    response.headers.emplace_back("Retry-After", "5");
    return response;
}

http::Response failed_response(http::ErrorDialect dialect, const agent::AgentOutcome& outcome) {
    auto response = http::error_response(dialect, 503, failure_message(outcome));
    // Both official SDKs retry a 5xx unless told not to.
    response.headers.emplace_back("x-should-retry", "false");
    return response;
}

}  // namespace cas::api
