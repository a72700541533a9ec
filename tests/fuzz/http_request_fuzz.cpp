// The request path without the socket. Each input is used three ways:
//  1. as an Authorization header value for check_bearer (and split in two for
//     constant_time_equals), against plain comparison;
//  2. as a request target for boost::urls::parse_origin_form, whose decoded segments go to
//     Router::match on the real route table, checked for consistency (found / 405 / 404);
//  3. as raw HTTP bytes, parsed by Beast's request_parser with the server's limits, admitted
//     by the production http::admit (framing, target, Host, route, auth, declared length),
//     and then, as the server does, its body read and its handler run by a real cas::App
//     that never listens. Handlers that would start an agent run (POST /execute, POST
//     /v1/chat/completions) only get their bodies validated. Every response must have a
//     valid status, headers without CR/LF/NUL, and JSON bodies (and SSE `data:` lines) that
//     are valid UTF-8 JSON in the route's error dialect.
// The App's job store is seeded with finished jobs whose ids are in the corpus.
#include "agent/cli_command.hpp"
#include "api/chat_continuation.hpp"
#include "api/chat_request.hpp"
#include "api/jobs.hpp"
#include "api/json_body.hpp"
#include "app.hpp"
#include "config.hpp"
#include "fuzz_check.hpp"
#include "http/admit.hpp"
#include "http/auth.hpp"
#include "http/message.hpp"
#include "http/response.hpp"
#include "http/router.hpp"
#include "jobs/job.hpp"
#include "jobs/sqlite_job_store.hpp"
#include "telemetry/log.hpp"
#include "util/utf8.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace json = boost::json;
using cas::http::ErrorDialect;
using cas::http::Request;
using cas::http::Response;
using cas::http::RouteMatch;
using cas_fuzz::escaped;

constexpr std::string_view kToken = "fuzz-token";

struct World {
    std::filesystem::path dir;
    asio::io_context io;
    cas::Config config;
    std::unique_ptr<cas::App> app;
};
World* world = nullptr;

void remove_world_dir() {
    if (world == nullptr) return;
    std::error_code ignored;
    std::filesystem::remove_all(world->dir, ignored);
}

asio::awaitable<void> save_all(cas::jobs::JobStore& store, std::vector<cas::jobs::Job> jobs) {
    for (const auto& job : jobs) co_await store.save(job);
}

// Finished jobs, so no handler waits on a run: GET shows them, cancel answers 409.
void seed_jobs(const std::string& db_path) {
    cas::jobs::SqliteJobStore store(db_path);
    cas::jobs::Job done;
    done.id = "0123456789ab";
    done.status = cas::jobs::JobStatus::completed;
    done.prompt = "Summarise open PRs \xE2\x80\x94 caf\xC3\xA9";
    done.agent = "infra-helper";
    done.metadata = json::object{{"source", "cron"}, {"n", 3}};
    done.created_at = "2026-01-02T03:04:05.678901+00:00";
    done.started_at = done.created_at;
    done.finished_at = "2026-01-02T03:04:07.000000+00:00";
    done.output_cap = 8U * 1024U * 1024U;
    done.exit_code = 0;
    done.output = cas::jobs::split_lines(
        "{\"type\":\"system\",\"subtype\":\"init\",\"session_id\":\"s1\"}\n"
        "{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_delta\",\"index\":0,"
        "\"delta\":{\"type\":\"text_delta\",\"text\":\"Two PRs\"}},\"parent_tool_use_id\":null}\n"
        "{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"result\":\"Two PRs are "
        "open.\"}\n");
    done.result = "Two PRs are open.";
    done.is_error = false;
    done.subtype = "success";
    done.total_cost_usd = 0.0152868;
    done.usage = json::object{{"input_tokens", 17}, {"output_tokens", 17}};
    done.session_id = "a8035521-5d07-4179-b452-3fb7eb70b3ea";
    done.duration_ms = 254;
    done.git_sync = "ok";
    done.idempotency_key = "nightly-2026-01-02";

    cas::jobs::Job failed = done;
    failed.id = "fedcba987654";
    failed.status = cas::jobs::JobStatus::failed;
    failed.agent = "recruiter-triage";
    failed.metadata = nullptr;
    failed.exit_code = 1;
    failed.output = {};
    failed.stderr_text = "--agent 'x' not found. Available agents: claude, Explore\n";
    failed.error = "--agent 'x' not found. Available agents: claude, Explore";
    failed.result.reset();
    failed.is_error.reset();
    failed.subtype.reset();
    failed.usage = nullptr;
    failed.idempotency_key.reset();

    cas::jobs::Job cancelled = failed;
    cancelled.id = "00000000000c";
    cancelled.status = cas::jobs::JobStatus::cancelled;
    cancelled.error = "cancelled before it ran";
    cancelled.started_at.reset();
    cancelled.exit_code.reset();
    cancelled.stderr_text.clear();
    asio::io_context io;
    auto saved = asio::co_spawn(io, save_all(store, {done, failed, cancelled}), asio::use_future);
    io.run();
    saved.get();
}

