#include "api/responses.hpp"

#include "api/json_body.hpp"
#include "api/openai.hpp"
#include "api/responses_shape.hpp"
#include "api/store_guard.hpp"
#include "telemetry/log.hpp"
#include "util/json_text.hpp"
#include "util/wall_clock.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

namespace cas::api {
namespace asio = boost::asio;
namespace json = boost::json;
using http::ErrorDialect;

namespace {

http::Response not_found(std::string_view id, std::string_view param = {}) {
    return http::error_response(ErrorDialect::openai, 404,
                                fmt::format("Response with id '{}' not found.", id), param,
                                "response_not_found");
}

std::int64_t kept_since(const ModelApiContext& ctx) {
    return unix_seconds() - ctx.settings.session_ttl.count();
}

asio::awaitable<void> store_response(const ModelApiContext& ctx, const ResponseFacts& facts,
                                     const TurnResult& result) {
    if (!facts.store) co_return;
    try {
        jobs::StoredResponse stored{.id = facts.id,
                                    .session_id = result.session_id().value_or(""),
                                    .agent = ctx.settings.agent,
                                    .body = json_text(response_object(facts, &result))};
        co_await ctx.store.save_response(stored);
    } catch (const jobs::StoreError& e) {
        log::warn("cannot store the response", {{"id", facts.id}, {"error", e.what()}});
    }
}

// Each item_reference's text, from the stored response that holds it; an unknown item is a 404.
asio::awaitable<std::optional<http::Response>> fill_references(const ModelApiContext& ctx,
                                                               ResponsesRequest& request) {
    for (const auto& reference : request.item_references) {
        auto stored = co_await ctx.store.find_response(reference.response_id, kept_since(ctx));
        auto text = stored ? stored_output_text(stored->body) : std::nullopt;
        if (!text) {
            auto item_id = "msg_" + reference.response_id.substr(std::string_view("resp_").size());
            co_return http::error_response(ErrorDialect::openai, 404,
                                           fmt::format("Item with id '{}' not found.", item_id),
                                           "input", "item_not_found");
        }
        request.messages[reference.message].content = std::move(*text);
    }
    co_return std::nullopt;
}

// The turn for a response: with previous_response_id, that response's session continued
// with this request's instructions and input; an unknown id, or one whose session cannot go
// on, is a 404.
asio::awaitable<std::variant<Turn, http::Response>> turn_for(const ModelApiContext& ctx,
                                                             ResponsesRequest& request) {
    auto unknown_item = co_await fill_references(ctx, request);
    if (unknown_item) co_return std::move(*unknown_item);
    Turn turn{.model = request.model,
              .messages = request.messages,
              .max_output_tokens = request.max_output_tokens,
              .options = request.options,
              .named = std::nullopt};
    if (!request.previous_response_id) co_return turn;
    const auto& id = *request.previous_response_id;
    auto previous = co_await ctx.store.find_response(id, kept_since(ctx));
    if (!previous) co_return not_found(id, "previous_response_id");
    bool continuable = !previous->session_id.empty() && previous->agent == ctx.settings.agent;
    if (continuable) {
        auto resumable = co_await ctx.sessions.resumable(previous->session_id);
        continuable = resumable;
    }
    if (!continuable) {
        co_return http::error_response(
            ErrorDialect::openai, 404,
            fmt::format("Response with id '{}' cannot be continued: its agent session is gone", id),
            "previous_response_id", "response_not_found");
    }
    turn.named = Turn::Named{previous->session_id, chat_prompt(request.messages)};
    co_return turn;
}

}  // namespace

void add_responses_routes(http::Router& router, std::shared_ptr<const ModelApiContext> context) {
    auto ctx = std::move(context);
    auto create = [ctx](const http::Request& request) -> asio::awaitable<http::Response> {
        const auto& settings = ctx->settings;
        auto body = parse_json_object(request, ErrorDialect::openai);
        if (auto* error = std::get_if<http::Response>(&body)) co_return std::move(*error);
        auto parsed =
            parse_responses_request(std::get<json::object>(body),
                                    {settings.models, settings.default_model}, settings.run_policy);
        if (auto* error = std::get_if<ChatRequestError>(&parsed)) {
            if (error->kind == ChatRequestError::Kind::unsupported_model)
                co_return unsupported_model(error->message, error->param, settings.models);
            co_return http::error_response(ErrorDialect::openai, 400, error->message, error->param);
        }
        auto& responses_request = std::get<ResponsesRequest>(parsed);
        auto turn = co_await turn_for(*ctx, responses_request);
        if (auto* error = std::get_if<http::Response>(&turn)) co_return std::move(*error);
        auto started = co_await start_turn(*ctx, std::get<Turn>(std::move(turn)));
        if (!started) co_return busy_response(ErrorDialect::openai, 503);
        auto facts = response_facts(responses_request, unix_seconds());
        if (!responses_request.stream) {
            auto result = co_await answer_turn(*ctx, *started, request.client);
            if (!result.completed())
                co_return failed_response(ErrorDialect::openai, result.outcome);
            co_await store_response(*ctx, facts, result);
            co_return answer_response(result, response_object(facts, &result));
        }
        auto shape = std::make_unique<ResponsesShape>(facts);
        auto keep = [ctx, facts](const TurnResult& result) -> asio::awaitable<void> {
            co_await store_response(*ctx, facts, result);
        };
        co_return stream_turn(ctx, std::move(*started), std::move(shape), request.client,
                              std::move(keep));
    };
    auto get = [ctx](const http::Request& request) -> asio::awaitable<http::Response> {
        auto id = std::string(request.param("id").value_or(""));
        auto stored = co_await ctx->store.find_response(id, kept_since(*ctx));
        if (!stored) co_return not_found(id);
        http::Response response;
        response.body = std::move(stored->body);
        co_return response;
    };
    auto remove = [ctx](const http::Request& request) -> asio::awaitable<http::Response> {
        auto id = std::string(request.param("id").value_or(""));
        auto deleted = co_await ctx->store.delete_response(id);
        if (!deleted) co_return not_found(id);
        co_return http::json_response(
            200, json::object{{"id", id}, {"object", "response"}, {"deleted", true}});
    };
    router.add("POST", "/v1/responses", http::Access::bearer,
               store_guarded(ErrorDialect::openai, std::move(create)));
    router.add("GET", "/v1/responses/{id}", http::Access::bearer,
               store_guarded(ErrorDialect::openai, std::move(get)));
    router.add("DELETE", "/v1/responses/{id}", http::Access::bearer,
               store_guarded(ErrorDialect::openai, std::move(remove)));
}

}  // namespace cas::api
