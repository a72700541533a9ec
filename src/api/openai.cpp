#include "api/openai.hpp"

#include "api/chat_request.hpp"
#include "api/chat_stream.hpp"
#include "api/json_body.hpp"
#include "util/random_id.hpp"
#include "util/wall_clock.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>

namespace cas::api {
namespace asio = boost::asio;
namespace json = boost::json;
using http::ErrorDialect;

namespace {

json::object model_object(const std::string& id, std::int64_t created) {
    return {{"id", id}, {"object", "model"}, {"created", created}, {"owned_by", "anthropic"}};
}

http::Response completion_response(const ChatRequest& chat, const TurnResult& result) {
    if (!result.completed()) return failed_response(ErrorDialect::openai, result.outcome);
    return answer_response(
        result, json::object{
                    {"id", "chatcmpl-" + random_hex(24)},
                    {"object", "chat.completion"},
                    {"created", unix_seconds()},
                    {"model", chat.model},
                    {"choices",
                     json::array{json::object{
                         {"index", 0},
                         {"message", json::object{{"role", "assistant"}, {"content", result.text}}},
                         {"finish_reason", finish_reason_for(result.stop_reason)},
                     }}},
                    {"usage", usage_json(result.outcome.cli.tokens)},
                });
}

}  // namespace

http::Response unsupported_model(std::string_view message, std::string_view param,
                                 const std::vector<std::string>& models) {
    auto body = http::openai_error_body(400, message, param, "model_not_found");
    body["error"].as_object()["supported"] = json::array(models.begin(), models.end());
    return http::json_response(400, body);
}

void add_openai_routes(http::Router& router, std::shared_ptr<const ModelApiContext> context) {
    auto ctx = std::move(context);
    const std::int64_t started = unix_seconds();

    auto completions = [ctx](const http::Request& request) -> asio::awaitable<http::Response> {
        const auto& settings = ctx->settings;
        auto body = parse_json_object(request, ErrorDialect::openai);
        if (auto* error = std::get_if<http::Response>(&body)) co_return std::move(*error);
        auto parsed =
            parse_chat_request(std::get<json::object>(body),
                               {settings.models, settings.default_model}, settings.run_policy);
        if (auto* error = std::get_if<ChatRequestError>(&parsed)) {
            if (error->kind == ChatRequestError::Kind::unsupported_model)
                co_return unsupported_model(error->message, error->param, settings.models);
            co_return http::error_response(ErrorDialect::openai, 400, error->message, error->param);
        }
        auto chat = std::get<ChatRequest>(std::move(parsed));
        auto named = named_by_header(request, chat.messages);
        if (auto* problem = std::get_if<std::string>(&named)) {
            co_return http::error_response(ErrorDialect::openai, 400, *problem, "X-Session-Id");
        }
        Turn turn{.model = chat.model,
                  .messages = chat.messages,
                  .max_output_tokens = chat.max_tokens,
                  .options = chat.options,
                  .named = std::get<std::optional<Turn::Named>>(std::move(named))};
        auto started_turn = co_await start_turn(*ctx, std::move(turn));
        if (!started_turn) co_return busy_response(ErrorDialect::openai, 503);
        if (!chat.stream) {
            auto result = co_await answer_turn(*ctx, *started_turn, request.client);
            co_return completion_response(chat, result);
        }
        auto shape = std::make_unique<ChatChunkShape>("chatcmpl-" + random_hex(24), chat.model,
                                                      unix_seconds(), chat.include_usage);
        co_return stream_turn(ctx, std::move(*started_turn), std::move(shape), request.client);
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
