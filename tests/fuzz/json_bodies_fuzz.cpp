// Request bodies as the handlers read them: parse_json_object (Boost.JSON, max_depth 64),
// then the /execute validator, the chat completion, Responses and Messages validators, then
// chat_prompt on what the model APIs accept. Checks what the validators promise to the code after
// them: accepted values are in range and valid UTF-8 without NUL, an accepted job's record can be
// stored and read back, rejections produce well-formed JSON error bodies, and the prompt is valid
// UTF-8 that ends with the request. And the service's JSON writer on every body: what it
// writes reads back as the same value, and is serialize's text when no double is in it.
#include "agent/cli_command.hpp"
#include "api/chat_request.hpp"
#include "api/jobs.hpp"
#include "api/json_body.hpp"
#include "api/messages_request.hpp"
#include "api/responses_request.hpp"
#include "fuzz_check.hpp"
#include "http/response.hpp"
#include "jobs/sqlite_job_store.hpp"
#include "json_util.hpp"
#include "run_to_end.hpp"
#include "util/json_text.hpp"
#include "util/utf8.hpp"
#include "webhooks/callback_url.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace json = boost::json;
using cas_fuzz::escaped;

const std::vector<std::string> kModels{"claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-7"};
const std::string kDefaultModel = "claude-sonnet-4-6";
// The service's defaults (Config): MAX_BUDGET_USD, MAX_JOB_TIMEOUT_SECONDS, every run option;
// and callbacks to a few hosts (a name, a wildcard, an address with a port).
const cas::api::JobLimits kLimits{
    .max_budget_usd = 100.0,
    .max_timeout = std::chrono::hours{24},
    .run_policy = {},
    .callback_hosts = std::get<std::vector<cas::webhooks::HostRule>>(
        cas::webhooks::parse_allowed_hosts("hooks.example.com,*.example.org,127.0.0.1:9000"))};

bool text_ok(std::string_view text) {
    return text.find('\0') == std::string_view::npos && cas::is_valid_utf8(text);
}

// A JSON response body: valid UTF-8 that parses, in the dialect's error shape when >= 400.
void check_json_response(const cas::http::Response& r, cas::http::ErrorDialect dialect) {
    FUZZ_CHECK(r.content_type == "application/json", r.content_type);
    FUZZ_CHECK(cas::is_valid_utf8(r.body), "response body is not UTF-8: " + escaped(r.body));
    boost::system::error_code ec;
    json::parse_options options;
    options.max_depth = 10000;
    auto v = json::parse(r.body, ec, {}, options);
    FUZZ_CHECK(!ec && v.is_object(), "response body is not a JSON object: " + escaped(r.body));
    if (r.status >= 400) {
        const auto& obj = v.as_object();
        if (dialect == cas::http::ErrorDialect::openai) {
            const auto* error = obj.if_contains("error");
            FUZZ_CHECK(
                error != nullptr && error->is_object() && error->as_object().contains("message"),
                "OpenAI error without error.message: " + escaped(r.body));
        } else if (dialect == cas::http::ErrorDialect::anthropic) {
            const auto* error = obj.if_contains("error");
            FUZZ_CHECK(obj.if_contains("type") != nullptr && obj.at("type") == "error" &&
                           error != nullptr && error->is_object() &&
                           error->as_object().contains("type") &&
                           error->as_object().contains("message"),
                       "Anthropic error without type and error.type/message: " + escaped(r.body));
        } else {
            FUZZ_CHECK(obj.contains("detail"), "error without detail: " + escaped(r.body));
        }
    }
}

cas::jobs::SqliteJobStore& store() {
    // In memory, one row (the same id each time), so millions of runs stay small.
    static auto* s = new cas::jobs::SqliteJobStore(":memory:");
    return *s;
}

