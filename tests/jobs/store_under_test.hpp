// The job store a contract test runs against: one suite (job_store_contract_test.cpp), run
// twice by CTest: on SQLite (a file in a temporary directory), and with CAS_TEST_STORE=postgres
// on PostgreSQL (a fresh database on the server the tests' fixture started, dropped at the
// end).
#pragma once

#include "coroutine_test.hpp"
#include "jobs/job_store.hpp"

#include <boost/asio/io_context.hpp>

#include <memory>
#include <string>

namespace cas::test {

class StoreUnderTest {
public:
    StoreUnderTest();
    ~StoreUnderTest();
    StoreUnderTest(const StoreUnderTest&) = delete;
    StoreUnderTest& operator=(const StoreUnderTest&) = delete;

    // Whether this run tests PostgreSQL (CAS_TEST_STORE=postgres), else SQLite.
    static bool on_postgres();

    [[nodiscard]] jobs::JobStore& store() { return *store_; }
    // The same database opened again: after a restart, or by another replica.
    std::unique_ptr<jobs::JobStore> open_again();
    // Closes the store and opens it again (a restart).
    void reopen() {
        store_.reset();
        store_ = open_again();
    }

    boost::asio::io_context& io() { return io_; }
    // Runs one store call (or any coroutine) to its end.
    template <class T>
    T operator()(boost::asio::awaitable<T> call) {
        return run_coroutine_test(io_, std::move(call));
    }

private:
    struct Database;
    boost::asio::io_context io_;
    std::unique_ptr<Database> database_;
    std::unique_ptr<jobs::JobStore> store_;
};

}  // namespace cas::test
