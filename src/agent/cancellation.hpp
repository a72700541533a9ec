// A one-shot "stop this run" event. The run awaits wait() next to its work and its
// deadline; request() wakes it. Built on a timer that never expires by itself, so it is
// cancelled the same way the timeouts are raced.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

namespace cas::agent {

class Cancellation {
public:
    explicit Cancellation(const boost::asio::any_io_executor& executor);

    void request();
    [[nodiscard]] bool requested() const { return requested_; }
    // Completes when request() is called (at once if it already was).
    boost::asio::awaitable<void> wait();

private:
    boost::asio::steady_timer timer_;
    bool requested_ = false;
};

}  // namespace cas::agent