void check_execute(const json::object& body) {
    auto parsed = cas::api::parse_execute_request(body, kLimits);
    if (const auto* errors = std::get_if<std::vector<cas::api::FieldError>>(&parsed)) {
        FUZZ_CHECK(!errors->empty(), "rejected with no errors");
        for (const auto& e : *errors) FUZZ_CHECK(!e.message.empty() && !e.type.empty(), e.field);
        auto response = cas::api::validation_failed(*errors);
        FUZZ_CHECK(response.status == 422, "validation_failed status");
        check_json_response(response, cas::http::ErrorDialect::detail);
        return;
    }
    const auto& job = std::get<cas::jobs::NewJob>(parsed);
    static constexpr std::string_view kKnown[] = {
        "prompt",   "agent",  "max_budget_usd", "timeout_seconds",
        "metadata", "resume", "fork",           "callback_url"};
    for (const auto& field : body) {
        auto known = [&](std::span<const std::string_view> names) {
            return std::find(names.begin(), names.end(), field.key()) != names.end();
        };
        FUZZ_CHECK(known(kKnown) || known(cas::api::kRunOptionNames),
                   "accepted an unknown field: " + escaped(field.key()));
    }
    if (job.callback_url) {
        // What the sender will do with it: parse it again and find it allowed, with a request
        // target that cannot end the request line.
        auto url = cas::webhooks::parse_callback_url(*job.callback_url);
        FUZZ_CHECK(std::holds_alternative<cas::webhooks::CallbackUrl>(url),
                   "an accepted callback_url does not parse: " + escaped(*job.callback_url));
        const auto& callback = std::get<cas::webhooks::CallbackUrl>(url);
        FUZZ_CHECK(cas::webhooks::match_host(kLimits.callback_hosts, callback) !=
                       cas::webhooks::HostMatch::refused,
                   "an accepted callback_url names a host outside the list");
        FUZZ_CHECK(!callback.host.empty() && callback.port > 0 &&
                       std::none_of(callback.target.begin(), callback.target.end(),
                                    [](char c) { return static_cast<unsigned char>(c) <= 0x20; }),
                   "an accepted callback_url's parts: " + escaped(*job.callback_url));
    }
    FUZZ_CHECK(!job.prompt.empty() && text_ok(job.prompt),
               "accepted prompt: " + escaped(job.prompt));
    FUZZ_CHECK(!cas::agent::agent_name_problem(job.agent), "accepted agent: " + escaped(job.agent));
    FUZZ_CHECK(job.max_budget_usd > 0 && job.max_budget_usd <= kLimits.max_budget_usd,
               "accepted budget");
    for (const auto* tools : {&job.run_options.allowed_tools, &job.run_options.disallowed_tools}) {
        for (const auto& tool : *tools) {
            auto name = std::string_view(tool).substr(0, tool.find('('));
            FUZZ_CHECK(!name.empty() && name.front() != '-' &&
                           name.find_first_of(", \n") == std::string_view::npos,
                       "an accepted tool pattern could be read as a flag or as two tools");
        }
    }
    FUZZ_CHECK(job.timeout_seconds >= 1 && job.timeout_seconds <= kLimits.max_timeout.count(),
               "accepted timeout");
    FUZZ_CHECK(job.metadata.is_null() || job.metadata.is_object(), "accepted metadata");

    // What JobRegistry::submit does next: the record goes to the store, and every later read
    // (GET /jobs/{id}, GET /jobs, cancel, recovery at start-up) must get it back.
    cas::jobs::Job record;
    record.id = "0123456789ab";
    record.status = cas::jobs::JobStatus::running;
    record.prompt = job.prompt;
    record.agent = job.agent;
    record.metadata = job.metadata;
    record.max_budget_usd = job.max_budget_usd;
    record.timeout_seconds = job.timeout_seconds;
    record.created_at = "2026-01-02T03:04:05.678901+00:00";
    record.started_at = record.created_at;
    cas_fuzz::run_to_end(store().save(record));
    std::optional<cas::jobs::Job> back;
    std::string problem;
    try {
        back = cas_fuzz::run_to_end(store().find(record.id));
        auto listed = cas_fuzz::run_to_end(store().list({}));
        FUZZ_CHECK(listed.jobs.size() == 1, "the stored record is not listed");
    } catch (const std::exception& e) {
        problem = e.what();
    }
    if (!problem.empty() && cas_fuzz::json_depth(job.metadata) >= 32) {
        // The body may nest 64 deep; the store reads records back with Boost.JSON's default
        // max_depth of 32, and the record nests metadata one level down.
        FUZZ_CHECK_KNOWN(
            "execute-metadata-depth", false,
            "an accepted /execute body gives a record the store cannot read back: " + problem);
        return;
    }
    if (!problem.empty() && cas_fuzz::json_has_infinity(job.metadata)) {
        FUZZ_CHECK_KNOWN("json-infinity", false,
                         "metadata with a number beyond double (stored as Infinity) makes the "
                         "record unreadable: " +
                             problem);
        return;
    }
    FUZZ_CHECK(problem.empty(),
               "an accepted /execute body gives a record the store cannot read back: " + problem);
    FUZZ_CHECK(back && back->prompt == job.prompt && back->metadata == job.metadata,
               "the stored record differs from the accepted job");
}

