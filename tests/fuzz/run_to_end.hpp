// One job store call run to its end, for the fuzzers that store what they made (the SQLite
// store's calls complete without suspending).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

namespace cas_fuzz {

template <class T>
T run_to_end(boost::asio::awaitable<T> call) {
    static boost::asio::io_context io;
    auto done = boost::asio::co_spawn(io, std::move(call), boost::asio::use_future);
    io.restart();
    io.run();
    return done.get();
}

}  // namespace cas_fuzz