// The client as a handler sees it: already gone (so nothing waits on it), and a body
// writer that keeps what is written.
class FakeClient final : public cas::http::ClientConnection, public cas::http::BodyWriter {
public:
    asio::awaitable<void> wait_gone() override { co_return; }
    asio::awaitable<bool> write(std::string_view data) override {
        written += data;
        co_return true;
    }
    bool add_header(std::string_view /*name*/, std::string_view /*value*/) override {
        return written.empty();
    }
    std::string written;
};

// Runs a coroutine on the World's io_context to completion; a handler's exception (which
// the server would turn into a 500) is a finding.
Response run_handler(asio::awaitable<Response> handler, const Request& request) {
    std::optional<Response> out;
    std::exception_ptr error;
    asio::co_spawn(world->io, std::move(handler), [&](const std::exception_ptr& e, Response r) {
        error = e;
        if (!e) out = std::move(r);
    });
    world->io.restart();
    world->io.run();
    if (error) {
        try {
            std::rethrow_exception(error);
        } catch (const std::exception& e) {
            FUZZ_CHECK(false, std::string("handler threw (the server answers 500): ") + e.what() +
                                  " for " + request.method + " " + escaped(request.target));
        }
    }
    FUZZ_CHECK(out.has_value(),
               "handler did not complete: " + request.method + " " + escaped(request.target));
    return std::move(*out);
}

void run_stream(Response& response, FakeClient& client) {
    bool done = false;
    std::exception_ptr error;
    asio::co_spawn(world->io, response.stream(client), [&](const std::exception_ptr& e) {
        error = e;
        done = true;
    });
    world->io.restart();
    world->io.run();
    if (error) {
        try {
            std::rethrow_exception(error);
        } catch (const std::exception& e) {
            FUZZ_CHECK(false, std::string("stream threw: ") + e.what());
        }
    }
    FUZZ_CHECK(done, "stream did not complete");
}

json::value parse_json(std::string_view text, std::string_view what) {
    FUZZ_CHECK(cas::is_valid_utf8(text), std::string(what) + " is not UTF-8: " + escaped(text));
    boost::system::error_code ec;
    json::parse_options options;
    options.max_depth = 10000;
    auto v = json::parse(text, ec, {}, options);
    FUZZ_CHECK(!ec, std::string(what) + " is not JSON (" + ec.message() + "): " + escaped(text));
    return v;
}

