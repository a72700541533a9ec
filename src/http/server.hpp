// The HTTP/1.1 server: a listener coroutine and one session coroutine per connection.
// All Beast code lives behind this header. Sessions read headers first, route and
// authenticate, and only then read the body, under a size limit and a read timeout.
#pragma once

#include "http/router.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace boost::asio {
class io_context;
}

namespace cas::http {

struct ServerOptions {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8000;
    std::string bearer_token;
    std::size_t max_body_bytes = 4U * 1024U * 1024U;
    std::size_t max_header_bytes = 16U * 1024U;
    std::chrono::seconds read_timeout{30};
    unsigned max_connections = 512;
    // Called once per answered request (metrics).
    std::function<void(std::string_view route, std::string_view method, unsigned status,
                       std::chrono::duration<double> duration)>
        on_request;
};

class Server {
public:
    Server(boost::asio::io_context& io, const Router& router, ServerOptions options);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Binds and listens; throws boost::system::system_error on failure. Returns the port.
    std::uint16_t listen();
    // Starts accepting (on the io_context's thread).
    void start();
    // Stops accepting, closes idle connections, and lets busy ones finish their request.
    void stop();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace cas::http
