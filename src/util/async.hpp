// The asynchronous vocabulary every coroutine here shares: one completion token that turns
// errors into values (a cancelled wait is an ordinary outcome here, not an exception), the
// timer type that uses it by default, and Event, the one awaitable "something changed" signal.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace cas {

// `auto [ec, ...] = co_await op(kUseNothrow);`
inline constexpr auto kUseNothrow = boost::asio::as_tuple(boost::asio::use_awaitable);

// A steady timer whose waits yield `std::tuple<error_code>` instead of throwing.
using Timer = boost::asio::as_tuple_t<boost::asio::use_awaitable_t<>>::as_default_on_t<
    boost::asio::steady_timer>;

// Wakes every coroutine waiting on it at the time of notify(); later waiters wait for the
// next notify(). Waiters re-check the state they care about after waking, so a notify with
// nobody waiting is not lost: the state it announced is already visible. Single-threaded
// (the io_context's). Built on a timer that never expires by itself: cancelling it is the
// broadcast, and an outer `||` cancels a wait the same way it cancels any timer.
class Event {
public:
    explicit Event(const boost::asio::any_io_executor& executor)
        : timer_(executor, Timer::time_point::max()) {}

    void notify() {
        ++notifications_;
        timer_.cancel();
    }
    // Completes at the next notify(): true; or when an outer operation cancels the wait:
    // false (a loop around wait() must then stop, or it would wait on past its cancel).
    boost::asio::awaitable<bool> wait() {
        auto before = notifications_;
        co_await timer_.async_wait();
        co_return notifications_ != before;
    }

private:
    Timer timer_;
    unsigned long notifications_ = 0;
};

}  // namespace cas
