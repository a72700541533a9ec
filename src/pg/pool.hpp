// A bounded pool of PostgreSQL connections. A coroutine borrows one (Lease) for a query or
// a transaction and gives it back as the lease ends; a broken one is dropped instead, and
// the next borrower connects afresh. When the server is down, a borrower fails at once
// with pg::Error (the caller answers 503), never waits forever: connecting is bounded by
// `connect_timeout`, and a borrower waiting for a free connection by `wait_timeout`.
#pragma once

#include "pg/connection.hpp"
#include "util/async.hpp"

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace cas::pg {

struct PoolSettings {
    std::string conninfo;  // a libpq connection string or URI
    std::size_t max_connections = 4;
    std::chrono::milliseconds connect_timeout{5000};
    std::chrono::milliseconds wait_timeout{10000};
    std::chrono::milliseconds statement_timeout{30000};
};

class Pool {
public:
    class Lease {
    public:
        Lease(Pool& pool, std::unique_ptr<Connection> connection)
            : pool_(&pool), connection_(std::move(connection)) {}
        ~Lease();
        Lease(Lease&& other) noexcept = default;
        Lease& operator=(Lease&&) = delete;
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;
        Connection* operator->() const { return connection_.get(); }
        Connection& operator*() const { return *connection_; }

    private:
        Pool* pool_;
        std::unique_ptr<Connection> connection_;
    };

    Pool(const boost::asio::any_io_executor& executor, PoolSettings settings);

    boost::asio::awaitable<Lease> acquire();
    // A connection of its own, outside the bound (for LISTEN, which holds one for good).
    boost::asio::awaitable<std::unique_ptr<Connection>> connect();

    [[nodiscard]] const PoolSettings& settings() const { return settings_; }
    [[nodiscard]] std::size_t open() const { return open_; }

private:
    void give_back(std::unique_ptr<Connection> connection) noexcept;

    boost::asio::any_io_executor executor_;
    PoolSettings settings_;
    std::vector<std::unique_ptr<Connection>> idle_;
    std::size_t open_ = 0;  // idle and lent
    Event returned_;
};

}  // namespace cas::pg
