#include "http/response_head.hpp"

#include <boost/beast/http.hpp>
#include <catch2/catch.hpp>

#include <sstream>

using namespace cas::http;
namespace bhttp = boost::beast::http;

namespace {

// The head Beast writes for the same response (what the server sent before it rendered its
// own), with Beast's rules for Connection and Content-Length.
std::string beast_head(const Response& response, const HeadOptions& options) {
    bhttp::response<bhttp::string_body> message{static_cast<bhttp::status>(response.status),
                                                options.version};
    message.set(bhttp::field::content_type, response.content_type);
    if (!options.request_id.empty()) message.set("X-Request-Id", options.request_id);
    for (const auto& [name, value] : response.headers) message.set(name, value);
    message.body() = response.body;
    message.keep_alive(options.keep_alive);
    message.prepare_payload();
    std::ostringstream out;
    out << message.base();
    return out.str();
}

}  // namespace

TEST_CASE("response head: the bytes Beast's serializer writes for the same response") {
    const std::string request_id = GENERATE(std::string(), std::string("5f0c2a9e1b7d4c3a"));
    const unsigned version = GENERATE(10U, 11U);
    const bool keep_alive = GENERATE(true, false);
    const HeadOptions options{
        .request_id = request_id, .keep_alive = keep_alive, .version = version};
    std::vector<Response> responses(6);
    responses[0].body = R"({"status":"ok","busy":false})";
    responses[1].status = 202;
    responses[1].body = R"({"job_id":"x"})";
    responses[1].headers = {{"Idempotent-Replayed", "true"}};
    responses[2].status = 401;
    responses[2].headers = {{"WWW-Authenticate", "Bearer"}};
    responses[3].status = 503;
    responses[3].headers = {{"Retry-After", "30"}, {"x-should-retry", "false"}};
    responses[4].status = 422;
    responses[4].content_type = "text/plain; version=0.0.4; charset=utf-8";
    responses[4].body = std::string(70000, 'x');
    responses[5].status = 405;
    responses[5].headers = {{"Allow", "GET, HEAD"}};
    std::string head = "left from the response before, longer than the next one's head";
    for (const auto& response : responses) {
        INFO(response.status);
        render_head(head, response, response.body.size(), options);
        CHECK(head == beast_head(response, options));
    }
}

TEST_CASE("response head: a header that could end its line is not written") {
    Response response;
    response.headers = {{"X-Session-Id", "abc\r\nSet-Cookie: stolen=1"},
                        {"X-Bad\nName", "v"},
                        {"X-Nul", std::string("a\0b", 3)},
                        {"X-Fine", "yes"}};
    std::string head;
    render_head(head, response, 0, {});
    CHECK(head ==
          "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Fine: yes\r\n"
          "Content-Length: 0\r\n\r\n");
}

TEST_CASE("response head: no Content-Length where a status has no body") {
    Response response;
    response.status = 204;
    std::string head;
    render_head(head, response, 0, {});
    CHECK(head == "HTTP/1.1 204 No Content\r\nContent-Type: application/json\r\n\r\n");
}
