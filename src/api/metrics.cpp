#include "api/metrics.hpp"

#include "http/auth.hpp"
#include "http/response.hpp"

namespace cas::api {

void add_metrics_routes(http::Router& router, Metrics& metrics, std::string token) {
    auto scrape = [&metrics, token = std::move(token)](
                      const http::Request& request) -> boost::asio::awaitable<http::Response> {
        if (!token.empty()) {
            auto outcome = http::check_bearer(request.header("Authorization"), token);
            if (outcome != http::AuthOutcome::ok) {
                co_return http::unauthorized(http::ErrorDialect::detail,
                                             http::auth_failure_message(outcome));
            }
        }
        http::Response response;
        response.content_type = "text/plain; version=0.0.4; charset=utf-8";
        response.body = metrics.scrape();
        co_return response;
    };
    router.add("GET", "/metrics", http::Access::open, std::move(scrape));
}

}  // namespace cas::api
