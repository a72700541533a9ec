// Validation answers 400 with `param` naming the field, as OpenAI does; a run that fails
// answers 503 with the CLI's reason (never a bare "exit 1").
#include "api/openai.hpp"

#include "api/chat_prompt.hpp"
#include "api/json_body.hpp"
#include "random_id.hpp"
#include "utf8.hpp"

#include <boost/asio/this_coro.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>

namespace cas::api {
namespace json = boost::json;
using http::ErrorDialect;

namespace {

http::Response invalid(std::string_view message, std::string_view param) {
    return http::error_response(ErrorDialect::openai, 400, message, param);
}

http::Response unsupported_model(const std::string& model, const std::vector<std::string>& models) {
    std::string list;
    for (const auto& m : models) list += (list.empty() ? "" : ", ") + m;
    auto response =
        http::error_response(ErrorDialect::openai, 400,
                             fmt::format("unsupported model '{}'; supported: {}", model, list),
                             "model", "model_not_found");
    // Keep the reference app's machine-readable list next to the message.
    auto body = json::parse(response.body);
    json::array supported(models.begin(), models.end());
    body.as_object()["error"].as_object()["supported"] = std::move(supported);
    response.body = json::serialize(body);
    return response;
}

std::string_view finish_reason(const std::optional<std::string>& stop_reason) {
    if (stop_reason == "max_tokens") return "length";
    return "stop";
}

json::object usage_json(const agent::TokenUsage& t) {
    auto prompt = t.input_tokens + t.cache_creation_input_tokens + t.cache_read_input_tokens;
    return {{"prompt_tokens", prompt},
            {"completion_tokens", t.output_tokens},
            {"total_tokens", prompt + t.output_tokens},
            {"prompt_tokens_details", json::object{{"cached_tokens", t.cache_read_input_tokens}}}};
}

// The parsed request, or the 400 to answer.
struct ChatRequest {
    std::string model;
    std::vector<ChatMessage> messages;
};

std::variant<ChatRequest, http::Response> parse_chat_request(const json::object& body,
                                                             const OpenAiSettings& settings) {
    ChatRequest out;
    out.model = settings.default_model;
    if (const auto* model = body.if_contains("model"); model != nullptr && !model->is_null()) {
        if (!model->is_string()) return invalid("'model' must be a string", "model");
        out.model = model->as_string();
        if (std::find(settings.models.begin(), settings.models.end(), out.model) ==
            settings.models.end()) {
            return unsupported_model(out.model, settings.models);
        }
    }
    if (const auto* stream = body.if_contains("stream"); stream != nullptr && !stream->is_null()) {
        if (!stream->is_bool()) return invalid("'stream' must be a boolean", "stream");
        if (stream->as_bool()) return invalid("streaming not supported", "stream");
    }
    const auto* messages = body.if_contains("messages");
    if (messages == nullptr || !messages->is_array() || messages->as_array().empty()) {
        return invalid("'messages' must be a non-empty array", "messages");
    }
    std::size_t index = 0;
    for (const auto& item : messages->as_array()) {
        auto param = fmt::format("messages[{}]", index++);
        const auto* message = item.if_object();
        if (message == nullptr) return invalid(param + " must be an object", param);
        const auto* role = message->if_contains("role");
        if (role == nullptr || !role->is_string() ||
            (role->as_string() != "system" && role->as_string() != "user" &&
             role->as_string() != "assistant")) {
            return invalid(param + ".role must be one of system, user, assistant", param + ".role");
        }
        const auto* content = message->if_contains("content");
        if (content == nullptr || !content->is_string()) {
            return invalid(param + ".content must be a string", param + ".content");
        }
        std::string text(content->as_string());
        if (text.find('\0') != std::string::npos || !is_valid_utf8(text)) {
            return invalid(param + ".content must be valid UTF-8 text without NUL",
                           param + ".content");
        }
        out.messages.push_back({std::string(role->as_string()), std::move(text)});
    }
    return out;
}

}  // namespace

void add_openai_routes(http::Router& router, OpenAiContext context) {
    auto shared = std::make_shared<OpenAiContext>(std::move(context));
    auto complete =
        [shared](const http::Request& request) -> boost::asio::awaitable<http::Response> {
        auto& ctx = *shared;
        auto body = parse_json_object(request, ErrorDialect::openai);
        if (auto* error = std::get_if<http::Response>(&body)) co_return std::move(*error);
        auto parsed = parse_chat_request(std::get<json::object>(body), ctx.settings);
        if (auto* error = std::get_if<http::Response>(&parsed)) co_return std::move(*error);
        auto& chat = std::get<ChatRequest>(parsed);

        auto permit = ctx.slot.try_acquire();
        if (!permit) {
            auto busy = http::error_response(ErrorDialect::openai, 503, "agent is busy");
            busy.headers.emplace_back("Retry-After", "5");
            co_return busy;
        }
        agent::Cancellation cancel(co_await boost::asio::this_coro::executor);
        agent::AgentRequest run{
            .prompt = synthesise_prompt(chat.messages),
            .cli = {.agent = ctx.settings.agent,
                    .model = chat.model,
                    .max_budget_usd = ctx.settings.budget_usd},
            .timeout = ctx.settings.timeout,
            .on_stdout = {},
        };
        auto outcome = co_await agent::run_agent(ctx.agent_settings, std::move(run), cancel);
        if (outcome.status != agent::RunStatus::completed) {
            auto message = outcome.status == agent::RunStatus::timeout
                               ? "agent timed out"
                               : "execution failed: " + to_valid_utf8(outcome.reason);
            co_return http::error_response(ErrorDialect::openai, 503, message);
        }
        auto text = to_valid_utf8(agent::answer_text(outcome.cli, outcome.process.out.text));
        auto created = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
        co_return http::json_response(
            200,
            json::object{
                {"id", "chatcmpl-" + random_hex(24)},
                {"object", "chat.completion"},
                {"created", created},
                {"model", chat.model},
                {"choices", json::array{json::object{
                                {"index", 0},
                                {"message", json::object{{"role", "assistant"}, {"content", text}}},
                                {"finish_reason", finish_reason(outcome.cli.stop_reason)},
                            }}},
                {"usage", usage_json(outcome.cli.tokens)},
            });
    };
    router.add("POST", "/v1/chat/completions", http::Access::bearer, std::move(complete));
}

}  // namespace cas::api
