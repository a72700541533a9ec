#include "api/store_guard.hpp"

#include "jobs/job_store.hpp"
#include "telemetry/log.hpp"

namespace cas::api {

http::Handler store_guarded(http::ErrorDialect dialect, http::Handler handler) {
    return [dialect, handler = std::move(handler)](
               const http::Request& request) -> boost::asio::awaitable<http::Response> {
        std::string failure;
        try {
            co_return co_await handler(request);
        } catch (const jobs::StoreError& e) {
            failure = e.what();
        }
        log::error("job store failed", {{"error", failure}});
        auto unavailable = http::error_response(dialect, 503, "Job store unavailable: " + failure);
        unavailable.headers.emplace_back("Retry-After", "30");
        co_return unavailable;
    };
}

}  // namespace cas::api
