#include "api/messages.hpp"

#include "api/json_body.hpp"
#include "api/messages_request.hpp"
#include "api/messages_shape.hpp"
#include "util/random_id.hpp"

#include <boost/json.hpp>

namespace cas::api {
namespace asio = boost::asio;
namespace json = boost::json;
using http::ErrorDialect;

void add_messages_routes(http::Router& router, std::shared_ptr<const ModelApiContext> context) {
    auto ctx = std::move(context);
    auto create = [ctx](const http::Request& request) -> asio::awaitable<http::Response> {
        auto body = parse_json_object(request, ErrorDialect::anthropic);
        if (auto* error = std::get_if<http::Response>(&body)) co_return std::move(*error);
        auto parsed = parse_messages_request(std::get<json::object>(body), ctx->settings.models,
                                             ctx->settings.run_policy);
        if (auto* error = std::get_if<ChatRequestError>(&parsed)) {
            bool unknown_model = error->kind == ChatRequestError::Kind::unsupported_model;
            co_return http::error_response(ErrorDialect::anthropic, unknown_model ? 404 : 400,
                                           error->message);
        }
        auto message = std::get<MessagesRequest>(std::move(parsed));
        auto named = named_by_header(request, message.messages);
        if (auto* problem = std::get_if<std::string>(&named)) {
            co_return http::error_response(ErrorDialect::anthropic, 400, *problem);
        }
        Turn turn{.model = message.model,
                  .messages = std::move(message.messages),
                  .max_output_tokens = message.max_tokens,
                  .options = message.options,
                  .named = std::get<std::optional<Turn::Named>>(std::move(named))};
        auto started = co_await start_turn(*ctx, std::move(turn));
        if (!started) co_return busy_response(ErrorDialect::anthropic, 529);
        auto id = "msg_" + random_hex(24);
        if (!message.stream) {
            auto result = co_await answer_turn(*ctx, *started, request.client);
            if (!result.completed()) {
                co_return failed_response(ErrorDialect::anthropic, result.outcome);
            }
            co_return answer_response(result, message_object(id, message.model, result));
        }
        auto shape = std::make_unique<MessagesShape>(id, message.model);
        co_return stream_turn(ctx, std::move(*started), std::move(shape), request.client);
    };
    router.add("POST", "/v1/messages", http::Access::api_key, std::move(create));
}

}  // namespace cas::api
