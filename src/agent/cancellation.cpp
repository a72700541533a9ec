#include "agent/cancellation.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace cas::agent {

Cancellation::Cancellation(const boost::asio::any_io_executor& executor)
    : timer_(executor, boost::asio::steady_timer::time_point::max()) {}

void Cancellation::request() {
    requested_ = true;
    timer_.cancel();
}

boost::asio::awaitable<void> Cancellation::wait() {
    // A wait cancelled by an outer `||` also ends here; only request() sets requested_.
    while (!requested_) {
        auto [ec] = co_await timer_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
        if (ec && !requested_) co_return;
    }
}

}  // namespace cas::agent
