// The health body is two fields; build it without a JSON tree, it is the hottest route.
#include "api/health.hpp"

namespace cas::api {

void add_health_routes(http::Router& router, std::function<bool()> is_busy) {
    auto handler = [is_busy = std::move(is_busy)](
                       const http::Request&) -> boost::asio::awaitable<http::Response> {
        http::Response response;
        response.body =
            is_busy() ? R"({"status":"ok","busy":true})" : R"({"status":"ok","busy":false})";
        co_return response;
    };
    router.add("GET", "/health", http::Access::open, std::move(handler));
}

}  // namespace cas::api
