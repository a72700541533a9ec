#include "jobs/job_events.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace cas::jobs {

void JobEvents::push(std::string event) {
    events_.push_back(std::move(event));
    changed_.cancel();
}

void JobEvents::close() {
    closed_ = true;
    changed_.cancel();
}

boost::asio::awaitable<void> JobEvents::wait(std::size_t seen) {
    if (seen < events_.size() || closed_) co_return;
    co_await changed_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
}

std::string sse_event(std::string_view name, std::string_view json_data) {
    std::string out;
    out.reserve(name.size() + json_data.size() + 16);
    out.append("event: ").append(name).append("\ndata: ").append(json_data).append("\n\n");
    return out;
}

}  // namespace cas::jobs
