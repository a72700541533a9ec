// The tests' PostgreSQL: the server tests/fixtures/postgres-server.sh started (its socket
// directory in CAS_TEST_POSTGRES_DIR, set by CTest's `postgres` fixture), and a database of
// one test's own on it, created fresh and dropped (with its connections) at the end.
#pragma once

#include "coroutine_test.hpp"
#include "pg/pool.hpp"
#include "temp_dir.hpp"
#include "util/random_id.hpp"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace cas::test {

// "host=<socket dir> user=postgres"; fails the test when the fixture did not run.
inline std::string postgres_server() {
    const char* dir = std::getenv("CAS_TEST_POSTGRES_DIR");  // NOLINT(concurrency-mt-unsafe)
    if (dir == nullptr || *dir == '\0') {
        FAIL("CAS_TEST_POSTGRES_DIR is not set: run these tests through ctest, whose `postgres` "
             "fixture starts the server (tests/fixtures/postgres-server.sh)");
    }
    return fmt::format("host={} user=postgres", dir);
}

inline boost::asio::awaitable<void> execute_on(boost::asio::any_io_executor executor,
                                               std::string conninfo, std::string sql) {
    auto connection = co_await pg::Connection::connect(executor, conninfo,
                                                       std::chrono::seconds(10),
                                                       std::chrono::seconds(30));
    co_await connection->execute(sql);
}

// The first column of the first row `sql` gives, on a connection of its own.
inline boost::asio::awaitable<std::string> scalar(boost::asio::any_io_executor executor,
                                                  std::string conninfo, std::string sql) {
    auto connection = co_await pg::Connection::connect(executor, conninfo, std::chrono::seconds(5),
                                                       std::chrono::seconds(30));
    pg::Params none;
    auto result = co_await connection->query(sql, none);
    co_return std::string(result.text(0, 0));
}

// A server of one test's own, which it may stop and start (the shared one must stay up).
struct OwnServer {
    TempDir dir;
    std::string socket_dir = (dir.path / "pg").string();
    std::string script = std::string(CAS_FIXTURES_DIR) + "/postgres-server.sh";
    OwnServer() {
        // As root the server runs as `postgres`, which must reach its directory.
        std::filesystem::permissions(dir.path, std::filesystem::perms::others_exec,
                                     std::filesystem::perm_options::add);
        control("start");
    }
    ~OwnServer() { control("stop"); }
    OwnServer(const OwnServer&) = delete;
    OwnServer& operator=(const OwnServer&) = delete;
    void control(const std::string& command) const {
        auto line = fmt::format("{} {} {}", script, command, socket_dir);
        REQUIRE(std::system(line.c_str()) == 0);  // NOLINT(concurrency-mt-unsafe)
    }
    [[nodiscard]] std::string conninfo() const {
        return fmt::format("host={} user=postgres dbname=postgres", socket_dir);
    }
    [[nodiscard]] pg::PoolSettings settings() const {
        return {.conninfo = conninfo(),
                .max_connections = 2,
                .connect_timeout = std::chrono::seconds(2),
                .wait_timeout = std::chrono::seconds(2),
                .statement_timeout = std::chrono::seconds(10)};
    }
};

class TestDatabase {
public:
    explicit TestDatabase(boost::asio::io_context& io)
        : io_(&io), name_("cas_test_" + random_hex(12)) {
        admin(fmt::format("CREATE DATABASE {}", name_));
    }
    ~TestDatabase() {
        if (io_ != nullptr) admin(fmt::format("DROP DATABASE IF EXISTS {} WITH (FORCE)", name_));
    }
    TestDatabase(TestDatabase&& other) noexcept
        : io_(std::exchange(other.io_, nullptr)), name_(std::move(other.name_)) {}
    TestDatabase& operator=(TestDatabase&&) = delete;
    TestDatabase(const TestDatabase&) = delete;
    TestDatabase& operator=(const TestDatabase&) = delete;

    [[nodiscard]] std::string conninfo() const {
        return fmt::format("{} dbname={}", postgres_server(), name_);
    }
    [[nodiscard]] pg::PoolSettings settings() const {
        return {.conninfo = conninfo(),
                .max_connections = 4,
                .connect_timeout = std::chrono::seconds(5),
                .wait_timeout = std::chrono::seconds(5),
                .statement_timeout = std::chrono::seconds(30)};
    }

private:
    void admin(const std::string& sql) {
        run_coroutine_test(*io_, execute_on(io_->get_executor(),
                                            postgres_server() + " dbname=postgres", sql));
    }
    boost::asio::io_context* io_;
    std::string name_;
};

}  // namespace cas::test
