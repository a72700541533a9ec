#include "pg/pool.hpp"

#include "telemetry/log.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <fmt/format.h>

namespace cas::pg {
namespace asio = boost::asio;
using namespace boost::asio::experimental::awaitable_operators;

Pool::Lease::~Lease() {
    if (connection_) pool_->give_back(std::move(connection_));
}

Pool::Pool(const asio::any_io_executor& executor, PoolSettings settings)
    : executor_(executor), settings_(std::move(settings)), returned_(executor) {
    idle_.reserve(settings_.max_connections);  // give_back never allocates
}

void Pool::give_back(std::unique_ptr<Connection> connection) noexcept {
    if (connection->broken()) {
        --open_;  // dropped: its protocol state is unknown, or the server is gone
    } else {
        idle_.push_back(std::move(connection));  // never allocates: reserved for the bound
    }
    try {
        returned_.notify();
    } catch (const std::exception& e) {  // a timer's cancel failing: a waiter times out instead
        log::error("database pool: cannot wake a waiter", {{"error", e.what()}});
    }
}

asio::awaitable<std::unique_ptr<Connection>> Pool::connect() {
    auto connection = co_await Connection::connect(
        executor_, settings_.conninfo, settings_.connect_timeout, settings_.statement_timeout);
    co_return connection;
}

asio::awaitable<Pool::Lease> Pool::acquire() {
    Timer deadline(executor_, settings_.wait_timeout);
    for (;;) {
        if (!idle_.empty()) {
            auto connection = std::move(idle_.back());
            idle_.pop_back();
            co_return Lease(*this, std::move(connection));
        }
        if (open_ < settings_.max_connections) {
            ++open_;
            std::unique_ptr<Connection> connection;
            try {
                connection = co_await connect();
            } catch (...) {
                --open_;
                returned_.notify();
                throw;
            }
            co_return Lease(*this, std::move(connection));
        }
        auto woke = co_await (returned_.wait() || deadline.async_wait());
        if (woke.index() == 1) {
            throw Error(fmt::format("no database connection free within {} ms",
                                    settings_.wait_timeout.count()),
                        "");
        }
    }
}

}  // namespace cas::pg
