// Entry point: configuration, the route table, the server, and signal handling on one
// io_context running on this thread.
#include "api/health.hpp"
#include "config.hpp"
#include "http/router.hpp"
#include "http/server.hpp"
#include "log.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/system/system_error.hpp>

#include <csignal>
#include <cstdio>
#include <span>

int main(int argc, char** argv) {
    using namespace cas;
    auto parsed = parse_config(std::span<const char* const>(argv + 1, static_cast<std::size_t>(argc - 1)),
                               process_env);
    if (auto* exit = std::get_if<ExitRequest>(&parsed)) {
        std::fputs(exit->message.c_str(), exit->exit_code == 0 ? stdout : stderr);
        return exit->exit_code;
    }
    const auto& config = std::get<Config>(parsed);

    boost::asio::io_context io{1};
    http::Router router;
    api::add_health_routes(router, [] { return false; });

    http::Server server(io, router,
                        {.host = config.host,
                         .port = config.port,
                         .bearer_token = config.api_bearer_token,
                         .max_body_bytes = config.max_body_bytes,
                         .max_header_bytes = config.max_header_bytes,
                         .read_timeout_seconds = config.read_timeout_seconds,
                         .max_connections = config.max_connections});
    std::uint16_t port = 0;
    try {
        port = server.listen();
    } catch (const boost::system::system_error& e) {
        std::fprintf(stderr, "claude-agent-service: cannot listen on %s:%u: %s\n",
                     config.host.c_str(), static_cast<unsigned>(config.port), e.what());
        return 2;
    }
    if (config.api_bearer_token.empty()) {
        log::warn("API_BEARER_TOKEN is empty: every protected route answers 401");
    }
    server.start();

    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int signal) {
        if (ec) return;
        log::info("stopping", {{"signal", signal}});
        server.stop();
    });
    log::info("listening", {{"host", config.host}, {"port", port}});
    io.run();
    log::info("stopped");
    return 0;
}
