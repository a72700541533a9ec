#include "api/docs.hpp"

#include <string_view>

namespace cas::embedded {
std::string_view openapi_json();
std::string_view api_html();
}  // namespace cas::embedded

namespace cas::api {
namespace {

http::Handler serve(std::string_view content_type, std::string_view (*content)()) {
    return [content_type, content](const http::Request&) -> boost::asio::awaitable<http::Response> {
        http::Response response;
        response.content_type = content_type;
        response.body = content();
        co_return response;
    };
}

}  // namespace

void add_docs_routes(http::Router& router) {
    router.add("GET", "/openapi.json", http::Access::open,
               serve("application/json", embedded::openapi_json));
    router.add("GET", "/docs", http::Access::open,
               serve("text/html; charset=utf-8", embedded::api_html));
}

}  // namespace cas::api
