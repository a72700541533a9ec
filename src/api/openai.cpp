// Chat completions hold the execution slot for the whole run, streamed or not; the slot is
// taken before any byte of the answer is sent, so "busy" is a clean 503. A run is raced
// against its client: when the client leaves, the run is cancelled (and its processes
// killed) instead of running on to its timeout.
#include "api/openai.hpp"

#include "api/chat_request.hpp"
#include "api/chat_stream.hpp"
#include "api/json_body.hpp"
#include "random_id.hpp"
#include "utf8.hpp"
#include "wall_clock.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>

#include <chrono>

namespace cas::api {
namespace asio = boost::asio;
namespace json = boost::json;
using namespace boost::asio::experimental::awaitable_operators;
using http::ErrorDialect;

namespace {

constexpr auto kNothrow = asio::as_tuple(asio::use_awaitable);

http::Response unsupported_model(const std::string& model, const std::vector<std::string>& models) {
    std::string list;
    for (const auto& m : models) list += (list.empty() ? "" : ", ") + m;
    auto response =
        http::error_response(ErrorDialect::openai, 400,
                             fmt::format("unsupported model '{}'; supported: {}", model, list),
                             "model", "model_not_found");
    // Keep the reference app's machine-readable list next to the message.
    auto body = json::parse(response.body);
    body.as_object()["error"].as_object()["supported"] = json::array(models.begin(), models.end());
    response.body = json::serialize(body);
    return response;
}

json::object model_object(const std::string& id, std::int64_t created) {
    return {{"id", id}, {"object", "model"}, {"created", created}, {"owned_by", "anthropic"}};
}

// What a failed run tells the client.
std::string failure_message(const agent::AgentOutcome& outcome) {
    if (outcome.status == agent::RunStatus::timeout) return "agent timed out";
    if (outcome.status == agent::RunStatus::cancelled) return "agent run cancelled";
    return "execution failed: " + to_valid_utf8(outcome.reason);
}

void record(const OpenAiContext& ctx, const agent::AgentOutcome& outcome, std::string_view model) {
    auto status = outcome.status == agent::RunStatus::cancelled && ctx.runs.stopping()
                      ? std::string_view("interrupted")
                      : agent::to_string(outcome.status);
    ctx.metrics.record_run(agent::run_report(outcome, "completion", status, model));
}

// Runs the agent; if the client leaves first, cancels it. Returns when the run has ended.
asio::awaitable<agent::AgentOutcome> run_for_client(const agent::AgentSettings& settings,
                                                    agent::AgentRequest request,
                                                    agent::Cancellation& cancel,
                                                    http::ClientConnection* client) {
    agent::Cancellation done(co_await asio::this_coro::executor);
    auto run = [&]() -> asio::awaitable<agent::AgentOutcome> {
        auto outcome = co_await agent::run_agent(settings, std::move(request), cancel);
        done.request();
        co_return outcome;
    };
    auto watch = [&]() -> asio::awaitable<void> {
        if (client == nullptr) co_return co_await done.wait();
        auto first = co_await (client->wait_gone() || done.wait());
        if (first.index() == 0) cancel.request();
    };
    co_return co_await (run() && watch());
}

// State of one streamed completion, shared by the producer and the socket pump.
struct StreamState {
    std::string pending;  // SSE bytes not yet written
    bool run_done = false;
    bool client_gone = false;
    asio::steady_timer wake;
    explicit StreamState(const asio::any_io_executor& executor)
        : wake(executor, asio::steady_timer::time_point::max()) {}
    void notify() { wake.cancel(); }
};

// Writes pending events as they come, a keep-alive comment while there are none, until the
// run is done and everything is written or the client is gone.
asio::awaitable<void> pump(StreamState& state, http::BodyWriter& out,
                           std::chrono::milliseconds keep_alive, agent::Cancellation& cancel) {
    for (;;) {
        if (!state.pending.empty()) {
            auto bytes = std::move(state.pending);
            state.pending.clear();
            if (!co_await out.write(bytes)) break;
            continue;
        }
        if (state.run_done) co_return;
        asio::steady_timer tick(co_await asio::this_coro::executor, keep_alive);
        state.wake.expires_at(asio::steady_timer::time_point::max());
        auto woke = co_await (state.wake.async_wait(kNothrow) || tick.async_wait(kNothrow));
        if (woke.index() == 1 && !co_await out.write(ChatChunkEncoder::keep_alive())) break;
    }
    state.client_gone = true;
    cancel.request();
}

asio::awaitable<void> stream_completion(const OpenAiContext& ctx, ChatRequest chat,
                                        http::BodyWriter& out, http::ClientConnection* client) {
    auto executor = co_await asio::this_coro::executor;
    auto cancel = std::make_shared<agent::Cancellation>(executor);
    agent::InFlightRuns::Entry in_flight(ctx.runs, cancel);
    StreamState state(executor);
    ChatChunkEncoder encoder("chatcmpl-" + random_hex(24), chat.model, unix_seconds());
    agent::LineSplitter lines;

    state.pending = encoder.role_event();
    agent::AgentRequest request{
        .prompt = chat_prompt(chat.messages),
        .cli = {.agent = ctx.settings.agent,
                .model = chat.model,
                .max_budget_usd = ctx.settings.budget_usd,
                .format = agent::OutputFormat::stream_json},
        .timeout = ctx.settings.timeout,
        .on_stdout =
            [&](std::string_view piece) {
                lines.feed(piece, [&](std::string_view line) {
                    auto events = encoder.on_line(line);
                    if (events.empty()) return;
                    state.pending += events;
                    state.notify();
                });
            },
    };
    auto run = [&]() -> asio::awaitable<agent::AgentOutcome> {
        auto outcome =
            co_await run_for_client(ctx.agent_settings, std::move(request), *cancel, client);
        state.run_done = true;
        state.notify();
        co_return outcome;
    };
    auto outcome = co_await (run() && pump(state, out, ctx.settings.keep_alive, *cancel));
    record(ctx, outcome, chat.model);
    if (state.client_gone) co_return;

    if (outcome.status == agent::RunStatus::completed) {
        auto stop = outcome.cli.stop_reason ? outcome.cli.stop_reason : encoder.stop_reason();
        std::string tail = encoder.finish_event(finish_reason_for(stop));
        if (chat.include_usage) tail += encoder.usage_event(outcome.cli.tokens);
        tail += ChatChunkEncoder::done_event();
        co_await out.write(tail);
    } else {
        co_await out.write(ChatChunkEncoder::error_event(failure_message(outcome)));
    }
}

asio::awaitable<http::Response> complete(const OpenAiContext& ctx, ChatRequest chat,
                                         http::ClientConnection* client) {
    auto cancel = std::make_shared<agent::Cancellation>(co_await asio::this_coro::executor);
    agent::InFlightRuns::Entry in_flight(ctx.runs, cancel);
    agent::AgentRequest request{
        .prompt = chat_prompt(chat.messages),
        .cli = {.agent = ctx.settings.agent,
                .model = chat.model,
                .max_budget_usd = ctx.settings.budget_usd},
        .timeout = ctx.settings.timeout,
        .on_stdout = {},
    };
    auto outcome = co_await run_for_client(ctx.agent_settings, std::move(request), *cancel, client);
    record(ctx, outcome, chat.model);
    if (outcome.status != agent::RunStatus::completed) {
        co_return http::error_response(ErrorDialect::openai, 503, failure_message(outcome));
    }
    auto text = to_valid_utf8(agent::answer_text(outcome.cli, outcome.process.out.text));
    auto body = json::object{
        {"id", "chatcmpl-" + random_hex(24)},
        {"object", "chat.completion"},
        {"created", unix_seconds()},
        {"model", chat.model},
        {"choices", json::array{json::object{
                        {"index", 0},
                        {"message", json::object{{"role", "assistant"}, {"content", text}}},
                        {"finish_reason", finish_reason_for(outcome.cli.stop_reason)},
                    }}},
        {"usage", json::parse(usage_json_text(outcome.cli.tokens))},
    };
    co_return http::json_response(200, body);
}

}  // namespace

void add_openai_routes(http::Router& router, OpenAiContext context) {
    auto ctx = std::make_shared<const OpenAiContext>(std::move(context));
    const std::int64_t started = unix_seconds();

    auto completions = [ctx](const http::Request& request) -> asio::awaitable<http::Response> {
        auto body = parse_json_object(request, ErrorDialect::openai);
        if (auto* error = std::get_if<http::Response>(&body)) co_return std::move(*error);
        auto parsed = parse_chat_request(std::get<json::object>(body),
                                         {ctx->settings.models, ctx->settings.default_model});
        if (auto* error = std::get_if<ChatRequestError>(&parsed)) {
            if (error->param == "model" && error->message == "unsupported model") {
                const auto* model = std::get<json::object>(body).if_contains("model");
                co_return unsupported_model(std::string(model->as_string()), ctx->settings.models);
            }
            co_return http::error_response(ErrorDialect::openai, 400, error->message, error->param);
        }
        auto permit = ctx->slot.try_acquire();
        if (!permit) {
            auto busy = http::error_response(ErrorDialect::openai, 503, "agent is busy");
            busy.headers.emplace_back("Retry-After", "5");
            co_return busy;
        }
        auto chat = std::get<ChatRequest>(std::move(parsed));
        if (!chat.stream) co_return co_await complete(*ctx, std::move(chat), request.client);

        // The body is produced after this returns: the permit and request travel with it.
        http::Response response;
        response.content_type = "text/event-stream";
        response.headers.emplace_back("X-Accel-Buffering", "no");  // for nginx in front
        auto held = std::make_shared<agent::ExecutionSlot::Permit>(std::move(*permit));
        auto shared_chat = std::make_shared<ChatRequest>(std::move(chat));
        auto* client = request.client;
        response.stream = [ctx, held, shared_chat,
                           client](http::BodyWriter& out) -> asio::awaitable<void> {
            co_await stream_completion(*ctx, std::move(*shared_chat), out, client);
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
