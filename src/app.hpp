// The service assembled: execution slot, job store and registry, route table and server,
// wired from a Config onto one io_context. main() adds the process concerns (signals,
// exit codes); tests build an App to inspect its routes.
#pragma once

#include "config.hpp"
#include "http/router.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>

namespace boost::asio {
class io_context;
}

namespace cas {

// The configuration cannot be used (database, data directory, listen address): exit 2.
class StartupError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class App {
public:
    App(boost::asio::io_context& io, const Config& config);
    ~App();
    App(const App&) = delete;
    App& operator=(const App&) = delete;

    [[nodiscard]] const http::Router& router() const;
    // Binds, starts serving and resumes the jobs a previous process left. Returns the port.
    std::uint16_t start();
    // Stops accepting and dispatching; runs in flight get `grace` to finish, then are
    // cancelled (jobs end `interrupted`). `drained` is called once no run is left.
    void begin_shutdown(std::chrono::milliseconds grace, std::function<void()> drained);
    // Cancels the runs in flight now (a second signal).
    void cancel_runs();

private:
    struct Parts;
    std::unique_ptr<Parts> parts_;
};

}  // namespace cas