// Messages a model API accepted, and the prompt they make: roles the prompt knows, text
// without NUL, at least one user message, and a prompt that ends with the request.
void check_messages_prompt(const std::vector<cas::api::ChatMessage>& messages) {
    FUZZ_CHECK(!messages.empty(), "accepted no messages");
    const cas::api::ChatMessage* last_turn = nullptr;
    bool has_user = false;
    for (const auto& m : messages) {
        FUZZ_CHECK(
            m.role == "system" || m.role == "user" || m.role == "assistant" || m.role == "tool",
            "accepted role: " + escaped(m.role));
        FUZZ_CHECK(text_ok(m.content) && text_ok(m.name), "accepted text: " + escaped(m.content));
        has_user = has_user || m.role == "user";
        if (m.role != "system") last_turn = &m;
    }
    FUZZ_CHECK(has_user, "accepted without a user message");

    auto prompt = cas::api::chat_prompt(messages);
    FUZZ_CHECK(text_ok(prompt), "prompt is not UTF-8 text: " + escaped(prompt));
    FUZZ_CHECK(last_turn != nullptr, "no turn");
    std::string tail = last_turn->role == "user"
                           ? "Request:\n" + last_turn->content
                           : "Request:\nContinue from the conversation above.";
    FUZZ_CHECK(prompt.ends_with(tail), "prompt does not end with the request: " + escaped(prompt));
}

void check_chat(const json::object& body) {
    auto parsed = cas::api::parse_chat_request(body, {kModels, kDefaultModel}, {});
    if (const auto* error = std::get_if<cas::api::ChatRequestError>(&parsed)) {
        FUZZ_CHECK(!error->message.empty(), "chat error without a message");
        if (error->kind == cas::api::ChatRequestError::Kind::unsupported_model) {
            // Named in the message: the model must have been a string.
            const auto* model = body.if_contains("model");
            FUZZ_CHECK(model != nullptr && model->is_string(),
                       "unsupported model that is not a string");
        }
        check_json_response(cas::http::error_response(cas::http::ErrorDialect::openai, 400,
                                                      error->message, error->param),
                            cas::http::ErrorDialect::openai);
        return;
    }
    const auto& chat = std::get<cas::api::ChatRequest>(parsed);
    FUZZ_CHECK(std::find(kModels.begin(), kModels.end(), chat.model) != kModels.end(),
               "accepted model");
    FUZZ_CHECK(!chat.max_tokens || (*chat.max_tokens >= 1 && *chat.max_tokens <= 2147483647),
               "accepted max_tokens");
    check_messages_prompt(chat.messages);
}

