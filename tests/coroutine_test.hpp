// run_coroutine_test(io, awaitable, timeout): runs a coroutine on a fresh io_context until
// it completes and returns its value, or fails the test when it has not completed within
// `timeout` (a hang is a failure, not a stuck test run). Rethrows what the coroutine threw.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <catch2/catch.hpp>

#include <chrono>
#include <future>

namespace cas::test {

template <class T>
T run_coroutine_test(boost::asio::io_context& io, boost::asio::awaitable<T> coroutine,
                     std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto result = boost::asio::co_spawn(io, std::move(coroutine), boost::asio::use_future);
    io.restart();
    io.run_for(timeout);
    REQUIRE(result.wait_for(std::chrono::seconds(0)) == std::future_status::ready);
    return result.get();
}

}  // namespace cas::test