bool header_text_ok(std::string_view text) {
    return text.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

// `known`: the key of a reported bug this response may show (see FUZZ_CHECK_KNOWN).
void check_response(Response& response, ErrorDialect dialect, FakeClient* client,
                    const char* known = nullptr) {
    auto status = response.status;
    FUZZ_CHECK(bhttp::int_to_status(status) != bhttp::status::unknown,
               "invalid status " + std::to_string(status));
    FUZZ_CHECK(!response.content_type.empty() && header_text_ok(response.content_type),
               "content type");
    bool has_www_authenticate = false;
    bool has_allow = false;
    for (const auto& [name, value] : response.headers) {
        FUZZ_CHECK(!name.empty() && header_text_ok(name) && header_text_ok(value),
                   "header injection: " + escaped(name) + ": " + escaped(value));
        has_www_authenticate = has_www_authenticate || name == "WWW-Authenticate";
        has_allow = has_allow || name == "Allow";
    }
    if (status == 401) FUZZ_CHECK(has_www_authenticate, "401 without WWW-Authenticate");
    if (status == 405) FUZZ_CHECK(has_allow, "405 without Allow");

    if (response.stream) {
        FUZZ_CHECK(response.content_type == "text/event-stream", "stream content type");
        FUZZ_CHECK(client != nullptr, "stream outside a handler");
        run_stream(response, *client);
        std::string_view sse = client->written;
        FUZZ_CHECK(cas::is_valid_utf8(sse), "event stream is not UTF-8: " + escaped(sse));
        while (!sse.empty()) {
            auto end = sse.find("\n\n");
            FUZZ_CHECK(end != std::string_view::npos, "unterminated event: " + escaped(sse));
            auto event = sse.substr(0, end);
            sse.remove_prefix(end + 2);
            while (!event.empty()) {
                auto newline = event.find('\n');
                auto line = event.substr(0, newline);
                event = newline == std::string_view::npos ? std::string_view{}
                                                          : event.substr(newline + 1);
                if (line.starts_with("data: "))
                    parse_json(line.substr(6), "SSE data");
                else
                    FUZZ_CHECK(line.starts_with("event: ") || line.starts_with(":"),
                               "SSE line: " + escaped(line));
            }
        }
        return;
    }
    if (known != nullptr && !cas::is_valid_utf8(response.body)) {
        FUZZ_CHECK_KNOWN(known, false, "body is not UTF-8: " + escaped(response.body));
        return;
    }
    FUZZ_CHECK(cas::is_valid_utf8(response.body), "body is not UTF-8: " + escaped(response.body));
    if (response.content_type != "application/json") return;
    auto body = parse_json(response.body, "JSON body");
    if (status >= 400) {
        FUZZ_CHECK(body.is_object(), "error body is not an object");
        const auto& obj = body.as_object();
        if (dialect == ErrorDialect::openai) {
            const auto* error = obj.if_contains("error");
            FUZZ_CHECK(
                error != nullptr && error->is_object() && error->as_object().contains("message"),
                "OpenAI error without error.message: " + escaped(response.body));
        } else {
            FUZZ_CHECK(obj.contains("detail"), "error without detail: " + escaped(response.body));
        }
    }
}

// 1. check_bearer and constant_time_equals on raw bytes.
void fuzz_auth(std::string_view input) {
    using cas::http::AuthOutcome;
    auto outcome = cas::http::check_bearer(input, kToken);
    bool bearer = input.starts_with("Bearer ");
    FUZZ_CHECK((outcome == AuthOutcome::ok) == (bearer && input.substr(7) == kToken),
               "check_bearer accepts");
    if (!bearer) FUZZ_CHECK(outcome == AuthOutcome::missing, "check_bearer without the scheme");
    if (outcome != AuthOutcome::ok)
        FUZZ_CHECK(!cas::http::auth_failure_message(outcome).empty(), "message");
    FUZZ_CHECK(cas::http::check_bearer(input, "") == AuthOutcome::unconfigured, "empty token");
    auto half = input.size() / 2;
    auto a = input.substr(0, half);
    auto b = input.substr(half);
    FUZZ_CHECK(cas::http::constant_time_equals(a, b) == (a == b), "constant_time_equals(a, b)");
    FUZZ_CHECK(cas::http::constant_time_equals(input, input), "constant_time_equals(x, x)");
}

// 2. Router::match on the segments of the input as a target.
void fuzz_route(std::string_view input) {
    auto url = boost::urls::parse_origin_form(input);
    if (!url) return;
    std::vector<std::string> segments;
    for (auto segment : url->segments()) segments.emplace_back(segment);
    const auto& router = world->app->router();
    for (std::string_view method : {"GET", "HEAD", "POST", "DELETE", "PUT", "get"}) {
        auto m = router.match(method, segments);
        switch (m.kind) {
            case RouteMatch::Kind::found: {
                // HEAD is answered by the GET route.
                std::string_view served = method == "HEAD" ? "GET" : method;
                FUZZ_CHECK(m.route != nullptr && m.route->method == served,
                           "found the wrong method");
                if (method == "GET")
                    FUZZ_CHECK(router.match("HEAD", segments).route == m.route,
                               "HEAD not answered by the GET route");
                std::size_t params = 0;
                for (char c : m.route->pattern) params += c == '{' ? 1U : 0U;
                FUZZ_CHECK(m.params.size() == params, "path parameters");
                for (const auto& [name, value] : m.params)
                    FUZZ_CHECK(!name.empty() && !value.empty(), "empty param");
                break;
            }
            case RouteMatch::Kind::method_not_allowed: {
                FUZZ_CHECK(!m.allow.empty() && m.route == nullptr, "405 without Allow");
                std::string_view allow = m.allow;
                while (!allow.empty()) {
                    auto comma = allow.find(", ");
                    auto other = allow.substr(0, comma);
                    FUZZ_CHECK(other != method, "Allow lists the refused method");
                    FUZZ_CHECK(router.match(other, segments).kind == RouteMatch::Kind::found,
                               "Allow lists a method that does not match");
                    allow = comma == std::string_view::npos ? std::string_view{}
                                                            : allow.substr(comma + 2);
                }
                break;
            }
            case RouteMatch::Kind::not_found:
                FUZZ_CHECK(router.match("GET", segments).kind == RouteMatch::Kind::not_found &&
                               router.match("POST", segments).kind == RouteMatch::Kind::not_found,
                           "404 for one method, not for another");
                break;
        }
    }
}

// The handlers that would start an agent run: only their validation.
void validate_run_body(const Request& request, ErrorDialect dialect, bool chat) {
    const auto& config = world->config;
    auto body = cas::api::parse_json_object(request, dialect);
    if (auto* error = std::get_if<Response>(&body)) {
        check_response(*error, dialect, nullptr);
        return;
    }
    const auto& object = std::get<json::object>(body);
    if (!chat) {
        auto parsed = cas::api::parse_execute_request(
            object,
            {.max_budget_usd = config.max_budget_usd, .max_timeout = config.max_job_timeout});
        if (auto* errors = std::get_if<std::vector<cas::api::FieldError>>(&parsed)) {
            auto response = cas::api::validation_failed(*errors);
            check_response(response, dialect, nullptr);
            return;
        }
        // What reaches --resume is the CLI's own form of id, or a job id resolved to one.
        const auto& resumed = std::get<cas::jobs::NewJob>(parsed).resumed_from;
        FUZZ_CHECK(
            !resumed || cas::jobs::is_job_id(*resumed) || cas::agent::is_session_id(*resumed),
            "resume accepted in another form");
        return;
    }
    auto parsed = cas::api::parse_chat_request(
        object, {config.openai_models, config.openai_default_model}, {});
    if (auto* error = std::get_if<cas::api::ChatRequestError>(&parsed)) {
        if (error->kind == cas::api::ChatRequestError::Kind::unsupported_model) {
            // Named in the message: the model must have been a string.
            const auto* model = object.if_contains("model");
            FUZZ_CHECK(model != nullptr && model->is_string(),
                       "unsupported model that is not a string");
        }
        auto response =
            cas::http::error_response(ErrorDialect::openai, 400, error->message, error->param);
        check_response(response, dialect, nullptr);
        return;
    }
    const auto& messages = std::get<cas::api::ChatRequest>(parsed).messages;
    auto prompt = cas::api::chat_prompt(messages);
    FUZZ_CHECK(cas::is_valid_utf8(prompt), "prompt is not UTF-8");
    // The continuation of a conversation: its key, and what a resumed CLI would be given.
    std::span<const cas::api::ChatMessage> all(messages);
    auto start = cas::api::new_messages_start(all);
    FUZZ_CHECK(start <= all.size(), "new messages begin past the end");
    FUZZ_CHECK(cas::api::conversation_key(all.first(start)).size() == 64, "key is not a SHA-256");
    FUZZ_CHECK(cas::is_valid_utf8(cas::api::continuation_prompt(all.subspan(start))),
               "continuation prompt is not UTF-8");
}

// 3. The input as an HTTP request: Server::Impl::session's steps, with http::admit itself.
void fuzz_request(std::string_view input) {
    const auto& config = world->config;
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(config.max_header_bytes));
    parser.body_limit(boost::none);
    beast::error_code ec;
    std::size_t used = 0;
    while (!parser.is_header_done()) {
        used += parser.put(asio::buffer(input.data() + used, input.size() - used), ec);
        if (ec == bhttp::error::need_more) return;  // the server would wait for more bytes
        if (ec) {
            auto response =
                ec == bhttp::error::header_limit
                    ? cas::http::error_response(ErrorDialect::detail, 431,
                                                "Request headers too large")
                    : cas::http::error_response(ErrorDialect::detail, 400,
                                                "Malformed HTTP request: " + ec.message());
            check_response(response, ErrorDialect::detail, nullptr);
            return;
        }
    }

    auto admission =
        cas::http::admit(cas::http::request_head(parser), world->app->router(),
                         {.max_body_bytes = config.max_body_bytes}, config.api_bearer_token);
    auto& request = admission.request;
    FUZZ_CHECK(!request.request_id.empty() && header_text_ok(request.request_id),
               "request id: " + escaped(request.request_id));
    // Refused before the target is read, the request has no segments: the default dialect.
    auto dialect = cas::http::dialect_for(request.segments);
    if (auto* refusal = std::get_if<cas::http::Refusal>(&admission.outcome)) {
        check_response(refusal->response, dialect, nullptr);
        // Body bytes left on the wire, or bytes the parser took for none under a
        // Transfer-Encoding it does not frame, would be read as the next request.
        if (!parser.is_done() || request.header("Transfer-Encoding"))
            FUZZ_CHECK(refusal->close, "refused, body unread, kept open");
        return;
    }
    const auto& admitted = std::get<cas::http::Admitted>(admission.outcome);
    FUZZ_CHECK(admitted.read_body == !parser.is_done(),
               "admit and the parser disagree on whether a body follows");
    FUZZ_CHECK(!request.header("Transfer-Encoding") || parser.chunked(),
               "admitted a body framed by a Transfer-Encoding other than chunked");
    FUZZ_CHECK(request.route == admitted.route->pattern, "route pattern");
    if (admitted.read_body) {
        parser.body_limit(config.max_body_bytes);
        while (!parser.is_done()) {
            auto n = parser.put(asio::buffer(input.data() + used, input.size() - used), ec);
            used += n;
            if (ec == bhttp::error::need_more || (!ec && n == 0)) return;  // waits for the rest
            if (ec == bhttp::error::body_limit) {
                auto response = cas::http::body_too_large(dialect, config.max_body_bytes);
                check_response(response, dialect, nullptr);
            }
            if (ec) return;  // else a 400 with Beast's message
        }
    }
    request.body = std::move(parser.get().body());
    FakeClient client;
    request.client = &client;

    const auto& route = *admitted.route;
    if (route.method == "POST" &&
        (route.pattern == "/execute" || route.pattern == "/v1/chat/completions")) {
        validate_run_body(request, dialect, route.pattern != "/execute");
        return;
    }
    auto response = run_handler(route.handler(request), request);
    // GET /v1/models/{id} quotes the decoded id in its 404 as it is, even when it is not UTF-8.
    const char* known =
        route.pattern == "/v1/models/{id}" && !cas::is_valid_utf8(request.param("id").value_or(""))
            ? "model-id-utf8"
            : nullptr;
    check_response(response, dialect, &client, known);
}

}  // namespace

// NOLINTNEXTLINE(readability-identifier-naming): libFuzzer's name
extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
    cas::log::set_min_level(cas::log::Level::error);
    world = new World;
    std::string tmpl = (std::filesystem::temp_directory_path() / "cas-fuzz-XXXXXX").string();
    FUZZ_CHECK(mkdtemp(tmpl.data()) != nullptr, "mkdtemp");
    world->dir = tmpl;
    FUZZ_CHECK(std::atexit(remove_world_dir) == 0, "atexit");
    auto& config = world->config;
    config.data_dir = (world->dir / "data").string();
    config.workspace_dir = world->dir.string();
    config.claude_bin = "/bin/false";  // never run: no handler here starts an agent
    config.git_sync = cas::agent::GitSyncMode::off;
    config.api_bearer_token = std::string(kToken);
    std::filesystem::create_directories(config.data_dir);
    seed_jobs((std::filesystem::path(config.data_dir) / "jobs.db").string());
    world->app = std::make_unique<cas::App>(world->io, config);  // never start()ed: no socket
    return 0;
}

// NOLINTNEXTLINE(readability-identifier-naming): libFuzzer's name
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    fuzz_auth(input);
    fuzz_route(input);
    fuzz_request(input);
    return 0;
}