// What every model API's validator promises of an error: a message, a model named only when it
// was a string, and an error body in its dialect.
void check_model_api_error(const cas::api::ChatRequestError& error, const json::object& body,
                           cas::http::ErrorDialect dialect) {
    FUZZ_CHECK(!error.message.empty() && !error.param.empty(), "an error without message or param");
    FUZZ_CHECK(cas::is_valid_utf8(error.param), "an error's param is not UTF-8");
    if (error.kind == cas::api::ChatRequestError::Kind::unsupported_model) {
        const auto* model = body.if_contains("model");
        FUZZ_CHECK(model != nullptr && model->is_string(),
                   "unsupported model that is not a string");
        FUZZ_CHECK(std::find(kModels.begin(), kModels.end(), model->as_string()) == kModels.end(),
                   "a supported model refused as unsupported");
    }
    check_json_response(cas::http::error_response(dialect, 400, error.message, error.param),
                        dialect);
}

void check_responses(const json::object& body) {
    auto parsed = cas::api::parse_responses_request(body, {kModels, kDefaultModel}, {});
    if (const auto* error = std::get_if<cas::api::ChatRequestError>(&parsed)) {
        check_model_api_error(*error, body, cas::http::ErrorDialect::openai);
        return;
    }
    const auto& request = std::get<cas::api::ResponsesRequest>(parsed);
    FUZZ_CHECK(std::find(kModels.begin(), kModels.end(), request.model) != kModels.end(),
               "accepted model");
    FUZZ_CHECK(text_ok(request.instructions), "accepted instructions");
    FUZZ_CHECK(
        request.instructions.empty() || (request.messages.front().role == "system" &&
                                         request.messages.front().content == request.instructions),
        "the instructions are not the first message");
    FUZZ_CHECK(!request.max_output_tokens ||
                   (*request.max_output_tokens >= 1 && *request.max_output_tokens <= 2147483647),
               "accepted max_output_tokens");
    FUZZ_CHECK(!request.previous_response_id || (!request.previous_response_id->empty() &&
                                                 text_ok(*request.previous_response_id)),
               "accepted previous_response_id");
    FUZZ_CHECK(request.metadata.size() <= 16, "accepted metadata with more than 16 keys");
    for (const auto& [key, value] : request.metadata) {
        FUZZ_CHECK(key.size() <= 64 && text_ok(key) && value.is_string() &&
                       value.as_string().size() <= 512 && text_ok(value.as_string()),
                   "accepted metadata: " + escaped(key));
    }
    for (std::string_view field : {"tools", "background", "conversation", "prompt"}) {
        const auto* value = body.if_contains(field);
        FUZZ_CHECK(value == nullptr || value->is_null() || *value == json::array{} ||
                       *value == json::value(false),
                   "accepted a field it cannot honour: " + std::string(field));
    }
    for (const auto& m : request.messages) {
        FUZZ_CHECK(m.role != "tool" && m.role != "developer", "accepted role: " + escaped(m.role));
    }
    // An item_reference stands for an assistant message whose text the store fills in.
    for (const auto& reference : request.item_references) {
        FUZZ_CHECK(reference.message < request.messages.size() &&
                       request.messages[reference.message].role == "assistant" &&
                       request.messages[reference.message].content.empty(),
                   "an item reference that is not a placeholder message");
        FUZZ_CHECK(reference.response_id.starts_with("resp_") &&
                       reference.response_id.size() == 5 + 24 && text_ok(reference.response_id),
                   "an item reference's response: " + escaped(reference.response_id));
    }
    check_messages_prompt(request.messages);
}

