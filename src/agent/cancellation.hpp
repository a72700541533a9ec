// A one-shot "stop this run" request. The run awaits wait() next to its work and its
// deadline; request() wakes it, and a wait that starts after the request returns at once.
#pragma once

#include "util/async.hpp"

namespace cas::agent {

class Cancellation {
public:
    explicit Cancellation(const boost::asio::any_io_executor& executor)
        : requested_event_(executor) {}

    void request() {
        requested_ = true;
        requested_event_.notify();
    }
    [[nodiscard]] bool requested() const { return requested_; }
    // Completes when request() is called (at once if it already was). A wait cancelled by an
    // outer `||` also ends, without a request.
    boost::asio::awaitable<void> wait() {
        if (!requested_) co_await requested_event_.wait();
    }

private:
    Event requested_event_;
    bool requested_ = false;
};

}  // namespace cas::agent
