// The live event log of one job: status changes and stdout lines as they happen, so a
// client of GET /jobs/{id}/events that joins late first gets what happened so far, then
// waits for more. Single-threaded (the io_context's); a timer that never expires is the
// broadcast: cancelling it wakes every waiting reader.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <string>
#include <vector>

namespace cas::jobs {

class JobEvents {
public:
    explicit JobEvents(const boost::asio::any_io_executor& executor)
        : changed_(executor, boost::asio::steady_timer::time_point::max()) {}

    // Appends one SSE event (already formatted) and wakes the readers.
    void push(std::string event);
    // No more events will come.
    void close();

    [[nodiscard]] const std::vector<std::string>& events() const { return events_; }
    [[nodiscard]] bool closed() const { return closed_; }
    // Waits until there is an event past `seen` or the log is closed.
    boost::asio::awaitable<void> wait(std::size_t seen);

private:
    std::vector<std::string> events_;
    bool closed_ = false;
    boost::asio::steady_timer changed_;
};

// `event: NAME\ndata: JSON\n\n`
std::string sse_event(std::string_view name, std::string_view json_data);

}  // namespace cas::jobs