void check_anthropic_messages(const json::object& body) {
    auto parsed = cas::api::parse_messages_request(body, kModels, {});
    if (const auto* error = std::get_if<cas::api::ChatRequestError>(&parsed)) {
        if (error->kind == cas::api::ChatRequestError::Kind::invalid) {
            FUZZ_CHECK(error->message.starts_with(error->param + ": "),
                       "an error that does not start with its path: " + escaped(error->message));
        }
        check_model_api_error(*error, body, cas::http::ErrorDialect::anthropic);
        return;
    }
    const auto& request = std::get<cas::api::MessagesRequest>(parsed);
    FUZZ_CHECK(std::find(kModels.begin(), kModels.end(), request.model) != kModels.end(),
               "accepted model");
    FUZZ_CHECK(request.max_tokens >= 1 && request.max_tokens <= 2147483647, "accepted max_tokens");
    FUZZ_CHECK(request.messages.back().role == "user", "accepted a last message not the user's");
    for (std::size_t i = 0; i < request.messages.size(); ++i) {
        const auto& role = request.messages[i].role;
        FUZZ_CHECK(role == "user" || role == "assistant" || (i == 0 && role == "system"),
                   "accepted role: " + escaped(role));
    }
    check_messages_prompt(request.messages);
}

bool holds_double(const json::value& v) {
    if (v.is_double()) return true;
    if (const auto* obj = v.if_object()) {
        return std::any_of(obj->begin(), obj->end(),
                           [](const auto& item) { return holds_double(item.value()); });
    }
    if (const auto* arr = v.if_array()) return std::any_of(arr->begin(), arr->end(), holds_double);
    return false;
}

// `back` is `original` written by json_text and read by Boost.JSON: the same value. A double
// is checked against a correctly rounding reader (from_chars), to the bit: Boost.JSON 1.81's
// own reader may land 1 or 2 units in the last place off whoever wrote the text.
void check_same(const json::value& original, const json::value& back) {
    if (const auto* d = original.if_double()) {
        if (!std::isfinite(*d)) {
            FUZZ_CHECK(back.is_null(), "a non-finite double is not written as null");
            return;
        }
        auto text = cas::json_text(original);
        double read = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), read);
        FUZZ_CHECK(ec == std::errc{} && end == text.data() + text.size() &&
                       std::memcmp(&read, d, sizeof read) == 0 && back.is_double(),
                   "a double does not read back: " + text);
        return;
    }
    FUZZ_CHECK(original.kind() == back.kind(), "json_text changed a kind");
    if (const auto* obj = original.if_object()) {
        const auto& back_obj = back.get_object();
        FUZZ_CHECK(obj->size() == back_obj.size(), "json_text changed an object's size");
        for (auto a = obj->begin(), b = back_obj.begin(); a != obj->end(); ++a, ++b) {
            FUZZ_CHECK(a->key() == b->key(), "json_text changed a key: " + escaped(a->key()));
            check_same(a->value(), b->value());
        }
    } else if (const auto* arr = original.if_array()) {
        const auto& back_arr = back.get_array();
        FUZZ_CHECK(arr->size() == back_arr.size(), "json_text changed an array's size");
        for (std::size_t i = 0; i < arr->size(); ++i) check_same((*arr)[i], back_arr[i]);
    } else {
        FUZZ_CHECK(original == back, "json_text changed a scalar: " + cas::json_text(original));
    }
}

void check_json_text(const json::object& body) {
    auto text = cas::json_text(body);
    boost::system::error_code ec;
    json::parse_options options;
    options.max_depth = 10000;
    auto back = json::parse(text, ec, {}, options);
    FUZZ_CHECK(!ec, "json_text wrote text that does not parse: " + escaped(text));
    check_same(body, back);
    if (!holds_double(body)) {
        FUZZ_CHECK(text == json::serialize(body),
                   "json_text differs from serialize without a double: " + escaped(text));
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    cas::http::Request request;
    request.body.assign(reinterpret_cast<const char*>(data), size);
    auto body = cas::api::parse_json_object(request, cas::http::ErrorDialect::detail);
    if (const auto* error = std::get_if<cas::http::Response>(&body)) {
        FUZZ_CHECK(error->status == 400, "parse_json_object status");
        check_json_response(*error, cas::http::ErrorDialect::detail);
        return 0;
    }
    const auto& object = std::get<json::object>(body);
    check_json_text(object);
    check_execute(object);
    check_chat(object);
    check_responses(object);
    check_anthropic_messages(object);
    return 0;
}
